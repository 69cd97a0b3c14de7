//! Seed 000's call logs through `Router::oneshot` on a real SQLite database: the location's
//! call records with the actions each ran, under every filter, sort and rule the seed states.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;
use vox_store::{CallChannel, CallKind, CallRecord, ToolRun};

const DAY: i64 = 86_400_000;
/// 2026-03-20T10:00:00Z
const T0: i64 = 1_774_000_800_000;

struct Calls {
    f: Fixture,
    t: String,
    agent: String,
    ids: Vec<String>,
}

/// Three calls of an agent a day apart: an inbound phone call that ran a transfer, a browser
/// (trial) call about lead_2, an outbound call about lead_1 that ran a workflow.
async fn calls() -> Calls {
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
    let agent = a["id"].as_str().expect("id").to_owned();
    let mut ids = Vec::new();
    for (i, (kind, channel, lead, secs, action)) in [
        (
            CallKind::Inbound,
            CallChannel::Phone,
            None,
            95,
            Some("CALL_TRANSFER"),
        ),
        (
            CallKind::Inbound,
            CallChannel::Web,
            Some("lead_2"),
            30,
            None,
        ),
        (
            CallKind::Outbound,
            CallChannel::Phone,
            Some("lead_1"),
            200,
            Some("WORKFLOW_TRIGGER"),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = CallRecord::new(&f.biz, kind);
        c.agent_id = Some(agent.clone());
        c.lead_id = lead.map(str::to_owned);
        c.channel = channel;
        c.customer_number = Some("+14155550123".into());
        c.phone_number = Some("+12125550111".into());
        let mut c = f.store.create_call(c).await.expect("call");
        c.created_at = T0 + i as i64 * DAY;
        c.duration_ms = Some(secs * 1000);
        c.summary = Some(format!("call {i}"));
        c.structured_data = Some(json!({"field_email": "dana@example.com"}));
        f.store.update_call(&c).await.expect("update");
        let messages = json!([{"role": "agent", "text": "Hello, how can I help?", "atMs": 0},
                              {"role": "user", "text": "I need a plumber.", "atMs": 2000}]);
        f.store
            .set_call_transcript(
                &c.id,
                "Agent: Hello, how can I help?\nCaller: I need a plumber.",
                &messages,
            )
            .await
            .expect("transcript");
        if let Some(ty) = action {
            f.store
                .add_tool_run(&ToolRun {
                    call_id: c.id.clone(),
                    tool_id: Some(format!("tool_{i}")),
                    name: "act".into(),
                    action: Some(json!({"actionType": ty, "name": format!("{ty} action"), "actionParameters": {"k": i}})),
                    arguments: json!({}),
                    result: "done".into(),
                    started_at: T0 + i as i64 * DAY + 5000,
                    finished_at: T0 + i as i64 * DAY + 6000,
                })
                .await
                .expect("run");
        }
        ids.push(c.id);
    }
    Calls { f, t, agent, ids }
}

async fn logs(c: &Calls, query: &str) -> (StatusCode, Value) {
    call(
        &c.f.app,
        seed(
            "GET",
            &format!(
                "/voice-ai/dashboard/call-logs?locationId={}{query}",
                c.f.biz
            ),
            &c.t,
            None,
        ),
    )
    .await
}

fn ids_of(page: &Value) -> Vec<String> {
    page["callLogs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn call_logs_show_the_calls_with_their_actions() {
    let c = calls().await;
    let (status, page) = logs(&c, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (
            page["total"].as_i64(),
            page["page"].as_i64(),
            page["pageSize"].as_i64()
        ),
        (Some(3), Some(1), Some(10))
    );
    // newest first by default
    assert_eq!(
        ids_of(&page),
        [c.ids[2].clone(), c.ids[1].clone(), c.ids[0].clone()]
    );
    let first = &page["callLogs"][2];
    assert_eq!(first["agentId"], c.agent.as_str());
    assert_eq!(first["isAgentDeleted"], false);
    assert_eq!(first["fromNumber"], "+14155550123");
    assert_eq!(first["duration"], 95);
    assert_eq!(first["trialCall"], false);
    assert_eq!(first["summary"], "call 0");
    assert_eq!(
        first["transcript"],
        "bot: Hello, how can I help?\nhuman: I need a plumber."
    );
    assert_eq!(
        first["extractedData"],
        json!({"field_email": "dana@example.com"})
    );
    assert_eq!(first["createdAt"], "2026-03-20T10:00:00Z");
    assert_eq!(
        first["executedCallActions"],
        json!([{"actionId": "tool_0", "actionType": "CALL_TRANSFER", "actionName": "CALL_TRANSFER action",
                "actionParameters": {"k": 0}, "triggerReceivedAt": "2026-03-20T10:00:05Z", "executedAt": "2026-03-20T10:00:06Z"}])
    );
    assert_eq!(
        page["callLogs"][0]["fromNumber"], "+12125550111",
        "outbound: the agent's number"
    );
    assert_eq!(
        page["callLogs"][1]["trialCall"], true,
        "a browser call is a trial"
    );
    // one by id
    let (status, one) = call(
        &c.f.app,
        seed(
            "GET",
            &format!(
                "/voice-ai/dashboard/call-logs/{}?locationId={}",
                c.ids[0], c.f.biz
            ),
            &c.t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&one, first);
    let (status, _) = call(
        &c.f.app,
        seed(
            "GET",
            &format!(
                "/voice-ai/dashboard/call-logs/call_nope?locationId={}",
                c.f.biz
            ),
            &c.t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // an agent deleted since
    let (status, _) = call(
        &c.f.app,
        seed(
            "DELETE",
            &format!("/voice-ai/agents/{}?locationId={}", c.agent, c.f.biz),
            &c.t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = logs(&c, "").await;
    assert_eq!(page["callLogs"][0]["isAgentDeleted"], true);
}

#[tokio::test]
async fn call_logs_filter_and_sort_as_the_seed_says() {
    let c = calls().await;
    let secs = |ms: i64| (ms / 1000).to_string();
    for (query, want) in [
        (format!("&agentId={}", c.agent), vec![2, 1, 0]),
        ("&agentId=agent_other".to_owned(), vec![]),
        ("&contactId=lead_1,lead_2".to_owned(), vec![2, 1]),
        ("&contactId=lead_1".to_owned(), vec![2]),
        ("&callType=TRIAL".to_owned(), vec![1]),
        ("&callType=LIVE".to_owned(), vec![2, 0]),
        ("&actionType=CALL_TRANSFER".to_owned(), vec![0]),
        ("&actionType=SMS,WORKFLOW_TRIGGER".to_owned(), vec![2]),
        // seconds and milliseconds alike
        (
            format!(
                "&startDate={}&endDate={}",
                secs(T0 + DAY / 2),
                secs(T0 + 3 * DAY)
            ),
            vec![2, 1],
        ),
        (
            format!("&startDate={}&endDate={}", T0 - 1, T0 + DAY / 2),
            vec![0],
        ),
        ("&sortBy=duration".to_owned(), vec![2, 0, 1]),
        ("&sortBy=duration&sort=ascend".to_owned(), vec![1, 0, 2]),
        ("&sortBy=createdAt&sort=ascend".to_owned(), vec![0, 1, 2]),
        // sort applies only with sortBy
        ("&sort=ascend".to_owned(), vec![2, 1, 0]),
        ("&pageSize=2&page=2".to_owned(), vec![0]),
    ] {
        let (status, page) = logs(&c, &query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        let want: Vec<String> = want.iter().map(|i: &usize| c.ids[*i].clone()).collect();
        assert_eq!(ids_of(&page), want, "{query}");
    }
    let (_, page) = logs(&c, "&pageSize=2").await;
    assert_eq!(page["total"], 3, "the total of all pages");
}

#[tokio::test]
async fn call_log_rules_are_enforced() {
    let c = calls().await;
    for (query, field) in [
        ("&pageSize=51", "pageSize"),
        ("&pageSize=0", "pageSize"),
        ("&page=0", "page"),
        ("&callType=TEST", "callType"),
        ("&startDate=1679308800", "endDate"),
        ("&endDate=1679308800", "startDate"),
        ("&startDate=1679395199&endDate=1679308800", "startDate"),
        ("&startDate=1679308800&endDate=1679308800", "startDate"),
        ("&startDate=soon&endDate=1679308800", "startDate"),
        ("&actionType=CALL_TRANSFER,TELEPORT", "actionType"),
        ("&sortBy=name", "sortBy"),
        ("&sortBy=duration&sort=up", "sort"),
    ] {
        let (status, res) = logs(&c, query).await;
        assert_invalid(status, &res, field, query);
    }
    let (status, res) = call(
        &c.f.app,
        seed("GET", "/voice-ai/dashboard/call-logs", &c.t, None),
    )
    .await;
    assert_invalid(status, &res, "locationId", "no locationId");
    // the dashboard scope, and another organization's location
    let narrow = token(&c.f, &c.f.narrow_id, &c.f.narrow_secret).await;
    let (status, _) = call(
        &c.f.app,
        seed(
            "GET",
            &format!("/voice-ai/dashboard/call-logs?locationId={}", c.f.biz),
            &narrow,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &c.f.app,
        seed(
            "GET",
            &format!(
                "/voice-ai/dashboard/call-logs/{}?locationId={}",
                c.ids[0], c.f.foreign_biz
            ),
            &c.t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
