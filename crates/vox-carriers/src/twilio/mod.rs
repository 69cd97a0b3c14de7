//! Twilio: the signed voice webhook (`POST /twilio/voice`) answered with TwiML that connects
//! a bidirectional stream to `/media/twilio` (agent, call and token as `<Parameter>`s), the
//! status callback (`/twilio/status`), outbound calls through the REST Calls API, and call
//! control: hang-up (`Status=completed`), cold transfer (`<Dial>` on the live call), warm
//! transfer (a conference with on-hold audio from `/twilio/hold`, the destination briefed,
//! `/twilio/transfer-status` apologising to the caller if it does not answer).
//!
//! Media: the Twilio dialect of `vox_telephony::StreamCodec`.

pub mod wire;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::warn;
use vox_agents::EventKind;
use vox_api::DialRequest;
use vox_telephony::Dialect;
use vox_tools::api::TransferOrder;

use crate::answer::{Answer, SORRY, ending};
use crate::pool::{Carrier, LiveCall, Resolve, Transfer, required};
use crate::reply::{carrier_reply, field};
use crate::{CarrierError, Carriers};

/// Twilio's REST API.
const API_BASE: &str = "https://api.twilio.com";

/// A Twilio account's numbers and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The numbers (E.164).
    pub numbers: Vec<String>,
    /// The Account SID.
    pub account_sid: String,
    /// The auth token: checks `X-Twilio-Signature`, authenticates API calls.
    pub auth_token: String,
    /// The REST API's base (default Twilio's own; tests point it at a fake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
}

impl Pool {
    pub(crate) fn account(&self, resolve: Resolve<'_>) -> Result<Account, String> {
        Ok(Account {
            numbers: self.numbers.clone(),
            account_sid: required(resolve, "account_sid", &self.account_sid)?,
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

/// A Twilio account ready to use.
#[derive(Debug)]
pub(crate) struct Account {
    numbers: Vec<String>,
    account_sid: String,
    pub(crate) auth_token: String,
    api_base: String,
}

pub(crate) fn routes() -> Router<Carriers> {
    Router::new()
        .route("/twilio/voice", post(voice))
        .route("/twilio/status", post(status))
        .route("/twilio/hold", get(hold).post(hold))
        .route("/twilio/transfer-status", post(transfer_status))
}

impl Carriers {
    fn twilio_accounts(&self) -> impl Iterator<Item = &Account> {
        self.0.accounts.iter().filter_map(|a| match a {
            crate::pool::Account::Twilio(t) => Some(t),
            _ => None,
        })
    }
}

/// TwiML connecting the call to `/media/twilio`, the stream's parameters as `<Parameter>`s.
fn stream_twiml(c: &Carriers, base: &str, call_id: &str, agent_id: &str) -> String {
    let params = c.stream_params(call_id, agent_id);
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    wire::connect_stream(&Carriers::media_url(base, Dialect::Twilio), &p)
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Parses and signature-checks a Twilio webhook against the auth token of the account
/// `account` picks from its parameters; the parameters, or the response to send.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself, built once
fn verified<'a>(
    c: &'a Carriers,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    account: impl Fn(&[(String, String)]) -> Option<&'a Account>,
) -> Result<Vec<(String, String)>, Response> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("expected a form-encoded Twilio webhook: {e}"),
        )
            .into_response()
    })?;
    let Some(a) = account(&params) else {
        return Err((
            StatusCode::NOT_FOUND,
            "no telephony pool holds this number or account",
        )
            .into_response());
    };
    let url = c.request_url(headers, uri);
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !wire::verify_signature(&a.auth_token, &url, &params, sig) {
        warn!(%url, "twilio webhook with a missing or wrong signature");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "twilio").increment(1);
        return Err((
            StatusCode::FORBIDDEN,
            "invalid X-Twilio-Signature (is telephony.public_url the URL Twilio calls?)",
        )
            .into_response());
    }
    Ok(params)
}

/// The account a callback names by its AccountSid.
fn by_sid<'a>(c: &'a Carriers, params: &[(String, String)]) -> Option<&'a Account> {
    let sid = param(params, "AccountSid");
    c.twilio_accounts().find(|a| a.account_sid == sid)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn voice(State(c): State<Carriers>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let by_number = |p: &[(String, String)]| {
        let to = param(p, "To");
        c.twilio_accounts()
            .find(|a| a.numbers.iter().any(|n| n == to))
    };
    let params = match verified(&c, &headers, &uri, &body, by_number) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (to, from, sid) = (
        param(&params, "To"),
        param(&params, "From"),
        param(&params, "CallSid"),
    );
    match c.answer_inbound(Dialect::Twilio, to, from, sid).await {
        Ok(Answer::Stream { call_id, agent_id }) => twiml(stream_twiml(
            &c,
            &c.base_url(Some(&headers)),
            &call_id,
            &agent_id,
        )),
        Ok(Answer::Refuse(message)) => twiml(wire::say_and_hang_up(message)),
        Err(e) => {
            warn!(error = %e, "answering a twilio call");
            twiml(wire::say_and_hang_up(SORRY))
        }
    }
}

#[derive(Deserialize)]
struct StatusQuery {
    #[serde(rename = "callId")]
    call_id: Option<String>,
}

async fn status(
    State(c): State<Carriers>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StatusQuery>,
    body: Bytes,
) -> Response {
    let params = match verified(&c, &headers, &uri, &body, |p| by_sid(&c, p)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(call_id) = q.call_id else {
        return (
            StatusCode::BAD_REQUEST,
            "the status callback URL lacks callId",
        )
            .into_response();
    };
    let Some(reason) = ending(param(&params, "CallStatus")) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = c.end_unless_live(&call_id, reason).await {
        warn!(error = %e, call = %call_id, "recording a twilio call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct HoldQuery {
    audio: Option<String>,
}

/// `/twilio/hold?audio=URL`: a warm transfer's on-hold audio, in a loop (the conference's
/// waitUrl). Signed like every Twilio request (by any configured account: any may have
/// placed the conference).
async fn hold(
    State(c): State<Carriers>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HoldQuery>,
    body: Bytes,
) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let url = c.request_url(&headers, &uri);
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !c
        .twilio_accounts()
        .any(|a| wire::verify_signature(&a.auth_token, &url, &params, sig))
    {
        warn!(%url, "twilio hold request with a missing or wrong signature");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "twilio").increment(1);
        return (StatusCode::FORBIDDEN, "invalid X-Twilio-Signature").into_response();
    }
    match q
        .audio
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
    {
        Some(a) => twiml(wire::play_loop(&a)),
        None => (StatusCode::BAD_REQUEST, "audio must be an http(s) URL").into_response(),
    }
}

/// What a caller hears when a warm transfer's destination does not answer.
const TRANSFER_FAILED: &str =
    "Sorry, nobody could take your call right now. Please call again later. Goodbye.";

/// `POST /twilio/transfer-status?callId=`: the status of a warm transfer's call to its
/// destination. If it was not answered, the waiting caller hears an apology and is hung up.
async fn transfer_status(
    State(c): State<Carriers>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StatusQuery>,
    body: Bytes,
) -> Response {
    let params = match verified(&c, &headers, &uri, &body, |p| by_sid(&c, p)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(call_id) = q.call_id else {
        return (
            StatusCode::BAD_REQUEST,
            "the status callback URL lacks callId",
        )
            .into_response();
    };
    let status = param(&params, "CallStatus");
    if !["busy", "no-answer", "failed", "canceled"].contains(&status) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let record = match c.0.store.call_by_id(&call_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return (StatusCode::NOT_FOUND, "unknown call").into_response(),
        Err(e) => {
            warn!(error = %e, "reading a transferred call");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let account = record.phone_number.as_deref().and_then(|n| {
        c.twilio_accounts()
            .find(|a| a.numbers.iter().any(|x| x == n))
    });
    if let (Some(a), Some(sid)) = (account, record.carrier_call_id.as_deref()) {
        let twiml = wire::say_and_hang_up(TRANSFER_FAILED);
        if let Err(e) = a.update_call(&c, sid, &[("Twiml", twiml)]).await {
            warn!(call = %call_id, error = %e, "telling the caller the transfer failed");
        }
    }
    warn!(call = %call_id, %status, "warm transfer not answered");
    c.0.stored.events().emit(
        &record.business_id,
        EventKind::TransferFailed,
        json!({"callId": call_id, "status": status}),
    );
    StatusCode::NO_CONTENT.into_response()
}

impl Account {
    fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.api_base, self.account_sid
        )
    }

    /// POSTs a call update (`Calls/{sid}.json`).
    async fn update_call(
        &self,
        c: &Carriers,
        call_sid: &str,
        form: &[(&str, String)],
    ) -> Result<(), CarrierError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{call_sid}.json",
            self.api_base, self.account_sid
        );
        let sent =
            c.0.http
                .post(&url)
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .form(form)
                .send()
                .await;
        carrier_reply(Dialect::Twilio, sent).await.map(|_| ())
    }

    /// The warm transfer: the caller waits in a conference (hold audio) while the
    /// destination is called and briefed; it joins only if it answers. The caller is on hold
    /// before the destination rings, so a quick failure report (`/twilio/transfer-status`)
    /// finds it there.
    async fn warm_transfer(
        &self,
        c: &Carriers,
        call: &LiveCall,
        o: &TransferOrder,
    ) -> Result<Transfer, CarrierError> {
        let record = &call.record;
        let caller_id = record.phone_number.clone().unwrap_or_default();
        let room = format!("vox-{}", record.id);
        let base_url = c.base_url(None);
        let hold = o.hold_audio.as_ref().map(|a| {
            format!(
                "{base_url}/twilio/hold?audio={}",
                vox_tools::template::percent_encode(a)
            )
        });
        self.update_call(
            c,
            &call.carrier_call_id,
            &[("Twiml", wire::conference(&room, hold.as_deref(), false))],
        )
        .await?;
        let about = if o.summary.is_empty() {
            format!(
                "The caller's number is {}.",
                record.customer_number.as_deref().unwrap_or("unknown")
            )
        } else {
            o.summary.clone()
        };
        let brief = format!(
            "Transfer from the {} assistant. {about} Connecting you now.",
            record.agent_id.as_deref().unwrap_or("voice")
        );
        let form = [
            ("To", o.destination.phone_number.clone()),
            ("From", caller_id),
            ("Twiml", wire::say_then_conference(&brief, &room)),
            ("Timeout", "25".to_owned()),
            (
                "StatusCallback",
                format!("{base_url}/twilio/transfer-status?callId={}", record.id),
            ),
            ("StatusCallbackEvent", "completed".to_owned()),
        ];
        let sent =
            c.0.http
                .post(self.calls_url())
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .form(&form)
                .send()
                .await;
        if let Err(e) = carrier_reply(Dialect::Twilio, sent).await {
            warn!(call = %record.id, error = %e, "calling the warm-transfer destination failed");
            c.0.stored.events().emit(
                &record.business_id,
                EventKind::TransferFailed,
                json!({"callId": record.id, "status": "failed", "destination": o.destination.name}),
            );
            self.update_call(
                c,
                &call.carrier_call_id,
                &[("Twiml", wire::say_and_hang_up(TRANSFER_FAILED))],
            )
            .await?;
            return Ok(Transfer::DestinationFailed);
        }
        Ok(Transfer::Done { warm: true })
    }
}

impl Carrier for Account {
    fn dialect(&self) -> Dialect {
        Dialect::Twilio
    }

    fn numbers(&self) -> &[String] {
        &self.numbers
    }

    /// An outbound call through the REST Calls API, the stream's TwiML inline.
    fn dial<'a>(
        &'a self,
        c: &'a Carriers,
        r: &'a DialRequest,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let base = c.base_url(None);
            let form = [
                ("To", r.to.clone()),
                ("From", r.from.clone()),
                ("Twiml", stream_twiml(c, &base, &r.call_id, &r.agent_id)),
                (
                    "StatusCallback",
                    format!("{base}/twilio/status?callId={}", r.call_id),
                ),
                ("StatusCallbackEvent", "completed".to_owned()),
            ];
            let sent =
                c.0.http
                    .post(self.calls_url())
                    .basic_auth(&self.account_sid, Some(&self.auth_token))
                    .form(&form)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Twilio, sent).await?;
            field(Dialect::Twilio, &reply, &["/sid"], "call sid")
        })
    }

    fn hang_up<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
    ) -> BoxFuture<'a, Result<(), CarrierError>> {
        Box::pin(async move {
            self.update_call(
                c,
                &call.carrier_call_id,
                &[("Status", "completed".to_owned())],
            )
            .await
        })
    }

    /// A text message through the REST Messages API.
    fn send_sms<'a>(
        &'a self,
        c: &'a Carriers,
        from: &'a str,
        to: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, CarrierError>> {
        Box::pin(async move {
            let url = format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                self.api_base, self.account_sid
            );
            let form = [("To", to), ("From", from), ("Body", body)];
            let sent =
                c.0.http
                    .post(&url)
                    .basic_auth(&self.account_sid, Some(&self.auth_token))
                    .form(&form)
                    .send()
                    .await;
            let reply = carrier_reply(Dialect::Twilio, sent).await?;
            field(Dialect::Twilio, &reply, &["/sid"], "message sid")
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
                return self.warm_transfer(c, call, o).await;
            }
            let caller_id = call.record.phone_number.as_deref().unwrap_or_default();
            let twiml = wire::dial(&o.destination.phone_number, caller_id);
            self.update_call(c, &call.carrier_call_id, &[("Twiml", twiml)])
                .await?;
            Ok(Transfer::Done { warm: false })
        })
    }
}
