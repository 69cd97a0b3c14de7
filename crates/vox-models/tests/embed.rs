//! all-MiniLM-L6-v2 sentence embeddings. Needs the models; skips with a printed reason.

use vox_models::embed::cosine;
use vox_models::{MiniLm, Models};

fn models() -> Option<Models> {
    vox_models::testing::models_or_skip(&[("MiniLM", "minilm/model.safetensors")], false)
}

#[test]
fn caller_requests_pick_the_matching_workflow_condition() {
    let Some(m) = models() else { return };
    let e = MiniLm::load(&m).expect("load");
    // the workflow conditions as the engine presents them (vox_engine::text::caller_view)
    let conditions = [
        "I ask about opening hours",
        "I want to book an appointment",
        "I say goodbye",
    ];
    for (said, want) in [
        ("When are you open on Saturday?", 0),
        ("Can I schedule a visit for Tuesday?", 1),
        ("That's all, thanks, bye!", 2),
    ] {
        let mut texts = vec![said.to_owned()];
        texts.extend(conditions.iter().map(|c| c.to_string()));
        let v = e.embed_blocking(&texts).expect("embed");
        assert!(
            v.iter().all(
                |x| x.len() == 384 && (x.iter().map(|a| a * a).sum::<f32>() - 1.0).abs() < 1e-3
            )
        );
        let scores: Vec<f32> = v[1..].iter().map(|c| cosine(&v[0], c)).collect();
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|x| x.0);
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{said:?}: {scores:.2?}");
        assert_eq!(best, Some(want), "{said:?} -> {scores:?}");
        assert!(
            scores[want] > 0.35,
            "clearly above the default threshold: {scores:?}"
        );
    }
}
