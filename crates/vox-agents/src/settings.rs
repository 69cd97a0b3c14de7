//! The configuration sections agents run by: `[conversation]` (turn-taking), `[echo]` (the
//! diagnostic agent) and `[tools]`, as written in the configuration file (see
//! config/default.toml for every key), each checked once at start and turned into what the
//! engine and the tools take.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vox_engine::{EchoConfig, EngineConfig};
use vox_tools::HttpGuard;

use crate::catalog::FunctionToolSettings;

/// `[conversation]`: turn-taking for LLM agents.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSettings {
    /// Wait after the end of speech when the turn looks complete.
    pub min_endpointing_ms: u64,
    /// ... when it looks unfinished, or the end-of-turn model says so.
    pub max_endpointing_ms: u64,
    /// The end-of-turn model asked at each end of speech.
    pub end_of_turn_model: EndOfTurnModel,
    /// Its probability below which the caller is taken as not done.
    pub end_of_turn_threshold: f32,
    /// A final still missing this long after the endpointing wait: answer the interim.
    pub interim_answer_after_ms: u64,
    /// Caller speech over the agent for this long is an interruption.
    pub min_interrupt_ms: u64,
    /// ... as are this many words that are not backchannels.
    pub min_interrupt_words: usize,
    /// After speech over the agent that was no interruption, resume after this.
    pub false_interrupt_timeout_ms: u64,
    /// Caller silence before a reminder.
    pub idle_reminder_after_secs: u64,
    /// Reminders per stretch of silence.
    pub max_reminders: u32,
    /// Caller silence that ends the call.
    pub silence_timeout_secs: u64,
    /// The longest call.
    pub max_duration_secs: u64,
}

/// Which end-of-turn model LLM agents consult.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndOfTurnModel {
    /// None: the VAD and the transcript decide.
    None,
    /// Smart Turn v3.2 (local model).
    SmartTurn,
}

impl ConversationSettings {
    /// What is wrong with it, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if self.max_endpointing_ms < self.min_endpointing_ms {
            return Err(format!(
                "conversation.max_endpointing_ms ({}) must be at least min_endpointing_ms ({})",
                self.max_endpointing_ms, self.min_endpointing_ms
            ));
        }
        if self.max_duration_secs == 0 || self.silence_timeout_secs == 0 {
            return Err(
                "conversation.max_duration_secs and silence_timeout_secs must be at least 1".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.end_of_turn_threshold) {
            return Err(format!(
                "conversation.end_of_turn_threshold must be in 0..1, got {}",
                self.end_of_turn_threshold
            ));
        }
        Ok(())
    }

    /// The engine's settings.
    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            min_endpointing: Duration::from_millis(self.min_endpointing_ms),
            max_endpointing: Duration::from_millis(self.max_endpointing_ms),
            min_interrupt: Duration::from_millis(self.min_interrupt_ms),
            min_interrupt_words: self.min_interrupt_words,
            false_interrupt_timeout: Duration::from_millis(self.false_interrupt_timeout_ms),
            idle_reminder_after: Duration::from_secs(self.idle_reminder_after_secs),
            max_reminders: self.max_reminders,
            silence_timeout: Duration::from_secs(self.silence_timeout_secs),
            max_duration: Duration::from_secs(self.max_duration_secs),
            end_of_turn_threshold: self.end_of_turn_threshold,
            interim_answer_after: Duration::from_millis(self.interim_answer_after_ms),
            ..EngineConfig::default()
        }
    }
}

/// `[echo]`: the diagnostic agent plays the caller's utterance back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EchoSettings {
    /// Silence after the VAD's end of speech that ends the utterance.
    pub turn_end_silence_ms: u64,
    /// Audio kept from before the speech started.
    pub preroll_ms: u64,
    /// The longest utterance played back.
    pub max_utterance_ms: u64,
}

impl EchoSettings {
    /// The echo agent's settings.
    pub fn config(&self) -> EchoConfig {
        EchoConfig {
            turn_end_silence: Duration::from_millis(self.turn_end_silence_ms),
            preroll: Duration::from_millis(self.preroll_ms),
            max_utterance: Duration::from_millis(self.max_utterance_ms),
        }
    }
}

/// `[tools]`: what tools may reach and how long they may take.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsSettings {
    /// Loopback, private and link-local addresses allowed.
    pub allow_private_networks: bool,
    /// A tool call's time limit.
    pub timeout_ms: u64,
    /// The most of a reply that is read.
    pub max_response_bytes: usize,
    /// Where the googleCal tool's appointments live.
    pub calendar: CalendarBackend,
    /// The Calendar REST API's base.
    pub google_api_base: String,
    /// Vox's Google service account: its JSON key, or a secret's reference to it
    /// (`file:PATH`, `env:NAME`) that the binary resolves. Businesses share their calendars
    /// with its `client_email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_service_account_key: Option<String>,
    /// Instead of a service account (development: Google's tokens expire within the hour):
    /// a fixed access token (may be a secret's reference) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_access_token: Option<String>,
    /// ... and the account it belongs to, which calendars are shared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_account_email: Option<String>,
}

/// Where the googleCal tool's appointments live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CalendarBackend {
    /// Vox's own database.
    Builtin,
    /// The business's Google Calendar.
    Google,
}

impl ToolsSettings {
    /// What is wrong with it, naming the key.
    pub fn check(&self) -> Result<(), String> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let key = set(&self.google_service_account_key);
        let token = set(&self.google_access_token);
        let email = set(&self.google_account_email);
        if key && (token || email) {
            return Err("tools.google_service_account_key and tools.google_access_token / google_account_email are alternatives: set one".into());
        }
        if token != email {
            return Err(
                "tools.google_access_token and tools.google_account_email go together".into(),
            );
        }
        if self.calendar == CalendarBackend::Google && !key && !token {
            return Err(
                "tools.calendar = \"google\" needs tools.google_service_account_key (e.g. \"file:/etc/vox/google-key.json\"), or tools.google_access_token with tools.google_account_email"
                    .into(),
            );
        }
        Ok(())
    }

    /// A tool call's time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The gate of every tool request.
    pub fn guard(&self) -> HttpGuard {
        HttpGuard {
            allow_private: self.allow_private_networks,
            max_response_bytes: self.max_response_bytes,
            ..HttpGuard::default()
        }
    }

    /// What file agents' function tools may reach.
    pub fn function_tools(&self) -> FunctionToolSettings {
        FunctionToolSettings {
            allow_private_networks: self.allow_private_networks,
            timeout: self.timeout(),
        }
    }
}
