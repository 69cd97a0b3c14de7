//! Media admission under abuse, against the real `vox serve` over loopback: streams from
//! outside `media.trusted_sources` need a token; 300 sockets that never send `start`, never
//! echo marks or never read are closed by their deadlines, and while they are up a signed
//! carrier call still gets in. Clients bind their own loopback addresses (127.0.0.2, ...) to
//! play untrusted peers.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use vox_testkit::{
    ApiClient, CallerScript, CarrierKind, ChatReply, FakeCarrier, FakeOpenAi, FakeTiming,
    VoxServer, Ws, close_of, http_get, repo_root, scratch_dir,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

/// A Twilio-dialect media stream to `server` from the local address `from`.
async fn connect_from(server: SocketAddr, from: &str) -> Ws {
    let local: IpAddr = from.parse().expect("address");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(local, 0)).expect("bind");
    let tcp = socket.connect(server).await.expect("connect");
    let url = format!("ws://{server}/media/twilio");
    let plain = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
    tokio_tungstenite::client_async(url, plain)
        .await
        .expect("websocket")
        .0
}

fn start_msg(agent: &str, sid: &str) -> Message {
    Message::text(
        json!({"event":"start","sequenceNumber":"1","streamSid":sid,"start":{"streamSid":sid,"callSid":format!("CA{sid}"),"accountSid":"AC1",
            "tracks":["inbound"],"customParameters":{"agentId":agent},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}})
        .to_string(),
    )
}

/// 20 ms of μ-law: a loud 1 kHz square wave, or silence.
fn media(sid: &str, loud: bool) -> Message {
    use base64::Engine as _;
    let payload: Vec<u8> = if loud {
        (0..160)
            .map(|i| if i % 8 < 4 { 0x80 } else { 0x00 })
            .collect()
    } else {
        vec![0xFF; 160]
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
    Message::text(
        json!({"event":"media","streamSid":sid,"media":{"track":"inbound","payload":b64}})
            .to_string(),
    )
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn write_config(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("vox.toml");
    std::fs::write(&path, body).expect("config");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokenless_stream_from_outside_the_trusted_sources_is_refused() {
    let dir = scratch_dir("admission-trust");
    let config = write_config(&dir, "[media]\ntrusted_sources = [\"127.0.0.1/32\"]\n");
    let s = VoxServer::start(std::path::Path::new(BIN), &["--config", &config], &[]);
    // outside: refused with a reason, before it costs a call slot
    let mut outside = connect_from(s.addr, "127.0.0.2").await;
    outside.send(start_msg("echo", "MZ1")).await.expect("send");
    let (code, reason) = close_of(&mut outside).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("trusted_sources"), "{reason}");
    // inside: the same stream is a call
    let mut inside = connect_from(s.addr, "127.0.0.1").await;
    inside.send(start_msg("echo", "MZ2")).await.expect("send");
    inside.send(media("MZ2", false)).await.expect("media");
    let r = tokio::time::timeout(Duration::from_millis(500), inside.next()).await;
    assert!(r.is_err(), "the trusted call is up (no close): {r:?}");
    let (_, metrics) = http_get(s.addr, "/metrics").expect("metrics");
    assert_eq!(
        metric(
            &metrics,
            "vox_calls_rejected_total{reason=\"untrusted_source\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "vox_calls_active"), 1.0, "{metrics}");
}

/// Keeps a call alive without ever reading: silence every 200 ms for `for_how_long`.
async fn never_read(mut ws: Ws, sid: String, for_how_long: Duration) {
    let until = Instant::now() + for_how_long;
    let _ = ws.send(start_msg("echo", &sid)).await;
    while Instant::now() < until {
        if ws.send(media(&sid, false)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Joins the greeter's call and reads everything (so pings get their pongs) but never
/// echoes a mark; returns the close code and reason.
async fn never_echo(mut ws: Ws, sid: String) -> (u16, String) {
    let _ = ws.send(start_msg("greeter", &sid)).await;
    let mut keepalive = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
                Some(Ok(_)) => {}
                other => return (0, format!("closed without a close frame: {other:?}")),
            },
            _ = keepalive.tick() => {
                let _ = ws.send(media(&sid, false)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusive_sockets_are_closed_by_deadlines_while_a_signed_call_gets_in() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let carrier = FakeCarrier::start(
        CarrierKind::Telnyx,
        CallerScript::saying([audio.join("book-1.wav")]),
    )
    .await;
    let dir = scratch_dir("admission-abuse");
    let ai = fake_ai.base_url();
    // 200 call slots: 100 calls that never echo and 100 that never read fill all but one;
    // the 100 streams that never start hold none
    let config = write_config(
        &dir,
        &format!(
            "[server]\nmax_concurrent_calls = 201\n\
             [media]\ntrusted_sources = [\"127.0.0.1/32\", \"127.0.1.0/24\"]\nstart_timeout_ms = 1000\nmax_pending_per_source = 100\nidle_timeout_secs = 3\nping_interval_secs = 2\nmark_timeout_secs = 2\n\
             [telephony]\n{}\n[voice_agents]\nllm = {{ baseUrl = \"{ai}\", apiKey = \"sk-test\", model = \"fake-llm\" }}\nasr = {{ baseUrl = \"{ai}\", model = \"fake-asr\" }}\ntts = {{ baseUrl = \"{ai}\", model = \"fake-tts\", voice = \"v1\" }}\n",
            carrier.pool_toml(&["+15125550122"])
        ),
    );
    let db = format!("sqlite://{}/vox.db", dir.display());
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
        .env("VOX__STORE__URL", &db)
        .output()
        .expect("admin create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: Value = serde_json::from_slice(&out.stdout).expect("json");
    let biz = creds["businessId"].as_str().expect("biz").to_owned();
    // a file agent that greets every caller: its audio goes out with marks at once
    let greeter = dir.join("greeter.json");
    let agent = json!({
        "agent": {"id": "greeter", "name": "Greeter", "type": "INBOUND", "conversationFlow": "Greet.",
                  "firstMessage": "Hello, thanks for calling. Everyone here is busy helping other callers right now, so please stay on the line."},
        "llm": {"baseUrl": ai, "apiKey": "sk-test", "model": "fake-llm"},
        "asr": {"baseUrl": ai, "model": "fake-asr"},
        "tts": {"baseUrl": ai, "model": "fake-tts", "voice": "v1"}
    });
    std::fs::write(&greeter, agent.to_string()).expect("agent file");
    let greeter = greeter.display().to_string();
    let (config2, db2) = (config.clone(), db.clone());
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--config", &config2, "--agent", &greeter],
            &[
                ("VOX__STORE__URL", db2.as_str()),
                ("VOX__VAD__STOP_MS", "400"),
            ],
        )
    })
    .await
    .expect("server");
    let addr = server.addr;
    let base = format!("http://{addr}");
    let api = ApiClient::login(
        &base,
        creds["clientId"].as_str().expect("id"),
        creds["clientSecret"].as_str().expect("secret"),
    )
    .await;
    use reqwest::Method;
    let (status, agent) = api
        .send(Method::POST, &format!("/v1/businesses/{biz}/voice-agents"), Some(json!({"name": "Abuse", "type": "OUTBOUND", "conversationFlow": "Help the customer book a visit.", "firstMessage": "Hello from Acme Plumbing."})))
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

    // 100 streams from an untrusted address that never send start, and one too many
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(connect_from(addr, "127.0.0.2").await);
    }
    let mut extra = connect_from(addr, "127.0.0.2").await;
    let (code, reason) = close_of(&mut extra).await;
    assert_eq!(
        code, 1013,
        "the 101st pending stream from one address: {reason}"
    );
    let silent_closed = tokio::spawn(async move {
        let t = Instant::now();
        let mut closes = Vec::new();
        for mut ws in silent {
            closes.push(close_of(&mut ws).await);
        }
        (t.elapsed(), closes)
    });
    // 100 calls that never echo a mark, 100 that never read, from trusted addresses
    // (from four trusted addresses: one address may hold 100 streams before their start)
    let mut echoless = Vec::new();
    let mut readless = Vec::new();
    for wave in 0..4 {
        let from = format!("127.0.1.{}", wave + 1);
        let sockets =
            futures_util::future::join_all((0..50).map(|_| connect_from(addr, &from))).await;
        for (i, ws) in sockets.into_iter().enumerate() {
            let i = wave * 50 + i;
            if i % 2 == 0 {
                echoless.push(tokio::spawn(never_echo(ws, format!("E{i}"))));
            } else {
                readless.push(tokio::spawn(never_read(
                    ws,
                    format!("R{i}"),
                    Duration::from_secs(10),
                )));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, m) = http_get(addr, "/metrics").expect("metrics");
        if metric(&m, "vox_calls_admitted_total") >= 200.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the abusers are not all in: {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // meanwhile a signed carrier call gets the last slot and runs to its end
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply {
        text: "You are booked for Tuesday at ten. Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let (status, placed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}/call"),
            Some(json!({"phoneNumber": "+15552345678"})),
        )
        .await;
    assert_eq!(status, 200, "{placed}");
    let call_id = placed["callId"].as_str().expect("callId").to_owned();

    let (waited, closes) = silent_closed.await.expect("silent");
    for (code, reason) in &closes {
        assert_eq!(*code, 1008, "{reason}");
        assert!(reason.contains("no start within 1000 ms"), "{reason}");
    }
    assert!(
        waited < Duration::from_secs(3),
        "start deadline of 1 s took {waited:?}"
    );
    let echo_closes = tokio::time::timeout(
        Duration::from_secs(20),
        futures_util::future::join_all(echoless),
    )
    .await;
    let Ok(echo_closes) = echo_closes else {
        let (_, m) = http_get(addr, "/metrics").expect("metrics");
        panic!("the calls that never echo were not all closed in 20 s:\n{m}");
    };
    for close in &echo_closes {
        let Ok((code, reason)) = close else {
            let (_, m) = http_get(addr, "/metrics").expect("metrics");
            panic!("not closed in time: {close:?}\n{echo_closes:?}\n{m}");
        };
        assert!(
            reason.contains("stopped echoing marks"),
            "{code} {reason}\n{echo_closes:?}"
        );
    }
    for task in readless {
        task.await.expect("task");
    }
    let call = api.ended_call(&biz, &call_id, false).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("COMPLETED"), Some("assistant-ended-call")),
        "the signed call ran: {call}"
    );
    assert!(
        call["transcript"]
            .as_str()
            .unwrap_or_default()
            .contains("You are booked for Tuesday"),
        "{call}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (_, m) = http_get(addr, "/metrics").expect("metrics");
        if metric(&m, "vox_calls_active") == 0.0 || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(metric(&metrics, "vox_calls_active"), 0.0, "{metrics}");
    assert_eq!(
        metric(
            &metrics,
            "vox_calls_rejected_total{reason=\"start_timeout\"}"
        ),
        100.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "vox_calls_rejected_total{reason=\"too_many_pending\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "vox_calls_unresponsive_total{reason=\"marks_not_echoed\"}"
        ),
        100.0,
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "vox_calls_unresponsive_total{reason=\"not_reading\"}"
        ),
        100.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "vox_calls_rejected_total{reason=\"capacity\"}"),
        0.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_agent_on_a_pool_number_answers_through_the_signed_set_up() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let carrier = FakeCarrier::start(
        CarrierKind::Telnyx,
        CallerScript::saying([audio.join("book-1.wav")]),
    )
    .await;
    let dir = scratch_dir("admission-file-agent");
    let ai = fake_ai.base_url();
    let number = "+15125550122";
    // nothing is trusted: the carrier's stream gets in by its token alone
    let config = write_config(
        &dir,
        &format!(
            "[media]\ntrusted_sources = []\n[telephony]\nfile_agents = {{ \"{number}\" = \"greeter\" }}\n{}\n",
            carrier.pool_toml(&[number])
        ),
    );
    let greeter = dir.join("greeter.json");
    let agent = json!({
        "agent": {"id": "greeter", "name": "Greeter", "type": "INBOUND", "conversationFlow": "Book visits.",
                  "firstMessage": "Hello from the file agent."},
        "llm": {"baseUrl": ai, "apiKey": "sk-test", "model": "fake-llm"},
        "asr": {"baseUrl": ai, "model": "fake-asr"},
        "tts": {"baseUrl": ai, "model": "fake-tts", "voice": "v1"}
    });
    std::fs::write(&greeter, agent.to_string()).expect("agent file");
    let greeter = greeter.display().to_string();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--config", &config, "--agent", &greeter],
            &[("VOX__VAD__STOP_MS", "400")],
        )
    })
    .await
    .expect("server");
    let base = format!("http://{}", server.addr);
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply::text("You are booked for Tuesday at ten."));
    let (status, leg) = carrier.ring(&base, "+15552345679", number).await;
    assert_eq!(status, 200, "the set-up webhook: {leg:?}");
    let report = leg.report.clone().unwrap_or(Value::Null);
    assert_eq!(
        report["calls"][0]["errors"],
        json!([]),
        "the caller's side: {report:#}"
    );
    // Telnyx keeps the stream URL's query: the parameters are there
    let (url, _) = leg.stream.clone().expect("a signed stream");
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(url.split_once('?').map_or("", |(_, q)| q)).expect("query");
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(param("agentId").as_deref(), Some("greeter"), "{url}");
    assert!(param("token").is_some_and(|t| !t.is_empty()), "{url}");
    let chats = fake_ai.requests("/v1/chat/completions");
    assert!(
        !chats.is_empty(),
        "the file agent answered the caller's turn"
    );

    // the same stream URL again (a replayed token): refused
    let (mut replay, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connect");
    let start = json!({"event":"start","sequence_number":"1","stream_id":"replayed","start":{"call_control_id":"v3:replayed","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}});
    replay
        .send(Message::text(start.to_string()))
        .await
        .expect("send");
    let (code, reason) = close_of(&mut replay).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("already connected"), "{reason}");
}
