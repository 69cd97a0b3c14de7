//! A killed process (SIGKILL mid-call, no chance to clean up) and the next start: the call
//! record ends as `server-crashed` with the transcript written while it ran, its recording
//! is repaired and plays, and `call.ended` reaches the business's webhook once, also across
//! a further restart. A call that had ended when the process died, its summary still being
//! made, keeps its real ending and gets its summary and `call.ended` (once) at the next start.
//! On SIGTERM mid-call, the call is ended, summarised and reported before the process exits.
//! Real processes, a fake Telnyx and a fake OpenAI over loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use vox_testkit::{
    ApiClient, CallerScript, CarrierKind, ChatReply, FakeCarrier, FakeOpenAi, FakeTiming,
    VoxServer, admin_create, repo_root, scratch_dir,
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

/// A business with a webhook receiver, an OUTBOUND agent on a fake Telnyx number and fake
/// AI providers, and the server's configuration (started by [`Rig::start`]).
struct Rig {
    fake_ai: FakeOpenAi,
    _carrier: FakeCarrier,
    seen: Seen,
    hook_url: String,
    config: String,
    env: Vec<(String, String)>,
    creds: Value,
    biz: String,
}

impl Rig {
    async fn new(label: &str, caller_turns: usize) -> Self {
        let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
        let audio = repo_root().join("tests/data/audio");
        let carrier = FakeCarrier::start(
            CarrierKind::Telnyx,
            CallerScript::saying(vec![audio.join("book-1.wav"); caller_turns]),
        )
        .await;
        let (hook_url, seen) = webhook_receiver().await;
        let dir = scratch_dir(label);
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
        let env = vec![
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
        let env_ref: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let creds = admin_create(
            std::path::Path::new(BIN),
            &config,
            &env_ref,
            "Acme",
            "Acme Plumbing",
            Some("+15125550100"),
        );
        let biz = creds["businessId"].as_str().expect("biz").to_owned();
        Self {
            fake_ai,
            _carrier: carrier,
            seen,
            hook_url,
            config: config.display().to_string(),
            env,
            creds,
            biz,
        }
    }

    async fn start(&self) -> VoxServer {
        let (config, env) = (self.config.clone(), self.env.clone());
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            VoxServer::start(std::path::Path::new(BIN), &["--config", &config], &env)
        })
        .await
        .expect("server")
    }

    async fn login(&self, server: &VoxServer) -> ApiClient {
        ApiClient::login(
            &format!("http://{}", server.addr),
            self.creds["clientId"].as_str().expect("id"),
            self.creds["clientSecret"].as_str().expect("secret"),
        )
        .await
    }

    /// The webhook set and an OUTBOUND agent deployed: its id.
    async fn agent(&self, api: &ApiClient) -> String {
        let biz = &self.biz;
        let (status, _) = api
            .send(
                Method::PUT,
                &format!("/v1/businesses/{biz}/webhook"),
                Some(json!({"url": self.hook_url})),
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
        agent_id
    }

    /// An outbound call by `agent_id`: its id.
    async fn call(&self, api: &ApiClient, agent_id: &str) -> String {
        let (status, placed) = api
            .send(
                Method::POST,
                &format!("/v1/businesses/{}/voice-agents/{agent_id}/call", self.biz),
                Some(json!({"phoneNumber": "+15552345678"})),
            )
            .await;
        assert_eq!(status, 200, "{placed}");
        placed["callId"].as_str().expect("callId").to_owned()
    }

    /// Waits for a call.ended about `call_id`.
    async fn wait_ended_event(&self, call_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        while ended_events(&self.seen, call_id).is_empty() {
            assert!(
                Instant::now() < deadline,
                "no call.ended: {:?}",
                self.seen.lock()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ended_events(&self.seen, call_id)[0].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_by_kill_9_is_finished_at_the_next_start() {
    // a caller who keeps talking: the call is still up when the server dies
    let rig = Rig::new("crash-recovery", 6).await;
    let (fake_ai, biz, seen) = (&rig.fake_ai, rig.biz.clone(), &rig.seen);
    let server = rig.start().await;
    let api = rig.login(&server).await;
    let agent_id = rig.agent(&api).await;
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply::text(
        "Let me look at the calendar for next Tuesday.",
    ));
    let call_id = rig.call(&api, &agent_id).await;
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
    let server = rig.start().await;
    let api = rig.login(&server).await;
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
    let ended = &rig.wait_ended_event(&call_id).await;
    assert_eq!(ended["data"]["endedReason"], "server-crashed", "{ended}");
    assert_eq!(ended["data"]["recordingUrl"], url, "{ended}");
    drop(server);
    let server = rig.start().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ended_events(seen, &call_id).len(),
        1,
        "call.ended exactly once across restarts"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ended_before_kill_9_keeps_its_ending_and_reports_it_once() {
    let rig = Rig::new("crash-after-end", 1).await;
    let (fake_ai, biz) = (&rig.fake_ai, rig.biz.clone());
    let server = rig.start().await;
    let api = rig.login(&server).await;
    let agent_id = rig.agent(&api).await;
    // the model will not answer the summary request: it is still being made when the
    // server dies
    fake_ai.hold_post_call(true);
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply {
        text: "You are booked for Tuesday at ten. Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let call_id = rig.call(&api, &agent_id).await;
    let call = api.ended_call(&biz, &call_id, false).await;
    assert_eq!(call["endedReason"], "assistant-ended-call", "{call}");
    assert!(
        call["summary"].is_null(),
        "the summary is still being made: {call}"
    );
    // the summary request is waiting for its answer
    let deadline = Instant::now() + Duration::from_secs(10);
    while !fake_ai.requests("/v1/chat/completions").iter().any(|r| {
        r["messages"][0]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("You summarise phone calls"))
    }) {
        assert!(Instant::now() < deadline, "no summary request");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server); // SIGKILL
    fake_ai.hold_post_call(false);
    let server = rig.start().await;
    let api = rig.login(&server).await;
    let ended = rig.wait_ended_event(&call_id).await;
    assert_eq!(
        ended["data"]["endedReason"], "assistant-ended-call",
        "the real ending stands: {ended}"
    );
    let call = api.ended_call(&biz, &call_id, true).await;
    assert_eq!(call["endedReason"], "assistant-ended-call", "{call}");
    assert!(call["summary"].is_string(), "{call}");
    assert!(call["recordingUrl"].is_string(), "{call}");
    drop(server);
    let server = rig.start().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ended_events(&rig.seen, &call_id).len(),
        1,
        "call.ended exactly once across restarts"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_call_ends_it_and_reports_it_before_exit() {
    let mut rig = Rig::new("sigterm-mid-call", 6).await;
    // the call is cut by the end of the grace period, not by its caller
    rig.env
        .push(("VOX__SERVER__SHUTDOWN_GRACE_SECS".into(), "2".into()));
    let (fake_ai, biz) = (&rig.fake_ai, rig.biz.clone());
    let server = rig.start().await;
    let api = rig.login(&server).await;
    let agent_id = rig.agent(&api).await;
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply::text(
        "Let me look at the calendar for next Tuesday.",
    ));
    let call_id = rig.call(&api, &agent_id).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, call) = api
            .send(
                Method::GET,
                &format!("/v1/businesses/{biz}/calls/{call_id}"),
                None,
            )
            .await;
        if call["transcript"]
            .as_str()
            .is_some_and(|t| t.contains("Let me look at the calendar"))
        {
            assert_eq!(call["status"], "IN_PROGRESS", "{call}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call did not get going: {call}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.terminate();
    let (status, log) = tokio::task::spawn_blocking(move || server.wait(Duration::from_secs(40)))
        .await
        .expect("join")
        .expect("exits after SIGTERM");
    assert!(status.success(), "{log}");
    // everything was finished before the process exited: nothing is left for a next start
    assert_eq!(
        ended_events(&rig.seen, &call_id).len(),
        1,
        "call.ended was delivered before exit: {log}"
    );
    let store = vox_store::Store::connect(&rig.env[0].1)
        .await
        .expect("store");
    assert!(
        store
            .unfinished_calls()
            .await
            .expect("unfinished")
            .is_empty()
    );
    assert!(
        store
            .calls_awaiting_artifacts()
            .await
            .expect("awaiting")
            .is_empty()
    );
    let call = store
        .call_by_id(&call_id)
        .await
        .expect("read")
        .expect("call");
    assert_eq!(
        call.ended_reason,
        Some(vox_store::EndedReason::ServerShutdown),
        "{call:?}"
    );
    assert!(
        call.summary.is_some() && call.recording_url.is_some(),
        "{call:?}"
    );
    let pending: Vec<_> = store
        .due_deliveries(vox_store::now_ms() + 3_600_000, 10)
        .await
        .expect("due")
        .into_iter()
        .filter(|d| d.status == "pending")
        .collect();
    assert!(pending.is_empty(), "undelivered events: {pending:?}");
}
