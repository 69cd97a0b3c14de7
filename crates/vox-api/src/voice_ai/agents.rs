//! Seed 000's agents (`/voice-ai/agents`): model agents created, read, changed and deleted
//! through seed 000's names, with its defaults, rules and paging.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use vox_store::{AgentRecord, Business, NumberClaim};

use super::map::{self, InboundNumber};
use super::{Error, VoiceAiAuth, actions, location, required};
use crate::compat::Paging;
use crate::{ApiError, ApiState, agents, schedule, validate};

/// `POST /voice-ai/agents`
pub(crate) async fn create(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), Error> {
    auth.require("voice-ai-agents.write")?;
    let m = validate::object(&body)?;
    let mut allowed = vec!["locationId"];
    allowed.extend_from_slice(map::AGENT_FIELDS);
    validate::known(&m, "", &allowed)?;
    let business = location(&state, &auth, validate::req_str(&m, "", "locationId")?).await?;
    let (fields, inbound) = map::to_model(&m)?;
    let mut model = map::creation_defaults(&state, &business);
    model.extend(fields);
    map::generated(&mut model);
    model.insert("type".into(), json!("INBOUND"));
    check_pool(&state, &model).await?;
    let mut doc = agents::document(&state, &business, &model).await?;
    agents::auto_tools(&state, &business, &mut doc).await?;
    let record = state
        .store
        .create_agent(AgentRecord {
            id: String::new(),
            business_id: business.id.clone(),
            name: doc["name"].as_str().unwrap_or_default().to_owned(),
            kind: "INBOUND".into(),
            document: Value::Object(doc),
            phone_number: None,
            on_duty: None,
            created_at: 0,
            updated_at: 0,
        })
        .await?;
    // a number that cannot be had undoes the creation: the request made nothing
    let record = match place(&state, record.clone(), inbound).await {
        Ok(r) => r,
        Err(e) => {
            state.store.delete_agent(&business.id, &record.id).await?;
            state.store.release_agent_number(&record.id).await?;
            return Err(e);
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(view(&state, &business, &record).await?),
    ))
}

/// `GET /voice-ai/agents?locationId=&page=&pageSize=&query=`
pub(crate) async fn list(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-agents.readonly")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let paging = Paging::from_query(&q, 10, 50, 5000)?;
    let (agents, total) = state
        .store
        .search_agents(
            &business.id,
            q.get("query").map(|s| s.trim()).unwrap_or(""),
            paging.offset(),
            paging.limit(),
        )
        .await?;
    let mut shown = Vec::with_capacity(agents.len());
    for a in &agents {
        shown.push(view(&state, &business, a).await?);
    }
    Ok(Json(json!({
        "total": total,
        "page": paging.page,
        "pageSize": paging.size,
        "agents": shown,
    })))
}

/// `GET /voice-ai/agents/{agentId}?locationId=`
pub(crate) async fn get(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-agents.readonly")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let a = agent(&state, &business, &id).await?;
    Ok(Json(view(&state, &business, &a).await?))
}

/// `PATCH /voice-ai/agents/{agentId}?locationId=`: the given fields replace the stored ones
/// and the whole agent is validated again, as seed 002's PATCH does.
pub(crate) async fn update(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("voice-ai-agents.write")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let mut a = agent(&state, &business, &id).await?;
    let m = validate::object(&body)?;
    validate::known(&m, "", map::AGENT_FIELDS)?;
    let (fields, inbound) = map::to_model(&m)?;
    if inbound.as_ref().is_some_and(Option::is_some) && a.kind != "INBOUND" {
        return Err(ApiError::invalid(
            "inboundNumber",
            "this agent places calls (OUTBOUND): it takes no inboundNumber",
        )
        .into());
    }
    let mut merged = a.document.as_object().cloned().unwrap_or_default();
    // a new prompt replaces the flow and the graph derived from it
    if fields.contains_key("conversationFlow") {
        merged.remove("workflow");
    }
    merged.extend(fields);
    check_pool(&state, &merged).await?;
    let mut doc = agents::document(&state, &business, &merged).await?;
    agents::auto_tools(&state, &business, &mut doc).await?;
    a.name = doc["name"].as_str().unwrap_or_default().to_owned();
    a.document = Value::Object(doc);
    let a = state.store.update_agent(&a).await?;
    let a = place(&state, a, inbound).await?;
    Ok(Json(view(&state, &business, &a).await?))
}

/// `DELETE /voice-ai/agents/{agentId}?locationId=`
pub(crate) async fn delete(
    auth: VoiceAiAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<StatusCode, Error> {
    auth.require("voice-ai-agents.write")?;
    let business = location(&state, &auth, required(&q, "locationId")?).await?;
    let a = agent(&state, &business, &id).await?;
    if !state.store.delete_agent(&business.id, &id).await? {
        return Err(ApiError::not_found("agent").into());
    }
    state.store.release_agent_number(&id).await?;
    actions::delete_of_agent(&state, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn agent(state: &ApiState, business: &Business, id: &str) -> Result<AgentRecord, Error> {
    state
        .store
        .agent(&business.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent").into())
}

async fn view(state: &ApiState, business: &Business, a: &AgentRecord) -> Result<Value, Error> {
    let actions = actions::of_agent(state, a).await?;
    Ok(map::to_seed(a, business, state.call_defaults, actions))
}

/// `numberPoolId` must name a pool of this server (the carrier whose numbers it holds).
async fn check_pool(state: &ApiState, model: &Map<String, Value>) -> Result<(), Error> {
    let Some(pool) = model.get("numberPoolId").and_then(Value::as_str) else {
        return Ok(());
    };
    let pools = state.store.number_pools().await?;
    if pools.iter().any(|p| p == pool) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "numberPoolId",
            format!(
                "no number pool {pool:?}: this server's pools are its carriers' (telephony.pools): {}",
                if pools.is_empty() { "none".to_owned() } else { pools.join(", ") }
            ),
        )
        .into())
    }
}

/// Puts the agent on `inboundNumber` (or off it: `Some(None)`), or on a free number of its
/// `numberPoolId` when it has none; on duty unless its working hours say otherwise.
async fn place(
    state: &ApiState,
    mut a: AgentRecord,
    inbound: InboundNumber,
) -> Result<AgentRecord, Error> {
    let store = &state.store;
    let pool = a.document["numberPoolId"].as_str().map(str::to_owned);
    let number = match inbound {
        Some(None) => {
            store.release_agent_number(&a.id).await?;
            a.phone_number = None;
            a.on_duty = None;
            return Ok(store.update_agent(&a).await?);
        }
        Some(Some(n)) => match store.claim_number(&a.business_id, &a.id, &n).await? {
            NumberClaim::Claimed => n,
            NumberClaim::NotInPool => {
                return Err(ApiError::invalid(
                    "inboundNumber",
                    format!("{n} is not a number of this server's pools (telephony.pools)"),
                )
                .into());
            }
            NumberClaim::Taken => {
                return Err(ApiError::invalid(
                    "inboundNumber",
                    format!("{n} is held by another agent or business"),
                )
                .into());
            }
        },
        None => match (&a.phone_number, pool) {
            (None, Some(pool)) if a.kind == "INBOUND" => {
                match store
                    .claim_pool_number(&a.business_id, &a.id, &pool)
                    .await?
                {
                    Some(n) => n,
                    None => {
                        return Err(ApiError::invalid(
                            "numberPoolId",
                            format!("the pool {pool:?} has no free number"),
                        )
                        .into());
                    }
                }
            }
            _ => return Ok(a),
        },
    };
    if a.phone_number.as_deref() != Some(number.as_str()) {
        a.phone_number = Some(number);
        a.on_duty = Some(
            a.document
                .get("activatedHours")
                .and_then(|h| schedule::is_active(h, jiff::Timestamp::now()))
                .unwrap_or(true),
        );
        a = store.update_agent(&a).await?;
    }
    Ok(a)
}
