//! Piper TTS (VITS, ONNX) with the pinned en_US-joe-medium voice. Phonemes come from the
//! espeak-ng program run as a subprocess (its GPL code stays out of our binary).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use futures::stream::StreamExt;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;
use vox_audio::StreamResampler;
use vox_core::{INTERNAL_RATE, SampleRate};
use vox_providers::{ProviderError, TtsProvider, TtsStream};

use crate::worker::Workers;
use crate::{ModelError, Models};

/// Sentences waiting for the synthesizer; beyond this it answers "busy".
const QUEUE: usize = 16;

#[derive(Debug, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    inference: Inference,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Debug, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Deserialize)]
struct EspeakConfig {
    voice: String,
}

#[derive(Debug, Deserialize, Clone, Copy)]
struct Inference {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// A loaded voice: its phoneme table and settings.
#[derive(Debug)]
struct Voice {
    ids: HashMap<char, Vec<i64>>,
    espeak_voice: String,
    rate: u32,
    scales: Inference,
}

impl Voice {
    fn load(json: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(json)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", json.display())))?;
        let cfg: VoiceConfig = serde_json::from_str(&text)
            .map_err(|e| ModelError::Runtime(format!("{}: {e}", json.display())))?;
        let ids = cfg
            .phoneme_id_map
            .into_iter()
            .filter_map(|(k, v)| {
                k.chars()
                    .next()
                    .filter(|_| k.chars().count() == 1)
                    .map(|c| (c, v))
            })
            .collect();
        Ok(Self {
            ids,
            espeak_voice: cfg.espeak.voice,
            rate: cfg.audio.sample_rate,
            scales: cfg.inference,
        })
    }

    /// Piper's id sequence: BOS, then each phoneme followed by the pad, then EOS.
    fn phoneme_ids(&self, phonemes: &str) -> Vec<i64> {
        let id = |c: char| self.ids.get(&c).cloned().unwrap_or_default();
        let pad = id('_');
        let mut out = id('^');
        out.extend(&pad);
        for c in phonemes.chars() {
            if let Some(ids) = self.ids.get(&c) {
                out.extend(ids);
                out.extend(&pad);
            }
        }
        out.extend(id('$'));
        out
    }
}

/// IPA phonemes of `text` from espeak-ng, with the clause punctuation put back (espeak-ng
/// prints one line per clause and drops the punctuation, which Piper uses for prosody).
pub fn phonemize(text: &str, voice: &str) -> Result<String, ModelError> {
    let mut child = Command::new("espeak-ng")
        .args(["-q", "--ipa", "-v", voice, "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            ModelError::Runtime(format!(
                "cannot run espeak-ng ({e}): install it (Debian: apt-get install espeak-ng)"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // newlines would start new clauses without punctuation: speak them as spaces
        let one_line = text.replace(['\n', '\r'], " ");
        stdin
            .write_all(one_line.as_bytes())
            .map_err(|e| ModelError::Runtime(format!("espeak-ng: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| ModelError::Runtime(format!("espeak-ng: {e}")))?;
    if !out.status.success() {
        return Err(ModelError::Runtime(format!(
            "espeak-ng failed with {}",
            out.status
        )));
    }
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let terminators: Vec<char> = chars
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            matches!(c, ',' | '.' | '!' | '?' | ';' | ':')
                && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
        })
        .map(|(_, c)| *c)
        .collect();
    let mut phonemes = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            phonemes.push(' ');
        }
        phonemes.push_str(line);
        if (lines.len() == terminators.len() || lines.len() == terminators.len() + 1)
            && let Some(t) = terminators.get(i)
        {
            phonemes.push(*t);
        }
    }
    Ok(phonemes)
}

/// The worker's state.
struct Worker {
    session: Session,
    voice: Voice,
}

/// Piper on a worker thread behind a bounded queue. Cloning shares the worker.
#[derive(Clone)]
pub struct PiperTts {
    workers: Workers<Worker>,
    rate: u32,
}

impl std::fmt::Debug for PiperTts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperTts")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

fn synthesize(session: &mut Session, voice: &Voice, text: &str) -> Result<Vec<f32>, ModelError> {
    let phonemes = phonemize(text, &voice.espeak_voice)?;
    let ids = voice.phoneme_ids(&phonemes);
    if ids.len() <= 3 {
        return Ok(Vec::new());
    }
    let err = |e: ort::Error| ModelError::Runtime(format!("piper: {e}"));
    let n = ids.len();
    let input = Tensor::from_array(([1usize, n], ids)).map_err(err)?;
    let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(err)?;
    let s = voice.scales;
    let scales = Tensor::from_array(([3usize], vec![s.noise_scale, s.length_scale, s.noise_w]))
        .map_err(err)?;
    let outputs = session
        .run(ort::inputs!["input" => input, "input_lengths" => lengths, "scales" => scales])
        .map_err(err)?;
    let (_, audio) = outputs["output"].try_extract_tensor::<f32>().map_err(err)?;
    Ok(audio.to_vec())
}

impl PiperTts {
    /// Loads the joe voice with one worker thread, sampling its noise as the voice is
    /// configured (each reading of a text a little different).
    pub fn load(models: &Models) -> Result<Self, ModelError> {
        Self::load_with_noise(models, true)
    }

    /// The same; without `noise`, the voice's noise scales are zero, so a text is spoken
    /// exactly the same way every time (deterministic tests; cacheable phrases).
    pub fn load_with_noise(models: &Models, noise: bool) -> Result<Self, ModelError> {
        let onnx = models.file(
            "Piper voice en_US-joe-medium",
            "piper/en_US-joe-medium.onnx",
        )?;
        let json = models.file("Piper voice config", "piper/en_US-joe-medium.onnx.json")?;
        let mut voice = Voice::load(&json)?;
        if !noise {
            voice.scales.noise_scale = 0.0;
            voice.scales.noise_w = 0.0;
        }
        let rate = voice.rate;
        let worker = Worker {
            session: models.session(&onnx, 1)?,
            voice,
        };
        Ok(Self {
            workers: Workers::spawn("piper", vec![worker], QUEUE)?,
            rate,
        })
    }

    /// The voice's native sample rate (22050 Hz).
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Speech of `text` at the voice's native rate, as -1..1 samples (blocking).
    pub fn synthesize_blocking(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let text = text.to_owned();
        self.workers
            .run_blocking(move |w| synthesize(&mut w.session, &w.voice, &text))
    }
}

/// Native-rate float samples -> 16 kHz i16.
fn to_internal(audio: &[f32], rate: u32) -> Result<Vec<i16>, ProviderError> {
    let pcm: Vec<i16> = audio
        .iter()
        .map(|&x| (x * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect();
    let mut rs = StreamResampler::new(SampleRate(rate), INTERNAL_RATE)
        .map_err(|e| ProviderError::new("tts", e.to_string(), false))?;
    let mut out = Vec::with_capacity(pcm.len() * 16_000 / rate as usize + 400);
    rs.process(&pcm, &mut out);
    rs.process(&vec![0; SampleRate(rate).samples_in_ms(20)], &mut out);
    Ok(out)
}

impl TtsProvider for PiperTts {
    fn synthesize(&self, text: String) -> TtsStream {
        let rate = self.rate;
        let audio = self
            .workers
            .run("tts", move |w| synthesize(&mut w.session, &w.voice, &text));
        futures::stream::once(async move { to_internal(&audio.await?, rate) }).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bos_pad_interleaved_eos() {
        let ids: HashMap<char, Vec<i64>> = [('_', 0), ('^', 1), ('$', 2), ('a', 14), ('b', 15)]
            .into_iter()
            .map(|(c, i)| (c, vec![i]))
            .collect();
        let v = Voice {
            ids,
            espeak_voice: "en-us".into(),
            rate: 22050,
            scales: Inference {
                noise_scale: 0.667,
                length_scale: 1.0,
                noise_w: 0.8,
            },
        };
        assert_eq!(
            v.phoneme_ids("ab?"),
            vec![1, 0, 14, 0, 15, 0, 2],
            "unknown symbols are skipped"
        );
    }
}
