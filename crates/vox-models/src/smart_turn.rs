//! Smart Turn v3.2: is the caller done? From the last 8 s of their audio.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use ort::session::Session;
use ort::value::Tensor;
use vox_audio::mel::{LogMel, N_MELS};
use vox_providers::{EndOfTurnModel, ProviderError};

use crate::{ModelError, Models};

/// Audio the model looks at: the last 8 s at 16 kHz.
const SAMPLES: usize = 8 * 16_000;
/// Jobs waiting for a worker; beyond this the model answers "busy".
const QUEUE: usize = 8;

type Job = Box<dyn FnOnce(&mut Session, &LogMel) + Send>;

/// Smart Turn v3.2 on dedicated worker threads (each with its own session), fed through a
/// bounded queue. Cloning shares the workers.
#[derive(Clone)]
pub struct SmartTurn {
    jobs: SyncSender<Job>,
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
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let mut session = models.session(&path, 1)?;
            let rx: Arc<Mutex<Receiver<Job>>> = rx.clone();
            std::thread::Builder::new()
                .name(format!("smart-turn-{i}"))
                .spawn(move || {
                    let mel = LogMel::new();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut session, &mel),
                            Err(_) => return, // every SmartTurn handle is gone
                        }
                    }
                })
                .map_err(|e| ModelError::Runtime(format!("cannot start a Smart Turn worker: {e}")))?;
        }
        Ok(Self { jobs: tx })
    }

    /// Runs the model on the calling thread's behalf (blocks until a worker answers).
    pub fn predict_blocking(&self, audio: &[i16]) -> Result<f32, ModelError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let audio = audio.to_vec();
        self.jobs
            .send(Box::new(move |session, mel| {
                let _ = tx.send(infer(session, mel, &audio));
            }))
            .map_err(|_| ModelError::Runtime("Smart Turn workers stopped".into()))?;
        rx.recv().map_err(|_| ModelError::Runtime("Smart Turn worker died".into()))?
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
    let outputs = session.run(ort::inputs!["input_features" => input]).map_err(err)?;
    // The exported model ends in a sigmoid: its "logits" output is already a probability.
    let (_, p) = outputs["logits"].try_extract_tensor::<f32>().map_err(err)?;
    p.first().copied().ok_or_else(|| ModelError::Runtime("smart turn: empty output".into()))
}

impl EndOfTurnModel for SmartTurn {
    fn predict(&self, audio: Vec<i16>) -> BoxFuture<'static, Result<f32, ProviderError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |session, mel| {
            let _ = tx.send(infer(session, mel, &audio));
        });
        match self.jobs.try_send(job) {
            Ok(()) => async move {
                rx.await
                    .map_err(|_| ProviderError::new("eot", "Smart Turn worker dropped the job", true))?
                    .map_err(|e| ProviderError::new("eot", e.to_string(), false))
            }
            .boxed(),
            Err(TrySendError::Full(_)) => futures::future::ready(Err(ProviderError::new("eot", "Smart Turn is busy", true))).boxed(),
            Err(TrySendError::Disconnected(_)) => futures::future::ready(Err(ProviderError::new("eot", "Smart Turn stopped", false))).boxed(),
        }
    }
}
