//! Comparing audio in tests.

use std::path::Path;

/// Reads a 16-bit stereo WAV into (left, right).
pub fn read_stereo(path: &Path) -> (Vec<i16>, Vec<i16>, u32) {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(spec.channels, 2, "{} is not stereo", path.display());
    let s: Vec<i16> = r.samples::<i16>().map(|x| x.expect("sample")).collect();
    let left = s.iter().step_by(2).copied().collect();
    let right = s.iter().skip(1).step_by(2).copied().collect();
    (left, right, spec.sample_rate)
}

/// RMS level in dBFS (-100 for digital silence or an empty slice).
pub use vox_core::dbfs;

/// A mono WAV as Vox's internal frames (16 kHz, 20 ms), resampled as Vox's own reader does;
/// a partial last frame is dropped.
pub fn wav_frames(path: &Path) -> Vec<vox_core::AudioFrame> {
    let samples = vox_audio::wav::read_mono_at(path, vox_core::INTERNAL_RATE)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    samples
        .chunks_exact(vox_core::FRAME_SAMPLES)
        .filter_map(vox_core::AudioFrame::from_slice)
        .collect()
}

/// Whether a frame is clearly sound: RMS above 300 (about -41 dBFS).
pub fn loud(frame: &vox_core::AudioFrame) -> bool {
    let s = frame.samples();
    let energy = s.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / s.len() as f64;
    energy.sqrt() > 300.0
}

/// Finds where `needle` best matches inside `haystack`: returns (offset, normalised
/// correlation in -1..=1). Exhaustive search; keep inputs to a few seconds at 8 kHz.
pub fn best_match(needle: &[i16], haystack: &[i16]) -> (usize, f64) {
    let n = needle.len();
    if n == 0 || haystack.len() < n {
        return (0, 0.0);
    }
    let nf: Vec<f64> = needle.iter().map(|&s| f64::from(s)).collect();
    let hf: Vec<f64> = haystack.iter().map(|&s| f64::from(s)).collect();
    let n_energy = nf.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut best = (0, f64::MIN);
    for off in 0..=hf.len() - n {
        let w = &hf[off..off + n];
        let w_energy = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if w_energy == 0.0 || n_energy == 0.0 {
            continue;
        }
        let dot: f64 = nf.iter().zip(w).map(|(a, b)| a * b).sum();
        let c = dot / (n_energy * w_energy);
        if c > best.1 {
            best = (off, c);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_embedded_signal_and_rejects_noise() {
        let sig: Vec<i16> = (0..400)
            .map(|i| ((i as f64 * 0.37).sin() * 8000.0 + (i as f64 * 0.05).cos() * 3000.0) as i16)
            .collect();
        let mut hay = vec![0i16; 1000];
        hay[300..700].copy_from_slice(&sig);
        let (off, c) = best_match(&sig[50..250], &hay);
        assert_eq!(off, 350);
        assert!(c > 0.999);
        let other: Vec<i16> = (0..200)
            .map(|i| ((i * 7919 % 263) as i16 - 131) * 50)
            .collect();
        assert!(best_match(&other, &hay).1 < 0.5);
    }
}
