//! The one typed configuration tree, layered: defaults < file < env < flags, checked once at
//! start. Sections that belong to a part are that part's types (`[media]` is vox-media's,
//! `[webrtc]` vox-webrtc's,
//! `[vad]` vox-models', `[conversation]`, `[echo]` and `[tools]` vox-agents', `[telephony]`
//! vox-carriers'); every key, its default and its meaning are in config/default.toml.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use vox_agents::{CalendarBackend, ConversationSettings, EchoSettings, ToolsSettings};
use vox_carriers::TelephonySettings;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Everything Vox can be configured with.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub media: vox_media::MediaSettings,
    pub webrtc: vox_webrtc::WebRtcSettings,
    pub vad: vox_models::VadSettings,
    pub models: ModelsConfig,
    pub echo: EchoSettings,
    pub conversation: ConversationSettings,
    pub tools: ToolsSettings,
    pub store: StoreConfig,
    pub api: ApiConfig,
    pub telephony: TelephonySettings,
    /// What runs the agents created through the API: as an agent file's `llm`, `asr`, `tts`.
    pub voice_agents: vox_agents::ProviderChoices,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub max_concurrent_calls: usize,
    pub shutdown_grace_secs: u64,
    pub max_connections: usize,
    pub header_read_timeout_secs: u64,
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    pub dir: PathBuf,
    /// Let the local LLM (`llm = "smollm2-135m"`) call the agent's tools.
    pub local_llm_tool_calls: bool,
    /// Piper samples its noise (false: a text is spoken the same way every time).
    pub tts_noise: bool,
    /// Local Whisper transcribes while the caller speaks (finals at the end of speech).
    pub whisper_streaming: bool,
    /// Speech between Whisper's interim passes, in ms (0: no interims).
    pub whisper_interim_ms: u64,
    /// Compute threads a Whisper pass may use when it runs alone on an idle machine (1: one
    /// thread always).
    pub whisper_idle_threads: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB` (redacted when printed).
    pub url: String,
    /// The key secrets are sealed with at rest: 32 bytes in base64 or hex, or a reference
    /// (`env:NAME`, `file:PATH`). Empty: a key file beside the SQLite database.
    #[serde(default)]
    pub secrets_key: String,
}

impl StoreConfig {
    /// The sealer of the secrets the database keeps: from `secrets_key`, else (SQLite) from
    /// `secrets.key` beside the database, made on first start, readable by its owner only.
    pub fn sealer(&self) -> anyhow::Result<vox_crypto::seal::Sealer> {
        use vox_crypto::seal::Sealer;
        if !self.secrets_key.trim().is_empty() {
            let text = resolve_secret(&self.secrets_key)
                .map_err(|e| anyhow::anyhow!("store.secrets_key {e}"))?;
            return Sealer::from_text(&text).map_err(|e| {
                anyhow::anyhow!("store.secrets_key: {e} (make one with `openssl rand -base64 32`)")
            });
        }
        let Some(path) = self.url.strip_prefix("sqlite://") else {
            anyhow::bail!(
                "store.secrets_key is required with PostgreSQL (every node must seal secrets with the same key): 32 bytes, base64 or hex, e.g. \"env:VOX_SECRETS_KEY\" with `openssl rand -base64 32`"
            );
        };
        let path = path.split('?').next().unwrap_or(path);
        if path == ":memory:" {
            return Sealer::from_text(&Sealer::new_key_text()).map_err(anyhow::Error::msg);
        }
        let dir = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file = dir.join("secrets.key");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let text = Sealer::new_key_text();
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&file)
                    .and_then(|mut f| writeln!(f, "{text}").and_then(|()| f.sync_all()))
                    .with_context(|| format!("creating the secrets key {}", file.display()))?;
                tracing::info!(file = %file.display(), "made a key for the secrets the database keeps; back it up with the database");
                text
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the secrets key {}", file.display()));
            }
        };
        Sealer::from_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
    }

    /// The URL with any password replaced, for printing and logs.
    pub fn redacted_url(&self) -> String {
        match self
            .url
            .split_once("://")
            .map(|(scheme, rest)| (scheme, rest.split_once('@')))
        {
            Some((scheme, Some((cred, host)))) if cred.contains(':') => {
                format!(
                    "{scheme}://{}:***@{host}",
                    cred.split(':').next().unwrap_or("")
                )
            }
            _ => self.url.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    pub token_ttl_secs: i64,
    pub files_dir: PathBuf,
    pub max_upload_bytes: usize,
    pub recordings_dir: PathBuf,
    pub webhook_max_attempts: u32,
    pub webhook_retry_secs: u64,
    pub webhook_timeout_ms: u64,
    /// +1 area codes outside the US that outbound calls and transfers may dial.
    pub dial_area_codes: Vec<String>,
    /// Outbound calls each business may start per minute.
    pub outbound_calls_per_minute: u32,
    /// The key of links that open without a token (seed 004's recording links); empty:
    /// derived from the secrets key.
    pub signed_links_key: String,
    /// How long such a link opens after it is handed out (seconds; the seed says 15 minutes).
    pub signed_link_ttl_secs: u64,
}

impl ApiConfig {
    /// The signer of links that open without a token: `signed_links_key`, else a key derived
    /// from the one that seals the database's secrets (nodes sharing a database share it).
    pub fn link_signer(
        &self,
        sealer: &vox_crypto::seal::Sealer,
    ) -> anyhow::Result<vox_crypto::link::LinkSigner> {
        if self.signed_links_key.trim().is_empty() {
            return Ok(vox_crypto::link::LinkSigner::new(
                &sealer.derive("vox signed links v1"),
            ));
        }
        let text = resolve_secret(&self.signed_links_key)
            .map_err(|e| anyhow::anyhow!("api.signed_links_key {e}"))?;
        let key = vox_crypto::seal::key_from_text(&text).map_err(|e| {
            anyhow::anyhow!("api.signed_links_key: {e} (make one with `openssl rand -base64 32`)")
        })?;
        Ok(vox_crypto::link::LinkSigner::new(&key))
    }
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

/// An endpoint's API key of the form `env:NAME`, read from the environment.
pub fn resolve_key(key: &mut vox_providers::Secret) -> Result<(), String> {
    if let Some(var) = key.expose().strip_prefix("env:") {
        let value = std::env::var(var)
            .map_err(|_| format!("names the environment variable {var}, which is not set"))?;
        *key = vox_providers::Secret::new(value);
    }
    Ok(())
}

impl Config {
    /// Loads defaults < `file` < `VOX__*` environment < `overrides`, then checks it.
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
        cfg.check()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.server.max_concurrent_calls == 0 {
            return Err("server.max_concurrent_calls must be at least 1".into());
        }
        for (key, value) in [
            ("max_connections", self.server.max_connections as u64),
            (
                "header_read_timeout_secs",
                self.server.header_read_timeout_secs,
            ),
            ("request_timeout_secs", self.server.request_timeout_secs),
        ] {
            if value == 0 {
                return Err(format!("server.{key} must be at least 1"));
            }
        }
        vox_api::DialPolicy::new(&self.api.dial_area_codes)?;
        if !(1..=7 * 24 * 3600).contains(&self.api.signed_link_ttl_secs) {
            return Err("api.signed_link_ttl_secs must be from 1 to 604800 (7 days)".into());
        }
        if self.api.outbound_calls_per_minute == 0 {
            return Err("api.outbound_calls_per_minute must be at least 1".into());
        }
        if !(1..=64).contains(&self.models.whisper_idle_threads) {
            return Err(format!(
                "models.whisper_idle_threads must be 1 to 64 (got {})",
                self.models.whisper_idle_threads
            ));
        }
        self.media.check()?;
        self.webrtc.check()?;
        self.vad.check()?;
        self.conversation.check()?;
        self.tools.check()
    }

    /// What stored (API) agents run on, secrets resolved.
    pub fn stored_agents(&self) -> anyhow::Result<vox_agents::StoredAgentsConfig> {
        let mut choices = self.voice_agents.clone();
        for (field, key) in choices.api_keys_mut() {
            resolve_key(key).map_err(|e| anyhow::anyhow!("voice_agents.{field} {e}"))?;
        }
        let calendar = match self.tools.calendar {
            CalendarBackend::Builtin => vox_agents::CalendarChoice::Builtin,
            CalendarBackend::Google => {
                use vox_agents::{GoogleAccount, ServiceAccount};
                let t = &self.tools;
                let account = match (&t.google_service_account_key, &t.google_access_token) {
                    (Some(key), _) => {
                        let text = resolve_secret(key)
                            .map_err(|e| anyhow::anyhow!("tools.google_service_account_key {e}"))?;
                        GoogleAccount::ServiceAccount(ServiceAccount::from_json(&text).map_err(
                            |e| anyhow::anyhow!("tools.google_service_account_key: {e}"),
                        )?)
                    }
                    (None, token) => GoogleAccount::Token {
                        email: t.google_account_email.clone().unwrap_or_default(),
                        token: resolve_secret(token.as_deref().unwrap_or_default())
                            .map_err(|e| anyhow::anyhow!("tools.google_access_token {e}"))?
                            .into(),
                    },
                };
                vox_agents::CalendarChoice::Google {
                    api_base: t.google_api_base.clone(),
                    account: std::sync::Arc::new(account),
                }
            }
        };
        Ok(vox_agents::StoredAgentsConfig {
            choices,
            engine: self.conversation.engine(),
            http: self.tools.guard(),
            tool_timeout: self.tools.timeout(),
            calendar,
            recordings_dir: Some(self.api.recordings_dir.clone())
                .filter(|d| !d.as_os_str().is_empty()),
            public_url: self.telephony.public_base().to_owned(),
        })
    }

    /// This server's own address, as carriers on loopback reach it.
    pub fn local_url(&self) -> String {
        let host = match self.server.host.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            h => h,
        };
        format!("http://{host}:{}", self.server.port)
    }

    /// The TTS voices agents can name: the local Piper voice when its model is fetched.
    pub fn installed_voices(&self) -> Vec<vox_api::Voice> {
        let piper = self
            .models
            .dir
            .join("piper/en_US-joe-medium.onnx")
            .is_file();
        let joe = vox_api::Voice {
            id: "piper-joe".into(),
            name: "Joe".into(),
            category: "conversational".into(),
            description: "US English, male; Piper en_US-joe-medium, runs locally".into(),
            preview_url: None,
        };
        piper.then_some(joe).into_iter().collect()
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
        hide(&mut shown.store.secrets_key);
        hide(&mut shown.api.signed_links_key);
        shown
            .telephony
            .pools
            .iter_mut()
            .flat_map(|p| p.secrets_mut())
            .for_each(hide);
        shown.tools.google_access_token.iter_mut().for_each(hide);
        shown
            .tools
            .google_service_account_key
            .iter_mut()
            .for_each(hide);
        for server in &mut shown.webrtc.ice_servers {
            hide(&mut server.credential);
        }
        for (_, key) in shown.voice_agents.api_keys_mut() {
            let mut text = key.expose().to_owned();
            hide(&mut text);
            *key = vox_providers::Secret::new(text);
        }
        toml::to_string_pretty(&shown).context("rendering config")
    }
}
