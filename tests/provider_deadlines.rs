//! A provider that stops answering fails its request within the endpoint's `timeoutMs`
//! instead of holding the turn (the conversation then retries or apologises): the real
//! OpenAI-compatible adapters against the fake in vox-testkit, slowed down on purpose.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use vox_core::{ChatMessage, Role};
use vox_providers::{LlmProvider, LlmRequest, OpenAiEndpoint, OpenAiLlm, OpenAiTts, TtsProvider};
use vox_testkit::{FakeOpenAi, FakeTiming};

fn endpoint(fake: &FakeOpenAi, model: &str, timeout_ms: Option<u64>) -> OpenAiEndpoint {
    serde_json::from_value(serde_json::json!({
        "baseUrl": fake.base_url(), "model": model, "voice": "v1", "timeoutMs": timeout_ms
    }))
    .expect("endpoint")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_llm_or_tts_fails_within_the_timeout() {
    let fake = FakeOpenAi::start(FakeTiming {
        ttft: Duration::from_secs(3),
        tts_ttfb: Duration::from_secs(3),
        ..FakeTiming::default()
    })
    .await;
    let ask = || LlmRequest {
        messages: vec![ChatMessage::text(Role::User, "Hello?")],
        tools: vec![],
    };

    // LLM: the first token never comes in time
    let llm = OpenAiLlm::new(&endpoint(&fake, "fake-llm", Some(400)));
    let t = Instant::now();
    let first = llm.stream(ask()).next().await;
    let waited = t.elapsed();
    assert!(matches!(first, Some(Err(_))), "{first:?}");
    assert!(
        waited < Duration::from_millis(2_000),
        "failed after {waited:?}"
    );

    // TTS: no audio in time
    let tts = OpenAiTts::new(&endpoint(&fake, "fake-tts", Some(400)));
    let t = Instant::now();
    let mut audio = tts.synthesize("Hello there.".into());
    let mut failed = false;
    while let Some(item) = audio.next().await {
        if item.is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the speech request failed");
    assert!(
        t.elapsed() < Duration::from_millis(2_000),
        "failed after {:?}",
        t.elapsed()
    );

    // the same slow server within a timeout that allows it: answered
    let patient = OpenAiLlm::new(&endpoint(&fake, "fake-llm", Some(10_000)));
    let first = patient.stream(ask()).next().await;
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
}
