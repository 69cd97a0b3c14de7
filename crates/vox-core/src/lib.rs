//! Vox's shared vocabulary: identifiers, the one internal audio format, and units.
//!
//! This crate deliberately does nothing: no async, no I/O, no clock, no DSP. It exists so
//! that every other crate agrees on what a call id, a turn id and an audio frame are.
//!
//! Main types: [`AudioFrame`] (16 kHz mono i16, 20 ms, fixed size, no heap),
//! [`SampleRate`], [`CallId`], [`TurnId`], [`AgentId`].

mod frame;
mod ids;

pub use frame::{
    AudioFrame, FRAME_DURATION, FRAME_MS, FRAME_SAMPLES, INTERNAL_RATE, SampleRate, dbfs,
};
pub use ids::{AgentId, CallId, TurnId};

mod vad;
pub use vad::{VadEvent, VadOutput};

mod chat;
mod latency;
pub use chat::{ChatMessage, Role, ToolCall, ToolSpec};
pub use latency::TurnLatency;
