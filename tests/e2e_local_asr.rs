//! A call on the local speech models: Whisper (tiny.en on whisper.cpp) hears the caller and
//! the caller's words reach the LLM; Piper speaks the LLM's reply and the caller hears those
//! words (checked by transcribing the call recording). The LLM is the fake OpenAI-compatible
//! server. Needs the models and espeak-ng; skips with a printed reason without them.

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeOpenAi, FakeTiming, VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_recognizer_hears_the_caller() {
    let Some(models) = vox_testkit::local_models_or_skip() else {
        return;
    };
    let fake = FakeOpenAi::start(FakeTiming::default()).await;
    fake.push_chat(ChatReply::text("Sure, Tuesday at ten works."));
    let dir = scratch_dir("e2e-local-asr");
    let agent = json!({
        "agent": {"id": "local", "name": "Booking", "conversationFlow": "Book appointments."},
        "llm": {"baseUrl": fake.base_url(), "model": "fake"},
        "asr": "whisper-tiny.en",
        "tts": "piper-joe"
    });
    let path = dir.join("agent.json");
    std::fs::write(&path, agent.to_string()).expect("write");
    let (p, m) = (path.display().to_string(), models.display().to_string());
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--agent", &p],
            &[("VOX__VAD__STOP_MS", "400"), ("VOX__MODELS__DIR", &m)],
        )
    })
    .await
    .expect("server");
    let out = tokio::process::Command::new(BIN)
        .args(["sim", "--quiet", "--url", &server.twilio_url(), "--record"])
        .arg(&dir)
        .arg("--wav")
        .arg(repo_root().join("tests/data/speech/conf-onlyperson.wav"))
        .output()
        .await
        .expect("sim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let chats = fake.requests("/v1/chat/completions");
    let heard = chats
        .first()
        .and_then(|c| c["messages"].as_array()?.last().cloned())
        .unwrap_or(Value::Null);
    let text = heard["content"].as_str().unwrap_or_default().to_lowercase();
    // Recorded speech: "You are currently the only person in this conference." (The espeak
    // voices of tests/data/audio come through G.711 too robotic for tiny.en to be exact.)
    for w in ["currently", "only", "person", "conference"] {
        assert!(
            text.contains(w),
            "{w:?} missing from what the LLM received: {text:?}"
        );
    }
    assert!(
        fake.requests("/v1/audio/transcriptions").is_empty(),
        "no remote transcription was used"
    );
    assert!(
        fake.requests("/v1/audio/speech").is_empty(),
        "no remote speech was used"
    );
    // What the caller heard (right channel of the recording), through Whisper again.
    let (_, agent, rate) = vox_testkit::audio::read_stereo(&dir.join("call-0.wav"));
    let mut at16 = Vec::new();
    let mut rs =
        vox_audio::StreamResampler::new(vox_core::SampleRate(rate), vox_core::INTERNAL_RATE)
            .expect("rates");
    rs.process(&agent, &mut at16);
    let whisper = vox_models::WhisperLocal::load(&vox_models::Models::new(&models), 1, 2, false)
        .expect("whisper");
    let heard = whisper
        .transcribe_blocking(&at16)
        .expect("transcribe")
        .to_lowercase();
    for w in ["sure", "tuesday", "works"] {
        assert!(
            heard.contains(w),
            "the caller should hear the reply \"Sure, Tuesday at ten works.\"; heard {heard:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
