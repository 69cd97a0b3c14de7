//! Every rule of seed 003's CRM bodies, queries and searches, answered 400 in the seed's
//! `{code, error, message, details}` naming the field (409 for a taken key or value, or the
//! type of a field in use).

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn every_rule_of_the_bodies_is_enforced() {
    let f = fixture().await;
    let key = api_key(&f).await;
    let defs = "/api/v1/custom-fields/definitions";
    let (_, list_def) = call(
        &f.app,
        keyed(
            "POST",
            defs,
            &key,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "tier", "fieldType": "LIST"})),
        ),
    )
    .await;
    let (_, text_def) = call(
        &f.app,
        keyed(
            "POST",
            defs,
            &key,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "note", "fieldType": "STRING"})),
        ),
    )
    .await;
    for (name, number) in [("flag", "BOOLEAN"), ("since", "DATE"), ("score", "NUMBER")] {
        let (status, _) = call(
            &f.app,
            keyed(
                "POST",
                defs,
                &key,
                Some(&json!({"entityType": "CONTACT", "fieldKey": name, "fieldType": number})),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let definitions: &[(Value, &str, &str)] = &[
        (
            json!({"fieldKey": "a", "fieldType": "STRING"}),
            "entityType",
            "entityType is required",
        ),
        (
            json!({"entityType": "LEAD", "fieldKey": "a", "fieldType": "STRING"}),
            "entityType",
            "an entity type the seed lacks",
        ),
        (
            json!({"entityType": "CONTACT", "fieldType": "STRING"}),
            "fieldKey",
            "fieldKey is required",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "9lives", "fieldType": "STRING"}),
            "fieldKey",
            "a key not starting with a letter",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a b", "fieldType": "STRING"}),
            "fieldKey",
            "a key with a space",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a"}),
            "fieldType",
            "fieldType is required",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a", "fieldType": "JSON"}),
            "fieldType",
            "a type the seed lacks",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a", "fieldType": "STRING", "colour": "red"}),
            "colour",
            "an unknown field",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a", "fieldType": "STRING", "fieldLabel": "x".repeat(201)}),
            "fieldLabel",
            "a long label",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a", "fieldType": "STRING", "id": 7}),
            "id",
            "an id on create",
        ),
        (
            json!({"entityType": "CONTACT", "fieldKey": "a", "fieldType": "STRING", "tenantId": "biz_other"}),
            "tenantId",
            "another tenant",
        ),
    ];
    for (body, field, what) in definitions {
        let (status, b) = call(&f.app, keyed("POST", defs, &key, Some(body))).await;
        assert_bad(status, &b, field, what);
    }
    let (status, b) = call(
        &f.app,
        keyed(
            "POST",
            defs,
            &key,
            Some(&json!({"entityType": "CONTACT", "fieldKey": "tier", "fieldType": "STRING"})),
        ),
    )
    .await;
    assert_eq!(
        (status, b["error"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT")),
        "a taken key: {b}"
    );
    let list_id = list_def["id"].as_i64().expect("id");
    let options = format!("{defs}/{list_id}/options");
    let (status, _) = call(
        &f.app,
        keyed(
            "POST",
            &options,
            &key,
            Some(&json!({"definitionId": list_id, "value": "gold"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let option_rules: &[(Value, &str, &str)] = &[
        (
            json!({"value": "x"}),
            "definitionId",
            "definitionId is required",
        ),
        (
            json!({"definitionId": list_id + 1, "value": "x"}),
            "definitionId",
            "another definition's id",
        ),
        (
            json!({"definitionId": list_id}),
            "value",
            "value is required",
        ),
        (
            json!({"definitionId": list_id, "value": "x".repeat(201)}),
            "value",
            "a long value",
        ),
    ];
    for (body, field, what) in option_rules {
        let (status, b) = call(&f.app, keyed("POST", &options, &key, Some(body))).await;
        assert_bad(status, &b, field, what);
    }
    let (status, b) = call(
        &f.app,
        keyed(
            "POST",
            &options,
            &key,
            Some(&json!({"definitionId": list_id, "value": "gold"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a taken value: {b}");
    let (status, b) = call(
        &f.app,
        keyed(
            "POST",
            &format!("{defs}/{}/options", text_def["id"]),
            &key,
            Some(&json!({"definitionId": text_def["id"], "value": "x"})),
        ),
    )
    .await;
    assert_bad(status, &b, "definitionId", "options of a STRING field");
    let contacts: &[(Value, &str, &str)] = &[
        (json!({"email": "not-an-address"}), "email", "a bad e-mail"),
        (
            json!({"phone": "912345678"}),
            "phone",
            "a phone not in E.164",
        ),
        (
            json!({"addresses": [{"address": "+56912345678", "channelType": "FAX"}]}),
            "addresses[0].channelType",
            "an unknown channel",
        ),
        (
            json!({"addresses": [{"address": "12", "channelType": "WHATSAPP"}]}),
            "addresses[0].address",
            "a WhatsApp address not in E.164",
        ),
        (
            json!({"addresses": [{"channelType": "PHONE"}]}),
            "addresses[0].address",
            "an address is required",
        ),
        (
            json!({"addresses": [{"address": "x@example.com", "channelType": "EMAIL", "primary": true}]}),
            "addresses[0].primary",
            "an unknown address field",
        ),
        (
            json!({"customFields": {"nickname": "Jo"}}),
            "customFields.nickname",
            "an undefined custom field",
        ),
        (
            json!({"customFields": {"tier": "bronze"}}),
            "customFields.tier",
            "a value not among the options",
        ),
        (
            json!({"customFields": {"flag": "yes"}}),
            "customFields.flag",
            "a BOOLEAN given text",
        ),
        (
            json!({"customFields": {"since": "last week"}}),
            "customFields.since",
            "a DATE that is no date",
        ),
        (
            json!({"customFields": {"score": "high"}}),
            "customFields.score",
            "a NUMBER given text",
        ),
        (
            json!({"customFields": {"note": 5}}),
            "customFields.note",
            "a STRING given a number",
        ),
        (json!({"userId": -1}), "userId", "a negative userId"),
        (
            json!({"createdAt": "yesterday"}),
            "createdAt",
            "a createdAt that is no time",
        ),
        (
            json!({"firstName": 7}),
            "firstName",
            "a name that is no string",
        ),
        (json!({"nickname": "Jo"}), "nickname", "an unknown field"),
    ];
    for (body, field, what) in contacts {
        let (status, b) = call(&f.app, keyed("POST", "/api/v1/contacts", &key, Some(body))).await;
        assert_bad(status, &b, field, what);
    }
    let (_, c) = call(
        &f.app,
        keyed(
            "POST",
            "/api/v1/contacts",
            &key,
            Some(&json!({"firstName": "Jane", "customFields": {"note": "hi"}})),
        ),
    )
    .await;
    let (status, b) = call(
        &f.app,
        keyed(
            "PUT",
            &format!("/api/v1/contacts/{}", c["id"]),
            &key,
            Some(&json!({"id": 999_999})),
        ),
    )
    .await;
    assert_bad(status, &b, "id", "an id that is not the path's");
    // the type of a field holding values does not change
    let (status, b) = call(
        &f.app,
        keyed(
            "PUT",
            &format!("{defs}/{}", text_def["id"]),
            &key,
            Some(&json!({"fieldType": "NUMBER"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");
    let queries: &[(&str, &str, &str)] = &[
        ("/api/v1/contacts/abc", "id", "a path id that is no number"),
        (
            "/api/v1/contacts?pageSize=0",
            "pageSize",
            "a page size of 0",
        ),
        (
            "/api/v1/contacts?pageSize=101",
            "pageSize",
            "a page size over 100",
        ),
        (
            "/api/v1/contacts?pageToken=Xde34567890",
            "pageToken",
            "a page token this API did not give",
        ),
        (
            "/api/v1/contacts?filterBy=nickname:Jo",
            "filterBy",
            "an unknown filter field",
        ),
        (
            "/api/v1/contacts?sortBy=createdAt=up",
            "sortBy",
            "a bad direction",
        ),
        (
            "/api/v1/custom-fields/definitions?filterBy=entityType:LEAD",
            "filterBy",
            "an unknown entity type",
        ),
        (
            "/api/v1/custom-fields/definitions?sortBy=colour",
            "sortBy",
            "an unknown sort field",
        ),
        (
            "/api/v1/custom-fields/definitions?tenantId=biz_other",
            "tenantId",
            "another tenant",
        ),
        (
            "/api/v1/custom-fields/definitions/1?force=maybe",
            "force",
            "force that is no boolean",
        ),
    ];
    for (path, field, what) in queries {
        let method = if path.contains("force") {
            "DELETE"
        } else {
            "GET"
        };
        let (status, b) = call(&f.app, keyed(method, path, &key, None)).await;
        assert_bad(status, &b, field, what);
    }
    let searches: &[(Value, &str, &str)] = &[
        (
            json!({"filters": [{"field": "nickname", "operator": "eq", "value": "x"}]}),
            "filters[0]",
            "an unknown field",
        ),
        (
            json!({"filters": [{"field": "firstName", "operator": "like", "value": "x"}]}),
            "filters[0].operator",
            "an unknown operator",
        ),
        (
            json!({"filters": [{"field": "firstName", "operator": "eq"}]}),
            "filters[0].value",
            "a filter without a value",
        ),
        (
            json!({"filters": [{"field": "createdAt", "operator": "gt", "value": "soon"}]}),
            "filters[0]",
            "a time that is no time",
        ),
        (
            json!({"filters": [{"field": "userId", "operator": "contains", "value": "1"}]}),
            "filters[0]",
            "contains on a number",
        ),
        (
            json!({"sort": [{"field": "metadata", "direction": "asc"}]}),
            "sort[0].field",
            "an unknown sort field",
        ),
        (
            json!({"sort": [{"field": "createdAt", "direction": "up"}]}),
            "sort[0].direction",
            "a bad direction",
        ),
        (json!({"size": 0}), "size", "a size of 0"),
        (json!({"size": 101}), "size", "a size over 100"),
        (
            json!({"includeTotalCount": "maybe"}),
            "includeTotalCount",
            "not a boolean",
        ),
        (json!({"query": "x"}), "query", "an unknown field"),
    ];
    for (body, field, what) in searches {
        let (status, b) = call(
            &f.app,
            keyed("POST", "/api/v1/contacts/search", &key, Some(body)),
        )
        .await;
        assert_bad(status, &b, field, what);
    }
}
