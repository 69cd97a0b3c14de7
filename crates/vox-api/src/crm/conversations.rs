//! `/api/v1/conversations`: Create, BulkCreate and BulkUpdate. A conversation is a contact's
//! in a funnel (a number the caller's own system keeps); its contact is named by `contactId`,
//! or found by the addresses of `contact` (its phones and e-mails) and updated, or created.
//! A bulk request processes each item on its own and reports, per item, what was wrong.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Map, Value, json};
use vox_store::{ChannelType, Contact, Conversation, EntityType, FieldType, rfc3339};

use super::{CrmAuth, Error, map};
use crate::{ApiError, ApiState, validate};

/// Most items in one bulk request.
const MAX_BULK: usize = 100;

/// What is wrong with an item: the seed's `{field, message, code}`.
#[derive(Debug)]
struct Issue {
    field: String,
    message: String,
    code: &'static str,
    /// The conversation an item duplicates.
    existing: Option<i64>,
}

impl From<ApiError> for Issue {
    fn from(e: ApiError) -> Self {
        let code = match e.status.as_u16() {
            404 => "NOT_FOUND",
            409 => "DUPLICATE",
            _ if e.message.ends_with("is required") => "REQUIRED_FIELD",
            _ => "INVALID_VALUE",
        };
        Self {
            field: e.field.unwrap_or_default(),
            message: e.message,
            code,
            existing: None,
        }
    }
}

/// The seed's conversation object, with its contact.
fn view(c: &Conversation, contact: &Contact) -> Value {
    let at = |ms: Option<i64>| ms.map(rfc3339);
    json!({
        "id": c.id,
        "tenantId": c.business_id,
        "contactId": c.contact_id,
        "userId": c.user_id,
        "funnelId": c.funnel_id,
        "funnelStatusId": c.funnel_status_id,
        "archivedAt": at(c.archived_at),
        "createdAt": rfc3339(c.created_at),
        "updatedAt": rfc3339(c.updated_at),
        "customFields": c.custom_fields,
        "channelSessions": c.sessions.iter().map(|s| json!({
            "id": s.id,
            "tenantId": c.business_id,
            "funnelConversationId": c.id,
            "funnelAddressId": null,
            "contactAddressId": s.contact_address_id,
            "archivedAt": at(s.archived_at),
            "startTime": rfc3339(s.start_time),
            "endTime": at(s.end_time),
            "channelType": s.channel_type,
            "messagingConversationId": s.messaging_conversation_id,
            "createdAt": rfc3339(s.created_at),
            "updatedAt": rfc3339(s.updated_at),
        })).collect::<Vec<_>>(),
        "contacts": [map::contact(contact)],
    })
}

/// A business's custom-field definitions of one entity type, with LIST options.
struct Fields {
    definitions: BTreeMap<String, vox_store::FieldDefinition>,
    options: BTreeMap<i64, Vec<String>>,
}

async fn fields(state: &ApiState, business: &str, entity: EntityType) -> Result<Fields, Error> {
    let definitions = state
        .store
        .field_definitions_by_key(business, entity)
        .await?;
    let mut options = BTreeMap::new();
    for d in definitions.values() {
        if d.field_type == FieldType::List {
            options.insert(d.id, state.store.field_option_values(d.id).await?);
        }
    }
    Ok(Fields {
        definitions,
        options,
    })
}

/// An optional positive whole number.
fn number(m: &Map<String, Value>, path: &str, key: &str) -> Result<Option<i64>, ApiError> {
    let field = validate::join(path, key);
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| n.fract() == 0.0 && (1.0..1e15).contains(n))
            .map(|n| Some(n as i64))
            .ok_or_else(|| {
                ApiError::invalid(
                    &field,
                    format!("{field} must be a positive integer, got {v}"),
                )
            }),
    }
}

/// `archivedAt`: absent (None), null (Some(None)) or a time.
fn archived(m: &Map<String, Value>, path: &str) -> Result<Option<Option<i64>>, ApiError> {
    let field = validate::join(path, "archivedAt");
    match m.get("archivedAt") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(map::time(&field, s)?))),
        Some(v) => Err(ApiError::invalid(
            &field,
            format!("{field} must be an ISO 8601 date-time or null, got {v}"),
        )),
    }
}

/// The item's `contact`, found by its addresses and updated, or created; the contact.
async fn upsert_contact(
    state: &ApiState,
    business: &str,
    path: &str,
    o: &Map<String, Value>,
    contact_fields: &Fields,
    required_id: Option<i64>,
) -> Result<Contact, Issue> {
    let allowed: &[&str] = &[
        "id",
        "firstName",
        "lastName",
        "phones",
        "emails",
        "nationalId",
        "companyPosition",
        "customFields",
        "userId",
    ];
    validate::known(o, path, allowed)?;
    let mut addresses = Vec::new();
    for (key, channel) in [
        ("phones", ChannelType::Phone),
        ("emails", ChannelType::Email),
    ] {
        for (i, a) in validate::strings(o, path, key)?.into_iter().enumerate() {
            let a = a.trim().to_owned();
            map::address(&format!("{path}.{key}[{i}]"), channel, &a)?;
            addresses.push((channel, a));
        }
    }
    let by_id = number(o, path, "id")?;
    let existing = match (by_id.or(required_id), addresses.is_empty()) {
        (Some(id), _) => Some(
            state
                .store
                .contact(business, id)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| Issue {
                    field: format!("{path}.id"),
                    message: format!("no contact {id} in this tenant"),
                    code: "NOT_FOUND",
                    existing: None,
                })?,
        ),
        (None, false) => {
            let mut found = None;
            for (_, a) in &addresses {
                if let Some(c) = state
                    .store
                    .contacts_at(business, a)
                    .await
                    .map_err(ApiError::from)?
                    .into_iter()
                    .next()
                {
                    found = Some(c);
                    break;
                }
            }
            found
        }
        (None, true) => None,
    };
    if let (Some(want), Some(c)) = (required_id, &existing)
        && want != c.id
    {
        return Err(Issue {
            field: format!("{path}.id"),
            message: format!(
                "{path}.id {} is not this conversation's contact ({want})",
                c.id
            ),
            code: "INVALID_VALUE",
            existing: None,
        });
    }
    // the seed's names over the contact's fields
    let mut m = Map::new();
    for (from, to) in [
        ("firstName", "firstName"),
        ("lastName", "lastName"),
        ("nationalId", "nationalId"),
        ("companyPosition", "companyPosition"),
        ("userId", "userId"),
        ("customFields", "customFields"),
    ] {
        if let Some(v) = o.get(from) {
            m.insert(to.into(), v.clone());
        }
    }
    let base = existing
        .as_ref()
        .map(|c| c.fields.clone())
        .unwrap_or_default();
    let f = map::contact_fields(&m, &base).map_err(|e| prefixed(e, path))?;
    let changes = map::custom_fields(&m, &contact_fields.definitions, &contact_fields.options)
        .map_err(|e| prefixed(e, path))?;
    let store = &state.store;
    let done = match existing {
        Some(c) => {
            let mut all: Vec<(ChannelType, String)> = c
                .addresses
                .iter()
                .map(|a| (a.channel_type, a.address.clone()))
                .collect();
            for a in addresses {
                if !all.contains(&a) {
                    all.push(a);
                }
            }
            store
                .update_contact(business, c.id, &f, Some(&all), &changes)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::not_found("contact"))?
        }
        None => store
            .create_contact(business, &f, None, &addresses, &changes)
            .await
            .map_err(ApiError::from)?,
    };
    Ok(done)
}

/// An error of a nested object, its field named from the item.
fn prefixed(e: ApiError, path: &str) -> Issue {
    let mut i = Issue::from(e);
    i.field = validate::join(path, &i.field);
    i
}

/// Creates one conversation from item `m` (`path` names it in messages).
async fn create_one(
    state: &ApiState,
    business: &str,
    path: &str,
    m: &Map<String, Value>,
) -> Result<(Conversation, Contact), Issue> {
    validate::known(
        m,
        path,
        &[
            "createdAt",
            "userId",
            "funnelId",
            "funnelStatusId",
            "archivedAt",
            "customFields",
            "contactId",
            "contact",
        ],
    )?;
    let funnel = number(m, path, "funnelId")?.ok_or_else(|| {
        ApiError::invalid(
            &validate::join(path, "funnelId"),
            format!("{} is required", validate::join(path, "funnelId")),
        )
    })?;
    let created_at = match validate::opt_str(m, path, "createdAt")? {
        Some(t) => map::time(&validate::join(path, "createdAt"), t)?,
        None => 0,
    };
    let conversation_fields = fields(state, business, EntityType::FunnelConversation)
        .await
        .map_err(|e| e.0)?;
    let custom = map::custom_fields(
        m,
        &conversation_fields.definitions,
        &conversation_fields.options,
    )
    .map_err(|e| prefixed(e, path))?;
    let contact = match (
        number(m, path, "contactId")?,
        validate::opt_object(m, path, "contact")?,
    ) {
        (Some(id), _) => state
            .store
            .contact(business, id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| Issue {
                field: validate::join(path, "contactId"),
                message: format!("no contact {id} in this tenant"),
                code: "NOT_FOUND",
                existing: None,
            })?,
        (None, Some(o)) => {
            let contact_fields = fields(state, business, EntityType::Contact)
                .await
                .map_err(|e| e.0)?;
            upsert_contact(
                state,
                business,
                &validate::join(path, "contact"),
                o,
                &contact_fields,
                None,
            )
            .await?
        }
        (None, None) => {
            return Err(Issue {
                field: validate::join(path, "contactId"),
                message: "either contactId or contact is required".into(),
                code: "REQUIRED_FIELD",
                existing: None,
            });
        }
    };
    if let Some(existing) = state
        .store
        .open_conversation(business, contact.id, funnel)
        .await
        .map_err(ApiError::from)?
    {
        return Err(Issue {
            field: validate::join(path, "funnelId"),
            message: format!(
                "contact {} already has the open conversation {existing} in funnel {funnel}",
                contact.id
            ),
            code: "DUPLICATE",
            existing: Some(existing),
        });
    }
    let c = Conversation {
        id: 0,
        business_id: business.to_owned(),
        contact_id: contact.id,
        user_id: number(m, path, "userId")?,
        funnel_id: funnel,
        funnel_status_id: number(m, path, "funnelStatusId")?,
        archived_at: archived(m, path)?.flatten(),
        created_at,
        updated_at: 0,
        sessions: Vec::new(),
        custom_fields: BTreeMap::new(),
    };
    let c = state
        .store
        .create_conversation(c, &custom)
        .await
        .map_err(ApiError::from)?;
    Ok((c, contact))
}

/// Updates one conversation from item `m`.
async fn update_one(
    state: &ApiState,
    business: &str,
    path: &str,
    m: &Map<String, Value>,
) -> Result<(Conversation, Contact), Issue> {
    validate::known(
        m,
        path,
        &[
            "id",
            "createdAt",
            "userId",
            "funnelStatusId",
            "archivedAt",
            "customFields",
            "contact",
        ],
    )?;
    let id = number(m, path, "id")?.ok_or_else(|| {
        ApiError::invalid(
            &validate::join(path, "id"),
            format!("{} is required", validate::join(path, "id")),
        )
    })?;
    let mut c = state
        .store
        .conversation(business, id)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| Issue {
            field: validate::join(path, "id"),
            message: format!("no conversation {id} in this tenant"),
            code: "NOT_FOUND",
            existing: None,
        })?;
    if m.contains_key("userId") {
        c.user_id = number(m, path, "userId")?;
    }
    if m.contains_key("funnelStatusId") {
        c.funnel_status_id = number(m, path, "funnelStatusId")?;
    }
    if let Some(a) = archived(m, path)? {
        c.archived_at = a;
    }
    let conversation_fields = fields(state, business, EntityType::FunnelConversation)
        .await
        .map_err(|e| e.0)?;
    let custom = map::custom_fields(
        m,
        &conversation_fields.definitions,
        &conversation_fields.options,
    )
    .map_err(|e| prefixed(e, path))?;
    let contact = match validate::opt_object(m, path, "contact")? {
        Some(o) => {
            let contact_fields = fields(state, business, EntityType::Contact)
                .await
                .map_err(|e| e.0)?;
            upsert_contact(
                state,
                business,
                &validate::join(path, "contact"),
                o,
                &contact_fields,
                Some(c.contact_id),
            )
            .await?
        }
        None => state
            .store
            .contact(business, c.contact_id)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("contact"))?,
    };
    let c = state
        .store
        .update_conversation(&c, &custom)
        .await
        .map_err(ApiError::from)?;
    Ok((c, contact))
}

/// `POST /api/v1/conversations`: one conversation (400 naming what is wrong; 409 when the
/// contact already has an open conversation in the funnel).
pub(crate) async fn create(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("conversations:write")?;
    let m = validate::object(&body)?;
    match create_one(&state, &auth.business_id, "", &m).await {
        Ok((c, contact)) => Ok(Json(view(&c, &contact))),
        Err(i) => Err(ApiError {
            status: match i.code {
                "NOT_FOUND" => axum::http::StatusCode::NOT_FOUND,
                "DUPLICATE" => axum::http::StatusCode::CONFLICT,
                _ => axum::http::StatusCode::BAD_REQUEST,
            },
            code: match i.code {
                "NOT_FOUND" => "NOT_FOUND",
                "DUPLICATE" => "CONFLICT",
                _ => "BAD_REQUEST",
            },
            message: i.message,
            field: Some(i.field).filter(|f| !f.is_empty()),
            retry_after: None,
        }
        .into()),
    }
}

/// The items of a bulk body (`{conversations: [...]}`, 1 to 100).
fn items(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let m = validate::object(body)?;
    validate::known(&m, "", &["conversations"])?;
    let list = validate::opt_array(&m, "", "conversations")?
        .ok_or_else(|| ApiError::invalid("conversations", "conversations is required"))?;
    if list.is_empty() || list.len() > MAX_BULK {
        return Err(ApiError::invalid(
            "conversations",
            format!(
                "conversations takes 1 to {MAX_BULK} items, got {}",
                list.len()
            ),
        ));
    }
    Ok(list.clone())
}

/// The seed's bulk report.
fn report(outcomes: Vec<Result<i64, Issue>>, what: &str) -> Value {
    let total = outcomes.len();
    let (mut ok, mut duplicates, mut errors) = (0, 0, 0);
    let mut issues = Vec::new();
    for (index, o) in outcomes.into_iter().enumerate() {
        match o {
            Ok(_) => ok += 1,
            Err(i) => {
                let entry =
                    json!({"field": i.field, "message": i.message, "code": i.code, "context": {}});
                let existing = i.existing.map(|id| json!({"conversationId": id}));
                if i.code == "DUPLICATE" {
                    duplicates += 1;
                    issues.push(json!({"index": index, "itemId": null, "errors": [], "warnings": [entry], "existingEntities": existing}));
                } else {
                    errors += 1;
                    issues.push(json!({"index": index, "itemId": null, "errors": [entry], "warnings": [], "existingEntities": {}}));
                }
            }
        }
    }
    json!({
        "message": format!("{ok} of {total} conversations {what}"),
        "operationId": vox_store::new_id("op"),
        "report": {
            "itemsIssues": issues,
            "batchErrors": [],
            "counts": {"successful": ok, "warnings": duplicates, "duplicates": duplicates, "errors": errors, "total": total},
        },
    })
}

/// An item that is not an object.
fn not_object(index: usize) -> Issue {
    Issue {
        field: format!("conversations[{index}]"),
        message: format!("conversations[{index}] must be an object"),
        code: "INVALID_VALUE",
        existing: None,
    }
}

/// Which bulk operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    Create,
    Update,
}

/// A bulk request's items, each created or updated on its own; the report.
async fn bulk(
    state: &ApiState,
    auth: &CrmAuth,
    body: &[u8],
    op: Bulk,
) -> Result<Json<Value>, Error> {
    auth.require("conversations:write")?;
    let mut outcomes = Vec::new();
    for (i, item) in items(body)?.iter().enumerate() {
        let path = format!("conversations[{i}]");
        let done = match (item.as_object(), op) {
            (Some(m), Bulk::Create) => create_one(state, &auth.business_id, &path, m).await,
            (Some(m), Bulk::Update) => update_one(state, &auth.business_id, &path, m).await,
            (None, _) => Err(not_object(i)),
        };
        outcomes.push(done.map(|(c, _)| c.id));
    }
    let what = match op {
        Bulk::Create => "created",
        Bulk::Update => "updated",
    };
    Ok(Json(report(outcomes, what)))
}

/// `POST /api/v1/conversations/bulk`: each item created on its own; the report says which
/// were not, and why.
pub(crate) async fn bulk_create(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    bulk(&state, &auth, &body, Bulk::Create).await
}

/// `PUT /api/v1/conversations/bulk`: each item (by `id`) updated on its own.
pub(crate) async fn bulk_update(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    bulk(&state, &auth, &body, Bulk::Update).await
}

/// `GET /api/v1/conversations/{id}`: one conversation, with its contact.
pub(crate) async fn get(
    auth: CrmAuth,
    State(state): State<ApiState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("conversations:read")?;
    let id = map::path_id("id", &id)?;
    let c = state
        .store
        .conversation(&auth.business_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let contact = state
        .store
        .contact(&auth.business_id, c.contact_id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(Json(view(&c, &contact)))
}
