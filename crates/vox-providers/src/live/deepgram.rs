//! Deepgram's live streaming API (`wss://api.deepgram.com/v1/listen`).
//!
//! Up: raw 16-bit 16 kHz mono PCM as binary messages; `{"type":"Finalize"}` when Vox's VAD
//! ends a segment; `{"type":"KeepAlive"}` between segments; `{"type":"CloseStream"}` at the
//! end. The key goes as `Authorization: Token <key>`.
//!
//! Down: `Results` with `is_final` (these words will not change) and `from_finalize` (the
//! answer to a `Finalize`). Deepgram's own endpointing is off (`endpointing=false`): the
//! segments are Vox's, so every segment's words are settled by its `Finalize`, and the
//! result marked `from_finalize` closes it.

use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use vox_core::{AudioFrame, INTERNAL_RATE};

use super::{Heard, Wire, authorization, stream_url};
use crate::{OpenAiEndpoint, ProviderError};

/// The public endpoint, when the configuration gives none.
pub(super) const DEFAULT_URL: &str = "wss://api.deepgram.com/v1/listen";

pub(super) struct Deepgram {
    url: String,
    key: String,
    /// Words settled (`is_final`) of the oldest segment not yet finalized.
    settled: String,
}

impl Deepgram {
    pub(super) fn new(endpoint: &OpenAiEndpoint) -> Self {
        let query = format!(
            "model={}&encoding=linear16&sample_rate={}&channels=1&interim_results=true&punctuate=true&endpointing=false",
            endpoint.model,
            INTERNAL_RATE.hz()
        );
        let url = stream_url(endpoint, DEFAULT_URL, &query);
        Self {
            url,
            key: endpoint.api_key.expose().to_owned(),
            settled: String::new(),
        }
    }
}

/// A message from Deepgram (only what Vox reads of it).
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    is_final: bool,
    #[serde(default)]
    from_finalize: bool,
    /// Error messages carry these.
    #[serde(default)]
    err_msg: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct Channel {
    #[serde(default)]
    alternatives: Vec<Alternative>,
}

#[derive(Deserialize)]
struct Alternative {
    #[serde(default)]
    transcript: String,
}

/// `a` and `b` with one space between them (either may be empty).
fn join(a: &str, b: &str) -> String {
    match (a.trim(), b.trim()) {
        ("", b) => b.to_owned(),
        (a, "") => a.to_owned(),
        (a, b) => format!("{a} {b}"),
    }
}

impl Wire for Deepgram {
    fn request(&self) -> (String, Vec<(&'static str, String)>) {
        (self.url.clone(), authorization("Token", &self.key))
    }

    fn opening(&mut self) -> Vec<Message> {
        vec![]
    }

    fn audio(&mut self, frame: &AudioFrame) -> Message {
        let bytes: Vec<u8> = frame
            .samples()
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        Message::Binary(bytes.into())
    }

    fn end_segment(&mut self) -> Vec<Message> {
        vec![Message::text(r#"{"type":"Finalize"}"#)]
    }

    fn keep_alive(&self) -> Option<Message> {
        Some(Message::text(r#"{"type":"KeepAlive"}"#))
    }

    fn closing(&self) -> Vec<Message> {
        vec![Message::text(r#"{"type":"CloseStream"}"#)]
    }

    fn read(&mut self, text: &str) -> Vec<Heard> {
        let Ok(m) = serde_json::from_str::<Incoming>(text) else {
            return vec![];
        };
        if let Some(why) = m.err_msg.or(if m.kind == "Error" {
            m.description
        } else {
            None
        }) {
            return vec![Heard::Fatal(ProviderError::new(
                "asr",
                format!("deepgram: {why}"),
                false,
            ))];
        }
        if m.kind != "Results" {
            return vec![]; // Metadata, SpeechStarted, UtteranceEnd
        }
        let words = m
            .channel
            .and_then(|c| c.alternatives.into_iter().next())
            .map(|a| a.transcript)
            .unwrap_or_default();
        if !m.is_final {
            let so_far = join(&self.settled, &words);
            return if so_far.is_empty() {
                vec![]
            } else {
                vec![Heard::Interim(so_far)]
            };
        }
        self.settled = join(&self.settled, &words);
        if m.from_finalize {
            vec![Heard::Final(std::mem::take(&mut self.settled))]
        } else if self.settled.is_empty() {
            vec![]
        } else {
            vec![Heard::Interim(self.settled.clone())]
        }
    }

    fn give_up(&mut self) -> String {
        std::mem::take(&mut self.settled)
    }

    fn reset(&mut self) {
        self.settled.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(words: &str, is_final: bool, from_finalize: bool) -> String {
        serde_json::json!({
            "type": "Results", "is_final": is_final, "speech_final": false, "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": words, "confidence": 0.9}]}
        })
        .to_string()
    }

    fn endpoint(base: &str) -> OpenAiEndpoint {
        OpenAiEndpoint {
            base_url: base.into(),
            api_key: crate::Secret::new("dg-key"),
            model: "nova-3".into(),
            voice: None,
            sample_rate: None,
            timeout_ms: None,
        }
    }

    #[test]
    fn interims_grow_on_settled_words_and_the_finalize_answer_closes_the_segment() {
        let mut d = Deepgram::new(&endpoint(""));
        assert_eq!(
            d.read(&results("I would", false, false)),
            vec![Heard::Interim("I would".into())]
        );
        assert_eq!(
            d.read(&results("I would like", true, false)),
            vec![Heard::Interim("I would like".into())]
        );
        assert_eq!(
            d.read(&results("to book", false, false)),
            vec![Heard::Interim("I would like to book".into())]
        );
        assert_eq!(
            d.read(&results("to book a cleaning.", true, true)),
            vec![Heard::Final("I would like to book a cleaning.".into())]
        );
        // the next segment starts from nothing
        assert_eq!(
            d.read(&results("", true, true)),
            vec![Heard::Final(String::new())]
        );
        assert!(d.read(r#"{"type":"Metadata","request_id":"x"}"#).is_empty());
    }

    #[test]
    fn the_request_names_the_audio_and_carries_the_key() {
        let d = Deepgram::new(&endpoint("ws://127.0.0.1:9/v1/listen"));
        let (url, headers) = d.request();
        assert!(
            url.starts_with(
                "ws://127.0.0.1:9/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000"
            ),
            "{url}"
        );
        assert!(
            url.contains("interim_results=true") && url.contains("endpointing=false"),
            "{url}"
        );
        assert_eq!(headers, vec![("authorization", "Token dg-key".to_owned())]);
        assert_eq!(
            Deepgram::new(&endpoint("")).request().0.split('?').next(),
            Some(DEFAULT_URL)
        );
    }

    #[test]
    fn an_error_message_is_fatal() {
        let mut d = Deepgram::new(&endpoint(""));
        let heard = d.read(r#"{"type":"Error","description":"bad audio"}"#);
        assert!(
            matches!(&heard[..], [Heard::Fatal(e)] if e.message.contains("bad audio")),
            "{heard:?}"
        );
    }
}
