//! For tests that need the local models (not for the runtime): where the models are, and a
//! skip with a printed reason when one is missing. Under `VOX_REQUIRE_MODELS=1` (CI, which
//! fetches them) a test that would skip fails instead, so a broken fetch cannot turn the
//! model tests into silent passes.

use std::path::PathBuf;

/// The models directory: `VOX_MODELS_DIR`, else `models/` at the workspace root (test
/// processes run in their crate's directory, two levels below it).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOX_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    manifest.join("../../models")
}

/// Skips the calling test with `why` printed, or fails it under `VOX_REQUIRE_MODELS=1`.
#[allow(clippy::panic)]
pub fn skip<T>(why: &str) -> Option<T> {
    if std::env::var("VOX_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("{why}; with VOX_REQUIRE_MODELS=1 this test may not skip");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    None
}

/// The models, if every file in `files` (name for the message, path under the directory)
/// is there and, with `espeak`, the espeak-ng program runs; otherwise [`skip`].
pub fn models_or_skip(files: &[(&'static str, &str)], espeak: bool) -> Option<crate::Models> {
    let m = crate::Models::new(models_dir());
    for (what, rel) in files {
        if let Err(e) = m.file(what, rel) {
            return skip(&format!("models absent: {e}"));
        }
    }
    if espeak
        && std::process::Command::new("espeak-ng")
            .arg("--version")
            .output()
            .is_err()
    {
        return skip("espeak-ng is not installed (./vox installs it)");
    }
    Some(m)
}
