/// A change in the voice activity detector's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VadEvent {
    /// The caller started speaking (after the detector's onset hysteresis).
    SpeechStart,
    /// The caller stopped speaking (after the detector's release hysteresis).
    SpeechEnd,
}

/// What a VAD says about one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VadOutput {
    /// The raw per-frame score in 0..=1 (energy-based or model probability).
    pub probability: f32,
    /// The smoothed decision after hysteresis: is the caller speaking now?
    pub speaking: bool,
    /// This frame counted toward silence (below the release threshold): while `speaking`, a
    /// run of quiet frames is the pause that ends speech when it lasts the release time, so
    /// its first frame is when the caller stopped, as the VAD sees it.
    pub quiet: bool,
    /// Set on the frame where the smoothed decision changed.
    pub event: Option<VadEvent>,
}
