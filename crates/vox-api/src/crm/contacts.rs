//! `/api/v1/contacts`: CreateContact, GetContacts, GetContact, UpdateContact, DeleteContact
//! and SearchContacts.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::{Map, Value, json};
use vox_store::{ContactFields, ContactQuery, EntityType, FieldChange, Window};

use super::{CrmAuth, Error, map, query, read_only};
use crate::compat::TokenPaging;
use crate::{ApiError, ApiState, validate};

/// Checks a body's `customFields` against the tenant's CONTACT fields.
async fn custom(
    state: &ApiState,
    business_id: &str,
    m: &Map<String, Value>,
) -> Result<Vec<FieldChange>, Error> {
    if !m.contains_key("customFields") {
        return Ok(Vec::new());
    }
    let definitions = state
        .store
        .field_definitions_by_key(business_id, EntityType::Contact)
        .await?;
    let mut options = BTreeMap::new();
    for d in definitions.values() {
        if d.field_type == vox_store::FieldType::List {
            options.insert(d.id, state.store.field_option_values(d.id).await?);
        }
    }
    Ok(map::custom_fields(m, &definitions, &options)?)
}

/// `POST /api/v1/contacts`
pub(crate) async fn create(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("contacts:write")?;
    let m = validate::object(&body)?;
    validate::known(&m, "", map::CONTACT_FIELDS)?;
    read_only(&m, None, &auth.business_id)?;
    let fields = map::contact_fields(&m, &ContactFields::default())?;
    let created_at = match validate::opt_str(&m, "", "createdAt")? {
        Some(t) => Some(map::time("createdAt", t)?),
        None => None,
    };
    let addresses = map::addresses(&m, &fields, &[])?.unwrap_or_default();
    let changes = custom(&state, &auth.business_id, &m).await?;
    let c = state
        .store
        .create_contact(&auth.business_id, &fields, created_at, &addresses, &changes)
        .await?;
    Ok(Json(map::contact(&c)))
}

/// `GET /api/v1/contacts?filterBy=&searchBy=&sortBy=&page=&pageSize=&pageToken=`
pub(crate) async fn list(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("contacts:read")?;
    let paging = TokenPaging::from_query(&q, "pageSize", 20, 100)?;
    let query = ContactQuery {
        business_id: auth.business_id.clone(),
        filters: query::contact_filter_by(q.get("filterBy").map(String::as_str))?,
        search: q.get("searchBy").cloned(),
        sort: query::contact_sort_by(q.get("sortBy").map(String::as_str))?,
        window: Window {
            offset: paging.offset,
            limit: paging.limit,
        },
    };
    let (items, total) = state.store.search_contacts(&query).await?;
    Ok(Json(json!({
        "items": items.iter().map(map::contact).collect::<Vec<_>>(),
        "nextPageToken": paging.next(total),
        "totalCount": total,
    })))
}

/// `POST /api/v1/contacts/search`
pub(crate) async fn search(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("contacts:read")?;
    let m = validate::object(&body)?;
    validate::known(
        &m,
        "",
        &[
            "search",
            "filters",
            "sort",
            "size",
            "pageToken",
            "includeArchived",
            "includeTotalCount",
        ],
    )?;
    let size = match m.get("size") {
        None | Some(Value::Null) => 20,
        Some(v) => v
            .as_f64()
            .filter(|n| n.fract() == 0.0 && (1.0..=100.0).contains(n))
            .map(|n| n as i64)
            .ok_or_else(|| {
                ApiError::invalid(
                    "size",
                    format!("size must be an integer from 1 to 100, got {v}"),
                )
            })?,
    };
    let paging = TokenPaging::from_parts(validate::opt_str(&m, "", "pageToken")?, None, size)?;
    // includeArchived: contacts are deleted, not archived; accepted for the seed's clients
    validate::opt_bool(&m, "", "includeArchived")?;
    let with_total = match m.get("includeTotalCount") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(v) => {
            return Err(ApiError::invalid(
                "includeTotalCount",
                format!("includeTotalCount must be true or false, got {v}"),
            )
            .into());
        }
    };
    let (filters, sort) = query::contact_search(&m)?;
    let query = ContactQuery {
        business_id: auth.business_id.clone(),
        filters,
        search: validate::opt_str(&m, "", "search")?.map(str::to_owned),
        sort,
        window: Window {
            offset: paging.offset,
            limit: paging.limit,
        },
    };
    let (items, total) = state.store.search_contacts(&query).await?;
    let mut out = json!({
        "items": items.iter().map(map::search_document).collect::<Vec<_>>(),
        "nextPageToken": paging.next(total),
    });
    if with_total {
        out["totalCount"] = json!(total);
    }
    Ok(Json(out))
}

async fn found(state: &ApiState, auth: &CrmAuth, raw: &str) -> Result<vox_store::Contact, Error> {
    let id = map::path_id("id", raw)?;
    state
        .store
        .contact(&auth.business_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact").into())
}

/// `GET /api/v1/contacts/{id}`
pub(crate) async fn get(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("contacts:read")?;
    Ok(Json(map::contact(&found(&state, &auth, &id).await?)))
}

/// `PUT /api/v1/contacts/{id}`: the fields given replace the stored ones (null clears);
/// `addresses`, when given, become the contact's addresses; `customFields` set (null
/// clears) the keys given.
pub(crate) async fn update(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("contacts:write")?;
    let current = found(&state, &auth, &id).await?;
    let m = validate::object(&body)?;
    validate::known(&m, "", map::CONTACT_FIELDS)?;
    read_only(&m, Some(&current.id.to_string()), &auth.business_id)?;
    let fields = map::contact_fields(&m, &current.fields)?;
    let had: Vec<_> = current
        .addresses
        .iter()
        .map(|a| (a.channel_type, a.address.clone()))
        .collect();
    let addresses = map::addresses(&m, &fields, &had)?;
    let changes = custom(&state, &auth.business_id, &m).await?;
    let c = state
        .store
        .update_contact(
            &auth.business_id,
            current.id,
            &fields,
            addresses.as_deref(),
            &changes,
        )
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(Json(map::contact(&c)))
}

/// `DELETE /api/v1/contacts/{id}`: the contact as it was.
pub(crate) async fn delete(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("contacts:write")?;
    let id = map::path_id("id", &id)?;
    let c = state
        .store
        .delete_contact(&auth.business_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(Json(map::contact(&c)))
}
