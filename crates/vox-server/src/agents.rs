//! The agents this server can run. For now the built-in diagnostic `echo`.

use std::time::Duration;

use vox_engine::{Conversation, EchoAgent, EchoConfig};
use vox_media::AgentCatalog;

use crate::config::EchoSection;

/// Built-in agents, by id.
#[derive(Debug, Clone)]
pub struct BuiltinAgents {
    echo: EchoConfig,
}

impl BuiltinAgents {
    pub fn new(echo: &EchoSection) -> Self {
        Self {
            echo: EchoConfig {
                turn_end_silence: Duration::from_millis(echo.turn_end_silence_ms),
                preroll: Duration::from_millis(echo.preroll_ms),
                max_utterance: Duration::from_millis(echo.max_utterance_ms),
            },
        }
    }
}

impl AgentCatalog for BuiltinAgents {
    fn create(&self, agent_id: &str) -> Option<Box<dyn Conversation>> {
        match agent_id {
            "echo" => Some(Box::new(EchoAgent::new(self.echo))),
            _ => None,
        }
    }
}
