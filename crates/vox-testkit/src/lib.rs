//! Test helpers for Vox. Only ever a dev-dependency.
//!
//! - [`VoxServer`]: runs the real `vox serve` binary on a free loopback port, waits until it
//!   is healthy, and kills it when dropped.
//! - [`http_get`]: a minimal HTTP/1.1 GET over a plain TCP socket (real HTTP, no client
//!   library needed).
//! - [`audio`]: comparing recordings (normalised cross-correlation, levels).
//!
//! Fakes of things outside the project (LLM vendors, carrier REST APIs) will live here too,
//! speaking their real wire protocols over loopback.

pub mod audio;
mod http;
mod server;

pub use http::http_get;
pub use server::VoxServer;

/// The repository root (for test data paths).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
