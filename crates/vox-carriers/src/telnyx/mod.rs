//! Telnyx Call Control: `POST /telnyx/webhook` takes the application's events (signed with
//! Ed25519, checked against each Telnyx pool's `public_key`). An incoming `call.initiated` to
//! a deployed number is answered with `actions/answer` streaming both ways (RTP mode, PCMU)
//! to `/media/telnyx`, agent, call and token in the stream URL's query, the call's id in
//! `client_state`; a call no agent can take is rejected (busy). `call.hangup` ends the record
//! of a call whose stream never connected. Outbound calls are `POST /v2/calls` with the same
//! stream fields; hang-up and transfer are `actions/hangup` and `actions/transfer` (a warm
//! transfer is made cold: Telnyx has no briefing conference here).
//!
//! Media: the Telnyx dialect of `vox_telephony::StreamCodec` (frames put back in order).

pub mod wire;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::{info, warn};
use vox_api::DialRequest;
use vox_telephony::Dialect;
use vox_tools::api::TransferOrder;

use crate::answer::{Answer, ending};
use crate::pool::{Carrier, LiveCall, Resolve, Transfer, required};
use crate::reply::{carrier_reply, field};
use crate::{CarrierError, Carriers};

/// Telnyx's REST API.
const API_BASE: &str = "https://api.telnyx.com";

/// A Telnyx account's numbers and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The numbers (E.164).
    pub numbers: Vec<String>,
    /// The API (v2) key.
    pub api_key: String,
    /// The base64 Ed25519 public key its webhooks are signed with (Mission Control).
    pub public_key: String,
    /// The Call Control application (connection) outbound calls use; without it, the pool
    /// only answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// The REST API's base (default Telnyx's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl Pool {
    pub(crate) fn account(&self, resolve: Resolve<'_>) -> Result<Account, String> {
        Ok(Account {
            numbers: self.numbers.clone(),
            api_key: required(resolve, "api_key", &self.api_key)?,
            public_key: required(resolve, "public_key", &self.public_key)?,
            connection_id: match &self.connection_id {
                Some(c) => Some(required(resolve, "connection_id", c)?),
                None => None,
            },
            api_base: self
                .api_base
                .as_deref()
                .unwrap_or(API_BASE)
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

/// A Telnyx account ready to use.
#[derive(Debug)]
pub(crate) struct Account {
    numbers: Vec<String>,
    api_key: String,
    public_key: String,
    connection_id: Option<String>,
    api_base: String,
}

pub(crate) fn routes() -> Router<Carriers> {
    Router::new().route("/telnyx/webhook", post(webhook))
}

impl Carriers {
    fn telnyx_accounts(&self) -> impl Iterator<Item = &Account> {
        self.0.accounts.iter().filter_map(|a| match a {
            crate::pool::Account::Telnyx(t) => Some(t),
            _ => None,
        })
    }
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> &'h str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn webhook(State(c): State<Carriers>, headers: HeaderMap, body: Bytes) -> Response {
    let (ts, sig) = (
        header(&headers, wire::TIMESTAMP_HEADER),
        header(&headers, wire::SIGNATURE_HEADER),
    );
    let now = vox_store::now_ms() / 1000;
    let verdicts: Vec<Result<(), &str>> = c
        .telnyx_accounts()
        .map(|a| wire::verify(&a.public_key, ts, &body, sig, now))
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
    let event = match wire::parse_event(&body) {
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
            if !c.telnyx_accounts().any(|a| a.numbers.contains(&event.to)) {
                return (StatusCode::NOT_FOUND, "no telnyx pool holds this number").into_response();
            }
            // Telnyx wants the webhook answered at once; the command follows
            let c2 = c.clone();
            c.0.tasks.spawn("telnyx answer", async move {
                let Some(a) = c2.telnyx_accounts().find(|a| a.numbers.contains(&event.to)) else {
                    return;
                };
                let ccid = &event.call_control_id;
                let sent = match c2
                    .answer_inbound(Dialect::Telnyx, &event.to, &event.from, ccid)
                    .await
                {
                    Ok(Answer::Stream { call_id, agent_id }) => {
                        let url = c2.media_url_with_params(
                            &c2.base_url(None),
                            Dialect::Telnyx,
                            &call_id,
                            &agent_id,
                        );
                        let mut body = wire::stream_fields(&url);
                        body["client_state"] =
                            json!(wire::client_state(&format!("callId={call_id}")));
                        a.command(&c2, ccid, "answer", body).await
                    }
                    Ok(Answer::Refuse(why)) => {
                        info!(%why, "rejecting a telnyx call");
                        a.command(&c2, ccid, "reject", json!({"cause": "USER_BUSY"}))
                            .await
                    }
                    Err(e) => {
                        warn!(error = %e, "answering a telnyx call");
                        a.command(&c2, ccid, "reject", json!({"cause": "CALL_REJECTED"}))
                            .await
                    }
                };
                if let Err(e) = sent {
                    warn!(error = %e, call_control_id = %ccid, "telnyx call command failed");
                }
            });
        }
        "call.hangup" => {
            let ours = event
                .client_state
                .as_deref()
                .and_then(|s| s.strip_prefix("callId="))
                .unwrap_or("");
            let Some(call_id) = c.call_named(ours, &event.call_control_id).await else {
                return StatusCode::OK.into_response();
            };
            let reason = ending(event.hangup_cause.as_deref().unwrap_or(""))
                .unwrap_or(vox_store::EndedReason::CarrierFailed);
            if let Err(e) = c.end_unless_live(&call_id, reason).await {
                warn!(error = %e, call = %call_id, "recording a telnyx hang-up");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        _ => {}
    }
    StatusCode::OK.into_response()
}

impl Account {
    /// `POST /v2/calls/{id}/actions/{action}`.
    async fn command(
        &self,
        c: &Carriers,
        call_control_id: &str,
        action: &str,
        body: Value,
    ) -> Result<(), CarrierError> {
        let url = format!(
            "{}/v2/calls/{}/actions/{action}",
            self.api_base,
            vox_tools::template::percent_encode(call_control_id)
        );
        carrier_reply(
            Dialect::Telnyx,
            c.0.http
                .post(&url)
                .bearer_auth(&self.api_key)
                .json(&body)
                .send()
                .await,
        )
        .await
        .map(|_| ())
    }
}

impl Carrier for Account {
    fn dialect(&self) -> Dialect {
        Dialect::Telnyx
    }

    fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// An outbound call: `POST /v2/calls` streaming to `/media/telnyx`.
    fn dial<'a>(
        &'a self,
        c: &'a Carriers,
        r: &'a DialRequest,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let Some(connection_id) = &self.connection_id else {
                return Err(CarrierError::Unconfigured {
                    carrier: Dialect::Telnyx,
                    problem: "the pool has no connection_id (the Call Control application outbound calls use)".into(),
                });
            };
            let base = c.base_url(None);
            let mut body = wire::stream_fields(&c.media_url_with_params(
                &base,
                Dialect::Telnyx,
                &r.call_id,
                &r.agent_id,
            ));
            body["connection_id"] = json!(connection_id);
            body["to"] = json!(r.to);
            body["from"] = json!(r.from);
            body["client_state"] = json!(wire::client_state(&format!("callId={}", r.call_id)));
            body["webhook_url"] = json!(format!("{base}/telnyx/webhook"));
            let sent =
                c.0.http
                    .post(format!("{}/v2/calls", self.api_base))
                    .bearer_auth(&self.api_key)
                    .json(&body)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Telnyx, sent).await?;
            field(
                Dialect::Telnyx,
                &reply,
                &["/data/call_control_id"],
                "call_control_id",
            )
        })
    }

    fn hang_up<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
    ) -> BoxFuture<'a, Result<(), CarrierError>> {
        Box::pin(self.command(c, &call.carrier_call_id, "hangup", json!({})))
    }

    /// A text message through the Messaging API (`POST /v2/messages`).
    fn send_sms<'a>(
        &'a self,
        c: &'a Carriers,
        from: &'a str,
        to: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let sent =
                c.0.http
                    .post(format!("{}/v2/messages", self.api_base))
                    .bearer_auth(&self.api_key)
                    .json(&json!({"from": from, "to": to, "text": body}))
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Telnyx, sent).await?;
            field(Dialect::Telnyx, &reply, &["/data/id"], "message id")
        })
    }

    fn transfer<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
        o: &'a TransferOrder,
    ) -> BoxFuture<'a, Result<Transfer, CarrierError>> {
        Box::pin(async move {
            if o.destination.warm {
                warn!(call = %call.record.id, "warm transfer needs Twilio's conferences: transferring cold");
            }
            let from = call.record.phone_number.as_deref().unwrap_or_default();
            self.command(
                c,
                &call.carrier_call_id,
                "transfer",
                json!({"to": o.destination.phone_number, "from": from}),
            )
            .await?;
            Ok(Transfer::Done { warm: false })
        })
    }
}
