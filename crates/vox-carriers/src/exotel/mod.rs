//! Exotel: a flow's Voicebot applet with the URL `https://KEY:TOKEN@HOST/exotel/voicebot`
//! (Basic auth with an Exotel pool's API key and token) asks `GET /exotel/voicebot` where to
//! stream; the answer is `{"url": "wss://HOST/media/exotel?agentId=..&callId=..&token=.."}`
//! (the three custom parameters the applet allows). Outbound calls use the Connect Voice AI
//! API (`POST /v1/accounts/{sid}/calls/connect` with `streamurl`, bidirectional). Exotel has
//! no call control API for a live call: hanging up closes the stream (the flow's next applet,
//! Hangup, ends the call); a transfer is left for the flow's Connect applet, whose "dial whom"
//! URL (`GET /exotel/dial?CallSid=`) answers the destination. `POST /exotel/status` (the
//! StatusCallback) ends the record of a call whose stream never connected.
//!
//! Media: the Exotel dialect of `vox_telephony::StreamCodec` (chunks of >= 3.2 kB).

pub mod wire;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use vox_api::DialRequest;
use vox_telephony::Dialect;
use vox_tools::api::TransferOrder;
use vox_tools::template::percent_encode;

use crate::answer::{Answer, ending};
use crate::pool::{Carrier, LiveCall, Resolve, Transfer, required};
use crate::reply::{carrier_reply, field};
use crate::{CarrierError, Carriers};

/// Exotel's REST API (Singapore; India's is `https://api.in.exotel.com`).
const API_BASE: &str = "https://api.exotel.com";

/// An Exotel account's numbers and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The numbers (E.164).
    pub numbers: Vec<String>,
    /// The Account SID.
    pub account_sid: String,
    /// The API key: with `auth_token`, Basic auth both ways.
    pub api_key: String,
    /// The API token.
    pub auth_token: String,
    /// The REST API's base (default Exotel's Singapore cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl Pool {
    pub(crate) fn account(&self, resolve: Resolve<'_>) -> Result<Account, String> {
        Ok(Account {
            numbers: self.numbers.clone(),
            account_sid: required(resolve, "account_sid", &self.account_sid)?,
            api_key: required(resolve, "api_key", &self.api_key)?,
            auth_token: required(resolve, "auth_token", &self.auth_token)?,
            api_base: self
                .api_base
                .as_deref()
                .unwrap_or(API_BASE)
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

/// An Exotel account ready to use.
#[derive(Debug)]
pub(crate) struct Account {
    numbers: Vec<String>,
    account_sid: String,
    api_key: String,
    auth_token: String,
    api_base: String,
}

/// Transfers waiting for the flow's Connect applet to ask where to dial: by CallSid, the
/// destination number.
#[derive(Debug, Default)]
pub(crate) struct PendingTransfers(Mutex<HashMap<String, String>>);

impl PendingTransfers {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(crate) fn routes() -> Router<Carriers> {
    Router::new()
        .route("/exotel/voicebot", get(voicebot))
        .route("/exotel/status", post(status))
        .route("/exotel/dial", get(dial_whom))
}

impl Carriers {
    fn exotel_accounts(&self) -> impl Iterator<Item = &Account> {
        self.0.accounts.iter().filter_map(|a| match a {
            crate::pool::Account::Exotel(e) => Some(e),
            _ => None,
        })
    }
}

#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn authorized(c: &Carriers, headers: &HeaderMap) -> Result<(), Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if c.exotel_accounts()
        .any(|a| wire::basic_auth_ok(auth, &a.api_key, &a.auth_token))
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
fn our_number(c: &Carriers, n: &str) -> Option<String> {
    let digits: String = n.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    if digits.len() < 6 {
        return None;
    }
    c.exotel_accounts()
        .flat_map(|a| a.numbers.iter())
        .find(|p| p.trim_start_matches('+').ends_with(digits))
        .cloned()
}

async fn voicebot(
    State(c): State<Carriers>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&c, &headers) {
        return r;
    }
    let get = |k: &str| q.get(k).map_or("", String::as_str);
    let Some(to) = our_number(&c, get("CallTo")).or_else(|| our_number(&c, get("To"))) else {
        return (StatusCode::NOT_FOUND, "no exotel pool holds this number").into_response();
    };
    match c
        .answer_inbound(Dialect::Exotel, &to, get("CallFrom"), get("CallSid"))
        .await
    {
        Ok(Answer::Stream { call_id, agent_id }) => {
            let url = c.media_url_with_params(
                &c.base_url(Some(&headers)),
                Dialect::Exotel,
                &call_id,
                &agent_id,
            );
            (
                [(header::CONTENT_TYPE, "application/json")],
                wire::voicebot_answer(&url),
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
    State(c): State<Carriers>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Err(r) = authorized(&c, &headers) {
        return r;
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| q.get(k).or_else(|| form.get(k)).map_or("", String::as_str);
    let Some(call_id) = c.call_named(get("callId"), get("CallSid")).await else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let Some(reason) = ending(get("Status")) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = c.end_unless_live(&call_id, reason).await {
        warn!(error = %e, call = %call_id, "recording an exotel call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The Connect applet's "dial whom" URL: the destination of the transfer the agent ordered.
async fn dial_whom(
    State(c): State<Carriers>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorized(&c, &headers) {
        return r;
    }
    let sid = q.get("CallSid").map_or("", String::as_str);
    match c.0.exotel_transfers.map().remove(sid) {
        Some(to) => ([(header::CONTENT_TYPE, "text/plain")], to).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no transfer was ordered for this call",
        )
            .into_response(),
    }
}

impl Account {
    /// `https://KEY:TOKEN@host` from `https://host`: Exotel authenticates to a URL with the
    /// credentials it carries.
    fn with_credentials(&self, base: &str) -> String {
        match base.split_once("://") {
            Some((scheme, rest)) => format!(
                "{scheme}://{}:{}@{rest}",
                percent_encode(&self.api_key),
                percent_encode(&self.auth_token)
            ),
            None => base.to_owned(),
        }
    }
}

impl Carrier for Account {
    fn dialect(&self) -> Dialect {
        Dialect::Exotel
    }

    fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// An outbound call through Connect Voice AI: Exotel calls `to` and streams it to us.
    fn dial<'a>(
        &'a self,
        c: &'a Carriers,
        r: &'a DialRequest,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let base = c.base_url(None);
            let form = [
                ("from", r.to.clone()),
                ("callerid", r.from.clone()),
                (
                    "streamurl",
                    c.media_url_with_params(&base, Dialect::Exotel, &r.call_id, &r.agent_id),
                ),
                ("streamtype", "bidirectional".to_owned()),
                (
                    "statuscallback",
                    format!(
                        "{}/exotel/status?callId={}",
                        self.with_credentials(&base),
                        r.call_id
                    ),
                ),
            ];
            let url = format!(
                "{}/v1/accounts/{}/calls/connect",
                self.api_base,
                percent_encode(&self.account_sid)
            );
            let sent =
                c.0.http
                    .post(url)
                    .basic_auth(&self.api_key, Some(&self.auth_token))
                    .form(&form)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Exotel, sent).await?;
            field(
                Dialect::Exotel,
                &reply,
                &["/Call/Sid", "/call/sid", "/sid", "/call_sid"],
                "call Sid",
            )
        })
    }

    /// The Voicebot applet ends with the stream; the flow's next applet hangs up.
    fn hang_up<'a>(
        &'a self,
        _: &'a Carriers,
        _: &'a LiveCall,
    ) -> BoxFuture<'a, Result<(), CarrierError>> {
        Box::pin(async { Ok(()) })
    }

    /// A text message through the SMS API (`POST .../Sms/send.json`, Basic auth).
    fn send_sms<'a>(
        &'a self,
        c: &'a Carriers,
        from: &'a str,
        to: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let url = format!(
                "{}/v1/Accounts/{}/Sms/send.json",
                self.api_base,
                percent_encode(&self.account_sid)
            );
            let sent =
                c.0.http
                    .post(url)
                    .basic_auth(&self.api_key, Some(&self.auth_token))
                    .form(&[("From", from), ("To", to), ("Body", body)])
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Exotel, sent).await?;
            field(Dialect::Exotel, &reply, &["/SMSMessage/Sid"], "message Sid")
        })
    }

    /// Remembered for the flow's Connect applet, which asks once the stream has closed.
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
            info!(call_sid = %call.carrier_call_id, "exotel transfer left to the flow's Connect applet");
            c.0.exotel_transfers.map().insert(
                call.carrier_call_id.clone(),
                o.destination.phone_number.clone(),
            );
            Ok(Transfer::Done { warm: false })
        })
    }
}
