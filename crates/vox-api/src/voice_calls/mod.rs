//! Seed 004, the Voice Calls API (`/api/v1/voice-calls`), over the model: its voice calls are
//! the organization's call records (`map.rs`), with seed 004's scopes (`voice:read`,
//! `audio:download`), paging and RFC 9457 problem details ([`ProblemDetails`]). A recording is
//! handed out as a link that opens without a token for 15 minutes: an HMAC over its path and
//! expiry under the server's link key (`vox_crypto::link`), so any node with the key opens
//! it, and an altered or expired link is refused.

mod map;

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use vox_store::{CallKind, CallRecord, CallSearch};

use crate::compat::{ProblemDetails, SeedAuth, SeedError};
use crate::{ApiError, ApiState, calls};

/// A seed-004 route's error.
type Error = SeedError<ProblemDetails>;
/// A seed-004 route's token.
type VoiceCallsAuth = SeedAuth<ProblemDetails>;

/// The `/api/v1/voice-calls` routes, and the recording links'.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/voice-calls", get(list))
        .route("/api/v1/voice-calls/{id}", get(one))
        .route("/api/v1/voice-calls/{id}/recording-url", get(recording_url))
        .route("/api/v1/voice-calls/{id}/epa-results", get(epa_results))
        .route("/api/v1/recordings/{file}", get(recordings))
}

/// A datetime of the query (RFC 3339, or a date: its midnight UTC) in Unix ms.
fn datetime(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    let Some(raw) = q.get(key).map(|s| s.trim()) else {
        return Ok(None);
    };
    if let Ok(t) = raw.parse::<jiff::Timestamp>() {
        return Ok(Some(t.as_millisecond()));
    }
    if let Ok(d) = raw.parse::<jiff::civil::Date>()
        && let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(Some(z.timestamp().as_millisecond()));
    }
    Err(ApiError::invalid(
        key,
        format!("{key} must be an ISO 8601 date-time (2024-01-15T10:30:00Z) or date, got {raw:?}"),
    ))
}

/// `page` (1..) and `pageSize` (1-100, default 20).
fn paging(q: &HashMap<String, String>) -> Result<(i64, i64), ApiError> {
    let num = |key: &str, default: i64, max: i64| -> Result<i64, ApiError> {
        match q.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        key,
                        format!("{key} must be an integer from 1 to {max}, got {v:?}"),
                    )
                }),
        }
    };
    Ok((
        num("page", 1, i64::from(u32::MAX))?,
        num("pageSize", 20, 100)?,
    ))
}

/// `GET /api/v1/voice-calls?campaignId=&state=&direction=&dateFrom=&dateTo=&page=&pageSize=`
async fn list(
    auth: VoiceCallsAuth,
    State(state): State<ApiState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, Error> {
    auth.require("voice:read")?;
    let (page, size) = paging(&q)?;
    let mut search = CallSearch {
        organization_id: auth.organization_id.clone(),
        created_from: datetime(&q, "dateFrom")?,
        created_to: datetime(&q, "dateTo")?,
        offset: (page - 1).saturating_mul(size),
        limit: size,
        ..CallSearch::default()
    };
    if let (Some(from), Some(to)) = (search.created_from, search.created_to)
        && from > to
    {
        return Err(ApiError::invalid("dateFrom", "dateFrom must not be after dateTo").into());
    }
    if let Some(s) = q.get("state") {
        let wanted = map::State::parse(s).ok_or_else(|| {
            let names: Vec<&str> = map::State::ALL.iter().map(|(_, n)| *n).collect();
            ApiError::invalid(
                "state",
                format!("state must be one of {}, got {s:?}", names.join(", ")),
            )
        })?;
        let (status, reasons, not) = wanted.search();
        search.status = Some(status);
        search.ended_reasons = reasons;
        search.not_ended_reasons = not;
    }
    search.kind = match q.get("direction").map(String::as_str) {
        None => None,
        Some(d) if d.eq_ignore_ascii_case("inbound") => Some(CallKind::Inbound),
        Some(d) if d.eq_ignore_ascii_case("outbound") => Some(CallKind::Outbound),
        Some(d) => {
            return Err(ApiError::invalid(
                "direction",
                format!("direction must be Inbound or Outbound, got {d:?}"),
            )
            .into());
        }
    };
    search.campaign_id = q
        .get("campaignId")
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let (calls, total) = state.store.search_calls(&search).await?;
    Ok(Json(json!({
        "items": calls.iter().map(|c| map::to_seed(c, false)).collect::<Vec<_>>(),
        "page": page,
        "pageSize": size,
        "totalCount": total,
        "totalPages": (total + size - 1) / size,
    })))
}

/// The organization's call with seed 004's id `id`.
async fn call(state: &ApiState, auth: &VoiceCallsAuth, id: &str) -> Result<CallRecord, Error> {
    let Some(call_id) = map::call_id(id) else {
        return Err(ApiError::not_found("voice call").into());
    };
    state
        .store
        .call(&auth.organization_id, None, &call_id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice call").into())
}

/// `GET /api/v1/voice-calls/{id}`: with the full transcript.
async fn one(
    auth: VoiceCallsAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("voice:read")?;
    let c = call(&state, &auth, &id).await?;
    Ok(Json(map::to_seed(&c, true)))
}

/// `GET /api/v1/voice-calls/{id}/epa-results`
async fn epa_results(
    auth: VoiceCallsAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Error> {
    auth.require("voice:read")?;
    let c = call(&state, &auth, &id).await?;
    c.epa_results.map(Json).ok_or_else(|| {
        ApiError::not_found("post-call survey result (no survey ran for this call)").into()
    })
}

/// The base URL links are made under: `telephony.public_url`, else the request's host.
fn base_url(state: &ApiState, headers: &HeaderMap) -> String {
    if !state.public_url.is_empty() {
        return state.public_url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `GET /api/v1/voice-calls/{id}/recording-url`: a link to the WAV that opens without a token
/// for 15 minutes.
async fn recording_url(
    auth: VoiceCallsAuth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, Error> {
    auth.require("audio:download")?;
    let c = call(&state, &auth, &id).await?;
    let (url, expires) = recording_link(&state, &headers, &c)
        .ok_or_else(|| ApiError::not_found("recording (this call has none)"))?;
    Ok(Json(json!({
        "recordingUrl": url,
        "expiresAt": vox_store::rfc3339(expires * 1000),
    })))
}

/// A link to the call's recording that opens without a token until it expires (Unix
/// seconds, `api.signed_link_ttl_secs` from now), if the call has a recording.
pub(crate) fn recording_link(
    state: &ApiState,
    headers: &HeaderMap,
    c: &vox_store::CallRecord,
) -> Option<(String, i64)> {
    if c.recording_url.is_none() || !calls::recording_path(state, c).is_file() {
        return None;
    }
    let ttl = i64::try_from(state.link_ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let expires = vox_store::now_ms() / 1000 + ttl;
    let path = format!("/api/v1/recordings/{}.wav", map::seed_id(&c.id));
    let sig = state.links.sign(&path, expires);
    Some((
        format!("{}{path}?se={expires}&sig={sig}", base_url(state, headers)),
        expires,
    ))
}

/// `GET /api/v1/recordings/{file}`: a signed link of this API (`{vc_id}.wav?se=&sig=`), or, for
/// a number, seed 003's GetRecording (with its credentials).
async fn recordings(
    State(state): State<ApiState>,
    Path(file): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    request: axum::extract::Request,
) -> Response {
    use axum::response::IntoResponse as _;
    if !file.is_empty() && file.bytes().all(|b| b.is_ascii_digit()) {
        return crate::crm::get_recording(state, file, request)
            .await
            .into_response();
    }
    download(state, file, q).await.into_response()
}

/// A signed link's recording: no token; the link's signature and expiry are the permission.
async fn download(
    state: ApiState,
    file: String,
    q: HashMap<String, String>,
) -> Result<Response, Error> {
    let forbidden = |why: &str| -> Error {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "FORBIDDEN",
            message: why.to_owned(),
            field: None,
            retry_after: None,
        }
        .into()
    };
    let expires = q
        .get("se")
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| forbidden("the link has no expiry (se)"))?;
    let sig = q
        .get("sig")
        .ok_or_else(|| forbidden("the link has no signature (sig)"))?;
    let path = format!("/api/v1/recordings/{file}");
    state
        .links
        .verify(&path, expires, sig, vox_store::now_ms() / 1000)
        .map_err(|e| {
            forbidden(&format!(
                "{e}: ask GET /api/v1/voice-calls/{{id}}/recording-url for a new one"
            ))
        })?;
    let call_id = file
        .strip_suffix(".wav")
        .and_then(map::call_id)
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let c = state
        .store
        .call_by_id(&call_id)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    Ok(calls::wav(&calls::recording_path(&state, &c)).await?)
}
