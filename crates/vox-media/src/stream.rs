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
use vox_call::{
    CallActor, CallConfig, CallIo, CallerFrame, OpenCallError, OutboundMsg, TransportEvent,
    audio_queue,
};
use vox_core::{CallId, SampleRate};
use vox_telephony::{
    Dialect, Encoding, MediaEvent, Outbound, ProtocolError, StreamCodec, StreamEncoder,
    StreamStart, WsFrame, WsMessage,
};

use crate::MediaState;

/// A writer holding audio back for a chunk (Exotel) sends it after this much quiet: the
/// pacer sends a frame every 20 ms while a reply plays, so a longer gap is its end.
const FLUSH_AFTER: Duration = Duration::from_millis(60);

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
    ws: WebSocketUpgrade,
    State(state): State<MediaState>,
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
    let limit = state
        .config
        .max_message_bytes
        .saturating_mul(2)
        .clamp(4096, WS_HARD_LIMIT);
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            // Track the whole connection so graceful shutdown waits for it.
            let tracker = state.registry.tracker().clone();
            let _ = tracker
                .spawn(connection(socket, dialect, query, state))
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

async fn connection(
    mut socket: WebSocket,
    dialect: Dialect,
    query: BTreeMap<String, String>,
    state: MediaState,
) {
    let admission = match state.registry.try_admit() {
        Ok(a) => a,
        Err(e) => {
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
    let mut codec = StreamCodec::new(dialect, state.config.max_message_bytes);
    let (mut sink, mut stream) = socket.split();
    let mut start = match read_until_start(&mut stream, &mut codec).await {
        Ok(Some(start)) => start,
        Ok(None) => return,
        Err(e) => {
            count_error(dialect, &e);
            warn!(%dialect, error = %e, "bad stream before start");
            let _ = sink
                .send(close(protocol_close_code(&e), &e.close_reason()))
                .await;
            return;
        }
    };
    for (k, v) in query {
        start.custom_parameters.entry(k).or_insert(v);
    }
    let call_id = CallId::new(if start.call_id.is_empty() {
        format!("vox-{}", uuid::Uuid::new_v4())
    } else {
        start.call_id.clone()
    });
    let span = tracing::info_span!("call", call = %call_id, stream = %start.stream_id, %dialect);
    run_call(call_id, start, codec, sink, stream, state, admission)
        .instrument(span)
        .await;
}

async fn read_until_start(
    stream: &mut SplitStream<WebSocket>,
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

    let (audio_tx, audio_rx) = audio_queue(cfg.audio_queue_frames);
    // Control events are few and must not be lost: the reader waits for room.
    let (events_tx, events_rx) = mpsc::channel(64);
    // The actor waits for room too: playout pacing bounds what is in flight anyway.
    let (out_tx, out_rx) = mpsc::channel(64);
    let (close_tx, close_rx) = oneshot::channel::<Message>();
    let io = CallIo {
        audio: audio_rx,
        events: events_rx,
        outbound: out_tx,
    };
    let call_cfg = CallConfig {
        send_ahead,
        tool_timeout: cfg.tool_timeout,
    };
    let actor = CallActor::new(
        call_id.clone(),
        call_cfg,
        session.conversation,
        session.services,
        io,
        admission.cancel.clone(),
    );
    let actor_task = tokio::spawn(actor.run().in_current_span());
    let writer_task =
        tokio::spawn(writer(sink, encoder, egress, out_rx, close_rx).in_current_span());

    let mut vad = state.vad.create();
    let mut close_tx = Some(close_tx);
    'read: while let Some(msg) = stream.next().await {
        let msg = match msg {
            Ok(Message::Close(_)) => break,
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "websocket read failed");
                break;
            }
        };
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
    let result = actor_task.await;
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
}

fn reject(dialect: Dialect, close_tx: &mut Option<oneshot::Sender<Message>>, e: &ProtocolError) {
    count_error(dialect, e);
    warn!(error = %e, kind = e.kind(), "closing stream on protocol error");
    if let Some(tx) = close_tx.take() {
        let _ = tx.send(close(protocol_close_code(e), &e.close_reason()));
    }
}

async fn writer(
    mut sink: SplitSink<WebSocket, Message>,
    mut encoder: StreamEncoder,
    mut egress: Egress,
    mut out: mpsc::Receiver<OutboundMsg>,
    mut close_rx: oneshot::Receiver<Message>,
) {
    let mut payload = Vec::with_capacity(960);
    let mut frames = Vec::with_capacity(4);
    loop {
        // audio held back for a chunk goes out once the pacer has gone quiet
        let flush_at = encoder
            .holds_audio()
            .then(|| tokio::time::Instant::now() + FLUSH_AFTER);
        let msg = tokio::select! {
            biased;
            frame = &mut close_rx => {
                if let Ok(frame) = frame {
                    hang_up(&mut sink, frame).await;
                }
                return;
            }
            msg = out.recv() => msg,
            () = async { tokio::time::sleep_until(flush_at.unwrap_or_else(tokio::time::Instant::now)).await }, if flush_at.is_some() => {
                encoder.flush(&mut frames);
                if !send_all(&mut sink, &mut frames).await {
                    return;
                }
                continue;
            }
        };
        match msg {
            Some(OutboundMsg::Audio(frame)) => {
                payload.clear();
                egress.encode(&frame, &mut payload);
                metrics::counter!("vox_outbound_frames_total").increment(1);
                encoder.encode(Outbound::Media(&payload), &mut frames);
            }
            Some(OutboundMsg::Mark(name)) => encoder.encode(Outbound::Mark(&name), &mut frames),
            Some(OutboundMsg::Clear) => {
                egress.reset();
                encoder.encode(Outbound::Clear, &mut frames);
            }
            Some(OutboundMsg::Hangup {
                reason,
                server_shutdown,
            }) => {
                encoder.flush(&mut frames);
                let _ = send_all(&mut sink, &mut frames).await;
                let code = if server_shutdown {
                    code::GOING_AWAY
                } else {
                    code::NORMAL
                };
                hang_up(&mut sink, close(code, &format!("vox: {reason}"))).await;
                return;
            }
            None => {
                hang_up(&mut sink, close(code::NORMAL, "vox: call ended")).await;
                return;
            }
        }
        if !send_all(&mut sink, &mut frames).await {
            return;
        }
    }
}

/// Ends the connection with `frame`. If the carrier closed first (Vonage hangs up that way),
/// sending fails and closing the sink flushes the reply to its close instead.
async fn hang_up(sink: &mut SplitSink<WebSocket, Message>, frame: Message) {
    let _ = sink.send(frame).await;
    let _ = sink.close().await;
}

/// Sends and empties `frames`; false once the socket is gone.
async fn send_all(sink: &mut SplitSink<WebSocket, Message>, frames: &mut Vec<WsFrame>) -> bool {
    for f in frames.drain(..) {
        let msg = match f {
            WsFrame::Text(t) => Message::Text(t.into()),
            WsFrame::Binary(b) => Message::Binary(b.into()),
        };
        if sink.send(msg).await.is_err() {
            return false;
        }
    }
    true
}
