//! Seed 003's calls: `POST /api/v1/calls` (CreateCall: log a call made elsewhere),
//! `GET /api/v1/calls/{callId}` (GetCall), its recording (GetCallRecording) and transcription
//! (GetCallTranscription). A call is Vox's call record, shown by the number seed 003 gave it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};
use vox_store::{CallChannel, CallKind, CallRecord, CallStatus, CrmCall, EndedReason, rfc3339};

use super::{CrmAuth, Error, map};
use crate::{ApiError, ApiState, validate};

/// The seed's direction of a call.
fn direction(kind: CallKind) -> &'static str {
    match kind {
        CallKind::Inbound => "incoming",
        CallKind::Outbound => "outgoing",
    }
}

/// The status the seed's users read (a carrier's words): queued, in-progress, completed,
/// busy, no-answer, canceled, failed.
fn status(c: &CallRecord) -> &'static str {
    match (c.status, c.ended_reason) {
        (CallStatus::Scheduled, _) => "queued",
        (CallStatus::InProgress, _) => "in-progress",
        (CallStatus::Completed, _) => "completed",
        (CallStatus::Failed, Some(EndedReason::CustomerBusy)) => "busy",
        (CallStatus::Failed, Some(EndedReason::CustomerDidNotAnswer)) => "no-answer",
        (CallStatus::Failed, Some(EndedReason::Canceled)) => "canceled",
        (CallStatus::Failed, _) => "failed",
    }
}

/// Whether an extracted value says yes: true, "true", "yes" (null when it says neither).
fn met(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "met" => Some(true),
            "false" | "no" | "not met" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The seed's call object.
pub(crate) async fn view(state: &ApiState, c: &CallRecord, m: &CrmCall) -> Result<Value, Error> {
    let d = &m.data;
    let ours = c.phone_number.clone();
    let theirs = c.customer_number.clone();
    let (from, to) = match c.kind {
        CallKind::Inbound => (theirs.clone(), ours),
        CallKind::Outbound => (ours, theirs.clone()),
    };
    let contact = match &theirs {
        Some(n) => state
            .store
            .contacts_at(&c.business_id, n)
            .await?
            .first()
            .map(|k| k.id),
        None => None,
    };
    let updated = c.ended_at.or(c.started_at).unwrap_or(c.created_at);
    let mut metadata = d.get("metadata").cloned().unwrap_or(Value::Null);
    // an ad hoc call's objectives, and after the call whether each was met
    if let Some(objectives) = metadata
        .get("objectives")
        .and_then(Value::as_array)
        .cloned()
    {
        let results: Vec<Value> = objectives
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let said = c
                    .structured_data
                    .as_ref()
                    .and_then(|s| s.get(format!("objective_{}", i + 1)));
                json!({"objective": o, "met": said.and_then(met)})
            })
            .collect();
        metadata["results"] = json!(results);
    }
    Ok(json!({
        "id": m.number,
        "tenantId": c.business_id,
        "providerId": d.get("providerId").cloned().unwrap_or_else(|| json!(c.carrier_call_id)),
        "providerName": d.get("providerName").cloned().unwrap_or_else(|| json!("vox")),
        "funnelConversationId": d.get("funnelConversationId"),
        "sessionId": d.get("sessionId"),
        "userId": d.get("userId"),
        "contactId": d.get("contactId").cloned().unwrap_or_else(|| json!(contact)),
        "opportunityId": null,
        "analysisConfigId": null,
        "teamId": d.get("teamId"),
        "from": from,
        "to": to,
        "redirectedTo": d.get("redirectedTo"),
        "duration": c.duration_ms.map(|ms| ms as f64 / 1000.0),
        "direction": direction(c.kind),
        "status": status(c),
        "startTime": c.started_at.map(rfc3339),
        "metadata": metadata,
        "customData": d.get("customData"),
        "agentScore": null,
        "category": null,
        "createdAt": rfc3339(c.created_at),
        "updatedAt": rfc3339(updated),
        "lastUpdateSequence": updated,
    }))
}

/// The tenant's call numbered by the path.
async fn found(
    state: &ApiState,
    auth: &CrmAuth,
    raw: &str,
) -> Result<(CallRecord, CrmCall), Error> {
    let number = map::path_id("callId", raw)?;
    let m = state
        .store
        .crm_call_by_number(&auth.business_id, number)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    let c = state
        .store
        .call_by_id(&m.call_id)
        .await?
        .ok_or_else(|| ApiError::not_found("call"))?;
    Ok((c, m))
}

/// The fields CreateCall takes.
const CREATE_FIELDS: &[&str] = &[
    "status",
    "userId",
    "metadata",
    "providerId",
    "providerName",
    "customData",
    "funnelConversationId",
    "sessionId",
    "from",
    "to",
    "redirectedTo",
    "duration",
    "direction",
    "startTime",
    "teamId",
];

/// A required field that may be null.
fn present<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a Value, ApiError> {
    m.get(key)
        .ok_or_else(|| ApiError::invalid(key, format!("{key} is required (it may be null)")))
}

/// An optional whole number, at least 1.
fn id_number(m: &Map<String, Value>, key: &str) -> Result<Value, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(v) => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && (1.0..1e15).contains(&n) => Ok(json!(n as i64)),
            _ => Err(ApiError::invalid(
                key,
                format!("{key} must be a positive integer, got {v}"),
            )),
        },
    }
}

/// `POST /api/v1/calls`: logs a call that happened elsewhere (it has ended: completed,
/// busy, no-answer, canceled or failed).
pub(crate) async fn create(
    auth: CrmAuth,
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Json<Value>, Error> {
    auth.require("calls:write")?;
    let m = validate::object(&body)?;
    validate::known(&m, "", CREATE_FIELDS)?;
    let raw_status = validate::req_str(&m, "", "status")?;
    let (status, reason) = match raw_status {
        "completed" => (CallStatus::Completed, None),
        "busy" => (CallStatus::Failed, Some(EndedReason::CustomerBusy)),
        "no-answer" => (CallStatus::Failed, Some(EndedReason::CustomerDidNotAnswer)),
        "canceled" => (CallStatus::Failed, Some(EndedReason::Canceled)),
        "failed" => (CallStatus::Failed, Some(EndedReason::CarrierFailed)),
        other => {
            return Err(ApiError::invalid(
                "status",
                format!("status must be completed, busy, no-answer, canceled or failed (a call that has ended), got {other:?}"),
            )
            .into());
        }
    };
    let kind = match validate::req_str(&m, "", "direction")? {
        "incoming" | "inbound" => CallKind::Inbound,
        "outgoing" | "outbound" => CallKind::Outbound,
        other => {
            return Err(ApiError::invalid(
                "direction",
                format!("direction must be incoming or outgoing, got {other:?}"),
            )
            .into());
        }
    };
    let from = validate::req_str(&m, "", "from")?.trim();
    validate::e164("from", from)?;
    let to = validate::req_str(&m, "", "to")?.trim();
    validate::e164("to", to)?;
    let start = map::time("startTime", validate::req_str(&m, "", "startTime")?)?;
    let duration_ms = match present(&m, "duration")? {
        Value::Null => None,
        v => match v.as_f64() {
            Some(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => {
                Some((s * 1000.0).round() as i64)
            }
            _ => {
                return Err(ApiError::invalid(
                    "duration",
                    format!("duration must be seconds from 0 to 86400, or null, got {v}"),
                )
                .into());
            }
        },
    };
    let user_id = match present(&m, "userId")? {
        Value::Null => Value::Null,
        _ => id_number(&m, "userId")?,
    };
    let metadata = present(&m, "metadata")?.clone();
    let redirected = match validate::opt_str(&m, "", "redirectedTo")? {
        Some(r) => {
            validate::e164("redirectedTo", r)?;
            json!(r)
        }
        None => Value::Null,
    };
    let data = json!({
        "providerId": map::text(&m, "providerId", 200)?,
        "providerName": map::text(&m, "providerName", 200)?,
        "userId": user_id,
        "teamId": id_number(&m, "teamId")?,
        "sessionId": id_number(&m, "sessionId")?,
        "funnelConversationId": id_number(&m, "funnelConversationId")?,
        "metadata": metadata,
        "customData": m.get("customData").cloned().unwrap_or(Value::Null),
        "redirectedTo": redirected,
    });
    if data.to_string().len() > 64 << 10 {
        return Err(ApiError::bad_request(
            "metadata and customData must be at most 64 KiB as JSON",
        )
        .into());
    }
    let (ours, theirs) = match kind {
        CallKind::Inbound => (to, from),
        CallKind::Outbound => (from, to),
    };
    let record = state
        .store
        .create_call(CallRecord {
            channel: CallChannel::Phone,
            phone_number: Some(ours.to_owned()),
            customer_number: Some(theirs.to_owned()),
            status,
            ended_reason: reason,
            duration_ms,
            started_at: Some(start),
            ended_at: Some(start + duration_ms.unwrap_or(0)),
            ..CallRecord::new(&auth.business_id, kind)
        })
        .await?;
    let m = state.store.crm_call(&record.id, &data).await?;
    Ok(Json(view(&state, &record, &m).await?))
}

/// `GET /api/v1/calls/{callId}`
pub(crate) async fn get(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("calls:read")?;
    let (c, m) = found(&state, &auth, &id).await?;
    Ok(Json(view(&state, &c, &m).await?))
}

/// `GET /api/v1/calls/{callId}/recording`: the recording, its `url` a link that opens
/// without a token until it expires (404 when the call has none).
pub(crate) async fn recording(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Error> {
    recording_of(&state, &auth, &id, &headers).await
}

/// `GET /api/v1/recordings/{id}` (GetRecording; a recording has its call's number): the
/// route is shared with seed 004's signed links, whose names are not numbers.
pub(crate) async fn get_recording(
    state: ApiState,
    id: String,
    request: axum::extract::Request,
) -> Result<Json<Value>, Error> {
    use axum::extract::FromRequestParts as _;
    let (mut parts, _) = request.into_parts();
    let auth = CrmAuth::from_request_parts(&mut parts, &state).await?;
    recording_of(&state, &auth, &id, &parts.headers).await
}

/// A call's recording, by the call's number.
async fn recording_of(
    state: &ApiState,
    auth: &CrmAuth,
    id: &str,
    headers: &HeaderMap,
) -> Result<Json<Value>, Error> {
    auth.require("calls:read")?;
    let (c, m) = found(state, auth, id).await?;
    let (url, _) = crate::voice_calls::recording_link(state, headers, &c)
        .ok_or_else(|| ApiError::not_found("recording (this call has none)"))?;
    let updated = c.ended_at.unwrap_or(c.created_at);
    Ok(Json(json!({
        "id": m.number,
        "tenantId": c.business_id,
        "callId": m.number,
        "providerId": c.id,
        "providerName": "vox",
        "callProviderId": c.carrier_call_id,
        "callProviderName": null,
        "url": url,
        "startTime": c.started_at.map(rfc3339),
        "duration": c.duration_ms.map(|ms| ms as f64 / 1000.0),
        "dualChannel": true,
        "createdAt": rfc3339(updated),
        "updatedAt": rfc3339(updated),
    })))
}

/// `GET /api/v1/calls/{callId}/transcription`: the transcript as text (404 when the call
/// has none).
pub(crate) async fn transcription(
    auth: CrmAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Error> {
    auth.require("calls:read")?;
    let (c, m) = found(&state, &auth, &id).await?;
    let text = c
        .transcript
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::not_found("transcription (this call has none)"))?;
    let url = crate::voice_calls::recording_link(&state, &headers, &c).map(|(u, _)| u);
    let updated = c.ended_at.unwrap_or(c.created_at);
    Ok(Json(json!({
        "id": m.number,
        "tenantId": c.business_id,
        "providerId": c.id,
        "providerName": "vox",
        "recordingId": url.as_ref().map(|_| m.number),
        "url": url,
        "text": text,
        "createdAt": rfc3339(updated),
        "updatedAt": rfc3339(updated),
    })))
}
