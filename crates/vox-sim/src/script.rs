use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// What the simulated caller says and when.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The agent to ask for (`agentId` custom parameter).
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Further custom parameters sent in `start`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The agent speaks first: the first turn waits for its greeting to end.
    #[serde(default)]
    pub greeting: bool,
    /// Silence before the first turn (ms).
    #[serde(default = "default_lead_in")]
    pub lead_in_ms: u64,
    /// Silence after the last reply before hanging up (ms).
    #[serde(default = "default_tail")]
    pub tail_ms: u64,
    /// The caller's turns, in order.
    #[serde(default, rename = "turn")]
    pub turns: Vec<Turn>,
}

/// One caller turn: speech (`wav`) or key presses (`dtmf`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// The caller's audio (any rate, mono); relative paths are relative to the script.
    #[serde(default)]
    pub wav: Option<PathBuf>,
    /// Keys pressed instead of speaking (`0-9`, `*`, `#`, `A-D`), 160 ms apart.
    #[serde(default)]
    pub dtmf: Option<String>,
    /// Silence after the agent's previous reply ended, before speaking (ms).
    #[serde(default)]
    pub pause_ms: u64,
    /// Barge in: start speaking once this much of the agent's reply has played (ms),
    /// instead of waiting for it to end.
    #[serde(default)]
    pub interrupt_after_ms: Option<u64>,
}

fn default_lead_in() -> u64 {
    500
}

fn default_tail() -> u64 {
    1000
}

impl Script {
    /// Reads a TOML script.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read script {}", path.display()))?;
        let mut s: Script =
            toml::from_str(&text).with_context(|| format!("invalid script {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for (i, t) in s.turns.iter_mut().enumerate() {
            match (&mut t.wav, &t.dtmf) {
                (Some(w), None) if w.is_relative() => *w = base.join(&*w),
                (Some(_), None) => {}
                (None, Some(keys))
                    if !keys.is_empty()
                        && keys
                            .chars()
                            .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D')) => {}
                (None, Some(keys)) => anyhow::bail!(
                    "script {}: turn {i}: dtmf {keys:?} must be keys 0-9, *, #, A-D",
                    path.display()
                ),
                _ => anyhow::bail!(
                    "script {}: turn {i} needs exactly one of wav and dtmf",
                    path.display()
                ),
            }
        }
        if s.turns.is_empty() {
            anyhow::bail!("script {} has no [[turn]]", path.display());
        }
        Ok(s)
    }

    /// A script from WAV files: each turn waits for the agent's reply, or barges in after
    /// `interrupt_after_ms` of it (all turns but the first).
    pub fn from_wavs(wavs: &[PathBuf], interrupt_after_ms: Option<u64>) -> Self {
        Self {
            lead_in_ms: default_lead_in(),
            tail_ms: default_tail(),
            turns: wavs
                .iter()
                .enumerate()
                .map(|(i, w)| Turn {
                    wav: Some(w.clone()),
                    dtmf: None,
                    pause_ms: 300,
                    interrupt_after_ms: if i > 0 { interrupt_after_ms } else { None },
                })
                .collect(),
            ..Default::default()
        }
    }
}
