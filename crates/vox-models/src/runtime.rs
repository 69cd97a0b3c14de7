//! Where models live, and ONNX Runtime, loaded once per process from the models directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why a model is unavailable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// A model file is not there.
    #[error("{what} not found at {path}: run `vox models fetch` (or set models.dir)")]
    Missing {
        /// Which model.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// ONNX Runtime could not load or run the model.
    #[error("{0}")]
    Runtime(String),
}

/// The models directory.
#[derive(Debug, Clone)]
pub struct Models {
    dir: PathBuf,
}

static RUNTIME: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

impl Models {
    /// Models under `dir` (as filled by `vox models fetch`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `rel` under the directory, if the file exists.
    pub fn file(&self, what: &'static str, rel: &str) -> Result<PathBuf, ModelError> {
        let path = self.dir.join(rel);
        if path.is_file() {
            Ok(path)
        } else {
            Err(ModelError::Missing { what, path })
        }
    }

    /// Loads ONNX Runtime from the models directory (once per process).
    pub fn init_runtime(&self) -> Result<(), ModelError> {
        let lib = self.file(
            "ONNX Runtime (libonnxruntime.so)",
            "onnxruntime/libonnxruntime.so",
        )?;
        let result = RUNTIME.get_or_init(|| {
            ort::init_from(&lib)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
                .with_name("vox")
                .with_telemetry(false)
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        });
        result
            .as_ref()
            .map(|_| ())
            .map_err(|e| ModelError::Runtime(e.clone()))
    }

    /// An ONNX session for `path` with `threads` intra-op threads.
    pub fn session(
        &self,
        path: &Path,
        threads: usize,
    ) -> Result<ort::session::Session, ModelError> {
        self.init_runtime()?;
        let env = RUNTIME
            .get()
            .and_then(|r| r.as_ref().ok())
            .ok_or_else(|| ModelError::Runtime("ONNX Runtime is not loaded".into()))?;
        let err =
            |e: &dyn std::fmt::Display| ModelError::Runtime(format!("{}: {e}", path.display()));
        ort::session::Session::builder(env)
            .map_err(|e| err(&e))?
            .with_intra_threads(threads)
            .map_err(|e| err(&e))?
            .with_inter_threads(1)
            .map_err(|e| err(&e))?
            .commit_from_file(path)
            .map_err(|e| err(&e))
    }
}
