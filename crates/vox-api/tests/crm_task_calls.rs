//! An AI employee's task, once due, is a call: the runner's passes (run by the test) place it
//! once from the task's agent to its conversation's contact, told the objective, and write the
//! outcome back when the call has ended; a task that cannot be called is cancelled with why.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;
use vox_api::crm::task_calls::pass;
use vox_store::EndedReason;

async fn outbound_agent(f: &Fixture) -> String {
    let t = token(f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let (_, a) = call(
        &f.app,
        partner(
            "POST",
            &base,
            &t,
            &json!({"name": "Closer", "type": "OUTBOUND", "conversationFlow": "Do the task."}),
        ),
    )
    .await;
    let id = a["id"].as_str().expect("id").to_owned();
    let (status, _) = call(
        &f.app,
        partner("POST", &format!("{base}/{id}/deploy"), &t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    id
}

async fn conversation(f: &Fixture, key: &str, contact: Value) -> i64 {
    let (status, c) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/conversations",
            key,
            Some(&json!({"funnelId": 1, "contact": contact})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_due_task_places_its_call_once_and_gets_its_outcome() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let agent = outbound_agent(&f).await;
    let conv = conversation(
        &f,
        &key,
        json!({"firstName": "Pedro", "phones": ["+15552345678"]}),
    )
    .await;
    let task = |due: &str| {
        json!({"context": {"conversationId": conv}, "objective": "Confirm the visit on Tuesday",
            "createdBy": {"id": "u1", "type": "user"}, "assignedTo": {"id": agent, "type": "ai_employee"}, "dueDate": due})
    };
    let (_, later) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/tasks",
            &key,
            Some(&task("2099-01-01T00:00:00Z")),
        ),
    )
    .await;
    let (_, due) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/tasks",
            &key,
            Some(&task("2024-01-01T00:00:00Z")),
        ),
    )
    .await;
    assert_eq!(pass(&f.state).await.expect("pass"), 1, "only the due task");
    assert_eq!(pass(&f.state).await.expect("pass"), 0, "placed once");
    let placed = f.dialer.placed.lock().expect("placed").clone();
    assert_eq!(
        (
            placed.len(),
            placed[0].to.as_str(),
            placed[0].agent_id.as_str()
        ),
        (1, "+15552345678", agent.as_str())
    );
    let record = f
        .store
        .call_by_id(&placed[0].call_id)
        .await
        .expect("read")
        .expect("call");
    assert!(
        record.lead_context.expect("context")["context"]
            .as_str()
            .unwrap_or_default()
            .contains("Confirm the visit on Tuesday"),
        "the agent is told the objective"
    );
    let one = format!("/api/v1/tasks/{}", due["id"].as_str().expect("id"));
    let (_, t) = call(&f.app, keyed("GET", &one, &key, None)).await;
    let call_number = t["callId"].as_i64().expect("the call's number");
    assert_eq!(t["status"], "overdue", "the call is under way: {t}");
    let (status, c) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/calls/{call_number}"), &key, None),
    )
    .await;
    assert_eq!(
        (status, c["to"].as_str()),
        (StatusCode::OK, Some("+15552345678"))
    );
    // the call ends with its summary: the task is completed with it
    f.store
        .call_ended(
            &placed[0].call_id,
            EndedReason::AssistantEndedCall,
            vox_store::now_ms(),
        )
        .await
        .expect("ended");
    f.store
        .set_call_artifacts(
            &placed[0].call_id,
            None,
            Some("Pedro confirmed Tuesday at ten."),
            None,
        )
        .await
        .expect("summary");
    pass(&f.state).await.expect("pass");
    let (_, t) = call(&f.app, keyed("GET", &one, &key, None)).await;
    assert_eq!(
        (t["status"].as_str(), t["outcome"].as_str()),
        (Some("completed"), Some("Pedro confirmed Tuesday at ten.")),
        "{t}"
    );
    assert!(t["completedAt"].is_string());
    let (_, t) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/tasks/{}", later["id"].as_str().expect("id")),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(
        (t["status"].as_str(), t["callId"].as_i64()),
        (Some("scheduled"), None)
    );
}

#[tokio::test]
async fn a_task_that_cannot_be_called_is_cancelled_with_why() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let agent = outbound_agent(&f).await;
    let no_phone = conversation(
        &f,
        &key,
        json!({"firstName": "Ana", "emails": ["ana@example.com"]}),
    )
    .await;
    let busy = conversation(
        &f,
        &key,
        json!({"firstName": "Bo", "phones": ["+15552345679"]}),
    )
    .await;
    let mut ids = Vec::new();
    for conv in [no_phone, busy] {
        let (status, t) = call(
            &f.app,
            keyed("POST", "/api/v1/tasks", &key, Some(&json!({"context": {"conversationId": conv}, "objective": "Call back",
                "createdBy": {"id": "u1", "type": "user"}, "assignedTo": {"id": agent, "type": "ai_employee"}, "dueDate": "2024-01-01T00:00:00Z"}))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        ids.push(t["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(pass(&f.state).await.expect("pass"), 1);
    let (_, t) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/tasks/{}", ids[0]), &key, None),
    )
    .await;
    assert_eq!(t["status"], "cancelled", "{t}");
    assert!(
        t["cancellationReason"]
            .as_str()
            .unwrap_or_default()
            .contains("no phone number"),
        "{t}"
    );
    // the other's call fails: cancelled with the reason
    let placed = f.dialer.placed.lock().expect("placed").clone();
    f.store
        .call_ended(
            &placed[0].call_id,
            EndedReason::CustomerBusy,
            vox_store::now_ms(),
        )
        .await
        .expect("busy");
    pass(&f.state).await.expect("pass");
    let (_, t) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/tasks/{}", ids[1]), &key, None),
    )
    .await;
    assert_eq!(
        (t["status"].as_str(), t["outcome"].as_str()),
        (
            Some("cancelled"),
            Some("the call did not happen: customer-busy")
        ),
        "{t}"
    );
}

#[tokio::test]
async fn tasks_over_the_outbound_rate_wait_for_a_later_pass() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let agent = outbound_agent(&f).await;
    let conv = conversation(
        &f,
        &key,
        json!({"firstName": "Pedro", "phones": ["+15552345678"]}),
    )
    .await;
    let n = OUTBOUND_PER_MINUTE as usize + 2;
    for i in 0..n {
        let (status, t) = call(
            &f.app,
            keyed("POST", "/api/v1/tasks", &key, Some(&json!({"context": {"conversationId": conv}, "objective": format!("Call {i}"),
                "createdBy": {"id": "u1", "type": "user"}, "assignedTo": {"id": agent, "type": "ai_employee"}, "dueDate": "2024-01-01T00:00:00Z"}))),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{t}");
    }
    assert_eq!(
        pass(&f.state).await.expect("pass"),
        OUTBOUND_PER_MINUTE as usize
    );
    let (_, page) = call(
        &f.app,
        keyed("GET", "/api/v1/tasks?status=cancelled", &key, None),
    )
    .await;
    assert_eq!(page["totalCount"], 0, "none given up: {page}");
    let (_, waiting) = call(
        &f.app,
        keyed("GET", "/api/v1/tasks?status=overdue&limit=100", &key, None),
    )
    .await;
    let unplaced = waiting["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|t| t["callId"].is_null())
        .count();
    assert_eq!(unplaced, 2, "the two over the rate wait, unclaimed");
}
