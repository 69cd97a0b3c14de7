//! Seed 000 end to end over loopback: an agent made through the Voice AI API and read through
//! seed 002's, deployed on a pool number by `inboundNumber`, with four actions (data kept
//! during the call, a text message, a workflow trigger, data extracted after it); the fake Twilio rings it and
//! plays a caller, the fake OpenAI decides which actions to run. Then the call log through
//! seed 000: the actions that ran, the data, the transcript; and the signed
//! `workflow.triggered` webhook.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use reqwest::Method;
use serde_json::{Value, json};
use vox_testkit::{
    CallerScript, ChatReply, FakeOpenAi, FakeTiming, FakeTwilio, repo_root, serve_with_fakes,
};

const BIN: &str = env!("CARGO_BIN_EXE_vox");
const NUMBER: &str = "+15125550122";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_made_through_000_takes_a_call_and_logs_its_actions() {
    let fake_ai = FakeOpenAi::start(FakeTiming::default()).await;
    let audio = repo_root().join("tests/data/audio");
    let twilio = FakeTwilio::start(CallerScript::saying([
        audio.join("book-1.wav"),
        audio.join("kb-1.wav"),
    ]))
    .await;
    // the developer's webhook receiver
    let hooks: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = hooks.clone();
    let app = axum::Router::new().route(
        "/hooks",
        post(move |body: String| async move {
            seen.lock()
                .expect("hooks")
                .push(serde_json::from_str(&body).unwrap_or(Value::Null));
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dev = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let served = serve_with_fakes(
        std::path::Path::new(BIN),
        "e2e-voice-ai",
        &twilio,
        &fake_ai,
        NUMBER,
        "[tools]\nallow_private_networks = true\n[api]\nwebhook_retry_secs = 1\n",
        &[("VOX__VAD__STOP_MS", "400")],
    )
    .await;
    let (api, biz) = (&served.api, served.business_id.as_str());
    let (status, hook) = api
        .send(
            Method::PUT,
            &format!("/v1/businesses/{biz}/webhook"),
            Some(json!({"url": format!("{dev}/hooks")})),
        )
        .await;
    assert_eq!(status, 200, "{hook}");

    // the agent, through seed 000, answering on the pool's number
    let (status, agent) = api
        .send_versioned(
            Method::POST,
            "/voice-ai/agents",
            Some(json!({"locationId": biz, "agentName": "Front Desk", "inboundNumber": NUMBER,
                "agentPrompt": "Take the caller's e-mail address and start a quote when they ask for one.",
                "welcomeMessage": "Hi, this is Acme Plumbing.", "maxCallDuration": 300,
                "callEndWorkflowIds": ["wf_follow_up"]})),
        )
        .await;
    assert_eq!(status, 201, "{agent}");
    let agent_id = agent["id"].as_str().expect("id").to_owned();
    assert_eq!(agent["inboundNumber"], NUMBER);
    // the same agent through seed 002
    let (status, same) = api
        .send(
            Method::GET,
            &format!("/v1/businesses/{biz}/voice-agents/{agent_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(
        (
            same["name"].as_str(),
            same["phoneNumber"].as_str(),
            same["onDuty"].as_bool()
        ),
        (Some("Front Desk"), Some(NUMBER), Some(true))
    );
    for (ty, name, params) in [
        (
            "IN_CALL_DATA_EXTRACTION",
            "Caller email",
            json!({"contactFieldId": "field_email", "description": "e-mail address", "examples": ["dana@example.com"]}),
        ),
        (
            "WORKFLOW_TRIGGER",
            "Start quote",
            json!({"triggerPrompt": "When the caller wants a quote", "triggerMessage": "I'll start that now.", "workflowId": "wf_42"}),
        ),
        (
            "DATA_EXTRACTION",
            "Budget",
            json!({"contactFieldId": "field_budget", "description": "the caller's budget", "examples": ["500 dollars"]}),
        ),
        (
            "SMS",
            "Text the address",
            json!({"triggerPrompt": "When the caller asks where we are", "triggerMessage": "I'll text you our address.", "messageBody": "Acme Plumbing, 12 Oak Street."}),
        ),
    ] {
        let (status, a) = api
            .send_versioned(
                Method::POST,
                "/voice-ai/actions",
                Some(json!({"agentId": agent_id, "locationId": biz, "actionType": ty, "name": name, "actionParameters": params})),
            )
            .await;
        assert_eq!(status, 201, "{ty}: {a}");
    }

    // the call: the caller gives an e-mail address, then asks for a quote
    fake_ai.set_extraction(json!({"field_budget": "500 dollars"}));
    fake_ai.push_transcript("My e-mail is dana at example dot com.");
    fake_ai.push_transcript("Can you send me a quote? About 500 dollars.");
    fake_ai.push_chat(ChatReply::tool(
        "caller_email",
        json!({"value": "dana@example.com"}),
    ));
    fake_ai.push_chat(ChatReply::text("Thanks, I have your e-mail."));
    fake_ai.push_chat(ChatReply::tool("text_the_address", json!({})));
    fake_ai.push_chat(ChatReply::tool(
        "start_quote",
        json!({"details": "a quote around 500 dollars"}),
    ));
    fake_ai.push_chat(ChatReply {
        text: "Your quote is on its way. Goodbye!".into(),
        tool_calls: vec![("endCall".into(), json!({}))],
    });
    let (status, fake_call) = twilio.ring(&served.base, "+14155550123", NUMBER).await;
    assert_eq!(status, 200);
    assert!(fake_call.finished, "{fake_call:?}");
    let (_, calls) = api
        .send(Method::GET, &format!("/v1/businesses/{biz}/calls"), None)
        .await;
    let call_id = calls["items"][0]["id"].as_str().expect("a call").to_owned();
    let record = api.ended_call(biz, &call_id, true).await;
    assert_eq!(record["agentId"], agent_id.as_str());

    // the call log through seed 000
    let (status, logs) = api
        .send_versioned(
            Method::GET,
            &format!("/voice-ai/dashboard/call-logs?locationId={biz}&agentId={agent_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(logs["total"], 1, "{logs}");
    let log = &logs["callLogs"][0];
    assert_eq!(log["id"], call_id.as_str());
    assert_eq!(log["fromNumber"], "+14155550123");
    assert_eq!(log["trialCall"], false);
    let ran: Vec<&str> = log["executedCallActions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["actionType"].as_str())
        .collect();
    assert_eq!(
        ran,
        [
            "IN_CALL_DATA_EXTRACTION",
            "SMS",
            "WORKFLOW_TRIGGER",
            "DATA_EXTRACTION"
        ],
        "{log}"
    );
    // the text message went out through the carrier, from the agent's number to the caller
    assert_eq!(
        twilio.messages(),
        [(
            NUMBER.to_owned(),
            "+14155550123".to_owned(),
            "Acme Plumbing, 12 Oak Street.".to_owned()
        )]
    );
    assert_eq!(
        log["extractedData"],
        json!({"field_email": "dana@example.com", "field_budget": "500 dollars"}),
        "kept during the call, and extracted after it"
    );
    assert!(
        log["transcript"]
            .as_str()
            .is_some_and(|t| t.starts_with("bot: Hi, this is Acme Plumbing.")
                && t.contains("human: My e-mail")),
        "{log}"
    );
    // filtered by an action type it ran, and by one it did not
    for (ty, n) in [("WORKFLOW_TRIGGER", 1), ("CALL_TRANSFER", 0)] {
        let (_, page) = api
            .send_versioned(
                Method::GET,
                &format!("/voice-ai/dashboard/call-logs?locationId={biz}&actionType={ty}"),
                None,
            )
            .await;
        assert_eq!(page["total"], n, "{ty}: {page}");
    }
    // the signed workflow events reached the developer: the action's, during the call, and
    // the agent's callEndWorkflowIds, once the call was over
    let workflow = |id: &str| {
        hooks
            .lock()
            .expect("hooks")
            .iter()
            .find(|h| h["type"] == "workflow.triggered" && h["data"]["workflowId"] == id)
            .cloned()
    };
    for _ in 0..100 {
        if workflow("wf_42").is_some() && workflow("wf_follow_up").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let during = workflow("wf_42").expect("the action's workflow.triggered");
    assert_eq!(during["data"]["callId"], call_id.as_str());
    assert_eq!(during["data"]["customerNumber"], "+14155550123");
    let after = workflow("wf_follow_up").expect("the call's end workflow.triggered");
    assert_eq!(
        (
            after["data"]["trigger"].as_str(),
            after["data"]["callId"].as_str()
        ),
        (Some("call.ended"), Some(call_id.as_str()))
    );
    assert_eq!(after["data"]["endedReason"], "assistant-ended-call");
}
