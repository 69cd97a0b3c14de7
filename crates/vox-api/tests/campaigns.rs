//! Campaigns through `Router::oneshot` on a real SQLite database, with the dispatcher's passes
//! run by the test at chosen instants: contacts called within concurrency and pacing, busy
//! ones called again after the doubling wait, pause / resume / stop, progress, the calls
//! tagged and listed by seed 004 under their campaign, and every rule of the body.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::partner as send;
use support::*;
use vox_api::campaigns::dispatch::{Pacing, pass};
use vox_store::EndedReason;

async fn outbound_agent(f: &Fixture, t: &str) -> String {
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let (status, a) = call(
        &f.app,
        send("POST", &base, t, &json!({"name": "Caller", "type": "OUTBOUND", "conversationFlow": "Ask how the visit went."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().expect("id").to_owned();
    let (status, d) = call(
        &f.app,
        send("POST", &format!("{base}/{id}/deploy"), t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    id
}

fn contacts(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"phoneNumber": format!("+1555234567{i}"), "name": format!("Contact {i}")}))
            .collect(),
    )
}

#[tokio::test]
async fn a_campaign_calls_its_contacts_retries_the_busy_and_completes() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agent = outbound_agent(&f, &t).await;
    let base = format!("/v1/businesses/{}/campaigns", f.biz);
    let (status, c) = call(
        &f.app,
        send(
            "POST",
            &base,
            &t,
            &json!({"name": "Follow-ups", "agentId": agent, "contacts": contacts(3),
            "callingWindow": {"startTime": "00:00", "endTime": "24:00"},
            "concurrency": 2, "callsPerMinute": 60, "maxAttempts": 2, "retryAfterSecs": 30}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["state"], "running");
    assert_eq!(c["progress"]["pending"], 3);
    let id = c["id"].as_str().expect("id").to_owned();
    let one = format!("{base}/{id}");
    let mut pacing = Pacing::new();
    let now = jiff::Timestamp::now();
    // one call a second (60 a minute), two at once
    assert_eq!(pass(&f.state, &mut pacing, now).await.expect("pass"), 1);
    assert_eq!(
        pass(&f.state, &mut pacing, now).await.expect("pass"),
        0,
        "paced"
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(pass(&f.state, &mut pacing, now).await.expect("pass"), 1);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        pass(&f.state, &mut pacing, now).await.expect("pass"),
        0,
        "two at once at most"
    );
    let dialed: Vec<String> = f
        .dialer
        .placed
        .lock()
        .expect("placed")
        .iter()
        .map(|r| r.to.clone())
        .collect();
    assert_eq!(dialed, ["+15552345670", "+15552345671"]);
    let calls: Vec<String> = f
        .dialer
        .placed
        .lock()
        .expect("placed")
        .iter()
        .map(|r| r.call_id.clone())
        .collect();
    // the first callee is busy, the second answers
    f.store
        .call_ended(&calls[0], EndedReason::CustomerBusy, vox_store::now_ms())
        .await
        .expect("busy");
    f.store
        .call_started(&calls[1], vox_store::now_ms())
        .await
        .expect("started");
    f.store
        .call_ended(
            &calls[1],
            EndedReason::CustomerEndedCall,
            vox_store::now_ms(),
        )
        .await
        .expect("done");
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        pass(&f.state, &mut pacing, now).await.expect("pass"),
        1,
        "the third contact"
    );
    let (_, list) = call(&f.app, get(&format!("{one}/contacts"), Some(&t))).await;
    let states: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|k| k["state"].as_str())
        .collect();
    assert_eq!(states, ["retry", "done", "dialing"], "{list}");
    assert_eq!(list["items"][0]["lastOutcome"], "customer-busy");
    // not before its wait (30 s after the busy call), then again
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        pass(
            &f.state,
            &mut pacing,
            now.checked_add(jiff::SignedDuration::from_secs(10))
                .expect("t")
        )
        .await
        .expect("pass"),
        0
    );
    let later = now
        .checked_add(jiff::SignedDuration::from_secs(40))
        .expect("t");
    assert_eq!(
        pass(&f.state, &mut pacing, later).await.expect("pass"),
        1,
        "the busy one again"
    );
    // pause: nothing new; resume
    let (status, p) = call(
        &f.app,
        send("POST", &format!("{one}/pause"), &t, &Value::Null),
    )
    .await;
    assert_eq!(
        (status, p["state"].as_str()),
        (StatusCode::OK, Some("paused"))
    );
    let (status, _) = call(
        &f.app,
        send("POST", &format!("{one}/pause"), &t, &Value::Null),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "pausing a paused campaign is no change"
    );
    let (status, _) = call(
        &f.app,
        send("POST", &format!("{one}/resume"), &t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // both remaining calls fail for good: busy on its last attempt, and no answer
    let calls: Vec<String> = f
        .dialer
        .placed
        .lock()
        .expect("placed")
        .iter()
        .map(|r| r.call_id.clone())
        .collect();
    assert_eq!(calls.len(), 4);
    f.store
        .call_ended(
            &calls[2],
            EndedReason::CustomerDidNotAnswer,
            vox_store::now_ms(),
        )
        .await
        .expect("no answer");
    f.store
        .call_ended(&calls[3], EndedReason::CustomerBusy, vox_store::now_ms())
        .await
        .expect("busy");
    pass(&f.state, &mut pacing, later).await.expect("pass");
    let (_, c) = call(&f.app, get(&one, Some(&t))).await;
    // the third had attempts left: it waits; the first has none: failed
    assert_eq!(
        c["progress"],
        json!({"total": 3, "pending": 0, "dialing": 0, "retry": 1, "done": 1, "failed": 1}),
        "{c}"
    );
    let (status, c) = call(
        &f.app,
        send("POST", &format!("{one}/stop"), &t, &Value::Null),
    )
    .await;
    assert_eq!(
        (status, c["state"].as_str()),
        (StatusCode::OK, Some("stopped"))
    );
    let much_later = now
        .checked_add(jiff::SignedDuration::from_secs(600))
        .expect("t");
    assert_eq!(
        pass(&f.state, &mut pacing, much_later).await.expect("pass"),
        0,
        "stopped"
    );
    let (status, _) = call(
        &f.app,
        send("POST", &format!("{one}/resume"), &t, &Value::Null),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a stopped campaign stays stopped"
    );
    // seed 004 lists the campaign's calls under it
    let (status, page) = call(
        &f.app,
        get(&format!("/api/v1/voice-calls?campaignId={id}"), Some(&t)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalCount"], 4);
    assert!(
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["campaignId"] == id.as_str())
    );
    let (_, busy) = call(
        &f.app,
        get(
            &format!("/api/v1/voice-calls?campaignId={id}&state=Busy"),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(busy["totalCount"], 2, "{busy}");
}

/// A restarted process has a new dispatcher with no memory: everything it needs is in the
/// database. A contact claimed by a process that died before placing its call has spent that
/// attempt and is called again; a contact whose call is under way is left to it.
#[tokio::test]
async fn a_new_dispatcher_takes_up_where_the_last_one_stopped() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agent = outbound_agent(&f, &t).await;
    let base = format!("/v1/businesses/{}/campaigns", f.biz);
    let (status, c) = call(
        &f.app,
        send(
            "POST",
            &base,
            &t,
            &json!({"name": "Follow-ups", "agentId": agent, "contacts": contacts(2),
            "callingWindow": {"startTime": "00:00", "endTime": "24:00"},
            "concurrency": 2, "callsPerMinute": 60, "maxAttempts": 2}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let id = c["id"].as_str().expect("id").to_owned();
    let now = jiff::Timestamp::now();
    // the first process: contact 0's call is placed, then it claims contact 1 and dies
    assert_eq!(
        pass(&f.state, &mut Pacing::new(), now).await.expect("pass"),
        1
    );
    let contacts = f.store.campaign_contacts(&id).await.expect("contacts");
    assert!(f.store.claim_contact(&contacts[1]).await.expect("claim"));
    // the next process
    let mut pacing = Pacing::new();
    assert_eq!(
        pass(&f.state, &mut pacing, now).await.expect("pass"),
        1,
        "contact 1 again"
    );
    let dialed: Vec<String> = f
        .dialer
        .placed
        .lock()
        .expect("placed")
        .iter()
        .map(|r| r.to.clone())
        .collect();
    assert_eq!(dialed, ["+15552345670", "+15552345671"], "nobody twice");
    let after: Vec<(String, i64)> = f
        .store
        .campaign_contacts(&id)
        .await
        .expect("contacts")
        .into_iter()
        .map(|k| (k.state.as_str().to_owned(), k.attempts))
        .collect();
    assert_eq!(
        after,
        [("dialing".to_owned(), 1), ("dialing".to_owned(), 2)],
        "the lost attempt counts"
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        pass(&f.state, &mut pacing, now).await.expect("pass"),
        0,
        "both calls under way"
    );
}

#[tokio::test]
async fn a_campaign_completes_and_keeps_to_its_window() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agent = outbound_agent(&f, &t).await;
    let base = format!("/v1/businesses/{}/campaigns", f.biz);
    // Mondays 09:00-17:00 in New York; the second contact lives in Los Angeles
    let (status, c) = call(
        &f.app,
        send("POST", &base, &t, &json!({"name": "Mondays", "agentId": agent, "callsPerMinute": 60,
            "contacts": [{"phoneNumber": "+15552345670"}, {"phoneNumber": "+15552345671", "timezone": "America/Los_Angeles"}],
            "callingWindow": {"days": ["monday"], "startTime": "09:00", "endTime": "17:00", "timezone": "America/New_York"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let one = format!("{base}/{}", c["id"].as_str().expect("id"));
    let mut pacing = Pacing::new();
    let tuesday: jiff::Timestamp = "2026-11-24T15:00:00Z".parse().expect("t");
    assert_eq!(
        pass(&f.state, &mut pacing, tuesday).await.expect("pass"),
        0,
        "not a calling day"
    );
    // Monday 10:00 in New York is 07:00 in Los Angeles: only the first
    let monday: jiff::Timestamp = "2026-11-23T15:00:00Z".parse().expect("t");
    assert_eq!(pass(&f.state, &mut pacing, monday).await.expect("pass"), 1);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        pass(&f.state, &mut pacing, monday).await.expect("pass"),
        0,
        "too early in Los Angeles"
    );
    let call_id = f.dialer.placed.lock().expect("placed")[0].call_id.clone();
    f.store
        .call_started(&call_id, vox_store::now_ms())
        .await
        .expect("started");
    f.store
        .call_ended(
            &call_id,
            EndedReason::AssistantEndedCall,
            vox_store::now_ms(),
        )
        .await
        .expect("done");
    let noon_la: jiff::Timestamp = "2026-11-23T20:00:00Z".parse().expect("t");
    assert_eq!(pass(&f.state, &mut pacing, noon_la).await.expect("pass"), 1);
    let second = f.dialer.placed.lock().expect("placed")[1].call_id.clone();
    f.store
        .call_started(&second, vox_store::now_ms())
        .await
        .expect("started");
    f.store
        .call_ended(&second, EndedReason::CustomerEndedCall, vox_store::now_ms())
        .await
        .expect("done");
    pass(&f.state, &mut pacing, noon_la).await.expect("pass");
    let (_, c) = call(&f.app, get(&one, Some(&t))).await;
    assert_eq!(
        (c["state"].as_str(), c["progress"]["done"].as_i64()),
        (Some("completed"), Some(2)),
        "{c}"
    );
}

#[tokio::test]
async fn campaign_rules_are_enforced() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agent = outbound_agent(&f, &t).await;
    let (status, inbound) = call(
        &f.app,
        send(
            "POST",
            &format!("/v1/businesses/{}/voice-agents", f.biz),
            &t,
            &json!({"name": "In", "type": "INBOUND", "conversationFlow": "Help."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let base = format!("/v1/businesses/{}/campaigns", f.biz);
    let ok = json!({"name": "C", "agentId": agent, "contacts": contacts(1)});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("name", json!("")), "name"),
        (with("agentId", json!("agent_nope")), "agentId"),
        (with("agentId", inbound["id"].clone()), "agentId"),
        (with("contacts", json!([])), "contacts"),
        (
            with("contacts", json!([{"phoneNumber": "+19005551234"}])),
            "contacts[0].phoneNumber",
        ),
        (
            with(
                "contacts",
                json!([{"phoneNumber": "+15552345670"}, {"phoneNumber": "+15552345670"}]),
            ),
            "contacts[1].phoneNumber",
        ),
        (
            with(
                "contacts",
                json!([{"phoneNumber": "+15552345670", "timezone": "Mars/Base"}]),
            ),
            "contacts[0].timezone",
        ),
        (
            with(
                "callingWindow",
                json!({"startTime": "17:00", "endTime": "09:00"}),
            ),
            "callingWindow.startTime",
        ),
        (
            with("callingWindow", json!({"days": ["someday"]})),
            "callingWindow.days[0]",
        ),
        (
            with("callingWindow", json!({"timezone": "Nowhere"})),
            "callingWindow.timezone",
        ),
        (with("concurrency", json!(0)), "concurrency"),
        (with("callsPerMinute", json!(61)), "callsPerMinute"),
        (with("maxAttempts", json!(6)), "maxAttempts"),
        (with("retryAfterSecs", json!(0)), "retryAfterSecs"),
        (with("surprise", json!(1)), "surprise"),
        (with("survey", json!({"questions": []})), "survey.questions"),
        (
            with(
                "survey",
                json!({"questions": [{"text": "Happy?", "answerType": "smoke"}]}),
            ),
            "survey.questions[0].answerType",
        ),
        (
            with(
                "survey",
                json!({"questions": [{"text": "Happy?", "maxScore": 10}]}),
            ),
            "survey.questions[0].maxScore",
        ),
        (
            with("survey", json!({"questions": [{"answerType": "voice"}]})),
            "survey.questions[0].text",
        ),
        (
            with(
                "survey",
                json!({"questions": [{"text": "Happy?"}], "questionTimeoutSecs": 1}),
            ),
            "survey.questionTimeoutSecs",
        ),
    ] {
        let (status, e) = call(&f.app, send("POST", &base, &t, &body)).await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {e}"
        );
    }
    let (_, list) = call(&f.app, get(&base, Some(&t))).await;
    assert_eq!(list["total"], 0, "nothing was made");
    // scopes, another organization's business
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    let (status, _) = call(&f.app, get(&base, Some(&narrow))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/campaigns", f.foreign_biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
