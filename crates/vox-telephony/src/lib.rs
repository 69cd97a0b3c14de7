//! Carrier media-stream dialects as sans-IO codecs.
//!
//! Each dialect turns the carrier's WebSocket messages into one internal model
//! ([`MediaEvent`] in, [`Outbound`] out) and back. No sockets, no async, no clock: a codec
//! is fed messages and returns events, so it is tested from recorded messages and fuzzed.
//! [`StreamCodec`] speaks every [`Dialect`]: Twilio, Telnyx, Plivo and Exotel (JSON text,
//! base64 audio; [`json`]) and Vonage (binary audio, JSON control; [`vonage`]).
//!
//! Deliberately absent: audio decoding (that is vox-audio's), deciding what to do with a
//! call (vox-call), the HTTP/WebSocket server (vox-media), and each carrier's call set-up,
//! dialer and call control (vox-carriers).

#[cfg(test)]
/// (tests) A carrier's message from `tests/data/carriers/` (shared with the fuzz seeds and the
/// simulator's tests).
macro_rules! fixture {
    ($dialect:literal, $name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/carriers/",
            $dialect,
            "/",
            $name,
            ".json"
        ))
    };
}

mod codec;
mod json;
mod model;
mod rechunk;
mod vonage;

pub use codec::{CodecStats, Dialect, StreamCodec, StreamEncoder, WsFrame, WsMessage};
pub use model::{Encoding, MediaEvent, Outbound, ProtocolError, StreamStart};
