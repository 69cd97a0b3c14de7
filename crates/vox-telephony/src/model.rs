use std::collections::BTreeMap;

/// Audio encoding announced by the carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 mu-law.
    MuLaw,
    /// G.711 A-law.
    ALaw,
    /// 16-bit signed little-endian linear PCM (Plivo, Vonage, Exotel).
    L16,
    /// 16-bit signed big-endian linear PCM: RTP's L16, network byte order (Telnyx).
    L16Be,
}

/// The carrier's description of a stream, from its `start` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamStart {
    /// The carrier's stream id (Twilio `streamSid`).
    pub stream_id: String,
    /// The carrier's call id (Twilio `callSid`).
    pub call_id: String,
    /// The carrier account (Twilio `accountSid`).
    pub account_id: String,
    /// Tracks streamed (Twilio: `inbound`).
    pub tracks: Vec<String>,
    /// Audio encoding of inbound media.
    pub encoding: Encoding,
    /// Sample rate of inbound media in Hz.
    pub sample_rate: u32,
    /// Channels of inbound media.
    pub channels: u16,
    /// Parameters set when the stream was opened (TwiML `<Parameter>`).
    pub custom_parameters: BTreeMap<String, String>,
}

/// One inbound message, in the dialect-independent model. Borrowing: the media payload
/// lives in the codec's reusable buffer until the next message is decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum MediaEvent<'a> {
    /// The socket is up (Twilio `connected`).
    Connected,
    /// The stream starts; audio follows.
    Start(StreamStart),
    /// Caller audio.
    Media {
        /// Decoded payload bytes (still in the carrier's encoding).
        payload: &'a [u8],
        /// Milliseconds since the stream started, per the carrier.
        timestamp_ms: u64,
        /// The carrier's chunk counter.
        chunk: u64,
    },
    /// A key press.
    Dtmf {
        /// The key.
        digit: char,
    },
    /// A mark we sent has been reached: all audio sent before it has played (or was
    /// cleared).
    Mark {
        /// The mark's name, as we sent it.
        name: String,
    },
    /// The stream has ended (caller hung up, or the call moved on).
    Stop,
    /// The carrier confirms a `clear` (Plivo `clearedAudio`, Vonage `websocket:cleared`).
    Cleared,
    /// The carrier reports an error about something we sent (Telnyx `error`); the stream
    /// goes on.
    CarrierError {
        /// What it said.
        message: String,
    },
}

/// One outbound message, in the dialect-independent model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound<'a> {
    /// Audio, already in the carrier's encoding.
    Media(&'a [u8]),
    /// Ask to be told when everything sent so far has played.
    Mark(&'a str),
    /// Drop everything buffered and not yet played.
    Clear,
}

/// Why an inbound message was rejected. Every variant closes the connection: a carrier
/// that sends these is broken or hostile, and guessing would corrupt the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The message exceeds the configured limit.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not valid JSON, or a field of the wrong type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// An `event` this dialect does not define.
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    /// A required field is absent.
    #[error("{event} message without {field}")]
    MissingField {
        /// The event.
        event: &'static str,
        /// The field.
        field: &'static str,
    },
    /// Media, DTMF or mark before `start`.
    #[error("{0} before start")]
    BeforeStart(&'static str),
    /// A second `start` on the same stream.
    #[error("duplicate start")]
    DuplicateStart,
    /// The payload is not valid base64.
    #[error("media payload is not valid base64")]
    BadBase64,
    /// The announced media format is not one we can decode.
    #[error("unsupported media format: {0}")]
    UnsupportedFormat(String),
    /// A binary WebSocket frame where the dialect only sends text.
    #[error("binary frame where only text frames are defined")]
    UnexpectedBinary,
}

impl ProtocolError {
    /// A short stable label for metrics (`vox_protocol_errors_total{kind=...}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::UnknownEvent(_) => "unknown_event",
            Self::MissingField { .. } => "missing_field",
            Self::BeforeStart(_) => "before_start",
            Self::DuplicateStart => "duplicate_start",
            Self::BadBase64 => "bad_base64",
            Self::UnsupportedFormat(_) => "unsupported_format",
            Self::UnexpectedBinary => "unexpected_binary",
        }
    }

    /// The reason to put in the WebSocket close frame: at most 123 bytes, as RFC 6455 allows.
    pub fn close_reason(&self) -> String {
        truncate_utf8(&format!("protocol error: {self}"), 123)
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let e = ProtocolError::UnknownEvent("é".repeat(200));
        let r = e.close_reason();
        assert!(r.len() <= 123);
        assert!(r.starts_with("protocol error: unknown event"));
    }
}
