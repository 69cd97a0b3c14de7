//! Browser calls over WebRTC: the media half, below the HTTP signalling.
//!
//! A browser sends the caller's microphone as Opus in RTP (48 kHz clock, 20 ms packets) and
//! plays the agent's audio from the Opus it receives. [`WebRtcServer`] answers a browser's
//! SDP offer and runs the call on the sans-IO core of webrtc-rs (the `rtc` crate, which the
//! `webrtc` crate's async layer wraps): ICE-lite on one UDP socket shared by every call,
//! DTLS-SRTP, RTCP reports, and the page's data channel. It hands the call runtime a
//! [`BrowserCall`]: the caller's audio as Vox's internal frames ([`vox_core::AudioFrame`]:
//! 16 kHz mono, 20 ms) and the agent's audio, marks and clears in the same shapes as a
//! carrier's WebSocket.
//!
//! - [`JitterBuffer`] puts RTP packets back in order and tells lost ones from late ones;
//! - [`OpusIn`] decodes them into frames, rebuilding a lost packet from the next one's
//!   in-band FEC or concealing it, so the caller's timeline stays continuous;
//! - [`OpusOut`] encodes agent frames as 20 ms packets, sent one per 20 ms of RTP clock;
//! - marks are echoed when the audio before them has played at the browser, estimated as
//!   the time it was sent plus the playout delay ([`playout_delay`]: half the RTCP round
//!   trip plus a jitter buffer sized from the reported jitter; [`PLAYOUT_DELAY`] until the
//!   browser's first receiver report).
//!
//! Opus decodes to, and encodes from, 16 kHz itself, so no resampler runs on this path.

mod client;
mod jitter;
mod mux;
mod opus_codec;
mod peer;
mod playout;
mod server;
mod settings;
mod stun;

pub use client::{ClientCall, ClientError, ClientState, EVENTS_CHANNEL, Heard, WebRtcClient};
pub use jitter::{JitterBuffer, JitterStats, Slot};
pub use opus_codec::{OpusError, OpusIn, OpusOut, RTP_CLOCK_HZ, RTP_TICKS_PER_FRAME, ReceiveStats};
pub use peer::{Command, EndReason, Inbound};
pub use playout::{PLAYOUT_DELAY, playout_delay};
pub use server::{BrowserCall, OfferError, WebRtcConfig, WebRtcServer, check_offer};
pub use settings::{IceServer, WebRtcSettings};
