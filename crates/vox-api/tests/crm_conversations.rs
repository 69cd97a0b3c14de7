//! Seed 003's conversations through `Router::oneshot` on a real SQLite database: a
//! conversation's contact found by its addresses (and updated) or created; one open
//! conversation per contact and funnel; bulk create and update reporting each item's issues
//! with the seed's codes; custom fields of conversations; a deleted contact taking its
//! conversations.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn conversations_find_or_make_their_contact() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (status, _) = call(
        &f.app,
        keyed("POST", "/api/v1/custom-fields/definitions", &key, Some(&json!({"entityType": "FUNNEL_CONVERSATION", "fieldKey": "stage", "fieldType": "STRING"}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, first) = call(
        &f.app,
        keyed("POST", "/api/v1/conversations", &key, Some(&json!({"funnelId": 1, "customFields": {"stage": "new"},
            "contact": {"firstName": "Pedro", "phones": ["+56912345678"], "emails": ["pedro@example.com"]}}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let contact = first["contactId"].as_i64().expect("contact");
    assert_eq!(first["contacts"][0]["id"], contact);
    assert_eq!(
        first["contacts"][0]["addresses"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        (
            first["funnelId"].as_i64(),
            first["customFields"]["stage"].as_str()
        ),
        (Some(1), Some("new"))
    );
    assert_eq!(first["channelSessions"], json!([]));
    // the same person by e-mail, in another funnel: found, and updated
    let (status, second) = call(
        &f.app,
        keyed("POST", "/api/v1/conversations", &key, Some(&json!({"funnelId": 2,
            "contact": {"lastName": "Gomez", "emails": ["pedro@example.com"], "phones": ["+56900000001"]}}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["contactId"], contact, "matched by address");
    assert_eq!(
        (
            second["contacts"][0]["firstName"].as_str(),
            second["contacts"][0]["lastName"].as_str()
        ),
        (Some("Pedro"), Some("Gomez"))
    );
    assert_eq!(
        second["contacts"][0]["addresses"].as_array().map(Vec::len),
        Some(3),
        "the new phone added"
    );
    // one open conversation per contact and funnel
    let (status, dup) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/conversations",
            &key,
            Some(&json!({"funnelId": 1, "contactId": contact})),
        ),
    )
    .await;
    assert_eq!(
        (status, dup["error"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT")),
        "{dup}"
    );
    let (status, missing) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/conversations",
            &key,
            Some(&json!({"funnelId": 1, "contactId": 999_999})),
        ),
    )
    .await;
    assert_eq!(
        (status, missing["details"]["field"].as_str()),
        (StatusCode::NOT_FOUND, Some("contactId")),
        "{missing}"
    );
    let (status, got) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/conversations/{}", first["id"]),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(
        (status, got["id"].clone()),
        (StatusCode::OK, first["id"].clone())
    );

    // bulk create: one made, one duplicate, one invalid, one not an object
    let (status, bulk) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/conversations/bulk",
            &key,
            Some(&json!({"conversations": [
                {"funnelId": 3, "contact": {"firstName": "Ana", "phones": ["+56911111111"]}},
                {"funnelId": 1, "contactId": contact},
                {"contact": {"firstName": "Nobody"}},
                7
            ]})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{bulk}");
    assert_eq!(
        bulk["report"]["counts"],
        json!({"successful": 1, "warnings": 1, "duplicates": 1, "errors": 2, "total": 4}),
        "{bulk}"
    );
    let issues = bulk["report"]["itemsIssues"].as_array().expect("issues");
    let summary: Vec<(i64, String, String)> = issues
        .iter()
        .map(|i| {
            let e = if i["errors"].as_array().is_some_and(|e| !e.is_empty()) {
                &i["errors"][0]
            } else {
                &i["warnings"][0]
            };
            (
                i["index"].as_i64().unwrap_or(-1),
                e["code"].as_str().unwrap_or_default().to_owned(),
                e["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                "DUPLICATE".to_owned(),
                "conversations[1].funnelId".to_owned()
            ),
            (
                2,
                "REQUIRED_FIELD".to_owned(),
                "conversations[2].funnelId".to_owned()
            ),
            (3, "INVALID_VALUE".to_owned(), "conversations[3]".to_owned()),
        ],
        "{bulk}"
    );
    assert_eq!(
        issues[0]["existingEntities"],
        json!({"conversationId": first["id"]})
    );

    // bulk update: archive the first, move the second, rename its contact; an unknown id
    let (status, upd) = call(
        &f.app,
        keyed("PUT", "/api/v1/conversations/bulk", &key, Some(&json!({"conversations": [
            {"id": first["id"], "archivedAt": "2024-02-15T10:00:00Z", "customFields": {"stage": "closed"}},
            {"id": second["id"], "funnelStatusId": 4, "contact": {"id": contact, "firstName": "Pedro Pablo"}},
            {"id": 999_999}
        ]}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{upd}");
    assert_eq!(upd["report"]["counts"]["successful"], 2, "{upd}");
    assert_eq!(
        upd["report"]["itemsIssues"][0]["errors"][0]["code"],
        "NOT_FOUND"
    );
    let (_, one) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/conversations/{}", first["id"]),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(
        (
            one["archivedAt"].as_str(),
            one["customFields"]["stage"].as_str()
        ),
        (Some("2024-02-15T10:00:00Z"), Some("closed"))
    );
    let (_, two) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/conversations/{}", second["id"]),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(
        (
            two["funnelStatusId"].as_i64(),
            two["contacts"][0]["firstName"].as_str()
        ),
        (Some(4), Some("Pedro Pablo"))
    );
    // archived, the first funnel takes a new conversation
    let (status, _) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/conversations",
            &key,
            Some(&json!({"funnelId": 1, "contactId": contact})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // the contact deleted takes its conversations
    let (status, _) = call(
        &f.app,
        keyed("DELETE", &format!("/api/v1/contacts/{contact}"), &key, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/conversations/{}", first["id"]),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_conversation_rule_is_enforced() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"contact": {"firstName": "A"}}),
            "funnelId",
            "funnelId is required",
        ),
        (
            json!({"funnelId": 0, "contact": {"firstName": "A"}}),
            "funnelId",
            "funnel 0",
        ),
        (json!({"funnelId": 1}), "contactId", "no contact given"),
        (
            json!({"funnelId": 1, "contact": {"phones": ["912"]}}),
            "contact.phones[0]",
            "a phone not in E.164",
        ),
        (
            json!({"funnelId": 1, "contact": {"emails": ["nope"]}}),
            "contact.emails[0]",
            "a bad e-mail",
        ),
        (
            json!({"funnelId": 1, "contact": {"nickname": "A"}}),
            "contact.nickname",
            "an unknown contact field",
        ),
        (
            json!({"funnelId": 1, "contact": {"firstName": "A", "customFields": {"x": 1}}}),
            "contact.customFields.x",
            "an undefined contact field",
        ),
        (
            json!({"funnelId": 1, "contact": {"firstName": "A"}, "customFields": {"x": 1}}),
            "customFields.x",
            "an undefined conversation field",
        ),
        (
            json!({"funnelId": 1, "contact": {"firstName": "A"}, "archivedAt": "soon"}),
            "archivedAt",
            "an archivedAt that is no time",
        ),
        (
            json!({"funnelId": 1, "contact": {"firstName": "A"}, "createdAt": 5}),
            "createdAt",
            "a createdAt that is no string",
        ),
        (
            json!({"funnelId": 1, "contact": {"firstName": "A"}, "stage": "x"}),
            "stage",
            "an unknown field",
        ),
    ];
    for (body, field, what) in &cases {
        let (status, b) = call(
            &f.app,
            keyed("POST", "/api/v1/conversations", &key, Some(body)),
        )
        .await;
        assert_bad(status, &b, field, what);
    }
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"funnelId": i + 1, "contactId": 1}))
        .collect();
    for (body, field, what) in [
        (json!({"conversations": []}), "conversations", "no items"),
        (
            json!({"conversations": many}),
            "conversations",
            "over 100 items",
        ),
        (
            json!({"conversations": {"funnelId": 1}}),
            "conversations",
            "not an array",
        ),
        (json!({}), "conversations", "conversations is required"),
        (
            json!({"conversations": [], "dryRun": true}),
            "dryRun",
            "an unknown field",
        ),
    ] {
        let (status, b) = call(
            &f.app,
            keyed("POST", "/api/v1/conversations/bulk", &key, Some(&body)),
        )
        .await;
        assert_bad(status, &b, field, what);
    }
    let (status, b) = call(
        &f.app,
        keyed(
            "PUT",
            "/api/v1/conversations/bulk",
            &key,
            Some(&json!({"conversations": [{"funnelStatusId": 2}]})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        b["report"]["itemsIssues"][0]["errors"][0]["field"], "conversations[0].id",
        "{b}"
    );
    assert_eq!(
        b["report"]["itemsIssues"][0]["errors"][0]["code"], "REQUIRED_FIELD",
        "{b}"
    );
}
