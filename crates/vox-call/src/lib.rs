//! The per-call actor and the call registry.
//!
//! A call is one [`CallActor`]: it owns the call's [`Conversation`](vox_engine::Conversation),
//! its [`Playout`] pacer and its cancellation token, and runs one `select!` loop over caller
//! audio, transport events (marks, DTMF, stop), engine timers and playout deadlines. Every
//! change to conversation state passes through that loop, so there is one ordering point.
//!
//! Deliberately absent: carrier dialects, codecs and sockets (vox-media owns the transport
//! and speaks to the actor through [`CallIo`]), and vendor names.
//!
//! Channels: caller audio goes through an [`audio_queue`] that drops the *oldest* frame when
//! full (caller audio cannot slow down); transport events through a bounded mpsc whose
//! sender waits (marks must not be lost); outbound messages through a bounded mpsc the
//! actor awaits, and playout is paced so at most `send_ahead` of audio is ever in flight.

mod actor;
mod audio_queue;
mod background;
pub mod metrics;
mod playout;
pub mod recorder;
mod registry;
mod session;
mod tasks;

pub use actor::{
    CallActor, CallConfig, CallControl, CallEnd, CallIo, CallObserver, CallServices, CallSummary,
    OutboundMsg, TransportEvent, Unresponsive,
};
pub use audio_queue::{AudioReceiver, AudioSender, CallerFrame, audio_queue};
pub use background::Tasks;
pub use playout::{Playout, PlayoutEvent};
pub use registry::{Admission, AdmitError, CallRegistry};
pub use session::{AgentCatalog, AgentListing, AgentSession, OpenCallError};
