//! Carrier media endpoints: turns a carrier's WebSocket into a call.
//!
//! For each connection: take an admission slot, read until the dialect's `start`, pick the
//! agent from its parameters, then run three parts side by side: the reader (decode,
//! resample, frame and VAD inline, microseconds a frame), the [`CallActor`](vox_call::CallActor),
//! and the writer (encode the actor's output in the carrier's dialect).
//!
//! Deliberately absent: conversation policy (vox-engine), config files and env (the binary
//! passes a [`MediaConfig`]).
//!
//! Routes: `GET /media/{dialect}` for twilio, telnyx, plivo, vonage and exotel; browser calls
//! by WHIP (RFC 9725): `POST /whip/{agentId}` (an SDP offer in, the answer out, file agents
//! from `trusted_sources`) and `DELETE /whip/sessions/{id}` (hang up), bridged to the same
//! call actor by `browser.rs`; `GET /console`, the page that places such calls and shows
//! them as they happen (`console.rs`).

mod admission;
mod browser;
mod console;
mod liveness;
mod page_events;
mod stream;
mod whip;

pub use admission::TrustedSources;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use vox_audio::VadFactory;
use vox_call::{AgentCatalog, AgentSession, CallRegistry, OpenCallError};

/// Settings of the media endpoints.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// Largest carrier message accepted; larger ones close the connection (1009).
    pub max_message_bytes: usize,
    /// Most agent audio buffered at the carrier ahead of playback.
    pub send_ahead: Duration,
    /// Caller frames queued for the actor before the oldest are dropped.
    pub audio_queue_frames: usize,
    /// Agent used when the stream names none.
    pub default_agent: String,
    /// Longest a tool call may take.
    pub tool_timeout: Duration,
    /// Peers whose streams may name a file agent without a token.
    pub trusted_sources: TrustedSources,
    /// Longest a stream may take to send its `start`.
    pub start_timeout: Duration,
    /// Longest a call may go without any message from its peer.
    pub idle_timeout: Duration,
    /// How often a call's peer is pinged; an unanswered ping, or a write that cannot finish,
    /// for this long ends the call (the peer stopped reading).
    pub ping_interval: Duration,
    /// How long a frame's mark may stay unechoed past the frame's end.
    pub mark_timeout: Duration,
    /// Streams one address may hold open before their `start`.
    pub max_pending_per_source: usize,
    /// The STUN/TURN servers the console page gets (`webrtc.ice_servers`).
    pub ice_servers: Vec<vox_webrtc::IceServer>,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            send_ahead: Duration::from_millis(200),
            audio_queue_frames: 50,
            default_agent: "echo".into(),
            tool_timeout: Duration::from_secs(10),
            trusted_sources: TrustedSources::loopback(),
            start_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            ping_interval: Duration::from_secs(10),
            mark_timeout: Duration::from_secs(10),
            max_pending_per_source: 32,
            ice_servers: Vec::new(),
        }
    }
}

/// Opens calls that Vox itself set up (the carrier's webhook answer or an outbound dial put a
/// `callId` and a short-lived `token` into the stream's parameters): verifies the token and
/// builds the call's agent from the control plane's records.
pub trait PlacedCalls: Send + Sync + 'static {
    /// The session for the stream whose `start` carried `params`, or why it is refused.
    fn open(
        &self,
        params: &std::collections::BTreeMap<String, String>,
        carrier_call_id: &str,
    ) -> futures_util::future::BoxFuture<'static, Result<AgentSession, OpenCallError>>;
}

/// Shared state of the media routes.
#[derive(Clone)]
pub struct MediaState {
    /// Per-call VADs.
    pub vad: Arc<dyn VadFactory>,
    /// Live calls, admission and shutdown.
    pub registry: CallRegistry,
    /// Settings.
    pub config: Arc<MediaConfig>,
    /// Agents.
    pub agents: Arc<dyn AgentCatalog>,
    /// Calls placed or answered through the control plane (none: streams carrying a
    /// `callId` are refused).
    pub placed: Option<Arc<dyn PlacedCalls>>,
    /// Browser calls' media (none: `POST /whip/...` answers 503).
    pub webrtc: Option<vox_webrtc::WebRtcServer>,
}

impl std::fmt::Debug for MediaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Describes the metrics of carrier media streams, for the Prometheus exporter's `# HELP`.
pub fn describe_metrics() {
    use metrics::describe_counter;
    describe_counter!(
        "vox_webrtc_calls_not_connected_total",
        "Browser calls answered whose browser never connected, or hung up first, by reason."
    );
    describe_counter!(
        "vox_webrtc_inbound_packets_total",
        "Browser callers' RTP packets, by outcome: received; late and duplicate (dropped); lost and recovered from FEC, or concealed; corrupt (concealed)."
    );
    describe_counter!(
        "vox_protocol_errors_total",
        "Carrier messages rejected, by dialect and kind; each closed its stream."
    );
    describe_counter!(
        "vox_carrier_errors_total",
        "Errors a carrier reported on its stream, by dialect."
    );
    describe_counter!(
        "vox_inbound_sequence_gaps_total",
        "Carrier messages missing from the sequence numbering."
    );
    describe_counter!(
        "vox_inbound_reordered_total",
        "Media messages that arrived out of order and were put back (Telnyx)."
    );
    describe_counter!(
        "vox_inbound_late_dropped_total",
        "Media messages that arrived too late to be put back, dropped (Telnyx)."
    );
    describe_counter!(
        "vox_outbound_frames_total",
        "20 ms agent frames sent to carriers."
    );
    describe_counter!(
        "vox_call_panics_total",
        "Call actors that panicked (the call was hung up)."
    );
    describe_counter!(
        "vox_calls_unresponsive_total",
        "Calls hung up because the peer stopped taking part, by reason (marks_not_echoed, not_reading, silent)."
    );
}

/// A call's actor, started: the transport's ends of its channels and its task.
pub(crate) struct StartedCall {
    /// Caller frames in (drop-oldest).
    pub(crate) audio: vox_call::AudioSender,
    /// Marks, key presses, stop (the sender waits for room: they must not be lost).
    pub(crate) events: tokio::sync::mpsc::Sender<vox_call::TransportEvent>,
    /// What the actor asks the transport to send.
    pub(crate) outbound: tokio::sync::mpsc::Receiver<vox_call::OutboundMsg>,
    /// The actor, ending with the call's summary.
    pub(crate) task: tokio::task::JoinHandle<vox_call::CallSummary>,
}

/// Starts the actor of one call (carrier stream or browser) on `session`, with the media
/// settings and the transport's `send_ahead`, under the call's cancellation token.
pub(crate) fn start_call(
    call_id: vox_core::CallId,
    session: AgentSession,
    config: &MediaConfig,
    send_ahead: Duration,
    cancel: tokio_util::sync::CancellationToken,
) -> StartedCall {
    use tracing::Instrument as _;
    let (audio, audio_rx) = vox_call::audio_queue(config.audio_queue_frames);
    // control events are few and must not be lost: the reader waits for room
    let (events, events_rx) = tokio::sync::mpsc::channel(64);
    // the actor waits for room too: playout pacing bounds what is in flight anyway
    let (out_tx, outbound) = tokio::sync::mpsc::channel(64);
    let io = vox_call::CallIo {
        audio: audio_rx,
        events: events_rx,
        outbound: out_tx,
    };
    let cfg = vox_call::CallConfig {
        send_ahead,
        tool_timeout: config.tool_timeout,
        mark_timeout: config.mark_timeout,
    };
    let actor = vox_call::CallActor::new(
        call_id,
        cfg,
        session.conversation,
        session.services,
        io,
        cancel,
    );
    StartedCall {
        audio,
        events,
        outbound,
        task: tokio::spawn(actor.run().in_current_span()),
    }
}

/// The media routes' state: the shared parts and the per-address count of streams that
/// have not sent `start` yet.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) state: MediaState,
    pub(crate) pending: admission::PendingBySource,
    pub(crate) sessions: whip::Sessions,
}

/// The media routes. The server must be run with
/// `into_make_service_with_connect_info::<SocketAddr>()`: without the peer's address, only
/// streams with a token get in.
pub fn router(state: MediaState) -> Router {
    Router::new()
        .route("/media/{dialect}", get(stream::upgrade))
        .route("/whip/{agent_id}", axum::routing::post(whip::offer))
        .route("/whip/sessions/{id}", axum::routing::delete(whip::hangup))
        .route("/console", get(console::page))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        .route("/console/agents", get(console::agents))
        .with_state(Endpoint {
            state,
            pending: admission::PendingBySource::default(),
            sessions: whip::Sessions::default(),
        })
}

/// `[media]`, as written in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    /// Largest carrier message accepted (bytes).
    pub max_message_bytes: usize,
    /// Most agent audio buffered at the carrier ahead of playback (ms).
    pub send_ahead_ms: u64,
    /// Caller frames queued for a call's actor before the oldest are dropped.
    pub audio_queue_frames: usize,
    /// Agent used when a stream names none.
    pub default_agent: String,
    /// Networks (CIDR) or addresses whose streams may name a file agent without a token.
    pub trusted_sources: Vec<String>,
    /// Longest a stream may take to send its `start` (ms).
    pub start_timeout_ms: u64,
    /// Longest a call may go without any message from its peer (s).
    pub idle_timeout_secs: u64,
    /// How often the peer is pinged; unanswered for this long ends the call (s).
    pub ping_interval_secs: u64,
    /// How long a frame's mark may stay unechoed past the frame's end (s).
    pub mark_timeout_secs: u64,
    /// Streams one address may hold open before their `start`.
    pub max_pending_per_source: usize,
}

impl MediaSettings {
    /// What is wrong with it, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if self.send_ahead_ms < 20 {
            return Err(format!(
                "media.send_ahead_ms must be at least 20 (one frame), got {}",
                self.send_ahead_ms
            ));
        }
        if self.max_message_bytes < 1024 {
            return Err(format!(
                "media.max_message_bytes must be at least 1024, got {}",
                self.max_message_bytes
            ));
        }
        if self.audio_queue_frames == 0 {
            return Err("media.audio_queue_frames must be at least 1".into());
        }
        TrustedSources::parse(&self.trusted_sources)?;
        for (key, value) in [
            ("start_timeout_ms", self.start_timeout_ms),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("ping_interval_secs", self.ping_interval_secs),
            ("mark_timeout_secs", self.mark_timeout_secs),
        ] {
            if value == 0 {
                return Err(format!("media.{key} must be at least 1"));
            }
        }
        if self.max_pending_per_source == 0 {
            return Err("media.max_pending_per_source must be at least 1".into());
        }
        Ok(())
    }

    /// The endpoints' settings (after [`check`](Self::check)); `tool_timeout` is `[tools]`'.
    pub fn config(&self, tool_timeout: Duration) -> MediaConfig {
        MediaConfig {
            max_message_bytes: self.max_message_bytes,
            send_ahead: Duration::from_millis(self.send_ahead_ms),
            audio_queue_frames: self.audio_queue_frames,
            default_agent: self.default_agent.clone(),
            tool_timeout,
            trusted_sources: TrustedSources::parse(&self.trusted_sources).unwrap_or_default(),
            start_timeout: Duration::from_millis(self.start_timeout_ms),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            ping_interval: Duration::from_secs(self.ping_interval_secs),
            mark_timeout: Duration::from_secs(self.mark_timeout_secs),
            max_pending_per_source: self.max_pending_per_source,
            ice_servers: Vec::new(),
        }
    }
}
