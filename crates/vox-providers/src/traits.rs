use futures::stream::BoxStream;
use tokio::sync::mpsc;
use vox_core::{AudioFrame, ChatMessage, ToolSpec, VadOutput};

use crate::ProviderError;

/// What an ASR session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum AsrEvent {
    /// A partial hypothesis for the speech in progress (may change).
    Interim(String),
    /// The final transcript of one stretch of speech.
    Final(String),
    /// The provider failed on a stretch of speech.
    Error(ProviderError),
}

/// One call's speech-recognition session. Send every caller frame with the VAD's verdict;
/// read events. Dropping `audio` ends the session. Both channels are bounded: if the
/// session falls behind, the caller of `try_send` decides (the call actor drops and counts).
#[derive(Debug)]
pub struct AsrSession {
    /// Caller audio in.
    pub audio: mpsc::Sender<(AudioFrame, VadOutput)>,
    /// Events out.
    pub events: mpsc::Receiver<AsrEvent>,
}

/// A speech recognizer.
pub trait AsrProvider: Send + Sync + std::fmt::Debug {
    /// Starts a session for one call. Must be called inside a tokio runtime.
    fn session(&self) -> AsrSession;
}

/// What to ask the model.
#[derive(Debug, Clone, Default)]
pub struct LlmRequest {
    /// The conversation, system prompt first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    pub tools: Vec<ToolSpec>,
}

/// A piece of the model's streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmDelta {
    /// More reply text.
    Text(String),
    /// A fragment of tool call number `index`: id and name come once, arguments in pieces.
    ToolCall {
        /// Which call of this reply.
        index: usize,
        /// The call's id, when first seen.
        id: Option<String>,
        /// The tool's name, when first seen.
        name: Option<String>,
        /// The next piece of the JSON arguments.
        arguments: String,
    },
}

/// A streamed answer; ends when the model is done.
pub type LlmStream = BoxStream<'static, Result<LlmDelta, ProviderError>>;

/// A chat model with tool calling.
pub trait LlmProvider: Send + Sync + std::fmt::Debug {
    /// Streams the model's answer to `request`. Connection errors arrive as the first item.
    fn stream(&self, request: LlmRequest) -> LlmStream;
}

/// An end-of-turn model: from the caller's recent audio (16 kHz, up to 8 s, ending at the
/// VAD's end of speech), the probability that they have finished their turn.
pub trait EndOfTurnModel: Send + Sync + std::fmt::Debug {
    /// Predicts; errors (a busy model included) leave endpointing to the VAD and transcript.
    fn predict(
        &self,
        audio: Vec<i16>,
    ) -> futures::future::BoxFuture<'static, Result<f32, ProviderError>>;
}

/// Sentence embeddings (L2-normalised, so a dot product is the cosine similarity).
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// One vector per text.
    fn embed(
        &self,
        texts: Vec<String>,
    ) -> futures::future::BoxFuture<'static, Result<Vec<Vec<f32>>, ProviderError>>;
}

/// Synthesized audio: 16 kHz mono chunks of any length.
pub type TtsStream = BoxStream<'static, Result<Vec<i16>, ProviderError>>;

/// A speech synthesizer.
pub trait TtsProvider: Send + Sync + std::fmt::Debug {
    /// Streams the speech of `text` in the provider's configured voice.
    fn synthesize(&self, text: String) -> TtsStream;
}
