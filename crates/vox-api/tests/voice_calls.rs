//! Seed 004's voice calls through `Router::oneshot` on a real SQLite database: the
//! organization's call records under seed 004's ids, states, filters and paging, problem
//! details for bad input, and recording links that open without a token until they expire
//! and never once altered.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt as _;
use vox_store::{CallKind, CallRecord, CallStatus, EndedReason};

/// 2024-01-15T10:30:00Z
const T0: i64 = 1_705_314_600_000;

struct Calls {
    f: Fixture,
    t: String,
    /// completed inbound (recorded), busy outbound, in-progress outbound, another org's.
    ids: Vec<String>,
}

async fn calls() -> Calls {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let mut ids = Vec::new();
    let plan = [
        (
            &f.biz,
            CallKind::Inbound,
            CallStatus::Completed,
            Some(EndedReason::CustomerEndedCall),
        ),
        (
            &f.biz,
            CallKind::Outbound,
            CallStatus::Failed,
            Some(EndedReason::CustomerBusy),
        ),
        (&f.biz, CallKind::Outbound, CallStatus::InProgress, None),
        (
            &f.foreign_biz,
            CallKind::Inbound,
            CallStatus::Completed,
            Some(EndedReason::AssistantEndedCall),
        ),
    ];
    for (i, (biz, kind, status, reason)) in plan.into_iter().enumerate() {
        let c = f
            .store
            .create_call(CallRecord::new(biz, kind))
            .await
            .expect("call");
        let mut c = c;
        c.created_at = T0 + i as i64 * 3_600_000;
        c.status = status;
        c.ended_reason = reason;
        if status != CallStatus::Failed {
            c.started_at = Some(c.created_at + 5_000);
        }
        if reason.is_some() {
            c.ended_at = Some(c.created_at + 312_000);
            c.duration_ms = c.started_at.map(|s| c.created_at + 312_000 - s);
        }
        f.store.update_call(&c).await.expect("update");
        ids.push(c.id);
    }
    let messages = json!([{"role": "agent", "text": "Hello, this is Acme.", "atMs": 1200},
                          {"role": "user", "text": "Hi, yes.", "atMs": 4100},
                          {"role": "agent", "text": "How can I help?", "atMs": 3_725_000}]);
    f.store
        .set_call_transcript(
            &ids[0],
            "Agent: Hello, this is Acme.\nCaller: Hi, yes.",
            &messages,
        )
        .await
        .expect("transcript");
    // the recorded call's WAV where the recorder writes it
    let dir = f.recordings_dir.join(&f.biz);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(format!("{}.wav", ids[0])), b"RIFF----WAVEfmt fake").expect("wav");
    let mut c = f
        .store
        .call_by_id(&ids[0])
        .await
        .expect("read")
        .expect("call");
    c.recording_url = Some("recorded".into());
    f.store.update_call(&c).await.expect("update");
    Calls { f, t, ids }
}

fn vc(call_id: &str) -> String {
    format!("vc_{}", call_id.trim_start_matches("call_"))
}

async fn get_json(
    c: &Calls,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut r = Request::get(path);
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res =
        c.f.app
            .clone()
            .oneshot(r.body(Body::empty()).expect("request"))
            .await
            .expect("response");
    let status = res.status();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        kind,
    )
}

#[tokio::test]
async fn voice_calls_are_the_organizations_call_records() {
    let c = calls().await;
    let (status, page, _) = get_json(&c, "/api/v1/voice-calls", Some(&c.t)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (
            page["totalCount"].as_i64(),
            page["page"].as_i64(),
            page["pageSize"].as_i64(),
            page["totalPages"].as_i64()
        ),
        (Some(3), Some(1), Some(20), Some(1)),
        "another organization's call is not listed: {page}"
    );
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [vc(&c.ids[2]), vc(&c.ids[1]), vc(&c.ids[0])],
        "newest first"
    );
    let done = &page["items"][2];
    assert_eq!(done["direction"], "Inbound");
    assert_eq!(done["state"], "Completed");
    assert_eq!(done["outcome"], "Successful");
    assert_eq!(done["startTime"], "2024-01-15T10:30:05Z");
    assert_eq!(done["endTime"], "2024-01-15T10:35:12Z");
    assert_eq!(
        (
            done["durationSeconds"].as_i64(),
            done["talkTimeSeconds"].as_i64()
        ),
        (Some(312), Some(307))
    );
    assert_eq!(done["campaignId"], Value::Null);
    assert!(
        done.get("transcript").is_none(),
        "the full transcript is the single call's"
    );
    assert_eq!(page["items"][1]["state"], "Busy");
    assert_eq!(page["items"][1]["outcome"], "NotReached");
    assert_eq!(page["items"][0]["state"], "InProgress");
    assert_eq!(page["items"][0]["outcome"], Value::Null);
    // one, with the transcript stamped from the call's start
    let (status, one, _) = get_json(
        &c,
        &format!("/api/v1/voice-calls/{}", vc(&c.ids[0])),
        Some(&c.t),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        one["transcript"],
        json!([{"role": "agent", "text": "Hello, this is Acme.", "timestamp": "00:00:01"},
               {"role": "customer", "text": "Hi, yes.", "timestamp": "00:00:04"},
               {"role": "agent", "text": "How can I help?", "timestamp": "01:02:05"}])
    );
    assert_eq!(one["createdAt"], "2024-01-15T10:30:00Z");
    // another organization's call, a malformed id, an unknown one: 404 problem details
    for id in [
        vc(&c.ids[3]),
        c.ids[0].clone(),
        "vc_nothere".into(),
        "vc_a.b".into(),
    ] {
        let (status, body, kind) =
            get_json(&c, &format!("/api/v1/voice-calls/{id}"), Some(&c.t)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {body}");
        assert_eq!(body["status"], 404);
        assert_eq!(kind.as_deref(), Some("application/problem+json"));
    }
    // no post-call survey ran
    let (status, body, _) = get_json(
        &c,
        &format!("/api/v1/voice-calls/{}/epa-results", vc(&c.ids[0])),
        Some(&c.t),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn voice_calls_filter_and_page_as_the_seed_says() {
    let c = calls().await;
    for (query, want) in [
        ("state=Completed", vec![0]),
        ("state=Busy", vec![1]),
        ("state=busy", vec![1]),
        ("state=NoAnswer", vec![]),
        ("state=Failed", vec![]),
        ("state=InProgress", vec![2]),
        ("direction=Outbound", vec![2, 1]),
        ("direction=Inbound", vec![0]),
        ("state=Completed&direction=Outbound", vec![]),
        ("dateFrom=2024-01-15T11:00:00Z", vec![2, 1]),
        (
            "dateFrom=2024-01-15T11:00:00Z&dateTo=2024-01-15T11:45:00Z",
            vec![1],
        ),
        ("dateTo=2024-01-15", vec![]),
        ("dateFrom=2024-01-15&dateTo=2024-01-16", vec![2, 1, 0]),
        ("campaignId=camp_456", vec![]),
        ("pageSize=2&page=2", vec![0]),
    ] {
        let (status, page, _) =
            get_json(&c, &format!("/api/v1/voice-calls?{query}"), Some(&c.t)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        let got: Vec<String> = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["id"].as_str().map(str::to_owned))
            .collect();
        let want: Vec<String> = want.iter().map(|i: &usize| vc(&c.ids[*i])).collect();
        assert_eq!(got, want, "{query}");
    }
    for (query, field) in [
        ("state=Sleeping", "state"),
        ("direction=Sideways", "direction"),
        ("dateFrom=yesterday", "dateFrom"),
        ("dateFrom=2024-01-16&dateTo=2024-01-15", "dateFrom"),
        ("page=0", "page"),
        ("pageSize=101", "pageSize"),
        ("pageSize=x", "pageSize"),
    ] {
        let (status, body, kind) =
            get_json(&c, &format!("/api/v1/voice-calls?{query}"), Some(&c.t)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(kind.as_deref(), Some("application/problem+json"));
        assert_eq!(body["status"], 400);
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    // scopes: voice:read for calls
    let narrow = token(&c.f, &c.f.narrow_id, &c.f.narrow_secret).await;
    let (status, body, _) = get_json(&c, "/api/v1/voice-calls", Some(&narrow)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = get_json(&c, "/api/v1/voice-calls", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_recording_link_opens_without_a_token_until_it_expires() {
    let c = calls().await;
    let (status, link, _) = get_json(
        &c,
        &format!("/api/v1/voice-calls/{}/recording-url", vc(&c.ids[0])),
        Some(&c.t),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    let url = link["recordingUrl"].as_str().expect("url");
    let expires = link["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse::<jiff::Timestamp>()
        .expect("time");
    let ttl = expires.as_second() - vox_store::now_ms() / 1000;
    assert!((890..=900).contains(&ttl), "15 minutes: {ttl} s");
    let path = url
        .strip_prefix("http://localhost")
        .expect("the request's host");
    // no token needed
    let res =
        c.f.app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("req"))
            .await
            .expect("res");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "audio/wav");
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    assert_eq!(&bytes[..], b"RIFF----WAVEfmt fake");
    // altered: another call, a later expiry, a changed signature, none
    let (base, query) = path.split_once('?').expect("query");
    let other = base.replace(&vc(&c.ids[0]), &vc(&c.ids[1]));
    let se: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("se="))
        .and_then(|s| s.parse().ok())
        .expect("se");
    let sig = query
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .expect("sig")
        .to_owned();
    let flipped: String = sig.chars().rev().collect();
    for bad in [
        format!("{other}?{query}"),
        format!("{base}?se={}&sig={sig}", se + 3600),
        format!("{base}?se={se}&sig={flipped}"),
        base.to_owned(),
    ] {
        let (status, body, _) = get_json(&c, &bad, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad}: {body}");
    }
    // expired: a link signed (with the server's key) for a moment already past
    let signer = vox_crypto::link::LinkSigner::new(&LINK_KEY);
    let past = vox_store::now_ms() / 1000 - 1;
    let expired = format!("{base}?se={past}&sig={}", signer.sign(base, past));
    let (status, body, _) = get_json(&c, &expired, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expired")),
        "{body}"
    );
    // the scope, and calls without a recording
    let narrow = token(&c.f, &c.f.narrow_id, &c.f.narrow_secret).await;
    let (status, _, _) = get_json(
        &c,
        &format!("/api/v1/voice-calls/{}/recording-url", vc(&c.ids[0])),
        Some(&narrow),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = get_json(
        &c,
        &format!("/api/v1/voice-calls/{}/recording-url", vc(&c.ids[1])),
        Some(&c.t),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
