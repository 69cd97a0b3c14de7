//! What agents run on, and what their calls leave behind.
//!
//! - [`choice`]: the `llm` / `asr` / `tts` of an agent file or of `[voice_agents]`, parsed
//!   once with errors that name the accepted values.
//! - [`Providers`]: choices become a call's recognizer, model and voice; local models are
//!   loaded once per process and shared.
//! - [`FileAgents`]: the agents of `vox serve --agent FILE` and the diagnostic `echo`, by id
//!   (the [`AgentCatalog`](vox_call::AgentCatalog) a stream's `agentId` picks from).
//! - [`StoredAgents`]: calls of agents made through the API, opened when their stream
//!   connects: tools, call control, recording, and a record writer ([`record`]) that keeps
//!   the call record current; after the call a summary and the extracted fields
//!   ([`artifacts`]); call-event webhooks through a durable outbox ([`events`]). The agent
//!   is told about the call it is placed on ([`brief`]).
//!
//! Deliberately absent: carriers (vox-carriers opens stored agents' calls when a carrier's
//! stream proves it was set up by us), reading files or the environment (the binary reads
//! agent files and hands their text over).

pub mod artifacts;
pub mod brief;
mod catalog;
pub mod choice;
mod error;
pub mod events;
mod providers;
pub mod record;
mod settings;
mod stored;

pub use catalog::{AgentFile, AgentFormat, FileAgents, FunctionToolSettings};
pub use choice::{AsrChoice, LlmChoice, LocalAsr, ProviderChoices, TtsChoice};
pub use error::AgentsError;
pub use events::{EventKind, Events};
pub use providers::{LocalModelOptions, Providers};
pub use record::LiveCalls;
pub use settings::{
    CalendarBackend, ConversationSettings, EchoSettings, EndOfTurnModel, ToolsSettings,
};
pub use stored::{CalendarChoice, ControlFactory, StoredAgents, StoredAgentsConfig};
pub use vox_tools::calendar::{CalendarSharing, GoogleAccount, ServiceAccount};
