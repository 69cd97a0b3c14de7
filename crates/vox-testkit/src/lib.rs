//! Test helpers for Vox. Only ever a dev-dependency.
//!
//! - [`VoxServer`]: runs the real `vox serve` binary on a free loopback port, waits until it
//!   is healthy, and kills it when dropped.
//! - [`http_get`]: a minimal HTTP/1.1 GET over a plain TCP socket (real HTTP, no client
//!   library needed).
//! - [`audio`]: comparing recordings (normalised cross-correlation, levels).
//!
//! - [`FakeOpenAi`]: an OpenAI-compatible chat/transcription/speech server with scripted
//!   replies and configurable latencies, logging every request.
//!
//! Fakes of things outside the project speak their real wire protocols over loopback.

pub mod audio;
pub mod fake_openai;
mod http;
mod server;

pub use fake_openai::{ChatReply, FakeOpenAi, FakeTiming};
pub use http::http_get;
pub use server::VoxServer;

/// The repository root (for test data paths).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
