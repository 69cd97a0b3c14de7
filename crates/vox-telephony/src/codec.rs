//! One codec type for every dialect: what vox-media drives for a carrier's WebSocket.

use std::fmt;
use std::str::FromStr;

use crate::json::{JsonCodec, JsonEncoder};
use crate::vonage::{VonageCodec, VonageEncoder};
use crate::{MediaEvent, Outbound, ProtocolError};

/// A carrier's media-stream dialect, and so the carrier (config names it in lower case).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Twilio Media Streams (`<Connect><Stream>`): JSON, mu-law 8 kHz.
    Twilio,
    /// Telnyx media streaming (Call Control `stream_url`, RTP mode): JSON, PCMU / PCMA / L16.
    Telnyx,
    /// Plivo audio streams (`<Stream bidirectional="true">`): JSON, mu-law 8 kHz or L16.
    Plivo,
    /// Vonage Voice API WebSocket (NCCO `connect`): binary L16 frames, JSON control.
    Vonage,
    /// Exotel Voicebot applet: JSON, 16-bit PCM at 8, 16 or 24 kHz.
    Exotel,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 5] = [
        Dialect::Twilio,
        Dialect::Telnyx,
        Dialect::Plivo,
        Dialect::Vonage,
        Dialect::Exotel,
    ];

    /// Its lower-case name, as in `/media/{name}` and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Telnyx => "telnyx",
            Self::Plivo => "plivo",
            Self::Vonage => "vonage",
            Self::Exotel => "exotel",
        }
    }

    /// The carrier's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Twilio => "Twilio",
            Self::Telnyx => "Telnyx",
            Self::Plivo => "Plivo",
            Self::Vonage => "Vonage",
            Self::Exotel => "Exotel",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown dialect {s:?} (one of twilio, telnyx, plivo, vonage, exotel)")
            })
    }
}

/// One WebSocket message from the carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsMessage<'a> {
    /// A text frame.
    Text(&'a str),
    /// A binary frame.
    Binary(&'a [u8]),
}

/// One WebSocket message to the carrier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsFrame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

/// What a codec counted about the carrier's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodecStats {
    /// Messages the carrier numbered that never arrived.
    pub sequence_gaps: u64,
    /// Media messages that arrived out of order and were put back in order (Telnyx).
    pub reordered: u64,
    /// Media messages that arrived after the stream had moved past them, dropped (Telnyx).
    pub late_dropped: u64,
}

/// Decoder/encoder state for one carrier stream, for any [`Dialect`].
///
/// In: [`feed`](Self::feed) each WebSocket message, then take the events it produced with
/// [`next_event`](Self::next_event) (a message yields none, one, or, where the dialect
/// reorders, several). Out: [`encode`](Self::encode) appends the WebSocket messages for one
/// [`Outbound`]; a dialect that must send audio in chunks larger than a frame (Exotel) holds
/// it back until a chunk is full or [`flush`](Self::flush) is called.
#[derive(Debug)]
pub struct StreamCodec {
    inner: Inner,
    /// Vonage's outbound half, made at the first encode (after the stream has started).
    vonage_enc: Option<VonageEncoder>,
}

#[derive(Debug)]
enum Inner {
    Json(JsonCodec),
    Vonage(VonageCodec),
}

impl StreamCodec {
    /// A codec for `dialect` that rejects messages longer than `max_message` bytes.
    pub fn new(dialect: Dialect, max_message: usize) -> Self {
        let inner = match dialect {
            Dialect::Vonage => Inner::Vonage(VonageCodec::new(max_message)),
            d => Inner::Json(JsonCodec::new(d, max_message)),
        };
        Self {
            inner,
            vonage_enc: None,
        }
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match &self.inner {
            Inner::Json(c) => c.dialect(),
            Inner::Vonage(_) => Dialect::Vonage,
        }
    }

    /// Decodes one message from the carrier; its events are then read with `next_event`.
    /// An error means the stream is unusable and must be closed.
    pub fn feed(&mut self, msg: WsMessage<'_>) -> Result<(), ProtocolError> {
        match &mut self.inner {
            Inner::Json(c) => c.feed(msg),
            Inner::Vonage(c) => c.feed(msg),
        }
    }

    /// The next event decoded so far. A media payload is borrowed until the next call.
    pub fn next_event(&mut self) -> Option<MediaEvent<'_>> {
        match &mut self.inner {
            Inner::Json(c) => c.next_event(),
            Inner::Vonage(c) => c.next_event(),
        }
    }

    /// The socket has closed: releases audio held back for reordering (read it with
    /// `next_event`).
    pub fn end_of_stream(&mut self) {
        if let Inner::Json(c) = &mut self.inner {
            c.end_of_stream();
        }
    }

    /// Appends the messages that carry `msg` to the carrier (none before the stream has
    /// started, where the dialect needs its stream id). See [`StreamEncoder::encode`].
    pub fn encode(&mut self, msg: Outbound<'_>, out: &mut Vec<WsFrame>) {
        match &mut self.inner {
            Inner::Json(c) => c.encoder_mut().encode(msg, out),
            Inner::Vonage(c) => self
                .vonage_enc
                .get_or_insert_with(|| c.encoder())
                .encode(msg, out),
        }
    }

    /// See [`StreamEncoder::flush`].
    pub fn flush(&mut self, out: &mut Vec<WsFrame>) {
        match &mut self.inner {
            Inner::Json(c) => c.encoder_mut().flush(out),
            Inner::Vonage(c) => self
                .vonage_enc
                .get_or_insert_with(|| c.encoder())
                .flush(out),
        }
    }

    /// See [`StreamEncoder::holds_audio`].
    pub fn holds_audio(&self) -> bool {
        match &self.inner {
            Inner::Json(c) => c.encoder_ref().holds_audio(),
            Inner::Vonage(_) => self
                .vonage_enc
                .as_ref()
                .is_some_and(VonageEncoder::holds_audio),
        }
    }

    /// See [`StreamEncoder::min_send_ahead_ms`].
    pub fn min_send_ahead_ms(&self) -> u64 {
        match &self.inner {
            Inner::Json(c) => c.encoder_ref().min_send_ahead_ms(),
            Inner::Vonage(_) => 0,
        }
    }

    /// An encoder for this stream (once it has started), to run apart from the decoder:
    /// the writer half of a connection.
    pub fn encoder(&self) -> StreamEncoder {
        StreamEncoder {
            inner: match &self.inner {
                Inner::Json(c) => EncInner::Json(c.encoder()),
                Inner::Vonage(c) => EncInner::Vonage(c.encoder()),
            },
        }
    }

    /// The carrier's stream id, once the stream has started.
    pub fn stream_id(&self) -> Option<&str> {
        match &self.inner {
            Inner::Json(c) => c.stream_id(),
            Inner::Vonage(c) => c.stream_id(),
        }
    }

    /// Counters of the carrier's stream so far.
    pub fn stats(&self) -> CodecStats {
        match &self.inner {
            Inner::Json(c) => c.stats(),
            Inner::Vonage(c) => c.stats(),
        }
    }
}

/// The outbound half of a [`StreamCodec`], made by [`StreamCodec::encoder`] once the stream
/// has started.
#[derive(Debug, Clone)]
pub struct StreamEncoder {
    inner: EncInner,
}

#[derive(Debug, Clone)]
enum EncInner {
    Json(JsonEncoder),
    Vonage(VonageEncoder),
}

impl StreamEncoder {
    /// Appends the messages that carry `msg` to the carrier (none before the stream has
    /// started). Exotel's audio is held back until it fills a chunk; the marks sent after it
    /// wait with it.
    pub fn encode(&mut self, msg: Outbound<'_>, out: &mut Vec<WsFrame>) {
        match &mut self.inner {
            EncInner::Json(e) => e.encode(msg, out),
            EncInner::Vonage(e) => e.encode(msg, out),
        }
    }

    /// Sends what is held back, padded with silence to the dialect's smallest chunk (call it
    /// when no more audio is coming soon: the end of a reply).
    pub fn flush(&mut self, out: &mut Vec<WsFrame>) {
        match &mut self.inner {
            EncInner::Json(e) => e.flush(out),
            EncInner::Vonage(e) => e.flush(out),
        }
    }

    /// Whether audio or marks are held back waiting for a full chunk.
    pub fn holds_audio(&self) -> bool {
        match &self.inner {
            EncInner::Json(e) => e.holds_audio(),
            EncInner::Vonage(e) => e.holds_audio(),
        }
    }

    /// The least audio the carrier must have buffered ahead of playback for this dialect to
    /// play without gaps (Exotel: two chunks), in ms; 0 when any amount will do.
    pub fn min_send_ahead_ms(&self) -> u64 {
        match &self.inner {
            EncInner::Json(e) => e.min_send_ahead_ms(),
            EncInner::Vonage(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_parse_by_name() {
        for d in Dialect::ALL {
            assert_eq!(d.name().parse::<Dialect>(), Ok(d));
            assert_eq!(d.name().to_uppercase().parse::<Dialect>(), Ok(d));
        }
        assert!("sip".parse::<Dialect>().is_err());
    }
}
