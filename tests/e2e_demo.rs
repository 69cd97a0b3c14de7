//! The README's run command: `vox serve --demo` (fully offline: Whisper, a workflow graph
//! without an LLM, Piper), called by `vox sim` with the caller fixtures. The caller must hear
//! relevant answers: the recording of what they heard is transcribed and checked.
//! Needs the models and espeak-ng; skips with a printed reason without them.

use std::time::Duration;

use vox_testkit::{VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_demo_agent_answers_relevantly() {
    let Some(models) = vox_testkit::local_models_or_skip() else {
        return;
    };
    let dir = scratch_dir("e2e-demo");
    let m = models.display().to_string();
    // Deterministic audio end to end: the caller's turns are fixed files, Piper speaks
    // without its sampled noise (models.tts_noise = false) and Whisper decodes greedily, so
    // one call is the same call every time and must pass.
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--demo"],
            &[
                ("VOX__MODELS__DIR", &m),
                ("VOX__MODELS__TTS_NOISE", "false"),
            ],
        )
    })
    .await
    .expect("server");
    // The script's caller waits a second after each reply: with 300 ms, the debug build's
    // pause between two synthesized sentences could pass for the end of the reply and the
    // caller spoke into the agent's question.
    let rec = dir.join("call");
    let out = tokio::process::Command::new(BIN)
        .args([
            "sim",
            "--quiet",
            "--reply-timeout-ms",
            "15000",
            "--url",
            &server.twilio_url(),
            "--script",
        ])
        .arg(repo_root().join("tests/data/scripts/demo-local.toml"))
        .arg("--record")
        .arg(&rec)
        .output()
        .await
        .expect("sim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let heard = vox_testkit::heard_on_recording(&rec.join("call-0.wav"), &models);
    eprintln!("the caller heard: {heard}");
    if let Err(why) = check(&heard) {
        panic!("{why}");
    }
    drop(server);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether the caller heard the right answers, in order.
fn check(heard: &str) -> Result<(), String> {
    // Whisper has written "goodbye" as "good bye" and "2" as "two": normalise punctuation,
    // that split and number words.
    const NUM: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    let heard = heard
        .replace(['.', ',', '?', '!'], "")
        .replace("good bye", "goodbye")
        .replace("good-bye", "goodbye");
    let heard: String = heard
        .split_whitespace()
        .map(|w| {
            NUM.iter()
                .position(|n| *n == w)
                .map_or(w.to_owned(), |i| i.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ");
    // (through 8 kHz G.711, tiny.en hears "Vox" as "box", "Tuesday" as "to stay" and
    // "Thursday at two" as "thirty day at 2" or "thursday at to": the phrases checked are ones
    // it gets right)
    for (why, words) in [
        ("greeting", "demo"),
        ("opening hours", "monday to friday"),
        ("booking", "in the afternoon"),
        ("goodbye", "goodbye"),
    ] {
        if !heard.contains(words) {
            return Err(format!(
                "the {why} answer ({words:?}) should be heard; the caller heard: {heard:?}"
            ));
        }
    }
    let order: Vec<usize> = ["demo", "monday to friday", "in the afternoon", "goodbye"]
        .iter()
        .filter_map(|w| heard.rfind(w))
        .collect();
    if !order.windows(2).all(|p| p[0] < p[1]) {
        return Err(format!(
            "answers out of the order of the questions: {heard:?}"
        ));
    }
    Ok(())
}
