//! Smart Turn v3.2: is the caller done? From the last 8 s of their audio.

use futures::future::BoxFuture;
use ort::session::Session;
use ort::value::Tensor;
use vox_audio::mel::{LogMel, N_MELS};
use vox_providers::{EndOfTurnModel, ProviderError};

use crate::worker::Workers;
use crate::{ModelError, Models};

/// Audio the model looks at: the last 8 s at 16 kHz.
const SAMPLES: usize = 8 * 16_000;
/// Jobs waiting for a worker; beyond this the model answers "busy".
const QUEUE: usize = 8;

/// One worker's state: its session and feature extractor.
struct Worker {
    session: Session,
    mel: LogMel,
}

/// Smart Turn v3.2 on dedicated worker threads (each with its own session), fed through a
/// bounded queue. Cloning shares the workers.
#[derive(Clone)]
pub struct SmartTurn {
    workers: Workers<Worker>,
}

impl std::fmt::Debug for SmartTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmartTurn")
    }
}

impl SmartTurn {
    /// Loads the model and starts `workers` threads.
    pub fn load(models: &Models, workers: usize) -> Result<Self, ModelError> {
        let path = models.file("Smart Turn v3.2", "smart-turn/smart-turn-v3.2-cpu.onnx")?;
        let states = (0..workers.max(1))
            .map(|_| {
                Ok(Worker {
                    session: models.session(&path, 1)?,
                    mel: LogMel::new(),
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Self {
            workers: Workers::spawn("smart-turn", states, QUEUE)?,
        })
    }

    /// Runs the model, blocking until a worker answers.
    pub fn predict_blocking(&self, audio: &[i16]) -> Result<f32, ModelError> {
        let audio = audio.to_vec();
        self.workers
            .run_blocking(move |w| infer(&mut w.session, &w.mel, &audio))
    }
}

/// The last 8 s, zero-padded at the front, as -1..1.
fn window(audio: &[i16]) -> Vec<f32> {
    let tail = &audio[audio.len().saturating_sub(SAMPLES)..];
    let mut x = vec![0.0f32; SAMPLES - tail.len()];
    x.extend(tail.iter().map(|&s| f32::from(s) / 32768.0));
    x
}

fn infer(session: &mut Session, mel: &LogMel, audio: &[i16]) -> Result<f32, ModelError> {
    let (features, frames) = mel.compute(&window(audio));
    let err = |e: ort::Error| ModelError::Runtime(format!("smart turn: {e}"));
    let input = Tensor::from_array(([1usize, N_MELS, frames], features)).map_err(err)?;
    let outputs = session
        .run(ort::inputs!["input_features" => input])
        .map_err(err)?;
    // The exported model ends in a sigmoid: its "logits" output is already a probability.
    let (_, p) = outputs["logits"].try_extract_tensor::<f32>().map_err(err)?;
    p.first()
        .copied()
        .ok_or_else(|| ModelError::Runtime("smart turn: empty output".into()))
}

impl EndOfTurnModel for SmartTurn {
    fn predict(&self, audio: Vec<i16>) -> BoxFuture<'static, Result<f32, ProviderError>> {
        self.workers
            .run("eot", move |w| infer(&mut w.session, &w.mel, &audio))
    }
}
