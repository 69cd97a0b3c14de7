//! `vox serve`: one HTTP port for health, readiness, metrics and carrier media.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use metrics_exporter_prometheus::PrometheusHandle;
use tracing::{info, warn};
use vox_audio::EnergyVadConfig;
use vox_call::CallRegistry;
use vox_media::{MediaConfig, MediaState};

use crate::agents::Agents;
use crate::config::{Config, Overrides, VadKind};

/// Silero VADs sharing one loaded model.
struct SileroFactory {
    model: Arc<vox_models::SileroModel>,
    cfg: vox_models::SileroConfig,
}

impl vox_media::VadFactory for SileroFactory {
    fn create(&self) -> Box<dyn vox_audio::Vad> {
        Box::new(vox_models::SileroVad::new(self.model.clone(), self.cfg))
    }
}
use crate::telemetry;

#[derive(Clone)]
struct AppState {
    registry: CallRegistry,
    metrics: PrometheusHandle,
}

pub fn main(
    config_file: Option<&Path>,
    overrides: &Overrides,
    agent_files: &[std::path::PathBuf],
    print_config: bool,
) -> anyhow::Result<()> {
    let mut cfg = Config::load(config_file, overrides)?;
    let agents = Agents::load(&cfg, agent_files)?;
    if !agent_files.is_empty()
        && cfg.media.default_agent == "echo"
        && let Some(first) = agents.ids().first()
    {
        cfg.media.default_agent = first.clone();
    }
    if !agents.ids().contains(&cfg.media.default_agent) {
        anyhow::bail!(
            "media.default_agent {:?} is not an agent here (have: {})",
            cfg.media.default_agent,
            agents.ids().join(", ")
        );
    }
    if print_config {
        #[allow(clippy::print_stdout)]
        {
            let mut shown = cfg.clone();
            shown.store.url = cfg.store.redacted_url();
            for pool in &mut shown.telephony.pools {
                for secret in pool.secrets_mut() {
                    if !secret.is_empty()
                        && !secret.starts_with("env:")
                        && !secret.starts_with("file:")
                    {
                        *secret = "***".into();
                    }
                }
            }
            if !shown.tools.google_access_token.is_empty()
                && !shown.tools.google_access_token.starts_with("env:")
            {
                shown.tools.google_access_token = "***".into();
            }
            println!(
                "{}",
                toml::to_string_pretty(&shown).context("rendering config")?
            );
        }
        return Ok(());
    }
    telemetry::init_logging(&cfg.log.level, cfg.log.format)?;
    let metrics = telemetry::init_metrics()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vox")
        .build()?;
    rt.block_on(run(cfg, agents, metrics))
}

/// The TTS voices agents can name: the local Piper voice when its model is fetched.
fn installed_voices(cfg: &Config) -> Vec<vox_api::Voice> {
    let mut voices = Vec::new();
    if cfg.models.dir.join("piper/en_US-joe-medium.onnx").is_file() {
        voices.push(vox_api::Voice {
            id: "piper-joe".into(),
            name: "Joe".into(),
            category: "conversational".into(),
            description: "US English, male; Piper en_US-joe-medium, runs locally".into(),
            preview_url: None,
        });
    }
    voices
}

async fn run(cfg: Config, agents: Agents, metrics: PrometheusHandle) -> anyhow::Result<()> {
    let agents = Arc::new(agents);
    let registry = CallRegistry::new(cfg.server.max_concurrent_calls);
    let vad: Arc<dyn vox_media::VadFactory> = match cfg.vad.kind {
        VadKind::Energy => Arc::new(EnergyVadConfig {
            start_dbfs: cfg.vad.start_dbfs,
            stop_dbfs: cfg.vad.stop_dbfs,
            start_ms: cfg.vad.start_ms,
            stop_ms: cfg.vad.stop_ms,
        }),
        VadKind::Silero => {
            let models = vox_models::Models::new(&cfg.models.dir);
            let model =
                vox_models::SileroModel::load(&models, 2).context("vad.kind is \"silero\"")?;
            let silero = vox_models::SileroConfig {
                threshold: cfg.vad.threshold,
                neg_threshold: cfg.vad.neg_threshold,
                start_ms: cfg.vad.start_ms,
                stop_ms: cfg.vad.stop_ms,
            };
            Arc::new(SileroFactory { model, cfg: silero })
        }
    };
    info!(vad = ?cfg.vad.kind, "voice activity detection");
    let media = MediaState {
        vad,
        registry: registry.clone(),
        config: Arc::new(MediaConfig {
            max_message_bytes: cfg.media.max_message_bytes,
            send_ahead: cfg.send_ahead(),
            audio_queue_frames: cfg.media.audio_queue_frames,
            default_agent: cfg.media.default_agent.clone(),
            tool_timeout: Duration::from_millis(cfg.tools.timeout_ms),
        }),
        agents: agents.clone(),
        placed: None,
    };
    let store = vox_store::Store::connect(&cfg.store.url)
        .await
        .with_context(|| format!("store.url {}", cfg.store.redacted_url()))?;
    store
        .sync_numbers(&cfg.telephony.numbers()?)
        .await
        .context("telephony.pools")?;
    info!(store = %cfg.store.redacted_url(), numbers = cfg.telephony.numbers()?.len(), "control-plane database ready");
    let host = if cfg.server.host == "0.0.0.0" || cfg.server.host == "::" {
        "127.0.0.1"
    } else {
        cfg.server.host.as_str()
    };
    let events = crate::artifacts::Events::new(
        store.clone(),
        cfg.tools.allow_private_networks,
        cfg.api.webhook_max_attempts,
        Duration::from_secs(cfg.api.webhook_retry_secs),
        Duration::from_millis(cfg.api.webhook_timeout_ms),
    );
    tokio::spawn(
        events
            .clone()
            .run(tokio_util::sync::CancellationToken::new()),
    );
    let telephony = crate::telephony::Telephony::new(
        &cfg,
        store.clone(),
        agents.clone(),
        format!("http://{host}:{}", cfg.server.port),
        events,
    )?;
    let media = MediaState {
        placed: Some(Arc::new(telephony.clone())),
        ..media
    };
    // activated hours: deployed INBOUND agents on and off duty at their boundaries
    let scheduled = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            if let Err(e) = vox_api::schedule::apply(&scheduled, jiff::Timestamp::now()).await {
                warn!(error = %e, "activated-hours scheduler");
            }
        }
    });
    match vox_api::files::resume(&store, &cfg.api.files_dir).await {
        Ok(0) => {}
        Ok(n) => info!(
            files = n,
            "processing knowledge-base files left unfinished by the last run"
        ),
        Err(e) => warn!(error = %e, "resuming knowledge-base file processing"),
    }
    let api = vox_api::ApiState {
        store,
        token_ttl_s: cfg.api.token_ttl_secs,
        voices: Arc::new(installed_voices(&cfg)),
        dialer: Some(Arc::new(telephony.clone())),
        files_dir: cfg.api.files_dir.clone(),
        max_upload_bytes: cfg.api.max_upload_bytes,
        recordings_dir: cfg.api.recordings_dir.clone(),
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState {
            registry: registry.clone(),
            metrics: metrics.clone(),
        })
        .merge(vox_media::router(media))
        .merge(vox_api::router(api))
        .merge(telephony.router());

    let addr = format!("{}:{}", cfg.server.host, cfg.server.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local: SocketAddr = listener.local_addr()?;
    info!(
        addr = %local,
        agent = %cfg.media.default_agent,
        max_calls = cfg.server.max_concurrent_calls,
        "vox listening: http://{local}/healthz, carrier media at ws://{local}/media/{{twilio,telnyx,plivo,vonage,exotel}}"
    );

    // Histogram summaries need periodic upkeep.
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });

    // Media messages are small and latency-bound: never let Nagle hold one back waiting
    // for the previous one's ACK (measured: +19 ms on the second frame of every reply).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let drain = registry.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Stop admitting calls and report not-ready before the listener closes.
            drain.begin_drain();
        })
        .await
        .context("http server failed")?;

    let grace = Duration::from_secs(cfg.server.shutdown_grace_secs);
    let active = registry.active();
    info!(
        active,
        grace_secs = grace.as_secs(),
        "shutting down: waiting for calls to end"
    );
    let hung_up = registry.shutdown(grace, Duration::from_secs(5)).await;
    if hung_up > 0 {
        warn!(hung_up, "grace period over: hung up the remaining calls");
    }
    info!("stopped");
    Ok(())
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.registry.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}

async fn metrics_text(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => info!("SIGINT received"),
        () = term => info!("SIGTERM received"),
    }
}
