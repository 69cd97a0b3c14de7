//! The README's run command: `vox serve --demo` (fully offline: Whisper, a workflow graph
//! without an LLM, Piper), called by `vox sim` with the caller fixtures. The caller must hear
//! relevant answers: the recording of what they heard is transcribed and checked.
//! Needs the models and espeak-ng; skips with a printed reason without them.

use std::time::Duration;

use vox_testkit::{repo_root, VoxServer};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_demo_agent_answers_relevantly() {
    let Some(models) = vox_testkit::local_models_or_skip() else { return };
    let dir = std::env::temp_dir().join(format!("vox-e2e-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let m = models.display().to_string();
    let server = tokio::task::spawn_blocking(move || VoxServer::start(std::path::Path::new(BIN), &["--demo"], &[("VOX__MODELS__DIR", &m)]))
        .await
        .expect("server");
    let out = tokio::process::Command::new(BIN)
        .args(["sim", "--quiet", "--reply-timeout-ms", "15000", "--url", &server.twilio_url(), "--script"])
        .arg(repo_root().join("tests/data/scripts/demo-local.toml"))
        .arg("--record")
        .arg(&dir)
        .output()
        .await
        .expect("sim");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let heard = vox_testkit::heard_on_recording(&dir.join("call-0.wav"), &models);
    // Piper samples its noise, so what Whisper hears varies a little between runs: it has
    // written "goodbye" as "good bye" and "2" as "two": normalise punctuation, that split and
    // number words.
    const NUM: [&str; 13] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    let heard = heard.replace(['.', ',', '?', '!'], "").replace("good bye", "goodbye").replace("good-bye", "goodbye");
    let heard: String = heard.split_whitespace().map(|w| NUM.iter().position(|n| *n == w).map_or(w.to_owned(), |i| i.to_string())).collect::<Vec<_>>().join(" ");
    // (through 8 kHz G.711, tiny.en hears "Vox" as "box" and "Tuesday" as "to stay": the
    // phrases checked are ones it gets right)
    let order: Vec<usize> = ["demo", "monday to friday", "thursday at 2", "goodbye"].iter().filter_map(|w| heard.rfind(w)).collect();
    assert!(order.windows(2).all(|p| p[0] < p[1]), "answers in the order of the questions: {heard:?}");
    for (why, words) in [("greeting", "demo"), ("opening hours", "monday to friday"), ("booking", "thursday at 2"), ("goodbye", "goodbye")] {
        assert!(heard.contains(words), "the {why} answer ({words:?}) should be heard; the caller heard: {heard:?}");
    }
    drop(server);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
