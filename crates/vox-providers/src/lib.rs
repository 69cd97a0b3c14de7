//! Speech recognition, language model and speech synthesis behind small traits, and
//! adapters for servers that speak the OpenAI API (OpenAI, vLLM, llama.cpp server,
//! faster-whisper-server, ...).
//!
//! - [`AsrProvider`]: a session per call; caller frames (with the VAD's verdict) in,
//!   [`AsrEvent`]s out: per VAD segment ([`SegmentedAsr`], over `/audio/transcriptions` or a
//!   local model) or streamed while the caller speaks ([`LiveAsr`]: Deepgram's live API,
//!   OpenAI Realtime transcription).
//! - [`LlmProvider`]: messages + tools in, a stream of text and tool-call deltas out.
//! - [`TtsProvider`]: text in, a stream of 16 kHz audio out.
//!
//! Every error is a [`ProviderError`] that says whether retrying may help.
//!
//! Deliberately absent: conversation policy (vox-engine decides when to call what) and
//! anything about carriers or calls.

mod error;
mod incremental;
mod live;
mod openai;
mod segmented;
mod traits;

pub use error::ProviderError;
pub use incremental::IncrementalAsr;
pub use live::{LiveAsr, LiveProtocol};
pub use openai::{OpenAiAsr, OpenAiEndpoint, OpenAiLlm, OpenAiTts, Secret};
pub use segmented::{SegmentTranscriber, SegmentedAsr};
pub use traits::{
    AsrEvent, AsrProvider, AsrSession, Embedder, EndOfTurnModel, LlmDelta, LlmProvider, LlmRequest,
    LlmStream, TtsProvider, TtsStream,
};
