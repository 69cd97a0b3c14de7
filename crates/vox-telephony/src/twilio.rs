//! Twilio Media Streams, bidirectional (`<Connect><Stream>`).
//!
//! In: `connected`, `start`, `media`, `dtmf`, `mark`, `stop`, all JSON text with numeric
//! fields sent as strings. Out: `media` (base64 mu-law 8 kHz), `mark`, `clear`.

use crate::codec::{CodecStats, Dialect, WsFrame, WsMessage};
use crate::json::JsonCodec;
use crate::{MediaEvent, Outbound, ProtocolError};

/// Default largest message accepted: a 20 ms mu-law frame is ~300 bytes of JSON, and
/// Twilio's largest (`start` with parameters) is a few KiB.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// Decoder/encoder state for one Twilio stream: the Twilio dialect of
/// [`StreamCodec`](crate::StreamCodec), one message in, one event out.
#[derive(Debug)]
pub struct TwilioCodec(JsonCodec);

impl Default for TwilioCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl TwilioCodec {
    /// A codec that rejects messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self(JsonCodec::new(Dialect::Twilio, max_message))
    }

    /// The stream id once `start` has been seen.
    pub fn stream_sid(&self) -> Option<&str> {
        self.0.stream_id()
    }

    /// Messages the carrier numbered but we never received (gaps in `sequenceNumber`).
    pub fn sequence_gaps(&self) -> u64 {
        let CodecStats { sequence_gaps, .. } = self.0.stats();
        sequence_gaps
    }

    /// Decodes one text message (every Twilio message is one event).
    pub fn decode<'s>(&'s mut self, text: &str) -> Result<MediaEvent<'s>, ProtocolError> {
        self.0.feed(WsMessage::Text(text))?;
        self.0
            .next_event()
            .ok_or_else(|| ProtocolError::Malformed("message without an event".into()))
    }

    /// Encodes one outbound message as Twilio JSON text. `None` before `start` (Twilio
    /// needs the stream id on every message).
    pub fn encode(&mut self, msg: Outbound<'_>) -> Option<String> {
        let mut out = Vec::with_capacity(1);
        self.0.encoder_mut().encode(msg, &mut out);
        match out.pop() {
            Some(WsFrame::Text(t)) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const START: &str = r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"agentId":"echo"}},"streamSid":"MZ1"}"#;

    use crate::Encoding;

    fn started() -> TwilioCodec {
        let mut c = TwilioCodec::default();
        assert!(matches!(c.decode(START), Ok(MediaEvent::Start(_))));
        c
    }

    #[test]
    fn parses_the_documented_messages() {
        let mut c = TwilioCodec::default();
        assert_eq!(
            c.decode(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#),
            Ok(MediaEvent::Connected)
        );
        let MediaEvent::Start(s) = c.decode(START).expect("start") else {
            panic!("not start")
        };
        assert_eq!(s.stream_id, "MZ1");
        assert_eq!(s.call_id, "CA1");
        assert_eq!(s.encoding, Encoding::MuLaw);
        assert_eq!(s.sample_rate, 8000);
        assert_eq!(
            s.custom_parameters.get("agentId").map(String::as_str),
            Some("echo")
        );
        let media = r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"//8A"},"streamSid":"MZ1"}"#;
        assert_eq!(
            c.decode(media),
            Ok(MediaEvent::Media {
                payload: &[0xff, 0xff, 0x00],
                timestamp_ms: 5,
                chunk: 1
            })
        );
        let dtmf = r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"3","dtmf":{"track":"inbound_track","digit":"7"}}"#;
        assert_eq!(c.decode(dtmf), Ok(MediaEvent::Dtmf { digit: '7' }));
        let mark =
            r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"t1:3"}}"#;
        assert_eq!(
            c.decode(mark),
            Ok(MediaEvent::Mark {
                name: "t1:3".into()
            })
        );
        let stop = r#"{"event":"stop","sequenceNumber":"5","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#;
        assert_eq!(c.decode(stop), Ok(MediaEvent::Stop));
        assert_eq!(c.sequence_gaps(), 0);
    }

    #[test]
    fn numbers_may_be_numbers_or_strings_and_gaps_are_counted() {
        let mut c = started();
        let m = |seq: &str| {
            format!(
                r#"{{"event":"media","sequenceNumber":{seq},"media":{{"chunk":2,"timestamp":40,"payload":""}}}}"#
            )
        };
        assert!(c.decode(&m("2")).is_ok());
        assert!(c.decode(&m("\"5\"")).is_ok());
        assert_eq!(c.sequence_gaps(), 2);
        assert!(matches!(
            c.decode(&m("\"x\"")),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            c.decode(&m("-1")),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_bad_input_with_a_kind() {
        let mut c = TwilioCodec::new(1024);
        let media = r#"{"event":"media","media":{"payload":"AAAA"}}"#;
        assert_eq!(c.decode(media).map_err(|e| e.kind()), Err("before_start"));
        assert_eq!(
            c.decode("{not json").map_err(|e| e.kind()),
            Err("malformed")
        );
        assert_eq!(
            c.decode(r#"{"event":"hello"}"#).map_err(|e| e.kind()),
            Err("unknown_event")
        );
        assert_eq!(
            c.decode(&"x".repeat(1025)).map_err(|e| e.kind()),
            Err("too_large")
        );
        let mut c = started();
        assert_eq!(
            c.decode(r#"{"event":"media","media":{"payload":"@@@"}}"#)
                .map_err(|e| e.kind()),
            Err("bad_base64")
        );
        assert_eq!(
            c.decode(START).map_err(|e| e.kind()),
            Err("duplicate_start")
        );
        assert_eq!(
            c.decode(r#"{"event":"media"}"#).map_err(|e| e.kind()),
            Err("missing_field")
        );
        let l16 = START.replace("audio/x-mulaw", "audio/l16");
        assert_eq!(
            TwilioCodec::default().decode(&l16).map_err(|e| e.kind()),
            Err("unsupported_format")
        );
    }

    #[test]
    fn encodes_the_three_outbound_messages() {
        let mut c = started();
        let v: serde_json::Value =
            serde_json::from_str(&c.encode(Outbound::Media(&[0xff, 0x7f])).expect("started"))
                .expect("json");
        assert_eq!(
            v,
            serde_json::json!({"event":"media","streamSid":"MZ1","media":{"payload":"/38="}})
        );
        let v: serde_json::Value =
            serde_json::from_str(&c.encode(Outbound::Mark("t1:1")).expect("started"))
                .expect("json");
        assert_eq!(
            v,
            serde_json::json!({"event":"mark","streamSid":"MZ1","mark":{"name":"t1:1"}})
        );
        let v: serde_json::Value =
            serde_json::from_str(&c.encode(Outbound::Clear).expect("started")).expect("json");
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
