//! One carrier WebSocket becoming a call, for every dialect.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, info, warn};
use vox_audio::{Codec, Egress, Ingress};
use vox_call::{CallerFrame, OpenCallError, OutboundMsg, TransportEvent, Unresponsive};
use vox_core::{CallId, SampleRate};
use vox_telephony::{
    Dialect, Encoding, MediaEvent, Outbound, ProtocolError, StreamCodec, StreamEncoder,
    StreamStart, WsFrame, WsMessage,
};

use crate::admission::Peer;
use crate::liveness::Liveness;
use crate::{Endpoint, MediaState};

/// A writer holding audio back for a chunk (Exotel) sends it after this much quiet: the
/// pacer sends a frame every 20 ms while a reply plays, so a longer gap is its end.
const FLUSH_AFTER: Duration = Duration::from_millis(60);

/// How long a hung-up call waits for the peer's close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(1);

/// WebSocket close codes (RFC 6455 section 7.4.1).
mod code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// Hard limit on what tungstenite will buffer; our own, lower limit gives the clean close.
const WS_HARD_LIMIT: usize = 1024 * 1024;

/// `GET /media/{dialect}`: the carrier's WebSocket. Parameters in the URL's query string
/// (carriers keep the query of the stream URL they were given) count as custom parameters,
/// below those the dialect's `start` carries.
pub(crate) async fn upgrade(
    Path(dialect): Path<String>,
    RawQuery(query): RawQuery,
    peer: Peer,
    ws: WebSocketUpgrade,
    State(endpoint): State<Endpoint>,
) -> Response {
    let Ok(dialect) = dialect.parse::<Dialect>() else {
        return (StatusCode::NOT_FOUND, format!("no media endpoint /media/{dialect}: the dialects are twilio, telnyx, plivo, vonage and exotel")).into_response();
    };
    let query: BTreeMap<String, String> = query
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .collect();
    let limit = endpoint
        .state
        .config
        .max_message_bytes
        .saturating_mul(2)
        .clamp(4096, WS_HARD_LIMIT);
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            // Track the whole connection so graceful shutdown waits for it.
            let tracker = endpoint.state.registry.tracker().clone();
            let _ = tracker
                .spawn(connection(socket, dialect, query, peer, endpoint))
                .await;
        })
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    }))
}

fn protocol_close_code(e: &ProtocolError) -> u16 {
    match e {
        ProtocolError::TooLarge { .. } => code::TOO_BIG,
        ProtocolError::UnsupportedFormat(_) => code::POLICY,
        _ => code::PROTOCOL,
    }
}

fn count_error(dialect: Dialect, e: &ProtocolError) {
    metrics::counter!("vox_protocol_errors_total", "dialect" => dialect.name(), "kind" => e.kind())
        .increment(1);
}

/// A WebSocket message as the codec takes it; `None` for control frames.
fn as_ws_message(msg: &Message) -> Option<WsMessage<'_>> {
    match msg {
        Message::Text(t) => Some(WsMessage::Text(t.as_str())),
        Message::Binary(b) => Some(WsMessage::Binary(b)),
        _ => None,
    }
}

/// Counts a stream refused before it became a call and closes it with `code` and `why`.
async fn refuse(socket: &mut WebSocket, reason: &'static str, code: u16, why: &str) {
    warn!(reason, "refusing media stream: {why}");
    metrics::counter!("vox_calls_rejected_total", "reason" => reason).increment(1);
    let _ = socket.send(close(code, &format!("vox: {why}"))).await;
}

async fn connection(
    mut socket: WebSocket,
    dialect: Dialect,
    query: BTreeMap<String, String>,
    peer: Peer,
    endpoint: Endpoint,
) {
    let Endpoint { state, pending, .. } = endpoint;
    let cfg = &state.config;
    // Before `start` a stream holds no call slot, only a place among its address's pending
    // streams, and only until its deadline.
    let Some(waiting) = pending.try_take(peer.0, cfg.max_pending_per_source) else {
        let why = "too many streams from this address waiting to start";
        refuse(&mut socket, "too_many_pending", code::TRY_AGAIN_LATER, why).await;
        return;
    };
    let mut codec = StreamCodec::new(dialect, cfg.max_message_bytes);
    let start = tokio::time::timeout(cfg.start_timeout, read_until_start(&mut socket, &mut codec));
    let mut start = match start.await {
        Ok(Ok(Some(start))) => start,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            count_error(dialect, &e);
            warn!(%dialect, error = %e, "bad stream before start");
            let _ = socket
                .send(close(protocol_close_code(&e), &e.close_reason()))
                .await;
            return;
        }
        Err(_) => {
            let why = format!("no start within {} ms", cfg.start_timeout.as_millis());
            refuse(&mut socket, "start_timeout", code::POLICY, &why).await;
            return;
        }
    };
    waiting.release();
    for (k, v) in query {
        start.custom_parameters.entry(k).or_insert(v);
    }
    // A call Vox set up carries its token; any other stream names a file agent, which only
    // trusted networks may do.
    let placed = start.custom_parameters.contains_key("callId");
    if !placed && !cfg.trusted_sources.contains(peer.0) {
        let why =
            "this stream carries no call token, and its address is not in media.trusted_sources";
        refuse(&mut socket, "untrusted_source", code::POLICY, why).await;
        return;
    }
    let admission = match state.registry.try_admit() {
        Ok(a) => a,
        Err(e) => {
            // the registry counts the refusal
            warn!(error = %e, "refusing media stream");
            let _ = socket
                .send(close(
                    code::TRY_AGAIN_LATER,
                    &format!("vox: {e}; try again later"),
                ))
                .await;
            return;
        }
    };
    let call_id = CallId::new(if start.call_id.is_empty() {
        format!("vox-{}", uuid::Uuid::new_v4())
    } else {
        start.call_id.clone()
    });
    let span = tracing::info_span!("call", call = %call_id, stream = %start.stream_id, %dialect);
    let (sink, stream) = socket.split();
    run_call(call_id, start, codec, sink, stream, state, admission)
        .instrument(span)
        .await;
}

async fn read_until_start(
    stream: &mut WebSocket,
    codec: &mut StreamCodec,
) -> Result<Option<StreamStart>, ProtocolError> {
    while let Some(msg) = stream.next().await {
        let msg = match msg {
            Ok(Message::Close(_)) | Err(_) => return Ok(None),
            Ok(m) => m,
        };
        let Some(m) = as_ws_message(&msg) else {
            continue;
        };
        codec.feed(m)?;
        while let Some(event) = codec.next_event() {
            match event {
                MediaEvent::Start(start) => return Ok(Some(start)),
                MediaEvent::Stop => return Ok(None),
                // the codecs reject media, DTMF and marks before start
                MediaEvent::Connected
                | MediaEvent::Cleared
                | MediaEvent::CarrierError { .. }
                | MediaEvent::Media { .. }
                | MediaEvent::Dtmf { .. }
                | MediaEvent::Mark { .. } => {}
            }
        }
    }
    Ok(None)
}

async fn run_call(
    call_id: CallId,
    start: StreamStart,
    mut codec: StreamCodec,
    mut sink: SplitSink<WebSocket, Message>,
    mut stream: SplitStream<WebSocket>,
    state: MediaState,
    admission: vox_call::Admission,
) {
    let cfg = &state.config;
    let agent_id = start
        .custom_parameters
        .get("agentId")
        .cloned()
        .unwrap_or_else(|| cfg.default_agent.clone());
    let session = if start.custom_parameters.contains_key("callId") {
        // a call the control plane set up: its token decides, not the agentId alone
        let opened = match &state.placed {
            Some(placed) => placed.open(&start.custom_parameters, &start.call_id).await,
            None => Err(OpenCallError::NotServed),
        };
        match opened {
            Ok(s) => s,
            Err(why) => {
                warn!(agent = %agent_id, reason = %why, "refusing placed call");
                metrics::counter!("vox_calls_rejected_total", "reason" => "bad_call_token")
                    .increment(1);
                let _ = sink.send(close(code::POLICY, &format!("vox: {why}"))).await;
                return;
            }
        }
    } else {
        match state.agents.create(&agent_id) {
            Some(s) => s,
            None => {
                warn!(agent = %agent_id, "unknown agent");
                metrics::counter!("vox_calls_rejected_total", "reason" => "unknown_agent")
                    .increment(1);
                let _ = sink
                    .send(close(
                        code::POLICY,
                        &format!("vox: unknown agent {agent_id:?}"),
                    ))
                    .await;
                return;
            }
        }
    };
    let observer = session.services.observer.clone();
    let dialect = codec.dialect();
    let codec_kind = match start.encoding {
        Encoding::MuLaw => Codec::MuLaw,
        Encoding::ALaw => Codec::ALaw,
        Encoding::L16 => Codec::L16,
        Encoding::L16Be => Codec::L16Be,
    };
    let rate = SampleRate(start.sample_rate);
    let (mut ingress, egress) = match (
        Ingress::new(codec_kind, rate),
        Egress::new(codec_kind, rate),
    ) {
        (Ok(i), Ok(e)) => (i, e),
        (Err(e), _) | (_, Err(e)) => {
            warn!(error = %e, "unusable media format");
            let _ = sink
                .send(close(code::POLICY, "vox: unusable media format"))
                .await;
            return;
        }
    };
    info!(agent = %agent_id, %rate, "call started");
    let encoder = codec.encoder();
    // a dialect that sends audio in chunks needs the carrier to hold more of it
    let send_ahead = cfg
        .send_ahead
        .max(Duration::from_millis(encoder.min_send_ahead_ms()));

    let (close_tx, close_rx) = oneshot::channel::<Message>();
    let crate::StartedCall {
        audio: audio_tx,
        events: events_tx,
        outbound: out_rx,
        task: actor_task,
    } = crate::start_call(
        call_id.clone(),
        session,
        cfg,
        send_ahead,
        admission.cancel.clone(),
    );
    let liveness = Liveness::default();
    let writer_task = tokio::spawn(
        Writer {
            sink,
            encoder,
            egress,
            liveness: liveness.clone(),
            ping_interval: cfg.ping_interval,
        }
        .run(out_rx, close_rx)
        .in_current_span(),
    );

    let mut vad = state.vad.create();
    let mut close_tx = Some(close_tx);
    'read: loop {
        let next = tokio::select! {
            biased;
            () = liveness.failed() => break,
            next = tokio::time::timeout(cfg.idle_timeout, stream.next()) => next,
        };
        let msg = match next {
            Ok(Some(Ok(Message::Close(_))) | None) => break,
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => {
                warn!(error = %e, "websocket read failed");
                break;
            }
            Err(_) => {
                liveness.fail(Unresponsive::Silent);
                if let Some(tx) = close_tx.take() {
                    let _ = tx.send(close(
                        code::POLICY,
                        &format!("vox: {}", Unresponsive::Silent),
                    ));
                }
                break;
            }
        };
        if matches!(msg, Message::Pong(_)) {
            liveness.pong();
        }
        let Some(m) = as_ws_message(&msg) else {
            continue;
        };
        if let Err(e) = codec.feed(m) {
            reject(dialect, &mut close_tx, &e);
            break;
        }
        while let Some(event) = codec.next_event() {
            let sent = match event {
                MediaEvent::Media { payload, .. } => {
                    ingress.push(payload, |frame| {
                        let vad = vad.process(&frame);
                        audio_tx.push(CallerFrame { frame, vad });
                    });
                    true
                }
                MediaEvent::Mark { name } => {
                    events_tx.send(TransportEvent::Mark(name)).await.is_ok()
                }
                MediaEvent::Dtmf { digit } => {
                    events_tx.send(TransportEvent::Dtmf(digit)).await.is_ok()
                }
                MediaEvent::Stop => {
                    let _ = events_tx.send(TransportEvent::Stop).await;
                    break 'read;
                }
                MediaEvent::CarrierError { message } => {
                    warn!(%message, "the carrier reports an error");
                    metrics::counter!("vox_carrier_errors_total", "dialect" => dialect.name())
                        .increment(1);
                    true
                }
                // a second start is rejected by the codec; a clear's confirmation changes nothing
                MediaEvent::Connected | MediaEvent::Start(_) | MediaEvent::Cleared => true,
            };
            if !sent || events_tx.is_closed() {
                break 'read; // the actor is gone
            }
        }
    }
    let stats = codec.stats();
    let gaps = stats.sequence_gaps;
    if gaps > 0 {
        metrics::counter!("vox_inbound_sequence_gaps_total", "dialect" => dialect.name())
            .increment(gaps);
    }
    if stats.reordered > 0 || stats.late_dropped > 0 {
        metrics::counter!("vox_inbound_reordered_total", "dialect" => dialect.name())
            .increment(stats.reordered);
        metrics::counter!("vox_inbound_late_dropped_total", "dialect" => dialect.name())
            .increment(stats.late_dropped);
    }
    drop(audio_tx);
    drop(events_tx);
    let mut result = actor_task.await;
    // the transport's verdict explains an ending the actor saw only as a closed channel
    if let (Some(why), Ok(summary)) = (liveness.verdict(), result.as_mut())
        && summary.end == vox_call::CallEnd::TransportClosed
    {
        warn!(reason = why.kind(), "hung up: {why}");
        metrics::counter!("vox_calls_unresponsive_total", "reason" => why.kind()).increment(1);
        summary.end = vox_call::CallEnd::PeerUnresponsive(why);
    }
    if let Some(o) = &observer {
        o.ended(result.as_ref().ok());
    }
    match result {
        Ok(summary) => info!(
            end = summary.end.kind(),
            transcript_lines = summary.transcript.len(),
            asr_dropped = summary.asr_frames_dropped,
            frames_in = summary.frames_in,
            frames_out = summary.frames_out,
            dropped = summary.frames_dropped,
            turns = summary.turns,
            barge_ins = summary.barge_ins,
            sequence_gaps = gaps,
            "call ended"
        ),
        Err(e) => {
            // A panic in one call hangs up that call, not the process.
            tracing::error!(error = %e, "call actor failed");
            metrics::counter!("vox_call_panics_total").increment(1);
            if let Some(tx) = close_tx.take() {
                let _ = tx.send(close(code::INTERNAL, "vox: internal error"));
            }
        }
    }
    let _ = writer_task.await;
    drop(admission);
    // The closing handshake: read until the peer's close (briefly), so its last messages are
    // not left unread, which would make the kernel reset the connection and lose our close.
    let _ = tokio::time::timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

fn reject(dialect: Dialect, close_tx: &mut Option<oneshot::Sender<Message>>, e: &ProtocolError) {
    count_error(dialect, e);
    warn!(error = %e, kind = e.kind(), "closing stream on protocol error");
    if let Some(tx) = close_tx.take() {
        let _ = tx.send(close(protocol_close_code(e), &e.close_reason()));
    }
}

/// The sending half of a call: encodes the actor's output in the carrier's dialect, pings
/// the peer, and gives up on a peer that stopped reading.
struct Writer {
    sink: SplitSink<WebSocket, Message>,
    encoder: StreamEncoder,
    egress: Egress,
    liveness: Liveness,
    ping_interval: Duration,
}

impl Writer {
    async fn run(
        mut self,
        mut out: mpsc::Receiver<OutboundMsg>,
        mut close_rx: oneshot::Receiver<Message>,
    ) {
        let mut payload = Vec::with_capacity(960);
        let mut frames = Vec::with_capacity(4);
        let mut pings = tokio::time::interval_at(
            tokio::time::Instant::now() + self.ping_interval,
            self.ping_interval,
        );
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pings_sent = 0u64;
        loop {
            // audio held back for a chunk goes out once the pacer has gone quiet
            let flush_at = self
                .encoder
                .holds_audio()
                .then(|| tokio::time::Instant::now() + FLUSH_AFTER);
            let msg = tokio::select! {
                biased;
                frame = &mut close_rx => {
                    if let Ok(frame) = frame {
                        self.hang_up(frame).await;
                    }
                    return;
                }
                () = self.liveness.failed() => return,
                _ = pings.tick() => {
                    // the last ping had a whole interval to be answered
                    if self.liveness.pongs() < pings_sent {
                        self.liveness.fail(Unresponsive::NotReading);
                        self.hang_up(close(code::POLICY, &format!("vox: {}", Unresponsive::NotReading))).await;
                        return;
                    }
                    pings_sent += 1;
                    let ping = Message::Ping(pings_sent.to_be_bytes().to_vec().into());
                    if !self.send(ping).await {
                        return;
                    }
                    continue;
                }
                msg = out.recv() => msg,
                () = async { tokio::time::sleep_until(flush_at.unwrap_or_else(tokio::time::Instant::now)).await }, if flush_at.is_some() => {
                    self.encoder.flush(&mut frames);
                    if !self.send_all(&mut frames).await {
                        return;
                    }
                    continue;
                }
            };
            match msg {
                Some(OutboundMsg::Audio(frame)) => {
                    payload.clear();
                    self.egress.encode(&frame, &mut payload);
                    metrics::counter!("vox_outbound_frames_total").increment(1);
                    self.encoder.encode(Outbound::Media(&payload), &mut frames);
                }
                Some(OutboundMsg::Mark(name)) => {
                    self.encoder.encode(Outbound::Mark(&name), &mut frames);
                }
                Some(OutboundMsg::Clear) => {
                    self.egress.reset();
                    self.encoder.encode(Outbound::Clear, &mut frames);
                }
                Some(OutboundMsg::Hangup {
                    reason,
                    server_shutdown,
                }) => {
                    self.encoder.flush(&mut frames);
                    let _ = self.send_all(&mut frames).await;
                    let code = if server_shutdown {
                        code::GOING_AWAY
                    } else {
                        code::NORMAL
                    };
                    self.hang_up(close(code, &format!("vox: {reason}"))).await;
                    return;
                }
                None => {
                    self.hang_up(close(code::NORMAL, "vox: call ended")).await;
                    return;
                }
            }
            if !self.send_all(&mut frames).await {
                return;
            }
        }
    }

    /// Sends one message; false once the socket is gone or the peer stopped reading (a
    /// write that cannot finish within the ping interval).
    async fn send(&mut self, msg: Message) -> bool {
        match tokio::time::timeout(self.ping_interval, self.sink.send(msg)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                self.liveness.fail(Unresponsive::NotReading);
                false
            }
        }
    }

    /// Sends and empties `frames`; false once the socket is gone.
    async fn send_all(&mut self, frames: &mut Vec<WsFrame>) -> bool {
        for f in frames.drain(..) {
            let msg = match f {
                WsFrame::Text(t) => Message::Text(t.into()),
                WsFrame::Binary(b) => Message::Binary(b.into()),
            };
            if !self.send(msg).await {
                return false;
            }
        }
        true
    }

    /// Ends the connection with `frame`. If the carrier closed first (Vonage hangs up that
    /// way), sending fails and closing the sink flushes the reply to its close instead. A peer
    /// that does not read gets at most one ping interval for it.
    async fn hang_up(&mut self, frame: Message) {
        let sink = &mut self.sink;
        let _ = tokio::time::timeout(self.ping_interval, async move {
            let _ = sink.send(frame).await;
            let _ = sink.close().await;
        })
        .await;
    }
}
