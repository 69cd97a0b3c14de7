//! Seed 000's actions (`/voice-ai/actions`): tools of an agent, made from the action's
//! parameters (`action_map.rs`), attached to the agent through its `toolIds` and validated
//! with the whole agent, as seed 002's tools are.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use vox_store::{AgentRecord, Business, ToolRecord};

use super::action_map;
use super::{Error, VoiceAiAuth, location, required};
use crate::{ApiError, ApiState, agents, validate};

const FIELDS: &[&str] = &[
    "agentId",
    "locationId",
    "actionType",
    "name",
    "actionParameters",
];

/// The validated parts of an action body.
struct Body {
    business: Business,
    agent: AgentRecord,
    record: ToolRecord,
}

async fn body(state: &ApiState, auth: &VoiceAiAuth, bytes: &[u8]) -> Result<Body, Error> {
    let m = validate::object(bytes)?;
    validate::known(&m, "", FIELDS)?;
    let business = location(state, auth, validate::req_str(&m, "", "locationId")?).await?;
    let agent_id = validate::req_str(&m, "", "agentId")?;
    let agent = state
        .store
        .agent(&business.id, agent_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "agentId",
                format!("agentId: no agent {agent_id:?} in this location"),
            )
        })?;
    let action_type = validate::req_str(&m, "", "actionType")?;
    let name = validate::req_str(&m, "", "name")?.trim();
    if name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "name must be at most 100 characters").into());
    }
    let params = validate::opt_object(&m, "", "actionParameters")?
        .ok_or_else(|| ApiError::invalid("actionParameters", "actionParameters is required"))?;
    let record = action_map::to_record(state, &business, action_type, name, params).await?;
    Ok(Body {
        business,
        agent,
        record,
    })
}

/// The agent with `toolIds` changed by `change`, validated as a whole and saved.
async fn retool(
    state: &ApiState,
    business: &Business,
    mut agent: AgentRecord,
    change: impl FnOnce(&mut Vec<Value>),
) -> Result<AgentRecord, ApiError> {
    let mut doc: Map<String, Value> = agent.document.as_object().cloned().unwrap_or_default();
    let mut ids = doc
        .get("toolIds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    change(&mut ids);
    doc.insert("toolIds".into(), Value::Array(ids));
    let mut doc = agents::document(state, business, &doc).await?;
    agents::auto_tools(state, business, &mut doc).await?;
    agent.document = Value::Object(doc);
    Ok(state.store.update_agent(&agent).await?)
}

/// `POST /voice-ai/actions`
pub(crate) async fn create(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), Error> {
    auth.require("voice-ai-agent-goals.write")?;
    let Body {
        business,
        agent,
        record,
    } = body(&state, &auth, &bytes).await?;
    let record = state.store.create_tool(record).await?;
    let id = json!(record.id);
    if let Err(e) = retool(&state, &business, agent, |ids| ids.push(id)).await {
        // the agent refused it (a name another of its tools has): nothing is left behind
        state.store.delete_tool(&business.id, &record.id).await?;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// `PUT /voice-ai/actions/{actionId}`: the action replaced, on the agent named (moved there
/// if another agent had it).
pub(crate) async fn update(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-agent-goals.write")?;
    let Body {
        business,
        agent,
        mut record,
    } = body(&state, &auth, &bytes).await?;
    let old = action(&state, &business, &id).await?;
    let holder = holder(&state, &business, &id).await?;
    record.id = old.id.clone();
    record.created_at = old.created_at;
    let before = old.clone();
    let record = state.store.update_tool(&record).await?;
    let tid = json!(id);
    let moved = holder.as_ref().is_some_and(|h| h.id != agent.id);
    let attached = retool(&state, &business, agent, |ids| {
        if !ids.contains(&tid) {
            ids.push(tid.clone());
        }
    })
    .await;
    if let Err(e) = attached {
        state.store.update_tool(&before).await?;
        return Err(e.into());
    }
    if moved && let Some(h) = holder {
        retool(&state, &business, h, |ids| ids.retain(|x| *x != tid)).await?;
    }
    Ok(Json(view(&record)))
}

/// `GET /voice-ai/actions/{actionId}?locationId=`
pub(crate) async fn get(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-agent-goals.readonly")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    Ok(Json(view(&action(&state, &business, &id).await?)))
}

/// `DELETE /voice-ai/actions/{actionId}?locationId=&agentId=`
pub(crate) async fn delete(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<StatusCode, Error> {
    auth.require("voice-ai-agent-goals.write")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let agent_id = required(&q, "agentId")?;
    action(&state, &business, &id).await?;
    let agent = state
        .store
        .agent(&business.id, agent_id)
        .await?
        .filter(|a| holds(a, &id))
        .ok_or_else(|| ApiError::not_found("action of that agent"))?;
    let tid = json!(id);
    retool(&state, &business, agent, |ids| ids.retain(|x| *x != tid)).await?;
    state.store.delete_tool(&business.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The action `id` of the business (a tool record made from an action).
async fn action(state: &ApiState, business: &Business, id: &str) -> Result<ToolRecord, Error> {
    state
        .store
        .tool(&business.id, id)
        .await?
        .filter(|t| action_map::to_seed(t).is_some())
        .ok_or_else(|| ApiError::not_found("action").into())
}

fn holds(a: &AgentRecord, tool_id: &str) -> bool {
    a.document["toolIds"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|v| v == tool_id))
}

/// The agent whose tools include `tool_id`.
async fn holder(
    state: &ApiState,
    business: &Business,
    tool_id: &str,
) -> Result<Option<AgentRecord>, Error> {
    let (agents, _) = state.store.list_agents(&business.id, 0, i64::MAX).await?;
    Ok(agents.into_iter().find(|a| holds(a, tool_id)))
}

/// An agent's actions as seed 000 shows them, in its `toolIds` order.
pub(crate) async fn of_agent(state: &ApiState, a: &AgentRecord) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for id in a.document["toolIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(t) = state.store.tool(&a.business_id, id).await?
            && let Some(v) = action_map::to_seed(&t)
        {
            out.push(v);
        }
    }
    Ok(out)
}

/// Deletes an agent's actions (the agent is being deleted).
pub(crate) async fn delete_of_agent(state: &ApiState, a: &AgentRecord) -> Result<(), Error> {
    for id in a.document["toolIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Some(t) = state.store.tool(&a.business_id, id).await?
            && action_map::to_seed(&t).is_some()
        {
            state.store.delete_tool(&a.business_id, id).await?;
        }
    }
    Ok(())
}

fn view(r: &ToolRecord) -> Value {
    action_map::to_seed(r).unwrap_or(Value::Null)
}
