//! Why an agent could not be loaded or a stored agent's call could not be opened.

/// The errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// A local model could not be loaded.
    #[error("{what}: {source}")]
    Model {
        /// Which model, and who asked for it.
        what: String,
        /// What went wrong.
        #[source]
        source: vox_models::ModelError,
    },
    /// An agent file that does not parse.
    #[error("invalid agent file {label}: {message}")]
    Parse {
        /// The file.
        label: String,
        /// The parser's message (it names the field).
        message: String,
    },
    /// An agent that breaks one of the seed's rules.
    #[error("invalid agent file {label}: {source}")]
    Invalid {
        /// The file.
        label: String,
        /// The rule.
        #[source]
        source: vox_engine::AgentError,
    },
    /// Something about the agent file that cannot run.
    #[error("{label}: {problem}")]
    Unusable {
        /// The file.
        label: String,
        /// What.
        problem: String,
    },
    /// The control-plane database.
    #[error(transparent)]
    Store(#[from] vox_store::StoreError),
}
