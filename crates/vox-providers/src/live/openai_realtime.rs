//! OpenAI's Realtime API in transcription mode (`wss://api.openai.com/v1/realtime?intent=transcription`).
//!
//! Up: `session.update` (a transcription session: 24 kHz PCM in, the configured model, no
//! server turn detection, so Vox's VAD decides the turns), then `input_audio_buffer.append`
//! with base64 PCM resampled from 16 to 24 kHz, and `input_audio_buffer.commit` when a
//! segment ends. The key goes as `Authorization: Bearer <key>`.
//!
//! Down: `input_audio_buffer.committed` names the item a commit made;
//! `conversation.item.input_audio_transcription.delta` adds words to an item (models that
//! stream send them while the caller speaks, others after the commit); `.completed` gives an
//! item's whole transcript and `.failed` its error. Items are answered in commit order.

use std::collections::VecDeque;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use vox_audio::StreamResampler;
use vox_core::{AudioFrame, INTERNAL_RATE, SampleRate};

use super::{Heard, Wire, authorization, stream_url};
use crate::{OpenAiEndpoint, ProviderError};

/// The public endpoint, when the configuration gives none.
pub(super) const DEFAULT_URL: &str = "wss://api.openai.com/v1/realtime";
/// The Realtime API's PCM rate.
const RATE: SampleRate = SampleRate(24_000);

/// A committed segment waiting for its transcript.
#[derive(Debug, Default)]
struct Item {
    /// The server's id for it, once known.
    id: Option<String>,
    /// Words so far (deltas).
    text: String,
    /// Its outcome, once the server gave it.
    done: Option<Result<String, String>>,
}

pub(super) struct Realtime {
    url: String,
    key: String,
    model: String,
    resampler: Option<StreamResampler>,
    resampled: Vec<i16>,
    /// Words of the speech not yet committed, and the server's item id for them if the
    /// model streams while the caller speaks.
    live: Item,
    /// Committed segments, oldest first.
    items: VecDeque<Item>,
}

impl Realtime {
    pub(super) fn new(endpoint: &OpenAiEndpoint) -> Self {
        Self {
            url: stream_url(endpoint, DEFAULT_URL, "intent=transcription"),
            key: endpoint.api_key.expose().to_owned(),
            model: endpoint.model.clone(),
            resampler: StreamResampler::new(INTERNAL_RATE, RATE).ok(),
            resampled: Vec::with_capacity(RATE.samples_in_ms(40)),
            live: Item::default(),
            items: VecDeque::new(),
        }
    }

    /// The item `id` names: a committed one, or the speech in progress.
    fn item_mut(&mut self, id: &str) -> &mut Item {
        match self.items.iter().position(|i| i.id.as_deref() == Some(id)) {
            Some(k) => &mut self.items[k],
            None => {
                self.live.id = Some(id.to_owned());
                &mut self.live
            }
        }
    }

    /// The outcomes of the oldest items that have one, in order.
    fn settle(&mut self) -> Vec<Heard> {
        let mut out = Vec::new();
        while self.items.front().is_some_and(|i| i.done.is_some()) {
            match self.items.pop_front().and_then(|i| i.done) {
                Some(Ok(text)) => out.push(Heard::Final(text)),
                Some(Err(why)) => out.push(Heard::SegmentFailed(why)),
                None => {}
            }
        }
        out
    }
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    item_id: Option<String>,
    #[serde(default)]
    delta: Option<String>,
    #[serde(default)]
    transcript: Option<String>,
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<String>,
}

impl Wire for Realtime {
    fn request(&self) -> (String, Vec<(&'static str, String)>) {
        (self.url.clone(), authorization("Bearer", &self.key))
    }

    fn opening(&mut self) -> Vec<Message> {
        let update = json!({
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {"input": {
                    "format": {"type": "audio/pcm", "rate": RATE.hz()},
                    "transcription": {"model": self.model},
                    "turn_detection": null
                }}
            }
        });
        vec![Message::text(update.to_string())]
    }

    fn audio(&mut self, frame: &AudioFrame) -> Message {
        self.resampled.clear();
        match self.resampler.as_mut() {
            Some(r) => r.process(frame.samples(), &mut self.resampled),
            None => self.resampled.extend_from_slice(frame.samples()),
        }
        let bytes: Vec<u8> = self
            .resampled
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let audio = base64::engine::general_purpose::STANDARD.encode(bytes);
        Message::text(json!({"type": "input_audio_buffer.append", "audio": audio}).to_string())
    }

    fn end_segment(&mut self) -> Vec<Message> {
        self.items.push_back(std::mem::take(&mut self.live));
        vec![Message::text(r#"{"type":"input_audio_buffer.commit"}"#)]
    }

    fn keep_alive(&self) -> Option<Message> {
        None
    }

    fn closing(&self) -> Vec<Message> {
        vec![]
    }

    fn read(&mut self, text: &str) -> Vec<Heard> {
        let Ok(m) = serde_json::from_str::<Incoming>(text) else {
            return vec![];
        };
        let id = m.item_id.unwrap_or_default();
        match m.kind.as_str() {
            "input_audio_buffer.committed" => {
                if !self
                    .items
                    .iter()
                    .any(|i| i.id.as_deref() == Some(id.as_str()))
                    && let Some(item) = self.items.iter_mut().find(|i| i.id.is_none())
                {
                    item.id = Some(id);
                }
                vec![]
            }
            "conversation.item.input_audio_transcription.delta" => {
                let item = self.item_mut(&id);
                item.text.push_str(m.delta.as_deref().unwrap_or(""));
                let words = item.text.trim().to_owned();
                if words.is_empty() {
                    vec![]
                } else {
                    vec![Heard::Interim(words)]
                }
            }
            "conversation.item.input_audio_transcription.completed" => {
                let transcript = m.transcript.unwrap_or_default().trim().to_owned();
                if let Some(item) = self
                    .items
                    .iter_mut()
                    .find(|i| i.id.as_deref() == Some(id.as_str()))
                {
                    item.done = Some(Ok(transcript));
                }
                self.settle()
            }
            "conversation.item.input_audio_transcription.failed" => {
                let why = m
                    .error
                    .map_or_else(|| "transcription failed".to_owned(), |e| e.message);
                if let Some(item) = self
                    .items
                    .iter_mut()
                    .find(|i| i.id.as_deref() == Some(id.as_str()))
                {
                    item.done = Some(Err(format!("openai-realtime: {why}")));
                }
                self.settle()
            }
            "error" => {
                let e = m.error.unwrap_or(ErrorBody {
                    message: "error".into(),
                    code: None,
                });
                // a commit the server refused (an empty buffer) fails its segment; anything
                // else (a bad key, a bad model, a bad session) ends the stream
                if let Some(item) = self.items.iter_mut().find(|i| i.id.is_none())
                    && e.code.as_deref().is_some_and(|c| c.contains("buffer"))
                {
                    item.done = Some(Err(format!("openai-realtime: {}", e.message)));
                    return self.settle();
                }
                vec![Heard::Fatal(ProviderError::new(
                    "asr",
                    format!("openai-realtime: {}", e.message),
                    false,
                ))]
            }
            _ => vec![], // session.created, session.updated, ...
        }
    }

    fn give_up(&mut self) -> String {
        self.items
            .pop_front()
            .map(|i| i.text.trim().to_owned())
            .unwrap_or_default()
    }

    fn reset(&mut self) {
        self.items.clear();
        self.live = Item::default();
        if let Some(r) = self.resampler.as_mut() {
            r.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> OpenAiEndpoint {
        OpenAiEndpoint {
            base_url: "ws://127.0.0.1:9/v1/realtime".into(),
            api_key: crate::Secret::new("sk-x"),
            model: "gpt-4o-transcribe".into(),
            voice: None,
            sample_rate: None,
            timeout_ms: None,
        }
    }

    fn ev(v: serde_json::Value) -> String {
        v.to_string()
    }

    #[test]
    fn segments_are_answered_in_commit_order() {
        let mut r = Realtime::new(&endpoint());
        // words stream in while the caller speaks (before any commit)
        let heard = r.read(&ev(json!({"type": "conversation.item.input_audio_transcription.delta", "item_id": "a", "delta": "I would"})));
        assert_eq!(heard, vec![Heard::Interim("I would".into())]);
        r.end_segment();
        r.end_segment(); // a second segment, its words only after its commit
        assert!(
            r.read(&ev(
                json!({"type": "input_audio_buffer.committed", "item_id": "a"})
            ))
            .is_empty()
        );
        assert!(
            r.read(&ev(
                json!({"type": "input_audio_buffer.committed", "item_id": "b"})
            ))
            .is_empty()
        );
        // the second finishes first: held until the first is done
        assert!(r.read(&ev(json!({"type": "conversation.item.input_audio_transcription.completed", "item_id": "b", "transcript": "Bye."}))).is_empty());
        let heard = r.read(&ev(json!({"type": "conversation.item.input_audio_transcription.completed", "item_id": "a", "transcript": " I would like to book. "})));
        assert_eq!(
            heard,
            vec![
                Heard::Final("I would like to book.".into()),
                Heard::Final("Bye.".into())
            ]
        );
    }

    #[test]
    fn failures_fail_their_segment_and_bad_sessions_end_the_stream() {
        let mut r = Realtime::new(&endpoint());
        r.end_segment();
        let heard = r.read(&ev(json!({"type": "error", "error": {"message": "buffer too small", "code": "input_audio_buffer_commit_empty"}})));
        assert!(
            matches!(&heard[..], [Heard::SegmentFailed(m)] if m.contains("too small")),
            "{heard:?}"
        );
        let heard = r.read(&ev(json!({"type": "error", "error": {"message": "Incorrect API key", "code": "invalid_api_key"}})));
        assert!(
            matches!(&heard[..], [Heard::Fatal(e)] if !e.retryable),
            "{heard:?}"
        );
    }

    #[test]
    fn the_session_asks_for_transcription_of_24_khz_pcm() {
        let mut r = Realtime::new(&endpoint());
        let (url, headers) = r.request();
        assert_eq!(url, "ws://127.0.0.1:9/v1/realtime?intent=transcription");
        assert_eq!(headers, vec![("authorization", "Bearer sk-x".to_owned())]);
        let opening = r.opening();
        let Some(Message::Text(update)) = opening.first() else {
            panic!("text")
        };
        let v: serde_json::Value = serde_json::from_str(update).expect("json");
        assert_eq!(v["session"]["type"], "transcription");
        assert_eq!(v["session"]["audio"]["input"]["format"]["rate"], 24_000);
        assert_eq!(
            v["session"]["audio"]["input"]["transcription"]["model"],
            "gpt-4o-transcribe"
        );
        // 20 ms at 16 kHz in, about 20 ms at 24 kHz out (the resampler holds a few samples)
        let mut samples = 0;
        for _ in 0..10 {
            let Message::Text(m) = r.audio(&AudioFrame::silence()) else {
                panic!("text")
            };
            let v: serde_json::Value = serde_json::from_str(&m).expect("json");
            let b = base64::engine::general_purpose::STANDARD
                .decode(v["audio"].as_str().expect("audio"))
                .expect("base64");
            samples += b.len() / 2;
        }
        assert!(
            (4700..=4800).contains(&samples),
            "{samples} samples for 200 ms"
        );
    }
}
