//! The agents this server runs: the built-in diagnostic `echo`, and LLM agents loaded from
//! files (`vox serve --agent FILE`, TOML or JSON).
//!
//! An agent file holds the seed's voice-agent fields under `agent`, and the providers under
//! `llm`, `asr` and `tts` (OpenAI-compatible endpoints). An `apiKey` of the form
//! `env:NAME` is read from the environment, so keys need not sit in files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tracing::warn;
use vox_call::CallServices;
use vox_engine::{AgentSpec, EchoAgent, EchoConfig, EngineConfig, VoiceAgent};
use vox_media::{AgentCatalog, AgentSession};
use vox_providers::{OpenAiAsr, OpenAiEndpoint, OpenAiLlm, OpenAiTts, Secret, SegmentedAsr};
use vox_tools::AgentTools;

use crate::config::{Config, EchoSection};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    agent: AgentSpec,
    llm: LlmChoice,
    asr: AsrChoice,
    tts: TtsChoice,
}

/// Speech synthesis: an OpenAI-compatible endpoint, or a local voice by name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TtsChoice {
    Local(LocalTts),
    Endpoint(OpenAiEndpoint),
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
enum LocalTts {
    /// Piper en_US-joe-medium with espeak-ng phonemes (`vox models fetch`).
    #[serde(rename = "piper-joe")]
    PiperJoe,
}

/// The language model: an OpenAI-compatible endpoint, a local model by name, or "none" (a
/// workflow agent that follows its graph by sentence similarity).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LlmChoice {
    Local(LocalLlmName),
    Endpoint(OpenAiEndpoint),
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
enum LocalLlmName {
    #[serde(rename = "none")]
    None,
    /// SmolLM2-135M-Instruct on candle, grammar-constrained tool calls (`vox models fetch`).
    #[serde(rename = "smollm2-135m")]
    Smollm2,
}

/// Local models loaded once and shared by every agent that names them.
#[derive(Default)]
struct Shared {
    whisper: std::collections::HashMap<LocalAsr, Arc<dyn vox_providers::AsrProvider>>,
    piper: Option<Arc<dyn vox_providers::TtsProvider>>,
    llm: Option<Arc<dyn vox_providers::LlmProvider>>,
}

/// Speech recognition: an OpenAI-compatible endpoint, or a local model by name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AsrChoice {
    Local(LocalAsr),
    Endpoint(OpenAiEndpoint),
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Hash)]
enum LocalAsr {
    /// Whisper tiny.en on whisper.cpp (`vox models fetch`).
    #[serde(rename = "whisper-tiny.en")]
    WhisperTinyEn,
    /// Whisper base on whisper.cpp: more robust, about twice the compute.
    #[serde(rename = "whisper-base")]
    WhisperBase,
}

#[derive(Debug)]
struct LoadedAgent {
    spec: AgentSpec,
    services: CallServices,
    without_llm: bool,
}

/// All agents, by id.
#[derive(Debug)]
pub struct Agents {
    echo: EchoConfig,
    engine: EngineConfig,
    loaded: BTreeMap<String, LoadedAgent>,
    /// For the agents made through the API: their runtime is built on first use.
    cfg: Config,
    shared: std::sync::Mutex<Shared>,
    embedder: std::sync::Mutex<Option<Arc<dyn vox_providers::Embedder>>>,
    eot: Option<Arc<dyn vox_providers::EndOfTurnModel>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("whisper", &self.whisper.len())
            .field("piper", &self.piper.is_some())
            .field("llm", &self.llm.is_some())
            .finish()
    }
}

fn resolve_key(endpoint: &mut OpenAiEndpoint, what: &str) -> anyhow::Result<()> {
    if let Some(var) = endpoint.api_key.expose().strip_prefix("env:") {
        let value = std::env::var(var).with_context(|| {
            format!("{what}.apiKey names the environment variable {var}, which is not set")
        })?;
        endpoint.api_key = Secret::new(value);
    }
    Ok(())
}

impl Agents {
    /// Echo plus the agents in `files`.
    pub fn load(cfg: &Config, files: &[std::path::PathBuf]) -> anyhow::Result<Self> {
        let eot: Option<Arc<dyn vox_providers::EndOfTurnModel>> =
            match cfg.conversation.end_of_turn_model {
                crate::config::EndOfTurnKind::None => None,
                crate::config::EndOfTurnKind::SmartTurn if files.is_empty() => None, // only LLM agents use it
                crate::config::EndOfTurnKind::SmartTurn => {
                    let models = vox_models::Models::new(&cfg.models.dir);
                    Some(Arc::new(vox_models::SmartTurn::load(&models, 1).context(
                        "conversation.end_of_turn_model is \"smart-turn\"",
                    )?))
                }
            };
        let mut shared = Shared::default();
        let mut embedder: Option<Arc<dyn vox_providers::Embedder>> = None;
        let mut loaded = BTreeMap::new();
        for path in files {
            let mut agent = load_file(path, cfg, &mut shared)?;
            if agent.without_llm {
                if embedder.is_none() {
                    let models = vox_models::Models::new(&cfg.models.dir);
                    let e = vox_models::MiniLm::load(&models).with_context(|| {
                        format!(
                            "{}: llm = \"none\" needs the MiniLM embeddings",
                            path.display()
                        )
                    })?;
                    embedder = Some(Arc::new(e));
                }
                agent.services.embedder = embedder.clone();
            }
            agent.services.eot = eot.clone();
            if agent.spec.id == "echo" || loaded.contains_key(&agent.spec.id) {
                bail!(
                    "{}: agent id {:?} is already taken",
                    path.display(),
                    agent.spec.id
                );
            }
            loaded.insert(agent.spec.id.clone(), agent);
        }
        Ok(Self {
            echo: echo_config(&cfg.echo),
            engine: engine_config(cfg),
            loaded,
            cfg: cfg.clone(),
            shared: std::sync::Mutex::new(shared),
            embedder: std::sync::Mutex::new(embedder),
            eot,
        })
    }

    /// The providers of API-made agents (`voice_agents` in the config), loading local models
    /// on first use (blocking: call from a blocking thread); whether they run without an LLM.
    pub fn api_runtime(&self) -> anyhow::Result<(CallServices, bool)> {
        let v = &self.cfg.voice_agents;
        let mut llm: LlmChoice = serde_json::from_value(v.llm.clone()).context("voice_agents.llm: a local model name (\"smollm2-135m\", \"none\") or { baseUrl, apiKey, model }")?;
        let mut asr: AsrChoice = serde_json::from_value(v.asr.clone()).context(
            "voice_agents.asr: \"whisper-tiny.en\", \"whisper-base\" or { baseUrl, apiKey, model }",
        )?;
        let mut tts: TtsChoice = serde_json::from_value(v.tts.clone())
            .context("voice_agents.tts: \"piper-joe\" or { baseUrl, apiKey, model, voice }")?;
        let mut shared = self
            .shared
            .lock()
            .map_err(|_| anyhow::anyhow!("model cache poisoned"))?;
        let (mut services, without_llm) = build_services(
            &mut llm,
            &mut asr,
            &mut tts,
            None,
            &self.cfg,
            &mut shared,
            "voice_agents",
        )?;
        if without_llm {
            let mut embedder = self
                .embedder
                .lock()
                .map_err(|_| anyhow::anyhow!("model cache poisoned"))?;
            if embedder.is_none() {
                let models = vox_models::Models::new(&self.cfg.models.dir);
                *embedder = Some(Arc::new(
                    vox_models::MiniLm::load(&models)
                        .context("voice_agents.llm = \"none\" needs the MiniLM embeddings")?,
                ));
            }
            services.embedder = embedder.clone();
        }
        services.eot = self.eot.clone();
        Ok((services, without_llm))
    }

    /// The sentence embedder for knowledge-base search, loaded on first use (blocking: call
    /// from a blocking thread); `None` (keyword search only) when the model is not installed.
    pub fn knowledge_embedder(&self) -> Option<Arc<dyn vox_providers::Embedder>> {
        let mut embedder = self.embedder.lock().ok()?;
        if embedder.is_none() {
            let models = vox_models::Models::new(&self.cfg.models.dir);
            match vox_models::MiniLm::load(&models) {
                Ok(e) => *embedder = Some(Arc::new(e)),
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "no MiniLM embeddings: knowledge-base search is keyword-only (run `vox models fetch`)")
                }
            }
        }
        embedder.clone()
    }

    /// A session for an API-made agent on the runtime from [`Self::api_runtime`].
    pub fn api_session(
        &self,
        spec: AgentSpec,
        mut services: CallServices,
        without_llm: bool,
    ) -> AgentSession {
        services.tools = Some(Arc::new(AgentTools::new(
            spec.tools.clone(),
            self.cfg.tools.allow_private_networks,
            Duration::from_millis(self.cfg.tools.timeout_ms),
        )));
        let conversation: Box<dyn vox_engine::Conversation> =
            if without_llm && spec.workflow.is_some() {
                Box::new(VoiceAgent::without_llm(spec, self.engine.clone()))
            } else {
                Box::new(VoiceAgent::new(spec, self.engine.clone()))
            };
        AgentSession {
            conversation,
            services,
        }
    }

    /// Agent ids, loaded agents first (in file order is not kept: sorted), then `echo`.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.loaded.keys().cloned().collect();
        ids.push("echo".into());
        ids
    }
}

fn load_file(path: &Path, cfg: &Config, shared: &mut Shared) -> anyhow::Result<LoadedAgent> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read agent file {}", path.display()))?;
    let mut file: AgentFile = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(&text)
            .with_context(|| format!("invalid agent file {}", path.display()))?,
        Some("toml") => toml::from_str(&text)
            .with_context(|| format!("invalid agent file {}", path.display()))?,
        _ => bail!("agent file {} must end in .toml or .json", path.display()),
    };
    file.agent
        .validate()
        .with_context(|| format!("invalid agent file {}", path.display()))?;
    if matches!(file.llm, LlmChoice::Local(LocalLlmName::None)) && file.agent.workflow.is_none() {
        bail!(
            "{}: llm = \"none\" needs a workflow (the graph is followed without a model)",
            path.display()
        );
    }
    let label = path.display().to_string();
    let (mut services, without_llm) = build_services(
        &mut file.llm,
        &mut file.asr,
        &mut file.tts,
        file.agent.voice_id.as_deref(),
        cfg,
        shared,
        &label,
    )?;
    services.tools = Some(Arc::new(AgentTools::new(
        file.agent.tools.clone(),
        cfg.tools.allow_private_networks,
        Duration::from_millis(cfg.tools.timeout_ms),
    )));
    Ok(LoadedAgent {
        spec: file.agent,
        services,
        without_llm,
    })
}

/// The providers for an `llm` / `asr` / `tts` choice (local models loaded once into `shared`);
/// whether the agent runs without an LLM. `label` names the choice's origin in errors.
fn build_services(
    llm: &mut LlmChoice,
    asr: &mut AsrChoice,
    tts: &mut TtsChoice,
    voice_id: Option<&str>,
    cfg: &Config,
    shared: &mut Shared,
    label: &str,
) -> anyhow::Result<(CallServices, bool)> {
    let (llm, without_llm): (Option<Arc<dyn vox_providers::LlmProvider>>, bool) = match llm {
        LlmChoice::Endpoint(e) => {
            resolve_key(e, "llm")?;
            (Some(Arc::new(OpenAiLlm::new(e))), false)
        }
        LlmChoice::Local(LocalLlmName::Smollm2) => {
            let llm = match &shared.llm {
                Some(l) => l.clone(),
                None => {
                    let models = vox_models::Models::new(&cfg.models.dir);
                    let l: Arc<dyn vox_providers::LlmProvider> = Arc::new(
                        vox_models::LocalLlm::load(
                            &models,
                            vox_models::LocalLlmConfig {
                                tool_calls: cfg.models.local_llm_tool_calls,
                                ..Default::default()
                            },
                        )
                        .with_context(|| format!("{}: llm = \"smollm2-135m\"", label))?,
                    );
                    shared.llm = Some(l.clone());
                    l
                }
            };
            (Some(llm), false)
        }
        LlmChoice::Local(LocalLlmName::None) => (None, true),
    };
    let tts: Arc<dyn vox_providers::TtsProvider> = match tts {
        TtsChoice::Endpoint(e) => {
            resolve_key(e, "tts")?;
            if e.voice.is_none() {
                e.voice = voice_id.map(str::to_owned);
            }
            Arc::new(OpenAiTts::new(e))
        }
        TtsChoice::Local(LocalTts::PiperJoe) => match &shared.piper {
            Some(p) => p.clone(),
            None => {
                let models = vox_models::Models::new(&cfg.models.dir);
                let p: Arc<dyn vox_providers::TtsProvider> = Arc::new(
                    vox_models::PiperTts::load(&models)
                        .with_context(|| format!("{}: tts = \"piper-joe\"", label))?,
                );
                shared.piper = Some(p.clone());
                p
            }
        },
    };
    let asr: Arc<dyn vox_providers::AsrProvider> = match asr {
        AsrChoice::Endpoint(e) => {
            resolve_key(e, "asr")?;
            Arc::new(SegmentedAsr::new(Arc::new(OpenAiAsr::new(e))))
        }
        AsrChoice::Local(which) => match shared.whisper.get(which) {
            Some(w) => w.clone(),
            None => {
                let models = vox_models::Models::new(&cfg.models.dir);
                // One worker, one compute thread: ggml's threads spin at barriers, and on two
                // cores shared with live audio two threads measured 3.06 s per 5 s turn
                // against 1.03 s with one.
                let model = if *which == LocalAsr::WhisperBase {
                    vox_models::WhisperModel::Base
                } else {
                    vox_models::WhisperModel::TinyEn
                };
                let local = vox_models::WhisperLocal::load_model(&models, model, 1, 1, true)
                    .with_context(|| format!("{}: asr = {which:?}", label))?;
                let w: Arc<dyn vox_providers::AsrProvider> =
                    Arc::new(SegmentedAsr::new(Arc::new(local)));
                shared.whisper.insert(*which, w.clone());
                w
            }
        },
    };
    let services = CallServices {
        asr: Some(asr),
        llm,
        tts: Some(tts),
        tools: None,
        eot: None,
        embedder: None,
        observer: None,
        control: None,
        recording: None,
    };
    Ok((services, without_llm))
}

fn echo_config(echo: &EchoSection) -> EchoConfig {
    EchoConfig {
        turn_end_silence: Duration::from_millis(echo.turn_end_silence_ms),
        preroll: Duration::from_millis(echo.preroll_ms),
        max_utterance: Duration::from_millis(echo.max_utterance_ms),
    }
}

fn engine_config(cfg: &Config) -> EngineConfig {
    let c = &cfg.conversation;
    EngineConfig {
        min_endpointing: Duration::from_millis(c.min_endpointing_ms),
        max_endpointing: Duration::from_millis(c.max_endpointing_ms),
        min_interrupt: Duration::from_millis(c.min_interrupt_ms),
        min_interrupt_words: c.min_interrupt_words,
        false_interrupt_timeout: Duration::from_millis(c.false_interrupt_timeout_ms),
        idle_reminder_after: Duration::from_secs(c.idle_reminder_after_secs),
        max_reminders: c.max_reminders,
        silence_timeout: Duration::from_secs(c.silence_timeout_secs),
        max_duration: Duration::from_secs(c.max_duration_secs),
        end_of_turn_threshold: c.end_of_turn_threshold,
        ..EngineConfig::default()
    }
}

impl AgentCatalog for Agents {
    fn create(&self, agent_id: &str) -> Option<AgentSession> {
        if agent_id == "echo" {
            return Some(AgentSession {
                conversation: Box::new(EchoAgent::new(self.echo)),
                services: CallServices::default(),
            });
        }
        let a = self.loaded.get(agent_id)?;
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
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;
    use crate::config::Overrides;

    #[test]
    fn the_example_agent_file_loads_and_a_missing_key_is_named() {
        let cfg = Config::load(None, &Overrides::default()).expect("defaults");
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/agents/example.toml");
        // figment::Jail serialises environment changes with the other Jail tests.
        figment::Jail::expect_with(|jail| {
            let err = Agents::load(&cfg, std::slice::from_ref(&example)).expect_err("key unset");
            assert!(format!("{err:#}").contains("OPENAI_API_KEY"), "{err:#}");
            jail.set_env("OPENAI_API_KEY", "sk-example");
            let agents = Agents::load(&cfg, std::slice::from_ref(&example)).expect("example loads");
            assert_eq!(agents.ids(), vec!["plumbing".to_owned(), "echo".to_owned()]);
            assert!(
                agents.create("plumbing").is_some()
                    && agents.create("echo").is_some()
                    && agents.create("nope").is_none()
            );
            Ok(())
        });
    }
}
