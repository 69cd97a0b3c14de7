//! Streaming speech recognition through each hosted protocol, end to end: `vox serve` with an
//! agent whose `asr` is a Deepgram-style or OpenAI-Realtime endpoint (vox-testkit's fakes,
//! speaking those protocols over a real WebSocket on loopback), called as a browser. The
//! caller's words must reach the call while they are still speaking (interim events on the
//! page's data channel), the final must come within its budget of the end of speech, and the
//! agent must answer it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, timeout};
use vox_testkit::audio::{loud, wav_frames};
use vox_testkit::{
    ChatReply, FakeLiveAsr, FakeOpenAi, FakeTiming, VoxServer, repo_root, scratch_dir,
};
use vox_webrtc::{ClientState, WebRtcClient};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
/// The fake recognizers' time from a segment's flush to its final words.
const FINAL_LATENCY: Duration = Duration::from_millis(60);
/// End of speech (the VAD's) to the final transcript, as the engine measures it: the fake's
/// latency plus the flush's round trip, with room for a loaded debug build.
const FINAL_BUDGET_MS: f64 = 300.0;
const SAID: &str = "I would like to book a cleaning for next Tuesday please";

/// One call to an agent on `protocol` at `url`; returns the page's events with their arrival
/// times, and when the caller's last loud frame went out.
async fn call(protocol: &str, url: &str) -> (Vec<(Instant, Value)>, Instant) {
    let fake = FakeOpenAi::start(FakeTiming::default()).await;
    fake.set_defaults("unused", ChatReply::text("Tuesday works. What time?"));
    let dir = scratch_dir(&format!("streaming-asr-{protocol}"));
    let agent = json!({
        "agent": {"id": "desk", "name": "Desk", "conversationFlow": "Help the caller book.", "firstMessage": "Hello."},
        "llm": {"baseUrl": fake.base_url(), "model": "fake-llm"},
        "asr": {"protocol": protocol, "baseUrl": url, "apiKey": "test-key", "model": "fake-live"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts"}
    });
    let agent_path = dir.join("agent.json");
    std::fs::write(&agent_path, agent.to_string()).expect("agent");
    let path = agent_path.display().to_string();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(PathBuf::from(BIN).as_path(), &["--agent", &path], &[])
    })
    .await
    .expect("server");
    let (client, offer) = WebRtcClient::offer().await.expect("offer");
    let res = reqwest::Client::new()
        .post(format!("http://{}/whip/desk", server.addr))
        .header("content-type", "application/sdp")
        .body(offer)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let mut call = client
        .start(&res.text().await.expect("answer"))
        .expect("start");
    timeout(
        Duration::from_secs(10),
        call.state.wait_for(|s| *s == ClientState::Connected),
    )
    .await
    .expect("connects")
    .expect("state");
    tokio::time::sleep(Duration::from_secs(1)).await; // the greeting
    let question = wav_frames(&repo_root().join("tests/data/audio/book-1.wav"));
    let last_loud = question.iter().rposition(loud).expect("speech");
    // the client sends one queued frame per 20 ms from now
    let started = Instant::now();
    for f in question {
        call.speak.send(f).await.expect("speak");
    }
    let speech_end = started + Duration::from_millis(20 * (last_loud as u64 + 1));
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let answered = |events: &[(Instant, Value)]| {
        events.iter().any(|(_, e)| e["type"] == "latency")
            && events.iter().any(|(_, e)| {
                e["role"] == "agent" && e["text"].as_str().is_some_and(|t| t.starts_with("Tuesday"))
            })
    };
    while !answered(&events) {
        match tokio::time::timeout_at(deadline, call.messages.recv()).await {
            Ok(Some(text)) => events.push((
                Instant::now(),
                serde_json::from_str(&text).expect("JSON event"),
            )),
            other => panic!("events so far {events:?}; then {other:?}"),
        }
    }
    (events, speech_end)
}

/// The checks both protocols must pass.
fn check(events: &[(Instant, Value)], speech_end: Instant) {
    let first_interim = events
        .iter()
        .find(|(_, e)| e["type"] == "interim")
        .unwrap_or_else(|| panic!("no interim words: {events:?}"));
    let ahead = speech_end.saturating_duration_since(first_interim.0);
    eprintln!(
        "first interim {:?} ({} ms before the end of speech)",
        first_interim.1["text"],
        ahead.as_millis()
    );
    assert!(
        first_interim.0 < speech_end,
        "the first interim came after the caller stopped talking"
    );
    let interims: Vec<&str> = events
        .iter()
        .filter(|(_, e)| e["type"] == "interim")
        .filter_map(|(_, e)| e["text"].as_str())
        .collect();
    assert!(
        interims.iter().all(|t| SAID.starts_with(t)),
        "interims are the words so far: {interims:?}"
    );
    assert!(
        events
            .iter()
            .any(|(_, e)| e["type"] == "transcript" && e["role"] == "caller" && e["text"] == SAID),
        "the caller's final words: {events:?}"
    );
    let latency = &events
        .iter()
        .find(|(_, e)| e["type"] == "latency")
        .expect("latency")
        .1;
    let final_ms = latency["asrFinalMs"]
        .as_f64()
        .unwrap_or_else(|| panic!("no final transcript milestone: {latency}"));
    eprintln!("end of speech -> final transcript: {final_ms} ms");
    assert!(
        final_ms <= FINAL_BUDGET_MS,
        "final {final_ms} ms after the end of speech, budget {FINAL_BUDGET_MS}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepgram_streams_interims_and_flushes_the_final_at_the_end_of_speech() {
    let asr = FakeLiveAsr::start(FINAL_LATENCY).await;
    asr.set_default(SAID);
    let (events, speech_end) = call("deepgram", &asr.deepgram_url()).await;
    check(&events, speech_end);
    let log = asr.log();
    assert!(
        log.iter()
            .any(|l| l
                .starts_with("GET /v1/listen?model=fake-live&encoding=linear16&sample_rate=16000")),
        "{log:?}"
    );
    assert!(log.contains(&"auth Token test-key".to_owned()), "{log:?}");
    assert!(log.contains(&"Finalize".to_owned()), "{log:?}");
    // only speech is streamed (with its pre-roll), not the whole call
    assert!(
        asr.audio_ms() < 8_000,
        "{} ms of audio sent",
        asr.audio_ms()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_realtime_streams_interims_and_commits_at_the_end_of_speech() {
    let asr = FakeLiveAsr::start(FINAL_LATENCY).await;
    asr.set_default(SAID);
    let (events, speech_end) = call("openai-realtime", &asr.realtime_url()).await;
    check(&events, speech_end);
    let log = asr.log();
    assert!(
        log.contains(&"GET /v1/realtime?intent=transcription".to_owned()),
        "{log:?}"
    );
    assert!(log.contains(&"auth Bearer test-key".to_owned()), "{log:?}");
    assert!(
        log.iter().any(|l| l.starts_with("session.update")
            && l.contains("fake-live")
            && l.contains("24000")),
        "{log:?}"
    );
    assert!(log.contains(&"commit".to_owned()), "{log:?}");
}

/// A recognizer whose finals are slow: the agent answers the caller's interim words once
/// the final is `interim_answer_after_ms` late, instead of waiting for it. The caller says
/// one phrase (one VAD segment); the fake reveals a word of its transcript per 300 ms of
/// speech, and the transcript is longer than the phrase, so interims come until the caller
/// stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_final_is_answered_on_the_interim_words() {
    const SLOW: Duration = Duration::from_millis(2500);
    const LONG: &str = "you are currently the only person in this conference and nobody else has joined it yet so please wait for the others to arrive";
    let asr = FakeLiveAsr::start(SLOW).await;
    asr.set_default(LONG);
    let fake = FakeOpenAi::start(FakeTiming::default()).await;
    fake.set_defaults("unused", ChatReply::text("Tuesday works. What time?"));
    let dir = scratch_dir("streaming-asr-slow-final");
    let agent = json!({
        "agent": {"id": "desk", "name": "Desk", "conversationFlow": "Help the caller book."},
        "llm": {"baseUrl": fake.base_url(), "model": "fake-llm"},
        "asr": {"protocol": "deepgram", "baseUrl": asr.deepgram_url(), "apiKey": "k", "model": "fake-live"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts"}
    });
    let agent_path = dir.join("agent.json");
    std::fs::write(&agent_path, agent.to_string()).expect("agent");
    let script = format!(
        "agent_id = \"desk\"\nlead_in_ms = 300\ntail_ms = 3000\n\n[[turn]]\nwav = {:?}\n",
        repo_root()
            .join("tests/data/speech/conf-onlyperson.wav")
            .display()
            .to_string()
    );
    let script_path = dir.join("script.toml");
    std::fs::write(&script_path, script).expect("script");
    let path = agent_path.display().to_string();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(PathBuf::from(BIN).as_path(), &["--agent", &path], &[])
    })
    .await
    .expect("server");
    let r = vox_testkit::sim_report(BIN.as_ref(), &server.twilio_url(), &script_path).await;
    let latency = r["calls"][0]["turns"][0]["response_latency_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("the turn was not answered: {r}"));
    eprintln!("caller's end of speech -> first agent audio: {latency} ms");
    assert!(
        latency < SLOW.as_millis() as f64,
        "answered {latency} ms after the end of speech: it waited for the final"
    );
    let chats = fake.requests("/v1/chat/completions");
    let first = chats.first().expect("a chat request");
    let heard = first["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_else(|| panic!("no caller message: {first}"));
    assert!(
        !heard.is_empty() && LONG.starts_with(heard) && heard != LONG,
        "answered on the interim words so far: {heard:?}"
    );
}
