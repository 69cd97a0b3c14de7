//! Smart Turn v3.2 on real caller turns. Needs the models (`vox models fetch`); skips with
//! a printed reason when they are absent. CI fetches them, so this runs there.

use std::path::PathBuf;

use vox_audio::wav;
use vox_core::INTERNAL_RATE;
use vox_models::{Models, SmartTurn};

fn models() -> Option<Models> {
    vox_models::testing::models_or_skip(
        &[("Smart Turn", "smart-turn/smart-turn-v3.2-cpu.onnx")],
        false,
    )
}

fn clip(rel: &str) -> Vec<i16> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    wav::read_mono_at(&root.join(rel), INTERNAL_RATE).expect("wav")
}

/// Trims trailing near-silence (the VAD hands the model audio ending at end of speech).
fn trim_end(mut s: Vec<i16>) -> Vec<i16> {
    while s.len() > 320 && vox_core::dbfs(&s[s.len() - 320..]) < -45.0 {
        s.truncate(s.len() - 320);
    }
    s
}

#[test]
fn finished_sentences_score_high_and_their_first_halves_low() {
    let Some(m) = models() else { return };
    let st = SmartTurn::load(&m, 1).expect("load smart turn");
    use std::io::Write as _;
    for name in [
        "speech/please-try-call-later.wav",
        "speech/conf-onlyperson.wav",
    ] {
        let full = trim_end(clip(name));
        let half = trim_end(full[..full.len() / 2].to_vec());
        let p_full = st.predict_blocking(&full).expect("predict");
        let p_half = st.predict_blocking(&half).expect("predict");
        let _ = writeln!(
            std::io::stderr(),
            "smart turn {name}: full sentence {p_full:.3}, first half {p_half:.3}"
        );
        assert!(p_full > 0.8, "{name}: a finished sentence: {p_full}");
        assert!(p_half < 0.3, "{name}: half a sentence: {p_half}");
    }
}

#[test]
fn a_busy_model_says_so_instead_of_queueing_without_bound() {
    use vox_providers::EndOfTurnModel as _;
    let Some(m) = models() else { return };
    let st = SmartTurn::load(&m, 1).expect("load smart turn");
    let audio = clip("speech/please-try-call-later.wav");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(async {
        let futures: Vec<_> = (0..40).map(|_| st.predict(audio.clone())).collect();
        let results = futures::future::join_all(futures).await;
        let busy = results
            .iter()
            .filter(|r| {
                r.as_ref()
                    .is_err_and(|e| e.retryable && e.message.contains("busy"))
            })
            .count();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert!(busy > 0, "40 requests at once overflow the 8-job queue");
        assert!(ok >= 1 && ok + busy == 40, "ok {ok}, busy {busy}");
    });
}
