use vox_core::{AudioFrame, INTERNAL_RATE, SampleRate};

use crate::{Framer, ResampleError, StreamResampler, g711};

/// A carrier's audio encoding on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// G.711 mu-law, one byte a sample.
    MuLaw,
    /// G.711 A-law, one byte a sample.
    ALaw,
    /// Linear 16-bit signed little-endian PCM.
    L16,
    /// Linear 16-bit signed big-endian PCM (RTP's L16, network byte order).
    L16Be,
}

/// Carrier payload bytes -> internal 16 kHz 20 ms frames: decode, resample, re-chunk.
#[derive(Debug)]
pub struct Ingress {
    codec: Codec,
    resampler: StreamResampler,
    framer: Framer,
    decoded: Vec<i16>,
    resampled: Vec<i16>,
    odd_byte: Option<u8>,
}

impl Ingress {
    /// A chain for `codec` at `rate`.
    pub fn new(codec: Codec, rate: SampleRate) -> Result<Self, ResampleError> {
        Ok(Self {
            codec,
            resampler: StreamResampler::new(rate, INTERNAL_RATE)?,
            framer: Framer::new(),
            decoded: Vec::with_capacity(rate.samples_in_ms(200)),
            resampled: Vec::with_capacity(INTERNAL_RATE.samples_in_ms(200)),
            odd_byte: None,
        })
    }

    /// Decodes one payload, calling `emit` for each complete internal frame.
    pub fn push(&mut self, payload: &[u8], emit: impl FnMut(AudioFrame)) {
        self.decoded.clear();
        match self.codec {
            Codec::MuLaw => self
                .decoded
                .extend(payload.iter().map(|&b| g711::mulaw_decode(b))),
            Codec::ALaw => self
                .decoded
                .extend(payload.iter().map(|&b| g711::alaw_decode(b))),
            Codec::L16 | Codec::L16Be => {
                let sample = if self.codec == Codec::L16 {
                    i16::from_le_bytes
                } else {
                    i16::from_be_bytes
                };
                let mut bytes = payload;
                if let Some(first) = self.odd_byte.take() {
                    if let Some((&second, rest)) = bytes.split_first() {
                        self.decoded.push(sample([first, second]));
                        bytes = rest;
                    } else {
                        self.odd_byte = Some(first);
                    }
                }
                let pairs = bytes.chunks_exact(2);
                self.odd_byte = pairs.remainder().first().copied();
                self.decoded.extend(pairs.map(|p| sample([p[0], p[1]])));
            }
        }
        self.resampled.clear();
        self.resampler.process(&self.decoded, &mut self.resampled);
        self.framer.push(&self.resampled, emit);
    }
}

/// Internal 16 kHz frames -> carrier payload bytes: resample, encode.
#[derive(Debug)]
pub struct Egress {
    codec: Codec,
    resampler: StreamResampler,
    resampled: Vec<i16>,
}

impl Egress {
    /// A chain for `codec` at `rate`.
    pub fn new(codec: Codec, rate: SampleRate) -> Result<Self, ResampleError> {
        Ok(Self {
            codec,
            resampler: StreamResampler::new(INTERNAL_RATE, rate)?,
            resampled: Vec::with_capacity(rate.samples_in_ms(40)),
        })
    }

    /// Encodes one frame, appending the carrier's bytes to `out`.
    pub fn encode(&mut self, frame: &AudioFrame, out: &mut Vec<u8>) {
        self.resampled.clear();
        self.resampler.process(frame.samples(), &mut self.resampled);
        match self.codec {
            Codec::MuLaw => out.extend(self.resampled.iter().map(|&s| g711::mulaw_encode(s))),
            Codec::ALaw => out.extend(self.resampled.iter().map(|&s| g711::alaw_encode(s))),
            Codec::L16 => {
                for s in &self.resampled {
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
            Codec::L16Be => {
                for s in &self.resampled {
                    out.extend_from_slice(&s.to_be_bytes());
                }
            }
        }
    }

    /// Forgets filter state (after the carrier's buffer was cleared).
    pub fn reset(&mut self) {
        self.resampler.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_khz_mulaw_twenty_ms_round_trips_through_the_internal_format() {
        let mut ing = Ingress::new(Codec::MuLaw, SampleRate(8000)).expect("valid");
        let mut eg = Egress::new(Codec::MuLaw, SampleRate(8000)).expect("valid");
        let tone: Vec<u8> = (0..8000)
            .map(|i| g711::mulaw_encode(((i as f32 * 0.3).sin() * 8000.0) as i16))
            .collect();
        let mut frames = Vec::new();
        for payload in tone.chunks(160) {
            ing.push(payload, |f| frames.push(f));
        }
        assert!(frames.len() >= 49 && frames.len() <= 50, "{}", frames.len());
        let mut back = Vec::new();
        for f in &frames {
            eg.encode(f, &mut back);
        }
        // one frame may still sit in the framer, plus a few samples of filter delay
        assert!(
            (back.len() as i64 - 8000).abs() <= 2 * 160,
            "{}",
            back.len()
        );
    }

    #[test]
    fn big_endian_l16_is_read_in_network_byte_order() {
        let samples: Vec<i16> = (0..320).map(|i| (i as i16 - 160) * 97).collect();
        let be: Vec<u8> = samples.iter().flat_map(|s| s.to_be_bytes()).collect();
        let mut ing = Ingress::new(Codec::L16Be, SampleRate(16000)).expect("valid");
        let mut frames = Vec::new();
        ing.push(&be[..3], |f| frames.push(f));
        ing.push(&be[3..], |f| frames.push(f));
        assert_eq!(&frames[0].samples()[..], &samples[..]);
        let mut eg = Egress::new(Codec::L16Be, SampleRate(16000)).expect("valid");
        let mut out = Vec::new();
        eg.encode(&frames[0], &mut out);
        assert_eq!(out, be);
    }

    #[test]
    fn l16_payloads_split_mid_sample_are_reassembled() {
        let mut ing = Ingress::new(Codec::L16, SampleRate(16000)).expect("valid");
        let samples: Vec<i16> = (0..320).map(|i| i as i16 * 3).collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut frames = Vec::new();
        ing.push(&bytes[..101], |f| frames.push(f));
        ing.push(&bytes[101..], |f| frames.push(f));
        assert_eq!(frames.len(), 1);
        assert_eq!(&frames[0].samples()[..], &samples[..]);
    }
}
