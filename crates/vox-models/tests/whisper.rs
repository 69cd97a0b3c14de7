//! Local Whisper on real recorded speech. Needs the models (`vox models fetch`); skips with
//! a printed reason when they are absent. CI fetches them, so this runs there.

use std::path::PathBuf;

use vox_audio::wav;
use vox_core::INTERNAL_RATE;
use vox_models::{Models, WhisperLocal};

fn models() -> Option<Models> {
    vox_models::testing::models_or_skip(
        &[("Whisper", vox_models::fetch::WHISPER_TINY_EN_GGML)],
        false,
    )
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

#[test]
fn transcribes_recorded_prompts_word_for_word() {
    let Some(m) = models() else { return };
    let whisper = WhisperLocal::load(&m, 1, 2, true).expect("load whisper");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/speech");
    for (file, text) in [
        (
            "please-try-call-later.wav",
            "Please try your call again later.",
        ),
        (
            "conf-onlyperson.wav",
            "You are currently the only person in this conference.",
        ),
    ] {
        let audio = wav::read_mono_at(&root.join(file), INTERNAL_RATE).expect("wav");
        let got = whisper.transcribe_blocking(&audio).expect("transcribe");
        assert_eq!(words(&got), words(text), "{file}: {got:?}");
    }
}

#[test]
fn silence_is_not_words() {
    let Some(m) = models() else { return };
    let whisper = WhisperLocal::load(&m, 1, 2, true).expect("load whisper");
    let got = whisper
        .transcribe_blocking(&vec![0i16; 32_000])
        .expect("transcribe");
    assert!(words(&got).len() <= 1, "two seconds of silence: {got:?}");
}
