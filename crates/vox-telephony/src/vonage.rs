//! The Vonage Voice API WebSocket (NCCO `connect` to a `websocket` endpoint).
//!
//! Audio is binary: 16-bit signed little-endian PCM, mono, 20 ms a frame (640 bytes at
//! 16 kHz, 320 at 8 kHz), both ways. Control is JSON text. The first text message,
//! `{"event":"websocket:connected","content-type":"audio/l16;rate=16000", ...}`, carries the
//! NCCO endpoint's `headers` as its other fields: it is the stream's start, and those
//! headers are its custom parameters. DTMF arrives as `websocket:dtmf`. Out: `{"action":
//! "notify","payload":{...}}` is echoed as `websocket:notify` once the audio sent before it
//! has played (the mark), `{"action":"clear"}` empties Vonage's buffer and is confirmed by
//! `websocket:cleared`. There is no stop message: the socket closes.

use std::collections::BTreeMap;

use crate::codec::{CodecStats, WsFrame, WsMessage};
use crate::rechunk::{Piece, Rechunker};
use crate::{Encoding, MediaEvent, Outbound, ProtocolError, StreamStart};

#[derive(Debug)]
enum Pending {
    Start(StreamStart),
    Dtmf(char),
    Mark(String),
    Cleared,
}

#[derive(Debug)]
pub(crate) struct VonageCodec {
    max_message: usize,
    started: bool,
    stream_id: Option<String>,
    /// A binary frame fed and not yet handed out.
    audio: Option<Vec<u8>>,
    current: Vec<u8>,
    spare: Vec<u8>,
    chunk: u64,
    frame_ms: u64,
    /// Bytes in 20 ms, once connected.
    frame_bytes: Option<usize>,
    pending: Option<Pending>,
}

impl VonageCodec {
    pub(crate) fn new(max_message: usize) -> Self {
        Self {
            max_message,
            started: false,
            stream_id: None,
            audio: None,
            current: Vec::with_capacity(640),
            spare: Vec::with_capacity(640),
            chunk: 0,
            frame_ms: 20,
            frame_bytes: None,
            pending: None,
        }
    }

    pub(crate) fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    pub(crate) fn stats(&self) -> CodecStats {
        CodecStats::default()
    }

    pub(crate) fn feed(&mut self, msg: WsMessage<'_>) -> Result<(), ProtocolError> {
        let text = match msg {
            WsMessage::Binary(bytes) => {
                if bytes.len() > self.max_message {
                    return Err(ProtocolError::TooLarge {
                        len: bytes.len(),
                        max: self.max_message,
                    });
                }
                if !self.started {
                    return Err(ProtocolError::BeforeStart("audio"));
                }
                let mut buf = self
                    .audio
                    .take()
                    .unwrap_or_else(|| std::mem::take(&mut self.spare));
                buf.clear();
                buf.extend_from_slice(bytes);
                self.audio = Some(buf);
                return Ok(());
            }
            WsMessage::Text(t) => t,
        };
        if text.len() > self.max_message {
            return Err(ProtocolError::TooLarge {
                len: text.len(),
                max: self.max_message,
            });
        }
        let fields: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        let event = fields
            .get("event")
            .and_then(serde_json::Value::as_str)
            .ok_or(ProtocolError::MissingField {
                event: "message",
                field: "event",
            })?;
        self.pending = Some(match event {
            "websocket:connected" => {
                if self.started {
                    return Err(ProtocolError::DuplicateStart);
                }
                let content = fields
                    .get("content-type")
                    .and_then(serde_json::Value::as_str)
                    .ok_or(ProtocolError::MissingField {
                        event: "websocket:connected",
                        field: "content-type",
                    })?;
                let rate = content_rate(content)?;
                let custom_parameters: BTreeMap<String, String> = fields
                    .iter()
                    .filter(|(k, _)| k.as_str() != "event" && k.as_str() != "content-type")
                    .filter_map(|(k, v)| match v {
                        serde_json::Value::String(s) => Some((k.clone(), s.clone())),
                        serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
                        serde_json::Value::Bool(b) => Some((k.clone(), b.to_string())),
                        _ => None,
                    })
                    .collect();
                let call_id = ["uuid", "call_uuid", "callUuid"]
                    .iter()
                    .find_map(|k| custom_parameters.get(*k))
                    .cloned()
                    .unwrap_or_default();
                self.started = true;
                self.frame_bytes = Some(rate as usize / 50 * 2);
                self.stream_id = Some(call_id.clone());
                Pending::Start(StreamStart {
                    stream_id: call_id.clone(),
                    call_id,
                    account_id: String::new(),
                    tracks: vec!["inbound".into()],
                    encoding: Encoding::L16,
                    sample_rate: rate,
                    channels: 1,
                    custom_parameters,
                })
            }
            _ if !self.started => return Err(ProtocolError::BeforeStart("event")),
            "websocket:dtmf" => {
                let digit = fields
                    .get("digit")
                    .or_else(|| fields.get("dtmf").and_then(|d| d.get("digit")))
                    .ok_or(ProtocolError::MissingField {
                        event: "websocket:dtmf",
                        field: "digit",
                    })?;
                let digit = match digit {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let mut chars = digit.chars();
                match (chars.next(), chars.next()) {
                    (Some(d), None) if d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D') => {
                        Pending::Dtmf(d)
                    }
                    _ => return Err(ProtocolError::Malformed(format!("dtmf digit {digit:?}"))),
                }
            }
            "websocket:notify" => {
                let name = fields
                    .get("payload")
                    .and_then(|p| p.get("mark"))
                    .and_then(serde_json::Value::as_str)
                    .ok_or(ProtocolError::MissingField {
                        event: "websocket:notify",
                        field: "payload.mark",
                    })?;
                Pending::Mark(name.to_owned())
            }
            "websocket:cleared" => Pending::Cleared,
            other => return Err(ProtocolError::UnknownEvent(other.to_owned())),
        });
        Ok(())
    }

    pub(crate) fn next_event(&mut self) -> Option<MediaEvent<'_>> {
        if let Some(buf) = self.audio.take() {
            self.spare = std::mem::replace(&mut self.current, buf);
            self.chunk += 1;
            return Some(MediaEvent::Media {
                payload: &self.current,
                timestamp_ms: (self.chunk - 1) * self.frame_ms,
                chunk: self.chunk,
            });
        }
        Some(match self.pending.take()? {
            Pending::Start(s) => MediaEvent::Start(s),
            Pending::Dtmf(digit) => MediaEvent::Dtmf { digit },
            Pending::Mark(name) => MediaEvent::Mark { name },
            Pending::Cleared => MediaEvent::Cleared,
        })
    }

    pub(crate) fn encoder(&self) -> VonageEncoder {
        VonageEncoder {
            frames: self.frame_bytes.map(Rechunker::new),
        }
    }
}

/// The outbound half: audio re-cut into exact 20 ms frames (a resampler's output varies by a
/// sample), marks as `notify` after the frame holding their audio.
#[derive(Debug, Clone)]
pub(crate) struct VonageEncoder {
    /// `None` before the stream has started.
    frames: Option<Rechunker>,
}

impl VonageEncoder {
    pub(crate) fn encode(&mut self, msg: Outbound<'_>, out: &mut Vec<WsFrame>) {
        let Some(frames) = &mut self.frames else {
            return;
        };
        let mut pieces = Vec::new();
        match msg {
            Outbound::Media(bytes) => frames.audio(bytes, &mut pieces),
            Outbound::Mark(name) => frames.mark(name, &mut pieces),
            Outbound::Clear => {
                frames.clear();
                out.push(WsFrame::Text(r#"{"action":"clear"}"#.to_owned()));
            }
        }
        send(pieces, out);
    }

    pub(crate) fn flush(&mut self, out: &mut Vec<WsFrame>) {
        if let Some(frames) = &mut self.frames {
            let mut pieces = Vec::new();
            frames.flush(&mut pieces);
            send(pieces, out);
        }
    }

    pub(crate) fn holds_audio(&self) -> bool {
        self.frames.as_ref().is_some_and(Rechunker::holds)
    }
}

fn send(pieces: Vec<Piece>, out: &mut Vec<WsFrame>) {
    for p in pieces {
        out.push(match p {
            Piece::Audio(a) => WsFrame::Binary(a),
            Piece::Mark(name) => WsFrame::Text(
                serde_json::json!({"action": "notify", "payload": {"mark": name}}).to_string(),
            ),
        });
    }
}

/// The rate of `audio/l16;rate=16000` (Vonage streams L16 only, at 8, 16 or 24 kHz).
fn content_rate(content: &str) -> Result<u32, ProtocolError> {
    let mut parts = content.split(';');
    let kind = parts.next().unwrap_or_default().trim();
    if !kind.eq_ignore_ascii_case("audio/l16") {
        return Err(ProtocolError::UnsupportedFormat(content.to_owned()));
    }
    let rate = parts
        .filter_map(|p| p.trim().strip_prefix("rate="))
        .find_map(|r| r.parse::<u32>().ok())
        .unwrap_or(16_000);
    if ![8000, 16_000, 24_000].contains(&rate) {
        return Err(ProtocolError::UnsupportedFormat(content.to_owned()));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::codec::{Dialect, StreamCodec};
    use proptest::prelude::*;

    const CONNECTED: &str = fixture!("vonage", "connected");

    fn started() -> StreamCodec {
        let mut c = StreamCodec::new(Dialect::Vonage, 64 * 1024);
        c.feed(WsMessage::Text(CONNECTED)).expect("connected");
        assert!(matches!(c.next_event(), Some(MediaEvent::Start(_))));
        c
    }

    #[test]
    fn the_connected_event_starts_the_stream_with_its_headers() {
        let mut c = StreamCodec::new(Dialect::Vonage, 64 * 1024);
        c.feed(WsMessage::Text(CONNECTED)).expect("connected");
        let Some(MediaEvent::Start(s)) = c.next_event() else {
            panic!("no start")
        };
        assert_eq!(
            (s.encoding, s.sample_rate, s.call_id.as_str()),
            (Encoding::L16, 16_000, "aaaa-bbbb")
        );
        assert_eq!(
            s.custom_parameters.get("agentId").map(String::as_str),
            Some("echo")
        );
        assert_eq!(
            s.custom_parameters.get("callId").map(String::as_str),
            Some("call_1")
        );
        assert!(!s.custom_parameters.contains_key("content-type"));
        assert!(c.next_event().is_none());
    }

    #[test]
    fn binary_audio_dtmf_notify_and_cleared() {
        let mut c = started();
        let frame = [7u8; 640];
        c.feed(WsMessage::Binary(&frame)).expect("audio");
        assert_eq!(
            c.next_event(),
            Some(MediaEvent::Media {
                payload: &frame,
                timestamp_ms: 0,
                chunk: 1
            })
        );
        c.feed(WsMessage::Binary(&frame[..320])).expect("audio");
        assert!(matches!(
            c.next_event(),
            Some(MediaEvent::Media {
                timestamp_ms: 20,
                chunk: 2,
                ..
            })
        ));
        c.feed(WsMessage::Text(fixture!("vonage", "dtmf")))
            .expect("dtmf");
        assert_eq!(c.next_event(), Some(MediaEvent::Dtmf { digit: '5' }));
        c.feed(WsMessage::Text(
            r##"{"event":"websocket:dtmf","dtmf":{"digit":"#","duration":100}}"##,
        ))
        .expect("dtmf");
        assert_eq!(c.next_event(), Some(MediaEvent::Dtmf { digit: '#' }));
        c.feed(WsMessage::Text(fixture!("vonage", "notify")))
            .expect("notify");
        assert_eq!(
            c.next_event(),
            Some(MediaEvent::Mark {
                name: "t1:4".into()
            })
        );
        c.feed(WsMessage::Text(fixture!("vonage", "cleared")))
            .expect("cleared");
        assert_eq!(c.next_event(), Some(MediaEvent::Cleared));
    }

    #[test]
    fn encodes_binary_audio_notify_and_clear() {
        let mut c = started();
        let mut out = Vec::new();
        // 16 kHz: frames of exactly 640 bytes, whatever the resampler gave
        c.encode(Outbound::Media(&[1; 642]), &mut out);
        c.encode(Outbound::Mark("t1:1"), &mut out);
        assert_eq!(
            out,
            [WsFrame::Binary(vec![1; 640])],
            "the mark waits for the frame its audio ends in"
        );
        assert!(c.holds_audio());
        c.encode(Outbound::Media(&[2; 636]), &mut out);
        assert_eq!(out.len(), 1, "638 bytes held");
        c.flush(&mut out);
        assert_eq!(
            out[1],
            WsFrame::Binary([vec![1, 1], vec![2; 636], vec![0, 0]].concat()),
            "padded to a frame"
        );
        let WsFrame::Text(notify) = &out[2] else {
            panic!("text")
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(notify).expect("json"),
            serde_json::json!({"action": "notify", "payload": {"mark": "t1:1"}})
        );
        c.encode(Outbound::Media(&[3; 10]), &mut out);
        c.encode(Outbound::Clear, &mut out);
        assert_eq!(out[3], WsFrame::Text(r#"{"action":"clear"}"#.into()));
        assert!(!c.holds_audio(), "a clear drops what was held");
    }

    #[test]
    fn rejects_bad_input_with_a_kind() {
        let mut c = StreamCodec::new(Dialect::Vonage, 1024);
        assert_eq!(
            c.feed(WsMessage::Binary(&[0; 640])).map_err(|e| e.kind()),
            Err("before_start")
        );
        assert_eq!(
            c.feed(WsMessage::Text(r#"{"event":"websocket:dtmf","digit":"1"}"#))
                .map_err(|e| e.kind()),
            Err("before_start")
        );
        assert_eq!(
            c.feed(WsMessage::Text(
                r#"{"event":"websocket:connected","content-type":"audio/opus"}"#
            ))
            .map_err(|e| e.kind()),
            Err("unsupported_format")
        );
        assert_eq!(
            c.feed(WsMessage::Text(
                r#"{"event":"websocket:connected","content-type":"audio/l16;rate=11025"}"#
            ))
            .map_err(|e| e.kind()),
            Err("unsupported_format")
        );
        assert_eq!(
            c.feed(WsMessage::Text(r#"{"event":"websocket:connected"}"#))
                .map_err(|e| e.kind()),
            Err("missing_field")
        );
        assert_eq!(
            c.feed(WsMessage::Text("[1,2]")).map_err(|e| e.kind()),
            Err("malformed")
        );
        assert_eq!(
            c.feed(WsMessage::Binary(&[0; 2000])).map_err(|e| e.kind()),
            Err("too_large")
        );
        let mut c = started();
        assert_eq!(
            c.feed(WsMessage::Text(CONNECTED)).map_err(|e| e.kind()),
            Err("duplicate_start")
        );
        assert_eq!(
            c.feed(WsMessage::Text(r#"{"event":"websocket:hello"}"#))
                .map_err(|e| e.kind()),
            Err("unknown_event")
        );
        assert_eq!(
            c.feed(WsMessage::Text(
                r#"{"event":"websocket:dtmf","digit":"55"}"#
            ))
            .map_err(|e| e.kind()),
            Err("malformed")
        );
        assert_eq!(
            c.feed(WsMessage::Text(
                r#"{"event":"websocket:notify","payload":{}}"#
            ))
            .map_err(|e| e.kind()),
            Err("missing_field")
        );
    }

    proptest! {
        #[test]
        fn arbitrary_messages_never_panic(s in any::<String>(), b in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let mut c = started();
            let _ = c.feed(WsMessage::Text(&s));
            while c.next_event().is_some() {}
            let _ = c.feed(WsMessage::Binary(&b));
            while c.next_event().is_some() {}
            let mut fresh = StreamCodec::new(Dialect::Vonage, 1024);
            let _ = fresh.feed(WsMessage::Text(&s));
            while fresh.next_event().is_some() {}
        }
    }
}
