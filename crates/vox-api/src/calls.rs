//! Outbound calls (`POST .../voice-agents/{id}/call`) and call history, for a business and
//! for the whole organization.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use vox_store::{CallFilter, CallKind, CallRecord, CallStatus, EndedReason, OrderBy, rfc3339};

use crate::tools::business;
use crate::validate;
use crate::{ApiError, ApiState, Auth, PageQuery};

/// What a dialer is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// Vox's call id (the media stream carries it back).
    pub call_id: String,
    /// The agent that will speak.
    pub agent_id: String,
    /// The business.
    pub business_id: String,
    /// Our number (the agent's deployment).
    pub from: String,
    /// The number to ring.
    pub to: String,
}

/// Why a call could not be placed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// No configured carrier account holds the `from` number.
    #[error("no telephony pool holds {0}")]
    NoPool(String),
    /// The carrier refused or could not be reached.
    #[error(transparent)]
    Carrier(Box<dyn std::error::Error + Send + Sync>),
}

/// Places calls through a carrier's REST API; the carrier then opens the media stream.
pub trait Dialer: Send + Sync + std::fmt::Debug {
    /// Starts ringing `to`; the carrier's id for the call.
    fn dial(&self, request: DialRequest) -> BoxFuture<'static, Result<String, DialError>>;
}

fn view(c: &CallRecord) -> Value {
    json!({
        "id": c.id, "businessId": c.business_id, "agentId": c.agent_id, "leadId": c.lead_id, "type": c.kind, "channel": c.channel,
        "phoneNumber": c.phone_number, "customerNumber": c.customer_number, "status": c.status,
        "endedReason": c.ended_reason, "summary": c.summary, "transcript": c.transcript, "recordingUrl": c.recording_url,
        "durationMs": c.duration_ms, "structuredData": c.structured_data, "leadContext": c.lead_context,
        "startedAt": c.started_at.map(rfc3339), "endedAt": c.ended_at.map(rfc3339),
        "messages": c.messages.clone().unwrap_or_else(|| json!([])),
    })
}

/// ISO 8601: a full timestamp (`2024-01-15T10:00:00Z`) or a date (midnight UTC).
fn instant(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(z.timestamp().as_millisecond());
    }
    Err(ApiError::invalid(
        field,
        format!("{field} must be an ISO 8601 date or time (e.g. 2024-01-15T10:00:00Z), got {s:?}"),
    ))
}

/// The query parameter `field`, if given, as one of `all` (by the name `name` gives it).
fn one_of<T: Copy>(
    q: &HashMap<String, String>,
    field: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Option<T>, ApiError> {
    let Some(v) = q.get(field) else {
        return Ok(None);
    };
    all.iter()
        .copied()
        .find(|x| name(*x) == v)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|x| name(*x)).collect();
            ApiError::invalid(
                field,
                format!("{field} must be one of {}, got {v:?}", names.join(", ")),
            )
        })
}

/// The list filters of seed 002 from the query string.
fn filter(
    q: &HashMap<String, String>,
    organization_id: &str,
    business_id: Option<String>,
) -> Result<(CallFilter, crate::Page), ApiError> {
    let page = PageQuery {
        page: q.get("page").cloned(),
        page_size: q.get("page_size").cloned(),
    }
    .page()?;
    // orderBy as orderBy[field]=..&orderBy[direction]=.., orderBy.field=.., or JSON
    let mut order: HashMap<&str, String> = HashMap::new();
    if let Some(j) = q.get("orderBy") {
        let v: Value = serde_json::from_str(j).map_err(|_| ApiError::invalid("orderBy", "orderBy must be {\"field\": ..., \"direction\": ...} (or orderBy[field], orderBy[direction])"))?;
        for k in ["field", "direction"] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                order.insert(k, s.to_owned());
            }
        }
    }
    for k in ["field", "direction"] {
        if let Some(v) = q
            .get(&format!("orderBy[{k}]"))
            .or_else(|| q.get(&format!("orderBy.{k}")))
        {
            order.insert(k, v.clone());
        }
    }
    let order_by = match order.get("field").map(String::as_str) {
        None | Some("startedAt") => OrderBy::StartedAt,
        Some("endedAt") => OrderBy::EndedAt,
        Some("durationMs") => OrderBy::DurationMs,
        Some(other) => {
            return Err(ApiError::invalid(
                "orderBy.field",
                format!("orderBy.field must be startedAt, endedAt or durationMs, got {other:?}"),
            ));
        }
    };
    let descending = match order.get("direction").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::invalid(
                "orderBy.direction",
                format!("orderBy.direction must be asc or desc, got {other:?}"),
            ));
        }
    };
    let start = q.get("start").map(|s| instant("start", s)).transpose()?;
    let end = q.get("end").map(|s| instant("end", s)).transpose()?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::invalid("start", "start must not be after end"));
    }
    let f = CallFilter {
        organization_id: organization_id.to_owned(),
        business_id,
        kind: one_of(q, "type", CallKind::ALL, CallKind::as_str)?,
        status: one_of(q, "status", CallStatus::ALL, CallStatus::as_str)?,
        start,
        end,
        lead_id: q.get("leadId").cloned(),
        order_by,
        descending,
        offset: page.offset(),
        limit: page.limit(),
    };
    Ok((f, page))
}

async fn list(state: &ApiState, f: CallFilter, page: crate::Page) -> Result<Json<Value>, ApiError> {
    let (items, total) = state.store.list_calls(&f).await?;
    Ok(page.body(items.iter().map(view).collect(), total))
}

/// `GET /v1/businesses/{businessId}/calls`
pub(crate) async fn list_business(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    auth.require("calls:read")?;
    let business = business(&state, &auth, &biz).await?;
    let (f, page) = filter(&q, &auth.organization_id, Some(business.id))?;
    list(&state, f, page).await
}

/// `GET /v1/organizations/calls` (optionally `businessId`)
pub(crate) async fn list_organization(
    auth: Auth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    auth.require("calls:read")?;
    let (f, page) = filter(&q, &auth.organization_id, q.get("businessId").cloned())?;
    list(&state, f, page).await
}

/// `GET /v1/businesses/{businessId}/calls/{callId}`
pub(crate) async fn get_business(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("calls:read")?;
    let business = business(&state, &auth, &biz).await?;
    let c = state
        .store
        .call(&auth.organization_id, Some(&business.id), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok(Json(view(&c)))
}

/// `GET /v1/businesses/{businessId}/calls/{callId}/recording`: the two-channel WAV (left the
/// caller, right the agent).
pub(crate) async fn recording(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    auth.require("calls:read")?;
    let business = business(&state, &auth, &biz).await?;
    let c = state
        .store
        .call(&auth.organization_id, Some(&business.id), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    if c.recording_url.is_none() {
        return Err(ApiError::not_found("recording"));
    }
    wav(&recording_path(&state, &c)).await
}

/// Where a call's recording is. Ids are ours (the record was read from the store), so the
/// path stays inside the directory.
pub(crate) fn recording_path(state: &ApiState, c: &vox_store::CallRecord) -> std::path::PathBuf {
    state
        .recordings_dir
        .join(&c.business_id)
        .join(format!("{}.wav", c.id))
}

/// A recording as the response, streamed from its file: a long call's recording is never held
/// in memory whole.
pub(crate) async fn wav(path: &std::path::Path) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| ApiError::not_found("recording"))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal(&e))?
        .len();
    let body =
        axum::body::Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "audio/wav".to_owned()),
            (axum::http::header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

/// `GET /v1/organizations/calls/{callId}`
pub(crate) async fn get_organization(
    auth: Auth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require("calls:read")?;
    let c = state
        .store
        .call(&auth.organization_id, None, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok(Json(view(&c)))
}

/// `POST /v1/businesses/{businessId}/voice-agents/{voiceAgentId}/call`
pub(crate) async fn outbound(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, agent_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // the seed names no scope of its own for placing calls; it changes the agent's state
    auth.require("voice-agents:update")?;
    let business = business(&state, &auth, &biz).await?;
    let m = validate::object(&body)?;
    validate::known(
        &m,
        "",
        &[
            "phoneNumber",
            "name",
            "leadId",
            "context",
            "additionalInfo",
            "imageUrls",
        ],
    )?;
    let to = validate::req_str(&m, "", "phoneNumber")?;
    state.dial_policy.check("phoneNumber", to)?;
    let name = validate::opt_str(&m, "", "name")?;
    let context = validate::opt_str(&m, "", "context")?;
    let additional = validate::opt_str(&m, "", "additionalInfo")?;
    let mut images = Vec::new();
    for (i, u) in validate::opt_array(&m, "", "imageUrls")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!("imageUrls[{i}]");
        let u = u
            .as_str()
            .ok_or_else(|| ApiError::invalid(&field, format!("{field} must be a URL string")))?;
        validate::url(&field, u)?;
        images.push(u.to_owned());
    }
    let agent = state
        .store
        .agent(&business.id, &agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice agent"))?;
    // a lead is a contact of the business (seed 003's): the agent is told their record
    let lead = match validate::opt_str(&m, "", "leadId")? {
        Some(raw) => {
            let id = raw.trim().parse::<i64>().ok().filter(|n| *n >= 1);
            let found = match id {
                Some(id) => state.store.contact(&business.id, id).await?,
                None => None,
            };
            let c = found.ok_or_else(|| {
                ApiError::not_found(&format!(
                    "lead {raw:?} (a lead is a contact's id, as /api/v1/contacts shows it)"
                ))
            })?;
            Some(c.id.to_string())
        }
        None => None,
    };
    if agent.kind != "OUTBOUND" {
        return Err(ApiError::bad_request(format!(
            "voice agent {agent_id} is {}, not OUTBOUND: only OUTBOUND agents place calls",
            agent.kind
        )));
    }
    let Some(from) = agent.phone_number.clone() else {
        return Err(ApiError::bad_request(format!(
            "voice agent {agent_id} is not deployed: POST .../voice-agents/{agent_id}/deploy first"
        )));
    };
    if agent.on_duty != Some(true) {
        return Err(ApiError::bad_request(format!(
            "voice agent {agent_id} is off duty: PATCH .../voice-agents/{agent_id}/on first"
        )));
    }
    let mut lead_context = json!({
        "context": context.map(str::to_owned).unwrap_or_else(|| format!("An outbound call on behalf of {}.", business.name)),
        "generatedFromLeadId": lead,
    });
    if let Some(a) = additional {
        lead_context["additionalInfo"] = json!(a);
    }
    if let Some(n) = name {
        lead_context["name"] = json!(n);
    }
    if !images.is_empty() {
        lead_context["imageUrls"] = json!(images);
    }
    let record = place(
        &state,
        &business.id,
        &agent.id,
        (&from, to),
        lead_context,
        lead.as_deref(),
    )
    .await?;
    Ok(Json(
        json!({"success": true, "callId": record.id, "phoneNumber": to, "status": "initiated"}),
    ))
}

/// Places an outbound call of agent `agent_id` from `from` to `to` (numbers the caller has
/// checked): taken from the business's outbound rate, recorded with `lead_context` (and the
/// contact it is for, `lead_id`), dialed. A dial the carrier refuses ends the record
/// (`dial-failed`).
pub(crate) async fn place(
    state: &ApiState,
    business_id: &str,
    agent_id: &str,
    (from, to): (&str, &str),
    lead_context: Value,
    lead_id: Option<&str>,
) -> Result<CallRecord, ApiError> {
    if let Err(secs) = state
        .outbound_rate
        .take(business_id, std::time::Instant::now())
    {
        tracing::info!(business = %business_id, "outbound call refused: over api.outbound_calls_per_minute");
        return Err(ApiError::rate_limited(
            format!(
                "this business may start {} outbound calls a minute (api.outbound_calls_per_minute); try again in {secs} s",
                state.outbound_rate.per_minute()
            ),
            secs,
        ));
    }
    let Some(dialer) = state.dialer.clone() else {
        return Err(ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, code: "INTERNAL_ERROR", message: "Failed to initiate call: no outbound dialer is configured for this server's telephony".into(), field: None, retry_after: None });
    };
    let record = state
        .store
        .create_call(CallRecord {
            agent_id: Some(agent_id.to_owned()),
            phone_number: Some(from.to_owned()),
            customer_number: Some(to.to_owned()),
            lead_context: Some(lead_context),
            lead_id: lead_id.map(str::to_owned),
            ..CallRecord::new(business_id, CallKind::Outbound)
        })
        .await?;
    match dialer
        .dial(DialRequest {
            call_id: record.id.clone(),
            agent_id: agent_id.to_owned(),
            business_id: business_id.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
        })
        .await
    {
        Ok(carrier_id) => {
            // only this field, and only if the carrier's callback has not named the call yet
            state
                .store
                .set_call_carrier_id_if_unset(&record.id, &carrier_id)
                .await?;
            let mut record = record;
            record.carrier_call_id.get_or_insert(carrier_id);
            Ok(record)
        }
        Err(why) => {
            tracing::warn!(call = %record.id, error = %why, "outbound dial failed");
            state
                .store
                .call_ended(&record.id, EndedReason::DialFailed, vox_store::now_ms())
                .await?;
            Err(ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "INTERNAL_ERROR",
                message: format!(
                    "Failed to initiate call {}: the carrier refused it",
                    record.id
                ),
                field: None,
                retry_after: None,
            })
        }
    }
}
