//! Seed 003's agent calls end to end over loopback: `vox serve` places them through the fake
//! Twilio, the callee speaks, the fake model answers and extracts. An ad hoc call's agent is
//! made from its objectives and the call object then says which were met, with its
//! transcription and recording; a stored agent's call gets its context variables into the
//! prompt the model is sent. A contact who calls is known to the agent, and keeps what the
//! call's extraction found in their custom fields.

use reqwest::Method;
use serde_json::{Value, json};
use vox_testkit::{
    CallerScript, ChatReply, FakeOpenAi, FakeTiming, FakeTwilio, repo_root, serve_with_fakes,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const NUMBER: &str = "+15125550122";

/// Polls seed 003's call `n` until `done` says so (a minute at most).
async fn until(api: &vox_testkit::ApiClient, n: i64, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        last = api
            .send(Method::GET, &format!("/api/v1/calls/{n}"), None)
            .await
            .1;
        if done(&last) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ad_hoc_call_says_which_objectives_were_met() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([audio.join("bye-1.wav")])).await;
    fake_ai.push_transcript("Yes, Tuesday works for me.");
    fake_ai.push_chat(ChatReply {
        text: "Thank you Pedro, see you on Tuesday. Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    fake_ai.set_extraction(json!({"objective_1": true, "objective_2": "false"}));
    let served = serve_with_fakes(
        std::path::Path::new(BIN),
        "e2e-crm-ad-hoc",
        &twilio,
        &fake_ai,
        NUMBER,
        "",
        &[("VOX__VAD__STOP_MS", "400")],
    )
    .await;
    let api = &served.api;
    let (status, c) = api
        .send(
            Method::POST,
            "/api/v2/calls",
            Some(json!({"toPhoneNumber": "+15552345678",
                "objectives": ["Confirm the visit on Tuesday", "Get the gate code"],
                "contactInfo": {"firstName": "Pedro"}, "personality": {"name": "Ana"},
                "providerConfig": {"voice": {"provider": "11labs", "voiceId": "x"}}})),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    let n = c["id"].as_i64().expect("a numeric id");
    assert_eq!(
        (c["from"].as_str(), c["status"].as_str()),
        (Some(NUMBER), Some("queued"))
    );
    let done = until(api, n, |c| {
        c["status"] == "completed" && !c["metadata"]["results"][0]["met"].is_null()
    })
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["metadata"]["results"],
        json!([{"objective": "Confirm the visit on Tuesday", "met": true},
               {"objective": "Get the gate code", "met": false}]),
        "{done}"
    );
    assert_eq!(done["metadata"]["ignored"], json!(["providerConfig.voice"]));
    assert!(done["duration"].as_f64().is_some_and(|d| d > 0.0), "{done}");
    let legs = twilio.finished(1, std::time::Duration::from_secs(5)).await;
    assert_eq!(legs[0].to, "+15552345678");
    let (status, text) = api
        .send(
            Method::GET,
            &format!("/api/v1/calls/{n}/transcription"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let text = text["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("Hello Pedro, this is Ana") && text.contains("Tuesday works"),
        "{text}"
    );
    let (status, rec) = api
        .send(Method::GET, &format!("/api/v1/calls/{n}/recording"), None)
        .await;
    assert_eq!(status, 200, "{rec}");
    let wav = reqwest::get(rec["url"].as_str().expect("url"))
        .await
        .expect("download");
    assert_eq!(wav.status(), 200, "the link opens without a token");
    assert!(wav.bytes().await.expect("body").starts_with(b"RIFF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_agents_call_is_briefed_with_its_context_variables() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([audio.join("bye-1.wav")])).await;
    fake_ai.push_transcript("Thanks, bye.");
    fake_ai.push_chat(ChatReply {
        text: "Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let served = serve_with_fakes(
        std::path::Path::new(BIN),
        "e2e-crm-by-agent",
        &twilio,
        &fake_ai,
        NUMBER,
        "",
        &[("VOX__VAD__STOP_MS", "400")],
    )
    .await;
    let (api, biz) = (&served.api, served.business_id.as_str());
    let id = api
        .deployed_agent(
            biz,
            json!({"name": "Reminder", "type": "OUTBOUND",
                "conversationFlow": "Remind {{customerFirstName}} of the visit on {{day}}.",
                "firstMessage": "Hi {{customerFirstName}}, this is Acme."}),
        )
        .await;
    let (status, c) = api
        .send(
            Method::POST,
            "/api/v1/calls/agent",
            Some(json!({"voiceAgentId": id, "to": "+15552345678",
                "contextVariables": {"customerFirstName": "Pedro", "day": "Tuesday"}})),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    let n = c["id"].as_i64().expect("id");
    let done = until(api, n, |c| c["status"] == "completed").await;
    assert_eq!(done["status"], "completed", "{done}");
    // what the model was told
    let asked = fake_ai.requests("/v1/chat/completions");
    let system = asked
        .iter()
        .filter_map(|r| r["messages"][0]["content"].as_str())
        .find(|s| s.contains("Remind"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        system.contains("Remind Pedro of the visit on Tuesday.")
            && system.contains("About this call")
            && system.contains("customerFirstName: Pedro"),
        "{system}"
    );
    let (_, text) = api
        .send(
            Method::GET,
            &format!("/api/v1/calls/{n}/transcription"),
            None,
        )
        .await;
    assert!(
        text["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Hi Pedro, this is Acme."),
        "the greeting filled: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_who_calls_is_known_and_keeps_what_was_extracted() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([audio.join("bye-1.wav")])).await;
    fake_ai.push_transcript("My budget is about 500 dollars. Bye.");
    fake_ai.push_chat(ChatReply {
        text: "Thanks Dana, goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    fake_ai.set_extraction(json!({"budget": "500"}));
    let served = serve_with_fakes(
        std::path::Path::new(BIN),
        "e2e-crm-contact",
        &twilio,
        &fake_ai,
        NUMBER,
        "",
        &[("VOX__VAD__STOP_MS", "400")],
    )
    .await;
    let (api, biz) = (&served.api, served.business_id.as_str());
    for def in [
        json!({"entityType": "CONTACT", "fieldKey": "budget", "fieldType": "NUMBER"}),
        json!({"entityType": "CONTACT", "fieldKey": "tier", "fieldType": "STRING"}),
    ] {
        let (status, d) = api
            .send(Method::POST, "/api/v1/custom-fields/definitions", Some(def))
            .await;
        assert_eq!(status, 200, "{d}");
    }
    let (status, dana) = api
        .send(
            Method::POST,
            "/api/v1/contacts",
            Some(
                json!({"firstName": "Dana", "lastName": "Lee", "customFields": {"tier": "gold"},
                "addresses": [{"channelType": "PHONE", "address": "+14155550123"}]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{dana}");
    api.deployed_agent(biz, json!({"name": "Front desk", "type": "INBOUND", "conversationFlow": "Ask the caller's budget.",
                "collectFields": ["budget"]})).await;
    let (status, leg) = twilio.ring(&served.base, "+14155550123", NUMBER).await;
    assert_eq!(status, 200);
    assert!(leg.finished, "{leg:?}");
    // the agent was told who is calling
    let system = fake_ai
        .requests("/v1/chat/completions")
        .iter()
        .filter_map(|r| r["messages"][0]["content"].as_str().map(str::to_owned))
        .find(|s| s.contains("budget"))
        .unwrap_or_default();
    assert!(
        system.contains("contact of the business")
            && system.contains("Name: Dana Lee")
            && system.contains("tier: gold"),
        "{system}"
    );
    // after the call the contact has the extracted budget, as a number
    let one = format!("/api/v1/contacts/{}", dana["id"]);
    let mut now = Value::Null;
    for _ in 0..300 {
        now = api.send(Method::GET, &one, None).await.1;
        if !now["customFields"]["budget"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        now["customFields"],
        json!({"budget": 500, "tier": "gold"}),
        "{now}"
    );
}
