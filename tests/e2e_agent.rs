//! An LLM agent end to end over loopback: `vox serve --agent` + `vox sim` + the fake
//! OpenAI-compatible server. The caller's turn reaches the LLM; a scripted tool call runs and
//! its result reaches the LLM; the spoken reply reaches the caller; after a barge-in the next
//! LLM request holds only the heard part of the interrupted reply.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use vox_testkit::{ChatReply, FakeOpenAi, FakeTiming, VoxServer, repo_root, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

const LONG: &str = "On Saturday we are open from ten in the morning until two in the afternoon. \
On Sunday we are closed all day. During holidays the hours can change, so please check our \
website before you come in. Is there anything else I can help you with today?";

pub fn agent_file(fake: &FakeOpenAi, dir: &std::path::Path) -> PathBuf {
    let agent = json!({
        "agent": {
            "id": "e2e", "name": "Hours Agent", "type": "INBOUND",
            "conversationFlow": "Answer questions about opening hours. Use lookupHours for a day's hours.",
            "firstMessage": "Hello, thanks for calling.",
            "tools": [{
                "name": "lookupHours", "type": "function", "description": "Opening hours for a day",
                "url": format!("http://{}/fn/lookupHours", fake.addr),
                "parameters": {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]},
                "message": "One moment."
            }]
        },
        "llm": {"baseUrl": fake.base_url(), "apiKey": "sk-test-secret", "model": "fake-llm"},
        "asr": {"baseUrl": fake.base_url(), "model": "fake-asr"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts", "voice": "v1"}
    });
    let path = dir.join("agent.json");
    std::fs::write(&path, serde_json::to_string_pretty(&agent).expect("json"))
        .expect("write agent");
    path
}

fn messages(req: &Value) -> Vec<Value> {
    req["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_agent_call_with_tool_and_barge_in() {
    let fake = FakeOpenAi::start(FakeTiming::default()).await;
    for t in [
        "What are your opening hours on Saturday?",
        "Wait, stop, I have a different question.",
        "That is all, bye.",
    ] {
        fake.push_transcript(t);
    }
    fake.push_chat(ChatReply::tool("lookupHours", json!({"day": "saturday"})));
    fake.push_chat(ChatReply::text(LONG));
    fake.push_chat(ChatReply::text("Sure, go ahead."));
    fake.push_chat(ChatReply::text("Goodbye!"));
    fake.set_function(
        "lookupHours",
        json!({"day": "saturday", "open": "10:00", "close": "14:00"}),
    );

    let dir = scratch_dir("e2e-agent");
    let agent = agent_file(&fake, &dir);
    let agent_arg = agent.to_string_lossy().into_owned();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--agent", &agent_arg],
            &[
                ("VOX__VAD__STOP_MS", "400"),
                ("VOX__TOOLS__ALLOW_PRIVATE_NETWORKS", "true"),
            ],
        )
    })
    .await
    .expect("server start");
    let report_path = dir.join("report.json");
    let out = tokio::process::Command::new(BIN)
        .args(["sim", "--url", &server.twilio_url(), "--script"])
        .arg(repo_root().join("tests/data/scripts/agent-e2e.toml"))
        .arg("--report")
        .arg(&report_path)
        .output()
        .await
        .expect("run vox sim");
    assert!(
        out.status.success(),
        "vox sim failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).expect("report"))
            .expect("json");
    let call = &report["calls"][0];

    // The greeting and replies were synthesized and reached the caller.
    let speech: Vec<String> = fake
        .requests("/v1/audio/speech")
        .iter()
        .map(|r| r["input"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        speech.iter().any(|s| s.starts_with("Hello")),
        "greeting synthesized: {speech:?}"
    );
    assert!(
        speech.iter().any(|s| s.starts_with("On Saturday")),
        "the reply was synthesized: {speech:?}"
    );
    assert!(
        speech.iter().all(|s| s.len() < 120),
        "synthesized sentence by sentence: {speech:?}"
    );
    let t0 = &call["turns"][0];
    assert!(
        t0["response_latency_ms"].as_f64().is_some(),
        "the caller heard a reply: {t0}"
    );
    assert!(
        t0["reply_audio_ms"].as_f64().unwrap_or(0.0) > 2000.0,
        "{t0}"
    );

    let chats = fake.requests("/v1/chat/completions");
    assert!(chats.len() >= 3, "{} chat requests", chats.len());
    // 1. the caller's turn reaches the LLM, with the agent's tools and prompt
    let first = messages(&chats[0]);
    assert_eq!(first[0]["role"], "system");
    assert!(
        first[0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Hours Agent")
    );
    assert_eq!(
        first.last().map(|m| m["content"].clone()),
        Some(json!("What are your opening hours on Saturday?"))
    );
    assert_eq!(chats[0]["tools"][0]["function"]["name"], "lookupHours");
    assert_eq!(chats[0]["stream"], true);
    // 2. the scripted tool call ran, and its result reached the LLM
    assert_eq!(
        fake.requests("/fn/lookupHours"),
        vec![json!({"day": "saturday"})]
    );
    let second = messages(&chats[1]);
    let tool_msg = second
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("a tool message");
    let result: Value = serde_json::from_str(tool_msg["content"].as_str().unwrap_or_default())
        .expect("tool result json");
    assert_eq!(
        result,
        json!({"day": "saturday", "open": "10:00", "close": "14:00"})
    );
    assert!(
        second
            .iter()
            .any(|m| m["tool_calls"][0]["function"]["name"] == "lookupHours")
    );
    // 3. after the barge-in, only the heard part of the interrupted reply
    let t1 = &call["turns"][1];
    assert_eq!(t1["barged_in"], true, "{t1}");
    assert!(t1["clear_ms"].as_f64().is_some(), "clear sent: {t1}");
    assert_eq!(t1["frames_after_clear"], 0, "{t1}");
    let third = messages(&chats[2]);
    let n = third.len();
    assert_eq!(
        third[n - 1]["content"],
        "Wait, stop, I have a different question."
    );
    let heard = third[n - 2]["content"].as_str().unwrap_or_default();
    assert_eq!(third[n - 2]["role"], "assistant");
    assert!(
        !heard.is_empty() && heard.len() < LONG.len() - 40,
        "only part was heard: {heard:?}"
    );
    assert!(
        LONG.starts_with(heard),
        "the heard part is the start of the reply: {heard:?}"
    );
    eprintln!("heard before the barge-in: {heard:?}; turn 1: {t1}");
    assert!(
        !chats
            .iter()
            .skip(2)
            .any(|c| messages(c).iter().any(|m| m["content"] == LONG)),
        "the unheard rest never reaches the LLM"
    );
    // The API key was used but never logged.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("sk-test-secret"));
    let _ = std::fs::remove_dir_all(&dir);
    drop(server);
    tokio::time::sleep(Duration::from_millis(10)).await;
}
