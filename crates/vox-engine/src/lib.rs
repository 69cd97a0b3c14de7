//! The conversation engine: what the agent does next, as a sans-IO state machine.
//!
//! A [`Conversation`] is driven by the per-call actor: it is handed inputs with the current
//! time (`handle_input(now, input)`), and the actor drains what it wants done
//! (`poll_action()`) and when it next wants to be woken (`poll_timeout()`). There is no
//! clock, no task, no socket and no channel in here, so conversations are replayed from
//! input tapes in virtual time.
//!
//! Implementations: [`VoiceAgent`] (turn-taking, barge-in with trimming to what was heard,
//! LLM replies streamed into TTS by sentence, tool calls, workflow graphs, reminders and
//! limits) and the diagnostic [`EchoAgent`].
//!
//! Deliberately absent: tokio, I/O, providers, vendors. Agents are data ([`AgentSpec`]).

mod agent;
mod echo;
mod io;
pub mod text;
mod voice;
pub mod workflow;

pub use agent::{AgentError, AgentSpec, AgentType, Personality, ToolDef, ToolKind};
pub use echo::{EchoAgent, EchoConfig};
pub use io::{Action, Conversation, Input, LlmCall, LlmEvent, TranscriptEntry};
pub use voice::{EngineConfig, VoiceAgent};
pub use workflow::Workflow;
