//! Vonage Voice API: the application's answer URL (`GET /vonage/answer`) answers an NCCO that
//! connects the call to `/media/vonage` as a WebSocket endpoint (L16 16 kHz; agent, call and
//! token as the endpoint's `headers` and in the URL's query); its event URL
//! (`POST /vonage/event`) ends the record of a call whose stream never connected. Both must
//! be signed (the application's "signed webhooks": a JWT, HS256 with the signature secret).
//! Outbound calls are `POST /v1/calls` with the NCCO inline, authenticated with an RS256 JWT
//! of the application's private key; hang-up and transfer are `PUT /v1/calls/{uuid}` (a warm
//! transfer is made cold).
//!
//! Media: the Vonage dialect of `vox_telephony::StreamCodec` (binary L16, JSON control).

pub mod wire;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::warn;
use vox_api::DialRequest;
use vox_telephony::Dialect;
use vox_tools::api::TransferOrder;

use crate::answer::{Answer, SORRY, ending};
use crate::pool::{Carrier, LiveCall, Resolve, Transfer, required};
use crate::reply::{carrier_reply, field};
use crate::{CarrierError, Carriers};

/// Vonage's REST API.
const API_BASE: &str = "https://api.nexmo.com";
/// Vonage streams L16 at this rate to us, and takes it back.
const RATE: u32 = 16_000;

/// A Vonage application's numbers and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The numbers (E.164).
    pub numbers: Vec<String>,
    /// The application id.
    pub application_id: String,
    /// The application's private key, PEM (RS256 API tokens).
    pub private_key: String,
    /// The signature secret its signed webhooks use.
    pub signature_secret: String,
    /// The REST API's base (default Vonage's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl Pool {
    pub(crate) fn account(&self, resolve: Resolve<'_>) -> Result<Account, String> {
        let pem = required(resolve, "private_key", &self.private_key)?;
        Ok(Account {
            numbers: self.numbers.clone(),
            application_id: required(resolve, "application_id", &self.application_id)?,
            private_key: wire::ApiKey::from_pem(&pem).map_err(|e| format!("private_key: {e}"))?,
            signature_secret: required(resolve, "signature_secret", &self.signature_secret)?,
            api_base: self
                .api_base
                .as_deref()
                .unwrap_or(API_BASE)
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}

/// A Vonage application ready to use.
#[derive(Debug)]
pub(crate) struct Account {
    numbers: Vec<String>,
    application_id: String,
    private_key: wire::ApiKey,
    signature_secret: String,
    api_base: String,
}

pub(crate) fn routes() -> Router<Carriers> {
    Router::new()
        .route("/vonage/answer", get(answer).post(answer))
        .route("/vonage/event", post(event))
}

impl Carriers {
    fn vonage_accounts(&self) -> impl Iterator<Item = &Account> {
        self.0.accounts.iter().filter_map(|a| match a {
            crate::pool::Account::Vonage(v) => Some(v),
            _ => None,
        })
    }
}

/// The `jti` of every webhook token accepted and not yet expired: each token is good for one
/// request, so a captured one cannot be replayed (a GET answer webhook's signature covers no
/// query, so this is also what keeps its `to` and `uuid` from being changed). Tokens older
/// than [`wire::TOLERANCE_SECS`] are refused by their `iat` anyway, which bounds the set.
#[derive(Debug, Default)]
pub(crate) struct SeenTokens(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl SeenTokens {
    /// Whether `jti` (issued at `iat`) is used for the first time at `now` (seconds).
    pub(crate) fn first_use(&self, jti: &str, iat: i64, now: i64) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, expires| *expires >= now);
        if seen.contains_key(jti) {
            return false;
        }
        seen.insert(jti.to_owned(), iat.max(now) + wire::TOLERANCE_SECS);
        true
    }
}

/// The webhook's parameters (query, and a JSON body's fields), once its token holds for one
/// of the Vonage pools and has not been used before.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn verified(
    c: &Carriers,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, Response> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = vox_store::now_ms() / 1000;
    let verdicts: Vec<Result<Value, &str>> = c
        .vonage_accounts()
        .map(|a| wire::verify_webhook(&a.signature_secret, auth, body, now))
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
    let claims = verdicts
        .iter()
        .find_map(|v| v.as_ref().ok())
        .cloned()
        .unwrap_or_default();
    let first = match (claims["jti"].as_str(), claims["iat"].as_i64()) {
        (Some(jti), Some(iat)) if !jti.is_empty() => c.0.vonage_tokens.first_use(jti, iat, now),
        _ => false,
    };
    if !first {
        warn!("vonage webhook refused: its token has no jti or was used before");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "vonage").increment(1);
        return Err((
            StatusCode::FORBIDDEN,
            "vonage webhook refused: its token was used before (or has no jti)",
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

fn ncco(c: &Carriers, base: &str, call_id: &str, agent_id: &str) -> Value {
    let params = c.stream_params(call_id, agent_id);
    let url = format!(
        "{}?{}",
        Carriers::media_url(base, Dialect::Vonage),
        serde_urlencoded::to_string(&params).unwrap_or_default()
    );
    let h: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    wire::connect_websocket(&url, RATE, &h)
}

async fn answer(State(c): State<Carriers>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let p = match verified(&c, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (to, from, uuid) = (
        e164(text(&p, "to")),
        e164(text(&p, "from")),
        text(&p, "uuid"),
    );
    match c.answer_inbound(Dialect::Vonage, &to, &from, uuid).await {
        Ok(Answer::Stream { call_id, agent_id }) => {
            Json(ncco(&c, &c.base_url(Some(&headers)), &call_id, &agent_id)).into_response()
        }
        Ok(Answer::Refuse(message)) => Json(wire::talk(message)).into_response(),
        Err(e) => {
            warn!(error = %e, "answering a vonage call");
            Json(wire::talk(SORRY)).into_response()
        }
    }
}

async fn event(State(c): State<Carriers>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let p = match verified(&c, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // started, ringing, answered, ... are not an ending
    let Some(reason) = ending(text(&p, "status")) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let Some(call_id) = c.call_named(text(&p, "callId"), text(&p, "uuid")).await else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = c.end_unless_live(&call_id, reason).await {
        warn!(error = %e, call = %call_id, "recording a vonage call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

impl Account {
    fn token(&self) -> Result<String, CarrierError> {
        self.private_key
            .token(
                &self.application_id,
                vox_store::now_ms() / 1000,
                &uuid::Uuid::new_v4().to_string(),
            )
            .map_err(|problem| CarrierError::Unconfigured {
                carrier: Dialect::Vonage,
                problem,
            })
    }

    /// `PUT /v1/calls/{uuid}`.
    async fn modify(&self, c: &Carriers, uuid: &str, body: Value) -> Result<(), CarrierError> {
        let url = format!(
            "{}/v1/calls/{}",
            self.api_base,
            vox_tools::template::percent_encode(uuid)
        );
        let sent =
            c.0.http
                .put(url)
                .bearer_auth(self.token()?)
                .json(&body)
                .send()
                .await;
        carrier_reply(Dialect::Vonage, sent).await.map(|_| ())
    }
}

impl Carrier for Account {
    fn dialect(&self) -> Dialect {
        Dialect::Vonage
    }

    fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// An outbound call: `POST /v1/calls` with the NCCO inline.
    fn dial<'a>(
        &'a self,
        c: &'a Carriers,
        r: &'a DialRequest,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let base = c.base_url(None);
            let body = json!({
                "to": [{"type": "phone", "number": wire::digits(&r.to)}],
                "from": {"type": "phone", "number": wire::digits(&r.from)},
                "ncco": ncco(c, &base, &r.call_id, &r.agent_id),
                "event_url": [format!("{base}/vonage/event?callId={}", r.call_id)],
                "event_method": "POST",
            });
            let sent =
                c.0.http
                    .post(format!("{}/v1/calls", self.api_base))
                    .bearer_auth(self.token()?)
                    .json(&body)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Vonage, sent).await?;
            field(Dialect::Vonage, &reply, &["/uuid"], "uuid")
        })
    }

    fn hang_up<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
    ) -> BoxFuture<'a, Result<(), CarrierError>> {
        Box::pin(self.modify(c, &call.carrier_call_id, json!({"action": "hangup"})))
    }

    /// A text message through the Messages API (`POST /v1/messages`, the application's JWT;
    /// numbers without the `+`).
    fn send_sms<'a>(
        &'a self,
        c: &'a Carriers,
        from: &'a str,
        to: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let message = json!({"message_type": "text", "channel": "sms",
                "from": wire::digits(from), "to": wire::digits(to), "text": body});
            let sent =
                c.0.http
                    .post(format!("{}/v1/messages", self.api_base))
                    .bearer_auth(self.token()?)
                    .json(&message)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Vonage, sent).await?;
            field(Dialect::Vonage, &reply, &["/message_uuid"], "message uuid")
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
            let caller_id = call.record.phone_number.as_deref().unwrap_or_default();
            let ncco = wire::connect_phone(&o.destination.phone_number, caller_id);
            self.modify(
                c,
                &call.carrier_call_id,
                json!({"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}}),
            )
            .await?;
            Ok(Transfer::Done { warm: false })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_token_is_good_for_one_request() {
        let seen = SeenTokens::default();
        assert!(seen.first_use("j1", 1_000, 1_000));
        assert!(!seen.first_use("j1", 1_000, 1_001), "replayed");
        assert!(seen.first_use("j2", 1_000, 1_001));
        // forgotten only once its iat is out of tolerance (then refused for that anyway)
        assert!(!seen.first_use("j1", 1_000, 1_000 + wire::TOLERANCE_SECS));
        assert!(seen.first_use("j1", 1_000, 1_001 + wire::TOLERANCE_SECS));
    }
}
