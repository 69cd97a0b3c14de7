//! A WebRTC caller on the same stack: what the tests and `vox sim` use to call Vox as a
//! browser does (offer with Opus audio and a data channel, full ICE, DTLS-SRTP), with a
//! microphone that sends a frame every 20 ms (silence when nothing is queued) and an ear that
//! reports each frame it hears with when it arrived.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::sansio::Protocol as _;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use vox_core::{AudioFrame, FRAME_DURATION};

use crate::opus_codec::{OpusIn, OpusOut, RTP_TICKS_PER_FRAME};
use crate::peer::{interceptors, opus_track, random_u32};
use crate::server::opus_codec_params;

/// The label of the data channel the client opens (the console page uses the same).
pub const EVENTS_CHANNEL: &str = "vox-events";

/// Where a client call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// ICE and DTLS under way.
    Connecting,
    /// Media flows.
    Connected,
    /// Over (closed by either side, or failed).
    Ended,
}

/// One frame heard, and when it arrived.
#[derive(Debug, Clone)]
pub struct Heard {
    /// The decoded audio.
    pub frame: AudioFrame,
    /// When its packet arrived.
    pub at: Instant,
}

/// A call in progress, from the caller's side.
#[derive(Debug)]
pub struct ClientCall {
    /// Frames to speak, sent one per 20 ms in order (silence in between).
    pub speak: mpsc::Sender<AudioFrame>,
    /// What the agent said, frame by frame.
    pub heard: mpsc::Receiver<Heard>,
    /// Text arriving on the data channel.
    pub messages: mpsc::Receiver<String>,
    /// The connection's state.
    pub state: watch::Receiver<ClientState>,
    /// Dropping this (or sending) hangs up.
    pub hangup: mpsc::Sender<()>,
}

/// A caller before its offer is answered.
pub struct WebRtcClient {
    pc: RTCPeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    sender: rtc::rtp_transceiver::RTCRtpSenderId,
    ssrc: u32,
}

impl std::fmt::Debug for WebRtcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcClient")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// A client-side failure.
#[derive(Debug, thiserror::Error)]
#[error("webrtc client: {0}")]
pub struct ClientError(String);

fn cerr(e: impl std::fmt::Display) -> ClientError {
    ClientError(e.to_string())
}

impl WebRtcClient {
    /// A caller on a loopback UDP socket, and its SDP offer (complete: its one candidate is
    /// in it).
    pub async fn offer() -> Result<(Self, String), ClientError> {
        let socket = UdpSocket::bind("127.0.0.1:0").await.map_err(cerr)?;
        let local = socket.local_addr().map_err(cerr)?;
        let mut media = MediaEngine::default();
        media
            .register_codec(opus_codec_params(), RtpCodecKind::Audio)
            .map_err(cerr)?;
        let registry = interceptors(&mut media).map_err(cerr)?;
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(SettingEngineBuilder::new().build())
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(Instant::now())
            .map_err(cerr)?;
        let ssrc = random_u32();
        let sender = pc.add_track(opus_track(ssrc, "caller")).map_err(cerr)?;
        pc.create_data_channel(EVENTS_CHANNEL, None).map_err(cerr)?;
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(cerr)?;
        pc.add_local_candidate(RTCIceCandidate::from(&candidate).to_json().map_err(cerr)?)
            .map_err(cerr)?;
        let offer = pc.create_offer(None).map_err(cerr)?;
        pc.set_local_description(Instant::now(), offer)
            .map_err(cerr)?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| ClientError("no local description".to_owned()))?;
        Ok((
            Self {
                pc,
                socket,
                local,
                sender,
                ssrc,
            },
            sdp,
        ))
    }

    /// Takes the answer and runs the call in a task.
    pub fn start(mut self, answer_sdp: &str) -> Result<ClientCall, ClientError> {
        let answer = RTCSessionDescription::answer(answer_sdp.to_owned()).map_err(cerr)?;
        self.pc
            .set_remote_description(Instant::now(), answer)
            .map_err(cerr)?;
        let (speak_tx, speak_rx) = mpsc::channel(4096);
        let (heard_tx, heard_rx) = mpsc::channel(4096);
        let (msg_tx, msg_rx) = mpsc::channel(256);
        let (state_tx, state_rx) = watch::channel(ClientState::Connecting);
        let (hangup_tx, hangup_rx) = mpsc::channel(1);
        tokio::spawn(self.run(speak_rx, heard_tx, msg_tx, state_tx, hangup_rx));
        Ok(ClientCall {
            speak: speak_tx,
            heard: heard_rx,
            messages: msg_rx,
            state: state_rx,
            hangup: hangup_tx,
        })
    }

    async fn run(
        mut self,
        mut speak: mpsc::Receiver<AudioFrame>,
        heard: mpsc::Sender<Heard>,
        messages: mpsc::Sender<String>,
        state: watch::Sender<ClientState>,
        mut hangup: mpsc::Receiver<()>,
    ) {
        let (Ok(mut opus_in), Ok(mut opus_out)) = (OpusIn::new(2), OpusOut::new(5)) else {
            let _ = state.send(ClientState::Ended);
            return;
        };
        let mut queue: VecDeque<AudioFrame> = VecDeque::new();
        let mut next_frame: Option<Instant> = None;
        let (mut seq, mut ts) = ((random_u32() >> 16) as u16, random_u32());
        let mut payload_type = None;
        let mut buf = vec![0u8; 2048];
        let mut out = Vec::new();
        loop {
            while let Some(msg) = self.pc.poll_write() {
                let _ = self
                    .socket
                    .send_to(&msg.message, msg.transport.peer_addr)
                    .await;
            }
            while let Some(event) = self.pc.poll_event() {
                if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) = event {
                    match s {
                        RTCPeerConnectionState::Connected => {
                            let _ = state.send(ClientState::Connected);
                            next_frame.get_or_insert_with(Instant::now);
                        }
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                            let _ = state.send(ClientState::Ended);
                            return;
                        }
                        _ => {}
                    }
                } else if let RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnClose(
                    _,
                )) = event
                {
                    // the server hung up (its data channel closes with it)
                }
            }
            while let Some(TaggedRTCMessage { message, now }) = self.pc.poll_read() {
                match message {
                    RTCMessage::RtpPacket(_, p) => {
                        out.clear();
                        opus_in.push(
                            p.header.sequence_number,
                            p.header.timestamp,
                            p.payload.to_vec(),
                            |f| out.push(f),
                        );
                        for frame in out.drain(..) {
                            let _ = heard.try_send(Heard { frame, at: now });
                        }
                    }
                    RTCMessage::DataChannelMessage(_, m) if m.is_string => {
                        if let Ok(t) = String::from_utf8(m.data.to_vec()) {
                            let _ = messages.try_send(t);
                        }
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            // the microphone: a frame every 20 ms
            while let Some(due) = next_frame.filter(|d| *d <= now) {
                while let Ok(f) = speak.try_recv() {
                    queue.push_back(f);
                }
                let frame = queue.pop_front().unwrap_or_else(AudioFrame::silence);
                if let (Ok(payload), Some(mut sender)) = (
                    opus_out.encode(&frame).map(Bytes::copy_from_slice),
                    self.pc.rtp_sender(self.sender),
                ) {
                    let pt = *payload_type.get_or_insert_with(|| {
                        sender
                            .get_parameters()
                            .rtp_parameters
                            .codecs
                            .first()
                            .map_or(111, |c| c.payload_type)
                    });
                    let packet = rtc::rtp::packet::Packet {
                        header: rtc::rtp::header::Header {
                            version: 2,
                            payload_type: pt,
                            sequence_number: seq,
                            timestamp: ts,
                            ssrc: self.ssrc,
                            ..Default::default()
                        },
                        payload,
                    };
                    let _ = sender.write_rtp(now, packet);
                }
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(RTP_TICKS_PER_FRAME);
                next_frame = Some(due + FRAME_DURATION);
            }
            let deadline = [self.pc.poll_timeout(), next_frame]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now + Duration::from_secs(1));
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        let _ = self.pc.handle_read(TaggedBytesMut {
                            now: Instant::now(),
                            transport: TransportContext {
                                local_addr: self.local,
                                peer_addr: from,
                                ecn: None,
                                transport_protocol: TransportProtocol::UDP,
                            },
                            message: BytesMut::from(&buf[..n]),
                        });
                    }
                }
                _ = hangup.recv() => {
                    let _ = self.pc.close();
                    while let Some(msg) = self.pc.poll_write() {
                        let _ = self.socket.send_to(&msg.message, msg.transport.peer_addr).await;
                    }
                    let _ = state.send(ClientState::Ended);
                    return;
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    let _ = self.pc.handle_timeout(Instant::now());
                }
            }
        }
    }
}
