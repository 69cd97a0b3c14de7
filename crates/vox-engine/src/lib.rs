//! The conversation engine: what the agent does next, as a sans-IO state machine.
//!
//! A [`Conversation`] is driven by the per-call actor: it is handed inputs with the current
//! time (`handle_input(now, input)`), and the actor drains what it wants done
//! (`poll_action()`) and when it next wants to be woken (`poll_timeout()`). There is no
//! clock, no task, no socket and no channel in here, so conversations can be replayed from
//! input tapes in virtual time, thousands per second.
//!
//! Deliberately absent: tokio, I/O, providers. Today the only implementation is the
//! diagnostic [`EchoAgent`]; the LLM-driven engine comes next and implements the same trait.

mod echo;
mod io;

pub use echo::{EchoAgent, EchoConfig};
pub use io::{Action, Conversation, Input};
