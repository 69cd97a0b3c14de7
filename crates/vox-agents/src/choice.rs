//! What an agent runs on: the `llm`, `asr` and `tts` of an agent file and of
//! `[voice_agents]`, each a local model by name or an OpenAI-compatible endpoint.
//!
//! Parsed once, where the configuration is read: a misspelt name is refused there with the
//! accepted values, never at the first call.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use vox_providers::{LiveProtocol, OpenAiEndpoint};

/// A choice read as a name or as a table, before it is checked.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Name(String),
    Table(serde_json::Map<String, serde_json::Value>),
}

/// Reads a name from `names` or an endpoint table; the error lists what is accepted.
fn choose<'de, D: Deserializer<'de>, T: Copy>(
    d: D,
    what: &str,
    names: &[(&'static str, T)],
    endpoint_fields: &str,
) -> Result<Result<T, OpenAiEndpoint>, D::Error> {
    let accepted = || {
        let list: Vec<String> = names.iter().map(|(n, _)| format!("{n:?}")).collect();
        format!(
            "{}, or an OpenAI-compatible endpoint {{ {endpoint_fields} }}",
            list.join(", ")
        )
    };
    let raw = Raw::deserialize(d)
        .map_err(|_| de::Error::custom(format!("{what} must be one of {}", accepted())))?;
    match raw {
        Raw::Name(name) => names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| Ok(*v))
            .ok_or_else(|| {
                de::Error::custom(format!("unknown {what} {name:?}: expected {}", accepted()))
            }),
        Raw::Table(map) => serde_json::from_value(serde_json::Value::Object(map))
            .map(Err)
            .map_err(|e| de::Error::custom(format!("{what} endpoint: {e}"))),
    }
}

/// The language model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmChoice {
    /// No model: a workflow agent that follows its graph by sentence similarity.
    None,
    /// SmolLM2-135M-Instruct on candle, grammar-constrained tool calls.
    Smollm2,
    /// An OpenAI-compatible chat-completions server.
    Endpoint(OpenAiEndpoint),
}

/// Speech recognition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsrChoice {
    /// A local Whisper on whisper.cpp.
    Local(LocalAsr),
    /// An OpenAI-compatible transcription server, one request per VAD segment.
    Endpoint(OpenAiEndpoint),
    /// A hosted streaming recognizer (`protocol = "deepgram"` or `"openai-realtime"` in the
    /// endpoint table): audio streamed while the caller speaks, interim words back.
    Streaming(LiveProtocol, OpenAiEndpoint),
}

/// The local recognizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalAsr {
    /// Whisper tiny.en.
    WhisperTinyEn,
    /// Whisper base: more robust, about twice the compute.
    WhisperBase,
}

/// Speech synthesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtsChoice {
    /// Piper en_US-joe-medium with espeak-ng phonemes.
    PiperJoe,
    /// An OpenAI-compatible `/audio/speech` server returning raw PCM.
    Endpoint(OpenAiEndpoint),
}

/// The local language models by name.
#[derive(Clone, Copy)]
enum LlmName {
    None,
    Smollm2,
}

/// The local voices by name.
#[derive(Clone, Copy)]
enum TtsName {
    PiperJoe,
}

const LLM_NAMES: &[(&str, LlmName)] =
    &[("none", LlmName::None), ("smollm2-135m", LlmName::Smollm2)];
const ASR_NAMES: &[(&str, LocalAsr)] = &[
    ("whisper-tiny.en", LocalAsr::WhisperTinyEn),
    ("whisper-base", LocalAsr::WhisperBase),
];
const TTS_NAMES: &[(&str, TtsName)] = &[("piper-joe", TtsName::PiperJoe)];
const FIELDS: &str = "baseUrl, apiKey, model";

impl<'de> Deserialize<'de> for LlmChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match choose(d, "llm", LLM_NAMES, FIELDS)? {
            Ok(LlmName::None) => Self::None,
            Ok(LlmName::Smollm2) => Self::Smollm2,
            Err(e) => Self::Endpoint(e),
        })
    }
}

/// How an ASR endpoint is spoken to: the `protocol` of its table.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum AsrProtocol {
    /// `POST /audio/transcriptions` per segment (the default).
    Openai,
    Deepgram,
    OpenaiRealtime,
}

const ASR_FIELDS: &str =
    "protocol (\"openai\", \"deepgram\" or \"openai-realtime\"), baseUrl, apiKey, model";

impl<'de> Deserialize<'de> for AsrChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // the protocol is the ASR's own field: taken out before the endpoint is read
        let mut value = serde_json::Value::deserialize(d)?;
        let protocol = match value.as_object_mut().and_then(|m| m.remove("protocol")) {
            None => AsrProtocol::Openai,
            Some(p) => serde_json::from_value(p).map_err(|_| {
                de::Error::custom(
                    "asr protocol must be \"openai\", \"deepgram\" or \"openai-realtime\"",
                )
            })?,
        };
        // a hosted recognizer's public URL when none is given
        let default_url = match protocol {
            AsrProtocol::Openai => None,
            AsrProtocol::Deepgram => Some(LiveProtocol::Deepgram.default_url()),
            AsrProtocol::OpenaiRealtime => Some(LiveProtocol::OpenaiRealtime.default_url()),
        };
        if let (Some(url), Some(m)) = (default_url, value.as_object_mut()) {
            m.entry("baseUrl").or_insert_with(|| url.into());
        }
        let choice = choose(value, "asr", ASR_NAMES, ASR_FIELDS).map_err(de::Error::custom)?;
        if let (Err(e), AsrProtocol::Deepgram | AsrProtocol::OpenaiRealtime) = (&choice, &protocol)
            && !(e.base_url.starts_with("ws://") || e.base_url.starts_with("wss://"))
        {
            return Err(de::Error::custom(format!(
                "asr baseUrl {:?}: a streaming protocol needs a ws:// or wss:// URL",
                e.base_url
            )));
        }
        Ok(match (choice, protocol) {
            (Ok(local), _) => Self::Local(local),
            (Err(e), AsrProtocol::Openai) => Self::Endpoint(e),
            (Err(e), AsrProtocol::Deepgram) => Self::Streaming(LiveProtocol::Deepgram, e),
            (Err(e), AsrProtocol::OpenaiRealtime) => {
                Self::Streaming(LiveProtocol::OpenaiRealtime, e)
            }
        })
    }
}

impl<'de> Deserialize<'de> for TtsChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match choose(
                d,
                "tts",
                TTS_NAMES,
                "baseUrl, apiKey, model, voice, sampleRate",
            )? {
                Ok(TtsName::PiperJoe) => Self::PiperJoe,
                Err(e) => Self::Endpoint(e),
            },
        )
    }
}

impl LlmChoice {
    /// The name a local choice is written as.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            Self::None => Some("none"),
            Self::Smollm2 => Some("smollm2-135m"),
            Self::Endpoint(_) => None,
        }
    }
}

impl LocalAsr {
    /// The name it is written as.
    pub fn name(self) -> &'static str {
        match self {
            Self::WhisperTinyEn => "whisper-tiny.en",
            Self::WhisperBase => "whisper-base",
        }
    }
}

impl Serialize for LlmChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.name(), self) {
            (Some(n), _) => s.serialize_str(n),
            (None, Self::Endpoint(e)) => e.serialize(s),
            (None, _) => s.serialize_none(),
        }
    }
}

impl Serialize for AsrChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Local(l) => s.serialize_str(l.name()),
            Self::Endpoint(e) => e.serialize(s),
            Self::Streaming(protocol, e) => {
                let mut v = serde_json::to_value(e).map_err(serde::ser::Error::custom)?;
                if let Some(m) = v.as_object_mut() {
                    m.insert("protocol".into(), protocol.name().into());
                }
                v.serialize(s)
            }
        }
    }
}

impl Serialize for TtsChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::PiperJoe => s.serialize_str("piper-joe"),
            Self::Endpoint(e) => e.serialize(s),
        }
    }
}

/// The three choices together: an agent file's or `[voice_agents]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderChoices {
    /// The language model.
    pub llm: LlmChoice,
    /// Speech recognition.
    pub asr: AsrChoice,
    /// Speech synthesis.
    pub tts: TtsChoice,
}

impl ProviderChoices {
    /// The endpoints' API keys, for resolving `env:NAME` references, labelled by field.
    pub fn api_keys_mut(&mut self) -> Vec<(&'static str, &mut vox_providers::Secret)> {
        let mut out = Vec::new();
        if let LlmChoice::Endpoint(e) = &mut self.llm {
            out.push(("llm.apiKey", &mut e.api_key));
        }
        if let AsrChoice::Endpoint(e) | AsrChoice::Streaming(_, e) = &mut self.asr {
            out.push(("asr.apiKey", &mut e.api_key));
        }
        if let TtsChoice::Endpoint(e) = &mut self.tts {
            out.push(("tts.apiKey", &mut e.api_key));
        }
        out
    }

    /// Whether the agent runs without a language model.
    pub fn without_llm(&self) -> bool {
        self.llm == LlmChoice::None
    }

    /// Whether calls on these providers can only be held in English: a local English-only
    /// recognizer (Whisper tiny.en), voice (Piper Joe) or model (SmolLM2-135M, or none: a
    /// workflow's English sentences).
    pub fn english_only(&self) -> bool {
        matches!(self.asr, AsrChoice::Local(LocalAsr::WhisperTinyEn))
            || self.tts == TtsChoice::PiperJoe
            || matches!(self.llm, LlmChoice::None | LlmChoice::Smollm2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProviderChoices, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn names_and_endpoints_parse() {
        let c =
            parse("llm = \"none\"\nasr = \"whisper-base\"\ntts = \"piper-joe\"\n").expect("names");
        assert_eq!(c.llm, LlmChoice::None);
        assert_eq!(c.asr, AsrChoice::Local(LocalAsr::WhisperBase));
        assert_eq!(c.tts, TtsChoice::PiperJoe);
        assert!(c.without_llm());
        let c = parse(
            "llm = { baseUrl = \"http://x/v1\", model = \"m\" }\nasr = \"whisper-tiny.en\"\ntts = \"piper-joe\"\n",
        )
        .expect("endpoint");
        assert!(matches!(c.llm, LlmChoice::Endpoint(ref e) if e.model == "m"));
        // and back: what is printed parses to the same
        let back = toml::to_string(&c).expect("serialize");
        assert_eq!(parse(&back).expect("round trip"), c);
    }

    #[test]
    fn a_streaming_recognizer_is_an_endpoint_with_a_protocol() {
        let c = parse(
            "llm = \"none\"\nasr = { protocol = \"deepgram\", apiKey = \"k\", model = \"nova-3\" }\ntts = \"piper-joe\"\n",
        )
        .expect("deepgram");
        let AsrChoice::Streaming(LiveProtocol::Deepgram, e) = &c.asr else {
            panic!("{:?}", c.asr);
        };
        assert_eq!(
            (e.base_url.as_str(), e.model.as_str()),
            ("wss://api.deepgram.com/v1/listen", "nova-3")
        );
        let back = toml::to_string(&c).expect("serialize");
        assert_eq!(parse(&back).expect("round trip"), c);
        let c = parse(
            "llm = \"none\"\nasr = { protocol = \"openai-realtime\", baseUrl = \"ws://127.0.0.1:9/v1/realtime\", model = \"m\" }\ntts = \"piper-joe\"\n",
        )
        .expect("realtime");
        assert!(
            matches!(c.asr, AsrChoice::Streaming(LiveProtocol::OpenaiRealtime, ref e) if e.base_url.starts_with("ws://127"))
        );
        let back = toml::to_string(&c).expect("serialize");
        assert_eq!(parse(&back).expect("round trip"), c);
        // the default protocol is the per-segment transcription API
        let c = parse(
            "llm = \"none\"\nasr = { protocol = \"openai\", baseUrl = \"http://x/v1\", model = \"w\" }\ntts = \"piper-joe\"\n",
        )
        .expect("openai");
        assert!(matches!(c.asr, AsrChoice::Endpoint(_)));
        let e = parse(
            "llm = \"none\"\nasr = { protocol = \"vosk\", model = \"m\" }\ntts = \"piper-joe\"\n",
        )
        .expect_err("unknown protocol");
        assert!(
            e.contains("\"deepgram\"") && e.contains("\"openai-realtime\""),
            "{e}"
        );
        let e = parse(
            "llm = \"none\"\nasr = { protocol = \"deepgram\", baseUrl = \"https://api.deepgram.com/v1/listen\", model = \"m\" }\ntts = \"piper-joe\"\n",
        )
        .expect_err("not a WebSocket URL");
        assert!(e.contains("ws:// or wss://"), "{e}");
    }

    #[test]
    fn a_typo_names_the_field_and_the_accepted_values() {
        let e = parse("llm = \"smollm2\"\nasr = \"whisper-tiny.en\"\ntts = \"piper-joe\"\n")
            .expect_err("typo");
        assert!(
            e.contains("unknown llm \"smollm2\"")
                && e.contains("\"smollm2-135m\"")
                && e.contains("\"none\""),
            "{e}"
        );
        let e = parse("llm = \"none\"\nasr = \"whisper-tiny\"\ntts = \"piper-joe\"\n")
            .expect_err("typo");
        assert!(
            e.contains("asr") && e.contains("\"whisper-tiny.en\""),
            "{e}"
        );
        let e =
            parse("llm = \"none\"\nasr = \"whisper-base\"\ntts = \"piper\"\n").expect_err("typo");
        assert!(e.contains("tts") && e.contains("\"piper-joe\""), "{e}");
        let e = parse(
            "llm = { baseURL = \"http://x/v1\", model = \"m\" }\nasr = \"whisper-base\"\ntts = \"piper-joe\"\n",
        )
        .expect_err("field typo");
        assert!(e.contains("llm endpoint") && e.contains("baseURL"), "{e}");
        let e =
            parse("llm = 3\nasr = \"whisper-base\"\ntts = \"piper-joe\"\n").expect_err("number");
        assert!(e.contains("llm must be one of"), "{e}");
    }
}
