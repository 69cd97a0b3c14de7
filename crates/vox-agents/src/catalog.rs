//! Agents defined in files (`vox serve --agent FILE`), and the built-in diagnostic `echo`.
//!
//! An agent file holds the seed's voice-agent fields under `agent`, and the providers under
//! `llm`, `asr` and `tts` ([`crate::choice`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use vox_call::{AgentCatalog, AgentListing, AgentSession, CallServices};
use vox_engine::{AgentSpec, EchoAgent, EchoConfig, EngineConfig, VoiceAgent};
use vox_tools::AgentTools;

use crate::AgentsError;
use crate::choice::{AsrChoice, LlmChoice, ProviderChoices, TtsChoice};
use crate::providers::Providers;

/// An agent file, parsed (TOML or JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "RawFile")]
pub struct AgentFile {
    /// The seed's voice-agent fields.
    pub agent: AgentSpec,
    /// Its `llm`, `asr` and `tts`.
    pub providers: ProviderChoices,
}

/// An agent file as written: the agent and the three choices side by side.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    agent: AgentSpec,
    llm: LlmChoice,
    asr: AsrChoice,
    tts: TtsChoice,
}

impl From<RawFile> for AgentFile {
    fn from(r: RawFile) -> Self {
        Self {
            agent: r.agent,
            providers: ProviderChoices {
                llm: r.llm,
                asr: r.asr,
                tts: r.tts,
            },
        }
    }
}

/// An agent file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentFormat {
    /// `.toml`
    Toml,
    /// `.json`
    Json,
}

impl AgentFile {
    /// Parses and validates `text`; `label` (the file's path) names it in errors.
    pub fn parse(text: &str, format: AgentFormat, label: &str) -> Result<Self, AgentsError> {
        let parsed: Result<Self, String> = match format {
            AgentFormat::Toml => toml::from_str(text).map_err(|e| e.to_string()),
            AgentFormat::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        };
        let file = parsed.map_err(|message| AgentsError::Parse {
            label: label.to_owned(),
            message,
        })?;
        file.agent
            .validate()
            .map_err(|source| AgentsError::Invalid {
                label: label.to_owned(),
                source,
            })?;
        if file.providers.without_llm() && file.agent.workflow.is_none() {
            return Err(AgentsError::Unusable {
                label: label.to_owned(),
                problem: "llm = \"none\" needs a workflow (the graph is followed without a model)"
                    .into(),
            });
        }
        if file.agent.id == "echo" {
            return Err(AgentsError::Unusable {
                label: label.to_owned(),
                problem: "the agent id \"echo\" is the built-in diagnostic agent's".into(),
            });
        }
        Ok(file)
    }
}

/// What function tools of file agents may reach, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct FunctionToolSettings {
    /// Internal addresses allowed (`tools.allow_private_networks`).
    pub allow_private_networks: bool,
    /// Each call's time limit.
    pub timeout: Duration,
}

#[derive(Debug)]
struct FileAgent {
    spec: AgentSpec,
    services: CallServices,
    without_llm: bool,
}

/// The file agents and `echo`, by id: what a stream's `agentId` names.
#[derive(Debug)]
pub struct FileAgents {
    echo: EchoConfig,
    engine: EngineConfig,
    tools: FunctionToolSettings,
    agents: BTreeMap<String, FileAgent>,
}

impl FileAgents {
    /// Only `echo`, until agents are added.
    pub fn new(echo: EchoConfig, engine: EngineConfig, tools: FunctionToolSettings) -> Self {
        Self {
            echo,
            engine,
            tools,
            agents: BTreeMap::new(),
        }
    }

    /// Adds `file`'s agent, loading its local models (blocking).
    pub fn add(
        &mut self,
        file: AgentFile,
        providers: &Providers,
        label: &str,
    ) -> Result<(), AgentsError> {
        if self.agents.contains_key(&file.agent.id) {
            return Err(AgentsError::Unusable {
                label: label.to_owned(),
                problem: format!("agent id {:?} is already taken", file.agent.id),
            });
        }
        let choices = &file.providers;
        let mut services = providers.services(choices, file.agent.voice_id.as_deref(), label)?;
        services.tools = Some(Arc::new(AgentTools::new(
            file.agent.tools.clone(),
            self.tools.allow_private_networks,
            self.tools.timeout,
        )));
        self.agents.insert(
            file.agent.id.clone(),
            FileAgent {
                spec: file.agent,
                services,
                without_llm: choices.without_llm(),
            },
        );
        Ok(())
    }

    /// Agent ids: the file agents (sorted), then `echo`.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.agents.keys().cloned().collect();
        ids.push("echo".into());
        ids
    }
}

impl AgentCatalog for FileAgents {
    fn create(&self, agent_id: &str) -> Option<AgentSession> {
        if agent_id == "echo" {
            return Some(AgentSession {
                conversation: Box::new(EchoAgent::new(self.echo)),
                services: CallServices::default(),
            });
        }
        let a = self.agents.get(agent_id)?;
        let conversation = if a.without_llm {
            VoiceAgent::without_llm(a.spec.clone(), self.engine.clone())
        } else {
            VoiceAgent::new(a.spec.clone(), self.engine.clone())
        };
        Some(AgentSession {
            conversation: Box::new(conversation),
            services: a.services.clone(),
        })
    }

    fn listing(&self) -> Vec<AgentListing> {
        let mut all: Vec<AgentListing> = self
            .agents
            .values()
            .map(|a| AgentListing {
                id: a.spec.id.clone(),
                name: a.spec.name.clone(),
            })
            .collect();
        all.push(AgentListing {
            id: "echo".into(),
            name: "Echo (repeats what it hears)".into(),
        });
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_files_are_checked_when_parsed() {
        let example = include_str!("../../../config/agents/example.toml");
        let file = AgentFile::parse(example, AgentFormat::Toml, "example.toml").expect("example");
        assert_eq!(file.agent.id, "plumbing");
        assert!(matches!(file.providers.llm, LlmChoice::Endpoint(_)));
        let typo = example.replace("[llm]\nbaseUrl", "[llm]\nbaseURL");
        let e = AgentFile::parse(&typo, AgentFormat::Toml, "example.toml").expect_err("typo");
        assert!(
            e.to_string().contains("baseURL") && e.to_string().contains("example.toml"),
            "{e}"
        );
        let demo = include_str!("../../../config/agents/demo.toml");
        let no_graph = demo.replace("[agent.workflow]", "[agent.unused]");
        assert!(AgentFile::parse(demo, AgentFormat::Toml, "demo.toml").is_ok());
        assert!(AgentFile::parse(&no_graph, AgentFormat::Toml, "demo.toml").is_err());
    }

    #[test]
    fn echo_is_always_there_and_unknown_ids_are_not() {
        let agents = FileAgents::new(
            EchoConfig::default(),
            EngineConfig::default(),
            FunctionToolSettings {
                allow_private_networks: false,
                timeout: Duration::from_secs(1),
            },
        );
        assert_eq!(agents.ids(), vec!["echo".to_owned()]);
        let listed: Vec<String> = agents.listing().into_iter().map(|a| a.id).collect();
        assert_eq!(listed, agents.ids());
        assert!(agents.create("echo").is_some());
        assert!(agents.create("plumbing").is_none());
    }
}
