//! The API through `Router::oneshot` on a real SQLite database.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use support::partner as send;
use support::*;
use tower::ServiceExt as _;
use vox_api::ALL_SCOPES;

#[tokio::test]
async fn client_credentials_issue_scoped_tokens() {
    let f = fixture().await;
    // form body
    let (status, body) = call(
        &f.app,
        form(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            f.client_id, f.client_secret
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(
        body["scope"].as_str().map(|s| s.split(' ').count()),
        Some(ALL_SCOPES.len())
    );
    // JSON body, narrowed scope
    let json = serde_json::json!({"grant_type": "client_credentials", "client_id": f.client_id, "client_secret": f.client_secret, "scope": "voices:read"});
    let req = Request::post("/v1/oauth/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json.to_string()))
        .expect("request");
    let (status, body) = call(&f.app, req).await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (StatusCode::OK, Some("voices:read"))
    );
    // HTTP Basic
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", f.client_id, f.client_secret));
    let req = Request::post("/v1/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from("grant_type=client_credentials"))
        .expect("request");
    assert_eq!(call(&f.app, req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_token_requests_get_oauth_errors() {
    let f = fixture().await;
    for (body, status, error) in [
        (
            format!(
                "grant_type=client_credentials&client_id={}&client_secret=wrong",
                f.client_id
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id=cli_nobody&client_secret={}",
                f.client_secret
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=password&client_id={}&client_secret={}",
                f.client_id, f.client_secret
            ),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            format!(
                "client_id={}&client_secret={}",
                f.client_id, f.client_secret
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={}&client_secret={}&scope=voices:read",
                f.narrow_id, f.narrow_secret
            ),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            "grant_type=%zz".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (got, json) = call(&f.app, form(&body)).await;
        assert_eq!(
            (got, json["error"].as_str()),
            (status, Some(error)),
            "{body}: {json}"
        );
    }
    let req = Request::post("/v1/oauth/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    assert_eq!(call(&f.app, req).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn routes_need_a_valid_token_with_their_scope() {
    let f = fixture().await;
    let (status, body) = call(&f.app, get("/v1/voices", None)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
    );
    assert_eq!(
        call(&f.app, get("/v1/voices", Some("forged"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    let (status, body) = call(&f.app, get("/v1/voices", Some(&narrow))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("voices:read")),
        "{body}"
    );
    let full = token(&f, &f.client_id, &f.client_secret).await;
    let (status, body) = call(&f.app, get("/v1/voices", Some(&full))).await;
    assert_eq!(
        (status, body[0]["id"].as_str()),
        (StatusCode::OK, Some("piper-joe"))
    );
    assert_eq!(
        call(&f.app, get("/v1/voices/piper-joe", Some(&full)))
            .await
            .1["name"],
        "Joe"
    );
    assert_eq!(
        call(&f.app, get("/v1/voices/nobody", Some(&full))).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = call(&f.app, get("/v1/nothing-here", Some(&full))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn tool_templates_list_with_validated_pagination() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (status, body) = call(&f.app, get("/v1/tools", Some(&t))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            body["page"].as_u64(),
            body["page_size"].as_u64(),
            body["total"].as_u64()
        ),
        (Some(1), Some(10), Some(5))
    );
    let names: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "transferCall",
            "googleCal",
            "endCall",
            "function",
            "apiRequest"
        ]
    );
    assert!(
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|t| t["isTemplate"] == true && t["configSchema"].is_object())
    );
    let (_, page2) = call(&f.app, get("/v1/tools?page=2&page_size=2", Some(&t))).await;
    assert_eq!(page2["items"][0]["name"], "endCall");
    for (q, field) in [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page=0", "page"),
        ("page=x", "page"),
    ] {
        let (status, body) = call(&f.app, get(&format!("/v1/tools?{q}"), Some(&t))).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{q}: {body}"
        );
    }
    let (status, body) = call(&f.app, get("/v1/tools/template-transfer-call", Some(&t))).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::OK, Some("transferCall"))
    );
    assert_eq!(
        call(&f.app, get("/v1/tools/template-nope", Some(&t)))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tool_instances_crud_within_the_business() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/tools", f.biz);
    let transfer = serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {
        "destinations": [{"name": "Sales Team", "phoneNumber": "+15552345678", "description": "Main sales line", "warmTransferEnabled": true}],
        "messages": [{"type": "request-complete", "content": "https://example.com/audio/on-hold.mp3"}]}});
    let (status, tool) = call(&f.app, send("POST", &base, &t, &transfer)).await;
    assert_eq!(status, StatusCode::CREATED, "{tool}");
    assert_eq!(
        (
            tool["isTemplate"].as_bool(),
            tool["type"].as_str(),
            tool["businessId"].as_str()
        ),
        (Some(false), Some("transferCall"), Some(f.biz.as_str()))
    );
    assert_eq!(
        tool["effectiveConfig"]["destinations"][0]["name"],
        "Sales Team"
    );
    assert!(
        tool["effectiveConfig"]["message"].is_string(),
        "template config merged: {tool}"
    );
    let id = tool["id"].as_str().expect("id").to_owned();
    let (_, end) = call(
        &f.app,
        send(
            "POST",
            &base,
            &t,
            &serde_json::json!({"templateToolId": "template-end-call"}),
        ),
    )
    .await;
    let (status, list) = call(&f.app, get(&format!("{base}?page_size=1"), Some(&t))).await;
    assert_eq!(
        (
            status,
            list["total"].as_u64(),
            list["items"][0]["id"].as_str()
        ),
        (StatusCode::OK, Some(2), Some(id.as_str()))
    );
    let (status, patched) = call(
        &f.app,
        send(
            "PATCH",
            &format!("{base}/{id}"),
            &t,
            &serde_json::json!({"enabled": false, "message": "One moment."}),
        ),
    )
    .await;
    assert_eq!(
        (
            status,
            patched["enabled"].as_bool(),
            patched["message"].as_str()
        ),
        (StatusCode::OK, Some(false), Some("One moment."))
    );
    // another organization's business is invisible, for every verb
    let foreign = format!("/v1/businesses/{}/tools", f.foreign_biz);
    assert_eq!(
        call(&f.app, get(&foreign, Some(&t))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&f.app, send("POST", &foreign, &t, &transfer)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&f.app, get(&format!("{foreign}/{id}"), Some(&t)))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &f.app,
            send("DELETE", &format!("{foreign}/{id}"), &t, &Value::Null)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // delete
    let res = f
        .app
        .clone()
        .oneshot(send(
            "DELETE",
            &format!("{base}/{}", end["id"].as_str().expect("id")),
            &t,
            &Value::Null,
        ))
        .await
        .expect("res");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        call(
            &f.app,
            get(
                &format!("{base}/{}", end["id"].as_str().expect("id")),
                Some(&t)
            )
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // scopes: a token without tools:create cannot create
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    assert_eq!(
        call(&f.app, send("POST", &base, &narrow, &transfer))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn every_tool_validation_rule_names_its_field() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/tools", f.biz);
    let dest = |phone: &str| serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "Sales", "phoneNumber": phone}]}});
    let cal = |a: Value| serde_json::json!({"templateToolId": "template-google-calendar", "configOverride": {"appointmentConfig": a}});
    let cases: Vec<(Value, &str)> = vec![
        (serde_json::json!({}), "templateToolId"),
        (
            serde_json::json!({"templateToolId": "template-nope"}),
            "templateToolId",
        ),
        (
            serde_json::json!({"templateToolId": "template-end-call", "colour": "red"}),
            "colour",
        ),
        (
            serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": []}}),
            "configOverride.destinations",
        ),
        (
            serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {}}),
            "configOverride.destinations",
        ),
        (
            dest("5551234567"),
            "configOverride.destinations[0].phoneNumber",
        ),
        (
            dest("+441234567890"),
            "configOverride.destinations[0].phoneNumber",
        ),
        (
            dest("+10551234567"),
            "configOverride.destinations[0].phoneNumber",
        ),
        (
            dest("+15551034567"),
            "configOverride.destinations[0].phoneNumber",
        ),
        // a transfer is a dial too: no premium-rate, no +1 outside the US by default
        (
            dest("+15129761234"),
            "configOverride.destinations[0].phoneNumber",
        ),
        (
            dest("+12845550100"),
            "configOverride.destinations[0].phoneNumber",
        ),
        (
            serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"phoneNumber": "+15552345678"}]}}),
            "configOverride.destinations[0].name",
        ),
        (
            serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "a", "phoneNumber": "+15552345678"}], "messages": [{"type": "x", "content": "https://a.b/c"}]}}),
            "configOverride.messages[0].type",
        ),
        (
            serde_json::json!({"templateToolId": "template-function", "configOverride": {"name": "lookup"}}),
            "configOverride.serverUrl",
        ),
        (
            serde_json::json!({"templateToolId": "template-function", "configOverride": {"serverUrl": "ftp://x", "name": "lookup"}}),
            "configOverride.serverUrl",
        ),
        (
            serde_json::json!({"templateToolId": "template-function", "configOverride": {"serverUrl": "https://x.example", "name": "has space"}}),
            "configOverride.name",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "FETCH"}}),
            "configOverride.method",
        ),
        // tool names the model would confuse with a built-in tool
        (
            serde_json::json!({"templateToolId": "template-function", "configOverride": {"serverUrl": "https://x.example", "name": "endCall"}}),
            "configOverride.name",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "GET", "name": "scheduleAppointment"}}),
            "configOverride.name",
        ),
        // destinations the model could not tell apart
        (
            serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "Sales", "phoneNumber": "+15552345678"}, {"name": "sales ", "phoneNumber": "+15552345679"}]}}),
            "configOverride.destinations[1].name",
        ),
        // apiRequest templates: closed, names that are identifiers, never the host
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example/orders/{{orderId", "method": "GET"}}),
            "configOverride.url",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example/orders/{{order id}}", "method": "GET"}}),
            "configOverride.url",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://{{tenant}}.example/orders", "method": "GET"}}),
            "configOverride.url",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "POST", "headers": {"X-Key": 5}}}),
            "configOverride.headers.X-Key",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "POST", "headers": {"X {{h}}": "v"}}}),
            "configOverride.headers.X {{h}}",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "POST", "headers": {"Authorization": "Bearer {{}}"}}}),
            "configOverride.headers.Authorization",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "POST", "body": {"items": [{"sku": "{{sku"}]}}}),
            "configOverride.body.items[0].sku",
        ),
        (
            serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example", "method": "POST", "body": 42}}),
            "configOverride.body",
        ),
        // Google Calendar needs the integration first
        (cal(serde_json::json!({})), "templateToolId"),
    ];
    for (body, field) in &cases {
        let (status, err) = call(&f.app, send("POST", &base, &t, body)).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*field)),
            "{body}: {err}"
        );
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // with the integration, the appointment ranges are checked
    let integ = format!("/v1/businesses/{}/integrations/google-calendar", f.biz);
    assert_eq!(
        call(&f.app, get(&integ, Some(&t))).await.0,
        StatusCode::NOT_FOUND,
        "not set up yet"
    );
    let (status, err) = call(
        &f.app,
        send(
            "POST",
            &integ,
            &t,
            &serde_json::json!({"calendarId": "primary"}),
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("accessToken"))
    );
    let (status, made) = call(
        &f.app,
        send(
            "POST",
            &integ,
            &t,
            &serde_json::json!({"accessToken": "ya29.x", "calendarId": "primary"}),
        ),
    )
    .await;
    assert_eq!(
        (status, made["calendarId"].as_str()),
        (StatusCode::OK, Some("primary"))
    );
    assert!(made["aclRuleId"].is_string() && made["id"].is_string());
    assert_eq!(call(&f.app, get(&integ, Some(&t))).await.1, made);
    let a = "configOverride.appointmentConfig";
    for (config, field) in [
        (
            serde_json::json!({"slotDurationMinutes": 9}),
            format!("{a}.slotDurationMinutes"),
        ),
        (
            serde_json::json!({"slotDurationMinutes": 301}),
            format!("{a}.slotDurationMinutes"),
        ),
        (
            serde_json::json!({"slotBufferMinutes": -1}),
            format!("{a}.slotBufferMinutes"),
        ),
        (
            serde_json::json!({"slotBufferMinutes": 121}),
            format!("{a}.slotBufferMinutes"),
        ),
        (
            serde_json::json!({"advanceNoticeMinutes": 14401}),
            format!("{a}.advanceNoticeMinutes"),
        ),
        (
            serde_json::json!({"hoursJson": {"funday": []}}),
            format!("{a}.hoursJson.funday"),
        ),
        (
            serde_json::json!({"hoursJson": {"monday": [{"openTime": "17:00", "closeTime": "09:00"}]}}),
            format!("{a}.hoursJson.monday[0].openTime"),
        ),
        (
            serde_json::json!({"hoursJson": {"monday": [{"openTime": "9am", "closeTime": "17:00"}]}}),
            format!("{a}.hoursJson.monday[0].openTime"),
        ),
    ] {
        let (status, err) = call(&f.app, send("POST", &base, &t, &cal(config.clone()))).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field.as_str())),
            "{config}: {err}"
        );
    }
    let good = cal(
        serde_json::json!({"slotDurationMinutes": 60, "slotBufferMinutes": 15, "advanceNoticeMinutes": 1440, "hoursJson": {"monday": [{"openTime": "09:00", "closeTime": "17:00"}]}}),
    );
    let (status, tool) = call(&f.app, send("POST", &base, &t, &good)).await;
    assert_eq!(
        (status, tool["name"].as_str(), tool["type"].as_str()),
        (StatusCode::CREATED, Some("googleCal"), Some("apiRequest")),
        "{tool}"
    );
    // bodies that are not JSON objects
    for raw in ["", "[1]", "{bad"] {
        let req = Request::post(&base)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(raw))
            .expect("request");
        assert_eq!(
            call(&f.app, req).await.0,
            StatusCode::BAD_REQUEST,
            "{raw:?}"
        );
    }
}

#[tokio::test]
async fn voice_agents_are_validated_derived_and_scoped() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let hours = serde_json::json!({"timezone": "America/New_York", "hours": [
        {"day": "Monday", "startTime": "09:00", "endTime": "17:00"},
        {"day": "friday", "startTime": "09:00", "endTime": "24:00"},
        {"day": "saturday", "startTime": "CLOSED", "endTime": "CLOSED"}]});
    let body = serde_json::json!({
        "name": "Customer Service Agent", "type": "INBOUND",
        "conversationFlow": "Greet the caller warmly. Ask for their name and reason for calling.",
        "customInstructions": "Never give a quote over the phone.", "voiceId": "piper-joe",
        "personality": {"tone": "friendly", "style": "conversational", "useEmpathy": true},
        "firstMessage": "Hello! Thank you for calling.", "backgroundSound": "office", "collectFields": ["name", "phone"],
        "activatedHours": hours});
    let (status, agent) = call(&f.app, send("POST", &base, &t, &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["businessId"], f.biz.as_str());
    assert_eq!(
        agent["personality"]["useHumor"], false,
        "defaults filled in"
    );
    assert_eq!(
        agent["workflow"]["startNode"], "main",
        "a graph derived from the prose: {agent}"
    );
    assert!(
        agent.get("phoneNumber").is_none() && agent.get("onDuty").is_none(),
        "not deployed yet"
    );
    let days: Vec<&str> = agent["activatedHours"]["hours"]
        .as_array()
        .expect("hours")
        .iter()
        .filter_map(|h| h["day"].as_str())
        .collect();
    assert_eq!(
        days,
        ["monday", "friday"],
        "CLOSED days dropped, days lower-cased"
    );
    // automatic tools: endCall always, transferCall to the business's number
    let tool_ids: Vec<String> = agent["toolIds"]
        .as_array()
        .expect("toolIds")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mut names = Vec::new();
    for id in &tool_ids {
        let (_, tool) = call(
            &f.app,
            get(&format!("/v1/businesses/{}/tools/{id}", f.biz), Some(&t)),
        )
        .await;
        names.push(tool["name"].as_str().unwrap_or_default().to_owned());
        if tool["name"] == "transferCall" {
            assert_eq!(
                tool["configOverride"]["destinations"][0]["phoneNumber"],
                "+15125550100"
            );
        }
    }
    assert_eq!(names, ["endCall", "transferCall"]);

    // a workflow gets its prose; a custom transfer tool replaces the default one
    let (_, custom) = call(&f.app, send("POST", &format!("/v1/businesses/{}/tools", f.biz), &t, &serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "Sales", "phoneNumber": "+15552345678"}]}}))).await;
    let workflow = serde_json::json!({"name": "Router", "type": "OUTBOUND", "toolIds": [custom["id"]], "workflow": {
        "nodes": [{"id": "start", "type": "conversation", "prompt": "Greet and ask what they need", "label": "Greeting"}, {"id": "t", "type": "tool", "prompt": "transferCall"}],
        "edges": [{"from": "start", "to": "t", "when": "the caller wants sales"}], "startNode": "start"}});
    let (status, routed) = call(&f.app, send("POST", &base, &t, &workflow)).await;
    assert_eq!(status, StatusCode::CREATED, "{routed}");
    assert!(
        routed["conversationFlow"]
            .as_str()
            .is_some_and(|p| p.contains("Greet and ask what they need")
                && p.contains("the caller wants sales")),
        "{routed}"
    );
    assert_eq!(
        routed["toolIds"].as_array().map(Vec::len),
        Some(2),
        "custom transfer + endCall, no default transfer: {routed}"
    );

    // an agent's tools need names the model can tell apart
    let tools = format!("/v1/businesses/{}/tools", f.biz);
    let mut made = Vec::new();
    for o in [
        serde_json::json!({"templateToolId": "template-function", "configOverride": {"serverUrl": "https://x.example/a", "name": "orderStatus"}}),
        serde_json::json!({"templateToolId": "template-api-request", "configOverride": {"url": "https://x.example/orders/{{orderId}}?from={{ customerNumber }}", "method": "GET", "name": "orderStatus",
            "headers": {"Authorization": "Bearer {{callId}}"}, "body": {"items": [{"sku": "{{sku}}"}]}}}),
        serde_json::json!({"templateToolId": "template-transfer-call", "configOverride": {"destinations": [{"name": "Support", "phoneNumber": "+15552345670"}]}}),
    ] {
        let (status, tool) = call(&f.app, send("POST", &tools, &t, &o)).await;
        assert_eq!(status, StatusCode::CREATED, "{tool}");
        made.push(tool["id"].clone());
    }
    let mut clash = body.clone();
    clash["toolIds"] = serde_json::json!([made[0], made[1]]);
    let (status, err) = call(&f.app, send("POST", &base, &t, &clash)).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("toolIds[1]")),
        "two tools called orderStatus: {err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("orderStatus")),
        "{err}"
    );
    // two transfer tools are one transferCall to the model, with the destinations of both
    // (seed 000 gives an agent a CALL_TRANSFER action per person)
    clash["toolIds"] = serde_json::json!([custom["id"], made[0], made[2]]);
    let (status, ok) = call(&f.app, send("POST", &base, &t, &clash)).await;
    assert_eq!(status, StatusCode::CREATED, "two transferCall tools: {ok}");
    clash["toolIds"] = serde_json::json!([made[0], made[0], made[2]]);
    let (status, ok) = call(&f.app, send("POST", &base, &t, &clash)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the same tool twice is one tool: {ok}"
    );
    let (_, ok) = call(
        &f.app,
        send(
            "DELETE",
            &format!("{base}/{}", ok["id"].as_str().expect("id")),
            &t,
            &Value::Null,
        ),
    )
    .await;
    let _ = ok;

    // every rule names its field
    let with = |k: &str, v: Value| {
        let mut b = body.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("name", serde_json::json!("")), "name"),
        (with("name", serde_json::json!("x".repeat(41))), "name"),
        (with("type", serde_json::json!("BOTH")), "type"),
        (
            serde_json::json!({"name": "A", "type": "INBOUND"}),
            "conversationFlow",
        ),
        (
            with(
                "workflow",
                serde_json::json!({"nodes": [], "edges": [], "startNode": "nowhere"}),
            ),
            "workflow",
        ),
        (
            with(
                "workflow",
                serde_json::json!({"nodes": [{"id": "s", "type": "tool", "prompt": "orderPizza"}], "edges": [], "startNode": "s"}),
            ),
            "workflow.nodes[0].prompt",
        ),
        (with("voiceId", serde_json::json!("voice-nope")), "voiceId"),
        (
            with("toolIds", serde_json::json!(["tool_missing"])),
            "toolIds[0]",
        ),
        (with("toolIds", serde_json::json!([5])), "toolIds[0]"),
        (
            with("knowledgeBaseDocumentIds", serde_json::json!(["file-123"])),
            "knowledgeBaseDocumentIds[0]",
        ),
        (
            with("type", serde_json::json!("OUTBOUND")),
            "activatedHours",
        ),
        (
            with(
                "activatedHours",
                serde_json::json!({"timezone": "Mars/Olympus", "hours": []}),
            ),
            "activatedHours.timezone",
        ),
        (
            with(
                "activatedHours",
                serde_json::json!({"timezone": "UTC", "hours": [{"day": "funday", "startTime": "09:00", "endTime": "10:00"}]}),
            ),
            "activatedHours.hours[0].day",
        ),
        (
            with(
                "activatedHours",
                serde_json::json!({"timezone": "UTC", "hours": [{"day": "monday", "startTime": "17:00", "endTime": "09:00"}]}),
            ),
            "activatedHours.hours[0].startTime",
        ),
        (
            with(
                "activatedHours",
                serde_json::json!({"timezone": "UTC", "hours": [{"day": "monday", "startTime": "CLOSED", "endTime": "17:00"}]}),
            ),
            "activatedHours.hours[0].startTime",
        ),
        (
            with(
                "activatedHours",
                serde_json::json!({"timezone": "UTC", "hours": [{"day": "monday", "startTime": "9:00", "endTime": "17:00"}]}),
            ),
            "activatedHours.hours[0].startTime",
        ),
        (
            with("personality", serde_json::json!({"mood": "sunny"})),
            "personality.mood",
        ),
        (
            with("backgroundSound", serde_json::json!("jungle")),
            "backgroundSound",
        ),
        (
            with("collectFields", serde_json::json!("name")),
            "collectFields",
        ),
        (
            with("favouriteColour", serde_json::json!("blue")),
            "favouriteColour",
        ),
    ];
    for (b, field) in &cases {
        let (status, err) = call(&f.app, send("POST", &base, &t, b)).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*field)),
            "{field}: {err}"
        );
    }

    // PATCH re-validates the whole agent
    let one = format!("{base}/{}", agent["id"].as_str().expect("id"));
    let (status, renamed) = call(
        &f.app,
        send(
            "PATCH",
            &one,
            &t,
            &serde_json::json!({"name": "Front Desk"}),
        ),
    )
    .await;
    assert_eq!(
        (
            status,
            renamed["name"].as_str(),
            renamed["collectFields"][1].as_str()
        ),
        (StatusCode::OK, Some("Front Desk"), Some("phone"))
    );
    let (status, err) = call(
        &f.app,
        send("PATCH", &one, &t, &serde_json::json!({"type": "OUTBOUND"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("activatedHours")),
        "an INBOUND-only field stays: {err}"
    );
    let (_, list) = call(&f.app, get(&base, Some(&t))).await;
    assert_eq!(list["total"], 3, "with the one of two transfer tools");
    // another tenant sees nothing
    let foreign = format!("/v1/businesses/{}/voice-agents", f.foreign_biz);
    assert_eq!(
        call(&f.app, get(&foreign, Some(&t))).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&f.app, send("POST", &foreign, &t, &body)).await.0,
        StatusCode::NOT_FOUND
    );
    let res = f
        .app
        .clone()
        .oneshot(send("DELETE", &one, &t, &Value::Null))
        .await
        .expect("res");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        call(&f.app, get(&one, Some(&t))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deploy_assigns_pool_numbers_and_duty_toggles() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let make = |name: &str| serde_json::json!({"name": name, "type": "INBOUND", "conversationFlow": "Help the caller."});
    let mut ids = Vec::new();
    for n in ["One", "Two", "Three"] {
        let (status, a) = call(&f.app, send("POST", &base, &t, &make(n))).await;
        assert_eq!(status, StatusCode::CREATED);
        ids.push(a["id"].as_str().expect("id").to_owned());
    }
    let (status, err) = call(
        &f.app,
        send("PATCH", &format!("{base}/{}/on", ids[0]), &t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not deployed yet: {err}");
    let (status, a) = call(
        &f.app,
        send(
            "POST",
            &format!("{base}/{}/deploy", ids[0]),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(
        (status, a["phoneNumber"].as_str(), a["onDuty"].as_bool()),
        (StatusCode::OK, Some("+15125550122"), Some(true)),
        "area code of the business (512) first: {a}"
    );
    let (_, again) = call(
        &f.app,
        send(
            "POST",
            &format!("{base}/{}/deploy", ids[0]),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(
        again["phoneNumber"], a["phoneNumber"],
        "redeploy keeps the number"
    );
    let (_, off) = call(
        &f.app,
        send("PATCH", &format!("{base}/{}/off", ids[0]), &t, &Value::Null),
    )
    .await;
    assert_eq!(
        (off["onDuty"].as_bool(), off["phoneNumber"].as_str()),
        (Some(false), Some("+15125550122"))
    );
    let (_, on) = call(
        &f.app,
        send("PATCH", &format!("{base}/{}/on", ids[0]), &t, &Value::Null),
    )
    .await;
    assert_eq!(on["onDuty"], true);
    assert_eq!(
        call(&f.app, get(&format!("{base}/{}", ids[0]), Some(&t)))
            .await
            .1["phoneNumber"],
        "+15125550122"
    );
    let (_, b) = call(
        &f.app,
        send(
            "POST",
            &format!("{base}/{}/deploy", ids[1]),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(
        b["phoneNumber"], "+12125550111",
        "inbound numbers are one per agent"
    );
    let (status, err) = call(
        &f.app,
        send(
            "POST",
            &format!("{base}/{}/deploy", ids[2]),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT")),
        "pool exhausted: {err}"
    );
    // deleting an agent frees its number for the next
    let res = f
        .app
        .clone()
        .oneshot(send(
            "DELETE",
            &format!("{base}/{}", ids[1]),
            &t,
            &Value::Null,
        ))
        .await
        .expect("res");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, c) = call(
        &f.app,
        send(
            "POST",
            &format!("{base}/{}/deploy", ids[2]),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(
        (status, c["phoneNumber"].as_str()),
        (StatusCode::OK, Some("+12125550111"))
    );
    // another tenant cannot deploy or toggle
    let foreign = format!("/v1/businesses/{}/voice-agents/{}", f.foreign_biz, ids[0]);
    assert_eq!(
        call(
            &f.app,
            send("POST", &format!("{foreign}/deploy"), &t, &Value::Null)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &f.app,
            send("PATCH", &format!("{foreign}/off"), &t, &Value::Null)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_scheduler_follows_activated_hours_and_respects_manual_toggles() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let body = serde_json::json!({"name": "Day shift", "type": "INBOUND", "conversationFlow": "Help the caller.",
        "activatedHours": {"timezone": "America/New_York", "hours": [{"day": "monday", "startTime": "09:00", "endTime": "17:00"}]}});
    let (_, a) = call(&f.app, send("POST", &base, &t, &body)).await;
    let one = format!("{base}/{}", a["id"].as_str().expect("id"));
    call(
        &f.app,
        send("POST", &format!("{one}/deploy"), &t, &Value::Null),
    )
    .await;
    let duty = |f: &Fixture| {
        let (app, t, one) = (f.app.clone(), t.clone(), one.clone());
        async move { call(&app, get(&one, Some(&t))).await.1["onDuty"].as_bool() }
    };
    let at = |s: &str| s.parse::<jiff::Timestamp>().expect("time");
    // Monday 2026-11-23, 08:00 in New York: before hours -> off
    assert_eq!(
        vox_api::schedule::apply(&f.store, at("2026-11-23T13:00:00Z"))
            .await
            .expect("apply"),
        1
    );
    assert_eq!(duty(&f).await, Some(false));
    // a manual "on" holds until the next boundary
    call(
        &f.app,
        send("PATCH", &format!("{one}/on"), &t, &Value::Null),
    )
    .await;
    assert_eq!(
        vox_api::schedule::apply(&f.store, at("2026-11-23T13:30:00Z"))
            .await
            .expect("apply"),
        0
    );
    assert_eq!(duty(&f).await, Some(true));
    // 09:00 opens (already on: the decision is recorded), 17:00 closes
    vox_api::schedule::apply(&f.store, at("2026-11-23T14:00:00Z"))
        .await
        .expect("apply");
    assert_eq!(duty(&f).await, Some(true));
    assert_eq!(
        vox_api::schedule::apply(&f.store, at("2026-11-23T22:00:00Z"))
            .await
            .expect("apply"),
        1
    );
    assert_eq!(duty(&f).await, Some(false));
}

#[tokio::test]
async fn outbound_calls_are_validated_recorded_and_listed() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agents = format!("/v1/businesses/{}/voice-agents", f.biz);
    let (_, out) = call(&f.app, send("POST", &agents, &t, &serde_json::json!({"name": "Caller", "type": "OUTBOUND", "conversationFlow": "Offer a service visit."}))).await;
    let (_, inb) = call(
        &f.app,
        send(
            "POST",
            &agents,
            &t,
            &serde_json::json!({"name": "Desk", "type": "INBOUND", "conversationFlow": "Help."}),
        ),
    )
    .await;
    let dial = |agent: &Value| format!("{agents}/{}/call", agent["id"].as_str().expect("id"));
    let ok = serde_json::json!({"phoneNumber": "+15552345678", "name": "John Doe", "context": "Interested in plumbing", "additionalInfo": "Saw our ad", "imageUrls": ["https://example.com/1.jpg"]});
    // the seed's 400s, in its order of checks
    let (status, err) = call(&f.app, send("POST", &dial(&out), &t, &ok)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not deployed: {err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not deployed"))
    );
    call(
        &f.app,
        send(
            "POST",
            &format!("{}/deploy", dial(&out).trim_end_matches("/call")),
            &t,
            &Value::Null,
        ),
    )
    .await;
    call(
        &f.app,
        send(
            "PATCH",
            &format!("{}/off", dial(&out).trim_end_matches("/call")),
            &t,
            &Value::Null,
        ),
    )
    .await;
    let (status, err) = call(&f.app, send("POST", &dial(&out), &t, &ok)).await;
    assert!(
        status == StatusCode::BAD_REQUEST
            && err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("off duty")),
        "{err}"
    );
    call(
        &f.app,
        send(
            "PATCH",
            &format!("{}/on", dial(&out).trim_end_matches("/call")),
            &t,
            &Value::Null,
        ),
    )
    .await;
    let (status, err) = call(&f.app, send("POST", &dial(&inb), &t, &ok)).await;
    assert!(
        status == StatusCode::BAD_REQUEST
            && err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("OUTBOUND")),
        "{err}"
    );
    for (body, field) in [
        (serde_json::json!({}), "phoneNumber"),
        (
            serde_json::json!({"phoneNumber": "5552345678"}),
            "phoneNumber",
        ),
        (
            serde_json::json!({"phoneNumber": "+15551234567"}),
            "phoneNumber",
        ),
        // premium-rate, and +1 outside the US (Jamaica) unless api.dial_area_codes says so
        (
            serde_json::json!({"phoneNumber": "+19005550100"}),
            "phoneNumber",
        ),
        (
            serde_json::json!({"phoneNumber": "+18765550100"}),
            "phoneNumber",
        ),
        (
            serde_json::json!({"phoneNumber": "+15552345678", "imageUrls": ["not a url"]}),
            "imageUrls[0]",
        ),
        (
            serde_json::json!({"phoneNumber": "+15552345678", "colour": "red"}),
            "colour",
        ),
    ] {
        let (status, err) = call(&f.app, send("POST", &dial(&out), &t, &body)).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {err}"
        );
    }
    let (status, _) = call(
        &f.app,
        send(
            "POST",
            &dial(&out),
            &t,
            &serde_json::json!({"phoneNumber": "+15552345678", "leadId": "lead-123"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such lead");
    assert_eq!(
        call(
            &f.app,
            send("POST", &format!("{agents}/agent_nope/call"), &t, &ok)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // placed: the record exists with its context
    let (status, placed) = call(&f.app, send("POST", &dial(&out), &t, &ok)).await;
    assert_eq!(
        (
            status,
            placed["success"].as_bool(),
            placed["status"].as_str(),
            placed["phoneNumber"].as_str()
        ),
        (
            StatusCode::OK,
            Some(true),
            Some("initiated"),
            Some("+15552345678")
        ),
        "{placed}"
    );
    let id = placed["callId"].as_str().expect("callId");
    let (status, rec) = call(
        &f.app,
        get(&format!("/v1/businesses/{}/calls/{id}", f.biz), Some(&t)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            rec["type"].as_str(),
            rec["status"].as_str(),
            rec["customerNumber"].as_str()
        ),
        (Some("OUTBOUND"), Some("SCHEDULED"), Some("+15552345678"))
    );
    assert_eq!(
        (
            rec["leadContext"]["context"].as_str(),
            rec["leadContext"]["name"].as_str()
        ),
        (Some("Interested in plumbing"), Some("John Doe"))
    );
    assert_eq!(
        call(
            &f.app,
            get(&format!("/v1/organizations/calls/{id}"), Some(&t))
        )
        .await
        .1,
        rec
    );
    // the carrier refuses: 500 and a FAILED record
    let (status, err) = call(
        &f.app,
        send(
            "POST",
            &dial(&out),
            &t,
            &serde_json::json!({"phoneNumber": "+15559999999"}),
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("INTERNAL_ERROR"))
    );
    let (_, failed) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/calls?status=FAILED", f.biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(
        (
            failed["total"].as_u64(),
            failed["items"][0]["customerNumber"].as_str()
        ),
        (Some(1), Some("+15559999999"))
    );

    // history filters and their validation
    let (_, all) = call(
        &f.app,
        get(
            "/v1/organizations/calls?type=OUTBOUND&orderBy[field]=startedAt&orderBy[direction]=asc",
            Some(&t),
        ),
    )
    .await;
    assert_eq!(all["total"], 2);
    let (_, none) = call(
        &f.app,
        get(
            &format!("/v1/organizations/calls?businessId={}", f.foreign_biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(
        none["total"], 0,
        "another organization's business shows nothing"
    );
    for (q, field) in [
        ("type=BOTH", "type"),
        ("status=DONE", "status"),
        ("start=yesterday", "start"),
        ("end=2024-13-01", "end"),
        ("start=2024-02-01&end=2024-01-01", "start"),
        ("orderBy[field]=name", "orderBy.field"),
        ("orderBy[direction]=up", "orderBy.direction"),
        ("page_size=500", "page_size"),
    ] {
        let (status, err) = call(
            &f.app,
            get(&format!("/v1/organizations/calls?{q}"), Some(&t)),
        )
        .await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{q}: {err}"
        );
    }
    let (status, _) = call(
        &f.app,
        get(
            "/v1/organizations/calls?start=2024-01-15&end=2024-01-15T10:00:00Z",
            Some(&t),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "dates and times both parse");
    // another tenant's token cannot read this call; a token without calls:read neither
    assert_eq!(
        call(
            &f.app,
            get(
                &format!("/v1/businesses/{}/calls/{id}", f.foreign_biz),
                Some(&t)
            )
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let narrow_voice = token(&f, &f.narrow_id, &f.narrow_secret).await; // calls:read only
    assert_eq!(
        call(
            &f.app,
            get(
                &format!("/v1/organizations/calls/{id}"),
                Some(&narrow_voice)
            )
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&f.app, send("POST", &dial(&out), &narrow_voice, &ok))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

/// A `multipart/form-data` upload of one part named `field`.
fn upload(
    path: &str,
    token: &str,
    field: &str,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> Request<Body> {
    let boundary = "vox-test-boundary-7d1f";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request")
}

/// A one-page PDF showing `text` in a standard font.
fn pdf(text: &str) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding"});
    let resources_id = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font_id}});
    let ops = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 12.into()]),
        Operation::new("Td", vec![72.into(), 720.into()]),
        Operation::new("Tj", vec![Object::string_literal(text)]),
        Operation::new("ET", vec![]),
    ];
    let content_id = doc.add_object(Stream::new(
        dictionary! {},
        Content { operations: ops }.encode().expect("content"),
    ));
    let page_id = doc
        .add_object(dictionary! {"Type" => "Page", "Parent" => pages_id, "Contents" => content_id});
    let pages = dictionary! {"Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1, "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()]};
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("pdf");
    out
}

/// A minimal Word document with one paragraph per line of `paragraphs`.
fn docx(paragraphs: &[&str]) -> Vec<u8> {
    use std::io::Write as _;
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("[Content_Types].xml", opts).expect("zip");
    zip.write_all(b"<Types/>").expect("zip");
    zip.start_file("word/document.xml", opts).expect("zip");
    zip.write_all(xml.as_bytes()).expect("zip");
    zip.finish().expect("zip").into_inner()
}

/// Polls a file until it leaves `processing`.
async fn settled(f: &Fixture, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (status, body) = call(
            &f.app,
            get(&format!("/v1/businesses/{}/files/{id}", f.biz), Some(token)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] != "processing" {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("file {id} still processing after 5 s");
}

#[tokio::test]
async fn files_upload_extract_and_feed_the_knowledge_base_tool() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let files = format!("/v1/businesses/{}/files", f.biz);
    let chunk_text = |id: String| {
        let store = f.store.clone();
        let biz = f.biz.clone();
        async move {
            store
                .file_chunks(&biz, &id)
                .await
                .expect("chunks")
                .into_iter()
                .map(|c| c.text)
                .collect::<Vec<_>>()
                .join(" ")
        }
    };

    // the three formats, each read back from the stored chunks
    let cases: [(&str, &str, Vec<u8>, &str, &str); 4] = [
        (
            "hours.md",
            "text/markdown",
            b"# Hours\n\nWe are open Monday to Friday, 8 to 6.".to_vec(),
            "text/markdown",
            "open Monday to Friday",
        ),
        (
            "notes.txt",
            "text/plain",
            "Caf\u{e9} parking is free.".as_bytes().to_vec(),
            "text/plain",
            "Caf\u{e9} parking is free.",
        ),
        (
            "prices.pdf",
            "application/pdf",
            pdf("Drain cleaning costs 120 dollars."),
            "application/pdf",
            "Drain cleaning costs 120 dollars.",
        ),
        (
            "areas.docx",
            "application/octet-stream",
            docx(&[
                "We serve Austin &amp; Round Rock.",
                "Emergency line open 24/7.",
            ]),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Emergency line open 24/7.",
        ),
    ];
    let mut ready = Vec::new();
    for (name, ctype, bytes, mime, expect) in cases {
        let size = bytes.len();
        let (status, body) = call(&f.app, upload(&files, &t, "file", name, ctype, &bytes)).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(
            (
                body["name"].as_str(),
                body["mimeType"].as_str(),
                body["sizeBytes"].as_u64(),
                body["businessId"].as_str()
            ),
            (
                Some(name),
                Some(mime),
                Some(size as u64),
                Some(f.biz.as_str())
            ),
            "{body}"
        );
        assert_eq!(body["status"], "processing");
        let id = body["id"].as_str().expect("id").to_owned();
        let done = settled(&f, &t, &id).await;
        assert_eq!(done["status"], "ready", "{name}: {done}");
        let text = chunk_text(id.clone()).await;
        assert!(text.contains(expect), "{name}: {text:?}");
        ready.push(id);
    }
    assert!(
        chunk_text(ready[3].clone())
            .await
            .contains("Austin & Round Rock"),
        "entities decoded"
    );

    // bad uploads: the status the case deserves and the field at fault
    let (status, body) = call(
        &f.app,
        upload(
            &files,
            &t,
            "file",
            "logo.png",
            "image/png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("file")),
        "{body}"
    );
    let (status, body) = call(
        &f.app,
        upload(&files, &t, "file", "empty.txt", "text/plain", b""),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file")),
        "{body}"
    );
    let (status, body) = call(
        &f.app,
        upload(&files, &t, "document", "a.txt", "text/plain", b"hello"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("file")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("\"file\""),
        "{body}"
    );
    let (status, body) = call(
        &f.app,
        send("POST", &files, &t, &serde_json::json!({"file": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("multipart/form-data"),
        "{body}"
    );
    let big = vec![b'a'; (1 << 20) + 1];
    let (status, body) = call(
        &f.app,
        upload(&files, &t, "file", "big.txt", "text/plain", &big),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("file")),
        "{body}"
    );
    // a broken PDF is accepted, then fails with a reason
    let (status, body) = call(
        &f.app,
        upload(
            &files,
            &t,
            "file",
            "broken.pdf",
            "application/pdf",
            b"%PDF-1.4 not a pdf at all",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let broken = body["id"].as_str().expect("id").to_owned();
    let done = settled(&f, &t, &broken).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error"].as_str().expect("error").contains("PDF"),
        "{done}"
    );

    // scopes and tenants
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    let (status, _) = call(
        &f.app,
        upload(&files, &narrow, "file", "a.txt", "text/plain", b"hello"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &f.app,
        get(&format!("/v1/businesses/{}/files", f.foreign_biz), Some(&t)),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &f.app,
        get(&format!("{files}?page_size=2&page=2"), Some(&t)),
    )
    .await;
    assert_eq!(
        (
            status,
            body["total"].as_i64(),
            body["items"].as_array().map(Vec::len)
        ),
        (StatusCode::OK, Some(5), Some(2)),
        "{body}"
    );

    // agents: only ready files of this business; the knowledge-base tool follows the files
    let agents = format!("/v1/businesses/{}/voice-agents", f.biz);
    let agent = |kb: Value| serde_json::json!({"name": "Front desk", "type": "INBOUND", "conversationFlow": "Greet the caller and answer questions.", "knowledgeBaseDocumentIds": kb});
    for (kb, needle) in [
        (serde_json::json!([ready[0], broken]), "failed"),
        (serde_json::json!(["file_missing"]), "no file"),
    ] {
        let (status, body) = call(&f.app, send("POST", &agents, &t, &agent(kb))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["field"]
                .as_str()
                .expect("field")
                .starts_with("knowledgeBaseDocumentIds["),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(needle),
            "{body}"
        );
    }
    let (status, body) = call(
        &f.app,
        send(
            "POST",
            &agents,
            &t,
            &agent(serde_json::json!([ready[0], ready[2]])),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let agent_id = body["id"].as_str().expect("id").to_owned();
    let mut kb_tools = Vec::new();
    for id in body["toolIds"].as_array().expect("toolIds") {
        let (_, tool) = call(
            &f.app,
            get(
                &format!(
                    "/v1/businesses/{}/tools/{}",
                    f.biz,
                    id.as_str().expect("id")
                ),
                Some(&t),
            ),
        )
        .await;
        if tool["name"] == "knowledgeBaseQuery" {
            kb_tools.push(tool);
        }
    }
    assert_eq!(kb_tools.len(), 1, "one knowledge-base tool: {body}");
    let kb_tool = kb_tools[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        f.store
            .tool(&f.biz, &kb_tool)
            .await
            .expect("tool")
            .expect("exists")
            .config_override["fileIds"],
        serde_json::json!([ready[0], ready[2]])
    );
    // a used file cannot be deleted
    let (status, body) = call(
        &f.app,
        send("DELETE", &format!("{files}/{}", ready[0]), &t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains(&agent_id),
        "{body}"
    );
    // dropping the files drops the tool
    let (status, body) = call(
        &f.app,
        send(
            "PATCH",
            &format!("{agents}/{agent_id}"),
            &t,
            &serde_json::json!({"knowledgeBaseDocumentIds": []}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !body["toolIds"]
            .as_array()
            .expect("toolIds")
            .iter()
            .any(|v| v == kb_tool.as_str()),
        "{body}"
    );
    assert!(
        f.store
            .tool(&f.biz, &kb_tool)
            .await
            .expect("tool")
            .is_none(),
        "the automatic tool is deleted"
    );
    let (status, _) = call(
        &f.app,
        send("DELETE", &format!("{files}/{}", ready[0]), &t, &Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&f.app, get(&format!("{files}/{}", ready[0]), Some(&t))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &f.app,
        send(
            "DELETE",
            &format!("/v1/businesses/{}/files/{}", f.foreign_biz, ready[1]),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_that_exist() {
    let f = fixture().await;
    let (status, doc) = call(&f.app, get("/openapi.json", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let ops: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(ops, vox_api::openapi::operations().count());
    // every documented operation is routed (the fallback answers "route not found")
    for (_, op) in vox_api::openapi::operations() {
        let path = op.path.replace('{', "x").replace('}', "");
        let req = Request::builder()
            .method(op.method.to_uppercase().as_str())
            .uri(&path)
            .body(Body::empty())
            .expect("request");
        let (status, body) = call(&f.app, req).await;
        assert!(
            !(status == StatusCode::NOT_FOUND && body["error"]["message"] == "route not found"),
            "{} {} is documented but not routed",
            op.method,
            op.path
        );
        if op.scope.is_some() {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {} without a token",
                op.method,
                op.path
            );
        }
    }
    // and a route that is not documented is not routed either (the check above can fail)
    let (status, body) = call(&f.app, get("/v1/nothing-here", None)).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("route not found"))
    );
    let res = f
        .app
        .clone()
        .oneshot(get("/docs", None))
        .await
        .expect("docs");
    assert_eq!(res.status(), StatusCode::OK);
    let html = String::from_utf8(
        axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body")
            .to_vec(),
    )
    .expect("utf8");
    assert!(
        html.contains("/v1/businesses/{business_id}/voice-agents") && !html.contains("<script"),
        "offline page, no scripts"
    );
}

#[tokio::test]
async fn the_webhook_secret_is_shown_once_and_never_read_back() {
    let f = fixture().await;
    let all = token(&f, &f.client_id, &f.client_secret).await;
    let path = format!("/v1/businesses/{}/webhook", f.biz);
    let secret = "whsec_0123456789abcdefWXYZ";
    let (status, set) = call(
        &f.app,
        send(
            "PUT",
            &path,
            &all,
            &serde_json::json!({"url": "https://example.com/hooks", "secret": secret}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["secret"], secret, "whoever sets it sees it");
    let reader = f
        .store
        .create_client(&f.org, "reader", &["integrations:read".to_owned()])
        .await
        .expect("client");
    let read = token(&f, &reader.client_id, &reader.client_secret).await;
    for t in [&read, &all] {
        let (status, got) = call(&f.app, get(&path, Some(t))).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["url"], "https://example.com/hooks");
        assert_eq!(got["secretLast4"], "WXYZ");
        assert!(got.get("secret").is_none(), "{got}");
        assert!(!got.to_string().contains("0123456789abcdef"), "{got}");
    }
}

/// apiRequest header values (API keys, mostly) are never shown back; a PATCH that returns
/// the masked value keeps the key, one that sends a new value replaces it.
#[tokio::test]
async fn api_request_header_values_are_masked_in_answers() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/tools", f.biz);
    let key = "Bearer sk-live-0123456789abcdefQRST";
    let body = serde_json::json!({"templateToolId": "template-api-request", "configOverride": {
        "url": "https://x.example/orders", "method": "POST", "name": "orders",
        "headers": {"Authorization": key, "X-Short": "abc"}}});
    let (status, made) = call(&f.app, send("POST", &base, &t, &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();
    let path = format!("{base}/{id}");
    let (_, got) = call(&f.app, get(&path, Some(&t))).await;
    let (_, list) = call(&f.app, get(&base, Some(&t))).await;
    for answer in [&made, &got, &list] {
        assert!(!answer.to_string().contains("0123456789"), "{answer}");
    }
    for field in ["configOverride", "effectiveConfig"] {
        assert_eq!(got[field]["headers"]["Authorization"], "****QRST", "{got}");
        assert_eq!(got[field]["headers"]["X-Short"], "****", "{got}");
    }
    let stored = |f: &Fixture| {
        let (store, biz, id) = (f.store.clone(), f.biz.clone(), id.clone());
        async move {
            store
                .tool(&biz, &id)
                .await
                .expect("store")
                .expect("tool")
                .config_override["headers"]
                .clone()
        }
    };
    assert_eq!(stored(&f).await["Authorization"], key);

    // read, change one field, write back: the key stays
    let mut o = got["configOverride"].clone();
    o["timeoutMs"] = serde_json::json!(2000);
    let (status, patched) = call(
        &f.app,
        send(
            "PATCH",
            &path,
            &t,
            &serde_json::json!({"configOverride": o}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["configOverride"]["timeoutMs"], 2000);
    let headers = stored(&f).await;
    assert_eq!(
        (
            headers["Authorization"].as_str(),
            headers["X-Short"].as_str()
        ),
        (Some(key), Some("abc"))
    );

    // a new value replaces the key
    o["headers"]["Authorization"] = serde_json::json!("Bearer sk-live-rotated-9876543210");
    let (status, _) = call(
        &f.app,
        send(
            "PATCH",
            &path,
            &t,
            &serde_json::json!({"configOverride": o}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        stored(&f).await["Authorization"],
        "Bearer sk-live-rotated-9876543210"
    );
}

#[tokio::test]
async fn outbound_calls_are_limited_per_business() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agents = format!("/v1/businesses/{}/voice-agents", f.biz);
    let (_, out) = call(&f.app, send("POST", &agents, &t, &serde_json::json!({"name": "Caller", "type": "OUTBOUND", "conversationFlow": "Offer a service visit."}))).await;
    let agent = format!("{agents}/{}", out["id"].as_str().expect("id"));
    for step in ["deploy", "on"] {
        let method = if step == "on" { "PATCH" } else { "POST" };
        let (status, body) = call(
            &f.app,
            send(method, &format!("{agent}/{step}"), &t, &Value::Null),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{step}: {body}");
    }
    let dial = serde_json::json!({"phoneNumber": "+15552345678"});
    for i in 0..OUTBOUND_PER_MINUTE {
        let (status, body) = call(&f.app, send("POST", &format!("{agent}/call"), &t, &dial)).await;
        assert_eq!(status, StatusCode::OK, "call {i}: {body}");
    }
    let res = f
        .app
        .clone()
        .oneshot(send("POST", &format!("{agent}/call"), &t, &dial))
        .await
        .expect("response");
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=3).contains(&retry), "one call every 3 s: {retry}");
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    // an invalid request is refused for what it is, and uses up nothing
    let (status, _) = call(
        &f.app,
        send(
            "POST",
            &format!("{agent}/call"),
            &t,
            &serde_json::json!({"phoneNumber": "+19005550100"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Every operation that names a tenant's resource, asked by another organization's token
/// with every scope: 404 (never 2xx, 403 or a body carrying the other tenant's data), and
/// the other tenant's resources are unchanged afterwards.
#[tokio::test]
async fn another_organizations_resources_are_404_on_every_route_and_verb() {
    let f = fixture().await;
    let acme = token(&f, &f.client_id, &f.client_secret).await;
    let all: Vec<String> = ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    let globex_client = f
        .store
        .create_client(&f.foreign_org, "globex", &all)
        .await
        .expect("client");
    let globex = token(&f, &globex_client.client_id, &globex_client.client_secret).await;
    let gb = &f.foreign_biz;
    // Globex's own resources, made through the API as Globex would
    let (status, tool) = call(
        &f.app,
        send(
            "POST",
            &format!("/v1/businesses/{gb}/tools"),
            &globex,
            &serde_json::json!({"templateToolId": "template-end-call"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tool}");
    let (status, agent) = call(&f.app, send("POST", &format!("/v1/businesses/{gb}/voice-agents"), &globex, &serde_json::json!({"name": "Globex desk", "type": "OUTBOUND", "conversationFlow": "Book cleanings."}))).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let (status, _) = call(
        &f.app,
        send(
            "PUT",
            &format!("/v1/businesses/{gb}/webhook"),
            &globex,
            &serde_json::json!({"url": "https://globex.example/hooks"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let file = f
        .store
        .create_file(gb, "secrets.txt", "text/plain", 10)
        .await
        .expect("file");
    let globex_call = f
        .store
        .create_call(vox_store::CallRecord::new(
            gb,
            vox_store::CallKind::Outbound,
        ))
        .await
        .expect("call");
    let ids = [
        ("{tool_id}", tool["id"].as_str().expect("tool").to_owned()),
        (
            "{agent_id}",
            agent["id"].as_str().expect("agent").to_owned(),
        ),
        ("{file_id}", file.id.clone()),
        ("{call_id}", globex_call.id.clone()),
    ];
    let mut asked = 0;
    for (_, op) in vox_api::openapi::operations() {
        let tenant =
            op.path.contains("{business_id}") || op.path.starts_with("/v1/organizations/calls/");
        if !tenant {
            continue;
        }
        // Globex's business, and Acme's business with Globex's resource ids
        let mut paths = vec![op.path.replace("{business_id}", gb)];
        if op.path.contains("{business_id}/") && ids.iter().any(|(k, _)| op.path.contains(k)) {
            paths.push(op.path.replace("{business_id}", &f.biz));
        }
        for path in paths {
            let path = ids.iter().fold(path, |p, (k, v)| p.replace(k, v));
            if path.contains('{') {
                continue; // a tenant-free parameter (none today)
            }
            // bodies valid enough to reach the lookup (validation may come first)
            let body = if op.path.ends_with("/call") {
                serde_json::json!({"phoneNumber": "+15552345678"})
            } else {
                serde_json::json!({})
            };
            let req = if op.path.ends_with("/files") && op.method == "post" {
                upload(&path, &acme, "file", "notes.txt", "text/plain", b"hello")
            } else {
                send(&op.method.to_uppercase(), &path, &acme, &body)
            };
            let (status, body) = call(&f.app, req).await;
            asked += 1;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{} {path}: {body}",
                op.method
            );
            let text = body.to_string();
            for leak in ["Globex", "globex.example", "secrets.txt"] {
                assert!(
                    !text.contains(leak),
                    "{} {path} shows {leak}: {text}",
                    op.method
                );
            }
        }
    }
    assert!(asked >= 30, "the matrix covered {asked} requests");
    // nothing of Globex's was changed or removed by the attempts
    for path in [
        format!("/v1/businesses/{gb}/tools/{}", ids[0].1),
        format!("/v1/businesses/{gb}/voice-agents/{}", ids[1].1),
        format!("/v1/businesses/{gb}/files/{}", ids[2].1),
        format!("/v1/businesses/{gb}/calls/{}", ids[3].1),
        format!("/v1/businesses/{gb}/webhook"),
    ] {
        let (status, body) = call(&f.app, get(&path, Some(&globex))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, agent_now) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{gb}/voice-agents/{}", ids[1].1),
            Some(&globex),
        ),
    )
    .await;
    assert_eq!(agent_now["name"], "Globex desk");
    assert!(
        agent_now["phoneNumber"].is_null(),
        "not deployed by Acme: {agent_now}"
    );
}

/// A browser call to an API agent: its record exists at once (SCHEDULED, channel web), the
/// answer says where and with what to connect; scope, tenant and agent are checked; minted
/// calls nobody connected expire.
#[tokio::test]
async fn web_calls_are_minted_for_the_business_agents_only() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let agents = format!("/v1/businesses/{}/voice-agents", f.biz);
    let (status, agent) = call(
        &f.app,
        send(
            "POST",
            &agents,
            &t,
            &serde_json::json!({"name": "Web desk", "type": "INBOUND", "conversationFlow": "Help the caller."}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let id = agent["id"].as_str().expect("id");
    let path = format!("{agents}/{id}/web-call");
    let (status, grant) = call(&f.app, send("POST", &path, &t, &Value::Null)).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let call_id = grant["callId"].as_str().expect("callId");
    assert_eq!(
        grant["whipUrl"],
        format!("https://vox.example/whip/{id}?callId={call_id}")
    );
    assert_eq!(grant["token"], format!("tok-{call_id}"));
    // the browser's STUN/TURN servers come with the grant (webrtc.ice_servers)
    assert_eq!(
        grant["iceServers"][0]["urls"][0], "stun:stun.example.org:3478",
        "{grant}"
    );
    assert!(
        grant["expiresAt"]
            .as_str()
            .is_some_and(|s| s.starts_with("2100-")),
        "{grant}"
    );
    let (status, record) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/calls/{call_id}", f.biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(
        (
            record["channel"].as_str(),
            record["status"].as_str(),
            record["type"].as_str()
        ),
        (Some("web"), Some("SCHEDULED"), Some("INBOUND"))
    );
    // an unknown agent, another organization's business, a token without the scope
    let (status, _) = call(
        &f.app,
        send(
            "POST",
            &format!("{agents}/agent_nope/web-call"),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &f.app,
        send(
            "POST",
            &format!(
                "/v1/businesses/{}/voice-agents/{id}/web-call",
                f.foreign_biz
            ),
            &t,
            &Value::Null,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    let (status, _) = call(&f.app, send("POST", &path, &narrow, &Value::Null)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // never connected: expired once its token's life is over
    let now = vox_store::now_ms();
    assert_eq!(
        f.store
            .expire_web_calls(now - 60_000, now)
            .await
            .expect("expire"),
        0,
        "still young"
    );
    assert_eq!(
        f.store
            .expire_web_calls(now + 1, now)
            .await
            .expect("expire"),
        1
    );
    let (_, record) = call(
        &f.app,
        get(
            &format!("/v1/businesses/{}/calls/{call_id}", f.biz),
            Some(&t),
        ),
    )
    .await;
    assert_eq!(
        (record["status"].as_str(), record["endedReason"].as_str()),
        (Some("FAILED"), Some("expired"))
    );
}

#[tokio::test]
async fn agents_take_the_models_call_settings() {
    let f = fixture().await;
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let base = format!("/v1/businesses/{}/voice-agents", f.biz);
    let agent = |extra: Value| {
        let mut body =
            serde_json::json!({"name": "Desk", "type": "INBOUND", "conversationFlow": "Help."});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    let (status, a) = call(
        &f.app,
        send(
            "POST",
            &base,
            &t,
            &agent(serde_json::json!({"patienceLevel": "low", "maxCallDuration": 600, "sendUserIdleReminders": false})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(
        (
            a["patienceLevel"].as_str(),
            a["maxCallDuration"].as_i64(),
            a["sendUserIdleReminders"].as_bool()
        ),
        (Some("low"), Some(600), Some(false))
    );
    for (extra, field) in [
        (
            serde_json::json!({"maxCallDuration": 60}),
            "maxCallDuration",
        ),
        (serde_json::json!({"patienceLevel": "zen"}), "patienceLevel"),
        (serde_json::json!({"language": "es"}), "language"),
        (
            serde_json::json!({"reminderAfterIdleTimeSeconds": 30}),
            "reminderAfterIdleTimeSeconds",
        ),
    ] {
        let (status, e) = call(&f.app, send("POST", &base, &t, &agent(extra.clone()))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {e}");
        assert_eq!(e["error"]["field"], field, "{extra}: {e}");
    }
}
