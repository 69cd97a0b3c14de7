//! The one typed configuration tree, layered: defaults < file < env < flags.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Everything Vox can be configured with. Field docs live in config/default.toml.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub media: MediaSection,
    pub vad: VadConfig,
    pub models: ModelsConfig,
    pub echo: EchoSection,
    pub conversation: ConversationConfig,
    pub tools: ToolsConfig,
    pub store: StoreConfig,
    pub api: ApiConfig,
    pub telephony: TelephonyConfig,
    /// What runs the agents created through the API: as an agent file's `llm`, `asr`, `tts`.
    pub voice_agents: vox_agents::ProviderChoices,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB` (redacted when printed).
    pub url: String,
}

impl StoreConfig {
    /// The URL with any password replaced, for printing and logs.
    pub fn redacted_url(&self) -> String {
        match self.url.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((cred, host)) if cred.contains(':') => format!(
                    "{scheme}://{}:***@{host}",
                    cred.split(':').next().unwrap_or("")
                ),
                _ => self.url.clone(),
            },
            None => self.url.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelephonyConfig {
    /// Carrier accounts, each tagged by `carrier` with that carrier's own fields.
    pub pools: Vec<vox_carriers::PoolConfig>,
    /// The base URL carriers reach this server at (`https://vox.example.com`); empty: each
    /// webhook's own Host header, and `http://server.host:server.port` for outbound calls.
    pub public_url: String,
    /// Lifetime of the token a call's stream parameters carry.
    pub media_token_ttl_secs: u64,
}

/// A secret's value: `env:NAME` reads the environment, `file:PATH` a file; else the value.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    if let Some(var) = value.strip_prefix("env:") {
        return std::env::var(var)
            .map_err(|_| format!("names the environment variable {var}, which is not set"));
    }
    if let Some(path) = value.strip_prefix("file:") {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("names the file {path}, which cannot be read: {e}"));
    }
    Ok(value.to_owned())
}

impl TelephonyConfig {
    /// (carrier, number) of every pool.
    pub fn numbers(&self) -> Vec<(String, String)> {
        self.pools
            .iter()
            .flat_map(|p| {
                p.numbers()
                    .iter()
                    .map(|n| (p.dialect().name().to_owned(), n.clone()))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub token_ttl_secs: i64,
    pub files_dir: std::path::PathBuf,
    pub max_upload_bytes: usize,
    pub recordings_dir: std::path::PathBuf,
    pub webhook_max_attempts: u32,
    pub webhook_retry_secs: u64,
    pub webhook_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    pub min_endpointing_ms: u64,
    pub max_endpointing_ms: u64,
    pub end_of_turn_model: EndOfTurnKind,
    pub end_of_turn_threshold: f32,
    pub min_interrupt_ms: u64,
    pub min_interrupt_words: usize,
    pub false_interrupt_timeout_ms: u64,
    pub idle_reminder_after_secs: u64,
    pub max_reminders: u32,
    pub silence_timeout_secs: u64,
    pub max_duration_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolsConfig {
    pub allow_private_networks: bool,
    pub timeout_ms: u64,
    pub max_response_bytes: usize,
    pub calendar: CalendarBackendKind,
    pub google_api_base: String,
    /// The Google Calendar bearer token (needed with `calendar = "google"`); may be
    /// `env:NAME` or `file:PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_access_token: Option<String>,
}

/// Where the googleCal tool's appointments live.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CalendarBackendKind {
    /// Vox's own database.
    Builtin,
    /// Google Calendar.
    Google,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub max_concurrent_calls: usize,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    pub max_message_bytes: usize,
    pub send_ahead_ms: u64,
    pub audio_queue_frames: usize,
    pub default_agent: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VadConfig {
    pub kind: VadKind,
    pub start_ms: u32,
    pub stop_ms: u32,
    pub start_dbfs: f32,
    pub stop_dbfs: f32,
    pub threshold: f32,
    pub neg_threshold: f32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EndOfTurnKind {
    None,
    SmartTurn,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VadKind {
    Energy,
    Silero,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    pub dir: std::path::PathBuf,
    /// Let the local LLM (`llm = "smollm2-135m"`) call the agent's tools.
    pub local_llm_tool_calls: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EchoSection {
    pub turn_end_silence_ms: u64,
    pub preroll_ms: u64,
    pub max_utterance_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Command-line overrides, applied last.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub max_concurrent_calls: Option<usize>,
}

impl Config {
    /// Loads defaults < `file` < `VOX__*` environment < `overrides`, then validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::new().merge(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                bail!(
                    "config file {} does not exist (given with --config)",
                    path.display()
                );
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("VOX__").split("__"));
        if let Some(host) = &overrides.host {
            fig = fig.merge(("server.host", host));
        }
        if let Some(port) = overrides.port {
            fig = fig.merge(("server.port", port));
        }
        if let Some(n) = overrides.max_concurrent_calls {
            fig = fig.merge(("server.max_concurrent_calls", n));
        }
        let cfg: Config = fig.extract().map_err(|e| {
            let msgs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("invalid configuration: {}", msgs.join("; "))
        })?;
        cfg.validate().context("invalid configuration")?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.server.max_concurrent_calls == 0 {
            bail!("server.max_concurrent_calls must be at least 1");
        }
        if self.media.send_ahead_ms < 20 {
            bail!(
                "media.send_ahead_ms must be at least 20 (one frame), got {}",
                self.media.send_ahead_ms
            );
        }
        if self.media.max_message_bytes < 1024 {
            bail!(
                "media.max_message_bytes must be at least 1024, got {}",
                self.media.max_message_bytes
            );
        }
        if self.media.audio_queue_frames == 0 {
            bail!("media.audio_queue_frames must be at least 1");
        }
        let c = &self.conversation;
        if c.max_endpointing_ms < c.min_endpointing_ms {
            bail!(
                "conversation.max_endpointing_ms ({}) must be at least min_endpointing_ms ({})",
                c.max_endpointing_ms,
                c.min_endpointing_ms
            );
        }
        if c.max_duration_secs == 0 || c.silence_timeout_secs == 0 {
            bail!("conversation.max_duration_secs and silence_timeout_secs must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.vad.threshold) || self.vad.neg_threshold > self.vad.threshold
        {
            bail!("vad.threshold must be in 0..1 and vad.neg_threshold at most vad.threshold");
        }
        if self.tools.calendar == CalendarBackendKind::Google
            && self
                .tools
                .google_access_token
                .as_deref()
                .unwrap_or("")
                .is_empty()
        {
            bail!(
                "tools.calendar = \"google\" needs tools.google_access_token (e.g. \"env:GOOGLE_CALENDAR_TOKEN\")"
            );
        }
        if self.vad.stop_dbfs > self.vad.start_dbfs {
            bail!(
                "vad.stop_dbfs ({}) must not exceed vad.start_dbfs ({})",
                self.vad.stop_dbfs,
                self.vad.start_dbfs
            );
        }
        Ok(())
    }

    pub fn send_ahead(&self) -> Duration {
        Duration::from_millis(self.media.send_ahead_ms)
    }

    /// `[echo]` as the echo agent's settings.
    pub fn echo_config(&self) -> vox_engine::EchoConfig {
        let e = &self.echo;
        vox_engine::EchoConfig {
            turn_end_silence: Duration::from_millis(e.turn_end_silence_ms),
            preroll: Duration::from_millis(e.preroll_ms),
            max_utterance: Duration::from_millis(e.max_utterance_ms),
        }
    }

    /// `[conversation]` as the engine's settings.
    pub fn engine_config(&self) -> vox_engine::EngineConfig {
        let c = &self.conversation;
        vox_engine::EngineConfig {
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
            ..vox_engine::EngineConfig::default()
        }
    }

    /// What file agents' function tools may reach.
    pub fn function_tools(&self) -> vox_agents::FunctionToolSettings {
        vox_agents::FunctionToolSettings {
            allow_private_networks: self.tools.allow_private_networks,
            timeout: Duration::from_millis(self.tools.timeout_ms),
        }
    }

    /// `[vad]` for the energy VAD.
    pub fn energy_vad(&self) -> vox_audio::EnergyVadConfig {
        vox_audio::EnergyVadConfig {
            start_dbfs: self.vad.start_dbfs,
            stop_dbfs: self.vad.stop_dbfs,
            start_ms: self.vad.start_ms,
            stop_ms: self.vad.stop_ms,
        }
    }

    /// `[vad]` for Silero.
    pub fn silero_vad(&self) -> vox_models::SileroConfig {
        vox_models::SileroConfig {
            threshold: self.vad.threshold,
            neg_threshold: self.vad.neg_threshold,
            start_ms: self.vad.start_ms,
            stop_ms: self.vad.stop_ms,
        }
    }

    /// What stored (API) agents run on, secrets resolved.
    pub fn stored_agents(&self) -> anyhow::Result<vox_agents::StoredAgentsConfig> {
        let mut choices = self.voice_agents.clone();
        for (field, key) in choices.api_keys_mut() {
            resolve_key(key).map_err(|e| anyhow::anyhow!("voice_agents.{field} {e}"))?;
        }
        let calendar = match (self.tools.calendar, &self.tools.google_access_token) {
            (CalendarBackendKind::Builtin, _) => vox_agents::CalendarChoice::Builtin,
            (CalendarBackendKind::Google, token) => {
                let token = resolve_secret(token.as_deref().unwrap_or_default())
                    .map_err(|e| anyhow::anyhow!("tools.google_access_token {e}"))?;
                vox_agents::CalendarChoice::Google {
                    api_base: self.tools.google_api_base.clone(),
                    token: token.into(),
                }
            }
        };
        Ok(vox_agents::StoredAgentsConfig {
            choices,
            engine: self.engine_config(),
            http: vox_tools::HttpGuard {
                allow_private: self.tools.allow_private_networks,
                max_response_bytes: self.tools.max_response_bytes,
            },
            tool_timeout: Duration::from_millis(self.tools.timeout_ms),
            calendar,
            recordings_dir: Some(self.api.recordings_dir.clone())
                .filter(|d| !d.as_os_str().is_empty()),
            public_url: self.telephony.public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// `[telephony]` for the carriers.
    pub fn carriers(&self) -> vox_carriers::CarriersConfig {
        let host = match self.server.host.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            h => h,
        };
        vox_carriers::CarriersConfig {
            pools: self.telephony.pools.clone(),
            public_url: Some(self.telephony.public_url.clone()).filter(|u| !u.is_empty()),
            local_url: format!("http://{host}:{}", self.server.port),
            media_token_ttl_secs: self.telephony.media_token_ttl_secs,
        }
    }

    /// The TTS voices agents can name: the local Piper voice when its model is fetched.
    pub fn installed_voices(&self) -> Vec<vox_api::Voice> {
        let mut voices = Vec::new();
        if self
            .models
            .dir
            .join("piper/en_US-joe-medium.onnx")
            .is_file()
        {
            voices.push(vox_api::Voice {
                id: "piper-joe".into(),
                name: "Joe".into(),
                category: "conversational".into(),
                description: "US English, male; Piper en_US-joe-medium, runs locally".into(),
                preview_url: None,
            });
        }
        voices
    }

    /// The configuration as TOML with its secrets hidden (`vox serve --print-config`).
    pub fn redacted_toml(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        shown.store.url = self.store.redacted_url();
        let hide = |s: &mut String| {
            if !s.is_empty() && !s.starts_with("env:") && !s.starts_with("file:") {
                *s = "***".into();
            }
        };
        for pool in &mut shown.telephony.pools {
            pool.secrets_mut().into_iter().for_each(hide);
        }
        if let Some(t) = &mut shown.tools.google_access_token {
            hide(t);
        }
        toml::to_string_pretty(&shown).context("rendering config")
    }
}

/// An endpoint's API key of the form `env:NAME`, read from the environment.
pub fn resolve_key(key: &mut vox_providers::Secret) -> Result<(), String> {
    if let Some(var) = key.expose().strip_prefix("env:") {
        let value = std::env::var(var)
            .map_err(|_| format!("names the environment variable {var}, which is not set"))?;
        *key = vox_providers::Secret::new(value);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    fn load(jail: &Jail, body: Option<&str>, flags: &Overrides) -> anyhow::Result<Config> {
        let path = body.map(|b| {
            jail.create_file("vox.toml", b).expect("write config");
            jail.directory().join("vox.toml")
        });
        Config::load(path.as_deref(), flags)
    }

    #[test]
    fn defaults_load_and_are_valid() {
        Jail::expect_with(|jail| {
            let c = load(jail, None, &Overrides::default()).expect("defaults");
            assert_eq!(c.server.port, 8080);
            assert_eq!(c.media.send_ahead_ms, 200);
            assert_eq!(c.log.format, LogFormat::Text);
            Ok(())
        });
    }

    #[test]
    fn file_then_env_then_flags_override_in_order() {
        Jail::expect_with(|jail| {
            let file = "[server]\nport = 9000\nhost = \"127.0.0.1\"\nmax_concurrent_calls = 7\n";
            let c = load(jail, Some(file), &Overrides::default()).expect("file");
            assert_eq!((c.server.port, c.server.host.as_str()), (9000, "127.0.0.1"));
            jail.set_env("VOX__SERVER__PORT", "9100");
            jail.set_env("VOX__MEDIA__SEND_AHEAD_MS", "120");
            let c = load(jail, Some(file), &Overrides::default()).expect("file+env");
            assert_eq!(
                (
                    c.server.port,
                    c.media.send_ahead_ms,
                    c.server.max_concurrent_calls
                ),
                (9100, 120, 7)
            );
            let flags = Overrides {
                port: Some(9200),
                ..Default::default()
            };
            let c = load(jail, Some(file), &flags).expect("file+env+flags");
            assert_eq!(c.server.port, 9200);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_rejected_by_name_from_files_and_env() {
        Jail::expect_with(|jail| {
            let msg = format!(
                "{:#}",
                load(jail, Some("[server]\nprot = 9000\n"), &Overrides::default())
                    .expect_err("typo")
            );
            assert!(msg.contains("prot"), "{msg}");
            let msg = format!(
                "{:#}",
                load(jail, Some("[sever]\nport = 9000\n"), &Overrides::default())
                    .expect_err("typo")
            );
            assert!(msg.contains("sever"), "{msg}");
            jail.set_env("VOX__SERVER__PROT", "1");
            let msg = format!(
                "{:#}",
                load(jail, None, &Overrides::default()).expect_err("env typo")
            );
            assert!(msg.contains("prot"), "{msg}");
            Ok(())
        });
    }

    #[test]
    fn missing_file_and_bad_values_say_what_is_wrong() {
        Jail::expect_with(|jail| {
            let msg = format!(
                "{:#}",
                Config::load(
                    Some(Path::new("/nonexistent/vox.toml")),
                    &Overrides::default()
                )
                .expect_err("missing")
            );
            assert!(
                msg.contains("/nonexistent/vox.toml") && msg.contains("does not exist"),
                "{msg}"
            );
            let msg = format!(
                "{:#}",
                load(
                    jail,
                    Some("[media]\nsend_ahead_ms = 5\n"),
                    &Overrides::default()
                )
                .expect_err("bad")
            );
            assert!(msg.contains("send_ahead_ms"), "{msg}");
            jail.set_env("VOX__SERVER__PORT", "eighty");
            let msg = format!(
                "{:#}",
                load(jail, None, &Overrides::default()).expect_err("bad env")
            );
            assert!(
                msg.to_lowercase().contains("server.port") && msg.contains("eighty"),
                "{msg}"
            );
            Ok(())
        });
    }
}
