//! Plivo: the answer URL (`POST /plivo/answer`, V3-signed with a Plivo pool's auth token)
//! answers Plivo XML whose `<Stream bidirectional="true">` connects the call to
//! `/media/plivo` (mu-law 8 kHz; agent, call and token in the URL's query and in
//! `extraHeaders`). The hangup URL (`/plivo/hangup`) ends the record of a call whose stream
//! never connected. Outbound calls: `POST /v1/Account/{auth_id}/Call/` with our answer URL;
//! hang-up is `DELETE .../Call/{uuid}/`, a transfer points the live leg at `/plivo/transfer`,
//! which answers a `<Dial>`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tracing::warn;
use vox_telephony::{Dialect, plivo_voice};

use super::{Account, Answer, Telephony, carrier_reply};
use crate::config::Carrier;

pub(super) fn routes() -> Router<Telephony> {
    Router::new()
        .route("/plivo/answer", post(answer).get(answer))
        .route("/plivo/hangup", post(hangup).get(hangup))
        .route("/plivo/transfer", post(transfer_xml).get(transfer_xml))
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The request's parameters (form body, or query for GET), once its V3 signature holds for
/// one of the Plivo pools.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn verified(
    t: &Telephony,
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<Vec<(String, String)>, Response> {
    let params: Vec<(String, String)> = if method == Method::GET {
        Vec::new()
    } else {
        serde_urlencoded::from_bytes(body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("expected a form-encoded Plivo request: {e}"),
            )
                .into_response()
        })?
    };
    let url = format!(
        "{}{}",
        t.base_url(Some(headers)),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (nonce, sig) = (h("x-plivo-signature-v3-nonce"), h("x-plivo-signature-v3"));
    if !t
        .accounts(Carrier::Plivo)
        .any(|a| plivo_voice::verify(&a.auth_token, method.as_str(), &url, &params, nonce, sig))
    {
        warn!(%url, "plivo request with a missing or wrong signature");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "plivo").increment(1);
        return Err((
            StatusCode::FORBIDDEN,
            "invalid X-Plivo-Signature-V3 (is telephony.public_url the URL Plivo calls?)",
        )
            .into_response());
    }
    let mut all: Vec<(String, String)> = uri
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    all.extend(params);
    Ok(all)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn stream_xml(t: &Telephony, headers: &HeaderMap, call_id: &str, agent_id: &str) -> String {
    let base = t.base_url(Some(headers));
    let params = t.stream_params(call_id, agent_id);
    let url = format!(
        "{}?{}",
        Telephony::media_url(&base, Dialect::Plivo),
        serde_urlencoded::to_string(&params).unwrap_or_default()
    );
    let h: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    plivo_voice::stream(&url, &h)
}

async fn answer(
    State(t): State<Telephony>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match verified(&t, &method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let uuid = param(&params, "CallUUID");
    // an outbound call we placed names its record in the answer URL
    if let Some(call_id) = Some(param(&params, "callId")).filter(|c| !c.is_empty()) {
        let record = match t.0.store.call_by_id(call_id).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return xml(plivo_voice::speak_and_hang_up(
                    "This call is no longer expected.",
                ));
            }
            Err(e) => {
                warn!(error = %e, "answering a plivo call");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        if !uuid.is_empty() {
            let _ = t.0.store.set_call_carrier_id(call_id, uuid).await;
        }
        return xml(stream_xml(
            &t,
            &headers,
            call_id,
            record.agent_id.as_deref().unwrap_or_default(),
        ));
    }
    let (to, from) = (param(&params, "To"), param(&params, "From"));
    let to = if to.starts_with('+') {
        to.to_owned()
    } else {
        format!("+{to}")
    };
    let from = if from.starts_with('+') || from.is_empty() {
        from.to_owned()
    } else {
        format!("+{from}")
    };
    match t.answer_inbound(Carrier::Plivo, &to, &from, uuid).await {
        Ok(Answer::Stream { call_id, agent_id }) => {
            xml(stream_xml(&t, &headers, &call_id, &agent_id))
        }
        Ok(Answer::Refuse(message)) => xml(plivo_voice::speak_and_hang_up(message)),
        Err(e) => {
            warn!(error = %e, "answering a plivo call");
            xml(plivo_voice::speak_and_hang_up(
                "Sorry, we cannot take your call right now. Please try again later.",
            ))
        }
    }
}

async fn hangup(
    State(t): State<Telephony>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match verified(&t, &method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let call_id = match Some(param(&params, "callId")).filter(|c| !c.is_empty()) {
        Some(c) => Some(c.to_owned()),
        None => {
            t.0.store
                .call_by_carrier_id(param(&params, "CallUUID"))
                .await
                .ok()
                .flatten()
                .map(|c| c.id)
        }
    };
    let Some(call_id) = call_id else {
        return StatusCode::NO_CONTENT.into_response();
    };
    // the hangup URL is only called at the end: any other word is a failure
    let (status, reason) =
        Telephony::ending(param(&params, "CallStatus")).unwrap_or(("FAILED", "carrier-failed"));
    if let Err(e) = t.end_unless_live(&call_id, status, reason).await {
        warn!(error = %e, call = %call_id, "recording a plivo hang-up");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `/plivo/transfer?to=..&callerId=..`: where a transferred leg goes.
async fn transfer_xml(
    State(t): State<Telephony>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match verified(&t, &method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let to = param(&params, "to");
    if !to.starts_with('+') {
        return (StatusCode::BAD_REQUEST, "to must be an E.164 number").into_response();
    }
    xml(plivo_voice::dial(to, param(&params, "callerId")))
}

fn account_url(a: &Account, rest: &str) -> String {
    format!(
        "{}/v1/Account/{}/{rest}",
        a.api_base,
        vox_tools::template::percent_encode(&a.account_sid)
    )
}

/// An outbound call: Plivo calls `to` and asks our answer URL what to do.
pub(super) async fn dial(
    t: &Telephony,
    a: &Account,
    r: &vox_api::DialRequest,
) -> Result<String, String> {
    let base = t.base_url(None);
    let body = json!({
        "from": r.from.trim_start_matches('+'),
        "to": r.to.trim_start_matches('+'),
        "answer_url": format!("{base}/plivo/answer?callId={}", r.call_id),
        "answer_method": "POST",
        "hangup_url": format!("{base}/plivo/hangup?callId={}", r.call_id),
        "hangup_method": "POST",
    });
    let reply = carrier_reply(
        Carrier::Plivo,
        t.0.http
            .post(account_url(a, "Call/"))
            .basic_auth(&a.account_sid, Some(&a.auth_token))
            .json(&body)
            .send()
            .await,
    )
    .await?;
    let uuid = reply.get("request_uuid").and_then(|u| {
        u.as_str()
            .map(str::to_owned)
            .or_else(|| u.get(0).and_then(Value::as_str).map(str::to_owned))
    });
    uuid.ok_or_else(|| "Plivo's reply has no request_uuid".to_owned())
}

pub(super) async fn hang_up(t: &Telephony, a: &Account, uuid: &str) -> Result<(), String> {
    let url = account_url(
        a,
        &format!("Call/{}/", vox_tools::template::percent_encode(uuid)),
    );
    carrier_reply(
        Carrier::Plivo,
        t.0.http
            .delete(url)
            .basic_auth(&a.account_sid, Some(&a.auth_token))
            .send()
            .await,
    )
    .await
    .map(|_| ())
}

pub(super) async fn transfer(
    t: &Telephony,
    a: &Account,
    uuid: &str,
    to: &str,
    caller_id: &str,
) -> Result<(), String> {
    let target = format!(
        "{}/plivo/transfer?{}",
        t.base_url(None),
        serde_urlencoded::to_string([("to", to), ("callerId", caller_id)]).unwrap_or_default()
    );
    let url = account_url(
        a,
        &format!("Call/{}/", vox_tools::template::percent_encode(uuid)),
    );
    let body = json!({"legs": "aleg", "aleg_url": target, "aleg_method": "POST"});
    carrier_reply(
        Carrier::Plivo,
        t.0.http
            .post(url)
            .basic_auth(&a.account_sid, Some(&a.auth_token))
            .json(&body)
            .send()
            .await,
    )
    .await
    .map(|_| ())
}
