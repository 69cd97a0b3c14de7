//! Seed 003's calls through `Router::oneshot` on a real SQLite database: an external call
//! logged (CreateCall) and read back by its number with the contact it reached; a Vox call's
//! recording (a link that opens without a token) and transcription; another tenant's calls
//! not found; every rule of CreateCall answered 400 naming its field.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use support::*;
use vox_store::{CallKind, CallRecord, CallStatus, EndedReason};

fn external() -> Value {
    json!({"status": "completed", "userId": 12, "metadata": {"crm": "hubspot"}, "providerId": "pbx-991",
        "providerName": "Acme PBX", "customData": {"deal": "D-7"}, "from": "+56912345678", "to": "+15125550100",
        "duration": 95.5, "direction": "incoming", "startTime": "2024-02-15T10:00:00Z", "teamId": 3})
}

#[tokio::test]
async fn an_external_call_is_logged_and_read_by_its_number() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (_, contact) = call(
        &f.app,
        keyed("POST", "/api/v1/contacts", &key, Some(&json!({"firstName": "Pedro", "addresses": [{"address": "+56912345678", "channelType": "PHONE"}]}))),
    )
    .await;
    let (status, logged) = call(
        &f.app,
        keyed("POST", "/api/v1/calls", &key, Some(&external())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{logged}");
    let n = logged["id"].as_i64().expect("a numeric id");
    for (k, v) in [
        ("from", json!("+56912345678")),
        ("to", json!("+15125550100")),
        ("direction", json!("incoming")),
        ("status", json!("completed")),
        ("duration", json!(95.5)),
        ("startTime", json!("2024-02-15T10:00:00Z")),
        ("providerId", json!("pbx-991")),
        ("providerName", json!("Acme PBX")),
        ("userId", json!(12)),
        ("teamId", json!(3)),
        ("metadata", json!({"crm": "hubspot"})),
        ("customData", json!({"deal": "D-7"})),
        ("contactId", contact["id"].clone()),
        ("tenantId", json!(f.biz)),
    ] {
        assert_eq!(logged[k], v, "{k}: {logged}");
    }
    let (status, again) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/calls/{n}"), &key, None),
    )
    .await;
    assert_eq!((status, &again), (StatusCode::OK, &logged));
    // the same call record through the Partner API
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (_, page) = call(
        &f.app,
        get(&format!("/v1/businesses/{}/calls", f.biz), Some(&t)),
    )
    .await;
    assert_eq!(page["items"][0]["customerNumber"], "+56912345678", "{page}");
    // an external call has neither recording nor transcript
    for path in ["recording", "transcription"] {
        let (status, b) = call(
            &f.app,
            keyed("GET", &format!("/api/v1/calls/{n}/{path}"), &key, None),
        )
        .await;
        assert_eq!(
            (status, b["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "{path}"
        );
    }
    let (status, busy) = call(
        &f.app,
        keyed("POST", "/api/v1/calls", &key, Some(&json!({"status": "busy", "userId": null, "metadata": null, "from": "+15125550100",
            "to": "+56912345678", "duration": null, "direction": "outgoing", "startTime": "2024-02-15T11:00:00Z"}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{busy}");
    assert_eq!(
        (busy["status"].as_str(), busy["duration"].as_f64()),
        (Some("busy"), None)
    );
    assert!(busy["id"].as_i64() > Some(n), "numbers in order");
}

#[tokio::test]
async fn a_vox_calls_recording_and_transcription() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let mut c = f
        .store
        .create_call(CallRecord::new(&f.biz, CallKind::Outbound))
        .await
        .expect("call");
    c.status = CallStatus::Completed;
    c.ended_reason = Some(EndedReason::AssistantEndedCall);
    c.phone_number = Some("+15125550122".into());
    c.customer_number = Some("+15552345678".into());
    c.started_at = Some(c.created_at);
    c.ended_at = Some(c.created_at + 60_000);
    c.duration_ms = Some(60_000);
    c.recording_url = Some("recorded".into());
    f.store.update_call(&c).await.expect("update");
    f.store
        .set_call_transcript(&c.id, "Agent: Hello.\nCaller: Hi.", &json!([]))
        .await
        .expect("transcript");
    let dir = f.recordings_dir.join(&f.biz);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(format!("{}.wav", c.id)), b"RIFF----WAVEfmt fake").expect("wav");
    let n = f
        .store
        .crm_call(&c.id, &json!({}))
        .await
        .expect("number")
        .number;

    let (status, one) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/calls/{n}"), &key, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        (
            one["from"].as_str(),
            one["to"].as_str(),
            one["direction"].as_str(),
            one["status"].as_str(),
            one["duration"].as_f64()
        ),
        (
            Some("+15125550122"),
            Some("+15552345678"),
            Some("outgoing"),
            Some("completed"),
            Some(60.0)
        )
    );
    let (status, rec) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/calls/{n}/recording"), &key, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    assert_eq!(
        (rec["callId"].as_i64(), rec["dualChannel"].as_bool()),
        (Some(n), Some(true))
    );
    // the link opens without a token
    let url = rec["url"].as_str().expect("url");
    let path = &url[url.find("/api/").expect("path")..];
    let (status, _) = call(
        &f.app,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{url}");
    // GetRecording: the recording by its number, on the route seed 004's links share
    let (status, by_number) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/recordings/{n}"), &key, None),
    )
    .await;
    assert_eq!(
        (status, &by_number["callId"]),
        (StatusCode::OK, &rec["callId"]),
        "{by_number}"
    );
    let (status, b) = call(&f.app, get(&format!("/api/v1/recordings/{n}"), None)).await;
    assert_eq!(
        (status, b["code"].as_i64()),
        (StatusCode::UNAUTHORIZED, Some(401)),
        "no credentials: {b}"
    );
    let (status, text) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/calls/{n}/transcription"),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text["text"], "Agent: Hello.\nCaller: Hi.");
    assert_eq!(text["recordingId"], n);

    // another tenant's key finds nothing at that number
    let all: Vec<String> = vox_api::ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    let other = f
        .store
        .create_api_key(&f.foreign_biz, "other", &all)
        .await
        .expect("key")
        .key;
    let (status, _) = call(
        &f.app,
        keyed("GET", &format!("/api/v1/recordings/{n}"), &other, None),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's recording");
    for path in ["", "/recording", "/transcription"] {
        let (status, _) = call(
            &f.app,
            keyed("GET", &format!("/api/v1/calls/{n}{path}"), &other, None),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn every_create_call_rule_is_enforced() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let with = |k: &str, v: Value| {
        let mut b = external();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = external();
        b.as_object_mut().expect("object").remove(k);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (without("status"), "status", "status is required"),
        (
            with("status", json!("in-progress")),
            "status",
            "a call that has not ended",
        ),
        (without("direction"), "direction", "direction is required"),
        (
            with("direction", json!("sideways")),
            "direction",
            "an unknown direction",
        ),
        (without("from"), "from", "from is required"),
        (
            with("from", json!("912345678")),
            "from",
            "from not in E.164",
        ),
        (with("to", json!("+0123")), "to", "to not in E.164"),
        (without("startTime"), "startTime", "startTime is required"),
        (
            with("startTime", json!("yesterday")),
            "startTime",
            "a startTime that is no time",
        ),
        (
            without("duration"),
            "duration",
            "duration is required (null allowed)",
        ),
        (
            with("duration", json!(-1)),
            "duration",
            "a negative duration",
        ),
        (
            without("userId"),
            "userId",
            "userId is required (null allowed)",
        ),
        (with("userId", json!(1.5)), "userId", "a fractional userId"),
        (
            without("metadata"),
            "metadata",
            "metadata is required (null allowed)",
        ),
        (
            with("teamId", json!("three")),
            "teamId",
            "a teamId that is no number",
        ),
        (
            with("redirectedTo", json!("desk 4")),
            "redirectedTo",
            "redirectedTo not in E.164",
        ),
        (
            with("agentId", json!("agent_1")),
            "agentId",
            "an unknown field",
        ),
    ];
    for (body, field, what) in &cases {
        let (status, b) = call(&f.app, keyed("POST", "/api/v1/calls", &key, Some(body))).await;
        assert_bad(status, &b, field, what);
    }
    for (path, field) in [
        ("/api/v1/calls/abc", "callId"),
        ("/api/v1/calls/0/recording", "callId"),
    ] {
        let (status, b) = call(&f.app, keyed("GET", path, &key, None)).await;
        assert_bad(status, &b, field, path);
    }
    let (status, _) = call(&f.app, keyed("GET", "/api/v1/calls/999999", &key, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
