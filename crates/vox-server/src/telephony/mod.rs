//! Telephony glue between the control plane and the media path, for every carrier: the
//! webhooks each carrier calls to set up a call, its outbound dialer, and its call control.
//!
//! Common to all (this module):
//! - [`Telephony`] as `vox_api::Dialer`: the pool holding the `from` number decides the
//!   carrier; the call is dialed with its REST API, connected to `/media/{dialect}` with
//!   `agentId`, `callId` and a short-lived `token` as stream parameters.
//! - Inbound set-up ([`Telephony::answer_inbound`]): the called number's agent, a call
//!   record, and either a stream to connect or an apology (no agent, off duty).
//! - [`Telephony`] as `vox_media::PlacedCalls`: a stream carrying a `callId` is let in only
//!   with a valid token for that call and agent, once (the record moves SCHEDULED ->
//!   IN_PROGRESS atomically), and its agent is built from the stored voice agent; the record
//!   then follows the call (transcript as it grows, status, endedReason, duration).
//! - A carrier's end-of-call callback ends the record only of a call whose stream never
//!   connected (busy, no answer); a live stream records its own ending.
//!
//! Per carrier (its module): [`twilio`] (TwiML, `X-Twilio-Signature`, cold and warm
//! transfer), [`telnyx`] (Call Control, Ed25519-signed webhooks), [`plivo`] (Plivo XML, V3
//! signatures), [`vonage`] (NCCO, JWT-signed webhooks, RS256 API tokens), [`exotel`] (the
//! Voicebot applet's URL and Basic auth; transfer through the flow's Connect applet).

mod exotel;
mod plivo;
mod telnyx;
mod twilio;
mod vonage;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use futures::future::BoxFuture;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::{info, warn};
use vox_call::{CallControl, CallEnd, CallObserver, CallServices, CallSummary};
use vox_telephony::Dialect;
use vox_tools::api::{ApiTool, CalendarFactory, CallContext, CallTools, ToolEnv, ToolEvents};
use vox_tools::calendar::{BuiltinCalendar, CalendarBackend, GoogleCalendar};
use vox_tools::knowledge::KnowledgeBases;

use crate::artifacts::{self, Events};
use vox_engine::{AgentSpec, TranscriptEntry};
use vox_store::{CallRecord, Store, now_ms};

use crate::agents::Agents;
use crate::config::{Carrier, Config, NumberPool};

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
        Self {
            key,
            ttl_ms: i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        }
    }

    fn mac(&self, call_id: &str, agent_id: &str, expires: i64) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        m.update(format!("{call_id}\n{agent_id}\n{expires}").as_bytes());
        m
    }

    fn mint(&self, call_id: &str, agent_id: &str, now: i64) -> String {
        let expires = now.saturating_add(self.ttl_ms);
        let sig = self.mac(call_id, agent_id, expires).finalize().into_bytes();
        format!(
            "{expires}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        )
    }

    fn verify(
        &self,
        token: &str,
        call_id: &str,
        agent_id: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        let (expires, sig) = token.split_once('.').ok_or("malformed call token")?;
        let expires: i64 = expires.parse().map_err(|_| "malformed call token")?;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| "malformed call token")?;
        self.mac(call_id, agent_id, expires)
            .verify_slice(&sig)
            .map_err(|_| "invalid call token")?;
        if now > expires {
            return Err("expired call token");
        }
        Ok(())
    }
}

/// One carrier account and the numbers it holds (a `telephony.pools` entry, secrets read).
struct Account {
    carrier: Carrier,
    numbers: Vec<String>,
    /// Twilio: Account SID; Plivo: Auth ID; Exotel: Account SID.
    account_sid: String,
    /// Twilio, Plivo: auth token; Exotel: API token.
    auth_token: String,
    /// Telnyx: API key; Exotel: API key.
    api_key: String,
    /// Telnyx: the Call Control application outbound calls use.
    connection_id: String,
    /// Telnyx: the base64 Ed25519 key its webhooks are signed with.
    public_key: String,
    /// Vonage: the application and its key, and the webhook signature secret.
    application_id: String,
    private_key: Option<Arc<vox_telephony::vonage_voice::ApiKey>>,
    signature_secret: String,
    api_base: String,
}

impl Account {
    fn from_pool(i: usize, pool: &NumberPool) -> anyhow::Result<Self> {
        let field = |name: &str, value: &str| -> anyhow::Result<String> {
            let v = crate::config::resolve_secret(value)
                .with_context(|| format!("telephony.pools[{i}].{name}"))?;
            anyhow::ensure!(
                !v.is_empty(),
                "telephony.pools[{i}].{name} is required for a {} pool",
                pool.carrier.name()
            );
            Ok(v)
        };
        let optional = |value: &str| crate::config::resolve_secret(value).unwrap_or_default();
        let mut a = Account {
            carrier: pool.carrier,
            numbers: pool.numbers.clone(),
            account_sid: String::new(),
            auth_token: String::new(),
            api_key: String::new(),
            connection_id: String::new(),
            public_key: String::new(),
            application_id: String::new(),
            private_key: None,
            signature_secret: String::new(),
            api_base: if pool.api_base.is_empty() {
                crate::config::default_api_base(pool.carrier).to_owned()
            } else {
                pool.api_base.trim_end_matches('/').to_owned()
            },
        };
        match pool.carrier {
            Carrier::Twilio | Carrier::Plivo => {
                a.account_sid = field("account_sid", &pool.account_sid)?;
                a.auth_token = field("auth_token", &pool.auth_token)?;
            }
            Carrier::Telnyx => {
                a.api_key = field("api_key", &pool.api_key)?;
                a.public_key = field("public_key", &pool.public_key)?;
                a.connection_id = optional(&pool.connection_id);
            }
            Carrier::Vonage => {
                a.application_id = field("application_id", &pool.application_id)?;
                let pem = field("private_key", &pool.private_key)?;
                a.private_key = Some(Arc::new(
                    vox_telephony::vonage_voice::ApiKey::from_pem(&pem)
                        .map_err(|e| anyhow::anyhow!("telephony.pools[{i}].private_key: {e}"))?,
                ));
                a.signature_secret = field("signature_secret", &pool.signature_secret)?;
            }
            Carrier::Exotel => {
                a.account_sid = field("account_sid", &pool.account_sid)?;
                a.api_key = field("api_key", &pool.api_key)?;
                a.auth_token = field("auth_token", &pool.auth_token)?;
            }
        }
        Ok(a)
    }
}

/// What a carrier's inbound set-up should do with a call.
enum Answer {
    /// Stream it to the agent: the call record and the agent.
    Stream { call_id: String, agent_id: String },
    /// Say this and hang up.
    Refuse(&'static str),
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
    /// Exotel: transfers waiting for the flow's Connect applet to ask where to dial, by
    /// CallSid: (number, caller id).
    exotel_transfers: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
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
        f.debug_struct("Telephony")
            .field("accounts", &self.0.accounts.len())
            .field("public_url", &self.0.public_url)
            .finish_non_exhaustive()
    }
}

impl Telephony {
    /// From the `telephony` config; `local_url` is where this server listens.
    pub fn new(
        cfg: &Config,
        store: Store,
        agents: Arc<Agents>,
        local_url: String,
        events: Events,
    ) -> anyhow::Result<Self> {
        let accounts = cfg
            .telephony
            .pools
            .iter()
            .enumerate()
            .map(|(i, pool)| Account::from_pool(i, pool))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let public_url = Some(cfg.telephony.public_url.trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty());
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .context("HTTP client")?;
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
            recordings_dir: Some(cfg.api.recordings_dir.clone())
                .filter(|d| !d.as_os_str().is_empty()),
            tools_cfg: cfg.tools.clone(),
            exotel_transfers: std::sync::Mutex::default(),
        })))
    }

    /// Every carrier's webhooks: `/twilio/*`, `/telnyx/*`, `/plivo/*`, `/vonage/*`, `/exotel/*`.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(twilio::routes())
            .merge(telnyx::routes())
            .merge(plivo::routes())
            .merge(vonage::routes())
            .merge(exotel::routes())
            .with_state(self.clone())
    }

    fn account_for_number(&self, number: &str) -> Option<&Account> {
        self.0
            .accounts
            .iter()
            .find(|a| a.numbers.iter().any(|n| n == number))
    }

    fn accounts(&self, carrier: Carrier) -> impl Iterator<Item = &Account> {
        self.0.accounts.iter().filter(move |a| a.carrier == carrier)
    }

    /// The base URL carriers reach us at: configured, or the request's Host, or our address.
    fn base_url(&self, headers: Option<&HeaderMap>) -> String {
        if let Some(u) = &self.0.public_url {
            return u.clone();
        }
        if let Some(h) = headers
            && let Some(host) = h.get(header::HOST).and_then(|v| v.to_str().ok())
        {
            let proto = h
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("http");
            return format!("{proto}://{host}");
        }
        self.0.local_url.clone()
    }

    /// The stream's parameters for a call: agent, call and a fresh token.
    fn stream_params(&self, call_id: &str, agent_id: &str) -> [(&'static str, String); 3] {
        [
            ("agentId", agent_id.to_owned()),
            ("callId", call_id.to_owned()),
            ("token", self.0.tokens.mint(call_id, agent_id, now_ms())),
        ]
    }

    /// `ws(s)://.../media/{dialect}` from an http(s) base.
    fn media_url(base: &str, dialect: Dialect) -> String {
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", base.trim_start_matches("http://"))
        };
        format!("{ws}/media/{dialect}")
    }

    /// The media URL with the stream's parameters in its query, for carriers that keep the
    /// stream URL's query (all but Twilio, which takes `<Parameter>`s instead).
    fn media_url_with_params(
        &self,
        base: &str,
        dialect: Dialect,
        call_id: &str,
        agent_id: &str,
    ) -> String {
        let query =
            serde_urlencoded::to_string(self.stream_params(call_id, agent_id)).unwrap_or_default();
        format!("{}?{query}", Self::media_url(base, dialect))
    }

    /// An inbound call to `to` (our number) from `from`: its record, and what to do with it.
    async fn answer_inbound(
        &self,
        carrier: Carrier,
        to: &str,
        from: &str,
        carrier_call_id: &str,
    ) -> Result<Answer, vox_store::StoreError> {
        let store = &self.0.store;
        let Some((business_id, agent_id)) = store.number_owner(to).await? else {
            info!(%to, %carrier, "call to a number no agent is deployed on");
            return Ok(Answer::Refuse("This number is not in service."));
        };
        let Some(agent) = store.agent(&business_id, &agent_id).await? else {
            return Ok(Answer::Refuse("This number is not in service."));
        };
        let mut record = CallRecord {
            business_id,
            agent_id: Some(agent_id.clone()),
            kind: "INBOUND".into(),
            phone_number: Some(to.to_owned()),
            customer_number: Some(from.to_owned()),
            status: "SCHEDULED".into(),
            carrier_call_id: Some(carrier_call_id.to_owned()).filter(|c| !c.is_empty()),
            ..Default::default()
        };
        if agent.on_duty != Some(true) {
            record.status = "FAILED".into();
            record.ended_reason = Some("agent-off-duty".into());
            record.ended_at = Some(now_ms());
            record.duration_ms = Some(0);
            store.create_call(record).await?;
            info!(agent = %agent_id, "call to an agent off duty");
            return Ok(Answer::Refuse(
                "No one is available to take your call right now. Please call again later.",
            ));
        }
        let record = store.create_call(record).await?;
        info!(call = %record.id, agent = %agent_id, carrier_call = %carrier_call_id, %carrier, "answering inbound call");
        Ok(Answer::Stream {
            call_id: record.id,
            agent_id,
        })
    }

    /// A carrier's word for how a call ended (Twilio's and Exotel's `CallStatus`, Plivo's,
    /// Vonage's `status`, Telnyx's `hangup_cause`) as the record's status and reason; `None`
    /// for words that are not an ending (ringing, answered, ...).
    fn ending(word: &str) -> Option<(&'static str, &'static str)> {
        Some(match word {
            "completed" | "normal_clearing" => ("COMPLETED", "carrier-completed"),
            "busy" | "user_busy" => ("FAILED", "customer-busy"),
            "no-answer" | "no_answer" | "timeout" | "unanswered" => {
                ("FAILED", "customer-did-not-answer")
            }
            "canceled" | "cancelled" | "cancel" | "originator_cancel" => ("FAILED", "canceled"),
            "failed" | "rejected" | "call_rejected" => ("FAILED", "carrier-failed"),
            _ => return None,
        })
    }

    /// A carrier reports the call over: ends the record unless its stream is live (a live
    /// stream records its own ending, with the real reason); the first ending stands.
    async fn end_unless_live(
        &self,
        call_id: &str,
        status: &str,
        reason: &str,
    ) -> Result<(), vox_store::StoreError> {
        if self.0.live.lock().expect("live calls").contains(call_id) {
            return Ok(());
        }
        self.0
            .store
            .call_ended(call_id, status, reason, now_ms())
            .await
    }
}

impl vox_api::Dialer for Telephony {
    fn dial(&self, r: vox_api::DialRequest) -> BoxFuture<'static, Result<String, String>> {
        let t = self.clone();
        Box::pin(async move {
            let account = t
                .account_for_number(&r.from)
                .ok_or_else(|| format!("no telephony pool holds {}", r.from))?;
            match account.carrier {
                Carrier::Twilio => twilio::dial(&t, account, &r).await,
                Carrier::Telnyx => telnyx::dial(&t, account, &r).await,
                Carrier::Plivo => plivo::dial(&t, account, &r).await,
                Carrier::Vonage => vonage::dial(&t, account, &r).await,
                Carrier::Exotel => exotel::dial(&t, account, &r).await,
            }
        })
    }
}

/// A failed HTTP exchange with a carrier, as text for logs and errors.
async fn carrier_reply(
    carrier: Carrier,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, String> {
    let res = sent.map_err(|e| format!("{} unreachable: {e}", carrier.label()))?;
    let code = res.status();
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !code.is_success() {
        let why = ["message", "error", "title", "detail"]
            .iter()
            .find_map(|k| body.get(k).and_then(Value::as_str).map(str::to_owned))
            .or_else(|| {
                body.pointer("/errors/0/detail")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(format!("{} answered {code}: {why}", carrier.label()));
    }
    Ok(body)
}

/// Call control for one call on a carrier other than Twilio: hang-up, and cold transfers
/// (warm transfers need Twilio's conferences; elsewhere they are made cold, and logged so).
struct CarrierControl {
    t: Telephony,
    carrier: Carrier,
    account: usize,
    call_sid: String,
    record: CallRecord,
    tools: Arc<CallTools>,
}

impl CallControl for CarrierControl {
    fn end(&self, reason: &str) -> BoxFuture<'static, ()> {
        let (t, carrier, account, sid, record, order) = (
            self.t.clone(),
            self.carrier,
            self.account,
            self.call_sid.clone(),
            self.record.clone(),
            self.tools.transfer_order(),
        );
        let reason = reason.to_owned();
        Box::pin(async move {
            let a = &t.0.accounts[account];
            let caller_id = record.phone_number.clone().unwrap_or_default();
            let done = match &order {
                None => match carrier {
                    Carrier::Telnyx => telnyx::hang_up(&t, a, &sid).await,
                    Carrier::Plivo => plivo::hang_up(&t, a, &sid).await,
                    Carrier::Vonage => vonage::hang_up(&t, a, &sid).await,
                    // the Voicebot applet ends with the stream; the flow's next applet hangs up
                    Carrier::Exotel | Carrier::Twilio => Ok(()),
                },
                Some(o) => {
                    if o.destination.warm {
                        warn!(call = %record.id, %carrier, "warm transfer needs Twilio's conferences: transferring cold");
                    }
                    let to = &o.destination.phone_number;
                    match carrier {
                        Carrier::Telnyx => telnyx::transfer(&t, a, &sid, to, &caller_id).await,
                        Carrier::Plivo => plivo::transfer(&t, a, &sid, to, &caller_id).await,
                        Carrier::Vonage => vonage::transfer(&t, a, &sid, to, &caller_id).await,
                        Carrier::Exotel => {
                            exotel::transfer(&t, &sid, to, &caller_id);
                            Ok(())
                        }
                        Carrier::Twilio => Ok(()),
                    }
                }
            };
            match (&done, &order) {
                (Ok(()), Some(o)) => {
                    info!(call = %record.id, destination = %o.destination.name, %carrier, "call transferred");
                    t.0.events.emit(&record.business_id, "call.transferred", json!({"callId": record.id, "destination": o.destination.name, "phoneNumber": o.destination.phone_number, "warm": false}));
                }
                (Ok(()), None) => {
                    info!(call = %record.id, %reason, %carrier, "hung up at the carrier")
                }
                (Err(e), _) => {
                    warn!(call = %record.id, error = %e, %carrier, "carrier call control failed; closing the stream instead")
                }
            }
        })
    }
}

impl vox_media::PlacedCalls for Telephony {
    fn open(
        &self,
        params: &BTreeMap<String, String>,
        carrier_call_id: &str,
    ) -> BoxFuture<'static, Result<vox_media::AgentSession, String>> {
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
            let record = store
                .call_by_id(&call_id)
                .await
                .map_err(internal)?
                .ok_or("unknown call")?;
            if record.agent_id.as_deref() != Some(agent_id.as_str()) {
                return Err("the token is for another agent".into());
            }
            let agent = store
                .agent(&record.business_id, &agent_id)
                .await
                .map_err(internal)?
                .ok_or("the agent was deleted")?;
            let mut spec = spec_from_record(&agent).map_err(internal)?;
            // once: a second stream with the same token finds the call already in progress
            if !store
                .call_started(&call_id, now_ms())
                .await
                .map_err(internal)?
            {
                return Err("this call was already connected or has ended".into());
            }
            if record.carrier_call_id.is_none() && !carrier_call_id.is_empty() {
                if let Err(e) = store.set_call_carrier_id(&call_id, &carrier_call_id).await {
                    // this call still has it; only carrier callbacks naming that id will not find the record
                    warn!(error = %e, call = %call_id, "recording the carrier's call id");
                }
            }
            let runtime = match t.runtime().await {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "the voice_agents runtime is unavailable");
                    let _ = store
                        .call_ended(&call_id, "FAILED", "runtime-unavailable", now_ms())
                        .await;
                    return Err(
                        "this server cannot run API agents (see its log: voice_agents)".into(),
                    );
                }
            };
            // the record names the number, the number the pool: its carrier's call control
            let account = record.phone_number.as_deref().and_then(|n| {
                t.0.accounts
                    .iter()
                    .position(|a| a.numbers.iter().any(|x| x == n))
            });
            let carrier_sid = record
                .carrier_call_id
                .clone()
                .or_else(|| Some(carrier_call_id.clone()).filter(|c| !c.is_empty()));
            let ctx = CallContext {
                call_id: call_id.clone(),
                business_id: record.business_id.clone(),
                agent_id: agent_id.clone(),
                customer_number: record.customer_number.clone(),
                phone_number: record.phone_number.clone(),
                can_transfer: account.is_some() && carrier_sid.is_some(),
                calendar_id: store
                    .calendar(&record.business_id)
                    .await
                    .map_err(internal)?
                    .map(|c| c.calendar_id),
            };
            let records = agent_tools(&agent, store).await.map_err(internal)?;
            let events = t.0.events.clone();
            let (biz, cid) = (record.business_id.clone(), call_id.clone());
            let on_tool: ToolEvents = Arc::new(move |name: &str, args: &Value, result: &str| {
                events.emit(
                    &biz,
                    "call.tool_called",
                    json!({"callId": cid, "tool": name, "arguments": args, "result": result}),
                );
            });
            let tools = Arc::new(CallTools::new(
                runtime.tools.clone(),
                ctx,
                ApiTool::from_records(&records),
                Some(on_tool),
            ));
            tools.warm();
            if let Some(slots) = tools.slots_prompt(now_ms()).await {
                spec.custom_instructions = Some(match spec.custom_instructions.take() {
                    Some(c) => format!("{c}\n\n{slots}"),
                    None => slots,
                });
            }
            spec.tools = tools.defs();
            let mut session =
                t.0.agents
                    .api_session(spec, runtime.services.clone(), runtime.without_llm);
            session.services.tools = Some(Arc::new(tools.clone()));
            if let (Some(i), Some(carrier_sid)) = (account, carrier_sid) {
                let a = &t.0.accounts[i];
                session.services.control = Some(match a.carrier {
                    Carrier::Twilio => Arc::new(twilio::TwilioControl {
                        t: t.clone(),
                        account_sid: a.account_sid.clone(),
                        auth_token: a.auth_token.clone(),
                        api_base: a.api_base.clone(),
                        call_sid: carrier_sid,
                        record: record.clone(),
                        tools: tools.clone(),
                    }),
                    carrier => Arc::new(CarrierControl {
                        t: t.clone(),
                        carrier,
                        account: i,
                        call_sid: carrier_sid,
                        record: record.clone(),
                        tools: tools.clone(),
                    }),
                });
            }
            session.services.recording =
                t.0.recordings_dir
                    .as_ref()
                    .map(|d| d.join(&record.business_id).join(format!("{call_id}.wav")));
            t.0.live.lock().expect("live calls").insert(call_id.clone());
            let collect: Vec<String> = agent.document["collectFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            session.services.observer = Some(RecordObserver::start(
                t.clone(),
                record.clone(),
                runtime.services.llm.clone(),
                collect,
                tools,
            ));
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
    for k in [
        "conversationFlow",
        "workflow",
        "customInstructions",
        "personality",
        "firstMessage",
        "voiceId",
        "collectFields",
    ] {
        if let Some(v) = doc.get(k).filter(|v| !v.is_null()) {
            spec[k] = v.clone();
        }
    }
    serde_json::from_value(spec).map_err(|e| {
        vox_store::StoreError::Corrupt(format!(
            "stored agent {} does not fit the engine: {e}",
            a.id
        ))
    })
}

/// The agent's tool instances, in `toolIds` order.
async fn agent_tools(
    a: &vox_store::AgentRecord,
    store: &Store,
) -> Result<Vec<vox_store::ToolRecord>, vox_store::StoreError> {
    let mut out = Vec::new();
    for id in a.document["toolIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
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
                    let (services, without_llm) =
                        agents.api_runtime().map_err(|e| format!("{e:#}"))?;
                    Ok::<_, String>((services, without_llm, agents.knowledge_embedder()))
                })
                .await
                .unwrap_or_else(|e| Err(format!("loading the voice_agents runtime: {e}")))?;
                let (services, without_llm, embedder) = loaded;
                let cfg = &t.0.tools_cfg;
                let calendar: CalendarFactory = match cfg.calendar {
                    crate::config::CalendarBackendKind::Builtin => {
                        let store = t.0.store.clone();
                        Arc::new(move |ctx: &CallContext| {
                            Arc::new(BuiltinCalendar::new(
                                store.clone(),
                                ctx.business_id.clone(),
                                Some(ctx.call_id.clone()),
                            )) as Arc<dyn CalendarBackend>
                        })
                    }
                    crate::config::CalendarBackendKind::Google => {
                        let token: Arc<str> = cfg
                            .resolved_google_token()
                            .map_err(|e| format!("{e:#}"))?
                            .into();
                        let (http, base) = (t.0.http.clone(), cfg.google_api_base.clone());
                        Arc::new(move |ctx: &CallContext| {
                            let calendar_id = ctx.calendar_id.as_deref().unwrap_or("primary");
                            Arc::new(GoogleCalendar::new(
                                http.clone(),
                                &base,
                                calendar_id,
                                token.clone(),
                            )) as Arc<dyn CalendarBackend>
                        })
                    }
                };
                let tools = ToolEnv {
                    http: vox_tools::HttpGuard {
                        allow_private: cfg.allow_private_networks,
                        max_response_bytes: cfg.max_response_bytes,
                    },
                    timeout: std::time::Duration::from_millis(cfg.timeout_ms),
                    knowledge: Arc::new(KnowledgeBases::new(t.0.store.clone(), embedder)),
                    calendar,
                };
                Ok(Runtime {
                    services,
                    without_llm,
                    tools,
                })
            })
            .await
            .clone()
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
    fn start(
        t: Telephony,
        record: CallRecord,
        llm: Option<Arc<dyn vox_providers::LlmProvider>>,
        collect: Vec<String>,
        tools: Arc<CallTools>,
    ) -> Arc<dyn CallObserver> {
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
                                    CallEnd::CarrierStop | CallEnd::TransportClosed => {
                                        "customer-ended-call"
                                    }
                                    CallEnd::AgentHangup(_) if tools.transfer_order().is_some() => {
                                        "assistant-transferred-call"
                                    }
                                    CallEnd::AgentHangup(_) => "assistant-ended-call",
                                    CallEnd::ServerShutdown => "server-shutdown",
                                };
                                let text = transcript_text(&s.transcript);
                                if let Err(e) = store
                                    .set_call_transcript(&call_id, &text, &messages(&s.transcript))
                                    .await
                                {
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
                        let recording_url = summary
                            .as_ref()
                            .and_then(|s| s.recording.as_ref())
                            .map(|_| {
                                format!(
                                    "{}/v1/businesses/{}/calls/{}/recording",
                                    t.0.public_url.clone().unwrap_or_default(),
                                    record.business_id,
                                    call_id
                                )
                            });
                        let (mut text_summary, mut data) = (None, None);
                        if let Some(llm) = &llm {
                            text_summary = artifacts::summarize(llm, &text).await;
                            data = artifacts::extract(llm, &text, &collect).await;
                        }
                        if let Err(e) = store
                            .set_call_artifacts(
                                &call_id,
                                recording_url.as_deref(),
                                text_summary.as_deref(),
                                data.as_ref(),
                            )
                            .await
                        {
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
            format!(
                "{who}: {}{}",
                e.text.trim(),
                if e.interrupted { " [interrupted]" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl CallObserver for RecordObserver {
    fn transcript(&self, all: &[TranscriptEntry]) {
        let _ = self
            .tx
            .send(Update::Transcript(transcript_text(all), messages(all)));
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
        assert_eq!(
            t.verify(&tok, "call_2", "agent_1", 2_000),
            Err("invalid call token")
        );
        assert_eq!(
            t.verify(&tok, "call_1", "agent_2", 2_000),
            Err("invalid call token")
        );
        assert_eq!(
            t.verify(&tok, "call_1", "agent_1", 1_000 + 300_001),
            Err("expired call token")
        );
        let (exp, sig) = tok.split_once('.').expect("dot");
        let later = format!("{}.{sig}", exp.parse::<i64>().expect("n") + 1_000_000);
        assert_eq!(
            t.verify(&later, "call_1", "agent_1", 2_000),
            Err("invalid call token"),
            "the expiry is signed"
        );
        assert_eq!(
            t.verify("garbage", "call_1", "agent_1", 2_000),
            Err("malformed call token")
        );
        assert_eq!(
            MediaTokens::new(300).verify(&tok, "call_1", "agent_1", 2_000),
            Err("invalid call token"),
            "another server's key"
        );
    }
}
