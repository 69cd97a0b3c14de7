//! WAV file helpers on top of hound: read any mono/stereo PCM WAV as mono i16, write
//! mono or stereo 16-bit WAVs.

use std::path::Path;

use vox_core::SampleRate;

use crate::StreamResampler;

/// Why a WAV could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// hound's error (missing file, not a WAV, unsupported format).
    #[error("{path}: {source}")]
    Hound {
        /// The file.
        path: String,
        /// What hound said.
        source: hound::Error,
    },
    /// Resampling to the requested rate failed.
    #[error("{0}")]
    Resample(#[from] crate::ResampleError),
}

/// Reads a WAV (8/16/24/32-bit int or float, any channel count) as mono i16, averaging
/// channels. Returns the samples and the file's rate.
pub fn read_mono(path: &Path) -> Result<(Vec<i16>, SampleRate), WavError> {
    let err = |source| WavError::Hound {
        path: path.display().to_string(),
        source,
    };
    let mut reader = hound::WavReader::open(path).map_err(err)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(err)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(err)?
        }
    };
    let mono = interleaved
        .chunks(channels)
        .map(|c| {
            let avg = c.iter().sum::<f32>() / c.len() as f32;
            (avg * 32768.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Ok((mono, SampleRate(spec.sample_rate)))
}

/// Reads a WAV as mono i16 at `rate`, resampling when the file's rate differs.
pub fn read_mono_at(path: &Path, rate: SampleRate) -> Result<Vec<i16>, WavError> {
    let (samples, file_rate) = read_mono(path)?;
    if file_rate == rate {
        return Ok(samples);
    }
    let mut rs = StreamResampler::new(file_rate, rate)?;
    let mut out =
        Vec::with_capacity(samples.len() * rate.hz() as usize / file_rate.hz().max(1) as usize + 1);
    rs.process(&samples, &mut out);
    // flush the last partial chunk with silence
    rs.process(&vec![0; file_rate.samples_in_ms(20)], &mut out);
    Ok(out)
}

/// Writes 16-bit mono.
pub fn write_mono(path: &Path, rate: SampleRate, samples: &[i16]) -> Result<(), WavError> {
    write_interleaved(path, rate, 1, samples.iter().copied())
}

/// Writes 16-bit stereo; the shorter channel is padded with silence.
pub fn write_stereo(
    path: &Path,
    rate: SampleRate,
    left: &[i16],
    right: &[i16],
) -> Result<(), WavError> {
    let n = left.len().max(right.len());
    let it = (0..n).flat_map(|i| {
        [
            left.get(i).copied().unwrap_or(0),
            right.get(i).copied().unwrap_or(0),
        ]
    });
    write_interleaved(path, rate, 2, it)
}

fn write_interleaved(
    path: &Path,
    rate: SampleRate,
    channels: u16,
    samples: impl Iterator<Item = i16>,
) -> Result<(), WavError> {
    let err = |source| WavError::Hound {
        path: path.display().to_string(),
        source,
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate.hz(),
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(err)?;
    for s in samples {
        w.write_sample(s).map_err(err)?;
    }
    w.finalize().map_err(err)
}
