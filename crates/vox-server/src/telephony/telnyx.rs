//! Telnyx Call Control: `POST /telnyx/webhook` takes the application's events (signed with
//! Ed25519, checked against each Telnyx pool's `public_key`). An incoming `call.initiated` to
//! a deployed number is answered with `actions/answer` streaming both ways (RTP mode, PCMU)
//! to `/media/telnyx`, agent, call and token in the stream URL's query, the call's id in
//! `client_state`; a call no agent can take is rejected (busy). `call.hangup` ends the record
//! of a call whose stream never connected. Outbound calls are `POST /v2/calls` with the same
//! stream fields; hang-up and transfer are `actions/hangup` and `actions/transfer`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tracing::{info, warn};
use vox_telephony::{Dialect, telnyx_voice};

use super::{Account, Answer, Telephony, carrier_reply};
use crate::config::Carrier;

pub(super) fn routes() -> Router<Telephony> {
    Router::new().route("/telnyx/webhook", post(webhook))
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> &'h str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn webhook(State(t): State<Telephony>, headers: HeaderMap, body: Bytes) -> Response {
    let (ts, sig) = (
        header(&headers, telnyx_voice::TIMESTAMP_HEADER),
        header(&headers, telnyx_voice::SIGNATURE_HEADER),
    );
    let now = vox_store::now_ms() / 1000;
    let verdicts: Vec<Result<(), &str>> = t
        .accounts(Carrier::Telnyx)
        .map(|a| telnyx_voice::verify(&a.public_key, ts, &body, sig, now))
        .collect();
    if !verdicts.iter().any(Result::is_ok) {
        let why = verdicts
            .first()
            .and_then(|v| v.err())
            .unwrap_or("no telnyx pool is configured");
        warn!(reason = why, "telnyx webhook refused");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "telnyx").increment(1);
        return (
            StatusCode::FORBIDDEN,
            format!("telnyx webhook refused: {why}"),
        )
            .into_response();
    }
    let event = match telnyx_voice::parse_event(&body) {
        Ok(e) => e,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a Call Control event: {e}"),
            )
                .into_response();
        }
    };
    match event.event_type.as_str() {
        "call.initiated" if event.direction == "incoming" => {
            let Some(index) =
                t.0.accounts
                    .iter()
                    .position(|a| a.carrier == Carrier::Telnyx && a.numbers.contains(&event.to))
            else {
                return (StatusCode::NOT_FOUND, "no telnyx pool holds this number").into_response();
            };
            // Telnyx wants the webhook answered at once; the command follows
            let t2 = t.clone();
            tokio::spawn(async move {
                let a = &t2.0.accounts[index];
                let ccid = &event.call_control_id;
                let sent = match t2
                    .answer_inbound(Carrier::Telnyx, &event.to, &event.from, ccid)
                    .await
                {
                    Ok(Answer::Stream { call_id, agent_id }) => {
                        let mut body = telnyx_voice::stream_fields(&t2.media_url_with_params(
                            &t2.base_url(None),
                            Dialect::Telnyx,
                            &call_id,
                            &agent_id,
                        ));
                        body["client_state"] =
                            json!(telnyx_voice::client_state(&format!("callId={call_id}")));
                        command(&t2, a, ccid, "answer", body).await
                    }
                    Ok(Answer::Refuse(why)) => {
                        info!(%why, "rejecting a telnyx call");
                        command(&t2, a, ccid, "reject", json!({"cause": "USER_BUSY"})).await
                    }
                    Err(e) => {
                        warn!(error = %e, "answering a telnyx call");
                        command(&t2, a, ccid, "reject", json!({"cause": "CALL_REJECTED"})).await
                    }
                };
                if let Err(e) = sent {
                    warn!(error = %e, call_control_id = %ccid, "telnyx call command failed");
                }
            });
        }
        "call.hangup" => {
            let call_id = match event
                .client_state
                .as_deref()
                .and_then(|s| s.strip_prefix("callId="))
            {
                Some(id) => Some(id.to_owned()),
                None => {
                    t.0.store
                        .call_by_carrier_id(&event.call_control_id)
                        .await
                        .ok()
                        .flatten()
                        .map(|c| c.id)
                }
            };
            let Some(call_id) = call_id else {
                return StatusCode::OK.into_response();
            };
            let (status, reason) = Telephony::ending(event.hangup_cause.as_deref().unwrap_or(""))
                .unwrap_or(("FAILED", "carrier-failed"));
            if let Err(e) = t.end_unless_live(&call_id, status, reason).await {
                warn!(error = %e, call = %call_id, "recording a telnyx hang-up");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        _ => {}
    }
    StatusCode::OK.into_response()
}

/// `POST /v2/calls/{id}/actions/{action}`.
async fn command(
    t: &Telephony,
    a: &Account,
    call_control_id: &str,
    action: &str,
    body: Value,
) -> Result<(), String> {
    let url = format!(
        "{}/v2/calls/{}/actions/{action}",
        a.api_base,
        vox_tools::template::percent_encode(call_control_id)
    );
    carrier_reply(
        Carrier::Telnyx,
        t.0.http
            .post(&url)
            .bearer_auth(&a.api_key)
            .json(&body)
            .send()
            .await,
    )
    .await
    .map(|_| ())
}

/// An outbound call: `POST /v2/calls` streaming to `/media/telnyx`.
pub(super) async fn dial(
    t: &Telephony,
    a: &Account,
    r: &vox_api::DialRequest,
) -> Result<String, String> {
    if a.connection_id.is_empty() {
        return Err("the telnyx pool has no connection_id (the Call Control application outbound calls use)".into());
    }
    let base = t.base_url(None);
    let mut body = telnyx_voice::stream_fields(&t.media_url_with_params(
        &base,
        Dialect::Telnyx,
        &r.call_id,
        &r.agent_id,
    ));
    body["connection_id"] = json!(a.connection_id);
    body["to"] = json!(r.to);
    body["from"] = json!(r.from);
    body["client_state"] = json!(telnyx_voice::client_state(&format!("callId={}", r.call_id)));
    body["webhook_url"] = json!(format!("{base}/telnyx/webhook"));
    let reply = carrier_reply(
        Carrier::Telnyx,
        t.0.http
            .post(format!("{}/v2/calls", a.api_base))
            .bearer_auth(&a.api_key)
            .json(&body)
            .send()
            .await,
    )
    .await?;
    reply
        .pointer("/data/call_control_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "Telnyx's reply has no call_control_id".to_owned())
}

pub(super) async fn hang_up(
    t: &Telephony,
    a: &Account,
    call_control_id: &str,
) -> Result<(), String> {
    command(t, a, call_control_id, "hangup", json!({})).await
}

pub(super) async fn transfer(
    t: &Telephony,
    a: &Account,
    call_control_id: &str,
    to: &str,
    caller_id: &str,
) -> Result<(), String> {
    command(
        t,
        a,
        call_control_id,
        "transfer",
        json!({"to": to, "from": caller_id}),
    )
    .await
}
