//! Local speech recognition per segment against streaming (Whisper passes while the caller
//! speaks), measured in the same run on the recorded phone prompts of the shared fixtures.
//! `cargo bench --bench streaming_asr` (needs `vox models fetch`; prints what it skips).
//!
//! Each prompt is played as a call would deliver it: 16 kHz frames in real time (0.5 s of
//! silence before, 1 s after), through Silero VAD with the server's default settings, into
//! one recognizer session with the server's Whisper (tiny.en, one worker, reduced audio
//! context, one compute thread or, as the server does by default, two for a pass that runs
//! alone on an idle machine). Per mode:
//!
//! - the VAD's end of speech -> the segment's final transcript (what the engine's
//!   `asr_final` milestone measures), median and p90, over every segment;
//! - word error rate of the prompt's finals against its transcript;
//! - interim transcripts per prompt and the first one's time after speech began;
//! - the process's CPU seconds per minute of audio (Whisper, Silero and the session).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vox_audio::VadFactory as _;
use vox_core::{AudioFrame, FRAME_SAMPLES, VadEvent};
use vox_models::{Models, SileroConfig, SileroModel, SileroVads, WhisperLocal};
use vox_providers::{AsrEvent, AsrProvider, IncrementalAsr, SegmentedAsr};

#[path = "common/wer.rs"]
mod wer;
use wer::{edits, words};

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let tck = 100.0; // USER_HZ on Linux
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / tck
}

struct Clip {
    name: String,
    frames: Vec<AudioFrame>,
    reference: Vec<String>,
}

#[derive(Default)]
struct Outcome {
    final_ms: Vec<f64>,
    errors: usize,
    words: usize,
    interims: usize,
    first_interim_ms: Vec<f64>,
    audio_s: f64,
    cpu_s: f64,
    lines: Vec<String>,
}

/// Notes one event of a clip's session.
fn record(
    e: AsrEvent,
    onset: Option<Instant>,
    out: &mut Outcome,
    finals: &mut Vec<(Instant, String)>,
    first_interim: &mut Option<f64>,
) {
    let at = Instant::now();
    match e {
        AsrEvent::Final(t) => finals.push((at, t)),
        AsrEvent::Interim(_) => {
            out.interims += 1;
            if first_interim.is_none()
                && let Some(o) = onset
            {
                *first_interim = Some(at.duration_since(o).as_secs_f64() * 1000.0);
            }
        }
        AsrEvent::Error(e) => finals.push((at, format!("<error: {e}>"))),
    }
}

/// Plays every clip in real time into a fresh session of `asr`.
async fn run(asr: &dyn AsrProvider, vads: &SileroVads, clips: &[Clip]) -> Outcome {
    let mut out = Outcome::default();
    let cpu0 = cpu_secs();
    for clip in clips {
        let mut vad = vads.create();
        let mut session = asr.session();
        let lead = vec![AudioFrame::silence(); 25];
        let tail = vec![AudioFrame::silence(); 50];
        let all: Vec<&AudioFrame> = lead.iter().chain(&clip.frames).chain(&tail).collect();
        out.audio_s += all.len() as f64 * 0.02;
        let mut ends: Vec<Instant> = Vec::new();
        let mut onset: Option<Instant> = None;
        let mut finals: Vec<(Instant, String)> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut first_interim: Option<f64> = None;
        for f in all {
            // events are timed as they arrive, not at the next frame's tick
            loop {
                tokio::select! {
                    _ = tick.tick() => break,
                    Some(e) = session.events.recv() => {
                        record(e, onset, &mut out, &mut finals, &mut first_interim);
                    }
                }
            }
            let v = vad.process(f);
            let now = Instant::now();
            match v.event {
                Some(VadEvent::SpeechStart) if onset.is_none() => onset = Some(now),
                Some(VadEvent::SpeechEnd) => ends.push(now),
                _ => {}
            }
            if session.audio.try_send((f.clone(), v)).is_err() {
                eprintln!(
                    "{}: a frame was dropped (the session fell behind)",
                    clip.name
                );
            }
            while let Ok(e) = session.events.try_recv() {
                record(e, onset, &mut out, &mut finals, &mut first_interim);
            }
        }
        // the last finals, however late
        let deadline = Instant::now() + Duration::from_secs(5);
        while finals.len() < ends.len() && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(100), session.events.recv()).await {
                Ok(Some(e)) => record(e, onset, &mut out, &mut finals, &mut first_interim),
                Ok(None) => break,
                Err(_) => {}
            }
        }
        out.first_interim_ms.extend(first_interim);
        for (end, (at, _)) in ends.iter().zip(&finals) {
            out.final_ms
                .push(at.saturating_duration_since(*end).as_secs_f64() * 1000.0);
        }
        let heard: String = finals
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let hyp = words(&heard);
        let e = edits(&clip.reference, &hyp);
        out.errors += e;
        out.words += clip.reference.len();
        out.lines.push(format!(
            "{}: {} segment(s), {e} error(s): {heard}",
            clip.name,
            ends.len()
        ));
    }
    out.cpu_s = cpu_secs() - cpu0;
    out
}

#[allow(clippy::print_stdout)]
fn main() {
    let dir = std::env::var("VOX_MODELS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into());
    let models = Models::new(dir);
    let fixtures = std::env::var("VOX_SPEECH_FIXTURES").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/speech"
        )
        .into()
    });
    let fixtures = Path::new(&fixtures);
    let Ok(tsv) = std::fs::read_to_string(fixtures.join("transcripts.tsv")) else {
        println!("not measured: no {}/transcripts.tsv", fixtures.display());
        return;
    };
    let clips: Vec<Clip> = tsv
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(f, t)| {
            let samples =
                vox_audio::wav::read_mono_at(&fixtures.join(f), vox_core::INTERNAL_RATE).ok()?;
            Some(Clip {
                name: f.to_owned(),
                frames: samples
                    .chunks_exact(FRAME_SAMPLES)
                    .filter_map(AudioFrame::from_slice)
                    .collect(),
                reference: words(t),
            })
        })
        .collect();
    // the server's Whisper: one worker, one compute thread, two for a lone pass on an idle
    // machine (`models.whisper_idle_threads`); and the same with one thread always
    let (silero, one, idle) = match (
        SileroModel::load(&models, 1),
        WhisperLocal::load(&models, 1, 1, true),
    ) {
        (Ok(s), Ok(w)) => (s, Arc::new(w.clone()), Arc::new(w.with_idle_threads(2))),
        (Err(e), _) | (_, Err(e)) => {
            println!("not measured: {e} (run `vox models fetch`)");
            return;
        }
    };
    let vads = SileroVads {
        model: silero,
        cfg: SileroConfig::default(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let modes: Vec<(&str, Box<dyn AsrProvider>)> = vec![
        (
            "per segment, one thread (before)",
            Box::new(SegmentedAsr::new(one.clone())),
        ),
        (
            "per segment, idle threads",
            Box::new(SegmentedAsr::new(idle.clone())),
        ),
        (
            "streaming, one thread",
            Box::new(IncrementalAsr::new(one.clone(), None)),
        ),
        (
            "streaming, idle threads (default)",
            Box::new(IncrementalAsr::new(idle.clone(), None)),
        ),
        (
            "streaming, idle threads, interims every 1 s",
            Box::new(IncrementalAsr::new(
                idle.clone(),
                Some(Duration::from_secs(1)),
            )),
        ),
    ];
    println!(
        "{} prompts, real time, Silero VAD (stop 200 ms), Whisper tiny.en (1 worker; 1 thread, or 2 when idle)",
        clips.len()
    );
    let mut rows = Vec::new();
    for (name, asr) in &modes {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let o = rt.block_on(run(asr.as_ref(), &vads, &clips));
        if std::env::var_os("VOX_BENCH_VERBOSE").is_some() {
            for l in &o.lines {
                println!("  {l}");
            }
        }
        rows.push(format!(
            "| {name} | {:.0} ms | {:.0} ms | {:.1}% ({} / {}) | {:.1} | {:.0} ms | {:.2} |",
            quantile(&o.final_ms, 0.5),
            quantile(&o.final_ms, 0.9),
            100.0 * o.errors as f64 / o.words.max(1) as f64,
            o.errors,
            o.words,
            o.interims as f64 / clips.len().max(1) as f64,
            quantile(&o.first_interim_ms, 0.5),
            o.cpu_s / (o.audio_s / 60.0),
        ));
        println!("{}", rows.last().map_or("", String::as_str));
    }
    println!();
    println!(
        "| mode | end of speech -> final, p50 | p90 | WER | interims per prompt | first interim after onset, p50 | CPU-s per audio minute |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        println!("{r}");
    }
}
