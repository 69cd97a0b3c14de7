//! Seed 003's tasks through `Router::oneshot` on a real SQLite database: created for a user or
//! an AI employee (one of the business's agents), overdue once past their due date, filtered
//! by status, due dates, conversation and assignee, paged by token; completed and cancelled
//! with their times stamped; every rule answered 400 naming its field.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;

async fn agent(f: &Fixture) -> String {
    let t = token(f, &f.client_id, &f.client_secret).await;
    let (status, a) = call(
        &f.app,
        partner(
            "POST",
            &format!("/v1/businesses/{}/voice-agents", f.biz),
            &t,
            &json!({"name": "Follow-up", "type": "OUTBOUND", "conversationFlow": "Follow up on the quote."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    a["id"].as_str().expect("id").to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["objective"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn tasks_are_assigned_filtered_paged_and_closed() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let agent = agent(&f).await;
    let me = json!({"id": "user-7", "type": "user"});
    let ai = json!({"id": agent, "type": "ai_employee"});
    let task = |objective: &str, due: Option<&str>, who: &Value, conversation: i64| json!({"context": {"conversationId": conversation}, "objective": objective, "createdBy": me, "assignedTo": who, "dueDate": due});
    let mut made = Vec::new();
    for body in [
        task(
            "call back about the quote",
            Some("2030-02-15T10:00:00Z"),
            &ai,
            1,
        ),
        task("send the proposal", Some("2020-01-01T09:00:00Z"), &me, 2),
        task("check the invoice", None, &me, 1),
    ] {
        let (status, t) = call(&f.app, keyed("POST", "/api/v1/tasks", &key, Some(&body))).await;
        assert_eq!(status, StatusCode::OK, "{t}");
        assert!(
            t["id"].as_str().is_some_and(|id| id.starts_with("task_")),
            "{t}"
        );
        made.push(t);
    }
    assert_eq!(made[0]["status"], "scheduled");
    assert_eq!(made[0]["assignedTo"], ai);
    assert_eq!(made[0]["dueDate"], "2030-02-15T10:00:00Z");
    assert_eq!(made[1]["status"], "overdue", "past its due date");
    assert_eq!(made[2]["context"]["conversationId"], 1);

    let list = |q: &str| keyed("GET", &format!("/api/v1/tasks{q}"), &key, None);
    let (status, all) = call(&f.app, list("")).await;
    assert_eq!(
        (status, all["totalCount"].as_i64()),
        (StatusCode::OK, Some(3))
    );
    assert_eq!(
        ids(&all),
        [
            "send the proposal",
            "call back about the quote",
            "check the invoice"
        ],
        "soonest due first, undated last"
    );
    for (q, want) in [
        ("?status=overdue", vec!["send the proposal"]),
        (
            "?status=scheduled",
            vec!["call back about the quote", "check the invoice"],
        ),
        (
            "?assignedToType=ai_employee",
            vec!["call back about the quote"],
        ),
        (
            &format!("?assignedToId={agent}"),
            vec!["call back about the quote"],
        ),
        (
            "?conversationId=1",
            vec!["call back about the quote", "check the invoice"],
        ),
        ("?dueBefore=2025-01-01T00:00:00Z", vec!["send the proposal"]),
        (
            "?dueAfter=2025-01-01T00:00:00Z",
            vec!["call back about the quote"],
        ),
    ] {
        let (status, page) = call(&f.app, list(q)).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert_eq!(ids(&page), want, "{q}");
    }
    let (_, first) = call(&f.app, list("?limit=2")).await;
    let next = first["nextPageToken"].as_str().expect("more");
    let (_, second) = call(&f.app, list(&format!("?limit=2&pageToken={next}"))).await;
    assert_eq!(ids(&second), ["check the invoice"]);
    assert!(second["nextPageToken"].is_null());

    // closing a task stamps its time; scheduling it again clears it
    let one = format!("/api/v1/tasks/{}", made[1]["id"].as_str().expect("id"));
    let (status, done) = call(
        &f.app,
        keyed("PUT", &one, &key, Some(&json!({"status": "completed"}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "completed");
    assert!(done["completedAt"].is_string(), "{done}");
    assert_eq!(done["objective"], "send the proposal", "the rest kept");
    let (_, page) = call(&f.app, list("?status=completed")).await;
    assert_eq!(ids(&page), ["send the proposal"]);
    let (_, again) = call(
        &f.app,
        keyed(
            "PUT",
            &one,
            &key,
            Some(&json!({"status": "scheduled", "dueDate": "2031-01-01T00:00:00Z"})),
        ),
    )
    .await;
    assert_eq!(
        (again["status"].as_str(), again["completedAt"].as_str()),
        (Some("scheduled"), None),
        "{again}"
    );
    let (_, cancelled) = call(
        &f.app,
        keyed("PUT", &one, &key, Some(&json!({"status": "cancelled", "cancellationReason": "the client went elsewhere", "id": made[1]["id"]}))),
    )
    .await;
    assert_eq!(cancelled["cancellationReason"], "the client went elsewhere");
    assert!(cancelled["cancelledAt"].is_string());
    let (status, gone) = call(&f.app, keyed("DELETE", &one, &key, None)).await;
    assert_eq!(
        (status, gone["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, b) = call(&f.app, keyed("GET", &one, &key, None)).await;
    assert_eq!(
        (status, b["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );

    // another tenant does not see them
    let all_scopes: Vec<String> = vox_api::ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    let other = f
        .store
        .create_api_key(&f.foreign_biz, "other", &all_scopes)
        .await
        .expect("key")
        .key;
    let (_, page) = call(&f.app, keyed("GET", "/api/v1/tasks", &other, None)).await;
    assert_eq!(page["totalCount"], 0);
    let (status, _) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/tasks/{}", made[0]["id"].as_str().expect("id")),
            &other,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_task_rule_is_enforced() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let me = json!({"id": "user-7", "type": "user"});
    let ok = json!({"context": {"conversationId": 1}, "objective": "x", "createdBy": me, "assignedTo": me});
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
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("context"), "context", "context is required"),
        (without("objective"), "objective", "objective is required"),
        (without("createdBy"), "createdBy", "createdBy is required"),
        (
            without("assignedTo"),
            "assignedTo",
            "assignedTo is required",
        ),
        (
            with("objective", json!("")),
            "objective",
            "a blank objective",
        ),
        (
            with("objective", json!("x".repeat(2001))),
            "objective",
            "a long objective",
        ),
        (
            with("context", json!({"conversationId": 0})),
            "context.conversationId",
            "conversation 0",
        ),
        (
            with("context", json!({"funnelId": 1})),
            "context.funnelId",
            "an unknown context field",
        ),
        (
            with("assignedTo", json!({"id": "u1", "type": "robot"})),
            "assignedTo.type",
            "an unknown party type",
        ),
        (
            with("assignedTo", json!({"type": "user"})),
            "assignedTo.id",
            "no assignee id",
        ),
        (
            with(
                "assignedTo",
                json!({"id": "agent_missing", "type": "ai_employee"}),
            ),
            "assignedTo.id",
            "an AI employee that is no agent",
        ),
        (
            with("createdBy", json!("user-7")),
            "createdBy",
            "createdBy that is no object",
        ),
        (
            with("dueDate", json!("tomorrow")),
            "dueDate",
            "a dueDate that is no time",
        ),
        (
            with("status", json!("overdue")),
            "status",
            "overdue is derived",
        ),
        (with("status", json!("done")), "status", "an unknown status"),
        (
            with("priority", json!("high")),
            "priority",
            "an unknown field",
        ),
        (with("id", json!("task_1")), "id", "an id on create"),
    ];
    for (body, field, what) in &cases {
        let (status, b) = call(&f.app, keyed("POST", "/api/v1/tasks", &key, Some(body))).await;
        assert_bad(status, &b, field, what);
    }
    let (_, t) = call(&f.app, keyed("POST", "/api/v1/tasks", &key, Some(&ok))).await;
    let one = format!("/api/v1/tasks/{}", t["id"].as_str().expect("id"));
    for (body, field, what) in [
        (json!({"id": "task_other"}), "id", "another task's id"),
        (
            json!({"tenantId": "biz_other"}),
            "tenantId",
            "another tenant",
        ),
        (
            json!({"completedAt": 5}),
            "completedAt",
            "a time that is no string",
        ),
        (
            json!({"cancellationReason": 5}),
            "cancellationReason",
            "a reason that is no string",
        ),
    ] {
        let (status, b) = call(&f.app, keyed("PUT", &one, &key, Some(&body))).await;
        assert_bad(status, &b, field, what);
    }
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?status=late", "status"),
        ("?dueBefore=soon", "dueBefore"),
        ("?assignedToType=robot", "assignedToType"),
        ("?conversationId=abc", "conversationId"),
        ("?pageToken=Xde34567890", "pageToken"),
    ] {
        let (status, b) = call(
            &f.app,
            keyed("GET", &format!("/api/v1/tasks{q}"), &key, None),
        )
        .await;
        assert_bad(status, &b, field, q);
    }
}
