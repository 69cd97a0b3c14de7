//! A killed process (SIGKILL mid-call, no chance to clean up) and the next start: the call
//! record ends as `server-crashed` with the transcript written while it ran, its recording
//! is repaired and plays, and `call.ended` reaches the business's webhook once, also across
//! a further restart. Real processes, a fake Telnyx and a fake OpenAI over loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vox_testkit::{
    ApiClient, CallerScript, CarrierKind, ChatReply, FakeCarrier, FakeOpenAi, FakeTiming,
    VoxServer, repo_root, scratch_dir,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

type Seen = Arc<Mutex<Vec<Value>>>;

/// The business's webhook endpoint: keeps every event it is sent.
async fn webhook_receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let keep = seen.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |body: String| {
            let keep = keep.clone();
            async move {
                if let Ok(v) = serde_json::from_str(&body) {
                    keep.lock().expect("seen").push(v);
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks"), seen)
}

fn ended_events(seen: &Seen, call_id: &str) -> Vec<Value> {
    seen.lock()
        .expect("seen")
        .iter()
        .filter(|e| e["type"] == "call.ended" && e["data"]["callId"] == call_id)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_by_kill_9_is_finished_at_the_next_start() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    // a caller who keeps talking: the call is still up when the server dies
    let carrier = FakeCarrier::start(
        CarrierKind::Telnyx,
        CallerScript {
            wavs: vec![audio.join("book-1.wav"); 6],
            greeting: true,
            record_dir: None,
        },
    )
    .await;
    let (hook_url, seen) = webhook_receiver().await;
    let dir = scratch_dir("crash-recovery");
    let ai = fake_ai.base_url();
    let config = dir.join("vox.toml");
    std::fs::write(
        &config,
        format!(
            "[tools]\nallow_private_networks = true\n[api]\nwebhook_retry_secs = 1\n[telephony]\n{}\n\
             [voice_agents]\nllm = {{ baseUrl = \"{ai}\", apiKey = \"sk-test\", model = \"fake-llm\" }}\nasr = {{ baseUrl = \"{ai}\", model = \"fake-asr\" }}\ntts = {{ baseUrl = \"{ai}\", model = \"fake-tts\", voice = \"v1\" }}\n",
            carrier.pool_toml(&["+15125550122"])
        ),
    )
    .expect("config");
    let config = config.display().to_string();
    let env = [
        (
            "VOX__STORE__URL".to_owned(),
            format!("sqlite://{}/vox.db", dir.display()),
        ),
        (
            "VOX__API__RECORDINGS_DIR".to_owned(),
            dir.join("recordings").display().to_string(),
        ),
        ("VOX__VAD__STOP_MS".to_owned(), "400".to_owned()),
    ];
    let out = std::process::Command::new(BIN)
        .args([
            "admin",
            "create",
            "--org",
            "Acme",
            "--business",
            "Acme Plumbing",
            "--phone",
            "+15125550100",
            "--config",
            &config,
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("admin create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: Value = serde_json::from_slice(&out.stdout).expect("json");
    let biz = creds["businessId"].as_str().expect("biz").to_owned();
    let start = |config: String, env: Vec<(String, String)>| async move {
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            VoxServer::start(std::path::Path::new(BIN), &["--config", &config], &env)
        })
        .await
        .expect("server")
    };
    let login = |server: &VoxServer| {
        let base = format!("http://{}", server.addr);
        let (id, secret) = (
            creds["clientId"].as_str().expect("id").to_owned(),
            creds["clientSecret"].as_str().expect("secret").to_owned(),
        );
        async move { ApiClient::login(&base, &id, &secret).await }
    };
    use reqwest::Method;

    let server = start(config.clone(), env.to_vec()).await;
    let api = login(&server).await;
    let (status, _) = api
        .send(
            Method::PUT,
            &format!("/v1/businesses/{biz}/webhook"),
            Some(json!({"url": hook_url})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, agent) = api
        .send(Method::POST, &format!("/v1/businesses/{biz}/voice-agents"), Some(json!({"name": "Crash", "type": "OUTBOUND", "conversationFlow": "Help the customer book a visit.", "firstMessage": "Hello from Acme Plumbing."})))
        .await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["id"].as_str().expect("id").to_owned();
    let (status, d) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/deploy"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{d}");
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply::text(
        "Let me look at the calendar for next Tuesday.",
    ));
    let (status, placed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/call"),
            Some(json!({"phoneNumber": "+15552345678"})),
        )
        .await;
    assert_eq!(status, 200, "{placed}");
    let call_id = placed["callId"].as_str().expect("callId").to_owned();

    // once the caller's first turn and the agent's answer are in the record, kill -9
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, call) = api
            .send(
                Method::GET,
                &format!("/v1/businesses/{biz}/calls/{call_id}"),
                None,
            )
            .await;
        let transcript = call["transcript"].as_str().unwrap_or_default().to_owned();
        if transcript.contains("Let me look at the calendar") {
            assert_eq!(call["status"], "IN_PROGRESS", "{call}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call did not get going: {call}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // past the recorder's 2 s of audio held in memory
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(server); // SIGKILL
    let server = start(config.clone(), env.to_vec()).await;
    let api = login(&server).await;
    let call = api.ended_call(&biz, &call_id, false).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("FAILED"), Some("server-crashed")),
        "{call}"
    );
    let transcript = call["transcript"].as_str().unwrap_or_default();
    assert!(
        transcript.contains("Agent: Hello from Acme Plumbing.")
            && transcript.contains("Caller: I would like to book an appointment")
            && transcript.contains("Agent: Let me look at the calendar"),
        "the partial transcript is kept: {transcript}"
    );
    assert!(
        call["durationMs"].as_i64().is_some_and(|d| d >= 3_000),
        "{call}"
    );
    let url = call["recordingUrl"].as_str().expect("recordingUrl");
    assert!(
        url.ends_with(&format!("/calls/{call_id}/recording")),
        "{url}"
    );
    let wav = api
        .http
        .get(format!(
            "{}/v1/businesses/{biz}/calls/{call_id}/recording",
            api.base
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("recording");
    assert_eq!(wav.status(), 200);
    let wav = wav.bytes().await.expect("bytes").to_vec();
    let reader = hound::WavReader::new(std::io::Cursor::new(wav)).expect("the WAV opens");
    assert_eq!(reader.spec().channels, 2);
    let frames = reader.len() / 2;
    assert!(frames >= 16_000, "at least a second of audio: {frames}");
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .map(|s| s.expect("every sample reads"))
        .collect();
    assert!(
        samples.iter().step_by(2).any(|&s| s != 0),
        "the caller is in it"
    );

    // call.ended, with the recovered record, once
    let deadline = Instant::now() + Duration::from_secs(20);
    while ended_events(&seen, &call_id).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no call.ended: {:?}",
            seen.lock()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended = &ended_events(&seen, &call_id)[0];
    assert_eq!(ended["data"]["endedReason"], "server-crashed", "{ended}");
    assert_eq!(ended["data"]["recordingUrl"], url, "{ended}");
    drop(server);
    let server = start(config.clone(), env.to_vec()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ended_events(&seen, &call_id).len(),
        1,
        "call.ended exactly once across restarts"
    );
    drop(server);
}
