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
    pub voice_agents: VoiceAgentsConfig,
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
    pub pools: Vec<NumberPool>,
    /// The base URL carriers reach this server at (`https://vox.example.com`); empty: each
    /// webhook's own Host header, and `http://server.host:server.port` for outbound calls.
    pub public_url: String,
    /// Lifetime of the token a call's stream parameters carry.
    pub media_token_ttl_secs: u64,
}

/// Phone numbers of one carrier account. Which fields a pool needs depends on its carrier
/// (see config/default.toml); secrets may be `env:NAME` (an environment variable) or
/// `file:PATH` (a file's contents) and are redacted when printed.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NumberPool {
    pub carrier: Carrier,
    pub numbers: Vec<String>,
    /// Twilio: the Account SID; Plivo: the Auth ID; Exotel: the Account SID.
    #[serde(default)]
    pub account_sid: String,
    /// Twilio, Plivo: the auth token; Exotel: the API token.
    #[serde(default)]
    pub auth_token: String,
    /// Telnyx: the API key (v2); Exotel: the API key.
    #[serde(default)]
    pub api_key: String,
    /// Telnyx: the Call Control application (connection) id that outbound calls use.
    #[serde(default)]
    pub connection_id: String,
    /// Telnyx: the public key (base64 Ed25519) that signs its webhooks.
    #[serde(default)]
    pub public_key: String,
    /// Vonage: the application id.
    #[serde(default)]
    pub application_id: String,
    /// Vonage: the application's private key (PEM text, `env:NAME` or `file:PATH`).
    #[serde(default)]
    pub private_key: String,
    /// Vonage: the signature secret its signed webhooks use.
    #[serde(default)]
    pub signature_secret: String,
    /// The carrier's REST API base; empty: the carrier's own (tests point it at a fake).
    #[serde(default)]
    pub api_base: String,
}

impl NumberPool {
    /// The fields holding secrets, for redaction.
    pub fn secrets_mut(&mut self) -> [&mut String; 4] {
        [
            &mut self.auth_token,
            &mut self.api_key,
            &mut self.private_key,
            &mut self.signature_secret,
        ]
    }
}

/// A secret's value: `env:NAME` reads the environment, `file:PATH` a file; else the value.
pub fn resolve_secret(value: &str) -> anyhow::Result<String> {
    if let Some(var) = value.strip_prefix("env:") {
        return std::env::var(var)
            .with_context(|| format!("names the environment variable {var}, which is not set"));
    }
    if let Some(path) = value.strip_prefix("file:") {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .with_context(|| format!("names the file {path}, which cannot be read"));
    }
    Ok(value.to_owned())
}

/// The carrier of a pool: the same five as the media dialects.
pub use vox_telephony::Dialect as Carrier;

/// The REST API a pool of this carrier uses when it names none.
pub fn default_api_base(carrier: Carrier) -> &'static str {
    match carrier {
        Carrier::Twilio => "https://api.twilio.com",
        Carrier::Telnyx => "https://api.telnyx.com",
        Carrier::Plivo => "https://api.plivo.com",
        Carrier::Vonage => "https://api.nexmo.com",
        Carrier::Exotel => "https://api.exotel.com",
    }
}

impl TelephonyConfig {
    /// (carrier, number) of every pool, numbers checked as E.164.
    pub fn numbers(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (i, pool) in self.pools.iter().enumerate() {
            for n in &pool.numbers {
                let digits = n.strip_prefix('+').filter(|d| {
                    (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
                });
                if digits.is_none() {
                    bail!(
                        "telephony.pools[{i}].numbers: {n:?} is not an E.164 number (+ and 8-15 digits)"
                    );
                }
                out.push((pool.carrier.name().to_owned(), n.clone()));
            }
        }
        Ok(out)
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

/// What runs the agents created through the API (`/v1/.../voice-agents`): the same
/// choices as an agent file's `llm`, `asr` and `tts`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VoiceAgentsConfig {
    pub llm: serde_json::Value,
    pub asr: serde_json::Value,
    pub tts: serde_json::Value,
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
    pub google_access_token: String,
}

impl ToolsConfig {
    /// The Google token, read from the environment when it is `env:NAME`.
    pub fn resolved_google_token(&self) -> anyhow::Result<String> {
        match self.google_access_token.strip_prefix("env:") {
            Some(var) => std::env::var(var).with_context(|| format!("tools.google_access_token names the environment variable {var}, which is not set")),
            None => Ok(self.google_access_token.clone()),
        }
    }
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
