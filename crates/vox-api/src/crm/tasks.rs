//! `/api/v1/tasks`: GetTasks, CreateTask, GetTask, UpdateTask and DeleteTask. A task for an
//! `ai_employee` names one of the business's agents.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::{Map, Value, json};
use vox_store::{PartyType, Task, TaskQuery, TaskStatus, Window, now_ms, rfc3339};

use super::{CrmAuth, Error, map};
use crate::compat::TokenPaging;
use crate::{ApiError, ApiState, validate};

const FIELDS: &[&str] = &[
    "context",
    "objective",
    "createdBy",
    "assignedTo",
    "dueDate",
    "status",
    "publishedAt",
    "completedAt",
    "cancelledAt",
    "cancellationReason",
    "id",
    "tenantId",
    "createdAt",
    "updatedAt",
];

/// The seed's task object, its status as of now; an AI employee's task adds the call it
/// placed (`callId`, its number) and how that went (`outcome`).
async fn view(state: &ApiState, t: &Task) -> Result<Value, Error> {
    let at = |ms: Option<i64>| ms.map(rfc3339);
    let call = match t.call_id.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(state.store.crm_call(c, &json!({})).await?.number),
        None => None,
    };
    Ok(json!({
        "id": t.id,
        "tenantId": t.business_id,
        "createdAt": rfc3339(t.created_at),
        "updatedAt": rfc3339(t.updated_at),
        "context": {"conversationId": t.conversation_id},
        "objective": t.objective,
        "createdBy": {"id": t.created_by.1, "type": t.created_by.0},
        "assignedTo": {"id": t.assigned_to.1, "type": t.assigned_to.0},
        "publishedAt": at(t.published_at),
        "dueDate": at(t.due_date),
        "completedAt": at(t.completed_at),
        "cancelledAt": at(t.cancelled_at),
        "cancellationReason": t.cancellation_reason,
        "status": t.status_at(now_ms()),
        "callId": call,
        "outcome": t.outcome,
    }))
}

/// `{id, type}` of a party.
fn party(m: &Map<String, Value>, key: &str) -> Result<(PartyType, String), ApiError> {
    let o = validate::opt_object(m, "", key)?
        .ok_or_else(|| ApiError::invalid(key, format!("{key} is required")))?;
    validate::known(o, key, &["id", "type"])?;
    let raw = validate::req_str(o, key, "type")?;
    let kind = PartyType::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            &format!("{key}.type"),
            format!("{key}.type must be user or ai_employee, got {raw:?}"),
        )
    })?;
    let id = validate::req_str(o, key, "id")?.trim();
    if id.chars().count() > 200 {
        return Err(ApiError::invalid(
            &format!("{key}.id"),
            format!("{key}.id must be at most 200 characters"),
        ));
    }
    Ok((kind, id.to_owned()))
}

/// An optional date-time field (null clears it).
fn when(m: &Map<String, Value>, key: &str) -> Result<Option<Option<i64>>, ApiError> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(map::time(key, s)?))),
        Some(v) => Err(ApiError::invalid(
            key,
            format!("{key} must be an ISO 8601 date-time or null, got {v}"),
        )),
    }
}

/// `context.conversationId`.
fn context(m: &Map<String, Value>, required: bool) -> Result<Option<Option<i64>>, ApiError> {
    let Some(o) = validate::opt_object(m, "", "context")? else {
        return if required {
            Err(ApiError::invalid("context", "context is required"))
        } else {
            Ok(None)
        };
    };
    validate::known(o, "context", &["conversationId"])?;
    match o.get("conversationId") {
        None | Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n < 1e15)
            .map(|n| Some(Some(n as i64)))
            .ok_or_else(|| {
                ApiError::invalid(
                    "context.conversationId",
                    format!("context.conversationId must be a positive integer, got {v}"),
                )
            }),
    }
}

/// The status a body sets: not `overdue`, which a scheduled task becomes by its due date.
fn status(m: &Map<String, Value>) -> Result<Option<TaskStatus>, ApiError> {
    match validate::opt_str(m, "", "status")? {
        None => Ok(None),
        Some("overdue") => Err(ApiError::invalid(
            "status",
            "status overdue is not set: a scheduled task is overdue once its dueDate has passed",
        )),
        Some(raw) => TaskStatus::parse(raw).map(Some).ok_or_else(|| {
            ApiError::invalid(
                "status",
                format!("status must be scheduled, completed or cancelled, got {raw:?}"),
            )
        }),
    }
}

/// An AI employee must be one of the business's agents.
async fn check_assignee(
    state: &ApiState,
    auth: &CrmAuth,
    who: &(PartyType, String),
) -> Result<(), Error> {
    if who.0 == PartyType::AiEmployee
        && state
            .store
            .agent(&auth.business_id, &who.1)
            .await?
            .is_none()
    {
        return Err(ApiError::invalid(
            "assignedTo.id",
            format!(
                "assignedTo.id {:?} is not a voice agent of this business",
                who.1
            ),
        )
        .into());
    }
    Ok(())
}

/// Applies a body's fields (over `t`), keeping the status times coherent.
fn apply(m: &Map<String, Value>, t: &mut Task) -> Result<(), ApiError> {
    if let Some(c) = context(m, false)? {
        t.conversation_id = c;
    }
    if m.contains_key("objective") {
        let o = validate::req_str(m, "", "objective")?.trim();
        if o.chars().count() > 2000 {
            return Err(ApiError::invalid(
                "objective",
                "objective must be at most 2000 characters",
            ));
        }
        t.objective = o.to_owned();
    }
    if m.contains_key("assignedTo") {
        t.assigned_to = party(m, "assignedTo")?;
    }
    for (key, slot) in [
        ("dueDate", &mut t.due_date),
        ("publishedAt", &mut t.published_at),
        ("completedAt", &mut t.completed_at),
        ("cancelledAt", &mut t.cancelled_at),
    ] {
        if let Some(v) = when(m, key)? {
            *slot = v;
        }
    }
    if m.contains_key("cancellationReason") {
        t.cancellation_reason = map::text(m, "cancellationReason", 2000)?;
    }
    if let Some(s) = status(m)? {
        t.status = s;
    }
    let now = now_ms();
    match t.status {
        TaskStatus::Completed => {
            t.completed_at.get_or_insert(now);
        }
        TaskStatus::Cancelled => {
            t.cancelled_at.get_or_insert(now);
        }
        TaskStatus::Scheduled | TaskStatus::Overdue => {
            t.completed_at = None;
            t.cancelled_at = None;
        }
    }
    Ok(())
}

/// `POST /api/v1/tasks`
pub(crate) async fn create(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("tasks:write")?;
    let m = validate::object(&body)?;
    validate::known(&m, "", FIELDS)?;
    super::read_only(&m, None, &auth.business_id)?;
    context(&m, true)?;
    validate::req_str(&m, "", "objective")?;
    let mut t = Task {
        id: String::new(),
        business_id: auth.business_id.clone(),
        conversation_id: None,
        objective: String::new(),
        created_by: party(&m, "createdBy")?,
        assigned_to: party(&m, "assignedTo")?,
        status: TaskStatus::Scheduled,
        due_date: None,
        published_at: None,
        completed_at: None,
        cancelled_at: None,
        cancellation_reason: None,
        call_id: None,
        outcome: None,
        created_at: 0,
        updated_at: 0,
    };
    apply(&m, &mut t)?;
    check_assignee(&state, &auth, &t.assigned_to).await?;
    let t = state.store.create_task(t).await?;
    Ok(Json(view(&state, &t).await?))
}

/// `GET /api/v1/tasks?limit=&pageToken=&status=&dueBefore=&dueAfter=&conversationId=&assignedToType=&assignedToId=`
pub(crate) async fn list(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("tasks:read")?;
    let paging = TokenPaging::from_query(&q, "limit", 20, 100)?;
    let time = |key: &str| q.get(key).map(|v| map::time(key, v)).transpose();
    let status = match q.get("status") {
        None => None,
        Some(raw) => Some(TaskStatus::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "status",
                format!("status must be completed, cancelled, scheduled or overdue, got {raw:?}"),
            )
        })?),
    };
    let assigned_to_type = match q.get("assignedToType") {
        None => None,
        Some(raw) => Some(PartyType::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "assignedToType",
                format!("assignedToType must be user or ai_employee, got {raw:?}"),
            )
        })?),
    };
    let conversation_id = q
        .get("conversationId")
        .map(|v| map::path_id("conversationId", v))
        .transpose()?;
    let query = TaskQuery {
        business_id: auth.business_id.clone(),
        status,
        due_before: time("dueBefore")?,
        due_after: time("dueAfter")?,
        conversation_id,
        assigned_to_type,
        assigned_to_id: q.get("assignedToId").cloned(),
        now: now_ms(),
    };
    let (items, total) = state
        .store
        .search_tasks(
            &query,
            Window {
                offset: paging.offset,
                limit: paging.limit,
            },
        )
        .await?;
    let mut shown = Vec::with_capacity(items.len());
    for t in &items {
        shown.push(view(&state, t).await?);
    }
    Ok(Json(json!({
        "nextPageToken": paging.next(total),
        "totalCount": total,
        "items": shown,
    })))
}

async fn found(state: &ApiState, auth: &CrmAuth, id: &str) -> Result<Task, Error> {
    state
        .store
        .task(&auth.business_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("task").into())
}

/// `GET /api/v1/tasks/{taskId}`
pub(crate) async fn get(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("tasks:read")?;
    let t = found(&state, &auth, &id).await?;
    Ok(Json(view(&state, &t).await?))
}

/// `PUT /api/v1/tasks/{taskId}`: only the fields given change.
pub(crate) async fn update(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("tasks:write")?;
    let mut t = found(&state, &auth, &id).await?;
    let m = validate::object(&body)?;
    validate::known(&m, "", FIELDS)?;
    super::read_only(&m, Some(&t.id), &auth.business_id)?;
    if m.contains_key("createdBy") {
        t.created_by = party(&m, "createdBy")?;
    }
    apply(&m, &mut t)?;
    check_assignee(&state, &auth, &t.assigned_to).await?;
    let t = state.store.update_task(t).await?;
    Ok(Json(view(&state, &t).await?))
}

/// `DELETE /api/v1/tasks/{taskId}`: the task as it was.
pub(crate) async fn delete(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("tasks:write")?;
    let t = state
        .store
        .delete_task(&auth.business_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    Ok(Json(view(&state, &t).await?))
}
