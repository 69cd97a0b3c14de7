//! Telnyx, Plivo, Vonage and Exotel end to end over loopback, each against its fake in
//! vox-testkit speaking the real protocol: a pool of the carrier's numbers in the config; an
//! OUTBOUND agent's call dialed through the carrier's REST API (its authentication checked by
//! the fake), streamed in the carrier's dialect, conducted by the agent and hung up through
//! the carrier's call control, texting the callee through its messaging API on the way; an
//! INBOUND call set up through the carrier's signed webhook and transferred through its call
//! control (Exotel: through the flow's Connect applet); forged webhooks refused; set-up
//! webhooks replayed, tampered with or late refused or made no-ops. The records follow the
//! calls.

use std::time::Duration;

use serde_json::{Value, json};
use vox_testkit::{
    ApiClient, CallerScript, CarrierKind, ChatReply, FakeCarrier, FakeOpenAi, FakeTiming,
    VoxServer, repo_root, scratch_dir,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

async fn carrier_calls(kind: CarrierKind) {
    let name = kind.name();
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let carrier = FakeCarrier::start(kind, CallerScript::saying([audio.join("book-1.wav")])).await;
    let dir = scratch_dir(&format!("e2e-carrier-{name}"));
    let config = dir.join("vox.toml");
    let ai = fake_ai.base_url();
    std::fs::write(
        &config,
        format!(
            "[telephony]\n{}\n[voice_agents]\nllm = {{ baseUrl = \"{ai}\", apiKey = \"sk-test\", model = \"fake-llm\" }}\nasr = {{ baseUrl = \"{ai}\", model = \"fake-asr\" }}\ntts = {{ baseUrl = \"{ai}\", model = \"fake-tts\", voice = \"v1\" }}\n",
            carrier.pool_toml(&["+15125550122", "+12125550111"])
        ),
    )
    .expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let env = [
        ("VOX__STORE__URL", db.as_str()),
        ("VOX__VAD__STOP_MS", "400"),
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
        ])
        .arg(&config)
        .envs(env)
        .output()
        .expect("admin create");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: Value = serde_json::from_slice(&out.stdout).expect("json");
    let biz = creds["businessId"].as_str().expect("biz").to_owned();
    let config_arg = config.display().to_string();
    let db2 = db.clone();
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--config", &config_arg],
            &[
                ("VOX__STORE__URL", db2.as_str()),
                ("VOX__VAD__STOP_MS", "400"),
            ],
        )
    })
    .await
    .expect("server");
    let base = format!("http://{}", server.addr);
    let api = ApiClient::login(
        &base,
        creds["clientId"].as_str().expect("id"),
        creds["clientSecret"].as_str().expect("secret"),
    )
    .await;
    let http = api.http.clone();
    use reqwest::Method;

    // forged set-up webhooks are refused
    let forged = carrier.forged_webhook(&base).await;
    assert!(
        forged == 401 || forged == 403,
        "{name}: a forged webhook got {forged}"
    );

    let (status, tool) = api
        .send(Method::POST, &format!("/v1/businesses/{biz}/tools"), Some(json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "Office", "phoneNumber": "+15125550144"}]}})))
        .await;
    assert_eq!(status, 201, "{tool}");
    let agent = |kind: &str| json!({"name": format!("{name} {kind}"), "type": kind, "conversationFlow": "Help the customer book a visit.", "firstMessage": "Hello from Acme Plumbing.", "toolIds": [tool["id"]]});
    let (status, out_agent) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents"),
            Some(agent("OUTBOUND")),
        )
        .await;
    assert_eq!(status, 201, "{out_agent}");
    let out_id = out_agent["id"].as_str().expect("id").to_owned();
    let (status, d) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{out_id}/deploy"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let our_number = d["phoneNumber"].as_str().expect("number").to_owned();

    // a seed-000 SMS action: its text goes through the carrier's messaging API
    let (status, sms) = api
        .send_versioned(
            Method::POST,
            "/voice-ai/actions",
            Some(json!({"agentId": out_id, "locationId": biz, "actionType": "SMS", "name": "Text the booking",
                "actionParameters": {"triggerPrompt": "When a visit is booked", "triggerMessage": "I'll text you the details.",
                    "messageBody": "Acme Plumbing: your visit is booked."}})),
        )
        .await;
    assert_eq!(status, 201, "{sms}");

    // outbound: dialed through the carrier; the agent answers, texts the callee, then hangs up
    // through it
    fake_ai.push_transcript("I would like to book an appointment for next Tuesday.");
    fake_ai.push_chat(ChatReply::tool("text_the_booking", json!({})));
    fake_ai.push_chat(ChatReply {
        text: "You are booked for Tuesday at ten. Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let (status, placed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{out_id}/call"),
            Some(json!({"phoneNumber": "+15552345678"})),
        )
        .await;
    assert_eq!(status, 200, "{name}: {placed}");
    let call_id = placed["callId"].as_str().expect("callId").to_owned();
    let legs = carrier.finished(1, Duration::from_secs(60)).await;
    let leg = legs.first().expect("the carrier got the call");
    assert!(leg.finished, "{name}: {leg:?}");
    assert_eq!(
        (leg.to.as_str(), leg.from.as_str()),
        ("+15552345678", our_number.as_str()),
        "{name}"
    );
    let report = leg.report.clone().unwrap_or(Value::Null);
    assert_eq!(
        report["calls"][0]["errors"],
        json!([]),
        "{name}: the callee's side: {report:#}"
    );
    let (url, _) = leg.stream.clone().expect("a media stream");
    assert!(
        url.starts_with(&format!("ws://{}/media/{name}", server.addr)),
        "{name}: {url}"
    );
    let call = api.ended_call(&biz, &call_id, false).await;
    assert_eq!(
        (call["status"].as_str(), call["endedReason"].as_str()),
        (Some("COMPLETED"), Some("assistant-ended-call")),
        "{name}: {call}"
    );
    let plus = |n: &str| {
        if kind == CarrierKind::Vonage {
            n.trim_start_matches('+').to_owned()
        } else {
            n.to_owned()
        }
    };
    assert_eq!(
        carrier.messages(),
        [(
            plus(&our_number),
            plus("+15552345678"),
            "Acme Plumbing: your visit is booked.".to_owned()
        )],
        "{name}: the text went out through the carrier"
    );
    let transcript = call["transcript"].as_str().unwrap_or_default();
    assert!(
        transcript.contains("Caller: I would like to book an appointment for next Tuesday.")
            && transcript.contains("Agent: You are booked for Tuesday at ten."),
        "{name}: {transcript}"
    );
    let hung_up = carrier.finished(1, Duration::from_secs(5)).await[0]
        .updates
        .clone();
    match kind {
        CarrierKind::Telnyx | CarrierKind::Vonage => assert!(
            hung_up
                .iter()
                .any(|u| u.get("action").map(String::as_str) == Some("hangup")),
            "{name}: hung up through call control: {hung_up:?}"
        ),
        CarrierKind::Plivo => assert!(
            hung_up
                .iter()
                .any(|u| u.get("method").map(String::as_str) == Some("DELETE")),
            "{name}: {hung_up:?}"
        ),
        // no call control: the stream closes and the flow hangs up
        CarrierKind::Exotel => {
            assert_eq!(report["calls"][0]["close_code"], 1000, "{name}: {report:#}")
        }
    }
    assert!(
        leg.status_callback.is_some_and(|s| (200..300).contains(&s)),
        "{name}: the end-of-call callback was accepted: {leg:?}"
    );

    // inbound: the carrier's signed set-up webhook; the agent transfers through the carrier
    let (status, in_agent) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents"),
            Some(agent("INBOUND")),
        )
        .await;
    assert_eq!(status, 201, "{in_agent}");
    let in_id = in_agent["id"].as_str().expect("id").to_owned();
    let (_, d) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{in_id}/deploy"),
            None,
        )
        .await;
    let in_number = d["phoneNumber"].as_str().expect("number").to_owned();
    fake_ai.push_transcript("Please put me through to the office.");
    fake_ai.push_chat(ChatReply::tool(
        "transferCall",
        json!({"destination": "Office", "summary": "The caller wants the office."}),
    ));
    let (status, leg) = carrier.ring(&base, "+15552345679", &in_number).await;
    assert_eq!(status, 200, "{name}: the set-up webhook: {leg:?}");
    let report = leg.report.clone().unwrap_or(Value::Null);
    assert_eq!(
        report["calls"][0]["errors"],
        json!([]),
        "{name}: the caller's side: {report:#}"
    );
    let (_, list) = api
        .send(
            Method::GET,
            &format!("/v1/businesses/{biz}/calls?type=INBOUND"),
            None,
        )
        .await;
    assert_eq!(list["total"], 1, "{name}: {list}");
    let call = api
        .ended_call(&biz, list["items"][0]["id"].as_str().expect("id"), false)
        .await;
    assert_eq!(
        (
            call["endedReason"].as_str(),
            call["customerNumber"].as_str()
        ),
        (Some("assistant-transferred-call"), Some("+15552345679")),
        "{name}: {call}"
    );
    let leg = carrier
        .calls()
        .into_iter()
        .find(|c| c.sid == leg.sid)
        .expect("leg");
    match kind {
        CarrierKind::Telnyx => assert!(
            leg.updates
                .iter()
                .any(|u| u.get("action").map(String::as_str) == Some("transfer")
                    && u.get("to").map(String::as_str) == Some("+15125550144")),
            "{name}: {:?}",
            leg.updates
        ),
        CarrierKind::Vonage => assert!(
            leg.updates
                .iter()
                .any(|u| u.get("action").map(String::as_str) == Some("transfer")
                    && u.get("body").is_some_and(|b| b.contains("15125550144"))),
            "{name}: {:?}",
            leg.updates
        ),
        CarrierKind::Plivo => {
            let (url, status, xml) = leg
                .hold
                .first()
                .cloned()
                .expect("the transferred leg's XML was fetched");
            assert!(
                url.contains("/plivo/transfer")
                    && status == 200
                    && xml.contains("<Number>+15125550144</Number>"),
                "{name}: {url} {status} {xml}"
            );
        }
        CarrierKind::Exotel => {
            // the flow's Connect applet asks where to dial, with the pool's credentials
            let (user, pass) = exotel_credentials(&carrier);
            let res = http
                .get(format!("{base}/exotel/dial?CallSid={}", leg.sid))
                .basic_auth(&user, Some(&pass))
                .send()
                .await
                .expect("dial whom");
            assert_eq!(res.status().as_u16(), 200, "{name}");
            assert_eq!(res.text().await.expect("text"), "+15125550144");
        }
    }

    // the set-up webhook replayed, tampered with and late: refused, or a no-op that makes
    // no second record
    let r = carrier.replay_suite(&base, &in_number).await;
    let refused = |s: u16| s == 401 || s == 403;
    assert_eq!(r.first, 200, "{name}: {r:?}");
    match kind {
        // Vonage's token is single-use
        CarrierKind::Vonage => assert!(refused(r.replayed), "{name}: {r:?}"),
        // the others answer the same call again while its stream has not connected
        _ => assert_eq!(r.replayed, 200, "{name}: {r:?}"),
    }
    match kind {
        // Exotel signs nothing (basic auth): a number outside the pool is refused; one inside
        // it with the same CallSid would be the same call
        CarrierKind::Exotel => assert_eq!(r.tampered, 404, "{name}: {r:?}"),
        _ => assert!(refused(r.tampered), "{name}: {r:?}"),
    }
    match kind {
        CarrierKind::Telnyx | CarrierKind::Vonage => {
            assert!(r.stale.is_some_and(refused), "{name}: {r:?}")
        }
        CarrierKind::Plivo | CarrierKind::Exotel => assert_eq!(r.stale, None),
    }
    let inbound_calls = || async {
        let (_, list) = api
            .send(
                Method::GET,
                &format!("/v1/businesses/{biz}/calls?type=INBOUND"),
                None,
            )
            .await;
        list["total"].as_u64().unwrap_or(0)
    };
    // Telnyx answers its webhook first and creates the record after
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while inbound_calls().await < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        inbound_calls().await,
        2,
        "{name}: one record for the suite's call, none for its replays"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The Exotel pool's API key and token, as its pool entry names them.
fn exotel_credentials(c: &FakeCarrier) -> (String, String) {
    let toml: toml::Value = toml::from_str(&c.pool_toml(&["+15125550122"])).expect("pool toml");
    let p = &toml["telephony"]["pools"][0];
    (
        p["api_key"].as_str().expect("key").to_owned(),
        p["auth_token"].as_str().expect("token").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telnyx_and_plivo_dial_answer_hang_up_and_transfer() {
    tokio::join!(
        carrier_calls(CarrierKind::Telnyx),
        carrier_calls(CarrierKind::Plivo)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vonage_and_exotel_dial_answer_hang_up_and_transfer() {
    tokio::join!(
        carrier_calls(CarrierKind::Vonage),
        carrier_calls(CarrierKind::Exotel)
    );
}
