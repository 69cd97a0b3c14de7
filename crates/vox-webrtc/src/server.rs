//! The browser-call endpoint: one UDP socket, and an answer for each offer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::peer_connection::RTCPeerConnectionBuilder;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::mux::UdpMux;
use crate::opus_codec::{OpusIn, OpusOut, ReceiveStats};
use crate::peer::{Command, Inbound, Peer, interceptors, opus_track, random_u32};

/// How browser calls are served.
#[derive(Debug, Clone)]
pub struct WebRtcConfig {
    /// The address the UDP socket binds (its port: the first free one in `ports`).
    pub bind_ip: IpAddr,
    /// The UDP ports to try, in order; the first free one serves every call.
    pub ports: std::ops::RangeInclusive<u16>,
    /// The address browsers are told to send to (1:1 NAT: the public address); the bound
    /// address when unset (then it must not be unspecified).
    pub public_ip: Option<IpAddr>,
    /// Packets the jitter buffer holds behind a gap (20 ms each).
    pub jitter_depth: usize,
    /// Opus encoder complexity, 0-10.
    pub opus_complexity: i32,
    /// A call whose browser has not connected by then is dropped.
    pub connect_timeout: Duration,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        Self {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            ports: 50_000..=50_100,
            public_ip: None,
            jitter_depth: 3,
            opus_complexity: 5,
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// Why an offer is refused (the text is for the HTTP answer: 400).
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// Not an SDP offer webrtc-rs can read.
    #[error("the body is not a usable SDP offer: {0}")]
    BadSdp(String),
    /// The offer has no audio, or no Opus.
    #[error("the offer has no Opus audio section (m=audio with opus/48000/2)")]
    NoOpusAudio,
    /// The offer could not be answered.
    #[error("the offer could not be answered: {0}")]
    Negotiation(String),
}

/// A browser call's ends for the call runtime.
#[derive(Debug)]
pub struct BrowserCall {
    /// The caller's audio and the call's events.
    pub inbound: mpsc::Receiver<Inbound>,
    /// Agent audio, marks, clear, data-channel text, hang-up.
    pub commands: mpsc::Sender<Command>,
    /// What became of the caller's packets: updated every second, final once `inbound`
    /// has closed.
    pub received: watch::Receiver<ReceiveStats>,
}

/// Serves browser calls on one UDP socket.
#[derive(Debug, Clone)]
pub struct WebRtcServer {
    mux: Arc<UdpMux>,
    candidate: SocketAddr,
    config: WebRtcConfig,
}

/// Opus as offered by browsers: payload type 111, 48 kHz, two channels in SDP (mono in
/// practice), in-band FEC.
pub(crate) fn opus_codec_params() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: 111,
    }
}

/// What can be told of an offer without answering it: that it is SDP with Opus audio.
pub fn check_offer(offer_sdp: &str) -> Result<(), OfferError> {
    RTCSessionDescription::offer(offer_sdp.to_owned())
        .and_then(|d| d.unmarshal().map(|_| ()))
        .map_err(|e| OfferError::BadSdp(e.to_string()))?;
    let has_opus = offer_sdp.lines().any(|l| l.starts_with("m=audio"))
        && offer_sdp.to_ascii_lowercase().contains("opus/48000");
    if has_opus {
        Ok(())
    } else {
        Err(OfferError::NoOpusAudio)
    }
}

impl WebRtcServer {
    /// Binds the socket.
    pub async fn bind(config: WebRtcConfig) -> std::io::Result<Self> {
        let advertised = config.public_ip.unwrap_or(config.bind_ip);
        if advertised.is_unspecified() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "webrtc: binding an unspecified address needs webrtc.public_ip (the address browsers send to)",
            ));
        }
        let mut last = None;
        for port in config.ports.clone() {
            match UdpSocket::bind((config.bind_ip, port)).await {
                Ok(socket) => {
                    let port = socket.local_addr()?.port();
                    return Ok(Self {
                        mux: UdpMux::start(socket),
                        candidate: SocketAddr::new(advertised, port),
                        config,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "webrtc: the UDP port range is empty",
            )
        }))
    }

    /// The address browsers are told to send to.
    pub fn candidate(&self) -> SocketAddr {
        self.candidate
    }

    /// (datagrams no call claimed, datagrams dropped because their call was behind)
    pub fn datagram_counts(&self) -> (u64, u64) {
        self.mux.counts()
    }

    /// Answers a browser's offer (complete, non-trickle: the answer carries our one
    /// candidate) and starts the call's task.
    pub fn answer(&self, offer_sdp: &str) -> Result<(String, BrowserCall), OfferError> {
        check_offer(offer_sdp)?;
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned())
            .map_err(|e| OfferError::BadSdp(e.to_string()))?;
        let neg = |e: rtc::shared::error::Error| OfferError::Negotiation(e.to_string());
        let ufrag = format!("vox{:08x}", random_u32());
        let pwd = format!(
            "{:08x}{:08x}{:08x}{:08x}",
            random_u32(),
            random_u32(),
            random_u32(),
            random_u32()
        );
        let mut media = MediaEngine::default();
        media
            .register_codec(opus_codec_params(), RtpCodecKind::Audio)
            .map_err(neg)?;
        let registry = interceptors(&mut media).map_err(neg)?;
        let settings = SettingEngineBuilder::new()
            .with_ice_credentials(ufrag.clone(), pwd)
            .with_lite(true)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(Instant::now())
            .map_err(neg)?;
        let ssrc = random_u32();
        let sender = pc.add_track(opus_track(ssrc, "agent")).map_err(neg)?;
        pc.set_remote_description(Instant::now(), offer)
            .map_err(|e| OfferError::BadSdp(e.to_string()))?;
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: self.candidate.ip().to_string(),
                port: self.candidate.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .map_err(|e| OfferError::Negotiation(e.to_string()))?;
        let init = RTCIceCandidate::from(&candidate).to_json().map_err(neg)?;
        pc.add_local_candidate(init).map_err(neg)?;
        let answer = pc.create_answer(None).map_err(neg)?;
        pc.set_local_description(Instant::now(), answer)
            .map_err(neg)?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| OfferError::Negotiation("no local description".to_owned()))?;
        let opus_in = OpusIn::new(self.config.jitter_depth)
            .map_err(|e| OfferError::Negotiation(e.to_string()))?;
        let opus_out = OpusOut::new(self.config.opus_complexity)
            .map_err(|e| OfferError::Negotiation(e.to_string()))?;
        let (registration, datagrams) = self.mux.register(ufrag);
        let (in_tx, in_rx) = mpsc::channel(256);
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let (received_tx, received_rx) = watch::channel(ReceiveStats::default());
        let peer = Peer {
            pc,
            mux: self.mux.clone(),
            registration,
            local: self.candidate,
            datagrams,
            commands: cmd_rx,
            inbound: in_tx,
            sender,
            ssrc,
            opus_in,
            received: received_tx,
            opus_out,
            connect_timeout: self.config.connect_timeout,
        };
        tokio::spawn(peer.run());
        Ok((
            sdp,
            BrowserCall {
                inbound: in_rx,
                commands: cmd_tx,
                received: received_rx,
            },
        ))
    }
}
