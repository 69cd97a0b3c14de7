//! Silero VAD v5 (ONNX), 16 kHz: windows of 512 samples with 64 samples of context, and a
//! recurrent state carried between windows.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::Tensor;
use vox_audio::{Hysteresis, Vad};
use vox_core::{AudioFrame, VadOutput};

use crate::{ModelError, Models};

const WINDOW: usize = 512;
const CONTEXT: usize = 64;
const STATE: usize = 2 * 128;

/// Hysteresis on Silero's speech probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SileroConfig {
    /// Probability above which a frame counts toward speech onset.
    pub threshold: f32,
    /// Probability below which a frame counts toward release.
    pub neg_threshold: f32,
    /// Consecutive speech frames for onset.
    pub start_ms: u32,
    /// Consecutive non-speech frames for release.
    pub stop_ms: u32,
}

impl Default for SileroConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: 0.35,
            start_ms: 60,
            stop_ms: 200,
        }
    }
}

/// The Silero model, loaded once and shared by every call: a few sessions (ONNX sessions
/// run one inference at a time) picked round-robin.
#[derive(Debug)]
pub struct SileroModel {
    pool: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl SileroModel {
    /// Loads the model with `pool_size` sessions (one per core is plenty).
    pub fn load(models: &Models, pool_size: usize) -> Result<Arc<Self>, ModelError> {
        let path = models.file("Silero VAD", "silero/silero_vad.onnx")?;
        let pool = (0..pool_size.max(1))
            .map(|_| models.session(&path, 1).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Arc::new(Self {
            pool,
            next: AtomicUsize::new(0),
        }))
    }

    /// Speech probability of one window (`CONTEXT + WINDOW` samples in -1..1); updates `state`.
    fn infer(&self, input: &[f32], state: &mut [f32; STATE]) -> Result<f32, ModelError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.pool.len();
        let mut session = (0..n)
            .find_map(|k| self.pool[(start + k) % n].try_lock().ok())
            .unwrap_or_else(|| {
                self.pool[start % n]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
            });
        let err = |e: ort::Error| ModelError::Runtime(format!("silero: {e}"));
        let x = Tensor::from_array(([1usize, CONTEXT + WINDOW], input.to_vec())).map_err(err)?;
        let s = Tensor::from_array(([2usize, 1, 128], state.to_vec())).map_err(err)?;
        let sr = Tensor::from_array((Vec::<usize>::new(), vec![16_000i64])).map_err(err)?;
        let outputs = session
            .run(ort::inputs!["input" => x, "state" => s, "sr" => sr])
            .map_err(err)?;
        let (_, prob) = outputs["output"].try_extract_tensor::<f32>().map_err(err)?;
        let (_, new_state) = outputs["stateN"].try_extract_tensor::<f32>().map_err(err)?;
        if new_state.len() == STATE {
            state.copy_from_slice(new_state);
        }
        Ok(prob.first().copied().unwrap_or(0.0))
    }
}

/// One call's Silero VAD: the shared model plus this call's state and hysteresis.
#[derive(Debug)]
pub struct SileroVad {
    model: Arc<SileroModel>,
    cfg: SileroConfig,
    hysteresis: Hysteresis,
    state: [f32; STATE],
    window: Vec<f32>,
    pending: Vec<f32>,
    probability: f32,
    failed: bool,
}

/// Silero VADs for every call, sharing one loaded model.
#[derive(Debug, Clone)]
pub struct SileroVads {
    /// The model.
    pub model: Arc<SileroModel>,
    /// The thresholds.
    pub cfg: SileroConfig,
}

impl vox_audio::VadFactory for SileroVads {
    fn create(&self) -> Box<dyn vox_audio::Vad> {
        Box::new(SileroVad::new(self.model.clone(), self.cfg))
    }
}

impl SileroVad {
    /// A detector for one call.
    pub fn new(model: Arc<SileroModel>, cfg: SileroConfig) -> Self {
        Self {
            model,
            hysteresis: Hysteresis::new(cfg.start_ms, cfg.stop_ms),
            cfg,
            state: [0.0; STATE],
            window: vec![0.0; CONTEXT + WINDOW],
            pending: Vec::with_capacity(WINDOW * 2),
            probability: 0.0,
            failed: false,
        }
    }
}

impl Vad for SileroVad {
    fn process(&mut self, frame: &AudioFrame) -> VadOutput {
        self.pending
            .extend(frame.samples().iter().map(|&s| f32::from(s) / 32768.0));
        while self.pending.len() >= WINDOW {
            // window = last CONTEXT samples of the previous window + the next WINDOW samples
            self.window.copy_within(WINDOW..WINDOW + CONTEXT, 0);
            self.window[CONTEXT..].copy_from_slice(&self.pending[..WINDOW]);
            self.pending.drain(..WINDOW);
            match self.model.infer(&self.window, &mut self.state) {
                Ok(p) => self.probability = p,
                Err(e) => {
                    if !self.failed {
                        tracing::error!(error = %e, "Silero VAD failed; treating audio as silence");
                        self.failed = true;
                    }
                    self.probability = 0.0;
                }
            }
        }
        let p = self.probability;
        let quiet = p < self.cfg.neg_threshold;
        let (speaking, event) = self.hysteresis.update(p > self.cfg.threshold, quiet);
        VadOutput {
            probability: p,
            speaking,
            quiet,
            event,
        }
    }

    fn reset(&mut self) {
        self.state = [0.0; STATE];
        self.window.iter_mut().for_each(|x| *x = 0.0);
        self.pending.clear();
        self.probability = 0.0;
        self.hysteresis.reset();
    }
}
