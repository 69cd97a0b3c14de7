//! Carrier media-stream dialects as sans-IO codecs, and call set-up without I/O.
//!
//! Each dialect turns the carrier's WebSocket messages into one internal model
//! ([`MediaEvent`] in, [`Outbound`] out) and back. No sockets, no async, no clock: a codec
//! is fed messages and returns events, so it is tested from recorded messages and fuzzed.
//! [`StreamCodec`] speaks every [`Dialect`]: Twilio, Telnyx, Plivo and Exotel (JSON text,
//! base64 audio; [`json`]) and Vonage (binary audio, JSON control; [`vonage`]).
//!
//! Call set-up per carrier, also without I/O: webhook signatures and the documents that
//! connect a call to our media endpoint ([`twilio_voice`] TwiML, [`telnyx_voice`] Call
//! Control commands, [`plivo_voice`] Plivo XML, [`vonage_voice`] NCCO, [`exotel_voice`]).
//!
//! Deliberately absent: audio decoding (that is vox-audio's), deciding what to do with a
//! call (vox-call), and the HTTP/WebSocket server (vox-media).

mod codec;
pub mod exotel_voice;
mod json;
mod model;
pub mod plivo_voice;
mod rechunk;
pub mod telnyx_voice;
pub mod twilio_voice;
mod vonage;
pub mod vonage_voice;

pub use codec::{CodecStats, Dialect, StreamCodec, StreamEncoder, WsFrame, WsMessage};
pub use model::{Encoding, MediaEvent, Outbound, ProtocolError, StreamStart};
