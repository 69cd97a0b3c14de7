//! One browser call: its peer connection (the sans-IO core of webrtc-rs), driven by a task
//! that feeds it datagrams from the shared socket, decodes the caller's Opus, and sends the
//! agent's audio paced by the RTP clock.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol as _;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;
use tokio::sync::{mpsc, watch};
use vox_core::{AudioFrame, FRAME_DURATION};

use crate::mux::{Datagram, Registration, UdpMux};
use crate::opus_codec::{OpusIn, OpusOut, RTP_TICKS_PER_FRAME, ReceiveStats};
use crate::playout::{self, PLAYOUT_DELAY};

/// What a browser call hands the call runtime. Frames travel inline (640 bytes) on purpose,
/// as in vox-call's channels: a copy through a bounded channel, no allocation per frame.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Inbound {
    /// DTLS is up: media flows from now on.
    Connected,
    /// 20 ms of the caller's audio.
    Audio(AudioFrame),
    /// The audio sent before this mark has played at the browser (estimated: see
    /// [`crate::playout_delay`]).
    Mark(String),
    /// A text message from the page's data channel.
    Message(String),
    /// The call is over.
    Ended(EndReason),
}

/// What the call runtime asks of a browser call (frames inline, as [`Inbound`]).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// 20 ms of agent audio, queued and sent in real time.
    Audio(AudioFrame),
    /// Echo this name once the audio queued before it has played.
    Mark(String),
    /// Drop the agent audio not sent yet (barge-in).
    Clear,
    /// A text message to the page's data channel (dropped until the page opens one).
    Send(String),
    /// Hang up.
    Hangup,
}

/// Why a browser call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Vox hung up (the agent, the API or a shutdown).
    HungUp,
    /// The browser closed the connection.
    Closed,
    /// ICE or DTLS never completed within the connect timeout.
    ConnectTimeout,
    /// The connection failed after it was up (the browser vanished, the network broke).
    Failed,
}

impl EndReason {
    /// A stable label for metrics and records.
    pub fn kind(self) -> &'static str {
        match self {
            Self::HungUp => "hung_up",
            Self::Closed => "closed",
            Self::ConnectTimeout => "connect_timeout",
            Self::Failed => "failed",
        }
    }
}

/// At most this much late audio is sent in a burst to catch up after a stall; past it the
/// clock skips ahead (the browser would drop it anyway).
const MAX_CATCH_UP_FRAMES: u32 = 5;

/// Items waiting to be sent.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Out {
    Frame(AudioFrame),
    Mark(String),
}

/// The task's state.
pub(crate) struct Peer {
    pub(crate) pc: RTCPeerConnection,
    pub(crate) mux: Arc<UdpMux>,
    pub(crate) registration: Registration,
    pub(crate) local: SocketAddr,
    pub(crate) datagrams: mpsc::Receiver<Datagram>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) inbound: mpsc::Sender<Inbound>,
    pub(crate) sender: rtc::rtp_transceiver::RTCRtpSenderId,
    pub(crate) ssrc: u32,
    pub(crate) opus_in: OpusIn,
    pub(crate) received: watch::Sender<ReceiveStats>,
    pub(crate) opus_out: OpusOut,
    pub(crate) connect_timeout: Duration,
}

/// The sending side's clock and counters.
#[derive(Debug)]
struct Pacer {
    queue: VecDeque<Out>,
    /// When the next frame is due; `None` while there is nothing to send.
    next: Option<Instant>,
    seq: u16,
    timestamp: u32,
    /// When the last frame went out, to advance the RTP clock over silences.
    last_sent: Option<Instant>,
    /// Marks waiting for their audio to play, with when that will be.
    pending_marks: VecDeque<(Instant, String)>,
    payload_type: Option<u8>,
    /// Sent to heard, from the browser's receiver reports (`playout.rs`).
    playout_delay: Duration,
    /// When the receiver reports are next read.
    next_stats: Instant,
}

/// How often the playout delay is re-estimated (browsers report about every second).
const STATS_INTERVAL: Duration = Duration::from_secs(1);

impl Peer {
    /// Runs the call until it ends; the registration is dropped on return.
    pub(crate) async fn run(mut self) {
        let started = Instant::now();
        let mut connected = false;
        let mut channel: Option<rtc::data_channel::RTCDataChannelId> = None;
        let mut pacer = Pacer {
            queue: VecDeque::new(),
            next: None,
            seq: (random_u32() >> 16) as u16,
            timestamp: random_u32(),
            last_sent: None,
            pending_marks: VecDeque::new(),
            payload_type: None,
            playout_delay: PLAYOUT_DELAY,
            next_stats: started + STATS_INTERVAL,
        };
        let mut buf_frames = Vec::new();
        let end = 'call: loop {
            // what the connection wants sent
            while let Some(msg) = self.pc.poll_write() {
                let _ = self
                    .mux
                    .socket()
                    .send_to(&msg.message, msg.transport.peer_addr)
                    .await;
            }
            while let Some(event) = self.pc.poll_event() {
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                        RTCPeerConnectionState::Connected if !connected => {
                            connected = true;
                            let _ = self.inbound.send(Inbound::Connected).await;
                        }
                        RTCPeerConnectionState::Failed => {
                            break 'call if connected {
                                EndReason::Failed
                            } else {
                                EndReason::ConnectTimeout
                            };
                        }
                        RTCPeerConnectionState::Closed => break 'call EndReason::Closed,
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id)) => {
                        channel = Some(id);
                    }
                    RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnClose(id))
                        if channel == Some(id) =>
                    {
                        channel = None;
                    }
                    _ => {}
                }
            }
            while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
                match message {
                    RTCMessage::RtpPacket(_, packet) => {
                        buf_frames.clear();
                        self.opus_in.push(
                            packet.header.sequence_number,
                            packet.header.timestamp,
                            packet.payload.to_vec(),
                            |f| buf_frames.push(f),
                        );
                        for f in buf_frames.drain(..) {
                            // the runtime's queue drops its oldest when full; this channel
                            // only stalls if the runtime is gone
                            if self.inbound.try_send(Inbound::Audio(f)).is_err()
                                && self.inbound.is_closed()
                            {
                                break 'call EndReason::HungUp;
                            }
                        }
                    }
                    RTCMessage::DataChannelMessage(_, m) if m.is_string => {
                        if let Ok(text) = String::from_utf8(m.data.to_vec()) {
                            let _ = self.inbound.try_send(Inbound::Message(text));
                        }
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if !connected && now.duration_since(started) > self.connect_timeout {
                break EndReason::ConnectTimeout;
            }
            if connected {
                if now >= pacer.next_stats {
                    pacer.next_stats = now + STATS_INTERVAL;
                    self.received.send_replace(self.opus_in.stats());
                    let stats = self.pc.get_stats(now, StatsSelector::Sender(self.sender));
                    if let Some(d) = playout::from_stats(&stats) {
                        pacer.playout_delay = d;
                    }
                }
                self.pace(&mut pacer, now);
            }
            while pacer
                .pending_marks
                .front()
                .is_some_and(|(due, _)| *due <= now)
            {
                if let Some((_, name)) = pacer.pending_marks.pop_front() {
                    let _ = self.inbound.send(Inbound::Mark(name)).await;
                }
            }
            let deadline = [
                self.pc.poll_timeout(),
                pacer.next,
                pacer.pending_marks.front().map(|(due, _)| *due),
                (!connected).then(|| started + self.connect_timeout),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_secs(1));
            tokio::select! {
                d = self.datagrams.recv() => {
                    let Some(d) = d else { break EndReason::HungUp };
                    let _ = self.pc.handle_read(TaggedBytesMut {
                        now: d.at,
                        transport: TransportContext {
                            local_addr: self.local,
                            peer_addr: d.from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: d.data,
                    });
                }
                c = self.commands.recv() => match c {
                    None | Some(Command::Hangup) => break EndReason::HungUp,
                    Some(Command::Audio(f)) => pacer.queue.push_back(Out::Frame(f)),
                    Some(Command::Mark(name)) => pacer.queue.push_back(Out::Mark(name)),
                    Some(Command::Clear) => pacer.queue.clear(),
                    Some(Command::Send(text)) => {
                        if let Some(mut dc) = channel.and_then(|id| self.pc.data_channel(id)) {
                            let _ = dc.send_text(Instant::now(), text);
                        }
                    }
                },
                () = tokio::time::sleep_until(deadline.into()) => {
                    let _ = self.pc.handle_timeout(Instant::now());
                }
            }
        };
        let _ = self.pc.close();
        while let Some(msg) = self.pc.poll_write() {
            let _ = self
                .mux
                .socket()
                .send_to(&msg.message, msg.transport.peer_addr)
                .await;
        }
        drop(self.registration);
        self.received.send_replace(self.opus_in.stats());
        let _ = self.inbound.send(Inbound::Ended(end)).await;
    }

    /// Sends the frames that are due, one per 20 ms of RTP clock; a mark met on the way is
    /// echoed the playout delay after the audio before it went out.
    fn pace(&mut self, p: &mut Pacer, now: Instant) {
        if p.next.is_none() && !p.queue.is_empty() {
            p.next = Some(now);
        }
        let mut sent = 0;
        while let Some(due) = p.next.filter(|d| *d <= now) {
            let mut frame = None;
            while let Some(item) = p.queue.pop_front() {
                match item {
                    Out::Mark(name) => p.pending_marks.push_back((due + p.playout_delay, name)),
                    Out::Frame(f) => {
                        frame = Some(f);
                        break;
                    }
                }
            }
            let Some(frame) = frame else {
                p.next = None;
                break;
            };
            // the RTP clock runs on through silences: a talkspurt starts where real time is
            let marker = match p.last_sent {
                Some(last) if due.duration_since(last) > FRAME_DURATION + FRAME_DURATION / 2 => {
                    let frames = (due.duration_since(last).as_millis() / 20) as u32;
                    p.timestamp = p
                        .timestamp
                        .wrapping_add(RTP_TICKS_PER_FRAME.wrapping_mul(frames.saturating_sub(1)));
                    true
                }
                None => true,
                Some(_) => false,
            };
            self.send_frame(p, &frame, marker);
            p.last_sent = Some(due);
            sent += 1;
            let next = due + FRAME_DURATION;
            p.next = Some(if sent >= MAX_CATCH_UP_FRAMES && next <= now {
                now + FRAME_DURATION
            } else {
                next
            });
        }
    }

    fn send_frame(&mut self, p: &mut Pacer, frame: &AudioFrame, marker: bool) {
        let Ok(payload) = self.opus_out.encode(frame).map(Bytes::copy_from_slice) else {
            return;
        };
        let Some(mut sender) = self.pc.rtp_sender(self.sender) else {
            return;
        };
        let payload_type = *p.payload_type.get_or_insert_with(|| {
            sender
                .get_parameters()
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case("audio/opus"))
                .map_or(111, |c| c.payload_type)
        });
        let packet = rtc::rtp::packet::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                marker,
                payload_type,
                sequence_number: p.seq,
                timestamp: p.timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        let _ = sender.write_rtp(Instant::now(), packet);
        p.seq = p.seq.wrapping_add(1);
        p.timestamp = p.timestamp.wrapping_add(RTP_TICKS_PER_FRAME);
    }
}

/// An outgoing Opus track with one SSRC: the agent's (server) or the caller's (client).
pub(crate) fn opus_track(ssrc: u32, label: &str) -> MediaStreamTrack {
    use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
    MediaStreamTrack::new(
        "vox".to_owned(),
        format!("vox-{label}"),
        label.to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: crate::server::opus_codec_params().rtp_codec,
            ..Default::default()
        }],
    )
}

/// The interceptors (RTCP sender and receiver reports, NACK) webrtc-rs registers by default.
pub(crate) fn interceptors(
    media: &mut rtc::peer_connection::configuration::media_engine::MediaEngine,
) -> Result<Registry, rtc::shared::error::Error> {
    rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors(
        Registry::new(),
        media,
    )
}

/// A random 32-bit value (SSRCs, initial sequence numbers and timestamps, ICE credentials).
pub(crate) fn random_u32() -> u32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
