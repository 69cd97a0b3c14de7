//! Adapters for servers that speak the OpenAI API.

mod asr;
mod llm;
mod tts;

pub use asr::OpenAiAsr;
pub use llm::OpenAiLlm;
pub use tts::OpenAiTts;

use serde::{Deserialize, Serialize};

/// A secret (API key). Never printed: `Debug` and `Display` show `***`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Where an OpenAI-compatible endpoint is and how to use it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenAiEndpoint {
    /// Base URL including the version path, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// API key (sent as a bearer token); empty for servers without auth.
    #[serde(default)]
    pub api_key: Secret,
    /// Model name.
    pub model: String,
    /// TTS only: the voice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// TTS only: sample rate of the server's raw PCM (OpenAI: 24000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Longest wait for the server's next bytes (the reply's start, an LLM's first token,
    /// each later chunk), in ms; longer fails the request, which the conversation retries or
    /// apologises for. Default 15000; a transcription request as a whole gets twice this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl OpenAiEndpoint {
    /// See [`timeout_ms`](Self::timeout_ms).
    pub(crate) fn read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS).max(1))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

/// The default of [`OpenAiEndpoint::timeout_ms`].
const DEFAULT_TIMEOUT_MS: u64 = 15_000;

/// The HTTP client of `endpoint`: a provider that stops sending (no reply, no first token, a
/// stalled stream) fails within the endpoint's read timeout instead of holding the turn.
pub(crate) fn http_client(endpoint: &OpenAiEndpoint) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .read_timeout(endpoint.read_timeout())
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_printed() {
        let e = OpenAiEndpoint {
            base_url: "http://x/v1".into(),
            api_key: Secret::new("sk-123"),
            model: "m".into(),
            voice: None,
            sample_rate: None,
            timeout_ms: None,
        };
        let dbg = format!("{e:?}");
        assert!(!dbg.contains("sk-123"), "{dbg}");
        assert_eq!(e.url("/chat/completions"), "http://x/v1/chat/completions");
    }
}
