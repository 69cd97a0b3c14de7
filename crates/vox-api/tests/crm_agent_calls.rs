//! Seed 003's StartAgentCall through `Router::oneshot` on a real SQLite database with a fake
//! dialer: a stored agent's call carrying its context variables, and an ad hoc call whose
//! agent is made from the objectives (each one a post-call extraction field) and says what of
//! a providerConfig it ignores; every rule answered 400 naming its field.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;

async fn deployed(f: &Fixture, kind: &str) -> (String, String) {
    let t = token(f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let (status, a) = call(
        &f.app,
        partner("POST", &base, &t, &json!({"name": "Reminder", "type": kind,
            "conversationFlow": "Remind {{customerFirstName}} of the visit.", "firstMessage": "Hi {{customerFirstName}}!"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().expect("id").to_owned();
    let (status, d) = call(
        &f.app,
        partner("POST", &format!("{base}/{id}/deploy"), &t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    (id, d["phoneNumber"].as_str().expect("number").to_owned())
}

#[tokio::test]
async fn a_stored_agent_calls_with_its_context_variables() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (agent, number) = deployed(&f, "OUTBOUND").await;
    let (status, c) = call(
        &f.app,
        keyed("POST", "/api/v1/calls/agent", &key, Some(&json!({"voiceAgentId": agent, "to": "+15552345678",
            "contextVariables": {"customerFirstName": "Pedro", "customerLastName": "Gomez"}, "customData": {"customKey": "customValue"}}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(
        (
            c["from"].as_str(),
            c["to"].as_str(),
            c["direction"].as_str(),
            c["status"].as_str()
        ),
        (
            Some(number.as_str()),
            Some("+15552345678"),
            Some("outgoing"),
            Some("queued")
        )
    );
    assert_eq!(c["customData"], json!({"customKey": "customValue"}));
    let placed = f.dialer.placed.lock().expect("placed").clone();
    assert_eq!(
        (
            placed.len(),
            placed[0].agent_id.as_str(),
            placed[0].to.as_str()
        ),
        (1, agent.as_str(), "+15552345678")
    );
    let record = f
        .store
        .call_by_id(&placed[0].call_id)
        .await
        .expect("read")
        .expect("call");
    assert_eq!(
        record.lead_context.expect("context")["contextVariables"]["customerFirstName"],
        "Pedro"
    );
    // the same call by its number
    let (status, again) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/calls/{}", c["id"]), &key, None),
    )
    .await;
    assert_eq!((status, &again), (StatusCode::OK, &c));
}

#[tokio::test]
async fn an_ad_hoc_call_has_an_agent_made_from_its_objectives() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (status, c) = call(
        &f.app,
        keyed("POST", "/api/v2/calls", &key, Some(&json!({"toPhoneNumber": "+15552345678",
            "objectives": ["Confirm the visit on Tuesday", "Ask for the gate code"],
            "constraints": ["Never discuss prices"], "taskSteps": ["Greet", "Confirm", "Ask"],
            "personality": {"name": "Ana", "communicationStyle": "professional", "customTraits": "Warm and brief."},
            "contactInfo": {"firstName": "Pedro", "lastName": "Gomez", "company": "Gomez SpA", "additionalInfo": {"plan": "gold"}},
            "knowledgeBase": "Visits take two hours.", "localization": "US", "maxDurationSeconds": 300, "silenceTimeoutSeconds": 10,
            "customData": {"ticket": "T-1"}, "userId": 4, "provider": "vapi",
            "providerConfig": {"model": {"model": {"provider": "openai", "model": "gpt-4o"}}, "voice": {"provider": "11labs", "voiceId": "x"}}}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(
        (c["to"].as_str(), c["status"].as_str(), c["userId"].as_i64()),
        (Some("+15552345678"), Some("queued"), Some(4))
    );
    assert_eq!(
        c["metadata"]["ignored"],
        json!(["providerConfig.model", "providerConfig.voice"]),
        "{c}"
    );
    assert_eq!(c["metadata"]["objectives"][1], "Ask for the gate code");
    let placed = f.dialer.placed.lock().expect("placed").clone();
    assert_eq!(placed.len(), 1);
    assert_eq!(c["from"].as_str(), Some(placed[0].from.as_str()));
    let agent = f
        .store
        .agent(&f.biz, &placed[0].agent_id)
        .await
        .expect("read")
        .expect("the made agent");
    let flow = agent.document["conversationFlow"].as_str().expect("flow");
    for part in [
        "You are Ana, calling on behalf of Acme Plumbing. Your communication style is professional. Warm and brief.",
        "1. Confirm the visit on Tuesday\n2. Ask for the gate code",
        "1. Never discuss prices",
        "- Name: Pedro Gomez\n- Company: Gomez SpA\n- plan: gold",
        "Visits take two hours.",
    ] {
        assert!(flow.contains(part), "{part:?} in {flow}");
    }
    assert_eq!(
        agent.document["firstMessage"],
        "Hello Pedro, this is Ana calling from Acme Plumbing."
    );
    assert_eq!(
        (
            agent.document["maxCallDuration"].as_i64(),
            agent.document["reminderAfterIdleTimeSeconds"].as_i64()
        ),
        (Some(300), Some(10))
    );
    let ids = agent.document["toolIds"].as_array().expect("tools").clone();
    let mut tools = Vec::new();
    for id in &ids {
        tools.push(
            f.store
                .tool(&f.biz, id.as_str().expect("id"))
                .await
                .expect("read")
                .expect("tool"),
        );
    }
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&"endCall"),
        "the agent can end its call: {names:?}"
    );
    let objectives: Vec<_> = tools
        .iter()
        .filter(|t| t.name == "postCallExtraction")
        .collect();
    assert_eq!(objectives.len(), 2);
    assert_eq!(objectives[1].config_override["key"], "objective_2");
    assert!(
        objectives[1].config_override["description"]
            .as_str()
            .unwrap_or_default()
            .ends_with("Ask for the gate code")
    );
}

#[tokio::test]
async fn every_agent_call_rule_is_enforced() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (agent, _) = deployed(&f, "OUTBOUND").await;
    let (inbound, _) = deployed(&f, "INBOUND").await;
    let ok = json!({"toPhoneNumber": "+15552345678", "objectives": ["Confirm the visit"]});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().expect("object").remove(k);
        b
    };
    let ad_hoc: Vec<(Value, &str, &str)> = vec![
        (
            without("toPhoneNumber"),
            "toPhoneNumber",
            "toPhoneNumber is required",
        ),
        (
            with("toPhoneNumber", json!("+19005550100")),
            "toPhoneNumber",
            "a premium-rate number",
        ),
        (
            without("objectives"),
            "objectives",
            "objectives are required",
        ),
        (with("objectives", json!([])), "objectives", "no objective"),
        (
            with("objectives", json!(vec!["x"; 11])),
            "objectives",
            "too many objectives",
        ),
        (
            with("objectives", json!([""])),
            "objectives[0]",
            "a blank objective",
        ),
        (
            with("localization", json!("CL")),
            "localization",
            "Spanish on an English-only server",
        ),
        (
            with("localization", json!("FR")),
            "localization",
            "a localization the seed lacks",
        ),
        (
            with("maxDurationSeconds", json!(60)),
            "maxDurationSeconds",
            "under 180 s",
        ),
        (
            with("silenceTimeoutSeconds", json!(30)),
            "silenceTimeoutSeconds",
            "over 20 s",
        ),
        (
            with("fromPhoneNumber", json!("+12125550111")),
            "fromPhoneNumber",
            "a number not the business's",
        ),
        (
            with("provider", json!("retell")),
            "provider",
            "a provider the seed lacks",
        ),
        (
            with("providerConfig", json!({"tools": []})),
            "providerConfig.tools",
            "an unknown providerConfig field",
        ),
        (
            with("personality", json!({"mood": "happy"})),
            "personality.mood",
            "an unknown personality field",
        ),
        (
            with("contactInfo", json!({"additionalInfo": {"age": 40}})),
            "contactInfo.additionalInfo.age",
            "additional info that is no string",
        ),
        (
            with("knowledgeBase", json!("k".repeat(20_001))),
            "knowledgeBase",
            "too much knowledge",
        ),
        (
            with("userId", json!("me")),
            "userId",
            "a userId that is no number",
        ),
        (
            with("customData", json!([1])),
            "customData",
            "customData that is no object",
        ),
        (
            with("assistant", json!({})),
            "assistant",
            "an unknown field",
        ),
    ];
    for (body, field, what) in &ad_hoc {
        let (status, b) = call(&f.app, keyed("POST", "/api/v2/calls", &key, Some(body))).await;
        assert_bad(status, &b, field, what);
    }
    let by_agent: Vec<(Value, &str, &str)> = vec![
        (
            json!({"to": "+15552345678", "contextVariables": {}}),
            "voiceAgentId",
            "voiceAgentId is required",
        ),
        (
            json!({"voiceAgentId": 123, "to": "+15552345678", "contextVariables": {}}),
            "voiceAgentId",
            "a number is no Vox agent id",
        ),
        (
            json!({"voiceAgentId": "agent_missing", "to": "+15552345678", "contextVariables": {}}),
            "voiceAgentId",
            "an unknown agent",
        ),
        (
            json!({"voiceAgentId": inbound, "to": "+15552345678", "contextVariables": {}}),
            "voiceAgentId",
            "an INBOUND agent",
        ),
        (
            json!({"voiceAgentId": agent, "contextVariables": {}}),
            "to",
            "to is required",
        ),
        (
            json!({"voiceAgentId": agent, "to": "+15552345678"}),
            "contextVariables",
            "contextVariables are required",
        ),
        (
            json!({"voiceAgentId": agent, "to": "+15552345678", "contextVariables": {"a": {"b": 1}}}),
            "contextVariables.a",
            "a nested variable",
        ),
    ];
    for (body, field, what) in &by_agent {
        let (status, b) = call(
            &f.app,
            keyed("POST", "/api/v1/calls/agent", &key, Some(body)),
        )
        .await;
        assert_bad(status, &b, field, what);
    }
    assert!(
        f.dialer.placed.lock().expect("placed").is_empty(),
        "nothing was dialed"
    );
}

#[tokio::test]
async fn a_partner_api_call_for_a_lead_is_for_that_contact() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (agent, _) = deployed(&f, "OUTBOUND").await;
    let (_, contact) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/contacts",
            &key,
            Some(&json!({"firstName": "Pedro", "phone": "+15552345678"})),
        ),
    )
    .await;
    let lead = contact["id"].as_i64().expect("id").to_string();
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let dial = format!("/v1/businesses/{}/voice-agents/{agent}/call", f.biz);
    let (status, placed) = call(
        &f.app,
        partner(
            "POST",
            &dial,
            &t,
            &json!({"phoneNumber": "+15552345678", "leadId": lead}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{placed}");
    let record = f
        .store
        .call_by_id(placed["callId"].as_str().expect("callId"))
        .await
        .expect("read")
        .expect("call");
    assert_eq!(record.lead_id.as_deref(), Some(lead.as_str()));
    assert_eq!(
        record.lead_context.expect("context")["generatedFromLeadId"],
        lead.as_str()
    );
    // another business's contact, or no contact, is no lead
    for missing in ["999999", "lead-123"] {
        let (status, _) = call(
            &f.app,
            partner(
                "POST",
                &dial,
                &t,
                &json!({"phoneNumber": "+15552345678", "leadId": missing}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}
