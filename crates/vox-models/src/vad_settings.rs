//! `[vad]`, as written in the configuration file: which voice activity detector calls use,
//! and its thresholds.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vox_audio::{EnergyVadConfig, VadFactory};

use crate::{ModelError, Models, SileroConfig, SileroModel, SileroVads};

/// `[vad]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VadSettings {
    /// Which detector.
    pub kind: VadKind,
    /// Consecutive speech (ms) that starts speech.
    pub start_ms: u32,
    /// Consecutive non-speech (ms) that ends it.
    pub stop_ms: u32,
    /// Energy: a frame louder than this counts toward speech.
    pub start_dbfs: f32,
    /// Energy: quieter than this toward silence.
    pub stop_dbfs: f32,
    /// Silero: speech probability above this counts toward speech.
    pub threshold: f32,
    /// Silero: below this toward silence.
    pub neg_threshold: f32,
}

/// The voice activity detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VadKind {
    /// Two energy thresholds (no model).
    Energy,
    /// Silero VAD v5 (`vox models fetch`).
    Silero,
}

impl VadSettings {
    /// What is wrong with it, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.threshold) || self.neg_threshold > self.threshold {
            return Err(
                "vad.threshold must be in 0..1 and vad.neg_threshold at most vad.threshold".into(),
            );
        }
        if self.stop_dbfs > self.start_dbfs {
            return Err(format!(
                "vad.stop_dbfs ({}) must not exceed vad.start_dbfs ({})",
                self.stop_dbfs, self.start_dbfs
            ));
        }
        Ok(())
    }

    /// The energy detector's settings.
    pub fn energy(&self) -> EnergyVadConfig {
        EnergyVadConfig {
            start_dbfs: self.start_dbfs,
            stop_dbfs: self.stop_dbfs,
            start_ms: self.start_ms,
            stop_ms: self.stop_ms,
        }
    }

    /// Silero's settings.
    pub fn silero(&self) -> SileroConfig {
        SileroConfig {
            threshold: self.threshold,
            neg_threshold: self.neg_threshold,
            start_ms: self.start_ms,
            stop_ms: self.stop_ms,
        }
    }

    /// Every call's detector, loading Silero's model if it is the one.
    pub fn factory(&self, models: &Models) -> Result<Arc<dyn VadFactory>, ModelError> {
        Ok(match self.kind {
            VadKind::Energy => Arc::new(self.energy()),
            VadKind::Silero => Arc::new(SileroVads {
                model: SileroModel::load(models, 2)?,
                cfg: self.silero(),
            }),
        })
    }
}
