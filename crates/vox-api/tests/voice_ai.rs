//! Seed 000's Voice AI agents through `Router::oneshot` on a real SQLite database: the same
//! agents seed 002's API reads, every rule the seed states, its error body and paging.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn an_agent_made_through_000_is_the_agent_002_reads() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (status, a) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "agentName": "Front Desk",
                "agentPrompt": "Answer questions about opening hours.",
                "maxCallDuration": 600, "patienceLevel": "high",
                "reminderAfterIdleTimeSeconds": 5,
                "agentWorkingHours": [{"dayOfTheWeek": 1, "intervals": [
                    {"startHour": 9, "startMinute": 0, "endHour": 17, "endMinute": 30}]}],
                "timezone": "America/Chicago"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().expect("id").to_owned();
    // the seed's defaults, and what it generates
    assert_eq!(a["locationId"], f.biz.as_str());
    assert_eq!(a["businessName"], "Acme Plumbing");
    assert_eq!(a["language"], "en-US");
    assert_eq!(a["sendUserIdleReminders"], true);
    assert_eq!(a["voiceId"], "piper-joe");
    assert_eq!(a["inboundNumber"], Value::Null);
    assert_eq!(a["translation"], json!({"enabled": false}));
    assert_eq!(a["callEndWorkflowIds"], json!([]));
    assert_eq!(a["isAgentAsBackupDisabled"], false);
    assert_eq!(a["actions"], json!([]));
    assert!(
        a["welcomeMessage"]
            .as_str()
            .is_some_and(|w| w.contains("Acme Plumbing")),
        "{a}"
    );
    assert_eq!(a["agentWorkingHours"][0]["intervals"][0]["endMinute"], 30);
    // seed 002 reads the same agent under its own names
    let (status, p) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/voice-agents/{id}", f.biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["name"], "Front Desk");
    assert_eq!(p["type"], "INBOUND");
    assert_eq!(
        p["conversationFlow"],
        "Answer questions about opening hours."
    );
    assert_eq!(p["maxCallDuration"], 600);
    assert_eq!(p["patienceLevel"], "high");
    assert_eq!(
        p["activatedHours"],
        json!({"timezone": "America/Chicago", "hours": [{"day": "monday", "startTime": "09:00", "endTime": "17:30"}]})
    );
    // a 002 PATCH keeps working on an agent carrying 000's fields, and keeps them
    let (status, p) = call(
        &f.app,
        partner(
            "PATCH",
            &format!("/v1/businesses/{}/voice-agents/{id}", f.biz),
            &t,
            &json!({"customInstructions": "Never quote prices.", "maxCallDuration": 240}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["patienceLevel"], "high");
    let (status, a) = call(
        &f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents/{id}?locationId={}", f.biz),
            &t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["maxCallDuration"], 240);
    assert_eq!(a["reminderAfterIdleTimeSeconds"], 5);
    assert_eq!(a["timezone"], "America/Chicago");
    // a 000 PATCH: a new prompt, working hours dropped (around the clock)
    let (status, a) = call(
        &f.app,
        seed(
            "PATCH",
            &format!("/voice-ai/agents/{id}?locationId={}", f.biz),
            &t,
            Some(&json!({"agentPrompt": "Book plumbing visits.", "agentWorkingHours": []})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["agentPrompt"], "Book plumbing visits.");
    assert_eq!(a["agentWorkingHours"], json!([]));
    let (_, p) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/voice-agents/{id}", f.biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(p["activatedHours"], Value::Null, "{p}");
    assert_eq!(p["customInstructions"], "Never quote prices.");
    assert!(
        p["workflow"]["nodes"][0]["prompt"] == "Book plumbing visits.",
        "the graph follows the new prompt: {p}"
    );
}

#[tokio::test]
async fn an_agent_made_through_002_shows_the_servers_call_settings() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (status, p) = call(
        &f.app,
        partner(
            "POST",
            &format!("/v1/businesses/{}/voice-agents", f.biz),
            &t,
            &json!({"name": "Plain", "type": "INBOUND", "conversationFlow": "Help."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let (status, a) = call(
        &f.app,
        seed(
            "GET",
            &format!(
                "/voice-ai/agents/{}?locationId={}",
                p["id"].as_str().expect("id"),
                f.biz
            ),
            &t,
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let defaults = vox_api::CallDefaults::default();
    assert_eq!(a["maxCallDuration"], defaults.max_call_duration_secs);
    assert_eq!(
        a["reminderAfterIdleTimeSeconds"],
        defaults.idle_reminder_after_secs
    );
    assert_eq!(a["agentName"], "Plain");
    assert_eq!(a["welcomeMessage"], "");
}

#[tokio::test]
async fn the_version_header_token_scope_and_location_are_checked() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let list = format!("/voice-ai/agents?locationId={}", f.biz);
    // no Version header
    let no_version = Request::get(&list)
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .body(Body::empty())
        .expect("request");
    let (status, body) = call(&f.app, no_version).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["statusCode"], 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Version")),
        "{body}"
    );
    let wrong = Request::get(&list)
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header("Version", "2021-07-28")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&f.app, wrong).await.0, StatusCode::BAD_REQUEST);
    // no token
    let anonymous = Request::get(&list)
        .header("Version", VERSION)
        .body(Body::empty())
        .expect("request");
    let (status, body) = call(&f.app, anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "Unauthorized");
    // a token without the seed's scope
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    let (status, body) = call(&f.app, seed("GET", &list, &narrow, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("voice-ai-agents.readonly"))
    );
    // a token asking only for the read scope cannot write
    let read_only = {
        let (status, body) = call(
            &f.app,
            form(&format!(
                "grant_type=client_credentials&client_id={}&client_secret={}&scope=voice-ai-agents.readonly",
                f.client_id, f.client_secret
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().expect("token").to_owned()
    };
    assert_eq!(
        call(&f.app, seed("GET", &list, &read_only, None)).await.0,
        StatusCode::OK
    );
    let (status, _) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &read_only,
            Some(&json!({"locationId": f.biz})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // another organization's location is refused like one that does not exist
    for location in [f.foreign_biz.as_str(), "biz_nonexistent"] {
        let (status, body) = call(
            &f.app,
            seed(
                "GET",
                &format!("/voice-ai/agents?locationId={location}"),
                &t,
                None,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["statusCode"], 403);
    }
    // locationId is required
    let (status, body) = call(&f.app, seed("GET", "/voice-ai/agents", &t, None)).await;
    assert_invalid(status, &body, "locationId", "list without locationId");
    let (status, body) = call(
        &f.app,
        seed("POST", "/voice-ai/agents", &t, Some(&json!({}))),
    )
    .await;
    assert_invalid(status, &body, "locationId", "create without locationId");
}

#[tokio::test]
async fn every_rule_of_the_seed_is_enforced() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let hours = |iv: Value| json!([{"dayOfTheWeek": 2, "intervals": [iv]}]);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"agentName": ""}), "agentName"),
        (json!({"agentName": "x".repeat(41)}), "agentName"),
        (json!({"businessName": ""}), "businessName"),
        (json!({"welcomeMessage": ""}), "welcomeMessage"),
        (json!({"welcomeMessage": "x".repeat(191)}), "welcomeMessage"),
        (json!({"agentPrompt": 5}), "agentPrompt"),
        (json!({"voiceId": "no-such-voice"}), "voiceId"),
        (json!({"language": "xx-XX"}), "language"),
        // a language this server has no speech stack for is refused, not spoken in English
        (json!({"language": "es"}), "language"),
        (json!({"patienceLevel": "extreme"}), "patienceLevel"),
        (json!({"maxCallDuration": 179}), "maxCallDuration"),
        (json!({"maxCallDuration": 901}), "maxCallDuration"),
        (json!({"maxCallDuration": "600"}), "maxCallDuration"),
        (
            json!({"sendUserIdleReminders": "yes"}),
            "sendUserIdleReminders",
        ),
        (
            json!({"reminderAfterIdleTimeSeconds": 0}),
            "reminderAfterIdleTimeSeconds",
        ),
        (
            json!({"reminderAfterIdleTimeSeconds": 21}),
            "reminderAfterIdleTimeSeconds",
        ),
        (json!({"inboundNumber": "212-555-0111"}), "inboundNumber"),
        (json!({"inboundNumber": "+13125550199"}), "inboundNumber"),
        (json!({"numberPoolId": "pool_nope"}), "numberPoolId"),
        (json!({"callEndWorkflowIds": "wf_1"}), "callEndWorkflowIds"),
        (json!({"callEndWorkflowIds": [""]}), "callEndWorkflowIds[0]"),
        (
            json!({"sendPostCallNotificationTo": {"customEmails": ["not-an-email"]}}),
            "customEmails[0]",
        ),
        (
            json!({"sendPostCallNotificationTo": {"admins": "yes"}}),
            "admins",
        ),
        (
            json!({"sendPostCallNotificationTo": {"pager": true}}),
            "pager",
        ),
        (
            json!({"agentWorkingHours": {"dayOfTheWeek": 1}}),
            "agentWorkingHours",
        ),
        (
            json!({"agentWorkingHours": [{"dayOfTheWeek": 0, "intervals": []}]}),
            "dayOfTheWeek",
        ),
        (
            json!({"agentWorkingHours": [{"dayOfTheWeek": 1}]}),
            "intervals",
        ),
        (
            json!({"agentWorkingHours": hours(json!({"startHour": 9, "startMinute": 0, "endHour": 24, "endMinute": 0}))}),
            "endHour",
        ),
        (
            json!({"agentWorkingHours": hours(json!({"startHour": 9, "startMinute": 0, "endHour": 17}))}),
            "endMinute",
        ),
        (
            json!({"agentWorkingHours": hours(json!({"startHour": 17, "startMinute": 0, "endHour": 9, "endMinute": 0}))}),
            "endHour",
        ),
        (json!({"timezone": "Mars/Olympus_Mons"}), "timezone"),
        (
            json!({"isAgentAsBackupDisabled": 1}),
            "isAgentAsBackupDisabled",
        ),
        // translation rule 1: only for an agent whose language is not en-US
        (
            json!({"translation": {"enabled": true, "language": "es"}}),
            "translation.enabled",
        ),
        (
            json!({"translation": {"language": "es"}}),
            "translation.enabled",
        ),
        (json!({"translation": "on"}), "translation"),
        (json!({"surprise": true}), "surprise"),
    ];
    for (extra, field) in cases {
        let mut body = json!({"locationId": f.biz});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, res) = call(&f.app, seed("POST", "/voice-ai/agents", &t, Some(&body))).await;
        assert_invalid(status, &res, field, &extra.to_string());
    }
    // nothing was made by the refused requests
    let (_, list) = call(
        &f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents?locationId={}", f.biz),
            &t,
            None,
        ),
    )
    .await;
    assert_eq!(list["total"], 0, "{list}");
    // the same rules on PATCH
    let (status, a) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert!(
        a["agentName"]
            .as_str()
            .is_some_and(|n| n.starts_with("My Agent ") && n.len() == 12),
        "{a}"
    );
    let path = format!(
        "/voice-ai/agents/{}?locationId={}",
        a["id"].as_str().expect("id"),
        f.biz
    );
    for (patch, field) in [
        (json!({"maxCallDuration": 1000}), "maxCallDuration"),
        (json!({"locationId": f.biz}), "locationId"),
        (
            json!({"translation": {"enabled": true, "language": "en-US"}}),
            "translation.enabled",
        ),
    ] {
        let (status, res) = call(&f.app, seed("PATCH", &path, &t, Some(&patch))).await;
        assert_invalid(status, &res, field, &patch.to_string());
    }
    let (status, res) = call(&f.app, seed("PATCH", &path, &t, Some(&json!([1])))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
}

#[tokio::test]
async fn translation_rules_on_a_server_that_speaks_other_languages() {
    let f = fixture_full(None, vox_api::SpeechLanguages::Any).await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let make = |extra: Value| {
        let mut body = json!({"locationId": f.biz, "language": "es"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        seed("POST", "/voice-ai/agents", &t, Some(&body))
    };
    // rule 3: the target language is required when enabled
    let (status, res) = call(&f.app, make(json!({"translation": {"enabled": true}}))).await;
    assert_invalid(status, &res, "translation.language", "no target");
    // rule 2: the agent's language or en-US
    let (status, res) = call(
        &f.app,
        make(json!({"translation": {"enabled": true, "language": "fr"}})),
    )
    .await;
    assert_invalid(status, &res, "translation.language", "fr");
    for ok in ["es", "en-US"] {
        let (status, res) = call(
            &f.app,
            make(json!({"translation": {"enabled": true, "language": ok}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{ok}: {res}");
        assert_eq!(res["translation"], json!({"enabled": true, "language": ok}));
        assert_eq!(res["language"], "es");
    }
}

#[tokio::test]
async fn agents_take_numbers_from_the_pool() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (status, a) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "agentName": "Line One", "inboundNumber": "+12125550111"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["inboundNumber"], "+12125550111");
    let id = a["id"].as_str().expect("id").to_owned();
    let (_, p) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/voice-agents/{id}", f.biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(
        (p["phoneNumber"].as_str(), p["onDuty"].as_bool()),
        (Some("+12125550111"), Some(true)),
        "{p}"
    );
    // the number is this agent's: another cannot take it, and the refused one is not made
    let (status, res) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "agentName": "Line Two", "inboundNumber": "+12125550111"})),
        ),
    )
    .await;
    assert_invalid(
        status,
        &res,
        "inboundNumber",
        "a number held by another agent",
    );
    // from a pool: the free number of that carrier
    let (status, b) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "agentName": "Line Two", "numberPoolId": "twilio"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(b["inboundNumber"], "+15125550122");
    assert_eq!(b["numberPoolId"], "twilio");
    // the pool is now empty
    let (status, res) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "numberPoolId": "twilio"})),
        ),
    )
    .await;
    assert_invalid(status, &res, "numberPoolId", "an exhausted pool");
    let (_, list) = call(
        &f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents?locationId={}", f.biz),
            &t,
            None,
        ),
    )
    .await;
    assert_eq!(list["total"], 2, "refused creations made nothing: {list}");
    // off the number, and onto it again
    let path = format!("/voice-ai/agents/{id}?locationId={}", f.biz);
    let (status, a) = call(
        &f.app,
        seed("PATCH", &path, &t, Some(&json!({"inboundNumber": null}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["inboundNumber"], Value::Null);
    let (status, a) = call(
        &f.app,
        seed(
            "PATCH",
            &path,
            &t,
            Some(&json!({"inboundNumber": "+12125550111"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["inboundNumber"], "+12125550111");
    // deleting gives the number back
    let (status, _) = call(&f.app, seed("DELETE", &path, &t, None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, res) = call(&f.app, seed("GET", &path, &t, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{res}");
    assert_eq!(res["statusCode"], 404);
    let (status, _) = call(&f.app, seed("DELETE", &path, &t, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, c) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": f.biz, "inboundNumber": "+12125550111"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "the number is free again: {c}");
}

#[tokio::test]
async fn lists_page_and_search_by_name() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    for name in ["Sales Desk", "Support Line", "Night Sales", "100% Agent"] {
        let (status, a) = call(
            &f.app,
            seed(
                "POST",
                "/voice-ai/agents",
                &t,
                Some(&json!({"locationId": f.biz, "agentName": name})),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
    }
    let list = |q: &str| {
        seed(
            "GET",
            &format!("/voice-ai/agents?locationId={}{q}", f.biz),
            &t,
            None,
        )
    };
    let (status, page) = call(&f.app, list("&pageSize=3")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (
            page["total"].as_i64(),
            page["page"].as_i64(),
            page["pageSize"].as_i64()
        ),
        (Some(4), Some(1), Some(3))
    );
    assert_eq!(page["agents"].as_array().map(Vec::len), Some(3));
    let (_, page2) = call(&f.app, list("&pageSize=3&page=2")).await;
    assert_eq!(page2["agents"][0]["agentName"], "100% Agent");
    let (_, sales) = call(&f.app, list("&query=sales")).await;
    assert_eq!(sales["total"], 2, "{sales}");
    let (_, pct) = call(&f.app, list("&query=%25")).await;
    assert_eq!(pct["total"], 1, "% matches itself: {pct}");
    for bad in [
        "&pageSize=51",
        "&pageSize=0",
        "&page=0",
        "&page=5001",
        "&page=two",
    ] {
        let (status, res) = call(&f.app, list(bad)).await;
        let field = if bad.contains("pageSize") {
            "pageSize"
        } else {
            "page"
        };
        assert_invalid(status, &res, field, bad);
    }
    // another organization sees none of them
    let (_, other) = call(
        &f.app,
        seed(
            "GET",
            &format!("/voice-ai/agents?locationId={}", f.foreign_biz),
            &t,
            None,
        ),
    )
    .await;
    assert_eq!(other["statusCode"], 403);
}

#[tokio::test]
async fn admin_create_grants_the_scopes_asked_for() {
    let f = fixture().await;
    let made = vox_api::admin::create(
        &f.store,
        "Initech",
        "Initech Voice",
        None,
        Some("voice-ai-agents.readonly voice-ai-dashboard.readonly"),
    )
    .await
    .expect("created");
    assert_eq!(
        made.scopes,
        "voice-ai-agents.readonly voice-ai-dashboard.readonly"
    );
    let t = token(&f, &made.client_id, &made.client_secret).await;
    let list = format!("/voice-ai/agents?locationId={}", made.business_id);
    assert_eq!(
        call(&f.app, seed("GET", &list, &t, None)).await.0,
        StatusCode::OK
    );
    let (status, _) = call(
        &f.app,
        seed(
            "POST",
            "/voice-ai/agents",
            &t,
            Some(&json!({"locationId": made.business_id})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no write scope");
    for bad in ["voice-ai-agents.read", "", "calls:read nonsense"] {
        let e = vox_api::admin::create(&f.store, "Initech", "Initech Voice", None, Some(bad))
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("scope"), "{bad:?}: {e}");
    }
    // every scope by default, the seeds' included
    let all = vox_api::admin::create(&f.store, "Umbrella", "Umbrella Voice", None, None)
        .await
        .expect("created");
    for s in [
        "voice-agents:read",
        "voice-ai-agents.write",
        "voice:read",
        "audio:download",
    ] {
        assert!(
            all.scopes.split(' ').any(|x| x == s),
            "{s} in {}",
            all.scopes
        );
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_seeds_dialect() {
    let f = fixture().await;
    let (status, doc) = call(&f.app, get("/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK);
    let list = &doc["paths"]["/voice-ai/agents"]["get"];
    assert_eq!(list["operationId"], "get-agents");
    let param = |name: &str| {
        list["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(param("Version")["in"], "header");
    assert_eq!(param("Version")["required"], true);
    assert_eq!(param("Version")["schema"]["enum"], json!([VERSION]));
    assert_eq!(param("locationId")["required"], true);
    assert_eq!(param("pageSize")["schema"]["maximum"], 50);
    assert_eq!(
        list["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LeadConnectorError"
    );
    assert_eq!(
        list["security"],
        json!([{"bearer": ["voice-ai-agents.readonly"]}])
    );
    // seed 002's routes keep their own shape
    let partner = &doc["paths"]["/v1/businesses/{business_id}/voice-agents"]["get"];
    assert_eq!(
        partner["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
    assert!(
        partner["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|p| p["name"] != "Version"))
    );
}
