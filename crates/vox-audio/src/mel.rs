//! Whisper-style log-mel features (80 mel bins, 25 ms windows every 10 ms at 16 kHz), as the
//! Smart Turn and Whisper models expect them: zero-mean unit-variance waveform, centred STFT
//! with reflect padding and a periodic Hann window, power spectrum, Slaney-normalised mel
//! filterbank, log10 with a floor, dynamic range clamped to 8 (log10 units), scaled by
//! `(x + 4) / 4`, last frame dropped.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// FFT size (25 ms at 16 kHz).
pub const N_FFT: usize = 400;
/// Hop (10 ms at 16 kHz).
pub const HOP: usize = 160;
/// Mel bins.
pub const N_MELS: usize = 80;
const BINS: usize = N_FFT / 2 + 1;
const RATE: f64 = 16_000.0;

/// Computes log-mel features; holds the FFT plan, window and filterbank.
pub struct LogMel {
    fft: Arc<dyn Fft<f64>>,
    window: Vec<f64>,
    /// `N_MELS` rows of `BINS` weights.
    filters: Vec<f64>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogMel")
    }
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

fn hz_to_mel(f: f64) -> f64 {
    if f >= 1000.0 {
        15.0 + (f / 1000.0).ln() * (27.0 / 6.4f64.ln())
    } else {
        3.0 * f / 200.0
    }
}

fn mel_to_hz(m: f64) -> f64 {
    if m >= 15.0 {
        1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp()
    } else {
        200.0 * m / 3.0
    }
}

/// The Slaney-normalised triangular mel filterbank, `N_MELS` x `BINS`, row-major.
pub fn mel_filters() -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(RATE / 2.0));
    let edges: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    let fft_freqs: Vec<f64> = (0..BINS)
        .map(|k| (RATE / 2.0) * k as f64 / (BINS - 1) as f64)
        .collect();
    let mut w = vec![0.0; N_MELS * BINS];
    for m in 0..N_MELS {
        let (l, c, r) = (edges[m], edges[m + 1], edges[m + 2]);
        let norm = 2.0 / (r - l);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let down = (f - l) / (c - l);
            let up = (r - f) / (r - c);
            w[m * BINS + k] = down.min(up).max(0.0) * norm;
        }
    }
    w
}

impl LogMel {
    /// Plans the FFT and builds the filterbank.
    pub fn new() -> Self {
        let fft = FftPlanner::new().plan_fft_forward(N_FFT);
        let window = (0..N_FFT)
            .map(|n| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / N_FFT as f64).cos())
            .collect();
        Self {
            fft,
            window,
            filters: mel_filters(),
        }
    }

    /// Features of `samples` (16 kHz, -1..1): `N_MELS` rows of `samples.len() / HOP` frames,
    /// row-major (mel bin major), as f32.
    pub fn compute(&self, samples: &[f32]) -> (Vec<f32>, usize) {
        let n = samples.len();
        let mean = samples.iter().map(|&x| f64::from(x)).sum::<f64>() / n.max(1) as f64;
        let var = samples
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n.max(1) as f64;
        let scale = 1.0 / (var + 1e-7).sqrt();
        let x: Vec<f64> = samples
            .iter()
            .map(|&s| (f64::from(s) - mean) * scale)
            .collect();
        // reflect padding by N_FFT/2 on both sides (numpy "reflect": the edge is not repeated)
        let pad = N_FFT / 2;
        let reflect = |i: isize| -> f64 {
            let len = n as isize;
            let mut j = i;
            if j < 0 {
                j = -j;
            }
            if j >= len {
                j = 2 * (len - 1) - j;
            }
            x.get(j.clamp(0, len - 1) as usize).copied().unwrap_or(0.0)
        };
        let frames = (n + 2 * pad - N_FFT) / HOP + 1 - 1; // the last frame is dropped
        let mut log = vec![0.0f64; N_MELS * frames];
        let mut buf = vec![Complex::new(0.0, 0.0); N_FFT];
        let mut scratch = vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()];
        let mut power = [0.0f64; BINS];
        for t in 0..frames {
            let start = (t * HOP) as isize - pad as isize;
            for (i, b) in buf.iter_mut().enumerate() {
                *b = Complex::new(reflect(start + i as isize) * self.window[i], 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (k, p) in power.iter_mut().enumerate() {
                *p = buf[k].norm_sqr();
            }
            for m in 0..N_MELS {
                let row = &self.filters[m * BINS..(m + 1) * BINS];
                let e: f64 = row.iter().zip(power.iter()).map(|(w, p)| w * p).sum();
                log[m * frames + t] = e.max(1e-10).log10();
            }
        }
        let max = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let out = log
            .iter()
            .map(|&v| ((v.max(max - 8.0) + 4.0) / 4.0) as f32)
            .collect();
        (out, frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filterbank_is_80_ordered_triangles() {
        let w = mel_filters();
        let peaks: Vec<usize> = (0..N_MELS)
            .map(|m| {
                let row = &w[m * BINS..(m + 1) * BINS];
                row.iter()
                    .enumerate()
                    .fold((0, f64::MIN), |b, (k, &v)| if v > b.1 { (k, v) } else { b })
                    .0
            })
            .collect();
        assert!(peaks.windows(2).all(|p| p[0] <= p[1]), "{peaks:?}");
        assert!(w.iter().all(|&v| v >= 0.0));
        // the Slaney scale is linear below 1 kHz: the first filter's edges are 0 and ~53 Hz
        assert!((mel_to_hz(hz_to_mel(440.0)) - 440.0).abs() < 1e-9);
        assert!((mel_to_hz(hz_to_mel(4000.0)) - 4000.0).abs() < 1e-6);
    }

    #[test]
    fn eight_seconds_give_80_by_800_and_a_tone_lands_in_its_band() {
        let lm = LogMel::new();
        let samples: Vec<f32> = (0..128_000)
            .map(|i| ((i as f32) * 1000.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.5)
            .collect();
        let (f, frames) = lm.compute(&samples);
        assert_eq!((frames, f.len()), (800, 80 * 800));
        // in a middle frame, the loudest mel bin is the one whose filter peaks nearest 1 kHz
        let t = 400;
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| f[a * frames + t].total_cmp(&f[b * frames + t]))
            .unwrap_or(0);
        let w = mel_filters();
        let peak_hz = |m: usize| {
            let row = &w[m * BINS..(m + 1) * BINS];
            row.iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (k, &v)| if v > b.1 { (k, v) } else { b })
                .0 as f64
                * 40.0
        };
        assert!(
            (peak_hz(loudest) - 1000.0).abs() <= 80.0,
            "bin {loudest} peaks at {} Hz",
            peak_hz(loudest)
        );
        // the dynamic range is clamped to 8 log10 units, i.e. 2.0 after scaling
        let (lo, hi) = f
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(f.iter().all(|v| v.is_finite()));
        assert!(hi - lo <= 2.0 + 1e-6, "range {lo}..{hi}");
    }
}
