//! Logging (tracing) and metrics (Prometheus text via the `metrics` facade).

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global tracing subscriber. `RUST_LOG` overrides `level`.
pub fn init_logging(level: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(&v)
            .with_context(|| format!("RUST_LOG={v:?} is not a valid filter"))?,
        _ => EnvFilter::try_new(level)
            .with_context(|| format!("log.level {level:?} is not a valid filter"))?,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests, sim inside serve) keeps the first subscriber.
    let _ = result;
    Ok(())
}

/// The handle `/metrics` renders: the Prometheus recorder, installed once per process (a
/// second server in the same process shares it).
pub fn metrics() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let h = install_metrics()?;
    Ok(HANDLE.get_or_init(|| h).clone())
}

fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let latency = [
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &latency)
        .context("histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    vox_call::metrics::describe();
    vox_media::describe_metrics();
    vox_carriers::describe_metrics();
    crate::http::describe_metrics();
    Ok(handle)
}
