//! The carrier's side of each dialect, written from the carriers' documentation (not from
//! Vox's parsers, so the two check each other): the messages a carrier sends, and what it
//! makes of the messages it gets.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use vox_audio::g711;

/// The media-stream dialect the simulated carrier speaks.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SimDialect {
    /// Twilio Media Streams: JSON, base64 mu-law 8 kHz.
    #[default]
    Twilio,
    /// Telnyx media streaming (RTP mode): JSON, PCMU / PCMA 8 kHz or big-endian L16 16 kHz.
    Telnyx,
    /// Plivo audio streams: JSON, mu-law 8 kHz or L16 8 / 16 kHz; checkpoint / playedStream.
    Plivo,
    /// Vonage WebSocket: binary L16 8 / 16 kHz frames, JSON notify / clear.
    Vonage,
    /// Exotel Voicebot: JSON, 16-bit PCM 8 / 16 / 24 kHz in ~100 ms chunks.
    Exotel,
}

impl SimDialect {
    /// Its name, as in `/media/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::Telnyx => "telnyx",
            Self::Plivo => "plivo",
            Self::Vonage => "vonage",
            Self::Exotel => "exotel",
        }
    }

    fn default_format(self) -> (SimCodec, u32) {
        match self {
            Self::Twilio | Self::Telnyx | Self::Plivo => (SimCodec::Pcmu, 8000),
            Self::Vonage => (SimCodec::L16, 16_000),
            Self::Exotel => (SimCodec::L16, 8000),
        }
    }

    /// The formats the carrier offers.
    fn allows(self, codec: SimCodec, rate: u32) -> bool {
        match (self, codec) {
            (Self::Twilio, SimCodec::Pcmu) => rate == 8000,
            (Self::Telnyx, SimCodec::Pcmu | SimCodec::Pcma) => rate == 8000,
            (Self::Telnyx, SimCodec::L16) => rate == 16_000,
            (Self::Plivo, SimCodec::Pcmu) => rate == 8000,
            (Self::Plivo | Self::Vonage, SimCodec::L16) => rate == 8000 || rate == 16_000,
            (Self::Exotel, SimCodec::L16) => [8000, 16_000, 24_000].contains(&rate),
            _ => false,
        }
    }
}

/// Audio encoding on the wire.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimCodec {
    /// G.711 mu-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// 16-bit linear PCM (little-endian, but Telnyx's, which is RTP's: big-endian).
    L16,
}

/// What the agent sent, in the carrier's terms.
#[derive(Debug)]
pub(crate) enum FromAgent {
    Audio(Vec<i16>),
    Mark(String),
    Clear,
}

/// One simulated carrier stream.
#[derive(Debug)]
pub(crate) struct Carrier {
    pub(crate) dialect: SimDialect,
    codec: SimCodec,
    pub(crate) rate: u32,
    stream_id: String,
    call_id: String,
    seq: u64,
    chunk: u64,
    /// Stream time of the next media message (ms).
    media_ms: u64,
    /// Malformed outbound audio seen (what the real carrier would reject or play badly).
    pub(crate) violations: Vec<String>,
}

impl Carrier {
    pub(crate) fn new(
        dialect: SimDialect,
        codec: Option<SimCodec>,
        rate: Option<u32>,
    ) -> anyhow::Result<Self> {
        let (dc, dr) = dialect.default_format();
        let codec = codec.unwrap_or(dc);
        let rate = rate.unwrap_or(if codec == dc {
            dr
        } else if codec == SimCodec::L16 {
            16_000
        } else {
            8000
        });
        if !dialect.allows(codec, rate) {
            bail!("{} does not stream {codec:?} at {rate} Hz", dialect.name());
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        Ok(Self {
            dialect,
            codec,
            rate,
            stream_id: format!("MZ{id}"),
            call_id: format!("CA{id}"),
            seq: 0,
            chunk: 0,
            media_ms: 0,
            violations: Vec::new(),
        })
    }

    /// Samples in 20 ms.
    pub(crate) fn frame_samples(&self) -> usize {
        self.rate as usize / 50
    }

    /// Caller frames sent in one media message (Exotel sends about 100 ms at a time).
    pub(crate) fn frames_per_message(&self) -> usize {
        if self.dialect == SimDialect::Exotel {
            5
        } else {
            1
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn encode(&self, samples: &[i16]) -> Vec<u8> {
        match (self.codec, self.dialect) {
            (SimCodec::Pcmu, _) => samples.iter().map(|&s| g711::mulaw_encode(s)).collect(),
            (SimCodec::Pcma, _) => samples.iter().map(|&s| g711::alaw_encode(s)).collect(),
            (SimCodec::L16, SimDialect::Telnyx) => {
                samples.iter().flat_map(|s| s.to_be_bytes()).collect()
            }
            (SimCodec::L16, _) => samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Vec<i16> {
        match (self.codec, self.dialect) {
            (SimCodec::Pcmu, _) => bytes.iter().map(|&b| g711::mulaw_decode(b)).collect(),
            (SimCodec::Pcma, _) => bytes.iter().map(|&b| g711::alaw_decode(b)).collect(),
            (SimCodec::L16, SimDialect::Telnyx) => bytes
                .chunks_exact(2)
                .map(|p| i16::from_be_bytes([p[0], p[1]]))
                .collect(),
            (SimCodec::L16, _) => bytes
                .chunks_exact(2)
                .map(|p| i16::from_le_bytes([p[0], p[1]]))
                .collect(),
        }
    }

    fn encoding_name(&self) -> &'static str {
        match (self.dialect, self.codec) {
            (SimDialect::Telnyx, SimCodec::Pcmu) => "PCMU",
            (SimDialect::Telnyx, SimCodec::Pcma) => "PCMA",
            (SimDialect::Telnyx, SimCodec::L16) => "L16",
            (SimDialect::Exotel, _) => "audio/x-raw",
            (_, SimCodec::Pcmu) => "audio/x-mulaw",
            (_, SimCodec::Pcma) => "audio/x-alaw",
            (_, SimCodec::L16) => "audio/x-l16",
        }
    }

    /// What the carrier sends when the call is answered: `connected` and `start`, with the
    /// stream's parameters where the dialect carries them.
    pub(crate) fn opening(&mut self, params: &BTreeMap<String, String>) -> Vec<Message> {
        let (sid, cid, rate) = (self.stream_id.clone(), self.call_id.clone(), self.rate);
        let enc = self.encoding_name();
        match self.dialect {
            SimDialect::Twilio => {
                let seq = self.next_seq().to_string();
                vec![
                    text(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})),
                    text(
                        json!({"event": "start", "sequenceNumber": seq, "streamSid": sid, "start": {
                        "accountSid": "AC00000000000000000000000000000000", "streamSid": sid, "callSid": cid, "tracks": ["inbound"],
                        "customParameters": params, "mediaFormat": {"encoding": enc, "sampleRate": rate, "channels": 1}}}),
                    ),
                ]
            }
            SimDialect::Telnyx => {
                let seq = self.next_seq().to_string();
                vec![
                    text(json!({"event": "connected", "version": "1.0.0"})),
                    text(
                        json!({"event": "start", "sequence_number": seq, "stream_id": sid, "start": {
                        "user_id": "3e6f995f-85f7-4705-9741-53b116d28237", "call_control_id": format!("v3:{cid}"), "call_session_id": cid,
                        "from": "+15552345678", "to": "+15125550122", "custom_parameters": params,
                        "media_format": {"encoding": enc, "sample_rate": rate, "channels": 1}}}),
                    ),
                ]
            }
            SimDialect::Plivo => {
                let seq = self.next_seq();
                let headers: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                vec![text(
                    json!({"event": "start", "sequenceNumber": seq, "start": {
                    "callId": cid, "streamId": sid, "accountId": "MA00000000000000000000", "tracks": ["inbound"],
                    "mediaFormat": {"encoding": enc, "sampleRate": rate}}, "extra_headers": headers.join(",")}),
                )]
            }
            SimDialect::Vonage => {
                let mut m = serde_json::Map::new();
                m.insert("event".into(), json!("websocket:connected"));
                m.insert(
                    "content-type".into(),
                    json!(format!("audio/l16;rate={rate}")),
                );
                for (k, v) in params {
                    m.insert(k.clone(), json!(v));
                }
                vec![text(Value::Object(m))]
            }
            SimDialect::Exotel => {
                let seq = self.next_seq().to_string();
                vec![
                    text(json!({"event": "connected"})),
                    text(
                        json!({"event": "start", "sequence_number": seq, "stream_sid": sid, "start": {
                        "stream_sid": sid, "call_sid": cid, "account_sid": "exotel-sim", "from": "+919876543210", "to": "+918047491899",
                        "custom_parameters": params, "media_format": {"encoding": enc, "sample_rate": rate.to_string(), "bit_rate": "16"}}}),
                    ),
                ]
            }
        }
    }

    /// One media message of caller audio (20 ms; Exotel's 100 ms).
    pub(crate) fn media(&mut self, samples: &[i16]) -> Message {
        let payload = self.encode(samples);
        let ms = (samples.len() as u64 * 1000) / u64::from(self.rate);
        let at = self.media_ms;
        self.media_ms += ms;
        self.chunk += 1;
        let (sid, chunk) = (self.stream_id.clone(), self.chunk);
        match self.dialect {
            SimDialect::Vonage => Message::Binary(payload.into()),
            SimDialect::Twilio => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "media", "sequenceNumber": seq, "streamSid": sid, "media": {"track": "inbound", "chunk": chunk.to_string(), "timestamp": at.to_string(), "payload": B64.encode(payload)}}),
                )
            }
            SimDialect::Telnyx => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "media", "sequence_number": seq, "stream_id": sid, "media": {"track": "inbound", "chunk": chunk.to_string(), "timestamp": at.to_string(), "payload": B64.encode(payload)}}),
                )
            }
            SimDialect::Plivo => {
                let seq = self.next_seq();
                let epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                text(
                    json!({"event": "media", "sequenceNumber": seq, "streamId": sid, "media": {"track": "inbound", "timestamp": epoch.to_string(), "chunk": chunk, "payload": B64.encode(payload)}}),
                )
            }
            SimDialect::Exotel => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "media", "sequence_number": seq, "stream_sid": sid, "media": {"chunk": chunk.to_string(), "timestamp": at.to_string(), "payload": B64.encode(payload)}}),
                )
            }
        }
    }

    /// A key press.
    pub(crate) fn dtmf(&mut self, digit: char) -> Message {
        let (sid, d) = (self.stream_id.clone(), digit.to_string());
        match self.dialect {
            SimDialect::Twilio => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "dtmf", "streamSid": sid, "sequenceNumber": seq, "dtmf": {"track": "inbound_track", "digit": d}}),
                )
            }
            SimDialect::Telnyx => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "dtmf", "stream_id": sid, "sequence_number": seq, "occurred_at": "2026-01-01T00:00:00.000000Z", "dtmf": {"digit": d}}),
                )
            }
            SimDialect::Plivo => {
                let seq = self.next_seq();
                text(
                    json!({"event": "dtmf", "sequenceNumber": seq, "streamId": sid, "dtmf": {"track": "inbound", "digit": d, "timestamp": self.media_ms.to_string()}}),
                )
            }
            SimDialect::Vonage => {
                text(json!({"event": "websocket:dtmf", "digit": d, "duration": 160}))
            }
            SimDialect::Exotel => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "dtmf", "sequence_number": seq, "stream_sid": sid, "dtmf": {"digit": d, "duration": "160"}}),
                )
            }
        }
    }

    /// The carrier's word that the audio before mark `name` has played.
    pub(crate) fn mark_reached(&mut self, name: &str) -> Message {
        let sid = self.stream_id.clone();
        match self.dialect {
            SimDialect::Twilio => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "mark", "sequenceNumber": seq, "streamSid": sid, "mark": {"name": name}}),
                )
            }
            SimDialect::Telnyx => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "mark", "sequence_number": seq, "stream_id": sid, "mark": {"name": name}}),
                )
            }
            SimDialect::Plivo => {
                let seq = self.next_seq();
                text(
                    json!({"event": "playedStream", "sequenceNumber": seq, "streamId": sid, "name": name}),
                )
            }
            SimDialect::Vonage => {
                text(json!({"event": "websocket:notify", "payload": {"mark": name}}))
            }
            SimDialect::Exotel => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "mark", "sequence_number": seq, "stream_sid": sid, "mark": {"name": name}}),
                )
            }
        }
    }

    /// What the carrier says after a clear, given the marks it dropped: Twilio (and, as far
    /// as their documents go, Telnyx and Exotel) echoes them; Plivo and Vonage confirm the
    /// clear instead.
    pub(crate) fn cleared(&mut self, dropped_marks: Vec<String>) -> Vec<Message> {
        match self.dialect {
            SimDialect::Plivo => {
                let seq = self.next_seq();
                vec![text(
                    json!({"event": "clearedAudio", "sequenceNumber": seq, "streamId": self.stream_id}),
                )]
            }
            SimDialect::Vonage => vec![text(json!({"event": "websocket:cleared"}))],
            _ => dropped_marks.iter().map(|m| self.mark_reached(m)).collect(),
        }
    }

    /// The caller hangs up (Vonage has no message for it: the socket just closes).
    pub(crate) fn stop(&mut self) -> Option<Message> {
        let (sid, cid) = (self.stream_id.clone(), self.call_id.clone());
        Some(match self.dialect {
            SimDialect::Twilio => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "stop", "sequenceNumber": seq, "streamSid": sid, "stop": {"accountSid": "AC00000000000000000000000000000000", "callSid": cid}}),
                )
            }
            SimDialect::Telnyx => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "stop", "sequence_number": seq, "stream_id": sid, "stop": {"user_id": "3e6f995f-85f7-4705-9741-53b116d28237", "call_control_id": format!("v3:{cid}")}}),
                )
            }
            SimDialect::Plivo => {
                let seq = self.next_seq();
                text(json!({"event": "stop", "sequenceNumber": seq, "streamId": sid}))
            }
            SimDialect::Vonage => return None,
            SimDialect::Exotel => {
                let seq = self.next_seq().to_string();
                text(
                    json!({"event": "stop", "sequence_number": seq, "stream_sid": sid, "stop": {"call_sid": cid, "account_sid": "exotel-sim", "reason": "callended"}}),
                )
            }
        })
    }

    /// Reads one message from the agent's side; errors for what the carrier would refuse.
    pub(crate) fn parse(&mut self, msg: &Message) -> anyhow::Result<Option<FromAgent>> {
        let t = match msg {
            Message::Binary(b) if self.dialect == SimDialect::Vonage => {
                if b.len() != self.frame_samples() * 2 {
                    self.violations.push(format!(
                        "a {}-byte audio frame (Vonage takes 20 ms frames of {} bytes)",
                        b.len(),
                        self.frame_samples() * 2
                    ));
                }
                return Ok(Some(FromAgent::Audio(self.decode(b))));
            }
            Message::Binary(_) => bail!(
                "server sent a binary frame, which {} does not take",
                self.dialect.name()
            ),
            Message::Text(t) => t.as_str(),
            _ => return Ok(None),
        };
        let v: Value = serde_json::from_str(t)
            .with_context(|| format!("server sent invalid JSON: {t:.80}"))?;
        if self.dialect == SimDialect::Vonage {
            return Ok(Some(match v.get("action").and_then(Value::as_str) {
                Some("clear") => FromAgent::Clear,
                Some("notify") => FromAgent::Mark(
                    v.pointer("/payload/mark")
                        .and_then(Value::as_str)
                        .context("notify without payload.mark")?
                        .to_owned(),
                ),
                other => bail!("server sent an unknown Vonage action {other:?}"),
            }));
        }
        let event = v.get("event").and_then(Value::as_str).unwrap_or_default();
        let sid_key = match self.dialect {
            SimDialect::Twilio => Some("streamSid"),
            SimDialect::Plivo => Some("streamId"),
            SimDialect::Exotel => Some("stream_sid"),
            _ => None,
        };
        if let Some(k) = sid_key
            && v.get(k).and_then(Value::as_str) != Some(self.stream_id.as_str())
        {
            bail!("{event} message with a wrong or missing {k}");
        }
        let payload = |path: &str| -> anyhow::Result<Vec<u8>> {
            B64.decode(v.pointer(path).and_then(Value::as_str).unwrap_or_default())
                .context("server sent invalid base64")
        };
        let from = match (self.dialect, event) {
            (SimDialect::Plivo, "playAudio") => {
                let (ct, rate) = (
                    v.pointer("/media/contentType").and_then(Value::as_str),
                    v.pointer("/media/sampleRate").and_then(Value::as_u64),
                );
                if ct != Some(self.encoding_name()) || rate != Some(u64::from(self.rate)) {
                    self.violations.push(format!(
                        "playAudio as {ct:?} at {rate:?} Hz on a {} {} Hz stream",
                        self.encoding_name(),
                        self.rate
                    ));
                }
                FromAgent::Audio(self.decode(&payload("/media/payload")?))
            }
            (SimDialect::Plivo, "checkpoint") => FromAgent::Mark(
                v.get("name")
                    .and_then(Value::as_str)
                    .context("checkpoint without name")?
                    .to_owned(),
            ),
            (SimDialect::Plivo, "clearAudio") => FromAgent::Clear,
            (SimDialect::Plivo, other) => bail!("server sent an unknown Plivo event {other:?}"),
            (_, "media") => {
                let bytes = payload("/media/payload")?;
                if self.dialect == SimDialect::Exotel
                    && (bytes.len() % 320 != 0 || bytes.len() < 3200 || bytes.len() > 100_000)
                {
                    self.violations.push(format!("a {}-byte media chunk (Exotel wants 3,200 to 100,000 bytes, a multiple of 320)", bytes.len()));
                }
                FromAgent::Audio(self.decode(&bytes))
            }
            (_, "mark") => FromAgent::Mark(
                v.pointer("/mark/name")
                    .and_then(Value::as_str)
                    .context("mark without mark.name")?
                    .to_owned(),
            ),
            (_, "clear") => FromAgent::Clear,
            (_, other) => bail!("server sent an unknown event {other:?}"),
        };
        Ok(Some(from))
    }
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_checked_per_carrier() {
        assert!(Carrier::new(SimDialect::Twilio, Some(SimCodec::L16), None).is_err());
        assert!(Carrier::new(SimDialect::Vonage, Some(SimCodec::Pcmu), None).is_err());
        assert!(Carrier::new(SimDialect::Exotel, None, Some(24_000)).is_ok());
        let c = Carrier::new(SimDialect::Telnyx, Some(SimCodec::L16), None).expect("L16 16k");
        assert_eq!((c.rate, c.frame_samples()), (16_000, 320));
    }

    #[test]
    fn audio_round_trips_in_every_dialect() {
        let samples: Vec<i16> = (0..160).map(|i| (i as i16 - 80) * 200).collect();
        for &d in <SimDialect as clap::ValueEnum>::value_variants() {
            let mut c = Carrier::new(d, None, None).expect("default format");
            c.opening(&BTreeMap::new());
            let m = c.media(&samples);
            // the agent's side of the same dialect, as the carrier reads it
            let reply = match (d, &m) {
                (SimDialect::Vonage, Message::Binary(b)) => Message::Binary(b.clone()),
                (SimDialect::Plivo, Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t).expect("json");
                    text(
                        json!({"event": "playAudio", "streamId": c.stream_id, "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": v["media"]["payload"]}}),
                    )
                }
                (_, Message::Text(t)) => {
                    let mut v: Value = serde_json::from_str(t).expect("json");
                    v.as_object_mut().expect("object").remove("sequenceNumber");
                    text(v)
                }
                _ => panic!("{d:?}: unexpected {m:?}"),
            };
            let Some(FromAgent::Audio(back)) = c.parse(&reply).expect("parses") else {
                panic!("{d:?}: not audio")
            };
            assert_eq!(back.len(), samples.len(), "{d:?}");
            let err: i32 = back
                .iter()
                .zip(&samples)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max()
                .unwrap_or(0);
            assert!(err < 700, "{d:?}: max error {err}");
        }
    }

    /// The keys of a JSON message as paths (`start.mediaFormat.encoding`); the custom
    /// parameters' own keys are the test's, not the carrier's.
    fn shape(v: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        if let Value::Object(m) = v {
            for (k, v) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                if !k.contains("ustom") {
                    shape(v, &path, out);
                }
            }
        }
    }

    fn keys(v: &Value) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        shape(v, "", &mut out);
        out
    }

    fn json_of(m: &Message) -> Value {
        match m {
            Message::Text(t) => serde_json::from_str(t.as_str()).expect("json"),
            other => panic!("{other:?} where a JSON message is documented"),
        }
    }

    #[test]
    fn the_simulator_writes_the_documented_messages() {
        // each carrier's messages as documented (tests/data/carriers/, which the codec tests
        // and the fuzz seeds use too): the simulated carrier must send the same fields
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/carriers");
        let fixture = |dialect: &str, name: &str| -> Value {
            let path = root.join(dialect).join(format!("{name}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).expect("a fixture is JSON")
        };
        let params = BTreeMap::from([("agentId".to_owned(), "echo".to_owned())]);
        for &d in <SimDialect as clap::ValueEnum>::value_variants() {
            let name = d.name();
            let mut c = Carrier::new(d, None, None).expect("default format");
            let mut sent: Vec<(&str, Value)> = Vec::new();
            let opening = c.opening(&params);
            let names: &[&str] = match d {
                SimDialect::Plivo => &["start"],
                SimDialect::Vonage => &["connected"],
                _ => &["connected", "start"],
            };
            assert_eq!(opening.len(), names.len(), "{name}");
            for (n, m) in names.iter().zip(&opening) {
                sent.push((n, json_of(m)));
            }
            if d != SimDialect::Vonage {
                sent.push((
                    "media",
                    json_of(&c.media(&[0i16; 800][..c.frame_samples() * c.frames_per_message()])),
                ));
            }
            sent.push(("dtmf", json_of(&c.dtmf('5'))));
            let mark = match d {
                SimDialect::Plivo => "playedStream",
                SimDialect::Vonage => "notify",
                _ => "mark",
            };
            sent.push((mark, json_of(&c.mark_reached("t1:1"))));
            match d {
                SimDialect::Plivo => {
                    sent.push(("clearedAudio", json_of(&c.cleared(Vec::new())[0])))
                }
                SimDialect::Vonage => sent.push(("cleared", json_of(&c.cleared(Vec::new())[0]))),
                _ => {}
            }
            if let Some(stop) = c.stop().filter(|_| d != SimDialect::Plivo) {
                sent.push(("stop", json_of(&stop)));
            }
            for (n, msg) in sent {
                let doc = fixture(name, n);
                assert_eq!(msg["event"], doc["event"], "{name} {n}");
                // fields a carrier sends only when asked to: Telnyx echoes the answer's
                // client_state (Vox sets one; the simulator's callers have none)
                let optional = ["start.client_state"];
                // Vonage's first message carries the NCCO's headers, the caller's own, as
                // fields beside its two
                let carrier_own = |k: &String| {
                    d != SimDialect::Vonage
                        || n != "connected"
                        || k == "event"
                        || k == "content-type"
                };
                let sim: std::collections::BTreeSet<String> =
                    keys(&msg).into_iter().filter(carrier_own).collect();
                let documented: std::collections::BTreeSet<String> = keys(&doc)
                    .into_iter()
                    .filter(carrier_own)
                    .filter(|k| !optional.contains(&k.as_str()) || sim.contains(k))
                    .collect();
                assert_eq!(
                    sim, documented,
                    "{name} {n}: the simulator's fields against the documented ones"
                );
            }
        }
    }
}
