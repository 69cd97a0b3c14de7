//! Construction and serving: [`Server::build`] turns a validated [`Config`] into the parts
//! (agents, providers, database, carriers, API) and [`Server::serve`] runs them on a listener
//! until a shutdown future resolves, then drains calls and background work.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vox_agents::{AgentFile, AgentFormat, FileAgents, Providers, StoredAgents};
use vox_call::{CallRegistry, Tasks};
use vox_carriers::Carriers;
use vox_media::MediaState;

use crate::config::Config;

/// A server ready to serve: see the module docs.
pub struct Server {
    cfg: Config,
    app: Router,
    registry: CallRegistry,
    tasks: Tasks,
    /// The webhook outbox, drained at shutdown.
    events: vox_agents::Events,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("calls", &self.registry.active())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Health {
    registry: CallRegistry,
    metrics: PrometheusHandle,
}

/// Reads and parses the agent files (TOML or JSON by extension).
fn read_agent_files(files: &[PathBuf]) -> anyhow::Result<Vec<(String, AgentFile)>> {
    files
        .iter()
        .map(|path| {
            let label = path.display().to_string();
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some("toml") => AgentFormat::Toml,
                Some("json") => AgentFormat::Json,
                _ => anyhow::bail!("agent file {label} must end in .toml or .json"),
            };
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read agent file {label}"))?;
            let mut file = AgentFile::parse(&text, format, &label)?;
            for (field, key) in file.providers.api_keys_mut() {
                crate::config::resolve_key(key)
                    .map_err(|e| anyhow::anyhow!("{label}: {field} {e}"))?;
            }
            Ok((label, file))
        })
        .collect()
}

impl Server {
    /// Builds everything `cfg` describes, with the agents of `agent_files` (the first is the
    /// default agent unless `media.default_agent` names another). Loads the models agents
    /// name; connects to the database and applies its migrations.
    pub async fn build(mut cfg: Config, agent_files: &[PathBuf]) -> anyhow::Result<Self> {
        let files = read_agent_files(agent_files)?;
        if let Some((_, first)) = files.first()
            && cfg.media.default_agent == "echo"
        {
            cfg.media.default_agent = first.agent.id.clone();
        }
        let models = vox_models::Models::new(&cfg.models.dir);
        let eot: Option<Arc<dyn vox_providers::EndOfTurnModel>> =
            match cfg.conversation.end_of_turn_model {
                vox_agents::EndOfTurnModel::None => None,
                vox_agents::EndOfTurnModel::SmartTurn => Some(Arc::new(
                    vox_models::SmartTurn::load(&models, 1)
                        .context("conversation.end_of_turn_model is \"smart-turn\"")?,
                )),
            };
        let providers = Arc::new(Providers::new(
            models.clone(),
            vox_agents::LocalModelOptions {
                llm_tool_calls: cfg.models.local_llm_tool_calls,
                tts_noise: cfg.models.tts_noise,
                whisper_streaming: cfg.models.whisper_streaming,
                whisper_interim: (cfg.models.whisper_interim_ms > 0)
                    .then(|| std::time::Duration::from_millis(cfg.models.whisper_interim_ms)),
                whisper_idle_threads: cfg.models.whisper_idle_threads,
            },
            eot,
        ));
        let mut agents = FileAgents::new(
            cfg.echo.config(),
            cfg.conversation.engine(),
            cfg.tools.function_tools(),
        );
        let loading = {
            let providers = providers.clone();
            tokio::task::spawn_blocking(move || {
                for (label, file) in files {
                    agents.add(file, &providers, &label)?;
                }
                anyhow::Ok(agents)
            })
        };
        let agents = loading.await.context("loading agents")??;
        if !agents.ids().contains(&cfg.media.default_agent) {
            anyhow::bail!(
                "media.default_agent {:?} is not an agent here (have: {})",
                cfg.media.default_agent,
                agents.ids().join(", ")
            );
        }
        cfg.telephony
            .check_file_agents(&agents.ids())
            .map_err(anyhow::Error::msg)?;
        let agents = Arc::new(agents);
        let registry = CallRegistry::new(cfg.server.max_concurrent_calls);
        let tasks = Tasks::new(CancellationToken::new());
        let vad = cfg.vad.factory(&models).context("vad.kind is \"silero\"")?;
        info!(vad = ?cfg.vad.kind, "voice activity detection");

        let sealer = Arc::new(cfg.store.sealer()?);
        let links = Arc::new(cfg.api.link_signer(&sealer)?);
        let store = vox_store::Store::connect(&cfg.store.url)
            .await
            .with_context(|| format!("store.url {}", cfg.store.redacted_url()))?
            .with_sealer(sealer);
        match store
            .seal_stored_secrets()
            .await
            .context("store.secrets_key")?
        {
            0 => {}
            n => info!(
                secrets = n,
                "sealed secrets stored in plain text by an older version"
            ),
        }
        store
            .sync_numbers(&cfg.telephony.api_numbers())
            .await
            .context("telephony.pools")?;
        info!(store = %cfg.store.redacted_url(), numbers = cfg.telephony.numbers().len(), "control-plane database ready");
        let events = vox_agents::Events::new(
            store.clone(),
            tasks.clone(),
            cfg.tools.allow_private_networks,
            cfg.api.webhook_max_attempts,
            Duration::from_secs(cfg.api.webhook_retry_secs),
            Duration::from_millis(cfg.api.webhook_timeout_ms),
        );
        events.start();
        let stored_cfg = cfg.stored_agents()?;
        let calendar_sharing = stored_cfg.calendar_sharing();
        let stored = StoredAgents::new(
            store.clone(),
            providers,
            stored_cfg,
            events.clone(),
            tasks.clone(),
        );
        match stored.recover_unfinished().await {
            Ok(0) => {}
            Ok(n) => warn!(
                calls = n,
                "ending the calls a previous process left unfinished (server-crashed, expired)"
            ),
            Err(e) => warn!(error = %e, "listing the calls a previous process left unfinished"),
        }
        let carriers = Carriers::new(
            &cfg.telephony,
            &cfg.local_url(),
            &crate::config::resolve_secret,
            store.clone(),
            stored,
            agents.clone(),
            tasks.clone(),
        )?;
        let webrtc = if cfg.webrtc.enabled {
            let webrtc_cfg = cfg.webrtc.config().map_err(anyhow::Error::msg)?;
            let server = vox_webrtc::WebRtcServer::bind(webrtc_cfg).await.context(
                "webrtc: binding the UDP socket (webrtc.bind_ip, webrtc.port_min..port_max)",
            )?;
            info!(udp = %server.candidate(), "browser calls (WHIP) on /whip/{{agentId}}");
            Some(server)
        } else {
            None
        };
        let media = MediaState {
            vad,
            registry: registry.clone(),
            config: Arc::new(vox_media::MediaConfig {
                ice_servers: cfg.webrtc.ice_servers.clone(),
                ..cfg.media.config(cfg.tools.timeout())
            }),
            agents,
            placed: Some(Arc::new(carriers.clone())),
            webrtc,
        };
        vox_api::schedule::start(
            store.clone(),
            &tasks,
            Duration::from_secs(cfg.telephony.media_token_ttl_secs),
        );
        match vox_api::files::resume(&store, &cfg.api.files_dir, &tasks).await {
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
            voices: Arc::new(cfg.installed_voices()),
            dialer: Some(Arc::new(carriers.clone())),
            web_calls: cfg
                .webrtc
                .enabled
                .then(|| Arc::new(carriers.clone()) as Arc<dyn vox_api::WebCallTokens>),
            web_ice_servers: cfg.webrtc.browser_ice_servers(),
            files_dir: cfg.api.files_dir.clone(),
            max_upload_bytes: cfg.api.max_upload_bytes,
            recordings_dir: cfg.api.recordings_dir.clone(),
            tasks: tasks.clone(),
            dial_policy: Arc::new(
                vox_api::DialPolicy::new(&cfg.api.dial_area_codes).map_err(anyhow::Error::msg)?,
            ),
            outbound_rate: Arc::new(vox_api::OutboundRate::new(
                cfg.api.outbound_calls_per_minute,
            )),
            calendar_sharing,
            speech_languages: if cfg.voice_agents.english_only() {
                vox_api::SpeechLanguages::English
            } else {
                vox_api::SpeechLanguages::Any
            },
            links,
            link_ttl: std::time::Duration::from_secs(cfg.api.signed_link_ttl_secs),
            public_url: cfg.telephony.public_base().to_owned(),
            call_defaults: vox_api::CallDefaults {
                max_call_duration_secs: cfg.conversation.max_duration_secs,
                idle_reminder_after_secs: cfg.conversation.idle_reminder_after_secs,
                idle_reminders: cfg.conversation.max_reminders > 0,
            },
        };
        let metrics = crate::telemetry::metrics()?;
        // Histogram summaries need periodic upkeep.
        let upkeep = metrics.clone();
        tasks.spawn("metrics upkeep", async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        // outbound campaigns: calls placed through the same dialer as the API's
        vox_api::campaigns::dispatch::start(api.clone());
        vox_api::crm::task_calls::start(api.clone());
        let app = Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .with_state(Health {
                registry: registry.clone(),
                metrics,
            })
            .merge(vox_media::router(media))
            .merge(vox_api::router(api))
            .merge(carriers.router());
        Ok(Self {
            cfg,
            app,
            registry,
            tasks,
            events,
        })
    }

    /// Serves on `listener` until `shutdown` resolves; then stops accepting, lets calls
    /// finish for `server.shutdown_grace_secs`, hangs up the rest and stops background work.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let local = listener.local_addr()?;
        info!(
            addr = %local,
            agent = %self.cfg.media.default_agent,
            max_calls = self.cfg.server.max_concurrent_calls,
            "vox listening: http://{local}/healthz, carrier media at ws://{local}/media/{{twilio,telnyx,plivo,vonage,exotel}}"
        );
        let drain = self.registry.clone();
        let server = &self.cfg.server;
        let limits = crate::http::Limits {
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            request_timeout: Duration::from_secs(server.request_timeout_secs),
            max_connections: server.max_connections,
        };
        let app = self.app.clone().layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            crate::http::request_deadline,
        ));
        crate::http::serve(listener, app, limits, async move {
            shutdown.await;
            // Stop admitting calls and report not-ready before the listener closes.
            drain.begin_drain();
        })
        .await;
        let grace = Duration::from_secs(self.cfg.server.shutdown_grace_secs);
        info!(
            active = self.registry.active(),
            grace_secs = grace.as_secs(),
            "shutting down: waiting for calls to end"
        );
        let hung_up = self.registry.shutdown(grace, Duration::from_secs(5)).await;
        if hung_up > 0 {
            warn!(hung_up, "grace period over: hung up the remaining calls");
        }
        // call records, post-call summaries and outbox writes finish, while the webhook
        // worker still runs; then the events they queued are sent; then the loops stop
        if !self.tasks.finish_work(Duration::from_secs(30)).await {
            warn!("call records still being written at exit");
        }
        if !self.events.drain(Duration::from_secs(10)).await {
            warn!("webhook events still due at exit: they stay in the outbox for the next start");
        }
        if !self.tasks.shutdown(Duration::from_secs(5)).await {
            warn!(
                left = self.tasks.len(),
                "background work still running at exit"
            );
        }
        info!("stopped");
        Ok(())
    }
}

async fn readyz(State(s): State<Health>) -> impl IntoResponse {
    if s.registry.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}

async fn metrics_text(State(s): State<Health>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}
