//! Seed 003's CRM through `Router::oneshot` on a real SQLite database: the tenant from an API
//! key or a token; custom-field definitions and LIST options; contacts with addresses and
//! typed custom fields, listed with filterBy / sortBy / page tokens and searched with
//! operators; a definition in use refused deletion (409) until forced; another tenant's
//! records not found. (Every rule of the bodies: `crm_rules.rs`.)

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn the_tenant_comes_from_an_api_key_or_a_token() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let (status, page) = call(&f.app, keyed("GET", "/api/v1/contacts", &key, None)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["totalCount"], 0);
    // the key as a bearer credential
    let (status, _) = call(&f.app, get("/api/v1/contacts", Some(&key))).await;
    assert_eq!(status, StatusCode::OK);
    // a token: the organization's only business
    let t = token(&f, &f.client_id, &f.client_secret).await;
    let (status, made) = call(
        &f.app,
        partner(
            "POST",
            "/api/v1/contacts",
            &t,
            &json!({"firstName": "Jane"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made["tenantId"], f.biz.as_str());
    // wrong credentials, in the seed's error shape
    let (status, body) = call(&f.app, keyed("GET", "/api/v1/contacts", "vk_nope", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        (body["code"].as_i64(), body["error"].as_str()),
        (Some(401), Some("UNAUTHORIZED"))
    );
    let (status, _) = call(&f.app, get("/api/v1/contacts", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // a second business: a token must name one
    f.store
        .create_business(&f.org, "Acme North", None)
        .await
        .expect("biz");
    let (status, body) = call(&f.app, get("/api/v1/contacts", Some(&t))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("X-Tenant-Id")
    );
    let named = Request::get("/api/v1/contacts")
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header("X-Tenant-Id", &f.biz)
        .body(Body::empty())
        .expect("request");
    let (status, page) = call(&f.app, named).await;
    assert_eq!(
        (status, page["totalCount"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let foreign = Request::get("/api/v1/contacts")
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header("X-Tenant-Id", &f.foreign_biz)
        .body(Body::empty())
        .expect("request");
    let (status, _) = call(&f.app, foreign).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another organization's business"
    );
    // a token without the scope
    let narrow = token(&f, &f.narrow_id, &f.narrow_secret).await;
    let named = Request::get("/api/v1/contacts")
        .header(header::AUTHORIZATION, format!("Bearer {narrow}"))
        .header("X-Tenant-Id", &f.biz)
        .body(Body::empty())
        .expect("request");
    let (status, _) = call(&f.app, named).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn contacts_hold_addresses_and_typed_custom_fields() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let defs = "/api/v1/custom-fields/definitions";
    let (status, source) = call(
        &f.app,
        keyed("POST", defs, &key, Some(&json!({"entityType": "CONTACT", "fieldKey": "source", "fieldType": "STRING", "fieldLabel": "Source"}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{source}");
    assert_eq!(
        (source["fieldKey"].as_str(), source["tenantId"].as_str()),
        (Some("source"), Some(f.biz.as_str()))
    );
    let (status, budget) = call(
        &f.app,
        keyed(
            "POST",
            defs,
            &key,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "budget", "fieldType": "NUMBER"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{budget}");
    let (status, tier) = call(
        &f.app,
        keyed(
            "POST",
            defs,
            &key,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "tier", "fieldType": "LIST"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tier}");
    let tier_id = tier["id"].as_i64().expect("numeric id");
    let options = format!("{defs}/{tier_id}/options");
    for v in ["gold", "silver"] {
        let (status, o) = call(
            &f.app,
            keyed(
                "POST",
                &options,
                &key,
                Some(&json!({"definitionId": tier_id, "value": v, "label": v.to_uppercase()})),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{o}");
    }
    // the seed's example, plus a WhatsApp address and typed fields
    let (status, jane) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/contacts",
            &key,
            Some(&json!({"firstName": "Jane", "lastName": "Doe", "customFields": {"source": "web", "budget": 500, "tier": "gold"},
                "addresses": [{"address": "+56912345678", "channelType": "PHONE"}, {"address": "+56912345678", "channelType": "WHATSAPP"},
                              {"address": "jane@example.com", "channelType": "EMAIL"}]})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{jane}");
    let jane_id = jane["id"].as_i64().expect("numeric id");
    assert_eq!(
        jane["customFields"],
        json!({"source": "web", "budget": 500, "tier": "gold"})
    );
    assert_eq!(jane["addresses"].as_array().map(Vec::len), Some(3));
    assert_eq!(jane["addresses"][1]["contactId"], jane_id);
    assert_eq!(
        (jane["phone"].as_str(), jane["email"].as_str()),
        (Some("+56912345678"), Some("jane@example.com")),
        "the legacy fields follow the addresses"
    );
    let (status, john) = call(
        &f.app,
        keyed("POST", "/api/v1/contacts", &key, Some(&json!({"firstName": "John", "lastName": "Roe", "phone": "+56987654321", "customFields": {"budget": 80, "tier": "silver"}}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{john}");
    assert_eq!(
        john["addresses"][0]["channelType"], "PHONE",
        "the legacy phone becomes an address"
    );
    let (status, _) = call(
        &f.app,
        keyed("POST", "/api/v1/contacts", &key, Some(&json!({"firstName": "Ana", "addresses": [{"address": "ana@example.org", "channelType": "EMAIL"}]}))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // update: only what is given changes; null clears a field
    let one = format!("/api/v1/contacts/{jane_id}");
    let (status, janet) = call(
        &f.app,
        keyed(
            "PUT",
            &one,
            &key,
            Some(
                &json!({"firstName": "Janet", "customFields": {"source": null, "tier": "silver"}}),
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{janet}");
    assert_eq!(
        (janet["firstName"].as_str(), janet["lastName"].as_str()),
        (Some("Janet"), Some("Doe"))
    );
    assert_eq!(
        janet["customFields"],
        json!({"budget": 500, "tier": "silver"})
    );
    assert_eq!(
        janet["addresses"], jane["addresses"],
        "addresses kept, with their ids"
    );

    // list: filterBy, sortBy, page tokens
    let (status, page) = call(
        &f.app,
        keyed(
            "GET",
            "/api/v1/contacts?filterBy=firstName:janet&sortBy=createdAt=desc",
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(
        (status, page["totalCount"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{page}"
    );
    let (_, page) = call(
        &f.app,
        keyed(
            "GET",
            "/api/v1/contacts?sortBy=firstName:asc&pageSize=2",
            &key,
            None,
        ),
    )
    .await;
    let names = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|c| c["firstName"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(names(&page), ["Ana", "Janet"]);
    let next = page["nextPageToken"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, page2) = call(
        &f.app,
        keyed(
            "GET",
            &format!("/api/v1/contacts?sortBy=firstName:asc&pageSize=2&pageToken={next}"),
            &key,
            None,
        ),
    )
    .await;
    assert_eq!(names(&page2), ["John"]);
    assert!(page2["nextPageToken"].is_null(), "{page2}");
    let (_, found) = call(
        &f.app,
        keyed("GET", "/api/v1/contacts?searchBy=roe", &key, None),
    )
    .await;
    assert_eq!(names(&found), ["John"]);

    // search: the seed's example, operators, or, custom fields
    let search = |body: Value| keyed("POST", "/api/v1/contacts/search", &key, Some(&body));
    let (status, hits) = call(
        &f.app,
        search(json!({"filters": [{"field": "addresses.address", "operator": "eq", "value": "+56912345678"}],
            "sort": [{"field": "createdAt", "direction": "desc"}], "size": 20, "includeTotalCount": "true"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    assert_eq!(
        (hits["totalCount"].as_i64(), hits["items"][0]["id"].as_str()),
        (Some(1), Some(jane_id.to_string().as_str()))
    );
    assert_eq!(hits["items"][0]["modelType"], "Contact");
    let (_, hits) = call(
        &f.app,
        search(
            json!({"filters": [{"field": "customFields.budget", "operator": "gte", "value": 100}]}),
        ),
    )
    .await;
    assert_eq!(names(&hits), ["Janet"]);
    assert!(hits.get("totalCount").is_none(), "only when asked for");
    let (_, hits) = call(
        &f.app,
        search(json!({"filters": [{"field": "addresses.address", "operator": "contains", "value": "example.org"},
            {"field": "customFields.tier", "operator": "eq", "value": "SILVER", "or": true}], "sort": [{"field": "firstName", "direction": "asc"}]})),
    )
    .await;
    assert_eq!(names(&hits), ["Ana", "Janet", "John"]);
    let (_, hits) = call(&f.app, search(json!({"filters": [{"field": "firstName", "operator": "startsWith", "value": "j"}, {"field": "customFields.tier", "operator": "neq", "value": "silver"}]}))).await;
    assert_eq!(names(&hits), Vec::<String>::new());
    let (_, hits) = call(&f.app, search(json!({"search": "56987"}))).await;
    assert_eq!(names(&hits), ["John"]);

    // a field in use is not deleted unless forced; its values go with it
    let budget_url = format!("{defs}/{}", budget["id"]);
    let (status, body) = call(&f.app, keyed("DELETE", &budget_url, &key, None)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        (body["code"].as_i64(), body["error"].as_str()),
        (Some(409), Some("CONFLICT"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("force=true"),
        "{body}"
    );
    let (status, gone) = call(
        &f.app,
        keyed("DELETE", &format!("{budget_url}?force=true"), &key, None),
    )
    .await;
    assert_eq!(
        (status, gone["fieldKey"].as_str()),
        (StatusCode::OK, Some("budget")),
        "{gone}"
    );
    let (_, now) = call(&f.app, keyed("GET", &one, &key, None)).await;
    assert_eq!(now["customFields"], json!({"tier": "silver"}));
    let (status, _) = call(&f.app, keyed("GET", &budget_url, &key, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // renaming an option carries its values; deleting one clears them
    let (_, opts) = call(
        &f.app,
        keyed("GET", &format!("{options}?sortBy=value=desc"), &key, None),
    )
    .await;
    assert_eq!(opts["items"][0]["value"], "silver", "{opts}");
    let silver = format!("{options}/{}", opts["items"][0]["id"]);
    let (status, o) = call(
        &f.app,
        keyed("PUT", &silver, &key, Some(&json!({"value": "platinum"}))),
    )
    .await;
    assert_eq!(
        (status, o["label"].as_str()),
        (StatusCode::OK, Some("SILVER")),
        "{o}"
    );
    let (_, now) = call(&f.app, keyed("GET", &one, &key, None)).await;
    assert_eq!(now["customFields"], json!({"tier": "platinum"}));
    let (status, _) = call(&f.app, keyed("DELETE", &silver, &key, None)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, now) = call(&f.app, keyed("GET", &one, &key, None)).await;
    assert_eq!(now["customFields"], json!({}));
    // delete answers the contact as it was
    let (status, gone) = call(&f.app, keyed("DELETE", &one, &key, None)).await;
    assert_eq!(
        (status, gone["firstName"].as_str()),
        (StatusCode::OK, Some("Janet"))
    );
    let (status, body) = call(&f.app, keyed("GET", &one, &key, None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn another_tenants_records_are_not_found() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let all: Vec<String> = vox_api::ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    let other = f
        .store
        .create_api_key(&f.foreign_biz, "other", &all)
        .await
        .expect("key")
        .key;
    let (_, c) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/contacts",
            &key,
            Some(&json!({"firstName": "Jane"})),
        ),
    )
    .await;
    let (_, d) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/custom-fields/definitions",
            &key,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "tier", "fieldType": "LIST"})),
        ),
    )
    .await;
    for path in [
        format!("/api/v1/contacts/{}", c["id"]),
        format!("/api/v1/custom-fields/definitions/{}", d["id"]),
        format!("/api/v1/custom-fields/definitions/{}/options", d["id"]),
    ] {
        let (status, _) = call(&f.app, keyed("GET", &path, &other, None)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let (status, _) = call(&f.app, keyed("DELETE", &path, &other, None)).await;
        assert!(
            matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "{path}: {status}"
        );
    }
    let (_, page) = call(&f.app, keyed("GET", "/api/v1/contacts", &other, None)).await;
    assert_eq!(page["totalCount"], 0);
    // the same key in another tenant is free
    let (status, _) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/custom-fields/definitions",
            &other,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "tier", "fieldType": "LIST"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn more_api_keys_with_their_own_scopes() {
    let f = fixture().await;
    let made = vox_api::admin::api_key(&f.store, &f.biz, "read only", Some("contacts:read"))
        .await
        .expect("key");
    assert_eq!(
        (made.business_id.as_str(), made.scopes.as_str()),
        (f.biz.as_str(), "contacts:read")
    );
    let (status, _) = call(
        &f.app,
        keyed("GET", "/api/v1/contacts", &made.api_key, None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, b) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/contacts",
            &made.api_key,
            Some(&json!({"firstName": "Jo"})),
        ),
    )
    .await;
    assert_eq!(
        (status, b["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
        "{b}"
    );
    for (biz, name, scopes) in [
        ("biz_missing", "x", None),
        (f.biz.as_str(), "", None),
        (f.biz.as_str(), "x", Some("contacts:delete")),
    ] {
        assert!(
            vox_api::admin::api_key(&f.store, biz, name, scopes)
                .await
                .is_err(),
            "{biz} {name:?} {scopes:?}"
        );
    }
}
