//! Tools that act and calls that leave a record, end to end over loopback: a `vox serve` with
//! an OUTBOUND agent made through the API (calendar, transfer, knowledge base, a function
//! tool, endCall), the fake Twilio placing its calls and playing a caller, the fake OpenAI
//! deciding which tool to call. Five calls: book + knowledge question + function + endCall;
//! find and cancel the booking; a cold transfer; a warm transfer (hold audio, briefing,
//! conference); a warm transfer nobody answers. Then the records: recording (both channels
//! audible), transcript with times, summary, structuredData; and the signed webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};
use vox_testkit::{
    ApiClient, CallerScript, ChatReply, FakeOpenAi, FakeTiming, FakeTwilio, VoxServer, repo_root,
    scratch_dir,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");

/// Places a call and waits until its record has its artifacts (summary set last).
async fn place(api: &ApiClient, biz: &str, agent: &str) -> Value {
    let (status, placed) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents/{agent}/call"),
            Some(json!({"phoneNumber": "+15125550177", "name": "Dana"})),
        )
        .await;
    assert_eq!(status, 200, "{placed}");
    api.ended_call(biz, placed["callId"].as_str().expect("callId"), true)
        .await
}

/// What the developer's server received: (path, headers, body).
type Seen = Arc<Mutex<Vec<(String, axum::http::HeaderMap, String)>>>;

/// The developer's server: a function tool endpoint and a webhook receiver.
async fn developer_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/order-status",
            post(
                move |headers: axum::http::HeaderMap, body: String| async move {
                    s1.lock()
                        .expect("seen")
                        .push(("/order-status".into(), headers, body));
                    axum::Json(json!({"result": "Order 42 ships tomorrow morning."}))
                },
            ),
        )
        .route(
            "/hooks",
            post(
                move |headers: axum::http::HeaderMap, body: String| async move {
                    s2.lock()
                        .expect("seen")
                        .push(("/hooks".into(), headers, body));
                    "ok"
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

/// The tool results the model was given, from the fake's request log.
fn tool_results(ai: &FakeOpenAi) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in ai.requests("/v1/chat/completions") {
        for m in r["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == "tool")
        {
            let c = m["content"].as_str().unwrap_or_default().to_owned();
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

fn rms(samples: &[i16]) -> f64 {
    (samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_act_and_calls_leave_a_record() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([
        audio.join("book-1.wav"),
        audio.join("kb-1.wav"),
    ]))
    .await;
    let (dev, seen) = developer_server().await;

    let dir = scratch_dir("e2e-tools");
    let config = dir.join("vox.toml");
    let ai = fake_ai.base_url();
    std::fs::write(
        &config,
        format!(
            r#"
[tools]
# the developer's server is on loopback in this test
allow_private_networks = true

[api]
webhook_retry_secs = 1

[telephony]
[[telephony.pools]]
carrier = "twilio"
numbers = ["+15125550122"]
account_sid = "{sid}"
auth_token = "{token}"
api_base = "{api}"

[voice_agents]
llm = {{ baseUrl = "{ai}", apiKey = "sk-test-secret", model = "fake-llm" }}
asr = {{ baseUrl = "{ai}", model = "fake-asr" }}
tts = {{ baseUrl = "{ai}", model = "fake-tts", voice = "v1" }}
"#,
            sid = twilio.account_sid(),
            token = twilio.auth_token(),
            api = twilio.api_base()
        ),
    )
    .expect("config");
    let db = format!("sqlite://{}/vox.db", dir.display());
    let (files_dir, rec_dir) = (
        dir.join("files").display().to_string(),
        dir.join("recordings").display().to_string(),
    );
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
        .env("VOX__STORE__URL", &db)
        .output()
        .expect("vox admin create");
    let creds: Value = serde_json::from_slice(&out.stdout).expect("admin create prints JSON");
    let biz = creds["businessId"].as_str().expect("businessId").to_owned();
    let config_arg = config.display().to_string();
    let (db2, f2, r2) = (db.clone(), files_dir.clone(), rec_dir.clone());
    let server = tokio::task::spawn_blocking(move || {
        VoxServer::start(
            std::path::Path::new(BIN),
            &["--config", &config_arg],
            &[
                ("VOX__STORE__URL", db2.as_str()),
                ("VOX__API__FILES_DIR", f2.as_str()),
                ("VOX__API__RECORDINGS_DIR", r2.as_str()),
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

    // the webhook, the calendar integration and the tools
    let (status, hook) = api
        .send(
            Method::PUT,
            &format!("/v1/businesses/{biz}/webhook"),
            Some(json!({"url": format!("{dev}/hooks")})),
        )
        .await;
    assert_eq!(status, 200, "{hook}");
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    let (status, r) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/integrations/google-calendar"),
            Some(json!({"calendarId": "acme@example.com", "accessToken": "ya29.test"})),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let mut tool_ids = Vec::new();
    for body in [
        json!({"templateToolId": "template-google-calendar", "configOverride": {"appointmentConfig": {"slotDurationMinutes": 60, "advanceNoticeMinutes": 0, "timezone": "America/Chicago",
            "hoursJson": {"monday": [{"openTime": "00:00", "closeTime": "24:00"}], "tuesday": [{"openTime": "00:00", "closeTime": "24:00"}], "wednesday": [{"openTime": "00:00", "closeTime": "24:00"}],
                          "thursday": [{"openTime": "00:00", "closeTime": "24:00"}], "friday": [{"openTime": "00:00", "closeTime": "24:00"}], "saturday": [{"openTime": "00:00", "closeTime": "24:00"}], "sunday": [{"openTime": "00:00", "closeTime": "24:00"}]}}}}),
        json!({"templateToolId": "template-transfer-call", "configOverride": {
            "destinations": [
                {"name": "Office", "phoneNumber": "+15125550144", "description": "The front office"},
                {"name": "Billing", "phoneNumber": "+15125550155", "description": "Invoices", "warmTransferEnabled": true},
                {"name": "Manager", "phoneNumber": "+15125550166", "warmTransferEnabled": true}
            ],
            "messages": [{"type": "request-complete", "content": "https://example.com/audio/on-hold.mp3"}]
        }, "message": "Let me put you through."}),
        json!({"templateToolId": "template-function", "configOverride": {"name": "orderStatus", "serverUrl": format!("{dev}/order-status"), "description": "Where an order is", "parameters": {"type": "object", "properties": {"order": {"type": "string"}}}}}),
    ] {
        let (status, t) = api
            .send(
                Method::POST,
                &format!("/v1/businesses/{biz}/tools"),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{t}");
        tool_ids.push(t["id"].clone());
    }
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"# Prices\n\nA drain cleaning costs 120 dollars.\n\n# Hours\n\nWe are open on Saturdays until noon.".to_vec()).file_name("prices.md").mime_str("text/markdown").expect("mime"));
    let file: Value = http
        .post(format!("{base}/v1/businesses/{biz}/files"))
        .bearer_auth(&api.token)
        .multipart(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let file_id = file["id"].as_str().expect("id").to_owned();
    for _ in 0..100 {
        if api
            .send(
                Method::GET,
                &format!("/v1/businesses/{biz}/files/{file_id}"),
                None,
            )
            .await
            .1["status"]
            == "ready"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, agent) = api
        .send(
            Method::POST,
            &format!("/v1/businesses/{biz}/voice-agents"),
            Some(json!({
                "name": "Front desk", "type": "OUTBOUND",
                "conversationFlow": "Help the customer book, find or cancel a visit, answer questions from the documents, transfer to the office when asked.",
                "firstMessage": "Hi, this is Acme Plumbing.",
                "toolIds": tool_ids, "knowledgeBaseDocumentIds": [file_id], "collectFields": ["name", "visitDay"]
            })),
        )
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

    // call 1: book a slot (any hour is open: the first one is in the next hour), ask the
    // knowledge base and the function tool, then the agent ends the call
    let slot = {
        let cfg = vox_tools::calendar::AppointmentConfig::from_json(Some(&json!({"advanceNoticeMinutes": 0, "timezone": "America/Chicago", "hoursJson": {
            "monday": [{"openTime": "00:00", "closeTime": "24:00"}], "tuesday": [{"openTime": "00:00", "closeTime": "24:00"}], "wednesday": [{"openTime": "00:00", "closeTime": "24:00"}],
            "thursday": [{"openTime": "00:00", "closeTime": "24:00"}], "friday": [{"openTime": "00:00", "closeTime": "24:00"}], "saturday": [{"openTime": "00:00", "closeTime": "24:00"}], "sunday": [{"openTime": "00:00", "closeTime": "24:00"}]}})))
        .expect("config");
        // a slot two days out, clear of the edge of "now" (searching two days: after the
        // day's last slot start in Chicago, the first is tomorrow's midnight)
        let now = vox_store::now_ms() + 2 * 86_400_000;
        cfg.local(cfg.open_slots(&[], now, 2, 1)[0])
    };
    fake_ai.set_extraction(json!({"name": "Dana", "visitDay": "Tuesday", "unasked": "x"}));
    fake_ai.push_transcript("I would like to book a visit, my name is Dana.");
    fake_ai.push_transcript("How much is a drain cleaning, and where is my order 42?");
    fake_ai.push_chat(ChatReply::tool(
        "scheduleAppointment",
        json!({"start": slot, "name": "Dana Whitfield", "address": "12 Oak Street"}),
    ));
    fake_ai.push_chat(ChatReply::text("You are booked, Dana."));
    fake_ai.push_chat(ChatReply::tool(
        "knowledgeBaseQuery",
        json!({"query": "price of a drain cleaning"}),
    ));
    fake_ai.push_chat(ChatReply::tool("orderStatus", json!({"order": "42"})));
    fake_ai.push_chat(ChatReply {
        text: "A drain cleaning is 120 dollars, and order 42 ships tomorrow morning. Goodbye!"
            .into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let call1 = place(&api, &biz, &agent_id).await;
    let results = tool_results(&fake_ai);
    let booked = results
        .iter()
        .find(|r| r.starts_with("Booked:"))
        .unwrap_or_else(|| panic!("a booking result in {results:?}"));
    let appt_id = booked
        .split("appointment id ")
        .nth(1)
        .and_then(|s| s.strip_suffix(")."))
        .expect("appointment id")
        .to_owned();
    assert!(
        results
            .iter()
            .any(|r| r.contains("[prices.md]") && r.contains("120 dollars")),
        "the knowledge base answered from the file: {results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r == "Order 42 ships tomorrow morning."),
        "the function's reply went to the model: {results:?}"
    );
    let transcript = call1["transcript"].as_str().expect("transcript");
    assert!(
        transcript.contains(
            "Agent: A drain cleaning is 120 dollars, and order 42 ships tomorrow morning."
        ),
        "spoken: {transcript}"
    );
    assert_eq!(call1["endedReason"], "assistant-ended-call", "{call1}");
    // the function tool got the call's context and the model's arguments
    let fn_call = seen
        .lock()
        .expect("seen")
        .iter()
        .find(|(p, _, _)| p == "/order-status")
        .map(|(_, _, b)| serde_json::from_str::<Value>(b).expect("json"))
        .expect("function called");
    assert_eq!(
        (
            fn_call["tool"].as_str(),
            fn_call["arguments"]["order"].as_str(),
            fn_call["call"]["id"].as_str()
        ),
        (Some("orderStatus"), Some("42"), call1["id"].as_str())
    );
    // endCall hung up through the carrier
    let legs = twilio.calls();
    let leg1 = legs
        .iter()
        .find(|c| {
            c.updates
                .iter()
                .any(|u| u.get("Status").map(String::as_str) == Some("completed"))
        })
        .expect("a hang-up through Twilio's call control");
    assert_eq!(leg1.to, "+15125550177");
    // the record's artifacts
    assert!(
        call1["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{call1}"
    );
    assert_eq!(
        call1["structuredData"],
        json!({"name": "Dana", "visitDay": "Tuesday"}),
        "only the agent's collectFields"
    );
    let messages = call1["messages"].as_array().expect("messages");
    assert!(
        messages.len() >= 4
            && messages.iter().any(|m| m["role"] == "user")
            && messages.iter().any(|m| m["role"] == "agent"),
        "{messages:?}"
    );
    let times: Vec<u64> = messages
        .iter()
        .map(|m| m["atMs"].as_u64().expect("atMs"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]) && *times.last().expect("last") > 1000,
        "timestamps from the call's start: {times:?}"
    );
    let url = call1["recordingUrl"].as_str().expect("recordingUrl");
    assert!(
        url.ends_with(&format!(
            "/v1/businesses/{biz}/calls/{}/recording",
            call1["id"].as_str().expect("id")
        )),
        "{url}"
    );
    let wav = http
        .get(format!(
            "{base}/v1/businesses/{biz}/calls/{}/recording",
            call1["id"].as_str().expect("id")
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("recording");
    assert_eq!(wav.status(), 200);
    let bytes = wav.bytes().await.expect("bytes");
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes.to_vec())).expect("a WAV");
    assert_eq!(
        (reader.spec().channels, reader.spec().sample_rate),
        (2, 16_000)
    );
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(left.len() > 16_000 * 3, "seconds of audio: {}", left.len());
    assert!(
        rms(&left) > 100.0 && rms(&right) > 100.0,
        "both channels audible: caller {:.0}, agent {:.0}",
        rms(&left),
        rms(&right)
    );
    let (status, _) = api
        .send(
            Method::GET,
            &format!("/v1/businesses/{biz}/calls/call_nope/recording"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // call 2: find the booking by a misspelt name, cancel it
    fake_ai.push_transcript("Can you find my appointment? I am Donna Whitfeld.");
    fake_ai.push_chat(ChatReply::tool(
        "searchAppointments",
        json!({"query": "Donna Whitfeld"}),
    ));
    fake_ai.push_chat(ChatReply::tool(
        "cancelAppointment",
        json!({"appointmentId": appt_id}),
    ));
    fake_ai.push_chat(ChatReply {
        text: "It is cancelled. Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let call2 = place(&api, &biz, &agent_id).await;
    let results = tool_results(&fake_ai);
    assert!(
        results.iter().any(|r| r.starts_with("Found:")
            && r.contains(&appt_id)
            && r.contains("Dana Whitfield")),
        "found by a fuzzy name: {results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| *r == format!("Cancelled appointment {appt_id}.")),
        "{results:?}"
    );
    assert_eq!(call2["endedReason"], "assistant-ended-call", "{call2}");

    // call 3: the caller wants the office: a cold transfer through Twilio's call control
    fake_ai.push_transcript("Please put me through to the office.");
    fake_ai.push_chat(ChatReply::tool(
        "transferCall",
        json!({"destination": "Office", "summary": "Dana wants to talk about a visit."}),
    ));
    let call3 = place(&api, &biz, &agent_id).await;
    assert_eq!(
        call3["endedReason"], "assistant-transferred-call",
        "{call3}"
    );
    assert!(
        call3["transcript"]
            .as_str()
            .unwrap_or_default()
            .contains("Let me put you through."),
        "the tool's message was spoken first: {call3}"
    );
    let legs = twilio.calls();
    let dial = legs
        .iter()
        .flat_map(|c| c.updates.iter())
        .filter_map(|u| u.get("Twiml"))
        .find(|t| t.contains("<Dial"))
        .expect("the live call redirected to a <Dial>");
    assert!(
        dial.contains("<Number>+15125550144</Number>")
            && dial.contains("callerId=\"+15125550122\""),
        "{dial}"
    );

    // call 4: a warm transfer to Billing: the caller waits in a conference with the on-hold
    // audio, Billing is called from the agent's number, briefed, and joins the same room
    fake_ai.push_transcript("I have a question about my invoice.");
    fake_ai.push_chat(ChatReply::tool(
        "transferCall",
        json!({"destination": "Billing", "summary": "Dana has a question about invoice 7."}),
    ));
    let call4 = place(&api, &biz, &agent_id).await;
    assert_eq!(
        call4["endedReason"], "assistant-transferred-call",
        "{call4}"
    );
    let room = format!(">vox-{}</Conference>", call4["id"].as_str().expect("id"));
    let legs = twilio.finished(5, Duration::from_secs(10)).await;
    let caller = legs
        .iter()
        .find(|c| {
            c.updates
                .iter()
                .any(|u| u.get("Twiml").is_some_and(|t| t.contains(&room)))
        })
        .expect("the caller's leg moved into the conference");
    let hold_twiml = caller.updates[0]["Twiml"].clone();
    assert!(
        hold_twiml.contains("startConferenceOnEnter=\"false\"")
            && hold_twiml
                .contains("/twilio/hold?audio=https%3A%2F%2Fexample.com%2Faudio%2Fon-hold.mp3"),
        "{hold_twiml}"
    );
    let billing = legs
        .iter()
        .find(|c| c.to == "+15125550155")
        .expect("Billing called");
    assert_eq!(
        billing.from, "+15125550122",
        "called from the agent's number"
    );
    assert!(
        billing.twiml.contains("<Say>")
            && billing
                .twiml
                .contains("Dana has a question about invoice 7.")
            && billing.twiml.contains(&room)
            && billing.twiml.contains("startConferenceOnEnter=\"true\""),
        "briefed, then into the room: {}",
        billing.twiml
    );
    assert_eq!(
        (billing.final_status.as_deref(), billing.status_callback),
        (Some("completed"), Some(204))
    );
    for _ in 0..50 {
        if !twilio
            .calls()
            .iter()
            .find(|c| c.sid == caller.sid)
            .expect("leg")
            .hold
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hold = twilio
        .calls()
        .into_iter()
        .find(|c| c.sid == caller.sid)
        .expect("leg")
        .hold;
    assert_eq!(hold.len(), 1, "the wait URL was fetched: {hold:?}");
    assert_eq!(hold[0].1, 200, "signed GET accepted: {hold:?}");
    assert!(
        hold[0]
            .2
            .contains("<Play loop=\"0\">https://example.com/audio/on-hold.mp3</Play>"),
        "{hold:?}"
    );
    assert_eq!(
        caller.updates.len(),
        1,
        "nothing after the conference: {:?}",
        caller.updates
    );

    // call 5: a warm transfer to a Manager who does not answer: the waiting caller is told
    // and hung up
    twilio.unanswered("+15125550166");
    fake_ai.push_transcript("Let me talk to a manager.");
    fake_ai.push_chat(ChatReply::tool(
        "transferCall",
        json!({"destination": "manager", "summary": "Dana wants a manager."}),
    ));
    let call5 = place(&api, &biz, &agent_id).await;
    let room = format!(">vox-{}</Conference>", call5["id"].as_str().expect("id"));
    let mut apology = None;
    for _ in 0..100 {
        let legs = twilio.calls();
        let caller = legs
            .iter()
            .find(|c| {
                c.updates
                    .iter()
                    .any(|u| u.get("Twiml").is_some_and(|t| t.contains(&room)))
            })
            .expect("the caller put on hold");
        if let Some(u) = caller.updates.get(1) {
            apology = u.get("Twiml").cloned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let apology = apology.expect("the caller's leg updated after no-answer");
    assert!(
        apology.contains("nobody could take your call") && apology.contains("<Hangup/>"),
        "{apology}"
    );
    // the destination's leg reports its end on its own callback, which may come a moment
    // after the caller's apology
    let mut manager = None;
    for _ in 0..100 {
        manager = twilio.calls().into_iter().find(|c| c.to == "+15125550166");
        if manager
            .as_ref()
            .is_some_and(|m| m.status_callback.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let manager = manager.expect("Manager called");
    assert_eq!(
        (manager.final_status.as_deref(), manager.status_callback),
        (Some("no-answer"), Some(204))
    );

    // the webhooks: signed, in the business's outbox order, retried until delivered
    let mut hooks = Vec::new();
    for _ in 0..100 {
        hooks = seen
            .lock()
            .expect("seen")
            .iter()
            .filter(|(p, _, _)| p == "/hooks")
            .cloned()
            .collect::<Vec<_>>();
        if hooks
            .iter()
            .filter(|(_, h, _)| h["x-vox-event"] == "call.ended")
            .count()
            >= 5
            && hooks
                .iter()
                .any(|(_, h, _)| h["x-vox-event"] == "call.transfer_failed")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kinds: Vec<String> = hooks
        .iter()
        .map(|(_, h, _)| h["x-vox-event"].to_str().expect("event").to_owned())
        .collect();
    for k in [
        "call.started",
        "call.tool_called",
        "call.transferred",
        "call.transfer_failed",
        "call.ended",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    for (_, h, body) in &hooks {
        let sig = h["x-vox-signature"].to_str().expect("signature");
        let t: i64 = sig
            .strip_prefix("t=")
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok())
            .expect("t=");
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{t}.{body}").as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sig, format!("t={t},v1={hex}"), "signature of {body}");
    }
    let ended: Value = serde_json::from_str(
        &hooks
            .iter()
            .find(|(_, h, _)| h["x-vox-event"] == "call.ended")
            .expect("ended")
            .2,
    )
    .expect("json");
    assert!(
        ended["data"]["callId"].is_string() && ended["data"]["summary"].is_string(),
        "{ended}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
