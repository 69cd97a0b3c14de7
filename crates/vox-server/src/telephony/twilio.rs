//! Twilio: the signed voice webhook (`POST /twilio/voice`) answered with TwiML that connects
//! a bidirectional stream to `/media/twilio` (agent, call and token as `<Parameter>`s), the
//! status callback (`/twilio/status`), outbound calls through the REST Calls API, and call
//! control: hang-up (`Status=completed`), cold transfer (`<Dial>` on the live call), warm
//! transfer (a conference with on-hold audio from `/twilio/hold`, the destination briefed,
//! `/twilio/transfer-status` apologising to the caller if it does not answer).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::future::BoxFuture;
use serde_json::json;
use tracing::{info, warn};
use vox_call::CallControl;
use vox_store::CallRecord;
use vox_telephony::{Dialect, twilio_voice};
use vox_tools::api::CallTools;

use super::{Account, Answer, Telephony, carrier_reply};
use crate::config::Carrier;

pub(super) fn routes() -> Router<Telephony> {
    Router::new()
        .route("/twilio/voice", post(voice))
        .route("/twilio/status", post(status))
        .route("/twilio/hold", axum::routing::get(hold).post(hold))
        .route("/twilio/transfer-status", post(transfer_status))
}

/// TwiML connecting the call to `/media/twilio`, the stream's parameters as `<Parameter>`s.
fn stream_twiml(t: &Telephony, base: &str, call_id: &str, agent_id: &str) -> String {
    let params = t.stream_params(call_id, agent_id);
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    twilio_voice::connect_stream(&Telephony::media_url(base, Dialect::Twilio), &p)
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Parses and signature-checks a Twilio webhook; the parameters, or the response to send.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself, built once
fn verified(
    t: &Telephony,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
    token_for: impl Fn(&[(String, String)]) -> Option<String>,
) -> Result<Vec<(String, String)>, Response> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("expected a form-encoded Twilio webhook: {e}"),
        )
            .into_response()
    })?;
    let Some(auth_token) = token_for(&params) else {
        return Err((
            StatusCode::NOT_FOUND,
            "no telephony pool holds this number or account",
        )
            .into_response());
    };
    let url = format!(
        "{}{}",
        t.base_url(Some(headers)),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !twilio_voice::verify_signature(&auth_token, &url, &params, sig) {
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

/// The auth token of the Twilio account a callback names by its AccountSid.
fn token_of_account(t: &Telephony, params: &[(String, String)]) -> Option<String> {
    t.accounts(Carrier::Twilio)
        .find(|a| a.account_sid == param(params, "AccountSid"))
        .map(|a| a.auth_token.clone())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn voice(State(t): State<Telephony>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let params = match verified(&t, &headers, &uri, &body, |p| {
        t.account_for_number(param(p, "To"))
            .filter(|a| a.carrier == Carrier::Twilio)
            .map(|a| a.auth_token.clone())
    }) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (to, from, sid) = (
        param(&params, "To").to_owned(),
        param(&params, "From").to_owned(),
        param(&params, "CallSid").to_owned(),
    );
    match t.answer_inbound(Carrier::Twilio, &to, &from, &sid).await {
        Ok(Answer::Stream { call_id, agent_id }) => twiml(stream_twiml(
            &t,
            &t.base_url(Some(&headers)),
            &call_id,
            &agent_id,
        )),
        Ok(Answer::Refuse(message)) => twiml(twilio_voice::say_and_hang_up(message)),
        Err(e) => {
            warn!(error = %e, "answering a twilio call");
            twiml(twilio_voice::say_and_hang_up(
                "Sorry, we cannot take your call right now. Please try again later.",
            ))
        }
    }
}

#[derive(serde::Deserialize)]
struct StatusQuery {
    #[serde(rename = "callId")]
    call_id: Option<String>,
}

async fn status(
    State(t): State<Telephony>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StatusQuery>,
    body: Bytes,
) -> Response {
    let params = match verified(&t, &headers, &uri, &body, |p| token_of_account(&t, p)) {
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
    let Some((status, reason)) = Telephony::ending(param(&params, "CallStatus")) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    if let Err(e) = t.end_unless_live(&call_id, status, reason).await {
        warn!(error = %e, call = %call_id, "recording a twilio call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(serde::Deserialize)]
struct HoldQuery {
    audio: Option<String>,
}

/// `/twilio/hold?audio=URL`: a warm transfer's on-hold audio, in a loop (the conference's
/// waitUrl). Signed like every Twilio request (by any configured account).
async fn hold(
    State(t): State<Telephony>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HoldQuery>,
    body: Bytes,
) -> Response {
    // any account may have placed the conference: a signature by any of them will do
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let url = format!(
        "{}{}",
        t.base_url(Some(&headers)),
        uri.path_and_query().map_or("", |p| p.as_str())
    );
    let sig = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !t
        .accounts(Carrier::Twilio)
        .any(|a| twilio_voice::verify_signature(&a.auth_token, &url, &params, sig))
    {
        warn!(%url, "twilio hold request with a missing or wrong signature");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "twilio").increment(1);
        return (StatusCode::FORBIDDEN, "invalid X-Twilio-Signature").into_response();
    }
    match q
        .audio
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
    {
        Some(a) => twiml(twilio_voice::play_loop(&a)),
        None => (StatusCode::BAD_REQUEST, "audio must be an http(s) URL").into_response(),
    }
}

/// What a caller hears when a warm transfer's destination does not answer.
const TRANSFER_FAILED: &str =
    "Sorry, nobody could take your call right now. Please call again later. Goodbye.";

/// `POST /twilio/transfer-status?callId=`: the status of a warm transfer's call to its
/// destination. If it was not answered, the waiting caller hears an apology and is hung up.
async fn transfer_status(
    State(t): State<Telephony>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<StatusQuery>,
    body: Bytes,
) -> Response {
    let params = match verified(&t, &headers, &uri, &body, |p| token_of_account(&t, p)) {
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
    let record = match t.0.store.call_by_id(&call_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return (StatusCode::NOT_FOUND, "unknown call").into_response(),
        Err(e) => {
            warn!(error = %e, "reading a transferred call");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let account = record
        .phone_number
        .as_deref()
        .and_then(|n| t.account_for_number(n));
    if let (Some(a), Some(sid)) = (account, record.carrier_call_id.as_deref()) {
        let twiml = twilio_voice::say_and_hang_up(TRANSFER_FAILED);
        if let Err(e) = t
            .update_call(
                &a.account_sid,
                &a.auth_token,
                &a.api_base,
                sid,
                &[("Twiml", twiml)],
            )
            .await
        {
            warn!(call = %call_id, error = %e, "telling the caller the transfer failed");
        }
    }
    warn!(call = %call_id, %status, "warm transfer not answered");
    t.0.events.emit(
        &record.business_id,
        "call.transfer_failed",
        json!({"callId": call_id, "status": status}),
    );
    StatusCode::NO_CONTENT.into_response()
}

/// An outbound call through Twilio's REST Calls API, the stream's TwiML inline.
pub(super) async fn dial(
    t: &Telephony,
    account: &Account,
    r: &vox_api::DialRequest,
) -> Result<String, String> {
    let base = t.base_url(None);
    let body = [
        ("To", r.to.clone()),
        ("From", r.from.clone()),
        ("Twiml", stream_twiml(t, &base, &r.call_id, &r.agent_id)),
        (
            "StatusCallback",
            format!("{base}/twilio/status?callId={}", r.call_id),
        ),
        ("StatusCallbackEvent", "completed".to_owned()),
    ];
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Calls.json",
        account.api_base, account.account_sid
    );
    let reply = carrier_reply(
        Carrier::Twilio,
        t.0.http
            .post(&url)
            .basic_auth(&account.account_sid, Some(&account.auth_token))
            .form(&body)
            .send()
            .await,
    )
    .await?;
    reply["sid"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "Twilio's reply has no call sid".to_owned())
}

impl Telephony {
    /// POSTs a call update to Twilio (`Calls/{sid}.json`).
    async fn update_call(
        &self,
        account_sid: &str,
        auth_token: &str,
        api_base: &str,
        call_sid: &str,
        form: &[(&str, String)],
    ) -> Result<(), String> {
        let url = format!("{api_base}/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json");
        carrier_reply(
            Carrier::Twilio,
            self.0
                .http
                .post(&url)
                .basic_auth(account_sid, Some(auth_token))
                .form(form)
                .send()
                .await,
        )
        .await
        .map(|_| ())
    }
}

/// Twilio call control for one call: hang up, or carry out the transfer the tools accepted.
pub(super) struct TwilioControl {
    pub(super) t: Telephony,
    pub(super) account_sid: String,
    pub(super) auth_token: String,
    pub(super) api_base: String,
    pub(super) call_sid: String,
    pub(super) record: CallRecord,
    pub(super) tools: Arc<CallTools>,
}

impl CallControl for TwilioControl {
    fn end(&self, reason: &str) -> BoxFuture<'static, ()> {
        let (t, sid, token, base, call_sid, record, order) = (
            self.t.clone(),
            self.account_sid.clone(),
            self.auth_token.clone(),
            self.api_base.clone(),
            self.call_sid.clone(),
            self.record.clone(),
            self.tools.transfer_order(),
        );
        let reason = reason.to_owned();
        Box::pin(async move {
            let caller_id = record.phone_number.clone().unwrap_or_default();
            // Ok(true): done; Ok(false): a warm transfer's destination could not be called
            // (the caller was told and hung up); Err: call control itself failed
            let done: Result<bool, String> = async {
                match &order {
                    None => t.update_call(&sid, &token, &base, &call_sid, &[("Status", "completed".to_owned())]).await.map(|()| true),
                    Some(o) if !o.destination.warm => {
                        let twiml = twilio_voice::dial(&o.destination.phone_number, &caller_id);
                        t.update_call(&sid, &token, &base, &call_sid, &[("Twiml", twiml)]).await.map(|()| true)
                    }
                    Some(o) => {
                        // warm: the caller waits in a conference (hold audio) while the destination
                        // is called and briefed; it joins only if it answers. The caller is on hold
                        // before the destination rings, so a quick failure report
                        // (`/twilio/transfer-status`) finds it there.
                        let room = format!("vox-{}", record.id);
                        let base_url = t.base_url(None);
                        let hold = o.hold_audio.as_ref().map(|a| format!("{base_url}/twilio/hold?audio={}", vox_tools::template::percent_encode(a)));
                        t.update_call(&sid, &token, &base, &call_sid, &[("Twiml", twilio_voice::conference(&room, hold.as_deref(), false))]).await?;
                        let brief = format!(
                            "Transfer from the {} assistant. {} Connecting you now.",
                            record.agent_id.as_deref().unwrap_or("voice"),
                            if o.summary.is_empty() { format!("The caller's number is {}.", record.customer_number.as_deref().unwrap_or("unknown")) } else { o.summary.clone() }
                        );
                        let callee_twiml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say>{}</Response>", twilio_voice::xml_escape(&brief), twilio_voice::conference_verb(&room, None, true));
                        let url = format!("{base}/2010-04-01/Accounts/{sid}/Calls.json");
                        let form = [
                            ("To", o.destination.phone_number.clone()),
                            ("From", caller_id.clone()),
                            ("Twiml", callee_twiml),
                            ("Timeout", "25".to_owned()),
                            ("StatusCallback", format!("{base_url}/twilio/transfer-status?callId={}", record.id)),
                            ("StatusCallbackEvent", "completed".to_owned()),
                        ];
                        let dialled = match t.0.http.post(&url).basic_auth(&sid, Some(&token)).form(&form).send().await {
                            Ok(r) if r.status().is_success() => Ok(()),
                            Ok(r) => Err(format!("Twilio answered {}", r.status())),
                            Err(e) => Err(format!("Twilio unreachable: {e}")),
                        };
                        if let Err(e) = dialled {
                            warn!(call = %record.id, error = %e, "calling the warm-transfer destination failed");
                            t.0.events.emit(&record.business_id, "call.transfer_failed", json!({"callId": record.id, "status": "failed", "destination": o.destination.name}));
                            t.update_call(&sid, &token, &base, &call_sid, &[("Twiml", twilio_voice::say_and_hang_up(TRANSFER_FAILED))]).await?;
                            return Ok(false);
                        }
                        Ok(true)
                    }
                }
            }
            .await;
            match (&done, &order) {
                (Ok(true), Some(o)) => {
                    info!(call = %record.id, destination = %o.destination.name, warm = o.destination.warm, "call transferred");
                    t.0.events.emit(&record.business_id, "call.transferred", json!({"callId": record.id, "destination": o.destination.name, "phoneNumber": o.destination.phone_number, "warm": o.destination.warm}));
                }
                (Ok(true), None) => info!(call = %record.id, %reason, "hung up at the carrier"),
                (Ok(false), _) => {}
                (Err(e), _) => {
                    warn!(call = %record.id, error = %e, "carrier call control failed; closing the stream instead")
                }
            }
        })
    }
}
