use vox_core::{AudioFrame, FRAME_MS, VadEvent, VadOutput};

/// A voice activity detector: one decision per 20 ms frame, with its own hysteresis.
///
/// Implementations are synchronous and cheap enough to run inline in the media reader
/// (microseconds per frame). Silero (a model) arrives with the local-models work.
pub trait Vad: Send {
    /// Scores one frame and updates the smoothed decision.
    fn process(&mut self, frame: &AudioFrame) -> VadOutput;
    /// Forgets all state (new call or new stream).
    fn reset(&mut self);
}

/// Time hysteresis shared by the VADs: `start_frames` consecutive speech-like frames declare
/// speech, `stop_frames` consecutive silence-like frames declare silence; frames that are
/// neither (between the two level thresholds) keep the current state.
#[derive(Debug, Clone)]
pub struct Hysteresis {
    start_frames: u32,
    stop_frames: u32,
    speaking: bool,
    run: u32,
}

impl Hysteresis {
    /// From durations in ms (rounded up to whole 20 ms frames, at least one).
    pub fn new(start_ms: u32, stop_ms: u32) -> Self {
        Self {
            start_frames: start_ms.div_ceil(FRAME_MS).max(1),
            stop_frames: stop_ms.div_ceil(FRAME_MS).max(1),
            speaking: false,
            run: 0,
        }
    }

    /// One frame: is it speech-like (`loud`), silence-like (`quiet`)? Returns the decision
    /// and the event if it changed.
    pub fn update(&mut self, loud: bool, quiet: bool) -> (bool, Option<VadEvent>) {
        let mut event = None;
        if self.speaking {
            if quiet {
                self.run += 1;
                if self.run >= self.stop_frames {
                    self.speaking = false;
                    self.run = 0;
                    event = Some(VadEvent::SpeechEnd);
                }
            } else {
                self.run = 0;
            }
        } else if loud {
            self.run += 1;
            if self.run >= self.start_frames {
                self.speaking = true;
                self.run = 0;
                event = Some(VadEvent::SpeechStart);
            }
        } else {
            self.run = 0;
        }
        (self.speaking, event)
    }

    /// Back to silence.
    pub fn reset(&mut self) {
        self.speaking = false;
        self.run = 0;
    }
}

/// Settings of [`EnergyVad`]. Thresholds are in dBFS of the frame's RMS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnergyVadConfig {
    /// A frame louder than this counts toward speech onset.
    pub start_dbfs: f32,
    /// A frame quieter than this counts toward speech release. Must be <= `start_dbfs`;
    /// the band between the two is the hysteresis (frames there keep the current state).
    pub stop_dbfs: f32,
    /// Consecutive loud frames needed to declare speech (rejects clicks).
    pub start_ms: u32,
    /// Consecutive quiet frames needed to declare silence (bridges pauses between words).
    pub stop_ms: u32,
}

impl Default for EnergyVadConfig {
    fn default() -> Self {
        Self {
            start_dbfs: -40.0,
            stop_dbfs: -48.0,
            start_ms: 60,
            stop_ms: 200,
        }
    }
}

/// Energy VAD with hysteresis on both level (two thresholds) and time (onset and release
/// counts). Good for clean telephony and for tests; no model needed.
#[derive(Debug)]
pub struct EnergyVad {
    cfg: EnergyVadConfig,
    hysteresis: Hysteresis,
}

impl EnergyVad {
    /// A detector with the given settings (`stop_dbfs` is clamped to at most `start_dbfs`).
    pub fn new(mut cfg: EnergyVadConfig) -> Self {
        cfg.stop_dbfs = cfg.stop_dbfs.min(cfg.start_dbfs);
        Self {
            hysteresis: Hysteresis::new(cfg.start_ms, cfg.stop_ms),
            cfg,
        }
    }
}

impl Vad for EnergyVad {
    fn process(&mut self, frame: &AudioFrame) -> VadOutput {
        let db = frame.energy_dbfs();
        let lo = self.cfg.stop_dbfs - 10.0;
        let hi = self.cfg.start_dbfs + 10.0;
        let probability = ((db - lo) / (hi - lo)).clamp(0.0, 1.0);
        let quiet = db < self.cfg.stop_dbfs;
        let (speaking, event) = self.hysteresis.update(db > self.cfg.start_dbfs, quiet);
        VadOutput {
            probability,
            speaking,
            quiet,
            event,
        }
    }

    fn reset(&mut self) {
        self.hysteresis.reset();
    }
}

/// Makes each call's VAD (the model behind it may be shared; the state is per call).
pub trait VadFactory: Send + Sync + 'static {
    /// A VAD for a new call.
    fn create(&self) -> Box<dyn Vad>;
}

impl VadFactory for EnergyVadConfig {
    fn create(&self) -> Box<dyn Vad> {
        Box::new(EnergyVad::new(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(level: i16) -> AudioFrame {
        let s: Vec<i16> = (0..320)
            .map(|i| if i % 2 == 0 { level } else { -level })
            .collect();
        AudioFrame::from_slice(&s).expect("320")
    }

    #[test]
    fn onset_and_release_need_their_run_lengths() {
        let mut v = EnergyVad::new(EnergyVadConfig::default());
        let loud = frame(3000); // about -21 dBFS
        let quiet = frame(50); // about -56 dBFS
        assert_eq!(v.process(&loud).event, None);
        assert_eq!(v.process(&loud).event, None);
        assert_eq!(v.process(&loud).event, Some(VadEvent::SpeechStart));
        // a 100 ms pause inside speech does not end it
        for _ in 0..5 {
            assert!(v.process(&quiet).speaking);
        }
        assert!(v.process(&loud).speaking);
        let mut ended_after = None;
        for i in 1..=20 {
            if v.process(&quiet).event == Some(VadEvent::SpeechEnd) {
                ended_after = Some(i);
                break;
            }
        }
        assert_eq!(ended_after, Some(10));
    }

    #[test]
    fn a_click_is_not_speech_and_the_hysteresis_band_holds_state() {
        let mut v = EnergyVad::new(EnergyVadConfig::default());
        let loud = frame(3000);
        let middle = frame(180); // about -45 dBFS: between stop and start thresholds
        v.process(&loud);
        v.process(&loud);
        assert!(!v.process(&middle).speaking, "two loud frames are a click");
        for _ in 0..3 {
            v.process(&loud);
        }
        for _ in 0..50 {
            assert!(v.process(&middle).speaking, "in the band, speech continues");
        }
    }
}
