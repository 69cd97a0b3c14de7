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
//! # Driving a conversation
//!
//! The contract, which the call actor keeps and the tests keep in virtual time:
//! - `now` never goes backwards, and every input carries the time it happened;
//! - after every input, take actions with `poll_action` until it gives `None`, and carry
//!   them out in order;
//! - then wait for the next input or `poll_timeout`, whichever comes first; at the timeout,
//!   hand in [`Input::Tick`]. A timer, once due, changes the state when ticked, so a driver
//!   that ticks at the deadline never spins (the property test checks it);
//! - after [`Action::Hangup`] the conversation takes no more inputs into account and asks
//!   for nothing more.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use vox_engine::{Action, Conversation, EchoAgent, EchoConfig, Input};
//!
//! let mut conversation = EchoAgent::new(EchoConfig::default());
//! let mut now = Instant::now();
//! let mut inputs = vec![Input::Tick].into_iter(); // frames, transcripts, marks, ...
//! loop {
//!     let input = match conversation.poll_timeout() {
//!         // a real driver waits for the earlier of the next input and the deadline
//!         Some(deadline) if deadline <= now + Duration::from_millis(20) => {
//!             now = now.max(deadline);
//!             Input::Tick
//!         }
//!         _ => match inputs.next() {
//!             Some(input) => input,
//!             None => break,
//!         },
//!     };
//!     conversation.handle_input(now, input);
//!     while let Some(action) = conversation.poll_action() {
//!         match action {
//!             Action::Hangup { .. } => return,
//!             _ => { /* speak, start the LLM, run a tool, ... */ }
//!         }
//!     }
//!     now += Duration::from_millis(20);
//! }
//! ```
//!
//! Deliberately absent: tokio, I/O, providers, vendors. Agents are data ([`AgentSpec`]).

mod agent;
mod echo;
mod io;
pub mod survey;
pub mod text;
mod voice;
pub mod workflow;

pub use agent::{AgentError, AgentSpec, AgentType, Patience, Personality, ToolDef, ToolKind};
pub use echo::{EchoAgent, EchoConfig};
pub use io::{Action, Conversation, DropReason, Input, LlmCall, LlmEvent, TranscriptEntry};
pub use voice::{EngineConfig, VoiceAgent};
pub use workflow::Workflow;
