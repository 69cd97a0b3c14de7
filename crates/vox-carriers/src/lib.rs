//! The phone carriers, each in one module: everything Vox does with Twilio is in [`twilio`],
//! with Telnyx in [`telnyx`], and so on ([`plivo`], [`vonage`], [`exotel`]). A carrier's
//! module holds its pool's configuration, its signed set-up and status webhooks (their
//! sans-IO half, signatures and documents, in its `wire` submodule), the answer that
//! connects a call to our media endpoint, its outbound dialer and its call control (hang-up,
//! transfer), the last three behind one [`Carrier`](pool::Carrier) trait.
//!
//! Common to all (here):
//! - [`Carriers`] as `vox_api::Dialer`: the pool holding the `from` number decides the
//!   carrier; the call is connected to `/media/{dialect}` with `agentId`, `callId` and a
//!   short-lived `token` as stream parameters ([`tokens`]).
//! - Inbound set-up ([`answer`]): the called number's agent, a call record, and either a
//!   stream to connect or an apology (no agent, off duty). A carrier's end-of-call callback
//!   ends the record only of a call whose stream never connected (busy, no answer); a live
//!   stream records its own ending.
//! - [`Carriers`] as `vox_media::PlacedCalls`: a stream carrying a `callId` is let in only
//!   with a valid token for that call and agent; the call then runs on
//!   [`vox_agents::StoredAgents`], with this crate's call control ([`control`]).
//!
//! Deliberately absent: the media dialects (vox-telephony: sans-IO, fuzzed, one parser for
//! the JSON dialects) and the media WebSocket itself (vox-media).

pub mod answer;
mod control;
pub mod exotel;
pub mod plivo;
pub mod pool;
mod reply;
pub mod telnyx;
mod tokens;
pub mod twilio;
pub mod vonage;
mod xml;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, header};
use futures::future::BoxFuture;
use vox_agents::StoredAgents;
use vox_call::{AgentCatalog, AgentSession, OpenCallError};
use vox_store::{Store, now_ms};
use vox_telephony::Dialect;

pub use crate::pool::PoolConfig;
use crate::pool::{Account, Resolve};
pub use crate::reply::CarrierError;
use crate::tokens::MediaTokens;

/// `[telephony]`, as written in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelephonySettings {
    /// The carrier accounts, each tagged by `carrier` with that carrier's own fields.
    pub pools: Vec<PoolConfig>,
    /// The base URL carriers reach this server at (`https://vox.example.com`); empty: each
    /// webhook's own Host header, and the server's own address for outbound calls.
    pub public_url: String,
    /// Lifetime of the token a call's stream parameters carry.
    pub media_token_ttl_secs: u64,
    /// Pool numbers answered by a file agent (number -> agent id) rather than handed out to
    /// API agents: their calls get the same signed stream as API agents' calls.
    pub file_agents: BTreeMap<String, String>,
}

impl TelephonySettings {
    /// (carrier, number) of every pool.
    pub fn numbers(&self) -> Vec<(String, String)> {
        self.pools
            .iter()
            .flat_map(|p| {
                p.numbers()
                    .iter()
                    .map(|n| (p.dialect().name().to_owned(), n.clone()))
            })
            .collect()
    }

    /// The pool numbers deploying an API agent may hand out: all but the file agents'.
    pub fn api_numbers(&self) -> Vec<(String, String)> {
        let mut numbers = self.numbers();
        numbers.retain(|(_, n)| !self.file_agents.contains_key(n));
        numbers
    }

    /// What is wrong with `file_agents`, given the file agents there are.
    pub fn check_file_agents(&self, agents: &[String]) -> Result<(), String> {
        let numbers = self.numbers();
        for (number, agent) in &self.file_agents {
            if !numbers.iter().any(|(_, n)| n == number) {
                return Err(format!(
                    "telephony.file_agents: {number:?} is not a number of any telephony.pools entry"
                ));
            }
            if !agents.contains(agent) {
                return Err(format!(
                    "telephony.file_agents: {number:?} names {agent:?}, which is not an agent here (have: {})",
                    agents.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The public URL without a trailing slash (empty: none).
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

/// A pool that cannot be used: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("telephony.pools[{index}] ({carrier}): {problem}")]
pub struct PoolError {
    /// Its index in `telephony.pools`.
    pub index: usize,
    /// Its carrier.
    pub carrier: Dialect,
    /// What is wrong.
    pub problem: String,
}

/// See the crate docs. Cheap to clone.
#[derive(Clone)]
pub struct Carriers(Arc<Inner>);

struct Inner {
    store: Store,
    stored: StoredAgents,
    /// The file agents, and the numbers they answer.
    files: Arc<dyn AgentCatalog>,
    file_numbers: BTreeMap<String, String>,
    tokens: MediaTokens,
    accounts: Vec<Account>,
    public_url: Option<String>,
    local_url: String,
    http: reqwest::Client,
    /// Background work (Telnyx's answers follow its webhook).
    tasks: vox_call::Tasks,
    /// Exotel: transfers waiting for the flow's Connect applet to ask where to dial.
    exotel_transfers: exotel::PendingTransfers,
    /// Vonage: webhook tokens already used.
    vonage_tokens: vonage::SeenTokens,
    /// Held while an inbound set-up looks for its carrier call id and creates the record, so
    /// a webhook and its concurrent replay cannot both create one. Per process: many nodes
    /// need the database to decide (see ARCHITECTURE.md, invariants).
    setup_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Carriers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carriers")
            .field("accounts", &self.0.accounts.len())
            .field("public_url", &self.0.public_url)
            .finish_non_exhaustive()
    }
}

impl Carriers {
    /// The accounts of `cfg.pools`, their secrets resolved by `resolve`; `local_url` is where
    /// this server listens (an http URL); stored agents' calls run on `stored`, file agents'
    /// on `files`, background work in `tasks`.
    pub fn new(
        cfg: &TelephonySettings,
        local_url: &str,
        resolve: Resolve<'_>,
        store: Store,
        stored: StoredAgents,
        files: Arc<dyn AgentCatalog>,
        tasks: vox_call::Tasks,
    ) -> Result<Self, PoolError> {
        let accounts = cfg
            .pools
            .iter()
            .enumerate()
            .map(|(index, pool)| {
                pool.account(resolve).map_err(|problem| PoolError {
                    index,
                    carrier: pool.dialect(),
                    problem,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Ok(Self(Arc::new(Inner {
            store,
            stored,
            files,
            file_numbers: cfg.file_agents.clone(),
            tokens: MediaTokens::new(cfg.media_token_ttl_secs),
            accounts,
            public_url: Some(cfg.public_base().to_owned()).filter(|u| !u.is_empty()),
            local_url: local_url.to_owned(),
            http,
            tasks,
            exotel_transfers: exotel::PendingTransfers::default(),
            vonage_tokens: vonage::SeenTokens::default(),
            setup_lock: tokio::sync::Mutex::new(()),
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

    /// The account holding `number`.
    fn account_for_number(&self, number: &str) -> Option<&Account> {
        self.0
            .accounts
            .iter()
            .find(|a| a.carrier().numbers().iter().any(|n| n == number))
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

    /// The full URL a webhook was sent to, as its signature covers it.
    fn request_url(&self, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
        format!(
            "{}{}",
            self.base_url(Some(headers)),
            uri.path_and_query().map_or("", |p| p.as_str())
        )
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
        let ws = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", base.trim_start_matches("http://")),
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
}

/// Describes the carriers' metrics, for the Prometheus exporter's `# HELP`.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "vox_webhook_rejected_total",
        "Carrier webhooks refused for a missing or wrong signature or credentials, by carrier."
    );
    metrics::describe_counter!(
        "vox_webhook_replayed_total",
        "Set-up webhooks about a call already answered (replays), answered without effect, by carrier."
    );
}

impl vox_api::Dialer for Carriers {
    fn dial(
        &self,
        r: vox_api::DialRequest,
    ) -> BoxFuture<'static, Result<String, vox_api::DialError>> {
        let c = self.clone();
        Box::pin(async move {
            let account = c
                .account_for_number(&r.from)
                .ok_or_else(|| vox_api::DialError::NoPool(r.from.clone()))?;
            account
                .carrier()
                .dial(&c, &r)
                .await
                .map_err(|e| vox_api::DialError::Carrier(Box::new(e)))
        })
    }
}

impl vox_api::WebCallTokens for Carriers {
    fn grant(&self, call_id: &str, agent_id: &str) -> vox_api::WebCallGrant {
        let now = now_ms();
        let base = self.base_url(None);
        vox_api::WebCallGrant {
            whip_url: format!(
                "{}/whip/{agent_id}?callId={call_id}",
                base.trim_end_matches('/')
            ),
            token: self.0.tokens.mint(call_id, agent_id, now),
            expires_at: now.saturating_add(self.0.tokens.ttl_ms()),
        }
    }
}

/// The prefix of the call ids of file agents' calls (they have no record).
const FILE_CALL: &str = "vox-file-";

impl Carriers {
    /// A file agent's call, its token verified: a session, once per call (the store
    /// remembers, so a restart does not reopen it).
    async fn open_file_call(
        &self,
        call_id: &str,
        agent_id: &str,
    ) -> Result<AgentSession, OpenCallError> {
        match self.0.store.file_call_connected(call_id, now_ms()).await {
            Ok(true) => {}
            Ok(false) => return Err(OpenCallError::AlreadyConnected),
            Err(e) => {
                tracing::warn!(error = %e, call = %call_id, "opening a file agent's call");
                return Err(OpenCallError::Internal);
            }
        }
        self.0
            .files
            .create(agent_id)
            .ok_or(OpenCallError::AgentDeleted)
    }
}

impl vox_media::PlacedCalls for Carriers {
    fn open(
        &self,
        params: &BTreeMap<String, String>,
        carrier_call_id: &str,
    ) -> BoxFuture<'static, Result<AgentSession, OpenCallError>> {
        let c = self.clone();
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        let (call_id, agent_id, token) = (get("callId"), get("agentId"), get("token"));
        let carrier_call_id = carrier_call_id.to_owned();
        Box::pin(async move {
            c.0.tokens.verify(&token, &call_id, &agent_id, now_ms())?;
            if call_id.starts_with(FILE_CALL) {
                return c.open_file_call(&call_id, &agent_id).await;
            }
            c.0.stored
                .open(&call_id, &agent_id, &carrier_call_id, &c)
                .await
        })
    }
}
