//! A fully local LLM agent (config/agents/local-llm.toml: Whisper, SmolLM2-135M, Piper)
//! called through `vox sim`. The caller's question is spoken by Piper (`vox say`); the agent
//! must greet and answer in speech within the reply timeout.
//! Needs the models and espeak-ng; skips with a printed reason without them.

use std::time::Duration;

use vox_testkit::{VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_llm_agent_answers_from_its_prompt() {
    let Some(models) = vox_testkit::local_models_or_skip() else {
        return;
    };
    let dir = scratch_dir("e2e-llm");
    let question = dir.join("question.wav");
    let say = tokio::process::Command::new(BIN)
        .args(["say", "What are your opening hours?", "--models"])
        .arg(&models)
        .arg("-o")
        .arg(&question)
        .output()
        .await
        .expect("say");
    assert!(
        say.status.success(),
        "{}",
        String::from_utf8_lossy(&say.stderr)
    );
    let m = models.display().to_string();
    let agent = repo_root()
        .join("config/agents/local-llm.toml")
        .display()
        .to_string();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--agent", &agent],
            &[("VOX__MODELS__DIR", &m)],
        )
    })
    .await
    .expect("server");
    let out = tokio::process::Command::new(BIN)
        .args([
            "sim",
            "--quiet",
            "--agent-id",
            "local-llm",
            "--reply-timeout-ms",
            "15000",
            "--url",
            &server.twilio_url(),
            "--wav",
        ])
        .arg(&question)
        .arg("--record")
        .arg(&dir)
        .output()
        .await
        .expect("sim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let heard = vox_testkit::heard_on_recording(&dir.join("call-0.wav"), &models);
    // The sim succeeding means the agent answered the question within the reply timeout.
    // What the 135M model says depends on every word Whisper hears, and Piper's speech (the
    // caller's and the agent's) varies run to run: the words are checked for a spoken answer,
    // not for its facts (the model's answers are measured in BENCHMARKS.md).
    let words = heard.split_whitespace().count();
    assert!(words >= 8, "a greeting and a spoken answer: {heard:?}");
    assert!(heard.contains("hello"), "the greeting: {heard:?}");
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "the caller heard: {heard:?}");
    drop(server);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
}
