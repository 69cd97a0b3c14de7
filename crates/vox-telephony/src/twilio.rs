//! Twilio Media Streams, bidirectional (`<Connect><Stream>`).
//!
//! In: `connected`, `start`, `media`, `dtmf`, `mark`, `stop`, all JSON text with numeric
//! fields sent as strings. Out: `media` (base64 mu-law 8 kHz), `mark`, `clear`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Encoding, MediaEvent, Outbound, ProtocolError, StreamStart};

/// Default largest message accepted: a 20 ms mu-law frame is ~300 bytes of JSON, and
/// Twilio's largest (`start` with parameters) is a few KiB.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// Decoder/encoder state for one Twilio stream.
#[derive(Debug)]
pub struct TwilioCodec {
    max_message: usize,
    stream_sid: Option<String>,
    payload: Vec<u8>,
    last_sequence: Option<u64>,
    sequence_gaps: u64,
}

impl Default for TwilioCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl TwilioCodec {
    /// A codec that rejects messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self { max_message, stream_sid: None, payload: Vec::with_capacity(512), last_sequence: None, sequence_gaps: 0 }
    }

    /// The stream id once `start` has been seen.
    pub fn stream_sid(&self) -> Option<&str> {
        self.stream_sid.as_deref()
    }

    /// Messages the carrier numbered but we never received (gaps in `sequenceNumber`).
    pub fn sequence_gaps(&self) -> u64 {
        self.sequence_gaps
    }

    /// Decodes one text message.
    pub fn decode<'s>(&'s mut self, text: &str) -> Result<MediaEvent<'s>, ProtocolError> {
        if text.len() > self.max_message {
            return Err(ProtocolError::TooLarge { len: text.len(), max: self.max_message });
        }
        let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        if let Some(seq) = raw.sequence_number {
            if let Some(last) = self.last_sequence
                && seq > last + 1 {
                    self.sequence_gaps += seq - last - 1;
                }
            self.last_sequence = Some(seq);
        }
        let started = self.stream_sid.is_some();
        match raw.event.as_ref() {
            "connected" => Ok(MediaEvent::Connected),
            "start" => {
                if started {
                    return Err(ProtocolError::DuplicateStart);
                }
                let start = raw.start.ok_or(ProtocolError::MissingField { event: "start", field: "start" })?;
                let stream_id = start
                    .stream_sid
                    .or(raw.stream_sid.map(Cow::into_owned))
                    .ok_or(ProtocolError::MissingField { event: "start", field: "streamSid" })?;
                let format = start.media_format.ok_or(ProtocolError::MissingField { event: "start", field: "mediaFormat" })?;
                let encoding = match format.encoding.as_str() {
                    "audio/x-mulaw" => Encoding::MuLaw,
                    "audio/x-alaw" => Encoding::ALaw,
                    other => return Err(ProtocolError::UnsupportedFormat(other.to_owned())),
                };
                let sample_rate = format.sample_rate.unwrap_or(8000);
                let channels = format.channels.unwrap_or(1);
                if !(8000..=48_000).contains(&sample_rate) || channels != 1 {
                    return Err(ProtocolError::UnsupportedFormat(format!("{sample_rate} Hz, {channels} channels")));
                }
                self.stream_sid = Some(stream_id.clone());
                Ok(MediaEvent::Start(StreamStart {
                    stream_id,
                    call_id: start.call_sid.unwrap_or_default(),
                    account_id: start.account_sid.unwrap_or_default(),
                    tracks: start.tracks.unwrap_or_default(),
                    encoding,
                    sample_rate: sample_rate as u32,
                    channels: channels as u16,
                    custom_parameters: start.custom_parameters.unwrap_or_default(),
                }))
            }
            "media" => {
                if !started {
                    return Err(ProtocolError::BeforeStart("media"));
                }
                let media = raw.media.ok_or(ProtocolError::MissingField { event: "media", field: "media" })?;
                let payload = media.payload.ok_or(ProtocolError::MissingField { event: "media", field: "payload" })?;
                self.payload.clear();
                B64.decode_vec(payload.as_bytes(), &mut self.payload).map_err(|_| ProtocolError::BadBase64)?;
                Ok(MediaEvent::Media {
                    payload: &self.payload,
                    timestamp_ms: media.timestamp.unwrap_or(0),
                    chunk: media.chunk.unwrap_or(0),
                })
            }
            "dtmf" => {
                if !started {
                    return Err(ProtocolError::BeforeStart("dtmf"));
                }
                let dtmf = raw.dtmf.ok_or(ProtocolError::MissingField { event: "dtmf", field: "dtmf" })?;
                let mut chars = dtmf.digit.chars();
                match (chars.next(), chars.next()) {
                    (Some(d), None) if d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D') => Ok(MediaEvent::Dtmf { digit: d }),
                    _ => Err(ProtocolError::Malformed(format!("dtmf digit {:?}", dtmf.digit))),
                }
            }
            "mark" => {
                if !started {
                    return Err(ProtocolError::BeforeStart("mark"));
                }
                let mark = raw.mark.ok_or(ProtocolError::MissingField { event: "mark", field: "mark" })?;
                Ok(MediaEvent::Mark { name: mark.name })
            }
            "stop" => Ok(MediaEvent::Stop),
            other => Err(ProtocolError::UnknownEvent(other.to_owned())),
        }
    }

    /// Encodes one outbound message as Twilio JSON text. `None` before `start` (Twilio
    /// needs the stream id on every message).
    pub fn encode(&self, msg: Outbound<'_>) -> Option<String> {
        self.stream_sid.as_deref().map(|sid| encode(sid, msg))
    }
}

/// Encodes one outbound message for the stream `stream_sid` as Twilio JSON text.
pub fn encode(stream_sid: &str, msg: Outbound<'_>) -> String {
    let out = match msg {
        Outbound::Media(bytes) => {
            let payload = B64.encode(bytes);
            OutMsg { event: "media", stream_sid, media: Some(OutMedia { payload }), mark: None }
        }
        Outbound::Mark(name) => OutMsg { event: "mark", stream_sid, media: None, mark: Some(OutMark { name }) },
        Outbound::Clear => OutMsg { event: "clear", stream_sid, media: None, mark: None },
    };
    // Serializing plain strings into a String cannot fail.
    serde_json::to_string(&out).unwrap_or_default()
}

#[derive(Serialize)]
struct OutMsg<'a> {
    event: &'static str,
    #[serde(rename = "streamSid")]
    stream_sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<OutMedia>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mark: Option<OutMark<'a>>,
}

#[derive(Serialize)]
struct OutMedia {
    payload: String,
}

#[derive(Serialize)]
struct OutMark<'a> {
    name: &'a str,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(rename = "sequenceNumber", default, deserialize_with = "opt_num")]
    sequence_number: Option<u64>,
    #[serde(rename = "streamSid", borrow, default)]
    stream_sid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    media: Option<RawMedia<'a>>,
    #[serde(default)]
    start: Option<RawStart>,
    #[serde(default)]
    dtmf: Option<RawDtmf>,
    #[serde(default)]
    mark: Option<RawMark>,
    #[serde(default)]
    #[allow(dead_code)]
    stop: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawMedia<'a> {
    #[serde(borrow, default)]
    payload: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "opt_num")]
    timestamp: Option<u64>,
    #[serde(default, deserialize_with = "opt_num")]
    chunk: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStart {
    #[serde(default)]
    stream_sid: Option<String>,
    #[serde(default)]
    call_sid: Option<String>,
    #[serde(default)]
    account_sid: Option<String>,
    #[serde(default)]
    tracks: Option<Vec<String>>,
    #[serde(default)]
    media_format: Option<RawFormat>,
    #[serde(default)]
    custom_parameters: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFormat {
    encoding: String,
    #[serde(default, deserialize_with = "opt_num")]
    sample_rate: Option<u64>,
    #[serde(default, deserialize_with = "opt_num")]
    channels: Option<u64>,
}

#[derive(Deserialize)]
struct RawDtmf {
    digit: String,
}

#[derive(Deserialize)]
struct RawMark {
    name: String,
}

/// Twilio sends numbers as strings ("sequenceNumber": "3"); accept both forms.
fn opt_num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> de::Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-negative integer or a string holding one")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v).map(Some).map_err(|_| E::custom("negative number"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse().map(Some).map_err(|_| E::custom(format!("not a number: {v:?}")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"agentId":"echo"}},"streamSid":"MZ1"}"#;

    fn started() -> TwilioCodec {
        let mut c = TwilioCodec::default();
        assert!(matches!(c.decode(START), Ok(MediaEvent::Start(_))));
        c
    }

    #[test]
    fn parses_the_documented_messages() {
        let mut c = TwilioCodec::default();
        assert_eq!(c.decode(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#), Ok(MediaEvent::Connected));
        let MediaEvent::Start(s) = c.decode(START).expect("start") else { panic!("not start") };
        assert_eq!(s.stream_id, "MZ1");
        assert_eq!(s.call_id, "CA1");
        assert_eq!(s.encoding, Encoding::MuLaw);
        assert_eq!(s.sample_rate, 8000);
        assert_eq!(s.custom_parameters.get("agentId").map(String::as_str), Some("echo"));
        let media = r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
        assert_eq!(c.decode(media), Ok(MediaEvent::Media { payload: &[0xff, 0xff, 0x00], timestamp_ms: 5, chunk: 1 }));
        let dtmf = r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"3","dtmf":{"track":"inbound_track","digit":"7"}}"#;
        assert_eq!(c.decode(dtmf), Ok(MediaEvent::Dtmf { digit: '7' }));
        let mark = r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"t1:3"}}"#;
        assert_eq!(c.decode(mark), Ok(MediaEvent::Mark { name: "t1:3".into() }));
        let stop = r#"{"event":"stop","sequenceNumber":"5","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#;
        assert_eq!(c.decode(stop), Ok(MediaEvent::Stop));
        assert_eq!(c.sequence_gaps(), 0);
    }

    #[test]
    fn numbers_may_be_numbers_or_strings_and_gaps_are_counted() {
        let mut c = started();
        let m = |seq: &str| format!(r#"{{"event":"media","sequenceNumber":{seq},"media":{{"chunk":2,"timestamp":40,"payload":""}}}}"#);
        assert!(c.decode(&m("2")).is_ok());
        assert!(c.decode(&m("\"5\"")).is_ok());
        assert_eq!(c.sequence_gaps(), 2);
        assert!(matches!(c.decode(&m("\"x\"")), Err(ProtocolError::Malformed(_))));
        assert!(matches!(c.decode(&m("-1")), Err(ProtocolError::Malformed(_))));
    }

    #[test]
    fn rejects_bad_input_with_a_kind() {
        let mut c = TwilioCodec::new(1024);
        let media = r#"{"event":"media","media":{"payload":"AAAA"}}"#;
        assert_eq!(c.decode(media).map_err(|e| e.kind()), Err("before_start"));
        assert_eq!(c.decode("{not json").map_err(|e| e.kind()), Err("malformed"));
        assert_eq!(c.decode(r#"{"event":"hello"}"#).map_err(|e| e.kind()), Err("unknown_event"));
        assert_eq!(c.decode(&"x".repeat(1025)).map_err(|e| e.kind()), Err("too_large"));
        let mut c = started();
        assert_eq!(c.decode(r#"{"event":"media","media":{"payload":"@@@"}}"#).map_err(|e| e.kind()), Err("bad_base64"));
        assert_eq!(c.decode(START).map_err(|e| e.kind()), Err("duplicate_start"));
        assert_eq!(c.decode(r#"{"event":"media"}"#).map_err(|e| e.kind()), Err("missing_field"));
        let l16 = START.replace("audio/x-mulaw", "audio/l16");
        assert_eq!(TwilioCodec::default().decode(&l16).map_err(|e| e.kind()), Err("unsupported_format"));
    }

    #[test]
    fn encodes_the_three_outbound_messages() {
        let c = started();
        let v: serde_json::Value = serde_json::from_str(&c.encode(Outbound::Media(&[0xff, 0x7f])).expect("started")).expect("json");
        assert_eq!(v, serde_json::json!({"event":"media","streamSid":"MZ1","media":{"payload":"/38="}}));
        let v: serde_json::Value = serde_json::from_str(&c.encode(Outbound::Mark("t1:1")).expect("started")).expect("json");
        assert_eq!(v, serde_json::json!({"event":"mark","streamSid":"MZ1","mark":{"name":"t1:1"}}));
        let v: serde_json::Value = serde_json::from_str(&c.encode(Outbound::Clear).expect("started")).expect("json");
        assert_eq!(v, serde_json::json!({"event":"clear","streamSid":"MZ1"}));
        assert_eq!(TwilioCodec::default().encode(Outbound::Clear), None);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in any::<String>()) {
            let mut c = started();
            let _ = c.decode(&s);
        }

        #[test]
        fn mutated_valid_messages_never_panic(pos in 0usize..300, byte in any::<u8>(), which in 0usize..3) {
            let media = r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
            let base = [START, media, r#"{"event":"mark","mark":{"name":"a"}}"#][which];
            let mut bytes = base.as_bytes().to_vec();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let mut c = started();
                let _ = c.decode(text);
            }
        }
    }
}
