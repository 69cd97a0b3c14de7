//! Local model latency, as ratios measured in the same run. `cargo bench --bench models`
//! (needs `vox models fetch`; prints what it skips).
//!
//! Smart Turn: per end-of-turn decision, log-mel features of 8 s of audio, then inference;
//! reported in ms and as a fraction of the 8 s analysed (real-time factor).

use std::hint::black_box;
use std::time::Instant;

use vox_audio::mel::LogMel;
use vox_models::{
    LocalLlm, LocalLlmConfig, Models, PiperTts, SileroConfig, SileroModel, SileroVad, SmartTurn,
    WhisperLocal, WhisperModel,
};

#[path = "common/wer.rs"]
mod wer;
use wer::{edits, words};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::print_stdout)]
fn main() {
    let dir = std::env::var("VOX_MODELS_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../models").into());
    let models = Models::new(dir);
    let audio: Vec<i16> = vox_audio::wav::read_mono_at(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/speech/conf-onlyperson.wav"
        )),
        vox_core::INTERNAL_RATE,
    )
    .expect("fixture");
    let mel = LogMel::new();
    let x: Vec<f32> = (0..128_000)
        .map(|i| f32::from(audio[i % audio.len()]) / 32768.0)
        .collect();
    let features: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            black_box(mel.compute(black_box(&x)));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let feat = median(features);
    match SmartTurn::load(&models, 1) {
        Ok(st) => {
            let _ = st.predict_blocking(&audio);
            let total: Vec<f64> = (0..20)
                .map(|_| {
                    let t = Instant::now();
                    black_box(st.predict_blocking(black_box(&audio)).expect("predict"));
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            let total = median(total);
            println!(
                "Smart Turn v3.2 per decision (median of 20): {total:.1} ms = {:.4} of the 8 s analysed",
                total / 8000.0
            );
            println!(
                "  of which log-mel features {feat:.1} ms ({:.0}%), inference {:.1} ms",
                feat / total * 100.0,
                total - feat
            );
        }
        Err(e) => println!("Smart Turn not measured: {e} (log-mel features alone: {feat:.1} ms)"),
    }
    whisper_wer(&models);
    caller_turn_decisions(&models);
    piper_round_trip(&models);
    local_llm(&models);
}

/// VAD and end-of-turn decisions on the caller fixtures: each clip, framed as a call would
/// be (1 s of silence either side), should give one utterance, and Smart Turn should call the
/// complete utterance finished and its first half not.
#[allow(clippy::print_stdout)]
fn caller_turn_decisions(models: &Models) {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/callers"
    ));
    let Ok(tsv) = std::fs::read_to_string(dir.join("turns.tsv")) else {
        println!(
            "caller turn decisions not measured: no {}/turns.tsv",
            dir.display()
        );
        return;
    };
    let (silero, st) = match (SileroModel::load(models, 1), SmartTurn::load(models, 1)) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => {
            println!("caller turn decisions not measured: {e}");
            return;
        }
    };
    println!(
        "Caller fixtures: VAD segments and turns (segments under 700 ms apart joined; want 1 turn) and Smart Turn P(finished) on the whole utterance / its first half:"
    );
    let (mut vad_ok, mut energy_ok, mut complete_ok, mut half_ok, mut n) = (0, 0, 0, 0, 0);
    for (file, text) in tsv.lines().filter_map(|l| l.split_once('\t')) {
        let Ok(clip) = vox_audio::wav::read_mono_at(&dir.join(file), vox_core::INTERNAL_RATE)
        else {
            continue;
        };
        let mut samples = vec![0i16; 16_000];
        samples.extend(&clip);
        samples.extend(vec![0i16; 16_000]);
        let mut framer = vox_audio::Framer::new();
        let mut frames = Vec::new();
        framer.push(&samples, |f| frames.push(f));
        // (segments, turns): turns join segments less than the engine's 700 ms endpointing apart
        let count = |vad: &mut dyn vox_audio::Vad| {
            let (mut segments, mut turns, mut last_end) = (0, 0, None::<usize>);
            for (i, f) in frames.iter().enumerate() {
                match vad.process(f).event {
                    Some(vox_core::VadEvent::SpeechStart) => {
                        segments += 1;
                        if last_end.is_none_or(|e| i - e >= 35) {
                            turns += 1;
                        }
                    }
                    Some(vox_core::VadEvent::SpeechEnd) => last_end = Some(i),
                    _ => {}
                }
            }
            (segments, turns)
        };
        let (seg, utterances) = count(&mut SileroVad::new(silero.clone(), SileroConfig::default()));
        let (eseg, energy) = count(&mut vox_audio::EnergyVad::new(
            vox_audio::EnergyVadConfig::default(),
        ));
        let whole = st.predict_blocking(&clip).unwrap_or(f32::NAN);
        let half = st
            .predict_blocking(&clip[..clip.len() / 2])
            .unwrap_or(f32::NAN);
        println!(
            "  {file:<16} silero {seg} segments = {utterances} turns  energy {eseg} = {energy}  finished {whole:.2} / half {half:.2}   {text:?}"
        );
        n += 1;
        vad_ok += usize::from(utterances == 1);
        energy_ok += usize::from(energy == 1);
        complete_ok += usize::from(whole > 0.5);
        half_ok += usize::from(half < 0.5);
    }
    println!(
        "  one turn each: Silero {vad_ok}/{n}, energy VAD {energy_ok}/{n}; Smart Turn right on whole {complete_ok}/{n}, on halves {half_ok}/{n}"
    );
}

/// The local LLM: a spoken reply's first token and whole reply, cold (system prompt not yet
/// cached) and warm, and decode speed.
#[allow(clippy::print_stdout)]
fn local_llm(models: &Models) {
    let llm = match LocalLlm::load(models, LocalLlmConfig::default()) {
        Ok(l) => l,
        Err(e) => {
            println!("local LLM not measured: {e}");
            return;
        }
    };
    use futures_util::StreamExt as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let system = vox_core::ChatMessage::text(
        vox_core::Role::System,
        "You are the receptionist of Bright Smile Dental. The office is open Monday through Friday, 9 AM to 5 PM. A check-up costs 80 dollars. Answer the caller's question briefly.",
    );
    let questions = [
        "What are your opening hours?",
        "How much is a check-up?",
        "Are you open on Saturday?",
        "Where are you located?",
        "Can I bring my child?",
    ];
    let mut rows = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let request = vox_providers::LlmRequest {
            messages: vec![
                system.clone(),
                vox_core::ChatMessage::text(vox_core::Role::User, *q),
            ],
            tools: Vec::new(),
        };
        let t = Instant::now();
        let (first, text, pieces) = rt.block_on(async {
            let mut s = vox_providers::LlmProvider::stream(&llm, request);
            let mut first = None;
            let mut text = String::new();
            let mut pieces = 0;
            while let Some(Ok(vox_providers::LlmDelta::Text(p))) = s.next().await {
                first.get_or_insert_with(|| t.elapsed().as_secs_f64() * 1000.0);
                text.push_str(&p);
                pieces += 1;
            }
            (first.unwrap_or(f64::NAN), text, pieces)
        });
        let total = t.elapsed().as_secs_f64() * 1000.0;
        println!(
            "  local LLM {}: first token {first:.0} ms, reply {total:.0} ms ({pieces} pieces): {text:?}",
            if i == 0 { "cold" } else { "warm" }
        );
        if i > 0 {
            rows.push((first, (total - first) / (pieces.max(2) - 1) as f64));
        }
    }
    let firsts: Vec<f64> = rows.iter().map(|r| r.0).collect();
    let per: Vec<f64> = rows.iter().map(|r| r.1).collect();
    println!(
        "SmolLM2-135M (Q8_0, candle): warm first token median {:.0} ms, {:.1} ms per token after",
        median(firsts),
        median(per)
    );
}

const SENTENCES: [&str; 20] = [
    "Hello, thanks for calling. How can I help you today?",
    "Our opening hours are nine to five, Monday to Friday.",
    "Your appointment is booked for Tuesday at ten in the morning.",
    "Could you please tell me your name?",
    "I will transfer you to our sales team now.",
    "We are closed on Sundays and public holidays.",
    "Let me check that for you, one moment please.",
    "Is there anything else I can help you with?",
    "Thank you for calling, have a great day.",
    "Sorry, I did not catch that. Could you repeat it?",
    "The next available slot is Thursday afternoon.",
    "Please have your account number ready.",
    "I have cancelled your appointment on Friday.",
    "A technician will visit your home tomorrow morning.",
    "The repair usually takes about two hours.",
    "You will receive a confirmation by text message.",
    "Can I reach you at this number if we get cut off?",
    "We do not give quotes over the phone.",
    "Would you like me to book that for you?",
    "Goodbye, and thanks again for calling.",
];

#[allow(clippy::print_stdout)]
fn piper_round_trip(models: &Models) {
    let (piper, whisper) = match (
        PiperTts::load(models),
        WhisperLocal::load(models, 1, 2, true),
    ) {
        (Ok(p), Ok(w)) => (p, w),
        (Err(e), _) | (_, Err(e)) => {
            println!("Piper round trip not measured: {e}");
            return;
        }
    };
    let norm = |s: &str| -> Vec<String> {
        const NUM: [&str; 13] = [
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve",
        ];
        words(s)
            .into_iter()
            .map(|w| {
                NUM.iter()
                    .position(|n| *n == w)
                    .map_or(w, |i| i.to_string())
            })
            .collect()
    };
    let _ = piper.synthesize_blocking("Warm up.");
    let (mut errors, mut total, mut audio_s, mut synth_s) = (0, 0, 0.0, 0.0);
    let mut latencies = Vec::new();
    for text in SENTENCES {
        let t = Instant::now();
        let audio = piper.synthesize_blocking(text).expect("synthesize");
        let took = t.elapsed().as_secs_f64();
        latencies.push(took * 1000.0);
        synth_s += took;
        audio_s += audio.len() as f64 / f64::from(piper.sample_rate());
        let pcm: Vec<i16> = audio.iter().map(|&x| (x * 32767.0) as i16).collect();
        let mut at16 = Vec::new();
        let mut rs = vox_audio::StreamResampler::new(
            vox_core::SampleRate(piper.sample_rate()),
            vox_core::INTERNAL_RATE,
        )
        .expect("rates");
        rs.process(&pcm, &mut at16);
        let heard = whisper.transcribe_blocking(&at16).unwrap_or_default();
        let (r, h) = (norm(text), norm(&heard));
        errors += edits(&r, &h);
        total += r.len();
    }
    println!(
        "Piper (joe, medium) -> Whisper tiny.en round trip, 20 sentences: word accuracy {:.1}% ({errors} errors / {total} words)",
        100.0 - 100.0 * errors as f64 / total as f64
    );
    println!(
        "  Piper per sentence (espeak-ng + inference): median {:.0} ms; real-time factor {:.3} ({synth_s:.1} s for {audio_s:.1} s of speech)",
        median(latencies),
        synth_s / audio_s
    );
}

#[allow(clippy::print_stdout)]
fn whisper_wer(models: &Models) {
    let dir = std::env::var("VOX_SPEECH_FIXTURES").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/speech"
        )
        .into()
    });
    let dir = std::path::Path::new(&dir);
    let Ok(tsv) = std::fs::read_to_string(dir.join("transcripts.tsv")) else {
        println!(
            "Whisper WER not measured: no {}/transcripts.tsv",
            dir.display()
        );
        return;
    };
    let clips: Vec<(Vec<i16>, Vec<String>)> = tsv
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(f, t)| {
            Some((
                vox_audio::wav::read_mono_at(&dir.join(f), vox_core::INTERNAL_RATE).ok()?,
                words(t),
            ))
        })
        .collect();
    let audio_s: f64 = clips.iter().map(|c| c.0.len() as f64 / 16_000.0).sum();
    for (model, name, label, reduced) in [
        (
            WhisperModel::TinyEn,
            "tiny.en",
            "reduced audio context",
            true,
        ),
        (WhisperModel::TinyEn, "tiny.en", "full 30 s context", false),
        (WhisperModel::Base, "base", "reduced audio context", true),
    ] {
        let w = match WhisperLocal::load_model(models, model, 1, 2, reduced) {
            Ok(w) => w,
            Err(e) => {
                println!("Whisper not measured: {e}");
                return;
            }
        };
        let (mut errors, mut total) = (0, 0);
        let mut times = Vec::new();
        let t_all = Instant::now();
        for (audio, reference) in &clips {
            let t = Instant::now();
            let hyp = words(&w.transcribe_blocking(audio).unwrap_or_default());
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            errors += edits(reference, &hyp);
            total += reference.len();
        }
        let wall = t_all.elapsed().as_secs_f64();
        println!(
            "Whisper {name}, {label}: WER {:.1}% ({errors} errors / {total} words, {} clips, {audio_s:.0} s of audio); median {:.0} ms per utterance; real-time factor {:.3}",
            100.0 * errors as f64 / total as f64,
            clips.len(),
            median(times),
            wall / audio_s
        );
    }
}
