//! The providers behind agents: a [`ProviderChoices`] becomes the call's speech recognizer,
//! language model and voice. Local models are loaded once per process, on first use, and
//! shared by every agent that names them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vox_call::CallServices;
use vox_models::{Models, WhisperModel};
use vox_providers::{
    AsrProvider, Embedder, EndOfTurnModel, IncrementalAsr, LiveAsr, LlmProvider, OpenAiAsr,
    OpenAiLlm, OpenAiTts, SegmentedAsr, TtsProvider,
};

use crate::AgentsError;
use crate::choice::{AsrChoice, LlmChoice, LocalAsr, ProviderChoices, TtsChoice};

/// Local models loaded so far.
#[derive(Default)]
struct Loaded {
    whisper: HashMap<LocalAsr, Arc<dyn AsrProvider>>,
    piper: Option<Arc<dyn TtsProvider>>,
    llm: Option<Arc<dyn LlmProvider>>,
    embedder: Option<Arc<dyn Embedder>>,
}

/// How the local models behave (`[models]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalModelOptions {
    /// The local LLM may call the agent's tools.
    pub llm_tool_calls: bool,
    /// Piper samples its noise (natural variation) rather than speaking a text the same way
    /// every time.
    pub tts_noise: bool,
    /// Local Whisper transcribes while the caller speaks ([`IncrementalAsr`]) rather than
    /// once per segment after it ends.
    pub whisper_streaming: bool,
    /// With streaming, speech between interim passes (`None`: no interims, only the passes
    /// at pauses that make finals early).
    pub whisper_interim: Option<std::time::Duration>,
    /// Compute threads a Whisper pass may use when it runs alone on an idle machine.
    pub whisper_idle_threads: u32,
}

/// Builds providers from choices; owns the local models. Cheap to share (`Arc`).
pub struct Providers {
    models: Models,
    options: LocalModelOptions,
    eot: Option<Arc<dyn EndOfTurnModel>>,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("models", &self.models)
            .field("eot", &self.eot.is_some())
            .finish_non_exhaustive()
    }
}

impl Providers {
    /// Local models from `models`; `eot` is the end-of-turn model every LLM agent consults.
    pub fn new(
        models: Models,
        options: LocalModelOptions,
        eot: Option<Arc<dyn EndOfTurnModel>>,
    ) -> Self {
        Self {
            models,
            options,
            eot,
            loaded: Mutex::default(),
        }
    }

    fn loaded(&self) -> std::sync::MutexGuard<'_, Loaded> {
        // a panic while loading leaves only a missing model behind: carry on
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The services for `choices`, loading local models on first use (blocking: call from a
    /// blocking thread, or at start). `voice_id` is the agent's voice for endpoints that
    /// name none; `label` says where the choices come from, in errors.
    pub fn services(
        &self,
        choices: &ProviderChoices,
        voice_id: Option<&str>,
        label: &str,
    ) -> Result<CallServices, AgentsError> {
        let model_error = |what: &str, source| AgentsError::Model {
            what: format!("{label}: {what}"),
            source,
        };
        let llm: Option<Arc<dyn LlmProvider>> = match &choices.llm {
            LlmChoice::Endpoint(e) => Some(Arc::new(OpenAiLlm::new(e))),
            LlmChoice::None => None,
            LlmChoice::Smollm2 => {
                let mut loaded = self.loaded();
                Some(match &loaded.llm {
                    Some(l) => l.clone(),
                    None => {
                        let config = vox_models::LocalLlmConfig {
                            tool_calls: self.options.llm_tool_calls,
                            ..Default::default()
                        };
                        let l: Arc<dyn LlmProvider> = Arc::new(
                            vox_models::LocalLlm::load(&self.models, config)
                                .map_err(|e| model_error("llm = \"smollm2-135m\"", e))?,
                        );
                        loaded.llm = Some(l.clone());
                        l
                    }
                })
            }
        };
        let tts: Arc<dyn TtsProvider> = match &choices.tts {
            TtsChoice::Endpoint(e) => {
                let mut e = e.clone();
                if e.voice.is_none() {
                    e.voice = voice_id.map(str::to_owned);
                }
                Arc::new(OpenAiTts::new(&e))
            }
            TtsChoice::PiperJoe => {
                let mut loaded = self.loaded();
                match &loaded.piper {
                    Some(p) => p.clone(),
                    None => {
                        let p: Arc<dyn TtsProvider> = Arc::new(
                            vox_models::PiperTts::load_with_noise(
                                &self.models,
                                self.options.tts_noise,
                            )
                            .map_err(|e| model_error("tts = \"piper-joe\"", e))?,
                        );
                        loaded.piper = Some(p.clone());
                        p
                    }
                }
            }
        };
        let asr: Arc<dyn AsrProvider> = match &choices.asr {
            AsrChoice::Endpoint(e) => Arc::new(SegmentedAsr::new(Arc::new(OpenAiAsr::new(e)))),
            AsrChoice::Streaming(protocol, e) => Arc::new(LiveAsr::new(*protocol, e)),
            AsrChoice::Local(which) => {
                let mut loaded = self.loaded();
                match loaded.whisper.get(which) {
                    Some(w) => w.clone(),
                    None => {
                        let model = match which {
                            LocalAsr::WhisperBase => WhisperModel::Base,
                            LocalAsr::WhisperTinyEn => WhisperModel::TinyEn,
                        };
                        // One worker, one compute thread, more only for a lone pass on an
                        // idle machine: ggml's threads spin at barriers, and on two cores
                        // shared with live audio two threads measured 3.06 s per 5 s turn
                        // against 1.03 s with one.
                        let local =
                            vox_models::WhisperLocal::load_model(&self.models, model, 1, 1, true)
                                .map_err(|e| model_error(&format!("asr = {:?}", which.name()), e))?
                                .with_idle_threads(
                                    i32::try_from(self.options.whisper_idle_threads).unwrap_or(1),
                                );
                        let w: Arc<dyn AsrProvider> = if self.options.whisper_streaming {
                            Arc::new(IncrementalAsr::new(
                                Arc::new(local),
                                self.options.whisper_interim,
                            ))
                        } else {
                            Arc::new(SegmentedAsr::new(Arc::new(local)))
                        };
                        loaded.whisper.insert(*which, w.clone());
                        w
                    }
                }
            }
        };
        let embedder = if choices.without_llm() {
            Some(self.embedder().map_err(|e| match e {
                AgentsError::Model { source, .. } => model_error(
                    "llm = \"none\" follows the workflow by MiniLM embeddings",
                    source,
                ),
                other => other,
            })?)
        } else {
            None
        };
        Ok(CallServices {
            asr: Some(asr),
            llm,
            tts: Some(tts),
            eot: self.eot.clone(),
            embedder,
            ..CallServices::default()
        })
    }

    /// The sentence embedder (MiniLM), loaded on first use (blocking).
    pub fn embedder(&self) -> Result<Arc<dyn Embedder>, AgentsError> {
        let mut loaded = self.loaded();
        if let Some(e) = &loaded.embedder {
            return Ok(e.clone());
        }
        let e: Arc<dyn Embedder> =
            Arc::new(vox_models::MiniLm::load(&self.models).map_err(|source| {
                AgentsError::Model {
                    what: "MiniLM sentence embeddings".into(),
                    source,
                }
            })?);
        loaded.embedder = Some(e.clone());
        Ok(e)
    }

    /// The embedder for knowledge-base search: `None` (keyword search only, logged) when the
    /// model is not installed.
    pub fn knowledge_embedder(&self) -> Option<Arc<dyn Embedder>> {
        match self.embedder() {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "knowledge-base search is keyword-only (run `vox models fetch`)");
                None
            }
        }
    }
}
