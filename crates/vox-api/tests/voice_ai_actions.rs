//! Seed 000's actions through `Router::oneshot` on a real SQLite database: each action type
//! becomes the agent's tool (seed 002 lists it among the agent's tools), reads back as it was
//! written (secrets masked), follows PUT and DELETE, and every rule the seed states is
//! answered 422 naming its field.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;

struct Setup {
    f: Fixture,
    t: String,
    agent: String,
    file: String,
}

async fn setup() -> Setup {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (status, a) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "agentName": "Desk"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let file = f
        .store
        .create_file(&f.biz, "prices.txt", "text/plain", 20)
        .await
        .expect("file");
    f.store
        .file_ready(&f.biz, &file.id, &["A drain cleaning is $120.".to_owned()])
        .await
        .expect("ready");
    f.store
        .set_calendar(&f.biz, "clinic@group.calendar.google.com", None)
        .await
        .expect("calendar");
    Setup {
        agent: a["id"].as_str().expect("id").to_owned(),
        file: file.id,
        f,
        t,
    }
}

fn action(s: &Setup, action_type: &str, name: &str, params: Value) -> Value {
    json!({"agentId": s.agent, "locationId": s.f.biz, "actionType": action_type, "name": name, "actionParameters": params})
}

fn params(action_type: &str, s: &Setup) -> Value {
    match action_type {
        "CALL_TRANSFER" => {
            json!({"triggerPrompt": "When the caller asks for a manager", "transferToType": "number",
            "transferToValue": "+15552345678", "triggerMessage": "Let me get the manager.", "hearWhisperMessage": true})
        }
        "DATA_EXTRACTION" | "IN_CALL_DATA_EXTRACTION" => json!({"contactFieldId": "field_email",
            "description": "The caller's e-mail address", "examples": ["dana@example.com"]}),
        "WORKFLOW_TRIGGER" => {
            json!({"triggerPrompt": "When the caller wants a quote", "triggerMessage": "Starting that.", "workflowId": "wf_42"})
        }
        "APPOINTMENT_BOOKING" => {
            json!({"calendarId": "clinic@group.calendar.google.com", "daysOfOfferingDates": 3,
            "slotsPerDay": 2, "hoursBetweenSlots": 1})
        }
        "CUSTOM_ACTION" => {
            json!({"triggerPrompt": "When the caller gives an order number", "triggerMessage": "Checking.",
            "apiDetails": {"url": "https://api.example.com/orders", "method": "GET", "authenticationRequired": true,
                "authenticationValue": "sk-live-1234567890abcd",
                "headers": [{"key": "X-Shop", "value": "shop-secret-0000wxyz"}],
                "parameters": [{"name": "orderId", "description": "Order ID", "type": "string", "example": "ORD-1"}]},
            "selectedPaths": ["data.status"]})
        }
        "KNOWLEDGE_BASE" => {
            json!({"triggerPrompt": "When the caller asks about prices", "knowledgeBaseId": s.file})
        }
        "SMS" => {
            json!({"triggerPrompt": "When the caller wants the address", "triggerMessage": "I'll text it to you.",
            "messageBody": "Acme Plumbing, 12 Oak Street, Austin."})
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn every_action_type_becomes_a_tool_of_the_agent() {
    let s = setup().await;
    let (f, t) = (&s.f, &s.t);
    let mut made = Vec::new();
    for (ty, name) in [
        ("CALL_TRANSFER", "Transfer to Manager"),
        ("DATA_EXTRACTION", "Email after the call"),
        ("IN_CALL_DATA_EXTRACTION", "Email now"),
        ("WORKFLOW_TRIGGER", "Start quote"),
        ("APPOINTMENT_BOOKING", "Book a visit"),
        ("CUSTOM_ACTION", "Check order"),
        ("KNOWLEDGE_BASE", "Prices"),
        ("SMS", "Text the address"),
    ] {
        let (status, a) = call(
            &f.app,
            seed(
                "POST",
                "/voice-ai/actions",
                t,
                Some(&action(&s, ty, name, params(ty, &s))),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{ty}: {a}");
        assert_eq!(
            (a["actionType"].as_str(), a["name"].as_str()),
            (Some(ty), Some(name))
        );
        made.push(a);
    }
    // secrets never read back
    let custom = &made[5]["actionParameters"]["apiDetails"];
    assert_eq!(custom["authenticationValue"], "***abcd", "{custom}");
    assert_eq!(custom["headers"][0]["value"], "***wxyz");
    // the agent shows its actions, and seed 002 its tools
    let (_, agent) = call(
        &f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents/{}?locationId={}", s.agent, f.biz),
            t,
            None,
        ),
    )
    .await;
    let shown: Vec<&str> = agent["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(shown.len(), 8, "{agent}");
    let (_, p) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/voice-agents/{}", f.biz, s.agent),
            Some(t),
        ),
    )
    .await;
    let tool_ids: Vec<String> = p["toolIds"]
        .as_array()
        .expect("toolIds")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for a in &made {
        assert!(
            tool_ids.contains(&a["id"].as_str().unwrap_or_default().to_owned()),
            "{a} in {p}"
        );
    }
    // what each became
    let tool = |id: &Value| {
        let id = id.as_str().unwrap_or_default().to_owned();
        let store = f.store.clone();
        let biz = f.biz.clone();
        async move { store.tool(&biz, &id).await.expect("read").expect("tool") }
    };
    let transfer = tool(&made[0]["id"]).await;
    assert_eq!(transfer.name, "transferCall");
    assert_eq!(
        transfer.config_override["destinations"][0]["warmTransferEnabled"],
        true
    );
    assert_eq!(transfer.message.as_deref(), Some("Let me get the manager."));
    assert_eq!(tool(&made[1]["id"]).await.name, "postCallExtraction");
    let capture = tool(&made[2]["id"]).await;
    assert_eq!(
        (
            capture.name.as_str(),
            capture.config_override["name"].as_str()
        ),
        ("captureData", Some("email_now"))
    );
    let calendar = tool(&made[4]["id"]).await;
    assert_eq!(
        calendar.config_override["appointmentConfig"],
        json!({"slotDurationMinutes": 60, "offerDays": 3, "offerSlotsPerDay": 2})
    );
    let sms = tool(&made[7]["id"]).await;
    assert_eq!(
        (
            sms.name.as_str(),
            sms.config_override["name"].as_str(),
            sms.message.as_deref()
        ),
        (
            "sendSms",
            Some("text_the_address"),
            Some("I'll text it to you.")
        )
    );
    let api = tool(&made[5]["id"]).await;
    assert_eq!(
        api.config_override["url"],
        "https://api.example.com/orders?orderId={{orderId}}"
    );
    assert_eq!(api.config_override["selectedPaths"], json!(["data.status"]));
    // GET reads one back; PUT replaces it; DELETE takes it off the agent
    let one = format!("/voice-ai/actions/{}", made[3]["id"].as_str().expect("id"));
    let (status, got) = call(
        &f.app,
        seed("GET", &format!("{one}?locationId={}", f.biz), t, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got, made[3]);
    let mut changed = params("WORKFLOW_TRIGGER", &s);
    changed["workflowId"] = json!("wf_43");
    let (status, put) = call(
        &f.app,
        seed(
            "PUT",
            &one,
            t,
            Some(&action(&s, "WORKFLOW_TRIGGER", "Start quote", changed)),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["actionParameters"]["workflowId"], "wf_43");
    assert_eq!(put["id"], made[3]["id"]);
    assert_eq!(
        tool(&made[3]["id"]).await.config_override["workflowId"],
        "wf_43"
    );
    let (status, _) = call(
        &f.app,
        seed(
            "DELETE",
            &format!("{one}?locationId={}&agentId=agent_other", f.biz),
            t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not that agent's");
    let (status, _) = call(
        &f.app,
        seed(
            "DELETE",
            &format!("{one}?locationId={}&agentId={}", f.biz, s.agent),
            t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &f.app,
        seed("GET", &format!("{one}?locationId={}", f.biz), t, None),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, agent) = call(
        &f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents/{}?locationId={}", s.agent, f.biz),
            t,
            None,
        ),
    )
    .await;
    assert_eq!(agent["actions"].as_array().map(Vec::len), Some(7));
    // deleting the agent deletes its actions
    let (status, _) = call(
        &f.app,
        seed(
            "DELETE",
            &format!("/voice-ai/agents/{}?locationId={}", s.agent, f.biz),
            t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        f.store
            .tool(&f.biz, made[0]["id"].as_str().expect("id"))
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn two_transfer_actions_give_the_agent_two_destinations() {
    let s = setup().await;
    for (name, number) in [("Manager", "+15552345678"), ("Sales", "+15552345679")] {
        let mut p = params("CALL_TRANSFER", &s);
        p["transferToValue"] = json!(number);
        let (status, a) = call(
            &s.f.app,
            seed(
                "POST",
                "/voice-ai/actions",
                &s.t,
                Some(&action(&s, "CALL_TRANSFER", name, p)),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
    }
    // two custom actions of the same name would be one tool name: refused, nothing left
    for expected in [StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY] {
        let (status, a) = call(
            &s.f.app,
            seed(
                "POST",
                "/voice-ai/actions",
                &s.t,
                Some(&action(
                    &s,
                    "CUSTOM_ACTION",
                    "Check order",
                    params("CUSTOM_ACTION", &s),
                )),
            ),
        )
        .await;
        assert_eq!(status, expected, "{a}");
    }
    let (_, agent) = call(
        &s.f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents/{}?locationId={}", s.agent, s.f.biz),
            &s.t,
            None,
        ),
    )
    .await;
    assert_eq!(
        agent["actions"].as_array().map(Vec::len),
        Some(3),
        "{agent}"
    );
    let (tools, _) = s.f.store.list_tools(&s.f.biz, 0, 100).await.expect("tools");
    assert_eq!(
        tools.iter().filter(|t| t.name == "apiRequest").count(),
        1,
        "the refused one is gone"
    );
}

#[tokio::test]
async fn every_action_rule_is_enforced() {
    let s = setup().await;
    let with = |ty: &str, change: Value| {
        let mut p = params(ty, &s);
        if let (Some(p), Some(c)) = (p.as_object_mut(), change.as_object()) {
            for (k, v) in c {
                if v.is_null() {
                    p.remove(k);
                } else {
                    p.insert(k.clone(), v.clone());
                }
            }
        }
        action(&s, ty, "An action", p)
    };
    let mut cases: Vec<(Value, &str)> = vec![
        (
            json!({"locationId": s.f.biz, "actionType": "CALL_TRANSFER", "name": "x", "actionParameters": {}}),
            "agentId",
        ),
        (
            json!({"agentId": s.agent, "locationId": s.f.biz, "name": "x", "actionParameters": {}}),
            "actionType",
        ),
        (
            json!({"agentId": s.agent, "locationId": s.f.biz, "actionType": "CALL_TRANSFER", "actionParameters": {}}),
            "name",
        ),
        (
            json!({"agentId": s.agent, "locationId": s.f.biz, "actionType": "CALL_TRANSFER", "name": "x"}),
            "actionParameters",
        ),
        (
            json!({"agentId": "agent_nope", "locationId": s.f.biz, "actionType": "CALL_TRANSFER", "name": "x", "actionParameters": {}}),
            "agentId",
        ),
        (action(&s, "TELEPORT", "x", json!({})), "actionType"),
    ];
    for (ty, change, field) in [
        (
            "CALL_TRANSFER",
            json!({"triggerPrompt": null}),
            "triggerPrompt",
        ),
        (
            "CALL_TRANSFER",
            json!({"transferToType": "sip"}),
            "transferToType",
        ),
        (
            "CALL_TRANSFER",
            json!({"transferToValue": "15552345678"}),
            "transferToValue",
        ),
        (
            "CALL_TRANSFER",
            json!({"transferToValue": "+1555"}),
            "transferToValue",
        ),
        (
            "CALL_TRANSFER",
            json!({"transferToValue": "+19005551234"}),
            "transferToValue",
        ),
        (
            "CALL_TRANSFER",
            json!({"triggerMessage": null}),
            "triggerMessage",
        ),
        (
            "CALL_TRANSFER",
            json!({"hearWhisperMessage": "yes"}),
            "hearWhisperMessage",
        ),
        (
            "DATA_EXTRACTION",
            json!({"contactFieldId": null}),
            "contactFieldId",
        ),
        (
            "DATA_EXTRACTION",
            json!({"description": null}),
            "description",
        ),
        ("DATA_EXTRACTION", json!({"examples": []}), "examples"),
        (
            "DATA_EXTRACTION",
            json!({"examples": ["a", "b", "c", "d", "e", "f"]}),
            "examples",
        ),
        (
            "IN_CALL_DATA_EXTRACTION",
            json!({"examples": null}),
            "examples",
        ),
        (
            "IN_CALL_DATA_EXTRACTION",
            json!({"overwriteExistingValue": "no"}),
            "overwriteExistingValue",
        ),
        (
            "WORKFLOW_TRIGGER",
            json!({"workflowId": null}),
            "workflowId",
        ),
        (
            "WORKFLOW_TRIGGER",
            json!({"triggerMessage": null}),
            "triggerMessage",
        ),
        (
            "APPOINTMENT_BOOKING",
            json!({"calendarId": "someone-else@group.calendar.google.com"}),
            "calendarId",
        ),
        (
            "APPOINTMENT_BOOKING",
            json!({"daysOfOfferingDates": null}),
            "daysOfOfferingDates",
        ),
        (
            "APPOINTMENT_BOOKING",
            json!({"slotsPerDay": 0}),
            "slotsPerDay",
        ),
        (
            "APPOINTMENT_BOOKING",
            json!({"hoursBetweenSlots": 9}),
            "hoursBetweenSlots",
        ),
        ("CUSTOM_ACTION", json!({"apiDetails": null}), "apiDetails"),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "ftp://x", "method": "GET"}, "selectedPaths": ["a"]}),
            "url",
        ),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "https://x.example", "method": "DELETE"}, "selectedPaths": ["a"]}),
            "method",
        ),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "https://x.example", "method": "GET", "authenticationRequired": true}, "selectedPaths": ["a"]}),
            "authenticationValue",
        ),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "https://x.example", "method": "GET"}, "selectedPaths": []}),
            "selectedPaths",
        ),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "https://x.example", "method": "POST"}, "selectedPaths": ["a"]}),
            "selectedPaths",
        ),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "https://x.example", "method": "GET", "parameters": [{"description": "no name"}]}, "selectedPaths": ["a"]}),
            "name",
        ),
        (
            "CUSTOM_ACTION",
            json!({"apiDetails": {"url": "https://x.example", "method": "GET", "headers": [{"key": "X-A"}]}, "selectedPaths": ["a"]}),
            "value",
        ),
        (
            "KNOWLEDGE_BASE",
            json!({"knowledgeBaseId": "file_nope"}),
            "knowledgeBaseId",
        ),
        (
            "KNOWLEDGE_BASE",
            json!({"triggerPrompt": null}),
            "triggerPrompt",
        ),
        ("KNOWLEDGE_BASE", json!({"surprise": 1}), "surprise"),
        ("SMS", json!({"messageBody": null}), "messageBody"),
        (
            "SMS",
            json!({"messageBody": "x".repeat(1601)}),
            "messageBody",
        ),
        ("SMS", json!({"triggerMessage": null}), "triggerMessage"),
    ] {
        cases.push((with(ty, change), field));
    }
    for (body, field) in cases {
        let (status, res) = call(
            &s.f.app,
            seed("POST", "/voice-ai/actions", &s.t, Some(&body)),
        )
        .await;
        assert_invalid(status, &res, field, &body.to_string());
    }
    let (_, agent) = call(
        &s.f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents/{}?locationId={}", s.agent, s.f.biz),
            &s.t,
            None,
        ),
    )
    .await;
    assert_eq!(agent["actions"], json!([]), "nothing was made");
    // scopes: a token without the actions' scopes
    let (status, _) = call(
        &s.f.app,
        seed(
            "GET",
            &format!("/voice-ai/actions/tool_x?locationId={}", s.f.biz),
            &token(&s.f, &s.f.narrow_id, &s.f.narrow_secret).await,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // another organization's location
    let (status, _) = call(
        &s.f.app,
        seed(
            "GET",
            &format!("/voice-ai/actions/tool_x?locationId={}", s.f.foreign_biz),
            &s.t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
