//! The JSON media-stream dialects: Twilio, Telnyx, Plivo and Exotel.
//!
//! All four send JSON text with an `event` field and base64 audio, and differ in names:
//! camelCase (Twilio, Plivo) or snake_case (Telnyx, Exotel), the stream id's key
//! (`streamSid`, `stream_id`, `streamId`, `stream_sid`), encodings (`audio/x-mulaw`, `PCMU`,
//! `audio/x-l16`, `audio/x-raw`), where custom parameters travel (`customParameters`,
//! `custom_parameters` and `client_state`, `extra_headers`), and the mark and clear verbs
//! (Plivo: `checkpoint` answered by `playedStream`, `clearAudio` answered by `clearedAudio`;
//! the others: `mark` echoed back, `clear`). One parser accepts every spelling; what each
//! field means is decided per dialect.
//!
//! Telnyx does not guarantee frame order: media is put back in order by its `chunk` number
//! (a few frames are held at most; a frame that arrives after the stream moved past it is
//! dropped and counted). Exotel wants audio in chunks of at least 3.2 kB, a multiple of
//! 320 bytes: outbound frames are gathered until a chunk is full (marks sent after it), and
//! `flush` pads the last one with silence.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer};

use crate::codec::{CodecStats, Dialect, WsFrame, WsMessage};
use crate::rechunk::{Piece, Rechunker};
use crate::{Encoding, MediaEvent, Outbound, ProtocolError, StreamStart};

/// Telnyx: media frames held back waiting for a missing one before it is given up.
const REORDER_WINDOW: usize = 4;
/// Exotel's smallest outbound chunk (bytes); chunks are multiples of 320 bytes.
const EXOTEL_MIN_CHUNK: usize = 3200;

/// An event decoded and not yet handed out.
#[derive(Debug)]
enum Owned {
    Connected,
    Start(StreamStart),
    Media {
        payload: Vec<u8>,
        timestamp_ms: u64,
        chunk: u64,
    },
    Dtmf(char),
    Mark(String),
    Stop,
    Cleared,
    CarrierError(String),
}

#[derive(Debug)]
pub(crate) struct JsonCodec {
    dialect: Dialect,
    max_message: usize,
    stream_id: Option<String>,
    last_sequence: Option<u64>,
    stats: CodecStats,
    ready: VecDeque<Owned>,
    /// The payload of the media event handed out last.
    current: Vec<u8>,
    /// Payload buffers to reuse.
    spare: Vec<Vec<u8>>,
    reorder: Option<Reorder>,
    enc: JsonEncoder,
}

/// The outbound half: what encoding needs to know of the stream.
#[derive(Debug, Clone)]
pub(crate) struct JsonEncoder {
    dialect: Dialect,
    /// The stream id as a JSON string literal; `None` before start.
    stream_json: Option<String>,
    format: Option<(Encoding, u32)>,
    chunker: Option<Rechunker>,
}

impl JsonCodec {
    pub(crate) fn new(dialect: Dialect, max_message: usize) -> Self {
        Self {
            dialect,
            max_message,
            stream_id: None,
            last_sequence: None,
            stats: CodecStats::default(),
            ready: VecDeque::new(),
            current: Vec::with_capacity(512),
            spare: Vec::new(),
            reorder: (dialect == Dialect::Telnyx).then(Reorder::default),
            enc: JsonEncoder {
                dialect,
                stream_json: None,
                format: None,
                chunker: None,
            },
        }
    }

    pub(crate) fn encoder(&self) -> JsonEncoder {
        let mut e = self.enc.clone();
        if let Some(c) = &mut e.chunker {
            c.clear();
        }
        e
    }

    pub(crate) fn encoder_ref(&self) -> &JsonEncoder {
        &self.enc
    }

    pub(crate) fn encoder_mut(&mut self) -> &mut JsonEncoder {
        &mut self.enc
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn stream_id(&self) -> Option<&str> {
        self.stream_id.as_deref()
    }

    pub(crate) fn stats(&self) -> CodecStats {
        let mut s = self.stats;
        if let Some(r) = &self.reorder {
            s.sequence_gaps += r.lost;
            s.reordered = r.reordered;
            s.late_dropped = r.late;
        }
        s
    }

    pub(crate) fn feed(&mut self, msg: WsMessage<'_>) -> Result<(), ProtocolError> {
        let text = match msg {
            WsMessage::Text(t) => t,
            WsMessage::Binary(_) => return Err(ProtocolError::UnexpectedBinary),
        };
        if text.len() > self.max_message {
            return Err(ProtocolError::TooLarge {
                len: text.len(),
                max: self.max_message,
            });
        }
        let raw: Raw<'_> =
            serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        // Telnyx reorders, so a sequence number below the last one is normal there: its
        // losses are counted by the reorder buffer instead.
        if let Some(seq) = raw.sequence
            && self.reorder.is_none()
        {
            if let Some(last) = self.last_sequence
                && seq > last + 1
            {
                self.stats.sequence_gaps += seq - last - 1;
            }
            self.last_sequence = Some(seq);
        }
        let started = self.stream_id.is_some();
        let event = raw.event.as_ref();
        let plivo = self.dialect == Dialect::Plivo;
        match event {
            "connected" => self.ready.push_back(Owned::Connected),
            "start" => {
                if started {
                    return Err(ProtocolError::DuplicateStart);
                }
                let start = self.start(raw)?;
                self.ready.push_back(Owned::Start(start));
            }
            "media" => {
                if !started {
                    return Err(ProtocolError::BeforeStart("media"));
                }
                let media = raw.media.ok_or(ProtocolError::MissingField {
                    event: "media",
                    field: "media",
                })?;
                let payload = media.payload.ok_or(ProtocolError::MissingField {
                    event: "media",
                    field: "payload",
                })?;
                let mut buf = self.spare.pop().unwrap_or_default();
                buf.clear();
                B64.decode_vec(payload.as_bytes(), &mut buf)
                    .map_err(|_| ProtocolError::BadBase64)?;
                // Telnyx streams both tracks when asked to: only the caller's is ours.
                if self.dialect == Dialect::Telnyx
                    && media
                        .track
                        .as_deref()
                        .is_some_and(|t| t.starts_with("outbound"))
                {
                    self.spare.push(buf);
                    return Ok(());
                }
                let (timestamp_ms, chunk) =
                    (media.timestamp.unwrap_or(0), media.chunk.unwrap_or(0));
                match &mut self.reorder {
                    Some(r) if chunk > 0 => {
                        r.push(chunk, buf, timestamp_ms, &mut self.ready, &mut self.spare)
                    }
                    _ => self.ready.push_back(Owned::Media {
                        payload: buf,
                        timestamp_ms,
                        chunk,
                    }),
                }
            }
            "dtmf" => {
                if !started {
                    return Err(ProtocolError::BeforeStart("dtmf"));
                }
                let digit =
                    raw.dtmf
                        .map(|d| d.digit)
                        .or(raw.digit)
                        .ok_or(ProtocolError::MissingField {
                            event: "dtmf",
                            field: "digit",
                        })?;
                let mut chars = digit.chars();
                match (chars.next(), chars.next()) {
                    (Some(d), None) if d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D') => {
                        self.ready.push_back(Owned::Dtmf(d))
                    }
                    _ => return Err(ProtocolError::Malformed(format!("dtmf digit {digit:?}"))),
                }
            }
            "mark" if !plivo => {
                if !started {
                    return Err(ProtocolError::BeforeStart("mark"));
                }
                let mark = raw.mark.ok_or(ProtocolError::MissingField {
                    event: "mark",
                    field: "mark",
                })?;
                self.ready.push_back(Owned::Mark(mark.name));
            }
            "playedStream" if plivo => {
                if !started {
                    return Err(ProtocolError::BeforeStart("playedStream"));
                }
                let name = raw.name.ok_or(ProtocolError::MissingField {
                    event: "playedStream",
                    field: "name",
                })?;
                self.ready.push_back(Owned::Mark(name));
            }
            "clearedAudio" if plivo => self.ready.push_back(Owned::Cleared),
            "error" if self.dialect == Dialect::Telnyx => {
                let p = raw.payload.unwrap_or_default();
                let text = [p.get("title"), p.get("detail"), p.get("code")]
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(": ");
                self.ready
                    .push_back(Owned::CarrierError(if text.is_empty() {
                        "unspecified error".into()
                    } else {
                        text
                    }));
            }
            "stop" => {
                if let Some(r) = &mut self.reorder {
                    r.drain_all(&mut self.ready);
                }
                self.ready.push_back(Owned::Stop);
            }
            other => return Err(ProtocolError::UnknownEvent(other.to_owned())),
        }
        Ok(())
    }

    fn start(&mut self, raw: Raw<'_>) -> Result<StreamStart, ProtocolError> {
        let start = raw.start.ok_or(ProtocolError::MissingField {
            event: "start",
            field: "start",
        })?;
        let stream_id = start.stream.or(raw.stream.map(Cow::into_owned)).ok_or(
            ProtocolError::MissingField {
                event: "start",
                field: "stream id",
            },
        )?;
        let format = start.format.ok_or(ProtocolError::MissingField {
            event: "start",
            field: "media format",
        })?;
        let (encoding, named_rate) = encoding(self.dialect, &format)?;
        let sample_rate = format.sample_rate.or(named_rate).unwrap_or(8000);
        let channels = format.channels.unwrap_or(1);
        if !(8000..=48_000).contains(&sample_rate) || channels != 1 {
            return Err(ProtocolError::UnsupportedFormat(format!(
                "{sample_rate} Hz, {channels} channels"
            )));
        }
        let mut custom_parameters = start.params.map(|p| p.0).unwrap_or_default();
        for extra in [start.extra_headers, raw.extra_headers]
            .into_iter()
            .flatten()
        {
            custom_parameters.extend(extra.0);
        }
        if let Some(state) = start
            .client_state
            .as_deref()
            .and_then(|s| B64.decode(s.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
        {
            custom_parameters.extend(Params::parse_text(&state).0);
        }
        self.stream_id = Some(stream_id.clone());
        let sample_rate = sample_rate as u32;
        self.enc.stream_json = Some(json_str(&stream_id));
        self.enc.format = Some((encoding, sample_rate));
        if self.dialect == Dialect::Exotel {
            // 20 ms of 16-bit PCM is a multiple of 320 bytes at 8, 16 and 24 kHz
            let frame = (sample_rate as usize / 50 * 2).max(2);
            self.enc.chunker = Some(Rechunker::new(EXOTEL_MIN_CHUNK.div_ceil(frame) * frame));
        }
        Ok(StreamStart {
            stream_id,
            call_id: start.call.unwrap_or_default(),
            account_id: start.account.unwrap_or_default(),
            tracks: start.tracks.unwrap_or_default(),
            encoding,
            sample_rate,
            channels: channels as u16,
            custom_parameters,
        })
    }

    pub(crate) fn next_event(&mut self) -> Option<MediaEvent<'_>> {
        Some(match self.ready.pop_front()? {
            Owned::Connected => MediaEvent::Connected,
            Owned::Start(s) => MediaEvent::Start(s),
            Owned::Media {
                payload,
                timestamp_ms,
                chunk,
            } => {
                let old = std::mem::replace(&mut self.current, payload);
                if self.spare.len() < 8 {
                    self.spare.push(old);
                }
                MediaEvent::Media {
                    payload: &self.current,
                    timestamp_ms,
                    chunk,
                }
            }
            Owned::Dtmf(digit) => MediaEvent::Dtmf { digit },
            Owned::Mark(name) => MediaEvent::Mark { name },
            Owned::Stop => MediaEvent::Stop,
            Owned::Cleared => MediaEvent::Cleared,
            Owned::CarrierError(message) => MediaEvent::CarrierError { message },
        })
    }

    pub(crate) fn end_of_stream(&mut self) {
        if let Some(r) = &mut self.reorder {
            r.drain_all(&mut self.ready);
        }
    }
}

impl JsonEncoder {
    pub(crate) fn encode(&mut self, msg: Outbound<'_>, out: &mut Vec<WsFrame>) {
        if self.stream_json.is_none() {
            return;
        }
        if let Some(ch) = &mut self.chunker {
            let mut pieces = Vec::new();
            match msg {
                Outbound::Media(bytes) => ch.audio(bytes, &mut pieces),
                Outbound::Mark(name) => ch.mark(name, &mut pieces),
                Outbound::Clear => {
                    ch.clear();
                    out.push(self.message(msg));
                }
            }
            self.send(pieces, out);
            return;
        }
        out.push(self.message(msg));
    }

    pub(crate) fn flush(&mut self, out: &mut Vec<WsFrame>) {
        let Some(ch) = &mut self.chunker else { return };
        let mut pieces = Vec::new();
        ch.flush(&mut pieces);
        self.send(pieces, out);
    }

    fn send(&self, pieces: Vec<Piece>, out: &mut Vec<WsFrame>) {
        for p in pieces {
            out.push(match p {
                Piece::Audio(a) => self.message(Outbound::Media(&a)),
                Piece::Mark(m) => self.message(Outbound::Mark(&m)),
            });
        }
    }

    pub(crate) fn holds_audio(&self) -> bool {
        self.chunker.as_ref().is_some_and(Rechunker::holds)
    }

    pub(crate) fn min_send_ahead_ms(&self) -> u64 {
        match (&self.chunker, self.format) {
            (Some(c), Some((_, rate))) => 2 * (c.chunk() as u64 * 1000) / (u64::from(rate) * 2),
            _ => 0,
        }
    }

    /// One message in this dialect (the stream has started).
    fn message(&self, msg: Outbound<'_>) -> WsFrame {
        let sid = self.stream_json.as_deref().unwrap_or("\"\"");
        WsFrame::Text(match (self.dialect, msg) {
            (Dialect::Twilio, Outbound::Media(b)) => format!(
                r#"{{"event":"media","streamSid":{sid},"media":{{"payload":"{}"}}}}"#,
                B64.encode(b)
            ),
            (Dialect::Twilio, Outbound::Mark(n)) => format!(
                r#"{{"event":"mark","streamSid":{sid},"mark":{{"name":{}}}}}"#,
                json_str(n)
            ),
            (Dialect::Twilio, Outbound::Clear) => {
                format!(r#"{{"event":"clear","streamSid":{sid}}}"#)
            }
            (Dialect::Telnyx, Outbound::Media(b)) => format!(
                r#"{{"event":"media","media":{{"payload":"{}"}}}}"#,
                B64.encode(b)
            ),
            (Dialect::Telnyx, Outbound::Mark(n)) => {
                format!(r#"{{"event":"mark","mark":{{"name":{}}}}}"#, json_str(n))
            }
            (Dialect::Telnyx, Outbound::Clear) => r#"{"event":"clear"}"#.to_owned(),
            (Dialect::Plivo, Outbound::Media(b)) => {
                let (enc, rate) = self.format.unwrap_or((Encoding::MuLaw, 8000));
                let content = if enc == Encoding::MuLaw {
                    "audio/x-mulaw"
                } else {
                    "audio/x-l16"
                };
                format!(
                    r#"{{"event":"playAudio","streamId":{sid},"media":{{"contentType":"{content}","sampleRate":{rate},"payload":"{}"}}}}"#,
                    B64.encode(b)
                )
            }
            (Dialect::Plivo, Outbound::Mark(n)) => format!(
                r#"{{"event":"checkpoint","streamId":{sid},"name":{}}}"#,
                json_str(n)
            ),
            (Dialect::Plivo, Outbound::Clear) => {
                format!(r#"{{"event":"clearAudio","streamId":{sid}}}"#)
            }
            (_, Outbound::Media(b)) => format!(
                r#"{{"event":"media","stream_sid":{sid},"media":{{"payload":"{}"}}}}"#,
                B64.encode(b)
            ),
            (_, Outbound::Mark(n)) => format!(
                r#"{{"event":"mark","stream_sid":{sid},"mark":{{"name":{}}}}}"#,
                json_str(n)
            ),
            (_, Outbound::Clear) => format!(r#"{{"event":"clear","stream_sid":{sid}}}"#),
        })
    }
}

fn json_str(s: &str) -> String {
    // Serializing a string cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The encoding (and a rate named in it, as Plivo's `audio/x-l16;rate=16000`) of a start.
fn encoding(dialect: Dialect, f: &RawFormat) -> Result<(Encoding, Option<u64>), ProtocolError> {
    let (name, params) = f
        .encoding
        .split_once(';')
        .unwrap_or((f.encoding.as_str(), ""));
    let name = name.trim().to_ascii_lowercase();
    let rate = params
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("rate="))
        .find_map(|r| r.parse().ok());
    let enc = match (dialect, name.as_str()) {
        (Dialect::Twilio | Dialect::Plivo, "audio/x-mulaw") => Encoding::MuLaw,
        (Dialect::Twilio, "audio/x-alaw") => Encoding::ALaw,
        (Dialect::Telnyx, "pcmu") => Encoding::MuLaw,
        (Dialect::Telnyx, "pcma") => Encoding::ALaw,
        (Dialect::Telnyx, "l16") => Encoding::L16Be,
        (Dialect::Plivo, "audio/x-l16") => Encoding::L16,
        (Dialect::Exotel, "audio/x-raw") if f.bit_rate.is_none_or(|b| b == 16) => Encoding::L16,
        _ => return Err(ProtocolError::UnsupportedFormat(f.encoding.clone())),
    };
    Ok((enc, rate))
}

/// Telnyx: media put back in order by chunk number.
#[derive(Debug, Default)]
struct Reorder {
    next: Option<u64>,
    held: BTreeMap<u64, (Vec<u8>, u64)>,
    lost: u64,
    reordered: u64,
    late: u64,
}

impl Reorder {
    fn push(
        &mut self,
        chunk: u64,
        payload: Vec<u8>,
        timestamp_ms: u64,
        ready: &mut VecDeque<Owned>,
        spare: &mut Vec<Vec<u8>>,
    ) {
        // the first frame to arrive may have overtaken up to a window of earlier ones
        let next = *self
            .next
            .get_or_insert(chunk.saturating_sub(REORDER_WINDOW as u64).max(1));
        if chunk < next || self.held.contains_key(&chunk) {
            self.late += 1;
            spare.push(payload);
            return;
        }
        if chunk > next {
            self.reordered += 1;
            self.held.insert(chunk, (payload, timestamp_ms));
            if self.held.len() > REORDER_WINDOW
                && let Some(&first) = self.held.keys().next()
            {
                // the missing frame is not coming: give it up
                self.lost += first - next;
                self.next = Some(first);
                self.drain(ready);
            }
            return;
        }
        ready.push_back(Owned::Media {
            payload,
            timestamp_ms,
            chunk,
        });
        self.next = Some(next + 1);
        self.drain(ready);
    }

    /// Hands out held frames that are now in order.
    fn drain(&mut self, ready: &mut VecDeque<Owned>) {
        while let Some(next) = self.next
            && let Some((payload, timestamp_ms)) = self.held.remove(&next)
        {
            ready.push_back(Owned::Media {
                payload,
                timestamp_ms,
                chunk: next,
            });
            self.next = Some(next + 1);
        }
    }

    /// The stream ends: everything held, in order, gaps given up.
    fn drain_all(&mut self, ready: &mut VecDeque<Owned>) {
        while let Some((&first, _)) = self.held.iter().next() {
            if let Some(next) = self.next {
                self.lost += first.saturating_sub(next);
            }
            self.next = Some(first);
            self.drain(ready);
        }
    }
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(
        rename = "sequenceNumber",
        alias = "sequence_number",
        default,
        deserialize_with = "opt_num"
    )]
    sequence: Option<u64>,
    #[serde(
        rename = "streamSid",
        alias = "stream_sid",
        alias = "stream_id",
        alias = "streamId",
        borrow,
        default
    )]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    media: Option<RawMedia<'a>>,
    #[serde(default)]
    start: Option<RawStart>,
    #[serde(default)]
    dtmf: Option<RawDtmf>,
    /// Exotel's `dtmf` may carry the digit at the top.
    #[serde(default)]
    digit: Option<String>,
    #[serde(default)]
    mark: Option<RawMark>,
    /// Plivo `playedStream`'s checkpoint name.
    #[serde(default)]
    name: Option<String>,
    /// Plivo: `extraHeaders` of the `<Stream>`.
    #[serde(default, alias = "extraHeaders")]
    extra_headers: Option<Params>,
    /// Telnyx `error`'s details.
    #[serde(default)]
    payload: Option<serde_json::Value>,
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
    #[serde(borrow, default)]
    track: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawStart {
    #[serde(
        default,
        rename = "streamSid",
        alias = "stream_sid",
        alias = "streamId",
        alias = "stream_id"
    )]
    stream: Option<String>,
    #[serde(
        default,
        rename = "callSid",
        alias = "call_sid",
        alias = "callId",
        alias = "call_control_id"
    )]
    call: Option<String>,
    #[serde(
        default,
        rename = "accountSid",
        alias = "account_sid",
        alias = "accountId",
        alias = "user_id"
    )]
    account: Option<String>,
    #[serde(default)]
    tracks: Option<Vec<String>>,
    #[serde(default, rename = "mediaFormat", alias = "media_format")]
    format: Option<RawFormat>,
    #[serde(default, rename = "customParameters", alias = "custom_parameters")]
    params: Option<Params>,
    #[serde(default, alias = "extraHeaders")]
    extra_headers: Option<Params>,
    /// Telnyx: the base64 `client_state` given when the stream was asked for.
    #[serde(default)]
    client_state: Option<String>,
}

#[derive(Deserialize)]
struct RawFormat {
    encoding: String,
    #[serde(
        default,
        rename = "sampleRate",
        alias = "sample_rate",
        deserialize_with = "opt_num"
    )]
    sample_rate: Option<u64>,
    #[serde(default, deserialize_with = "opt_num")]
    channels: Option<u64>,
    #[serde(
        default,
        rename = "bitRate",
        alias = "bit_rate",
        deserialize_with = "opt_num"
    )]
    bit_rate: Option<u64>,
}

#[derive(Deserialize)]
struct RawDtmf {
    digit: String,
}

#[derive(Deserialize)]
struct RawMark {
    name: String,
}

/// Custom parameters: an object (values of any scalar type, as strings), or a string of
/// `k=v` pairs joined by `&`, `,` or `;` (Plivo's `extraHeaders`, Telnyx's `client_state`),
/// or a string holding a JSON object.
#[derive(Debug, Default)]
pub(crate) struct Params(pub(crate) BTreeMap<String, String>);

impl Params {
    pub(crate) fn parse_text(s: &str) -> Self {
        let s = s.trim();
        if s.starts_with('{')
            && let Ok(serde_json::Value::Object(m)) = serde_json::from_str(s)
        {
            return Self::from_object(m);
        }
        let mut out = BTreeMap::new();
        for pair in s.split(['&', ',', ';']) {
            if let Some((k, v)) = pair.split_once('=') {
                let (k, v) = (percent_decode(k.trim()), percent_decode(v.trim()));
                if !k.is_empty() {
                    out.insert(k, v);
                }
            }
        }
        Self(out)
    }

    fn from_object(m: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        )
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Object(m) => Self::from_object(m),
            serde_json::Value::String(s) => Self::parse_text(&s),
            serde_json::Value::Null => Self::default(),
            other => {
                return Err(de::Error::custom(format!(
                    "parameters must be an object or a string, not {other}"
                )));
            }
        })
    }
}

/// `%XX` and `+` decoding of a query-string component (invalid escapes kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Carriers send numbers as strings ("sequenceNumber": "3"); accept both forms.
pub(crate) fn opt_num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
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
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom("negative number"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse()
                .map(Some)
                .map_err(|_| E::custom(format!("not a number: {v:?}")))
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

    use crate::StreamCodec;
    use proptest::prelude::*;

    fn events(c: &mut StreamCodec, msg: &str) -> Vec<String> {
        c.feed(WsMessage::Text(msg))
            .unwrap_or_else(|e| panic!("{msg}: {e}"));
        let mut out = Vec::new();
        while let Some(e) = c.next_event() {
            out.push(match e {
                MediaEvent::Media { payload, chunk, .. } => format!("media {chunk} {payload:?}"),
                other => format!("{other:?}"),
            });
        }
        out
    }

    fn start(c: &mut StreamCodec, msg: &str) -> StreamStart {
        c.feed(WsMessage::Text(msg))
            .unwrap_or_else(|e| panic!("{msg}: {e}"));
        match c.next_event() {
            Some(MediaEvent::Start(s)) => s,
            other => panic!("not a start: {other:?}"),
        }
    }

    fn texts(out: &[WsFrame]) -> Vec<serde_json::Value> {
        out.iter()
            .map(|f| match f {
                WsFrame::Text(t) => serde_json::from_str(t).expect("json"),
                WsFrame::Binary(_) => panic!("binary"),
            })
            .collect()
    }

    const TWILIO_START: &str = fixture!("twilio", "start");

    fn twilio() -> StreamCodec {
        let mut c = StreamCodec::new(Dialect::Twilio, 64 * 1024);
        start(&mut c, TWILIO_START);
        c
    }

    fn error_kind(c: &mut StreamCodec, msg: &str) -> Result<(), &'static str> {
        c.feed(WsMessage::Text(msg)).map_err(|e| e.kind())?;
        while c.next_event().is_some() {}
        Ok(())
    }

    #[test]
    fn twilio_connected_start_media_dtmf_mark_stop() {
        let mut c = StreamCodec::new(Dialect::Twilio, 64 * 1024);
        assert_eq!(
            events(&mut c, fixture!("twilio", "connected")),
            ["Connected"]
        );
        let s = start(&mut c, TWILIO_START);
        assert_eq!((s.stream_id.as_str(), s.call_id.as_str()), ("MZ1", "CA1"));
        assert_eq!((s.encoding, s.sample_rate), (Encoding::MuLaw, 8000));
        assert_eq!(
            s.custom_parameters.get("agentId").map(String::as_str),
            Some("echo")
        );
        let media = fixture!("twilio", "media");
        assert_eq!(events(&mut c, media), ["media 1 [255, 255, 0]"]);
        let dtmf = fixture!("twilio", "dtmf");
        assert_eq!(events(&mut c, dtmf), ["Dtmf { digit: '7' }"]);
        let mark = fixture!("twilio", "mark");
        assert_eq!(events(&mut c, mark), ["Mark { name: \"t1:3\" }"]);
        let stop = fixture!("twilio", "stop");
        assert_eq!(events(&mut c, stop), ["Stop"]);
        assert_eq!(c.stats().sequence_gaps, 0);
    }

    #[test]
    fn twilio_numbers_may_be_numbers_or_strings_and_gaps_are_counted() {
        let mut c = twilio();
        let m = |seq: &str| {
            format!(
                r#"{{"event":"media","sequenceNumber":{seq},"media":{{"chunk":2,"timestamp":40,"payload":""}}}}"#
            )
        };
        assert_eq!(error_kind(&mut c, &m("2")), Ok(()));
        assert_eq!(error_kind(&mut c, &m("\"5\"")), Ok(()));
        assert_eq!(c.stats().sequence_gaps, 2);
        assert_eq!(error_kind(&mut c, &m("\"x\"")), Err("malformed"));
        assert_eq!(error_kind(&mut c, &m("-1")), Err("malformed"));
    }

    #[test]
    fn twilio_bad_input_is_refused_with_a_kind() {
        let mut c = StreamCodec::new(Dialect::Twilio, 1024);
        assert_eq!(
            error_kind(&mut c, r#"{"event":"media","media":{"payload":"AAAA"}}"#),
            Err("before_start")
        );
        assert_eq!(error_kind(&mut c, "{not json"), Err("malformed"));
        assert_eq!(
            error_kind(&mut c, r#"{"event":"hello"}"#),
            Err("unknown_event")
        );
        assert_eq!(error_kind(&mut c, &"x".repeat(1025)), Err("too_large"));
        let mut c = twilio();
        assert_eq!(
            error_kind(&mut c, r#"{"event":"media","media":{"payload":"@@@"}}"#),
            Err("bad_base64")
        );
        assert_eq!(error_kind(&mut c, TWILIO_START), Err("duplicate_start"));
        assert_eq!(
            error_kind(&mut c, r#"{"event":"media"}"#),
            Err("missing_field")
        );
        let l16 = TWILIO_START.replace("audio/x-mulaw", "audio/l16");
        let mut fresh = StreamCodec::new(Dialect::Twilio, 1024);
        assert_eq!(error_kind(&mut fresh, &l16), Err("unsupported_format"));
    }

    #[test]
    fn twilio_encodes_media_mark_and_clear() {
        let mut c = twilio();
        let mut out = Vec::new();
        c.encode(Outbound::Media(&[0xff, 0x7f]), &mut out);
        c.encode(Outbound::Mark("t1:1"), &mut out);
        c.encode(Outbound::Clear, &mut out);
        assert_eq!(
            texts(&out),
            [
                serde_json::json!({"event":"media","streamSid":"MZ1","media":{"payload":"/38="}}),
                serde_json::json!({"event":"mark","streamSid":"MZ1","mark":{"name":"t1:1"}}),
                serde_json::json!({"event":"clear","streamSid":"MZ1"}),
            ]
        );
    }

    const TELNYX_START: &str = fixture!("telnyx", "start");

    fn telnyx_media(seq: u64, chunk: u64, b64: &str) -> String {
        format!(
            r#"{{"event":"media","sequence_number":"{seq}","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{}","payload":"{b64}"}},"stream_id":"32de0dea"}}"#,
            chunk * 20
        )
    }

    #[test]
    fn telnyx_start_media_dtmf_mark_error_stop() {
        let mut c = StreamCodec::new(Dialect::Telnyx, 64 * 1024);
        assert_eq!(
            events(&mut c, fixture!("telnyx", "connected")),
            ["Connected"]
        );
        let s = start(&mut c, TELNYX_START);
        assert_eq!(
            (
                s.stream_id.as_str(),
                s.call_id.as_str(),
                s.account_id.as_str()
            ),
            ("32de0dea", "v3:abc", "u1")
        );
        assert_eq!((s.encoding, s.sample_rate), (Encoding::MuLaw, 8000));
        let p = |k: &str| s.custom_parameters.get(k).map(String::as_str);
        assert_eq!(
            (p("agentId"), p("callId"), p("token")),
            (Some("echo"), Some("call_1"), Some("t1")),
            "custom parameters and the client_state's"
        );
        assert_eq!(
            events(&mut c, &telnyx_media(2, 1, "//8A")),
            ["media 1 [255, 255, 0]"]
        );
        assert_eq!(
            events(&mut c, fixture!("telnyx", "dtmf")),
            ["Dtmf { digit: '7' }"]
        );
        assert_eq!(
            events(&mut c, fixture!("telnyx", "mark")),
            ["Mark { name: \"t1:3\" }"]
        );
        let err = events(&mut c, fixture!("telnyx", "error"));
        assert_eq!(
            err,
            ["CarrierError { message: \"Unknown error: bad media: 100002\" }"]
        );
        assert_eq!(events(&mut c, fixture!("telnyx", "stop")), ["Stop"]);
        let l16 = TELNYX_START.replace(
            "\"PCMU\",\"sample_rate\":8000",
            "\"L16\",\"sample_rate\":16000",
        );
        let s = start(&mut StreamCodec::new(Dialect::Telnyx, 64 * 1024), &l16);
        assert_eq!(
            (s.encoding, s.sample_rate),
            (Encoding::L16Be, 16_000),
            "Telnyx's L16 is RTP's, big-endian"
        );
    }

    #[test]
    fn telnyx_media_is_put_back_in_chunk_order() {
        let mut c = StreamCodec::new(Dialect::Telnyx, 64 * 1024);
        start(&mut c, TELNYX_START);
        let m = |chunk: u64| telnyx_media(chunk + 1, chunk, &B64.encode([chunk as u8]));
        assert_eq!(events(&mut c, &m(1)), ["media 1 [1]"]);
        assert!(events(&mut c, &m(3)).is_empty(), "3 waits for 2");
        assert_eq!(events(&mut c, &m(2)), ["media 2 [2]", "media 3 [3]"]);
        assert!(events(&mut c, &m(2)).is_empty(), "a duplicate is dropped");
        // 4 never comes: after the window, the stream moves on
        for chunk in 5..=8 {
            assert!(events(&mut c, &m(chunk)).is_empty());
        }
        assert_eq!(
            events(&mut c, &m(9)),
            [
                "media 5 [5]",
                "media 6 [6]",
                "media 7 [7]",
                "media 8 [8]",
                "media 9 [9]"
            ]
        );
        assert!(events(&mut c, &m(4)).is_empty(), "too late");
        assert!(events(&mut c, &m(11)).is_empty());
        assert_eq!(
            events(&mut c, r#"{"event":"stop","stream_id":"32de0dea"}"#),
            ["media 11 [11]", "Stop"],
            "held audio is released before the stop"
        );
        assert_eq!(
            c.stats(),
            CodecStats {
                sequence_gaps: 2,
                reordered: 7,
                late_dropped: 2
            }
        );
        // frames of the other track are not the caller's
        let mut c = StreamCodec::new(Dialect::Telnyx, 64 * 1024);
        start(&mut c, TELNYX_START);
        assert!(
            events(
                &mut c,
                &telnyx_media(2, 1, "AA==").replace("inbound", "outbound")
            )
            .is_empty()
        );
    }

    #[test]
    fn telnyx_encodes_media_mark_and_clear() {
        let mut c = StreamCodec::new(Dialect::Telnyx, 64 * 1024);
        let mut out = Vec::new();
        c.encode(Outbound::Clear, &mut out);
        assert!(out.is_empty(), "nothing before start");
        start(&mut c, TELNYX_START);
        c.encode(Outbound::Media(&[0xff, 0x7f]), &mut out);
        c.encode(Outbound::Mark("t1:1"), &mut out);
        c.encode(Outbound::Clear, &mut out);
        assert_eq!(
            texts(&out),
            [
                serde_json::json!({"event": "media", "media": {"payload": "/38="}}),
                serde_json::json!({"event": "mark", "mark": {"name": "t1:1"}}),
                serde_json::json!({"event": "clear"})
            ]
        );
    }

    const PLIVO_START: &str = fixture!("plivo", "start");

    #[test]
    fn plivo_start_media_checkpoints_and_clear() {
        let mut c = StreamCodec::new(Dialect::Plivo, 64 * 1024);
        let s = start(&mut c, PLIVO_START);
        assert_eq!(
            (
                s.stream_id.as_str(),
                s.call_id.as_str(),
                s.encoding,
                s.sample_rate
            ),
            ("s-1", "c-1", Encoding::L16, 16_000)
        );
        assert_eq!(
            s.custom_parameters.get("token").map(String::as_str),
            Some("1.a-b"),
            "extra headers: {:?}",
            s.custom_parameters
        );
        let media = fixture!("plivo", "media");
        assert_eq!(events(&mut c, media), ["media 1 [1, 2]"]);
        assert_eq!(
            events(&mut c, fixture!("plivo", "dtmf")),
            ["Dtmf { digit: '9' }"]
        );
        assert_eq!(
            events(&mut c, fixture!("plivo", "playedStream")),
            ["Mark { name: \"t1:5\" }"]
        );
        assert_eq!(
            events(&mut c, fixture!("plivo", "clearedAudio")),
            ["Cleared"]
        );
        assert!(
            c.feed(WsMessage::Text(r#"{"event":"mark","mark":{"name":"x"}}"#))
                .is_err(),
            "Plivo has no mark event"
        );
        let mut out = Vec::new();
        c.encode(Outbound::Media(&[1, 0, 2, 0]), &mut out);
        c.encode(Outbound::Mark("t1:6"), &mut out);
        c.encode(Outbound::Clear, &mut out);
        assert_eq!(
            texts(&out),
            [
                serde_json::json!({"event": "playAudio", "streamId": "s-1", "media": {"contentType": "audio/x-l16", "sampleRate": 16000, "payload": "AQACAA=="}}),
                serde_json::json!({"event": "checkpoint", "streamId": "s-1", "name": "t1:6"}),
                serde_json::json!({"event": "clearAudio", "streamId": "s-1"}),
            ]
        );
        // mu-law at 8 kHz, the rate given in the content type
        let mulaw = PLIVO_START.replace(
            r#""encoding":"audio/x-l16","sampleRate":16000"#,
            r#""encoding":"audio/x-mulaw;rate=8000""#,
        );
        let s = start(&mut StreamCodec::new(Dialect::Plivo, 64 * 1024), &mulaw);
        assert_eq!((s.encoding, s.sample_rate), (Encoding::MuLaw, 8000));
    }

    const EXOTEL_START: &str = fixture!("exotel", "start");

    #[test]
    fn exotel_start_media_dtmf_mark_stop() {
        let mut c = StreamCodec::new(Dialect::Exotel, 64 * 1024);
        assert_eq!(
            events(&mut c, fixture!("exotel", "connected")),
            ["Connected"]
        );
        let s = start(&mut c, EXOTEL_START);
        assert_eq!(
            (
                s.stream_id.as_str(),
                s.call_id.as_str(),
                s.account_id.as_str(),
                s.encoding,
                s.sample_rate
            ),
            ("MZ9", "CA9", "AC9", Encoding::L16, 8000)
        );
        assert_eq!(
            s.custom_parameters.get("agentId").map(String::as_str),
            Some("echo")
        );
        assert_eq!(
            events(&mut c, fixture!("exotel", "media")),
            ["media 2 [0, 0]"]
        );
        assert_eq!(
            events(&mut c, fixture!("exotel", "dtmf")),
            ["Dtmf { digit: '5' }"]
        );
        assert_eq!(
            events(&mut c, fixture!("exotel", "mark")),
            ["Mark { name: \"t1:2\" }"]
        );
        assert_eq!(events(&mut c, fixture!("exotel", "stop")), ["Stop"]);
        assert_eq!(
            c.stats().sequence_gaps,
            1 + 3 + 7,
            "3 is missing after 1, 4..=6 after 3, 8..=14 after 7"
        );
        // custom parameters as the query string they came from
        let q = EXOTEL_START.replace(r#"{"agentId":"echo"}"#, r#""agentId=echo&callId=call%201""#);
        let s = start(&mut StreamCodec::new(Dialect::Exotel, 64 * 1024), &q);
        assert_eq!(
            s.custom_parameters.get("callId").map(String::as_str),
            Some("call 1")
        );
    }

    #[test]
    fn exotel_audio_goes_out_in_chunks_of_at_least_3200_bytes() {
        let mut c = StreamCodec::new(Dialect::Exotel, 64 * 1024);
        start(&mut c, EXOTEL_START);
        assert_eq!(c.min_send_ahead_ms(), 400, "two 200 ms chunks at 8 kHz");
        let frame = [1u8; 320]; // 20 ms at 8 kHz
        let mut out = Vec::new();
        for i in 0..9 {
            c.encode(Outbound::Media(&frame), &mut out);
            c.encode(Outbound::Mark(&format!("t1:{}", i + 1)), &mut out);
        }
        assert!(
            out.is_empty() && c.holds_audio(),
            "nine frames are not a chunk yet"
        );
        c.encode(Outbound::Media(&frame), &mut out);
        c.encode(Outbound::Mark("t1:10"), &mut out);
        let v = texts(&out);
        assert_eq!(v.len(), 1 + 10, "one chunk, then its ten marks in order");
        assert_eq!(
            B64.decode(v[0]["media"]["payload"].as_str().expect("payload"))
                .expect("b64")
                .len(),
            3200
        );
        assert_eq!(v[0]["stream_sid"], "MZ9");
        assert_eq!(
            v[10],
            serde_json::json!({"event": "mark", "stream_sid": "MZ9", "mark": {"name": "t1:10"}})
        );
        // a short tail is padded with silence, to a full chunk, a multiple of 320 bytes
        out.clear();
        c.encode(Outbound::Media(&frame), &mut out);
        c.encode(Outbound::Mark("t2:1"), &mut out);
        c.flush(&mut out);
        let v = texts(&out);
        let tail = B64
            .decode(v[0]["media"]["payload"].as_str().expect("payload"))
            .expect("b64");
        assert_eq!(
            (
                tail.len(),
                &tail[..320],
                tail[320..].iter().all(|&b| b == 0)
            ),
            (3200, &frame[..], true)
        );
        assert_eq!(v[1]["mark"]["name"], "t2:1");
        assert!(!c.holds_audio());
        // clear drops what was held
        out.clear();
        c.encode(Outbound::Media(&frame), &mut out);
        c.encode(Outbound::Clear, &mut out);
        c.flush(&mut out);
        assert_eq!(
            texts(&out),
            [serde_json::json!({"event": "clear", "stream_sid": "MZ9"})]
        );
        // 24 kHz: 20 ms is 960 bytes, the chunk four frames (3840 bytes, 12 x 320)
        let hd = EXOTEL_START.replace(r#""sample_rate":"8000""#, r#""sample_rate":"24000""#);
        let mut c = StreamCodec::new(Dialect::Exotel, 64 * 1024);
        start(&mut c, &hd);
        let mut out = Vec::new();
        for _ in 0..4 {
            c.encode(Outbound::Media(&[0; 960]), &mut out);
        }
        assert_eq!(
            B64.decode(texts(&out)[0]["media"]["payload"].as_str().expect("p"))
                .expect("b64")
                .len(),
            3840
        );
    }

    #[test]
    fn each_dialect_names_only_its_own_formats() {
        let cases = [
            (
                Dialect::Twilio,
                r#"{"event":"start","start":{"streamSid":"s","mediaFormat":{"encoding":"PCMU"}}}"#,
            ),
            (
                Dialect::Telnyx,
                r#"{"event":"start","stream_id":"s","start":{"media_format":{"encoding":"OPUS","sample_rate":16000}}}"#,
            ),
            (
                Dialect::Telnyx,
                r#"{"event":"start","stream_id":"s","start":{"media_format":{"encoding":"G722","sample_rate":16000}}}"#,
            ),
            (
                Dialect::Plivo,
                r#"{"event":"start","start":{"streamId":"s","mediaFormat":{"encoding":"audio/x-alaw","sampleRate":8000}}}"#,
            ),
            (
                Dialect::Exotel,
                r#"{"event":"start","start":{"stream_sid":"s","media_format":{"encoding":"audio/x-raw","sample_rate":"8000","bit_rate":"8"}}}"#,
            ),
        ];
        for (d, msg) in cases {
            let r = StreamCodec::new(d, 4096).feed(WsMessage::Text(msg));
            assert_eq!(
                r.map_err(|e| e.kind()),
                Err("unsupported_format"),
                "{d}: {msg}"
            );
        }
        assert_eq!(
            StreamCodec::new(Dialect::Telnyx, 4096)
                .feed(WsMessage::Binary(&[1]))
                .map_err(|e| e.kind()),
            Err("unexpected_binary")
        );
    }

    #[test]
    fn parameters_in_every_spelling() {
        assert_eq!(
            Params::parse_text("a=1&b=x%20y")
                .0
                .get("b")
                .map(String::as_str),
            Some("x y")
        );
        assert_eq!(Params::parse_text("a=1,b=2").0.len(), 2);
        assert_eq!(
            Params::parse_text(r#"{"a": 1, "b": "two", "c": null}"#).0,
            BTreeMap::from([
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "two".to_owned())
            ])
        );
        assert!(Params::parse_text("no pairs here").0.is_empty());
        assert_eq!(percent_decode("%zz%4"), "%zz%4", "bad escapes are kept");
    }

    proptest! {
        #[test]
        fn telnyx_reordering_delivers_every_frame_once_in_order(order in Just((1u64..=30).collect::<Vec<_>>()).prop_shuffle(), drop in proptest::collection::btree_set(1u64..=30, 0..5)) {
            // frames displaced by at most the window arrive in order; any that are lost are skipped
            let mut c = StreamCodec::new(Dialect::Telnyx, 64 * 1024);
            start(&mut c, TELNYX_START);
            let mut got = Vec::new();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            // keep the shuffle local: swap within blocks of three
            let mut local: Vec<u64> = sorted.chunks(3).zip(order.chunks(3)).flat_map(|(s, o)| { let mut v = s.to_vec(); if o[0] % 2 == 0 { v.reverse(); } v }).collect();
            local.retain(|x| !drop.contains(x));
            for chunk in &local {
                c.feed(WsMessage::Text(&telnyx_media(chunk + 1, *chunk, &B64.encode([*chunk as u8])))).expect("media");
                while let Some(MediaEvent::Media { chunk, .. }) = c.next_event() { got.push(chunk); }
            }
            c.end_of_stream();
            while let Some(MediaEvent::Media { chunk, .. }) = c.next_event() { got.push(chunk); }
            let mut expected = local.clone();
            expected.sort_unstable();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn arbitrary_text_never_panics_in_any_json_dialect(s in any::<String>(), which in 0usize..4) {
            let (d, start_msg) = [(Dialect::Twilio, r#"{"event":"start","start":{"streamSid":"s","mediaFormat":{"encoding":"audio/x-mulaw"}}}"#), (Dialect::Telnyx, TELNYX_START), (Dialect::Plivo, PLIVO_START), (Dialect::Exotel, EXOTEL_START)][which];
            let mut c = StreamCodec::new(d, 64 * 1024);
            let _ = c.feed(WsMessage::Text(start_msg));
            let _ = c.feed(WsMessage::Text(&s));
            while c.next_event().is_some() {}
            let mut out = Vec::new();
            c.encode(Outbound::Mark(&s), &mut out);
            c.encode(Outbound::Media(s.as_bytes()), &mut out);
            c.flush(&mut out);
            for f in out {
                if let WsFrame::Text(t) = f { prop_assert!(serde_json::from_str::<serde_json::Value>(&t).is_ok(), "{}", t); }
            }
        }

        #[test]
        fn mutated_messages_never_panic(pos in 0usize..400, byte in any::<u8>(), which in 0usize..3) {
            let base = [TELNYX_START, PLIVO_START, EXOTEL_START][which];
            let d = [Dialect::Telnyx, Dialect::Plivo, Dialect::Exotel][which];
            let mut bytes = base.as_bytes().to_vec();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let mut c = StreamCodec::new(d, 64 * 1024);
                let _ = c.feed(WsMessage::Text(text));
                while c.next_event().is_some() {}
            }
        }
    }
}
