//! The library half of `vox`, the one composition root: the configuration tree
//! ([`config`]), construction of every part from it and serving ([`Server`]), logging and
//! metrics ([`telemetry`]). The binary (`main.rs`) parses flags, reads signals and calls
//! [`serve`]; tests call it in-process on a port of their own.
//!
//! This is the only crate that reads the environment and configuration files, and (with
//! the tools) the only one that uses `anyhow`.

pub mod config;
mod http;
mod server;
pub mod telemetry;

use std::future::Future;
use std::path::PathBuf;

pub use config::{Config, Overrides};
pub use server::Server;

/// Builds the server `config` describes, with the agents of `agent_files`, and serves on
/// `listener` until `shutdown` resolves (then drains: see [`Server::serve`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    agent_files: &[PathBuf],
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Server::build(config, agent_files)
        .await?
        .serve(listener, shutdown)
        .await
}
