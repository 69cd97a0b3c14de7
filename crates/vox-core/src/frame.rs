use std::fmt;
use std::time::Duration;

/// A sample rate in Hz. A unit as a type, so 8000 samples and 8000 Hz never mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleRate(pub u32);

impl SampleRate {
    /// Hz as a plain number.
    pub const fn hz(self) -> u32 {
        self.0
    }

    /// Number of samples in `ms` milliseconds at this rate.
    pub const fn samples_in_ms(self, ms: u32) -> usize {
        (self.0 as usize * ms as usize) / 1000
    }
}

impl fmt::Display for SampleRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

/// The one internal sample rate: everything is converted to this at the edges.
pub const INTERNAL_RATE: SampleRate = SampleRate(16_000);
/// Duration of one internal frame in milliseconds.
pub const FRAME_MS: u32 = 20;
/// Duration of one internal frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(FRAME_MS as u64);
/// Samples in one internal frame (16 kHz x 20 ms).
pub const FRAME_SAMPLES: usize = INTERNAL_RATE.samples_in_ms(FRAME_MS);

/// 20 ms of 16 kHz mono signed 16-bit audio. Fixed size and `Copy`-free but heap-free, so
/// moving frames through the pipeline never allocates.
#[derive(Clone, PartialEq, Eq)]
pub struct AudioFrame {
    samples: [i16; FRAME_SAMPLES],
}

impl AudioFrame {
    /// A frame of digital silence.
    pub const fn silence() -> Self {
        Self {
            samples: [0; FRAME_SAMPLES],
        }
    }

    /// Builds a frame from exactly [`FRAME_SAMPLES`] samples; `None` for any other length.
    pub fn from_slice(samples: &[i16]) -> Option<Self> {
        let samples: [i16; FRAME_SAMPLES] = samples.try_into().ok()?;
        Some(Self { samples })
    }

    /// The samples.
    pub fn samples(&self) -> &[i16; FRAME_SAMPLES] {
        &self.samples
    }

    /// The samples, mutable.
    pub fn samples_mut(&mut self) -> &mut [i16; FRAME_SAMPLES] {
        &mut self.samples
    }

    /// RMS level of the frame in dBFS (see [`dbfs`]).
    pub fn energy_dbfs(&self) -> f32 {
        dbfs(&self.samples)
    }
}

/// RMS level of 16-bit samples in dBFS: a full-scale square wave is 0, a full-scale sine
/// about -3, digital silence (or no samples) -100.
pub fn dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mean = sum / samples.len() as f64;
    if mean <= 0.0 {
        return -100.0;
    }
    (20.0 * (mean.sqrt() / 32768.0).log10()).max(-100.0) as f32
}

impl Default for AudioFrame {
    fn default() -> Self {
        Self::silence()
    }
}

impl fmt::Debug for AudioFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AudioFrame({:.1} dBFS)", self.energy_dbfs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_is_twenty_ms_at_sixteen_khz() {
        assert_eq!(FRAME_SAMPLES, 320);
        assert!(AudioFrame::from_slice(&[0; 319]).is_none());
        assert!(AudioFrame::from_slice(&[0; 320]).is_some());
    }

    #[test]
    fn energy_of_silence_and_full_scale() {
        assert_eq!(AudioFrame::silence().energy_dbfs(), -100.0);
        let loud = AudioFrame::from_slice(&[i16::MAX; 320]).expect("320 samples");
        assert!(loud.energy_dbfs() > -0.1, "{}", loud.energy_dbfs());
        let quiet = AudioFrame::from_slice(&[33; 320]).expect("320 samples");
        assert!(
            (quiet.energy_dbfs() + 60.0).abs() < 0.5,
            "{}",
            quiet.energy_dbfs()
        );
    }
}
