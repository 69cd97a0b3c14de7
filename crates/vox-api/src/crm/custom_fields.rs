//! `/api/v1/custom-fields/definitions`: the definitions (Get, Create, Update, Delete with
//! `force`) and the options of LIST fields.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use vox_store::{EntityType, FieldDefinition, FieldOption, FieldType, Window};

use super::{CrmAuth, Error, map, query, read_only};
use crate::compat::TokenPaging;
use crate::{ApiError, ApiState, validate};

fn definition_sort(name: &str) -> Option<&'static str> {
    Some(match name {
        "id" => "id",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "fieldKey" => "field_key",
        "fieldLabel" => "field_label",
        "entityType" => "entity_type",
        _ => return None,
    })
}

fn option_sort(name: &str) -> Option<&'static str> {
    Some(match name {
        "id" => "id",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "value" => "value",
        "label" => "label",
        _ => return None,
    })
}

/// A list's `tenantId` query parameter, if given, must be the caller's.
fn same_tenant(q: &HashMap<String, String>, auth: &CrmAuth) -> Result<(), ApiError> {
    match q.get("tenantId") {
        Some(t) if *t != auth.business_id => Err(ApiError::invalid(
            "tenantId",
            format!("tenantId {t:?} is not the tenant of these credentials"),
        )),
        _ => Ok(()),
    }
}

/// `filterBy=entityType:CONTACT` (the one filter definitions take).
fn entity_filter(raw: Option<&str>) -> Result<Option<EntityType>, ApiError> {
    let mut found = None;
    for pair in raw
        .unwrap_or("")
        .split(';')
        .filter(|p| !p.trim().is_empty())
    {
        match pair.split_once(':') {
            Some(("entityType", v)) => {
                found = Some(EntityType::parse(v.trim()).ok_or_else(|| {
                    ApiError::invalid(
                        "filterBy",
                        format!(
                            "filterBy: entityType must be one of {}, got {v:?}",
                            map::names(EntityType::ALL)
                        ),
                    )
                })?);
            }
            _ => {
                return Err(ApiError::invalid(
                    "filterBy",
                    format!("filterBy: {pair:?}: definitions filter by entityType:<type>"),
                ));
            }
        }
    }
    Ok(found)
}

/// `GET /api/v1/custom-fields/definitions`
pub(crate) async fn list(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:read")?;
    same_tenant(&q, &auth)?;
    let paging = TokenPaging::from_query(&q, "pageSize", 20, 100)?;
    let entity = entity_filter(q.get("filterBy").map(String::as_str))?;
    let order = query::order(
        q.get("sortBy").map(String::as_str),
        definition_sort,
        "id, createdAt, updatedAt, fieldKey, fieldLabel, entityType",
    )?;
    let (items, total) = state
        .store
        .field_definitions(
            &auth.business_id,
            entity,
            q.get("searchBy")
                .map(String::as_str)
                .filter(|s| !s.trim().is_empty()),
            order,
            Window {
                offset: paging.offset,
                limit: paging.limit,
            },
        )
        .await?;
    Ok(Json(json!({
        "items": items.iter().map(map::definition).collect::<Vec<_>>(),
        "nextPageToken": paging.next(total),
        "totalCount": total,
    })))
}

/// `POST /api/v1/custom-fields/definitions` (409 when the key is taken for the entity type)
pub(crate) async fn create(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:write")?;
    let m = validate::object(&body)?;
    read_only(&m, None, &auth.business_id)?;
    let blank = FieldDefinition {
        id: 0,
        business_id: auth.business_id.clone(),
        entity_type: EntityType::Contact,
        field_key: String::new(),
        field_label: None,
        field_type: FieldType::String,
        description: None,
        created_at: 0,
        updated_at: 0,
    };
    let d = map::definition_fields(&m, blank, true)?;
    let d = state.store.create_field_definition(d).await?;
    Ok(Json(map::definition(&d)))
}

async fn found(
    state: &ApiState,
    auth: &CrmAuth,
    name: &str,
    raw: &str,
) -> Result<FieldDefinition, Error> {
    let id = map::path_id(name, raw)?;
    state
        .store
        .field_definition(&auth.business_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("custom field definition").into())
}

/// `GET /api/v1/custom-fields/definitions/{id}`
pub(crate) async fn get(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:read")?;
    Ok(Json(map::definition(
        &found(&state, &auth, "id", &id).await?,
    )))
}

/// `PUT /api/v1/custom-fields/definitions/{id}`: the type or entity of a field holding values
/// does not change (409).
pub(crate) async fn update(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:write")?;
    let current = found(&state, &auth, "id", &id).await?;
    let m = validate::object(&body)?;
    read_only(&m, Some(&current.id.to_string()), &auth.business_id)?;
    let d = map::definition_fields(&m, current.clone(), false)?;
    if d.field_type != current.field_type || d.entity_type != current.entity_type {
        let used = state.store.field_values_count(d.id).await?;
        if used > 0 {
            return Err(ApiError::conflict(format!(
                "the field {:?} holds {used} value(s): its type and entity type cannot change",
                current.field_key
            ))
            .into());
        }
    }
    let d = state.store.update_field_definition(d).await?;
    Ok(Json(map::definition(&d)))
}

/// `DELETE /api/v1/custom-fields/definitions/{id}?force=`: 409 while it holds values, unless
/// `force=true` (its values go with it).
pub(crate) async fn delete(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:write")?;
    let id = map::path_id("id", &id)?;
    let force = match q.get("force").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "force",
                format!("force must be true or false, got {other:?}"),
            )
            .into());
        }
    };
    let d = state
        .store
        .delete_field_definition(&auth.business_id, id, force)
        .await
        .map_err(|e| match e {
            vox_store::StoreError::Conflict(why) => {
                ApiError::conflict(format!("{why}: delete with force=true to remove them too"))
            }
            other => other.into(),
        })?
        .ok_or_else(|| ApiError::not_found("custom field definition"))?;
    Ok(Json(map::definition(&d)))
}

/// The definition of an options route, which must be a LIST field.
async fn list_field(state: &ApiState, auth: &CrmAuth, raw: &str) -> Result<FieldDefinition, Error> {
    let d = found(state, auth, "definitionId", raw).await?;
    if d.field_type != FieldType::List {
        return Err(ApiError::invalid(
            "definitionId",
            format!(
                "the field {:?} is {}: only LIST fields have options",
                d.field_key, d.field_type
            ),
        )
        .into());
    }
    Ok(d)
}

/// `GET /api/v1/custom-fields/definitions/{definitionId}/options`
pub(crate) async fn options(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(definition): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:read")?;
    same_tenant(&q, &auth)?;
    let d = list_field(&state, &auth, &definition).await?;
    let paging = TokenPaging::from_query(&q, "pageSize", 20, 100)?;
    if let Some(f) = q.get("filterBy").filter(|f| !f.trim().is_empty()) {
        return Err(ApiError::invalid(
            "filterBy",
            format!("filterBy {f:?}: options take searchBy, not filterBy"),
        )
        .into());
    }
    let order = query::order(
        q.get("sortBy").map(String::as_str),
        option_sort,
        "id, createdAt, updatedAt, value, label",
    )?;
    let (items, total) = state
        .store
        .field_options(
            d.id,
            q.get("searchBy")
                .map(String::as_str)
                .filter(|s| !s.trim().is_empty()),
            order,
            Window {
                offset: paging.offset,
                limit: paging.limit,
            },
        )
        .await?;
    Ok(Json(json!({
        "items": items.iter().map(|o| map::option(o, &auth.business_id)).collect::<Vec<_>>(),
        "nextPageToken": paging.next(total),
        "totalCount": total,
    })))
}

/// `POST /api/v1/custom-fields/definitions/{definitionId}/options` (409 when the value is
/// taken)
pub(crate) async fn create_option(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(definition): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:write")?;
    let d = list_field(&state, &auth, &definition).await?;
    let m = validate::object(&body)?;
    read_only(&m, None, &auth.business_id)?;
    let blank = FieldOption {
        id: 0,
        definition_id: d.id,
        value: String::new(),
        label: None,
        description: None,
        created_at: 0,
        updated_at: 0,
    };
    let o = map::option_fields(&m, blank, true)?;
    let o = state.store.create_field_option(o).await?;
    Ok(Json(map::option(&o, &auth.business_id)))
}

async fn found_option(
    state: &ApiState,
    auth: &CrmAuth,
    definition: &str,
    option: &str,
) -> Result<FieldOption, Error> {
    let d = list_field(state, auth, definition).await?;
    let id = map::path_id("optionId", option)?;
    state
        .store
        .field_option(d.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("option").into())
}

/// `GET /api/v1/custom-fields/definitions/{definitionId}/options/{optionId}`
pub(crate) async fn get_option(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path((definition, option)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:read")?;
    let o = found_option(&state, &auth, &definition, &option).await?;
    Ok(Json(map::option(&o, &auth.business_id)))
}

/// `PUT /api/v1/custom-fields/definitions/{definitionId}/options/{optionId}`: values that
/// held the old value follow a new one.
pub(crate) async fn update_option(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path((definition, option)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:write")?;
    let current = found_option(&state, &auth, &definition, &option).await?;
    let m = validate::object(&body)?;
    read_only(&m, Some(&current.id.to_string()), &auth.business_id)?;
    let o = map::option_fields(&m, current.clone(), false)?;
    let o = state.store.update_field_option(o, &current.value).await?;
    Ok(Json(map::option(&o, &auth.business_id)))
}

/// `DELETE /api/v1/custom-fields/definitions/{definitionId}/options/{optionId}`: values that
/// held it are cleared (the seed warns it affects them).
pub(crate) async fn delete_option(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path((definition, option)): Path<(String, String)>,
) -> Result<Json<Value>, Error> {
    auth.require("custom-fields:write")?;
    let current = found_option(&state, &auth, &definition, &option).await?;
    let o = state
        .store
        .delete_field_option(current.definition_id, current.id)
        .await?
        .ok_or_else(|| ApiError::not_found("option"))?;
    Ok(Json(map::option(&o, &auth.business_id)))
}
