/// A provider failed. `retryable` says whether the same request may succeed later
/// (network errors, rate limits, 5xx) or not (bad request, bad key, bad model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {message}{}", if *.retryable { " (retryable)" } else { "" })]
pub struct ProviderError {
    /// Which provider ("llm", "asr", "tts").
    pub provider: &'static str,
    /// What went wrong (never contains secrets).
    pub message: String,
    /// Whether retrying may help.
    pub retryable: bool,
}

impl ProviderError {
    /// A new error.
    pub fn new(provider: &'static str, message: impl Into<String>, retryable: bool) -> Self {
        Self {
            provider,
            message: message.into(),
            retryable,
        }
    }

    /// Classifies an HTTP status: 408, 429 and 5xx are retryable.
    pub fn from_status(provider: &'static str, status: u16, body: &str) -> Self {
        let retryable = status == 408 || status == 429 || status >= 500;
        let body: String = body.chars().take(200).collect();
        Self::new(provider, format!("HTTP {status}: {body}"), retryable)
    }
}
