//! Vonage Voice API: the application's answer URL (`GET /vonage/answer`) answers an NCCO that
//! connects the call to `/media/vonage` as a WebSocket endpoint (L16 16 kHz; agent, call and
//! token as the endpoint's `headers` and in the URL's query); its event URL
//! (`POST /vonage/event`) ends the record of a call whose stream never connected. Both must
//! be signed (the application's "signed webhooks": a JWT, HS256 with the signature secret).
//! Outbound calls are `POST /v1/calls` with the NCCO inline, authenticated with an RS256 JWT
//! of the application's private key; hang-up and transfer are `PUT /v1/calls/{uuid}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tracing::warn;
use vox_telephony::{Dialect, vonage_voice};

use super::{Account, Answer, Telephony, carrier_reply};
use crate::config::Carrier;

/// Vonage streams L16 at this rate to us, and takes it back.
const RATE: u32 = 16_000;

pub(super) fn routes() -> Router<Telephony> {
    Router::new()
        .route("/vonage/answer", get(answer).post(answer))
        .route("/vonage/event", post(event))
}

/// The webhook's parameters (query, and a JSON body's fields), once its token holds for one
/// of the Vonage pools.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn verified(
    t: &Telephony,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, Response> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = vox_store::now_ms() / 1000;
    let verdicts: Vec<Result<Value, &str>> = t
        .accounts(Carrier::Vonage)
        .map(|a| vonage_voice::verify_webhook(&a.signature_secret, auth, body, now))
        .collect();
    if !verdicts.iter().any(Result::is_ok) {
        let why = verdicts
            .iter()
            .find_map(|v| v.as_ref().err().copied())
            .unwrap_or("no vonage pool is configured");
        warn!(reason = why, "vonage webhook refused");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "vonage").increment(1);
        return Err((
            StatusCode::FORBIDDEN,
            format!("vonage webhook refused: {why} (enable signed webhooks on the application)"),
        )
            .into_response());
    }
    let mut params: serde_json::Map<String, Value> = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if !body.is_empty() {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => params.extend(m),
            _ => return Err((StatusCode::BAD_REQUEST, "expected a JSON object").into_response()),
        }
    }
    Ok(params)
}

fn text<'a>(p: &'a serde_json::Map<String, Value>, k: &str) -> &'a str {
    p.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Vonage writes numbers without the `+`.
fn e164(n: &str) -> String {
    if n.is_empty() || n.starts_with('+') {
        n.to_owned()
    } else {
        format!("+{n}")
    }
}

fn ncco(t: &Telephony, base: &str, call_id: &str, agent_id: &str) -> Value {
    let params = t.stream_params(call_id, agent_id);
    let url = format!(
        "{}?{}",
        Telephony::media_url(base, Dialect::Vonage),
        serde_urlencoded::to_string(&params).unwrap_or_default()
    );
    let h: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vonage_voice::connect_websocket(&url, RATE, &h)
}

async fn answer(
    State(t): State<Telephony>,
    _method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let p = match verified(&t, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (to, from, uuid) = (
        e164(text(&p, "to")),
        e164(text(&p, "from")),
        text(&p, "uuid").to_owned(),
    );
    match t.answer_inbound(Carrier::Vonage, &to, &from, &uuid).await {
        Ok(Answer::Stream { call_id, agent_id }) => {
            Json(ncco(&t, &t.base_url(Some(&headers)), &call_id, &agent_id)).into_response()
        }
        Ok(Answer::Refuse(message)) => Json(vonage_voice::talk(message)).into_response(),
        Err(e) => {
            warn!(error = %e, "answering a vonage call");
            Json(vonage_voice::talk(
                "Sorry, we cannot take your call right now. Please try again later.",
            ))
            .into_response()
        }
    }
}

async fn event(State(t): State<Telephony>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let p = match verified(&t, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // started, ringing, answered, ... are not an ending
    let Some((status, reason)) = Telephony::ending(text(&p, "status")) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let call_id = match Some(text(&p, "callId")).filter(|c| !c.is_empty()) {
        Some(c) => Some(c.to_owned()),
        None => {
            t.0.store
                .call_by_carrier_id(text(&p, "uuid"))
                .await
                .ok()
                .flatten()
                .map(|c| c.id)
        }
    };
    let Some(call_id) = call_id else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = t.end_unless_live(&call_id, status, reason).await {
        warn!(error = %e, call = %call_id, "recording a vonage call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn token(a: &Account) -> Result<String, String> {
    let key = a
        .private_key
        .as_ref()
        .ok_or("the vonage pool has no private_key")?;
    key.token(
        &a.application_id,
        vox_store::now_ms() / 1000,
        &uuid::Uuid::new_v4().to_string(),
    )
}

/// An outbound call: `POST /v1/calls` with the NCCO inline.
pub(super) async fn dial(
    t: &Telephony,
    a: &Account,
    r: &vox_api::DialRequest,
) -> Result<String, String> {
    let base = t.base_url(None);
    let body = json!({
        "to": [{"type": "phone", "number": vonage_voice::digits(&r.to)}],
        "from": {"type": "phone", "number": vonage_voice::digits(&r.from)},
        "ncco": ncco(t, &base, &r.call_id, &r.agent_id),
        "event_url": [format!("{base}/vonage/event?callId={}", r.call_id)],
        "event_method": "POST",
    });
    let reply = carrier_reply(
        Carrier::Vonage,
        t.0.http
            .post(format!("{}/v1/calls", a.api_base))
            .bearer_auth(token(a)?)
            .json(&body)
            .send()
            .await,
    )
    .await?;
    reply
        .get("uuid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "Vonage's reply has no uuid".to_owned())
}

async fn modify(t: &Telephony, a: &Account, uuid: &str, body: Value) -> Result<(), String> {
    let url = format!(
        "{}/v1/calls/{}",
        a.api_base,
        vox_tools::template::percent_encode(uuid)
    );
    carrier_reply(
        Carrier::Vonage,
        t.0.http
            .put(url)
            .bearer_auth(token(a)?)
            .json(&body)
            .send()
            .await,
    )
    .await
    .map(|_| ())
}

pub(super) async fn hang_up(t: &Telephony, a: &Account, uuid: &str) -> Result<(), String> {
    modify(t, a, uuid, json!({"action": "hangup"})).await
}

pub(super) async fn transfer(
    t: &Telephony,
    a: &Account,
    uuid: &str,
    to: &str,
    caller_id: &str,
) -> Result<(), String> {
    modify(t, a, uuid, json!({"action": "transfer", "destination": {"type": "ncco", "ncco": vonage_voice::connect_phone(to, caller_id)}})).await
}
