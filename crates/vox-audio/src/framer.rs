use vox_core::{AudioFrame, FRAME_SAMPLES};

/// Re-chunks a stream of 16 kHz samples into whole 20 ms [`AudioFrame`]s.
#[derive(Debug)]
pub struct Framer {
    buf: AudioFrame,
    filled: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// An empty framer.
    pub fn new() -> Self {
        Self {
            buf: AudioFrame::silence(),
            filled: 0,
        }
    }

    /// Adds samples, calling `emit` for every frame completed.
    pub fn push(&mut self, mut samples: &[i16], mut emit: impl FnMut(AudioFrame)) {
        while !samples.is_empty() {
            let take = (FRAME_SAMPLES - self.filled).min(samples.len());
            self.buf.samples_mut()[self.filled..self.filled + take]
                .copy_from_slice(&samples[..take]);
            self.filled += take;
            samples = &samples[take..];
            if self.filled == FRAME_SAMPLES {
                emit(self.buf.clone());
                self.filled = 0;
            }
        }
    }

    /// Samples waiting for a frame to fill.
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// Forgets partial input.
    pub fn reset(&mut self) {
        self.filled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_arbitrary_chunks_in_order() {
        let mut f = Framer::new();
        let samples: Vec<i16> = (0..1000).map(|i| i as i16).collect();
        let mut frames = Vec::new();
        for c in samples.chunks(33) {
            f.push(c, |fr| frames.push(fr));
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(f.pending(), 40);
        assert_eq!(frames[1].samples()[0], 320);
        assert_eq!(frames[2].samples()[319], 959);
    }
}
