//! Plivo: the answer URL (`POST /plivo/answer`, V3-signed with a Plivo pool's auth token)
//! answers Plivo XML whose `<Stream bidirectional="true">` connects the call to
//! `/media/plivo` (mu-law 8 kHz; agent, call and token in the URL's query and in
//! `extraHeaders`). The hangup URL (`/plivo/hangup`) ends the record of a call whose stream
//! never connected. Outbound calls: `POST /v1/Account/{auth_id}/Call/` with our answer URL;
//! hang-up is `DELETE .../Call/{uuid}/`, a transfer points the live leg at `/plivo/transfer`,
//! which answers a `<Dial>` (a warm transfer is made cold).
//!
//! Media: the Plivo dialect of `vox_telephony::StreamCodec` (`checkpoint` / `playedStream`,
//! `clearAudio`).

pub mod wire;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;
use vox_api::DialRequest;
use vox_telephony::Dialect;
use vox_tools::api::TransferOrder;
use vox_tools::template::percent_encode;

use crate::answer::{Answer, SORRY, ending};
use crate::pool::{Carrier, LiveCall, Resolve, Transfer, required};
use crate::reply::{carrier_reply, field};
use crate::{CarrierError, Carriers};

/// Plivo's REST API.
const API_BASE: &str = "https://api.plivo.com";

/// A Plivo account's numbers and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The numbers (E.164).
    pub numbers: Vec<String>,
    /// The Auth ID.
    pub account_sid: String,
    /// The auth token: checks `X-Plivo-Signature-V3`, authenticates API calls.
    pub auth_token: String,
    /// The REST API's base (default Plivo's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl Pool {
    pub(crate) fn account(&self, resolve: Resolve<'_>) -> Result<Account, String> {
        Ok(Account {
            numbers: self.numbers.clone(),
            auth_id: required(resolve, "account_sid", &self.account_sid)?,
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

/// A Plivo account ready to use.
#[derive(Debug)]
pub(crate) struct Account {
    numbers: Vec<String>,
    auth_id: String,
    auth_token: String,
    api_base: String,
}

pub(crate) fn routes() -> Router<Carriers> {
    Router::new()
        .route("/plivo/answer", post(answer).get(answer))
        .route("/plivo/hangup", post(hangup).get(hangup))
        .route("/plivo/transfer", post(transfer_xml).get(transfer_xml))
}

impl Carriers {
    fn plivo_accounts(&self) -> impl Iterator<Item = &Account> {
        self.0.accounts.iter().filter_map(|a| match a {
            crate::pool::Account::Plivo(p) => Some(p),
            _ => None,
        })
    }
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The request's parameters (query, then the form body of a POST), once its V3 signature
/// holds for one of the Plivo pools.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself
fn verified(
    c: &Carriers,
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
    let url = c.request_url(headers, uri);
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (nonce, sig) = (h("x-plivo-signature-v3-nonce"), h("x-plivo-signature-v3"));
    if !c
        .plivo_accounts()
        .any(|a| wire::verify(&a.auth_token, method.as_str(), &url, &params, nonce, sig))
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

/// Plivo writes numbers without the `+`.
fn e164(n: &str) -> String {
    if n.is_empty() || n.starts_with('+') {
        n.to_owned()
    } else {
        format!("+{n}")
    }
}

fn stream_xml(c: &Carriers, headers: &HeaderMap, call_id: &str, agent_id: &str) -> String {
    let base = c.base_url(Some(headers));
    let params = c.stream_params(call_id, agent_id);
    let url = format!(
        "{}?{}",
        Carriers::media_url(&base, Dialect::Plivo),
        serde_urlencoded::to_string(&params).unwrap_or_default()
    );
    let h: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    wire::stream(&url, &h)
}

async fn answer(
    State(c): State<Carriers>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match verified(&c, &method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let uuid = param(&params, "CallUUID");
    // an outbound call we placed names its record in the answer URL
    if let Some(call_id) = Some(param(&params, "callId")).filter(|c| !c.is_empty()) {
        let record = match c.0.store.call_by_id(call_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return xml(wire::speak_and_hang_up("This call is no longer expected.")),
            Err(e) => {
                warn!(error = %e, "answering a plivo call");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        if !uuid.is_empty()
            && let Err(e) = c.0.store.set_call_carrier_id(call_id, uuid).await
        {
            warn!(error = %e, call = %call_id, "recording the carrier's call id");
        }
        return xml(stream_xml(
            &c,
            &headers,
            call_id,
            record.agent_id.as_deref().unwrap_or_default(),
        ));
    }
    let (to, from) = (e164(param(&params, "To")), e164(param(&params, "From")));
    match c.answer_inbound(Dialect::Plivo, &to, &from, uuid).await {
        Ok(Answer::Stream { call_id, agent_id }) => {
            xml(stream_xml(&c, &headers, &call_id, &agent_id))
        }
        Ok(Answer::Refuse(message)) => xml(wire::speak_and_hang_up(message)),
        Err(e) => {
            warn!(error = %e, "answering a plivo call");
            xml(wire::speak_and_hang_up(SORRY))
        }
    }
}

async fn hangup(
    State(c): State<Carriers>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match verified(&c, &method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(call_id) = c
        .call_named(param(&params, "callId"), param(&params, "CallUUID"))
        .await
    else {
        return StatusCode::NO_CONTENT.into_response();
    };
    // the hangup URL is only called at the end: any other word is a failure
    let reason =
        ending(param(&params, "CallStatus")).unwrap_or(vox_store::EndedReason::CarrierFailed);
    if let Err(e) = c.end_unless_live(&call_id, reason).await {
        warn!(error = %e, call = %call_id, "recording a plivo hang-up");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `/plivo/transfer?to=..&callerId=..`: where a transferred leg goes.
async fn transfer_xml(
    State(c): State<Carriers>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = match verified(&c, &method, &headers, &uri, &body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let to = param(&params, "to");
    if !to.starts_with('+') {
        return (StatusCode::BAD_REQUEST, "to must be an E.164 number").into_response();
    }
    xml(wire::dial(to, param(&params, "callerId")))
}

impl Account {
    fn url(&self, rest: &str) -> String {
        format!(
            "{}/v1/Account/{}/{rest}",
            self.api_base,
            percent_encode(&self.auth_id)
        )
    }
}

impl Carrier for Account {
    fn dialect(&self) -> Dialect {
        Dialect::Plivo
    }

    fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// An outbound call: Plivo calls `to` and asks our answer URL what to do.
    fn dial<'a>(
        &'a self,
        c: &'a Carriers,
        r: &'a DialRequest,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let base = c.base_url(None);
            let body = json!({
                "from": r.from.trim_start_matches('+'),
                "to": r.to.trim_start_matches('+'),
                "answer_url": format!("{base}/plivo/answer?callId={}", r.call_id),
                "answer_method": "POST",
                "hangup_url": format!("{base}/plivo/hangup?callId={}", r.call_id),
                "hangup_method": "POST",
            });
            let sent =
                c.0.http
                    .post(self.url("Call/"))
                    .basic_auth(&self.auth_id, Some(&self.auth_token))
                    .json(&body)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Plivo, sent).await?;
            field(
                Dialect::Plivo,
                &reply,
                &["/request_uuid", "/request_uuid/0"],
                "request_uuid",
            )
        })
    }

    fn hang_up<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
    ) -> BoxFuture<'a, Result<(), CarrierError>> {
        Box::pin(async move {
            let url = self.url(&format!("Call/{}/", percent_encode(&call.carrier_call_id)));
            let sent =
                c.0.http
                    .delete(url)
                    .basic_auth(&self.auth_id, Some(&self.auth_token))
                    .send()
                    .await;
            carrier_reply(Dialect::Plivo, sent).await.map(|_| ())
        })
    }

    /// A text message through the Message API (`POST .../Message/`).
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
                    .post(self.url("Message/"))
                    .basic_auth(&self.auth_id, Some(&self.auth_token))
                    .json(&json!({"src": from, "dst": to, "text": body}))
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Plivo, sent).await?;
            field(Dialect::Plivo, &reply, &["/message_uuid/0"], "message uuid")
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
            let query = serde_urlencoded::to_string([
                ("to", o.destination.phone_number.as_str()),
                ("callerId", caller_id),
            ])
            .unwrap_or_default();
            let target = format!("{}/plivo/transfer?{query}", c.base_url(None));
            let url = self.url(&format!("Call/{}/", percent_encode(&call.carrier_call_id)));
            let body = json!({"legs": "aleg", "aleg_url": target, "aleg_method": "POST"});
            let sent =
                c.0.http
                    .post(url)
                    .basic_auth(&self.auth_id, Some(&self.auth_token))
                    .json(&body)
                    .send()
                    .await;
            carrier_reply(Dialect::Plivo, sent).await?;
            Ok(Transfer::Done { warm: false })
        })
    }
}
