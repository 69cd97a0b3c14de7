//! Every carrier dialect end to end: `vox sim --dialect NAME` calls `vox serve` at
//! `/media/NAME` and talks to an LLM agent (on the fake OpenAI-compatible server): the
//! greeting and a reply are heard, a barge-in uses the dialect's clear (Twilio, Telnyx, Exotel
//! `clear`; Plivo `clearAudio`; Vonage `{"action":"clear"}`) and the caller stops hearing the
//! agent, a DTMF key press reaches the LLM, and the simulated carrier found nothing it would
//! refuse (Exotel's chunk sizes, Plivo's playAudio format, Vonage's frame size, stream ids).
//! Telnyx runs with frames out of order and with big-endian L16 at 16 kHz as well.
//! Then, per dialect, a malformed frame closes only its own stream, with a logged reason.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use vox_testkit::{
    ChatReply, FakeOpenAi, FakeTiming, VoxServer, Ws, close_of, repo_root, scratch_dir,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

const LONG: &str = "On Saturday we are open from ten in the morning until two in the afternoon. \
On Sunday we are closed all day. During holidays the hours can change, so please check our \
website before you come in. Is there anything else I can help you with today?";

fn agent_file(fake: &FakeOpenAi, dir: &std::path::Path) -> PathBuf {
    let agent = json!({
        "agent": {"id": "e2e", "name": "Hours Agent", "type": "INBOUND", "conversationFlow": "Answer questions about opening hours.", "firstMessage": "Hello, thanks for calling."},
        "llm": {"baseUrl": fake.base_url(), "apiKey": "sk-test-secret", "model": "fake-llm"},
        "asr": {"baseUrl": fake.base_url(), "model": "fake-asr"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts", "voice": "v1"}
    });
    let path = dir.join("agent.json");
    std::fs::write(&path, serde_json::to_string_pretty(&agent).expect("json"))
        .expect("write agent");
    path
}

/// One call in `dialect` (with extra `vox sim` flags); the sim's report and the LLM requests.
async fn call(name: &str, dialect: &str, flags: &[&str]) -> (Value, Vec<Value>) {
    let fake = FakeOpenAi::start(FakeTiming::default()).await;
    for t in [
        "What are your opening hours on Saturday?",
        "Wait, stop, I have a different question.",
        "That is all, bye.",
    ] {
        fake.push_transcript(t);
    }
    for r in [LONG, "Sure, go ahead.", "You pressed five.", "Goodbye!"] {
        fake.push_chat(ChatReply::text(r));
    }
    let dir = scratch_dir(&format!("e2e-dialect-{name}"));
    let agent = agent_file(&fake, &dir).to_string_lossy().into_owned();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--agent", &agent],
            &[("VOX__VAD__STOP_MS", "400")],
        )
    })
    .await
    .expect("server");
    let report = dir.join("report.json");
    let out = tokio::process::Command::new(BIN)
        .args([
            "sim",
            "--quiet",
            "--dialect",
            dialect,
            "--url",
            &format!("ws://{}/media/{dialect}", server.addr),
            "--reply-timeout-ms",
            "15000",
            "--script",
        ])
        .arg(repo_root().join("tests/data/scripts/dialects.toml"))
        .arg("--report")
        .arg(&report)
        .args(flags)
        .output()
        .await
        .expect("vox sim");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap_or_default())
        .unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "{name}: vox sim failed:\n{}\n{}\n{report:#}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let chats = fake.requests("/v1/chat/completions");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    (report, chats)
}

fn check(name: &str, report: &Value, chats: &[Value]) {
    let c = &report["calls"][0];
    assert_eq!(
        c["errors"],
        json!([]),
        "{name}: what the carrier would refuse: {c:#}"
    );
    assert!(
        report["summary"]["greeting_ms"]["n"] == 1,
        "{name}: the greeting was heard: {c:#}"
    );
    let turns = c["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 4, "{name}: {c:#}");
    assert!(
        turns[0]["reply_audio_ms"].as_f64().unwrap_or(0.0) > 2000.0,
        "{name}: the long reply reached the caller: {}",
        turns[0]
    );
    let b = &turns[1];
    assert_eq!(b["barged_in"], true, "{name}: {b}");
    assert!(
        b["clear_ms"].as_f64().is_some(),
        "{name}: the dialect's clear was sent: {b}"
    );
    assert!(
        b["barge_in_to_silence_ms"]
            .as_f64()
            .is_some_and(|ms| ms < 1000.0),
        "{name}: the caller stopped hearing the agent: {b}"
    );
    assert_eq!(b["frames_after_clear"], 0, "{name}: {b}");
    for t in &turns[2..] {
        assert!(
            t["response_latency_ms"].as_f64().is_some(),
            "{name}: answered: {t}"
        );
    }
    assert_eq!(
        c["close_code"], 1000,
        "{name}: the agent hung up normally: {c:#}"
    );
    let said = |needle: &str| {
        chats.iter().any(|r| {
            r["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m["content"].as_str().is_some_and(|s| s.contains(needle)))
        })
    };
    assert!(
        said("What are your opening hours on Saturday?"),
        "{name}: the caller's words reached the LLM"
    );
    assert!(
        said("The caller pressed the keys: 5"),
        "{name}: the DTMF digit reached the LLM: {chats:#?}"
    );
    // only the heard part of the interrupted reply is in the history
    assert!(
        !chats.iter().skip(1).any(|r| r["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["content"] == LONG)),
        "{name}: the unheard rest never reaches the LLM"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dialect_carries_a_call_with_barge_in_and_dtmf() {
    let runs: [(&str, &str, &[&str]); 6] = [
        ("twilio", "twilio", &[]),
        ("telnyx-reordered", "telnyx", &["--reorder"]),
        ("telnyx-l16", "telnyx", &["--codec", "l16"]),
        ("plivo", "plivo", &[]),
        ("vonage", "vonage", &[]),
        ("exotel", "exotel", &[]),
    ];
    // two at a time: the calls are real time, the machine has two cores
    for pair in runs.chunks(2) {
        let mut tasks = Vec::new();
        for (name, dialect, flags) in pair {
            let (name, dialect, flags) = (
                name.to_string(),
                dialect.to_string(),
                flags.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            );
            tasks.push(tokio::spawn(async move {
                let f: Vec<&str> = flags.iter().map(String::as_str).collect();
                let (report, chats) = call(&name, &dialect, &f).await;
                (name, report, chats)
            }));
        }
        for t in tasks {
            let (name, report, chats) = t.await.expect("a dialect's call panicked");
            check(&name, &report, &chats);
            eprintln!("{name}: ok: {}", report["calls"][0]["turns"][1]);
        }
    }
}

/// A valid opening of each dialect's stream for the echo agent, then a malformed message.
fn opening_and_bad(dialect: &str) -> (Vec<Message>, Message, &'static str) {
    let t = |v: Value| Message::text(v.to_string());
    match dialect {
        "twilio" => (
            vec![t(
                json!({"event":"start","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","customParameters":{"agentId":"echo"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}),
            )],
            Message::text("{not json"),
            "malformed",
        ),
        "telnyx" => (
            vec![
                t(json!({"event":"connected","version":"1.0.0"})),
                t(
                    json!({"event":"start","stream_id":"s1","start":{"call_control_id":"v3:1","custom_parameters":{"agentId":"echo"},"media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}),
                ),
            ],
            t(json!({"event":"media","stream_id":"s1","media":{"chunk":"1","payload":"@@@"}})),
            "bad_base64",
        ),
        "plivo" => (
            vec![t(
                json!({"event":"start","start":{"callId":"c1","streamId":"s1","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"agentId=echo"}),
            )],
            t(json!({"event":"playedStream","streamId":"s1"})),
            "missing_field",
        ),
        "vonage" => (
            vec![t(
                json!({"event":"websocket:connected","content-type":"audio/l16;rate=16000","agentId":"echo"}),
            )],
            Message::text("[1,2,3]"),
            "malformed",
        ),
        _ => (
            vec![
                t(json!({"event":"connected"})),
                t(
                    json!({"event":"start","stream_sid":"s1","start":{"stream_sid":"s1","call_sid":"c1","custom_parameters":{"agentId":"echo"},"media_format":{"encoding":"audio/x-raw","sample_rate":"8000","bit_rate":"16"}}}),
                ),
            ],
            t(json!({"event":"hangup","stream_sid":"s1"})),
            "unknown_event",
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_call_in_every_dialect() {
    let server =
        tokio::task::spawn_blocking(|| VoxServer::start(std::path::Path::new(BIN), &[], &[]))
            .await
            .expect("server");
    for dialect in ["twilio", "telnyx", "plivo", "vonage", "exotel"] {
        let url = format!("ws://{}/media/{dialect}", server.addr);
        // a healthy call of the same dialect, through the whole thing (the echo agent)
        let healthy = tokio::process::Command::new(BIN)
            .args([
                "sim",
                "--quiet",
                "--dialect",
                dialect,
                "--url",
                &url,
                "--script",
            ])
            .arg(repo_root().join("tests/data/scripts/demo.toml"))
            .output();
        let healthy = tokio::spawn(healthy);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (opening, bad, kind) = opening_and_bad(dialect);
        let mut ws: Ws = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect")
            .0;
        for m in opening {
            ws.send(m).await.expect("send");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        ws.send(bad).await.expect("send");
        let (code, reason) = close_of(&mut ws).await;
        assert_eq!(code, 1002, "{dialect}: {reason}");
        assert!(reason.starts_with("protocol error"), "{dialect}: {reason}");
        let out = healthy.await.expect("join").expect("vox sim");
        assert!(
            out.status.success(),
            "{dialect}: the other call went on: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let (_, metrics) = vox_testkit::http_get(server.addr, "/metrics").expect("metrics");
        let line = format!("vox_protocol_errors_total{{dialect=\"{dialect}\",kind=\"{kind}\"}} 1");
        assert!(metrics.contains(&line), "{dialect}: missing {line}");
    }
    server.terminate();
    let (_, log) = server.wait(Duration::from_secs(40)).expect("exits");
    for dialect in ["twilio", "telnyx", "plivo", "vonage", "exotel"] {
        assert!(
            log.lines()
                .any(|l| l.contains("closing stream on protocol error")
                    && l.contains(&format!("dialect={dialect}"))),
            "{dialect}: the reason is logged:\n{log}"
        );
    }
}
