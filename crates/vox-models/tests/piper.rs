//! Piper TTS, checked by ear with the local Whisper: what Piper says, Whisper must hear.
//! Needs the models and espeak-ng; skips with a printed reason without them.

use vox_models::{Models, PiperTts, WhisperLocal};

fn models() -> Option<Models> {
    vox_models::testing::models_or_skip(
        &[
            ("Piper", "piper/en_US-joe-medium.onnx"),
            ("Whisper", vox_models::fetch::WHISPER_TINY_EN_GGML),
        ],
        true,
    )
}

/// Lower-case words, numbers as digits (Whisper writes "9", Piper was told "nine").
fn words(s: &str) -> Vec<String> {
    const NUM: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    s.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .map(|w| {
            NUM.iter()
                .position(|n| *n == w)
                .map_or(w, |i| i.to_string())
        })
        .collect()
}

#[test]
fn whisper_hears_what_piper_says() {
    let Some(m) = models() else { return };
    let piper = PiperTts::load(&m).expect("load piper");
    let whisper = WhisperLocal::load(&m, 1, 2, true).expect("load whisper");
    // Piper samples its noise (VITS), so the speech differs slightly run to run and Whisper
    // now and then mishears a word ("is" as "has"): allow one word error in the 21 words.
    let (mut errors, mut total) = (0, 0);
    for text in [
        "Hello, thanks for calling. How can I help you today?",
        "Your appointment is booked for Tuesday at ten in the morning.",
    ] {
        let audio = piper.synthesize_blocking(text).expect("synthesize");
        let seconds = audio.len() as f32 / piper.sample_rate() as f32;
        assert!(
            (1.5..8.0).contains(&seconds),
            "{text}: {seconds} s of audio"
        );
        let pcm: Vec<i16> = audio.iter().map(|&x| (x * 32767.0) as i16).collect();
        let mut at16 = Vec::new();
        let mut rs = vox_audio::StreamResampler::new(
            vox_core::SampleRate(piper.sample_rate()),
            vox_core::INTERNAL_RATE,
        )
        .expect("rates");
        rs.process(&pcm, &mut at16);
        let heard = whisper.transcribe_blocking(&at16).expect("transcribe");
        let e = edits(&words(text), &words(&heard));
        if e > 0 {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "Piper said {text:?}, Whisper heard {heard:?} ({e} word errors)"
            );
        }
        errors += e;
        total += words(text).len();
    }
    assert!(errors <= 1, "{errors} word errors in {total} words");
}

/// Word-level edit distance.
fn edits(a: &[String], b: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, y) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(x != y))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[test]
fn phonemes_keep_clause_punctuation() {
    if std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_err()
    {
        return vox_models::testing::skip("espeak-ng is not installed").unwrap_or(());
    }
    let p = vox_models::phonemize("Sure, nine to five. Okay?", "en-us").expect("espeak-ng");
    assert_eq!(p.matches(',').count(), 1, "{p}");
    assert!(p.contains('.') && p.ends_with('?'), "{p}");
    assert!(p.contains("nˈaɪn"), "{p}");
    // text is fed on stdin: a leading dash is words, not an option
    assert!(
        !vox_models::phonemize("--help me", "en-us")
            .expect("espeak-ng")
            .is_empty()
    );
}
