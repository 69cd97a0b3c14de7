//! Exotel: a flow's Voicebot applet with the URL `https://KEY:TOKEN@HOST/exotel/voicebot`
//! (Basic auth with an Exotel pool's API key and token) asks `GET /exotel/voicebot` where to
//! stream; the answer is `{"url": "wss://HOST/media/exotel?agentId=..&callId=..&token=.."}`
//! (the three custom parameters the applet allows). Outbound calls use the Connect Voice AI
//! API (`POST /v1/accounts/{sid}/calls/connect` with `streamurl`, bidirectional). Exotel has
//! no call control API for a live call: hanging up closes the stream (the flow's next applet,
//! Hangup, ends the call); a transfer is left for the flow's Connect applet, whose "dial whom"
//! URL (`GET /exotel/dial?CallSid=`) answers the destination. `POST /exotel/status` (the
//! StatusCallback) ends the record of a call whose stream never connected.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use std::collections::HashMap;
use tracing::{info, warn};
use vox_telephony::{Dialect, exotel_voice};

use super::{Account, Answer, Telephony, carrier_reply};
use crate::config::Carrier;

pub(super) fn routes() -> Router<Telephony> {
    Router::new()
        .route("/exotel/voicebot", get(voicebot))
        .route("/exotel/status", post(status))
        .route("/exotel/dial", get(dial_whom))
}

#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn authorized(t: &Telephony, headers: &HeaderMap) -> Result<(), Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if t.accounts(Carrier::Exotel)
        .any(|a| exotel_voice::basic_auth_ok(auth, &a.api_key, &a.auth_token))
    {
        return Ok(());
    }
    warn!("exotel request without the pool's credentials");
    metrics::counter!("vox_webhook_rejected_total", "carrier" => "exotel").increment(1);
    Err((
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"vox\"")],
        "put an Exotel pool's api_key:auth_token in the applet's URL",
    )
        .into_response())
}

/// The pool number Exotel means by `n`, which it may write as `0XXXXXXXXXX` or without `+`:
/// the one whose digits end with `n`'s, leading zeros dropped.
fn our_number(t: &Telephony, n: &str) -> Option<String> {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    if digits.len() < 6 {
        return None;
    }
    t.accounts(Carrier::Exotel)
        .flat_map(|a| a.numbers.iter())
        .find(|p| p.trim_start_matches('+').ends_with(digits))
        .cloned()
}

async fn voicebot(
    State(t): State<Telephony>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&t, &headers) {
        return r;
    }
    let get = |k: &str| q.get(k).map_or("", String::as_str);
    let Some(to) = our_number(&t, get("CallTo")).or_else(|| our_number(&t, get("To"))) else {
        return (StatusCode::NOT_FOUND, "no exotel pool holds this number").into_response();
    };
    let from = get("CallFrom").to_owned();
    match t
        .answer_inbound(Carrier::Exotel, &to, &from, get("CallSid"))
        .await
    {
        Ok(Answer::Stream { call_id, agent_id }) => {
            let url = t.media_url_with_params(
                &t.base_url(Some(&headers)),
                Dialect::Exotel,
                &call_id,
                &agent_id,
            );
            (
                [(header::CONTENT_TYPE, "application/json")],
                exotel_voice::voicebot_answer(&url),
            )
                .into_response()
        }
        // the applet fails over to the flow's next applet
        Ok(Answer::Refuse(why)) => (StatusCode::NOT_FOUND, why).into_response(),
        Err(e) => {
            warn!(error = %e, "answering an exotel call");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn status(
    State(t): State<Telephony>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(r) = authorized(&t, &headers) {
        return r;
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| q.get(k).or_else(|| form.get(k)).map_or("", String::as_str);
    let call_id = match Some(get("callId")).filter(|c| !c.is_empty()) {
        Some(c) => Some(c.to_owned()),
        None => {
            t.0.store
                .call_by_carrier_id(get("CallSid"))
                .await
                .ok()
                .flatten()
                .map(|c| c.id)
        }
    };
    let Some(call_id) = call_id else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let Some((status, reason)) = Telephony::ending(get("Status")) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = t.end_unless_live(&call_id, status, reason).await {
        warn!(error = %e, call = %call_id, "recording an exotel call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The Connect applet's "dial whom" URL: the destination of the transfer the agent ordered.
async fn dial_whom(
    State(t): State<Telephony>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&t, &headers) {
        return r;
    }
    let sid = q.get("CallSid").map_or("", String::as_str);
    match t.0.exotel_transfers.lock().expect("transfers").remove(sid) {
        Some((to, _)) => ([(header::CONTENT_TYPE, "text/plain")], to).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no transfer was ordered for this call",
        )
            .into_response(),
    }
}

/// A transfer: remembered for the Connect applet, which asks once the stream has closed.
pub(super) fn transfer(t: &Telephony, call_sid: &str, to: &str, caller_id: &str) {
    info!(%call_sid, "exotel transfer left to the flow's Connect applet");
    t.0.exotel_transfers
        .lock()
        .expect("transfers")
        .insert(call_sid.to_owned(), (to.to_owned(), caller_id.to_owned()));
}

/// `https://KEY:TOKEN@host` from `https://host`.
fn with_credentials(base: &str, a: &Account) -> String {
    let enc = vox_tools::template::percent_encode;
    match base.split_once("://") {
        Some((scheme, rest)) => format!(
            "{scheme}://{}:{}@{rest}",
            enc(&a.api_key),
            enc(&a.auth_token)
        ),
        None => base.to_owned(),
    }
}

/// An outbound call through Connect Voice AI: Exotel calls `to` and streams it to us.
pub(super) async fn dial(
    t: &Telephony,
    a: &Account,
    r: &vox_api::DialRequest,
) -> Result<String, String> {
    let base = t.base_url(None);
    let form = [
        ("from", r.to.clone()),
        ("callerid", r.from.clone()),
        (
            "streamurl",
            t.media_url_with_params(&base, Dialect::Exotel, &r.call_id, &r.agent_id),
        ),
        ("streamtype", "bidirectional".to_owned()),
        // Exotel authenticates to a URL with the credentials it carries
        (
            "statuscallback",
            format!(
                "{}/exotel/status?callId={}",
                with_credentials(&base, a),
                r.call_id
            ),
        ),
    ];
    let url = format!(
        "{}/v1/accounts/{}/calls/connect",
        a.api_base,
        vox_tools::template::percent_encode(&a.account_sid)
    );
    let reply = carrier_reply(
        Carrier::Exotel,
        t.0.http
            .post(url)
            .basic_auth(&a.api_key, Some(&a.auth_token))
            .form(&form)
            .send()
            .await,
    )
    .await?;
    ["/Call/Sid", "/call/sid", "/sid", "/call_sid"]
        .iter()
        .find_map(|p| reply.pointer(p).and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| "Exotel's reply has no call Sid".to_owned())
}
