//! Telephony glue between the control plane and the media path, for Twilio:
//!
//! - `POST /twilio/voice`: the voice webhook of a deployed number. The `X-Twilio-Signature`
//!   is checked with the auth token of the pool that holds the called number; the answer is
//!   TwiML connecting a bidirectional stream to `/media/twilio` with `agentId`, `callId` and a
//!   short-lived `token` as stream parameters (or a spoken apology and a hang-up when the
//!   number's agent is off duty). A call record is created for it.
//! - `POST /twilio/status`: Twilio's call-status callback (signed likewise): ends the record
//!   of a call that never reached the media stream (busy, no answer, failed).
//! - [`Telephony`] as `vox_api::Dialer`: outbound calls through Twilio's REST Calls API with
//!   the same TwiML inline.
//! - [`Telephony`] as `vox_media::PlacedCalls`: a stream carrying a `callId` is let in only
//!   with a valid token for that call and agent, once (the record moves SCHEDULED ->
//!   IN_PROGRESS atomically), and its agent is built from the stored voice agent; the record
//!   then follows the call (transcript as it grows, status, endedReason, duration).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::Engine as _;
use futures::future::BoxFuture;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::{info, warn};
use vox_call::{CallEnd, CallObserver, CallServices, CallSummary};
use vox_engine::{AgentSpec, TranscriptEntry};
use vox_store::{now_ms, CallRecord, Store};
use vox_telephony::twilio_voice;

use crate::agents::Agents;
use crate::config::{Carrier, Config};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Tokens binding a media stream to one call and agent, valid for a while. The key is made at
/// start, so a restart invalidates tokens in flight (those calls are refused, not mixed up).
struct MediaTokens {
    key: [u8; 32],
    ttl_ms: i64,
}

impl MediaTokens {
    fn new(ttl_secs: u64) -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self { key, ttl_ms: i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX) }
    }

    fn mac(&self, call_id: &str, agent_id: &str, expires: i64) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        m.update(format!("{call_id}\n{agent_id}\n{expires}").as_bytes());
        m
    }

    fn mint(&self, call_id: &str, agent_id: &str, now: i64) -> String {
        let expires = now.saturating_add(self.ttl_ms);
        let sig = self.mac(call_id, agent_id, expires).finalize().into_bytes();
        format!("{expires}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig))
    }

    fn verify(&self, token: &str, call_id: &str, agent_id: &str, now: i64) -> Result<(), &'static str> {
        let (expires, sig) = token.split_once('.').ok_or("malformed call token")?;
        let expires: i64 = expires.parse().map_err(|_| "malformed call token")?;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).map_err(|_| "malformed call token")?;
        self.mac(call_id, agent_id, expires).verify_slice(&sig).map_err(|_| "invalid call token")?;
        if now > expires {
            return Err("expired call token");
        }
        Ok(())
    }
}

/// One carrier account and the numbers it holds.
struct Account {
    numbers: Vec<String>,
    account_sid: String,
    auth_token: String,
    api_base: String,
}

struct Inner {
    store: Store,
    agents: Arc<Agents>,
    tokens: MediaTokens,
    accounts: Vec<Account>,
    public_url: Option<String>,
    local_url: String,
    http: reqwest::Client,
    runtime: tokio::sync::OnceCell<Result<(CallServices, bool), String>>,
    /// Calls whose media stream is connected: their record is ended by the stream's own
    /// ending (with the real reason and the transcript), not by the carrier's status callback,
    /// which may arrive first.
    live: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// See the module docs. Cheap to clone.
#[derive(Clone)]
pub struct Telephony(Arc<Inner>);

impl std::fmt::Debug for Telephony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telephony").field("accounts", &self.0.accounts.len()).field("public_url", &self.0.public_url).finish_non_exhaustive()
    }
}

impl Telephony {
    /// From the `telephony` config; `local_url` is where this server listens.
    pub fn new(cfg: &Config, store: Store, agents: Arc<Agents>, local_url: String) -> anyhow::Result<Self> {
        let mut accounts = Vec::new();
        for (i, pool) in cfg.telephony.pools.iter().enumerate() {
            match pool.carrier {
                Carrier::Twilio => accounts.push(Account {
                    numbers: pool.numbers.clone(),
                    account_sid: pool.account_sid.clone(),
                    auth_token: pool.resolved_token().with_context(|| format!("telephony.pools[{i}]"))?,
                    api_base: pool.api_base.trim_end_matches('/').to_owned(),
                }),
            }
        }
        let public_url = Some(cfg.telephony.public_url.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(15)).build().context("HTTP client")?;
        Ok(Self(Arc::new(Inner { store, agents, tokens: MediaTokens::new(cfg.telephony.media_token_ttl_secs), accounts, public_url, local_url, http, runtime: tokio::sync::OnceCell::new(), live: Arc::default() })))
    }

    /// `POST /twilio/voice` and `POST /twilio/status`.
    pub fn router(&self) -> Router {
        Router::new().route("/twilio/voice", post(voice)).route("/twilio/status", post(status)).with_state(self.clone())
    }

    fn account_for_number(&self, number: &str) -> Option<&Account> {
        self.0.accounts.iter().find(|a| a.numbers.iter().any(|n| n == number))
    }

    /// The base URL carriers reach us at: configured, or the request's Host, or our address.
    fn base_url(&self, headers: Option<&HeaderMap>) -> String {
        if let Some(u) = &self.0.public_url {
            return u.clone();
        }
        if let Some(h) = headers
            && let Some(host) = h.get(header::HOST).and_then(|v| v.to_str().ok())
        {
            let proto = h.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
            return format!("{proto}://{host}");
        }
        self.0.local_url.clone()
    }

    fn stream_twiml(&self, base: &str, call_id: &str, agent_id: &str) -> String {
        let ws = if let Some(rest) = base.strip_prefix("https://") { format!("wss://{rest}") } else { format!("ws://{}", base.trim_start_matches("http://")) };
        let token = self.0.tokens.mint(call_id, agent_id, now_ms());
        twilio_voice::connect_stream(&format!("{ws}/media/twilio"), &[("agentId", agent_id), ("callId", call_id), ("token", &token)])
    }
}

fn twiml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Parses and signature-checks a Twilio webhook; the parameters, or the response to send.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself, built once
fn verified(t: &Telephony, headers: &HeaderMap, uri: &Uri, body: &[u8], token_for: impl Fn(&[(String, String)]) -> Option<String>) -> Result<Vec<(String, String)>, Response> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| (StatusCode::BAD_REQUEST, format!("expected a form-encoded Twilio webhook: {e}")).into_response())?;
    let Some(auth_token) = token_for(&params) else {
        return Err((StatusCode::NOT_FOUND, "no telephony pool holds this number or account").into_response());
    };
    let url = format!("{}{}", t.base_url(Some(headers)), uri.path_and_query().map_or("", |p| p.as_str()));
    let sig = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !twilio_voice::verify_signature(&auth_token, &url, &params, sig) {
        warn!(%url, "twilio webhook with a missing or wrong signature");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "twilio").increment(1);
        return Err((StatusCode::FORBIDDEN, "invalid X-Twilio-Signature (is telephony.public_url the URL Twilio calls?)").into_response());
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

async fn voice(State(t): State<Telephony>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let params = match verified(&t, &headers, &uri, &body, |p| t.account_for_number(param(p, "To")).map(|a| a.auth_token.clone())) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (to, from, sid) = (param(&params, "To").to_owned(), param(&params, "From").to_owned(), param(&params, "CallSid").to_owned());
    match answer(&t, &headers, &to, &from, &sid).await {
        Ok(xml) => twiml(xml),
        Err(e) => {
            warn!(error = %e, "answering a twilio call");
            twiml(twilio_voice::say_and_hang_up("Sorry, we cannot take your call right now. Please try again later."))
        }
    }
}

async fn answer(t: &Telephony, headers: &HeaderMap, to: &str, from: &str, sid: &str) -> Result<String, vox_store::StoreError> {
    let store = &t.0.store;
    let Some((business_id, agent_id)) = store.number_owner(to).await? else {
        info!(%to, "call to a number no agent is deployed on");
        return Ok(twilio_voice::say_and_hang_up("This number is not in service."));
    };
    let Some(agent) = store.agent(&business_id, &agent_id).await? else {
        return Ok(twilio_voice::say_and_hang_up("This number is not in service."));
    };
    let mut record = CallRecord {
        business_id,
        agent_id: Some(agent_id.clone()),
        kind: "INBOUND".into(),
        phone_number: Some(to.to_owned()),
        customer_number: Some(from.to_owned()),
        status: "SCHEDULED".into(),
        carrier_call_id: Some(sid.to_owned()),
        ..Default::default()
    };
    if agent.on_duty != Some(true) {
        record.status = "FAILED".into();
        record.ended_reason = Some("agent-off-duty".into());
        record.ended_at = Some(now_ms());
        record.duration_ms = Some(0);
        store.create_call(record).await?;
        info!(agent = %agent_id, "call to an agent off duty");
        return Ok(twilio_voice::say_and_hang_up("No one is available to take your call right now. Please call again later."));
    }
    let record = store.create_call(record).await?;
    info!(call = %record.id, agent = %agent_id, carrier_call = %sid, "answering inbound call");
    Ok(t.stream_twiml(&t.base_url(Some(headers)), &record.id, &agent_id))
}

#[derive(serde::Deserialize)]
struct StatusQuery {
    #[serde(rename = "callId")]
    call_id: Option<String>,
}

async fn status(State(t): State<Telephony>, headers: HeaderMap, uri: Uri, Query(q): Query<StatusQuery>, body: Bytes) -> Response {
    let params = match verified(&t, &headers, &uri, &body, |p| t.0.accounts.iter().find(|a| a.account_sid == param(p, "AccountSid")).map(|a| a.auth_token.clone())) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(call_id) = q.call_id else {
        return (StatusCode::BAD_REQUEST, "the status callback URL lacks callId").into_response();
    };
    let (status, reason) = match param(&params, "CallStatus") {
        "completed" => ("COMPLETED", "carrier-completed"),
        "busy" => ("FAILED", "customer-busy"),
        "no-answer" => ("FAILED", "customer-did-not-answer"),
        "canceled" => ("FAILED", "canceled"),
        "failed" => ("FAILED", "carrier-failed"),
        _ => return StatusCode::NO_CONTENT.into_response(),
    };
    // a connected stream records its own ending; one that came first stands (first ending wins)
    if t.0.live.lock().expect("live calls").contains(&call_id) {
        return StatusCode::NO_CONTENT.into_response();
    }
    if let Err(e) = t.0.store.call_ended(&call_id, status, reason, now_ms()).await {
        warn!(error = %e, call = %call_id, "recording a twilio call status");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

impl vox_api::Dialer for Telephony {
    fn dial(&self, r: vox_api::DialRequest) -> BoxFuture<'static, Result<String, String>> {
        let t = self.clone();
        Box::pin(async move {
            let account = t.account_for_number(&r.from).ok_or_else(|| format!("no telephony pool holds {}", r.from))?;
            let base = t.base_url(None);
            let body = [
                ("To", r.to.clone()),
                ("From", r.from.clone()),
                ("Twiml", t.stream_twiml(&base, &r.call_id, &r.agent_id)),
                ("StatusCallback", format!("{base}/twilio/status?callId={}", r.call_id)),
                ("StatusCallbackEvent", "completed".to_owned()),
            ];
            let url = format!("{}/2010-04-01/Accounts/{}/Calls.json", account.api_base, account.account_sid);
            let res = t.0.http.post(&url).basic_auth(&account.account_sid, Some(&account.auth_token)).form(&body).send().await.map_err(|e| format!("Twilio unreachable: {e}"))?;
            let code = res.status();
            let reply: Value = res.json().await.unwrap_or(Value::Null);
            if !code.is_success() {
                return Err(format!("Twilio answered {code}: {}", reply["message"].as_str().unwrap_or("no message")));
            }
            reply["sid"].as_str().map(str::to_owned).ok_or_else(|| "Twilio's reply has no call sid".to_owned())
        })
    }
}

impl vox_media::PlacedCalls for Telephony {
    fn open(&self, params: &BTreeMap<String, String>, carrier_call_id: &str) -> BoxFuture<'static, Result<vox_media::AgentSession, String>> {
        let t = self.clone();
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        let (call_id, agent_id, token) = (get("callId"), get("agentId"), get("token"));
        let carrier_call_id = carrier_call_id.to_owned();
        Box::pin(async move {
            t.0.tokens.verify(&token, &call_id, &agent_id, now_ms())?;
            let store = &t.0.store;
            let internal = |e: vox_store::StoreError| {
                warn!(error = %e, call = %call_id, "opening a placed call");
                "internal error".to_owned()
            };
            let record = store.call_by_id(&call_id).await.map_err(internal)?.ok_or("unknown call")?;
            if record.agent_id.as_deref() != Some(agent_id.as_str()) {
                return Err("the token is for another agent".into());
            }
            let agent = store.agent(&record.business_id, &agent_id).await.map_err(internal)?.ok_or("the agent was deleted")?;
            let spec = spec_from_record(&agent, store).await.map_err(internal)?;
            // once: a second stream with the same token finds the call already in progress
            if !store.call_started(&call_id, now_ms()).await.map_err(internal)? {
                return Err("this call was already connected or has ended".into());
            }
            if record.carrier_call_id.is_none() && !carrier_call_id.is_empty() {
                let _ = store.set_call_carrier_id(&call_id, &carrier_call_id).await;
            }
            let agents = t.0.agents.clone();
            let runtime = t
                .0
                .runtime
                .get_or_init(|| async move {
                    tokio::task::spawn_blocking(move || agents.api_runtime().map_err(|e| format!("{e:#}"))).await.unwrap_or_else(|e| Err(format!("loading the voice_agents runtime: {e}")))
                })
                .await;
            let (services, without_llm) = match runtime {
                Ok(r) => r.clone(),
                Err(e) => {
                    warn!(error = %e, "the voice_agents runtime is unavailable");
                    let _ = store.call_ended(&call_id, "FAILED", "runtime-unavailable", now_ms()).await;
                    return Err("this server cannot run API agents (see its log: voice_agents)".into());
                }
            };
            let mut session = t.0.agents.api_session(spec, services, without_llm);
            t.0.live.lock().expect("live calls").insert(call_id.clone());
            session.services.observer = Some(RecordObserver::start(store.clone(), call_id.clone(), t.0.live.clone()));
            info!(call = %call_id, agent = %agent_id, "placed call connected");
            Ok(session)
        })
    }
}

/// The stored agent as the engine's [`AgentSpec`]: the seed's fields it knows, plus the
/// tools it can run (endCall and transferCall so far; the rest come with the tool runtime).
async fn spec_from_record(a: &vox_store::AgentRecord, store: &Store) -> Result<AgentSpec, vox_store::StoreError> {
    let doc = &a.document;
    let mut tools = Vec::new();
    for id in doc["toolIds"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let Some(t) = store.tool(&a.business_id, id).await? else { continue };
        if !t.enabled {
            continue;
        }
        let kind = match t.name.as_str() {
            "endCall" => "endCall",
            "transferCall" => "transferCall",
            _ => continue,
        };
        let description = match kind {
            "endCall" => "End the call once the caller is done.".to_owned(),
            _ => format!("Transfer the caller to {}.", t.config_override["destinations"].as_array().into_iter().flatten().filter_map(|d| d["name"].as_str()).collect::<Vec<_>>().join(" or ")),
        };
        tools.push(json!({"name": t.name, "type": kind, "description": description, "message": t.message}));
    }
    let mut spec = json!({"id": a.id, "name": a.name, "type": a.kind, "tools": tools});
    for k in ["conversationFlow", "workflow", "customInstructions", "personality", "firstMessage", "voiceId", "collectFields"] {
        if let Some(v) = doc.get(k).filter(|v| !v.is_null()) {
            spec[k] = v.clone();
        }
    }
    serde_json::from_value(spec).map_err(|e| vox_store::StoreError::Corrupt(format!("stored agent {} does not fit the engine: {e}", a.id)))
}

enum Update {
    Transcript(String),
    Ended { status: &'static str, reason: String, transcript: Option<String> },
}

/// Keeps a call's record current: one writer task per call, so updates land in order.
struct RecordObserver {
    tx: mpsc::UnboundedSender<Update>,
}

impl RecordObserver {
    fn start(store: Store, call_id: String, live: Arc<std::sync::Mutex<std::collections::HashSet<String>>>) -> Arc<dyn CallObserver> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(u) = rx.recv().await {
                let done = match u {
                    Update::Transcript(text) => store.set_call_transcript(&call_id, &text).await,
                    Update::Ended { status, reason, transcript } => {
                        if let Some(text) = transcript
                            && let Err(e) = store.set_call_transcript(&call_id, &text).await
                        {
                            warn!(error = %e, call = %call_id, "saving the transcript");
                        }
                        let r = store.call_ended(&call_id, status, &reason, now_ms()).await;
                        live.lock().expect("live calls").remove(&call_id);
                        r
                    }
                };
                if let Err(e) = done {
                    warn!(error = %e, call = %call_id, "updating the call record");
                }
            }
            // dropped without an ending: let the carrier's callback end the record
            live.lock().expect("live calls").remove(&call_id);
        });
        Arc::new(Self { tx })
    }
}

fn transcript_text(all: &[TranscriptEntry]) -> String {
    all.iter()
        .map(|e| {
            let who = match e.role {
                vox_core::Role::User => "Caller",
                _ => "Agent",
            };
            format!("{who}: {}{}", e.text.trim(), if e.interrupted { " [interrupted]" } else { "" })
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl CallObserver for RecordObserver {
    fn transcript(&self, all: &[TranscriptEntry]) {
        let _ = self.tx.send(Update::Transcript(transcript_text(all)));
    }

    fn ended(&self, summary: Option<&CallSummary>) {
        let update = match summary {
            Some(s) => {
                let reason = match &s.end {
                    CallEnd::CarrierStop | CallEnd::TransportClosed => "customer-ended-call".to_owned(),
                    CallEnd::AgentHangup(_) => "assistant-ended-call".to_owned(),
                    CallEnd::ServerShutdown => "server-shutdown".to_owned(),
                };
                Update::Ended { status: "COMPLETED", reason, transcript: Some(transcript_text(&s.transcript)) }
            }
            None => Update::Ended { status: "FAILED", reason: "internal-error".into(), transcript: None },
        };
        let _ = self.tx.send(update);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_tokens_bind_call_agent_and_time() {
        let t = MediaTokens::new(300);
        let tok = t.mint("call_1", "agent_1", 1_000);
        assert_eq!(t.verify(&tok, "call_1", "agent_1", 2_000), Ok(()));
        assert_eq!(t.verify(&tok, "call_2", "agent_1", 2_000), Err("invalid call token"));
        assert_eq!(t.verify(&tok, "call_1", "agent_2", 2_000), Err("invalid call token"));
        assert_eq!(t.verify(&tok, "call_1", "agent_1", 1_000 + 300_001), Err("expired call token"));
        let (exp, sig) = tok.split_once('.').expect("dot");
        let later = format!("{}.{sig}", exp.parse::<i64>().expect("n") + 1_000_000);
        assert_eq!(t.verify(&later, "call_1", "agent_1", 2_000), Err("invalid call token"), "the expiry is signed");
        assert_eq!(t.verify("garbage", "call_1", "agent_1", 2_000), Err("malformed call token"));
        assert_eq!(MediaTokens::new(300).verify(&tok, "call_1", "agent_1", 2_000), Err("invalid call token"), "another server's key");
    }
}
