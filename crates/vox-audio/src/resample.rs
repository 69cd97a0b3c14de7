use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Async, FixedAsync, PolynomialDegree, Resampler};
use vox_core::SampleRate;

/// Why a resampler could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ResampleError {
    /// The rates are not usable (zero, or a ratio rubato rejects).
    #[error("cannot resample {from} -> {to}: {reason}")]
    Construction {
        /// Input rate.
        from: SampleRate,
        /// Output rate.
        to: SampleRate,
        /// rubato's explanation.
        reason: String,
    },
}

/// Streaming mono resampler for i16 audio, fed arbitrary slice lengths.
///
/// Uses rubato's asynchronous *polynomial* (septic) resampler: its delay is a few samples
/// (~0.25 ms), where the FFT resampler would add ~10 ms to every turn in both directions.
/// For the integer 2:1 ratios of telephony this is transparent for speech.
/// Equal rates pass through untouched. No allocation after construction.
pub struct StreamResampler {
    inner: Option<Inner>,
}

struct Inner {
    rs: Async<f32>,
    chunk: usize,
    pending: Vec<f32>,
    out: Vec<f32>,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("passthrough", &self.inner.is_none())
            .finish()
    }
}

impl StreamResampler {
    /// A resampler from `from` to `to`, processing in 20 ms chunks of input.
    pub fn new(from: SampleRate, to: SampleRate) -> Result<Self, ResampleError> {
        if from.hz() == 0 || to.hz() == 0 {
            return Err(ResampleError::Construction {
                from,
                to,
                reason: "zero rate".into(),
            });
        }
        if from == to {
            return Ok(Self { inner: None });
        }
        let chunk = from.samples_in_ms(20).max(1);
        let ratio = f64::from(to.hz()) / f64::from(from.hz());
        let rs = Async::<f32>::new_poly(
            ratio,
            1.0,
            PolynomialDegree::Septic,
            chunk,
            1,
            FixedAsync::Input,
        )
        .map_err(|e| ResampleError::Construction {
            from,
            to,
            reason: e.to_string(),
        })?;
        let out = vec![0.0; rs.output_frames_max()];
        Ok(Self {
            inner: Some(Inner {
                rs,
                chunk,
                pending: Vec::with_capacity(chunk * 2),
                out,
            }),
        })
    }

    /// Resamples `input`, appending whatever output is ready to `output`. Input that does
    /// not fill a whole 20 ms chunk is kept for the next call.
    pub fn process(&mut self, input: &[i16], output: &mut Vec<i16>) {
        let Some(inner) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            return;
        };
        let mut rest = input;
        while !rest.is_empty() {
            let take = (inner.chunk - inner.pending.len()).min(rest.len());
            inner
                .pending
                .extend(rest[..take].iter().map(|&s| f32::from(s) / 32768.0));
            rest = &rest[take..];
            if inner.pending.len() == inner.chunk {
                inner.run_chunk(output);
            }
        }
    }

    /// Drops buffered input and filter state (after a `clear`, or between utterances).
    pub fn reset(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.rs.reset();
            inner.pending.clear();
        }
    }
}

impl Inner {
    fn run_chunk(&mut self, output: &mut Vec<i16>) {
        let frames_out = self.out.len();
        let (Ok(input), Ok(mut out)) = (
            InterleavedSlice::new(&self.pending[..], 1, self.chunk),
            InterleavedSlice::new_mut(&mut self.out[..], 1, frames_out),
        ) else {
            // Sizes are fixed at construction; this cannot happen, but never panic on audio.
            self.pending.clear();
            return;
        };
        match self.rs.process_into_buffer(&input, &mut out, None) {
            Ok((_, produced)) => {
                output.extend(
                    self.out[..produced]
                        .iter()
                        .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
                );
            }
            Err(_) => self.rs.reset(),
        }
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((i as f32 * hz * std::f32::consts::TAU / rate as f32).sin() * 10_000.0) as i16
            })
            .collect()
    }

    #[test]
    fn upsamples_by_two_with_the_right_length_and_pitch() {
        let mut rs =
            StreamResampler::new(SampleRate(8000), SampleRate(16000)).expect("valid rates");
        let input = sine(8000, 440.0, 8000);
        let mut out = Vec::new();
        for chunk in input.chunks(77) {
            rs.process(chunk, &mut out);
        }
        assert!(
            (out.len() as i64 - 16_000).abs() <= 320,
            "len {}",
            out.len()
        );
        // count zero crossings in the steady part: 440 Hz -> 880 crossings/s
        let steady = &out[1000..15000];
        let crossings = steady
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        let expected = 880.0 * 14_000.0 / 16_000.0;
        assert!(
            (crossings as f32 - expected).abs() < 10.0,
            "{crossings} vs {expected}"
        );
    }

    #[test]
    fn passthrough_for_equal_rates() {
        let mut rs = StreamResampler::new(SampleRate(16000), SampleRate(16000)).expect("valid");
        let mut out = Vec::new();
        rs.process(&[1, 2, 3], &mut out);
        assert_eq!(out, vec![1, 2, 3]);
    }

    #[test]
    fn zero_rate_is_an_error_not_a_panic() {
        assert!(StreamResampler::new(SampleRate(0), SampleRate(16000)).is_err());
    }
}
