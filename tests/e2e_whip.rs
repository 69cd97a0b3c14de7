//! Browser calls by WHIP (RFC 9725) against `vox serve`: a caller on webrtc-rs (vox-webrtc's
//! own client: full ICE, DTLS-SRTP, Opus) posts its offer, gets `201 Created` with the answer
//! and the session's location, speaks a recorded question to the echo agent and hears it
//! played back; `DELETE` on the location hangs up. And every refusal names its reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::timeout;
use vox_testkit::audio::{loud, wav_frames};
use vox_testkit::{
    ApiClient, ChatReply, FakeOpenAi, FakeTiming, VoxServer, admin_create, http_get, repo_root,
    scratch_dir,
};
use vox_webrtc::{ClientState, WebRtcClient};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

async fn start(args: Vec<String>, env: Vec<(String, String)>) -> VoxServer {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        VoxServer::start(PathBuf::from(BIN).as_path(), &args, &env)
    })
    .await
    .expect("server")
}

async fn post_offer(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: String,
) -> reqwest::Response {
    http.post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_call_to_the_echo_agent_hears_itself_and_hangs_up() {
    let server = start(vec![], vec![]).await;
    let http = reqwest::Client::new();
    let (client, offer) = WebRtcClient::offer().await.expect("offer");
    let res = post_offer(
        &http,
        &format!("http://{}/whip/echo", server.addr),
        "application/sdp",
        offer,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/sdp");
    let location = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with("/whip/sessions/"), "{location}");
    let answer = res.text().await.expect("answer");
    let mut call = client.start(&answer).expect("start");
    timeout(
        Duration::from_secs(10),
        call.state.wait_for(|s| *s == ClientState::Connected),
    )
    .await
    .expect("connects in time")
    .expect("state");

    // the caller asks, then is quiet; the echo agent plays the question back
    let question = wav_frames(&repo_root().join("tests/data/audio/book-1.wav"));
    let spoken = question.iter().filter(|f| loud(f)).count();
    let sent = question.len();
    for f in question {
        call.speak.send(f).await.expect("speak");
    }
    let mut heard_loud = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while heard_loud < spoken / 2 {
        match tokio::time::timeout_at(deadline, call.heard.recv()).await {
            Ok(Some(h)) => heard_loud += usize::from(loud(&h.frame)),
            other => panic!("heard {heard_loud} loud frames of ~{spoken} spoken: {other:?}"),
        }
    }
    let (_, metrics) = http_get(server.addr, "/metrics").expect("metrics");
    assert!(metrics.contains("vox_calls_active 1"), "{metrics}");

    // hang up: the session is gone, and so is the call
    let url = format!("http://{}{location}", server.addr);
    let res = http.delete(&url).send().await.expect("DELETE");
    assert_eq!(res.status(), StatusCode::OK);
    let res = http.delete(&url).send().await.expect("DELETE again");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let mut active = String::new();
    for _ in 0..50 {
        let (_, m) = http_get(server.addr, "/metrics").expect("metrics");
        active = m;
        if active.contains("vox_calls_active 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(active.contains("vox_calls_active 0"), "{active}");
    // what became of the caller's packets is counted: all of them arrived, none dropped
    let mut received = None;
    for _ in 0..50 {
        let (_, m) = http_get(server.addr, "/metrics").expect("metrics");
        received = counter(&m, "vox_webrtc_inbound_packets_total{outcome=\"received\"}");
        if received.is_some() {
            assert_eq!(
                counter(&m, "vox_webrtc_inbound_packets_total{outcome=\"late\"}"),
                None,
                "{m}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = received.expect("the caller's packets counted");
    assert!(
        received >= sent as u64,
        "{received} packets counted, {sent} sent"
    );
    // for the call, the page's DELETE is the caller hanging up
    server.terminate();
    let (_, log) = tokio::task::spawn_blocking(move || server.wait(Duration::from_secs(20)))
        .await
        .expect("join")
        .expect("exits");
    assert!(log.contains("end=\"carrier_stop\""), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whip_refusals_name_their_reason() {
    let dir = scratch_dir("whip-refusals");
    let config = dir.join("vox.toml");
    std::fs::write(&config, "[media]\ntrusted_sources = [\"127.0.0.1/32\"]\n").expect("config");
    let server = start(
        vec!["--config".into(), config.display().to_string()],
        vec![],
    )
    .await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let (_, offer) = WebRtcClient::offer().await.expect("offer");
    let cases = [
        (
            "/whip/echo",
            "text/plain",
            offer.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/sdp",
        ),
        (
            "/whip/nobody",
            "application/sdp",
            offer.clone(),
            StatusCode::NOT_FOUND,
            "nobody",
        ),
        (
            "/whip/echo",
            "application/sdp",
            "v=0 not really".to_owned(),
            StatusCode::BAD_REQUEST,
            "SDP",
        ),
    ];
    for (path, ct, body, status, says) in cases {
        let res = post_offer(&http, &format!("{base}{path}"), ct, body).await;
        assert_eq!(res.status(), status, "{path} {ct}");
        let text = res.text().await.expect("body");
        assert!(text.contains(says), "{path}: {text}");
    }
    // from outside the trusted sources (127.0.0.2 is loopback, but not 127.0.0.1/32)
    let outside = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let res = post_offer(
        &outside,
        &format!("{base}/whip/echo"),
        "application/sdp",
        offer,
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.expect("body").contains("trusted_sources"));
    let res = http
        .delete(format!("{base}/whip/sessions/nope"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (_, metrics) = http_get(server.addr, "/metrics").expect("metrics");
    assert!(
        metrics.contains("vox_calls_active 0"),
        "no refusal holds a call slot: {metrics}"
    );

    // browser calls turned off
    let off = start(
        vec![],
        vec![("VOX__WEBRTC__ENABLED".into(), "false".into())],
    )
    .await;
    let (_, offer) = WebRtcClient::offer().await.expect("offer");
    let res = post_offer(
        &http,
        &format!("http://{}/whip/echo", off.addr),
        "application/sdp",
        offer,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.expect("body").contains("webrtc.enabled"));
}

/// The page's data channel tells it the call as it happens: the greeting and the caller's
/// words as transcript lines, the agent's tool call and its result, and each turn's latency
/// milestones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_hears_transcripts_and_latencies_on_its_data_channel() {
    let fake = FakeOpenAi::start(FakeTiming {
        ttft: Duration::from_millis(100),
        tts_ttfb: Duration::from_millis(50),
        ..FakeTiming::default()
    })
    .await;
    fake.set_defaults(
        "I would like to book a cleaning.",
        ChatReply::text("Sure, when would you like to come in?"),
    );
    // the first answer looks something up first
    fake.push_chat(ChatReply::tool("lookupHours", json!({"day": "monday"})));
    fake.set_function("lookupHours", json!({"hours": "9 to 5"}));
    let dir = scratch_dir("whip-events");
    let agent = json!({
        "agent": {"id": "desk", "name": "Desk", "conversationFlow": "Help the caller book.", "firstMessage": "Hello, Acme Dental.",
            "tools": [{
                "name": "lookupHours", "type": "function", "description": "Opening hours for a day",
                "url": format!("http://{}/fn/lookupHours", fake.addr),
                "parameters": {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]}
            }]},
        "llm": {"baseUrl": fake.base_url(), "model": "fake-llm"},
        "asr": {"baseUrl": fake.base_url(), "model": "fake-asr"},
        "tts": {"baseUrl": fake.base_url(), "model": "fake-tts"}
    });
    let agent_path = dir.join("agent.json");
    std::fs::write(&agent_path, agent.to_string()).expect("agent");
    let server = start(
        vec!["--agent".into(), agent_path.display().to_string()],
        vec![("VOX__TOOLS__ALLOW_PRIVATE_NETWORKS".into(), "true".into())],
    )
    .await;
    let (client, offer) = WebRtcClient::offer().await.expect("offer");
    let res = post_offer(
        &reqwest::Client::new(),
        &format!("http://{}/whip/desk", server.addr),
        "application/sdp",
        offer,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
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
    // after the greeting, the caller asks
    tokio::time::sleep(Duration::from_secs(2)).await;
    for f in wav_frames(&repo_root().join("tests/data/audio/book-1.wav")) {
        call.speak.send(f).await.expect("speak");
    }
    let mut events: Vec<Value> = Vec::new();
    let has = |events: &[Value], f: &dyn Fn(&Value) -> bool| events.iter().any(f);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(has(&events, &|e| e["type"] == "latency")
        && has(&events, &|e| {
            e["role"] == "agent"
                && e["turn"] != Value::Null
                && e["text"].as_str().is_some_and(|t| t.starts_with("Sure"))
        }))
    {
        match tokio::time::timeout_at(deadline, call.messages.recv()).await {
            Ok(Some(text)) => events.push(serde_json::from_str(&text).expect("JSON event")),
            other => panic!("events so far {events:?}; then {other:?}"),
        }
    }
    assert!(
        has(&events, &|e| e["type"] == "transcript"
            && e["role"] == "agent"
            && e["text"] == "Hello, Acme Dental."),
        "the greeting: {events:?}"
    );
    assert!(
        has(&events, &|e| e["type"] == "transcript"
            && e["role"] == "caller"
            && e["text"] == "I would like to book a cleaning."),
        "the caller's words: {events:?}"
    );
    let called = events
        .iter()
        .find(|e| e["type"] == "tool" && e["phase"] == "called")
        .unwrap_or_else(|| panic!("a tool call: {events:?}"));
    assert_eq!(
        (&called["name"], &called["arguments"]["day"]),
        (&json!("lookupHours"), &json!("monday")),
        "{called}"
    );
    assert!(
        has(&events, &|e| e["type"] == "tool"
            && e["phase"] == "result"
            && e["id"] == called["id"]
            && e["result"]
                .as_str()
                .is_some_and(|r| r.contains("9 to 5"))),
        "its result: {events:?}"
    );
    let latency = events
        .iter()
        .find(|e| e["type"] == "latency")
        .expect("latency");
    for milestone in [
        "endOfTurnMs",
        "asrFinalMs",
        "firstTokenMs",
        "firstAudioSentMs",
    ] {
        assert!(
            latency[milestone].as_f64().is_some(),
            "{milestone}: {latency}"
        );
    }
}

/// An API agent by browser: the control plane mints a web call (record SCHEDULED, channel
/// web), the browser posts its offer to the whipUrl with the token, hears the greeting; the
/// token opens one call only; the record follows the call and ends COMPLETED with its
/// transcript when the page hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_agent_takes_a_web_call_with_a_minted_token() {
    let fake = FakeOpenAi::start(FakeTiming {
        ttft: Duration::from_millis(100),
        ..FakeTiming::default()
    })
    .await;
    fake.set_defaults("Hello there.", ChatReply::text("Hi, how can I help?"));
    let dir = scratch_dir("whip-api-agent");
    let config = dir.join("vox.toml");
    let ai = fake.base_url();
    std::fs::write(
        &config,
        format!(
            "[voice_agents]\nllm = {{ baseUrl = \"{ai}\", model = \"fake-llm\" }}\nasr = {{ baseUrl = \"{ai}\", model = \"fake-asr\" }}\ntts = {{ baseUrl = \"{ai}\", model = \"fake-tts\", voice = \"v1\" }}\n"
        ),
    )
    .expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let creds = {
        let (config, db) = (config.clone(), db.clone());
        tokio::task::spawn_blocking(move || {
            admin_create(
                Path::new(BIN),
                &config,
                &[("VOX__STORE__URL", db.as_str())],
                "Acme",
                "Acme Dental",
                None,
            )
        })
        .await
        .expect("admin")
    };
    let biz = creds["businessId"].as_str().expect("businessId").to_owned();
    let server = start(
        vec!["--config".into(), config.display().to_string()],
        vec![("VOX__STORE__URL".into(), db.clone())],
    )
    .await;
    let base = format!("http://{}", server.addr);
    let api = ApiClient::login(
        &base,
        creds["clientId"].as_str().expect("id"),
        creds["clientSecret"].as_str().expect("secret"),
    )
    .await;
    let (status, agent) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents"),
            Some(json!({"name": "Front desk", "type": "INBOUND", "conversationFlow": "Greet and help.", "firstMessage": "Welcome to Acme Dental."})),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["id"].as_str().expect("id").to_owned();
    let (status, grant) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/web-call"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    let whip_url = grant["whipUrl"].as_str().expect("whipUrl").to_owned();
    let token = grant["token"].as_str().expect("token").to_owned();
    let call_id = grant["callId"].as_str().expect("callId").to_owned();
    assert!(
        whip_url.starts_with(&format!("{base}/whip/{agent_id}?callId=")),
        "{whip_url}"
    );

    let http = reqwest::Client::new();
    let post = |token: Option<String>, offer: String| {
        let mut req = http
            .post(&whip_url)
            .header("content-type", "application/sdp")
            .body(offer);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    // a wrong token is 401, before anything is opened
    let (_, offer) = WebRtcClient::offer().await.expect("offer");
    let res = post(Some(format!("{token}x")), offer).await.expect("POST");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");

    let (client, offer) = WebRtcClient::offer().await.expect("offer");
    let res = post(Some(token.clone()), offer).await.expect("POST");
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let mut call = client
        .start(&res.text().await.expect("answer"))
        .expect("start");
    // the greeting: transcript on the data channel, and audio
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut heard_greeting = false;
    let mut loud_frames = 0;
    while !(heard_greeting && loud_frames > 20) {
        tokio::select! {
            m = call.messages.recv() => {
                let e: Value = serde_json::from_str(&m.expect("message")).expect("JSON");
                heard_greeting |= e["role"] == "agent" && e["text"] == "Welcome to Acme Dental.";
            }
            h = call.heard.recv() => loud_frames += usize::from(loud(&h.expect("heard").frame)),
            () = tokio::time::sleep_until(deadline) => panic!("greeting {heard_greeting}, loud {loud_frames}"),
        }
    }
    let (_, record) = api
        .send(
            reqwest::Method::GET,
            &format!("/v1/businesses/{biz}/calls/{call_id}"),
            None,
        )
        .await;
    assert_eq!(
        (record["status"].as_str(), record["channel"].as_str()),
        (Some("IN_PROGRESS"), Some("web")),
        "{record}"
    );
    // the token opened its call; it opens no second one
    let (_, offer) = WebRtcClient::offer().await.expect("offer");
    let res = post(Some(token.clone()), offer).await.expect("POST");
    assert_eq!(res.status(), StatusCode::CONFLICT);

    let res = http
        .delete(format!("{base}{location}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(res.status(), StatusCode::OK);
    let ended = api.ended_call(&biz, &call_id, false).await;
    assert_eq!(ended["status"], "COMPLETED", "{ended}");
    assert!(
        ended["transcript"]
            .as_str()
            .is_some_and(|t| t.contains("Welcome to Acme Dental.")),
        "{ended}"
    );
}

/// `vox sim --webrtc`: the scripted caller as a browser (WHIP, Opus, DTLS-SRTP), reported
/// like a carrier's call: the echo heard back, then a barge-in that silences it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vox_sim_calls_as_a_browser_and_reports_the_turns() {
    let server = start(vec![], vec![]).await;
    let dir = scratch_dir("e2e-sim-webrtc");
    let report = dir.join("report.json");
    let out = tokio::process::Command::new(BIN)
        .args([
            "sim",
            "--webrtc",
            "--quiet",
            "--url",
            &format!("http://{}/whip/echo", server.addr),
            "--script",
        ])
        .arg(repo_root().join("tests/data/scripts/demo.toml"))
        .arg("--report")
        .arg(&report)
        .output()
        .await
        .expect("run vox sim");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    let call = &r["calls"][0];
    assert_eq!(call["errors"], json!([]), "{call}");
    let turns = call["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 2, "{call}");
    // the question came back over WebRTC (heard until the next turn talked over it, 1 s in)
    let latency = turns[0]["response_latency_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no echo heard: {call}"));
    assert!(latency < 3000.0, "echo after {latency} ms");
    let echoed = turns[0]["reply_audio_ms"].as_f64().unwrap_or(0.0);
    assert!(echoed >= 900.0, "only {echoed} ms echoed: {call}");
    // the second turn talked over the echo, and the echo stopped
    assert_eq!(turns[1]["barged_in"], true, "{call}");
    let silent = turns[1]["barge_in_to_silence_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("the echo did not stop: {call}"));
    assert!(silent < 1500.0, "silent {silent} ms after the barge-in");
    // the caller hung up with DELETE: no call is left
    let (_, metrics) = http_get(server.addr, "/metrics").expect("metrics");
    let mut active = metrics;
    for _ in 0..50 {
        if active.contains("vox_calls_active 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        active = http_get(server.addr, "/metrics").expect("metrics").1;
    }
    assert!(active.contains("vox_calls_active 0"), "{active}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A counter's value in Prometheus text, if the series is there.
fn counter(metrics: &str, series: &str) -> Option<u64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    })
}
