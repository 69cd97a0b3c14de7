//! Whisper speech recognition on whisper.cpp, with the tiny.en weights converted from the
//! pinned CTranslate2 package. Runs on its own worker threads behind a bounded queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use futures::future::BoxFuture;
use vox_core::AudioFrame;
use vox_providers::{ProviderError, SegmentTranscriber};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::fetch::{WHISPER_BASE_GGML, WHISPER_TINY_EN_GGML};
use crate::worker::Workers;
use crate::{ModelError, Models};

/// Encoder positions beyond the segment's own length (50 a second) in reduced-context mode.
/// Measured on the 40 recorded prompts (benches/models.rs): +64 gives 54.5% WER, +256 8.4%,
/// +512 5.6% (300 ms median), the full 1500 positions 5.0% (851 ms median).
const CONTEXT_MARGIN: i32 = 512;

/// Segments waiting for a worker; beyond this the recognizer answers "busy".
const QUEUE: usize = 16;

/// Which Whisper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhisperModel {
    /// tiny.en (39 M parameters, English only): the default.
    #[default]
    TinyEn,
    /// base (74 M, multilingual, decoded as English): more robust, ~2x the compute.
    Base,
}

impl WhisperModel {
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Self::TinyEn => ("Whisper tiny.en (ggml)", WHISPER_TINY_EN_GGML),
            Self::Base => ("Whisper base (ggml)", WHISPER_BASE_GGML),
        }
    }
}

/// One worker's decoding state, keeping the shared model alive.
struct Worker {
    state: WhisperState,
    _ctx: Arc<WhisperContext>,
}

/// Local Whisper: one model in memory, `workers` threads each with its own decoding state.
#[derive(Clone)]
pub struct WhisperLocal {
    workers: Workers<Worker>,
    threads: i32,
    /// Compute threads for a pass that runs alone on an idle machine (see [`Threads`]).
    idle_threads: i32,
    reduced_context: bool,
    /// The last pass: when it ran, and on how many threads.
    last_pass: Arc<Mutex<Option<(Instant, Instant, i32)>>>,
}

impl std::fmt::Debug for WhisperLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperLocal")
            .field("threads", &self.threads)
            .field("idle_threads", &self.idle_threads)
            .field("reduced_context", &self.reduced_context)
            .finish_non_exhaustive()
    }
}

static LOG_HOOKS: Once = Once::new();

impl WhisperLocal {
    /// Loads tiny.en with `workers` worker threads of `threads` compute threads each. With
    /// `reduced_context`, the encoder only attends over the segment's length instead of 30 s
    /// (several times faster on short turns).
    pub fn load(
        models: &Models,
        workers: usize,
        threads: i32,
        reduced_context: bool,
    ) -> Result<Self, ModelError> {
        Self::load_model(
            models,
            WhisperModel::TinyEn,
            workers,
            threads,
            reduced_context,
        )
    }

    /// Like [`Self::load`], for the given model.
    pub fn load_model(
        models: &Models,
        model: WhisperModel,
        workers: usize,
        threads: i32,
        reduced_context: bool,
    ) -> Result<Self, ModelError> {
        LOG_HOOKS.call_once(whisper_rs::install_logging_hooks);
        let (what, file) = model.file();
        let path = models.file(what, file)?;
        let path_str = path.to_string_lossy().into_owned();
        let ctx = Arc::new(
            WhisperContext::new_with_params(&path_str, WhisperContextParameters::default())
                .map_err(|e| ModelError::Runtime(format!("cannot load {path_str}: {e}")))?,
        );
        let states = (0..workers.max(1))
            .map(|_| {
                Ok(Worker {
                    state: ctx
                        .create_state()
                        .map_err(|e| ModelError::Runtime(format!("whisper state: {e}")))?,
                    _ctx: ctx.clone(),
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Self {
            workers: Workers::spawn("whisper", states, QUEUE)?,
            threads: threads.max(1),
            idle_threads: threads.max(1),
            reduced_context,
            last_pass: Arc::default(),
        })
    }

    /// Lets a pass use up to `idle_threads` compute threads when it is the only one and the
    /// machine has that many cores idle (a quiet server transcribes a turn ~1.7x faster on
    /// two threads than on one). Under load, passes keep to the base threads: ggml's threads
    /// spin at barriers and lose to live audio work for the cores.
    pub fn with_idle_threads(mut self, idle_threads: i32) -> Self {
        self.idle_threads = idle_threads.max(self.threads);
        self
    }

    fn threads(&self) -> Threads {
        Threads {
            base: self.threads,
            idle: self.idle_threads,
            jobs: self.workers.load_counter(),
            last: self.last_pass.clone(),
        }
    }

    /// Transcribes 16 kHz audio, blocking until a worker is done.
    pub fn transcribe_blocking(&self, samples: &[i16]) -> Result<String, ModelError> {
        let audio: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let (threads, reduced) = (self.threads(), self.reduced_context);
        self.workers
            .run_blocking(move |w| threads.pass(|t| run(&mut w.state, &audio, t, reduced)))
    }
}

/// How many compute threads a pass gets, decided when it starts.
struct Threads {
    base: i32,
    idle: i32,
    /// The workers' jobs queued or running, this one included.
    jobs: Arc<AtomicUsize>,
    /// When the last pass ran, and on how many threads.
    last: Arc<Mutex<Option<(Instant, Instant, i32)>>>,
}

impl Threads {
    /// Threads for a pass starting now: the idle cores of the last moment, counting those
    /// the previous pass kept busy in it as idle (it is over).
    fn now(&self) -> i32 {
        if self.idle <= self.base || self.jobs.load(Ordering::SeqCst) > 1 {
            return self.base;
        }
        let Some(w) = crate::idle::last_window() else {
            return self.base;
        };
        let own = match self.last.lock().ok().and_then(|l| *l) {
            Some((from, to, threads)) => w.share(from, to) * threads as f32,
            None => 0.0,
        };
        threads_for(self.base, self.idle, w.idle_cores + own)
    }

    /// Runs a pass on the threads it gets now.
    fn pass<R>(&self, f: impl FnOnce(i32) -> R) -> R {
        let threads = self.now();
        let from = Instant::now();
        let r = f(threads);
        if let Ok(mut l) = self.last.lock() {
            *l = Some((from, Instant::now(), threads));
        }
        r
    }
}

/// Threads for a lone pass with `idle_cores` idle over the last moment (the pass's own core
/// among them): a core at least 85% idle counts. (At 70%, eight local calls on two cores
/// had a late reply frame or two per run that one thread did not have.)
fn threads_for(base: i32, idle: i32, idle_cores: f32) -> i32 {
    ((idle_cores + 0.15).floor() as i32).clamp(base, idle)
}

fn run(
    state: &mut WhisperState,
    audio: &[f32],
    threads: i32,
    reduced: bool,
) -> Result<String, ModelError> {
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    p.set_language(Some("en"));
    p.set_n_threads(threads);
    p.set_no_context(true);
    p.set_no_timestamps(true);
    p.set_suppress_blank(true);
    // no temperature fallback: when a greedy decode looks poor, whisper.cpp would decode
    // again by sampling at rising temperatures, which makes the transcript of the same audio
    // differ between runs and costs a decode each time; greedy only is deterministic
    p.set_temperature_inc(0.0);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_special(false);
    p.set_print_timestamps(false);
    if reduced {
        // 50 encoder positions per second of audio, plus a margin; 1500 is the full 30 s.
        let ctx = ((audio.len() as f32 / 16_000.0) * 50.0) as i32 + CONTEXT_MARGIN;
        p.set_audio_ctx(ctx.clamp(128, 1500));
    }
    // whisper.cpp needs at least 1 s of audio; pad short segments with silence.
    let mut padded;
    let audio = if audio.len() < 16_800 {
        padded = audio.to_vec();
        padded.resize(16_800, 0.0);
        &padded[..]
    } else {
        audio
    };
    state
        .full(p, audio)
        .map_err(|e| ModelError::Runtime(format!("whisper: {e}")))?;
    let mut text = String::new();
    for i in 0..state.full_n_segments() {
        if let Some(seg) = state.get_segment(i) {
            text.push_str(
                &seg.to_str_lossy()
                    .map_err(|e| ModelError::Runtime(format!("whisper text: {e}")))?,
            );
        }
    }
    Ok(text.trim().to_owned())
}

impl SegmentTranscriber for WhisperLocal {
    fn transcribe(
        &self,
        frames: Vec<AudioFrame>,
    ) -> BoxFuture<'static, Result<String, ProviderError>> {
        let audio: Vec<f32> = frames
            .iter()
            .flat_map(|f| f.samples().iter().map(|&s| f32::from(s) / 32768.0))
            .collect();
        let (threads, reduced) = (self.threads(), self.reduced_context);
        self.workers.run("asr", move |w| {
            threads.pass(|t| run(&mut w.state, &audio, t, reduced))
        })
    }

    fn busy(&self) -> bool {
        self.workers.busy()
    }
}

#[cfg(test)]
mod tests {
    use super::threads_for;

    #[test]
    fn a_lone_pass_takes_the_idle_cores_up_to_its_limit() {
        assert_eq!(threads_for(1, 2, 2.0), 2);
        assert_eq!(threads_for(1, 2, 1.9), 2);
        // something else uses a quarter of a core: one thread
        assert_eq!(threads_for(1, 2, 1.75), 1);
        assert_eq!(threads_for(1, 2, 0.0), 1);
        assert_eq!(threads_for(1, 4, 3.9), 4);
        assert_eq!(threads_for(1, 4, 2.9), 3);
        assert_eq!(threads_for(2, 4, 0.5), 2);
    }
}
