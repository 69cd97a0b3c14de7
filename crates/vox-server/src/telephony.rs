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
use vox_call::{CallControl, CallEnd, CallObserver, CallServices, CallSummary};
use vox_tools::api::{ApiTool, CalendarFactory, CallContext, CallTools, ToolEnv, ToolEvents};
use vox_tools::calendar::{BuiltinCalendar, CalendarBackend, GoogleCalendar};
use vox_tools::knowledge::KnowledgeBases;

use crate::artifacts::{self, Events};
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
    runtime: tokio::sync::OnceCell<Result<Runtime, String>>,
    events: Events,
    recordings_dir: Option<std::path::PathBuf>,
    tools_cfg: crate::config::ToolsConfig,
    /// Calls whose media stream is connected: their record is ended by the stream's own
    /// ending (with the real reason and the transcript), not by the carrier's status callback,
    /// which may arrive first.
    live: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// What API agents' calls run on, built at the first such call.
#[derive(Clone)]
struct Runtime {
    services: CallServices,
    without_llm: bool,
    tools: ToolEnv,
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
    pub fn new(cfg: &Config, store: Store, agents: Arc<Agents>, local_url: String, events: Events) -> anyhow::Result<Self> {
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
        if cfg.tools.calendar == crate::config::CalendarBackendKind::Google {
            cfg.tools.resolved_google_token()?;
        }
        Ok(Self(Arc::new(Inner {
            store,
            agents,
            tokens: MediaTokens::new(cfg.telephony.media_token_ttl_secs),
            accounts,
            public_url,
            local_url,
            http,
            runtime: tokio::sync::OnceCell::new(),
            live: Arc::default(),
            events,
            recordings_dir: Some(cfg.api.recordings_dir.clone()).filter(|d| !d.as_os_str().is_empty()),
            tools_cfg: cfg.tools.clone(),
        })))
    }

    /// `POST /twilio/voice` and `POST /twilio/status`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/twilio/voice", post(voice))
            .route("/twilio/status", post(status))
            .route("/twilio/hold", axum::routing::get(hold).post(hold))
            .route("/twilio/transfer-status", post(transfer_status))
            .with_state(self.clone())
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

#[derive(serde::Deserialize)]
struct HoldQuery {
    audio: Option<String>,
}

/// `/twilio/hold?audio=URL`: a warm transfer's on-hold audio, in a loop (the conference's
/// waitUrl). Signed like every Twilio request (by any configured account).
async fn hold(State(t): State<Telephony>, headers: HeaderMap, uri: Uri, Query(q): Query<HoldQuery>, body: Bytes) -> Response {
    // any account may have placed the conference: a signature by any of them will do
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let url = format!("{}{}", t.base_url(Some(&headers)), uri.path_and_query().map_or("", |p| p.as_str()));
    let sig = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !t.0.accounts.iter().any(|a| twilio_voice::verify_signature(&a.auth_token, &url, &params, sig)) {
        warn!(%url, "twilio hold request with a missing or wrong signature");
        metrics::counter!("vox_webhook_rejected_total", "carrier" => "twilio").increment(1);
        return (StatusCode::FORBIDDEN, "invalid X-Twilio-Signature").into_response();
    }
    match q.audio.filter(|a| a.starts_with("https://") || a.starts_with("http://")) {
        Some(a) => twiml(twilio_voice::play_loop(&a)),
        None => (StatusCode::BAD_REQUEST, "audio must be an http(s) URL").into_response(),
    }
}

/// What a caller hears when a warm transfer's destination does not answer.
const TRANSFER_FAILED: &str = "Sorry, nobody could take your call right now. Please call again later. Goodbye.";

/// `POST /twilio/transfer-status?callId=`: the status of a warm transfer's call to its
/// destination. If it was not answered, the waiting caller hears an apology and is hung up.
async fn transfer_status(State(t): State<Telephony>, headers: HeaderMap, uri: Uri, Query(q): Query<StatusQuery>, body: Bytes) -> Response {
    let params = match verified(&t, &headers, &uri, &body, |p| t.0.accounts.iter().find(|a| a.account_sid == param(p, "AccountSid")).map(|a| a.auth_token.clone())) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(call_id) = q.call_id else {
        return (StatusCode::BAD_REQUEST, "the status callback URL lacks callId").into_response();
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
    let account = record.phone_number.as_deref().and_then(|n| t.account_for_number(n));
    if let (Some(a), Some(sid)) = (account, record.carrier_call_id.as_deref()) {
        let twiml = twilio_voice::say_and_hang_up(TRANSFER_FAILED);
        if let Err(e) = t.update_call(&a.account_sid, &a.auth_token, &a.api_base, sid, &[("Twiml", twiml)]).await {
            warn!(call = %call_id, error = %e, "telling the caller the transfer failed");
        }
    }
    warn!(call = %call_id, %status, "warm transfer not answered");
    t.0.events.emit(&record.business_id, "call.transfer_failed", json!({"callId": call_id, "status": status}));
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
            let mut spec = spec_from_record(&agent).map_err(internal)?;
            // once: a second stream with the same token finds the call already in progress
            if !store.call_started(&call_id, now_ms()).await.map_err(internal)? {
                return Err("this call was already connected or has ended".into());
            }
            if record.carrier_call_id.is_none() && !carrier_call_id.is_empty() {
                let _ = store.set_call_carrier_id(&call_id, &carrier_call_id).await;
            }
            let runtime = match t.runtime().await {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "the voice_agents runtime is unavailable");
                    let _ = store.call_ended(&call_id, "FAILED", "runtime-unavailable", now_ms()).await;
                    return Err("this server cannot run API agents (see its log: voice_agents)".into());
                }
            };
            let account = record.phone_number.as_deref().and_then(|n| t.account_for_number(n)).map(|a| (a.account_sid.clone(), a.auth_token.clone(), a.api_base.clone()));
            let carrier_sid = record.carrier_call_id.clone().or_else(|| Some(carrier_call_id.clone()).filter(|c| !c.is_empty()));
            let ctx = CallContext {
                call_id: call_id.clone(),
                business_id: record.business_id.clone(),
                agent_id: agent_id.clone(),
                customer_number: record.customer_number.clone(),
                phone_number: record.phone_number.clone(),
                can_transfer: account.is_some() && carrier_sid.is_some(),
                calendar_id: store.calendar(&record.business_id).await.map_err(internal)?.map(|c| c.calendar_id),
            };
            let records = agent_tools(&agent, store).await.map_err(internal)?;
            let events = t.0.events.clone();
            let (biz, cid) = (record.business_id.clone(), call_id.clone());
            let on_tool: ToolEvents = Arc::new(move |name: &str, args: &Value, result: &str| {
                events.emit(&biz, "call.tool_called", json!({"callId": cid, "tool": name, "arguments": args, "result": result}));
            });
            let tools = Arc::new(CallTools::new(runtime.tools.clone(), ctx, ApiTool::from_records(&records), Some(on_tool)));
            tools.warm();
            if let Some(slots) = tools.slots_prompt(now_ms()).await {
                spec.custom_instructions = Some(match spec.custom_instructions.take() {
                    Some(c) => format!("{c}\n\n{slots}"),
                    None => slots,
                });
            }
            spec.tools = tools.defs();
            let mut session = t.0.agents.api_session(spec, runtime.services.clone(), runtime.without_llm);
            session.services.tools = Some(Arc::new(tools.clone()));
            if let (Some((sid, token, base)), Some(carrier_sid)) = (account, carrier_sid) {
                session.services.control = Some(Arc::new(TwilioControl { t: t.clone(), account_sid: sid, auth_token: token, api_base: base, call_sid: carrier_sid, record: record.clone(), tools: tools.clone() }));
            }
            session.services.recording = t.0.recordings_dir.as_ref().map(|d| d.join(&record.business_id).join(format!("{call_id}.wav")));
            t.0.live.lock().expect("live calls").insert(call_id.clone());
            let collect: Vec<String> = agent.document["collectFields"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
            session.services.observer = Some(RecordObserver::start(t.clone(), record.clone(), runtime.services.llm.clone(), collect, tools));
            t.0.events.emit(&record.business_id, "call.started", json!({"callId": call_id, "agentId": agent_id, "type": record.kind, "customerNumber": record.customer_number, "phoneNumber": record.phone_number}));
            info!(call = %call_id, agent = %agent_id, "placed call connected");
            Ok(session)
        })
    }
}

/// The stored agent as the engine's [`AgentSpec`]: the seed's fields it knows (tools are
/// added from the call's [`CallTools`]).
fn spec_from_record(a: &vox_store::AgentRecord) -> Result<AgentSpec, vox_store::StoreError> {
    let doc = &a.document;
    let mut spec = json!({"id": a.id, "name": a.name, "type": a.kind, "tools": []});
    for k in ["conversationFlow", "workflow", "customInstructions", "personality", "firstMessage", "voiceId", "collectFields"] {
        if let Some(v) = doc.get(k).filter(|v| !v.is_null()) {
            spec[k] = v.clone();
        }
    }
    serde_json::from_value(spec).map_err(|e| vox_store::StoreError::Corrupt(format!("stored agent {} does not fit the engine: {e}", a.id)))
}

/// The agent's tool instances, in `toolIds` order.
async fn agent_tools(a: &vox_store::AgentRecord, store: &Store) -> Result<Vec<vox_store::ToolRecord>, vox_store::StoreError> {
    let mut out = Vec::new();
    for id in a.document["toolIds"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some(t) = store.tool(&a.business_id, id).await? {
            out.push(t);
        }
    }
    Ok(out)
}

impl Telephony {
    async fn runtime(&self) -> Result<Runtime, String> {
        let t = self.clone();
        self.0
            .runtime
            .get_or_init(|| async move {
                let agents = t.0.agents.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    let (services, without_llm) = agents.api_runtime().map_err(|e| format!("{e:#}"))?;
                    Ok::<_, String>((services, without_llm, agents.knowledge_embedder()))
                })
                .await
                .unwrap_or_else(|e| Err(format!("loading the voice_agents runtime: {e}")))?;
                let (services, without_llm, embedder) = loaded;
                let cfg = &t.0.tools_cfg;
                let calendar: CalendarFactory = match cfg.calendar {
                    crate::config::CalendarBackendKind::Builtin => {
                        let store = t.0.store.clone();
                        Arc::new(move |ctx: &CallContext| Arc::new(BuiltinCalendar::new(store.clone(), ctx.business_id.clone(), Some(ctx.call_id.clone()))) as Arc<dyn CalendarBackend>)
                    }
                    crate::config::CalendarBackendKind::Google => {
                        let token: Arc<str> = cfg.resolved_google_token().map_err(|e| format!("{e:#}"))?.into();
                        let (http, base) = (t.0.http.clone(), cfg.google_api_base.clone());
                        Arc::new(move |ctx: &CallContext| {
                            let calendar_id = ctx.calendar_id.as_deref().unwrap_or("primary");
                            Arc::new(GoogleCalendar::new(http.clone(), &base, calendar_id, token.clone())) as Arc<dyn CalendarBackend>
                        })
                    }
                };
                let tools = ToolEnv {
                    http: vox_tools::HttpGuard { allow_private: cfg.allow_private_networks, max_response_bytes: cfg.max_response_bytes },
                    timeout: std::time::Duration::from_millis(cfg.timeout_ms),
                    knowledge: Arc::new(KnowledgeBases::new(t.0.store.clone(), embedder)),
                    calendar,
                };
                Ok(Runtime { services, without_llm, tools })
            })
            .await
            .clone()
    }

    /// POSTs a call update to Twilio (`Calls/{sid}.json`).
    async fn update_call(&self, account_sid: &str, auth_token: &str, api_base: &str, call_sid: &str, form: &[(&str, String)]) -> Result<(), String> {
        let url = format!("{api_base}/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json");
        let res = self.0.http.post(&url).basic_auth(account_sid, Some(auth_token)).form(form).send().await.map_err(|e| format!("Twilio unreachable: {e}"))?;
        if res.status().is_success() { Ok(()) } else { Err(format!("Twilio answered {}", res.status())) }
    }
}

/// Twilio call control for one call: hang up, or carry out the transfer the tools accepted.
struct TwilioControl {
    t: Telephony,
    account_sid: String,
    auth_token: String,
    api_base: String,
    call_sid: String,
    record: CallRecord,
    tools: Arc<CallTools>,
}

impl CallControl for TwilioControl {
    fn end(&self, reason: &str) -> BoxFuture<'static, ()> {
        let (t, sid, token, base, call_sid, record, order) = (self.t.clone(), self.account_sid.clone(), self.auth_token.clone(), self.api_base.clone(), self.call_sid.clone(), self.record.clone(), self.tools.transfer_order());
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
                (Err(e), _) => warn!(call = %record.id, error = %e, "carrier call control failed; closing the stream instead"),
            }
        })
    }
}

enum Update {
    Transcript(String, Value),
    Ended(Option<CallSummary>),
}

/// Keeps a call's record current: one writer task per call, so updates land in order. At the
/// end: status and reason, the recording, then (slower, from the LLM) summary and
/// structuredData, and the `call.ended` event.
struct RecordObserver {
    tx: mpsc::UnboundedSender<Update>,
}

fn messages(all: &[TranscriptEntry]) -> Value {
    Value::Array(
        all.iter()
            .map(|e| {
                let role = if e.role == vox_core::Role::User { "user" } else { "agent" };
                json!({"role": role, "text": e.text.trim(), "atMs": e.at_ms, "interrupted": e.interrupted})
            })
            .collect(),
    )
}

impl RecordObserver {
    fn start(t: Telephony, record: CallRecord, llm: Option<Arc<dyn vox_providers::LlmProvider>>, collect: Vec<String>, tools: Arc<CallTools>) -> Arc<dyn CallObserver> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let live = t.0.live.clone();
        let call_id = record.id.clone();
        tokio::spawn(async move {
            let store = t.0.store.clone();
            while let Some(u) = rx.recv().await {
                match u {
                    Update::Transcript(text, msgs) => {
                        if let Err(e) = store.set_call_transcript(&call_id, &text, &msgs).await {
                            warn!(error = %e, call = %call_id, "updating the call record");
                        }
                    }
                    Update::Ended(summary) => {
                        let (status, reason, text) = match &summary {
                            Some(s) => {
                                let reason = match &s.end {
                                    CallEnd::CarrierStop | CallEnd::TransportClosed => "customer-ended-call",
                                    CallEnd::AgentHangup(_) if tools.transfer_order().is_some() => "assistant-transferred-call",
                                    CallEnd::AgentHangup(_) => "assistant-ended-call",
                                    CallEnd::ServerShutdown => "server-shutdown",
                                };
                                let text = transcript_text(&s.transcript);
                                if let Err(e) = store.set_call_transcript(&call_id, &text, &messages(&s.transcript)).await {
                                    warn!(error = %e, call = %call_id, "saving the transcript");
                                }
                                ("COMPLETED", reason, text)
                            }
                            None => ("FAILED", "internal-error", String::new()),
                        };
                        if let Err(e) = store.call_ended(&call_id, status, reason, now_ms()).await {
                            warn!(error = %e, call = %call_id, "ending the call record");
                        }
                        live.lock().expect("live calls").remove(&call_id);
                        let recording_url = summary.as_ref().and_then(|s| s.recording.as_ref()).map(|_| format!("{}/v1/businesses/{}/calls/{}/recording", t.0.public_url.clone().unwrap_or_default(), record.business_id, call_id));
                        let (mut text_summary, mut data) = (None, None);
                        if let Some(llm) = &llm {
                            text_summary = artifacts::summarize(llm, &text).await;
                            data = artifacts::extract(llm, &text, &collect).await;
                        }
                        if let Err(e) = store.set_call_artifacts(&call_id, recording_url.as_deref(), text_summary.as_deref(), data.as_ref()).await {
                            warn!(error = %e, call = %call_id, "saving the call's artifacts");
                        }
                        if let Ok(Some(c)) = store.call_by_id(&call_id).await {
                            t.0.events.emit(&c.business_id, "call.ended", json!({"callId": c.id, "status": c.status, "endedReason": c.ended_reason, "durationMs": c.duration_ms, "summary": c.summary, "structuredData": c.structured_data, "recordingUrl": c.recording_url, "transcript": c.transcript}));
                        }
                    }
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
        let _ = self.tx.send(Update::Transcript(transcript_text(all), messages(all)));
    }

    fn ended(&self, summary: Option<&CallSummary>) {
        let _ = self.tx.send(Update::Ended(summary.cloned()));
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
