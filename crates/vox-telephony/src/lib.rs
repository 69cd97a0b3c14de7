//! Carrier media-stream dialects as sans-IO codecs.
//!
//! Each dialect turns the carrier's WebSocket messages into one internal model
//! ([`MediaEvent`] in, [`Outbound`] out) and back. No sockets, no async, no clock: a codec
//! is fed text and returns events, so it is tested from recorded messages and fuzzed.
//!
//! Deliberately absent: audio decoding (that is vox-audio's), deciding what to do with a
//! call (vox-call), and the HTTP/WebSocket server (vox-media).
//!
//! Dialects: [`twilio`] (Twilio Media Streams, bidirectional). Telnyx, Plivo, Vonage and
//! Exotel come later and map to the same model.

mod model;
pub mod twilio;
pub mod twilio_voice;

pub use model::{Encoding, MediaEvent, Outbound, ProtocolError, StreamStart};
