//! What a call runs: a conversation and the providers it uses, and where agents come from.

use vox_engine::Conversation;

use crate::CallServices;

/// A conversation and the providers it uses, for one call.
#[derive(Debug)]
pub struct AgentSession {
    /// The conversation policy.
    pub conversation: Box<dyn Conversation>,
    /// Its providers.
    pub services: CallServices,
}

/// Builds the conversation for an agent id; the composition root decides which agents exist.
pub trait AgentCatalog: Send + Sync + 'static {
    /// A new session for `agent_id`, or `None` if there is no such agent.
    fn create(&self, agent_id: &str) -> Option<AgentSession>;

    /// The agents a caller may pick (the console's list); none by default.
    fn listing(&self) -> Vec<AgentListing> {
        Vec::new()
    }
}

/// An agent as a picker shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentListing {
    /// What a call names it by.
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// Why a stream that claims to be a call set up by the control plane (its parameters carry a
/// `callId`) is refused. The text goes into the WebSocket close frame, so it names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenCallError {
    /// This server takes no such calls.
    #[error("this server takes no control-plane calls")]
    NotServed,
    /// The token is not of our making's shape.
    #[error("malformed call token")]
    MalformedToken,
    /// The token was not made for this call and agent by this server.
    #[error("invalid call token")]
    InvalidToken,
    /// The token is too old.
    #[error("expired call token")]
    ExpiredToken,
    /// No such call record.
    #[error("unknown call")]
    UnknownCall,
    /// The call is another agent's.
    #[error("the token is for another agent")]
    WrongAgent,
    /// The agent was deleted since the call was set up.
    #[error("the agent was deleted")]
    AgentDeleted,
    /// A stream already carried this call, or it ended.
    #[error("this call was already connected or has ended")]
    AlreadyConnected,
    /// The runtime of stored agents cannot be built (models missing, ...; logged).
    #[error("this server cannot run API agents (see its log: voice_agents)")]
    RuntimeUnavailable,
    /// The database failed (logged).
    #[error("internal error")]
    Internal,
}
