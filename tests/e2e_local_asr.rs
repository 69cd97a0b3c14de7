//! A call whose speech recognition is the local Whisper (tiny.en on whisper.cpp): the
//! caller's spoken turn reaches the LLM as the right words. LLM and TTS are the fake
//! OpenAI-compatible server. Needs the models; skips with a printed reason without them.

use serde_json::{json, Value};
use vox_testkit::{repo_root, ChatReply, FakeOpenAi, FakeTiming, VoxServer};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_recognizer_hears_the_caller() {
    let models = std::env::var_os("VOX_MODELS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| repo_root().join("models"));
    if !models.join(vox_models::fetch::WHISPER_TINY_EN_GGML).is_file() {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED (models absent): no Whisper model in {}; run `vox models fetch`", models.display());
        return;
    }
    let fake = FakeOpenAi::start(FakeTiming::default()).await;
    fake.push_chat(ChatReply::text("Sure, Tuesday at ten works."));
    let dir = std::env::temp_dir().join(format!("vox-e2e-local-asr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let agent = json!({
        "agent": {"id": "local", "name": "Booking", "conversationFlow": "Book appointments."},
        "llm": {"baseUrl": fake.base_url(), "model": "fake"},
        "asr": "whisper-tiny.en",
        "tts": {"baseUrl": fake.base_url(), "model": "fake"}
    });
    let path = dir.join("agent.json");
    std::fs::write(&path, agent.to_string()).expect("write");
    let (p, m) = (path.display().to_string(), models.display().to_string());
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(std::path::Path::new(BIN), &["--agent", &p], &[("VOX__VAD__STOP_MS", "400"), ("VOX__MODELS__DIR", &m)])
    })
    .await
    .expect("server");
    let out = tokio::process::Command::new(BIN)
        .args(["sim", "--quiet", "--url", &server.twilio_url(), "--wav"])
        .arg(repo_root().join("tests/data/speech/conf-onlyperson.wav"))
        .output()
        .await
        .expect("sim");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let chats = fake.requests("/v1/chat/completions");
    let heard = chats.first().and_then(|c| c["messages"].as_array()?.last().cloned()).unwrap_or(Value::Null);
    let text = heard["content"].as_str().unwrap_or_default().to_lowercase();
    // Recorded speech: "You are currently the only person in this conference." (The espeak
    // voices of tests/data/audio come through G.711 too robotic for tiny.en to be exact.)
    for w in ["currently", "only", "person", "conference"] {
        assert!(text.contains(w), "{w:?} missing from what the LLM received: {text:?}");
    }
    assert!(fake.requests("/v1/audio/transcriptions").is_empty(), "no remote transcription was used");
    let _ = std::fs::remove_dir_all(&dir);
}
