//! Fakes of Telnyx, Plivo, Vonage and Exotel, speaking their real wire protocols over
//! loopback, as [`FakeTwilio`](crate::FakeTwilio) does for Twilio: each one's REST call
//! creation (with its authentication), its call control (recorded per call), the signed
//! webhooks it sends, and the media leg of every answered call, played by `vox_sim` in the
//! carrier's dialect.
//!
//! - Telnyx: `POST /v2/calls` (Bearer API key) streams to the request's `stream_url`; an
//!   inbound [`FakeCarrier::ring`] posts a `call.initiated` webhook signed with Ed25519 and
//!   streams once Vox commands `actions/answer`; `call.hangup` is posted at the end.
//! - Plivo: `POST /v1/Account/{id}/Call/` (Basic auth) fetches the answer URL (V3-signed
//!   POST), streams to its `<Stream>`, then posts the hangup URL.
//! - Vonage: `POST /v1/calls` (RS256 JWT checked with the application's public key) connects
//!   the inline NCCO's WebSocket with its headers; inbound rings fetch the answer URL with a
//!   signed JWT; `completed` goes to the event URL.
//! - Exotel: `POST /v1/accounts/{sid}/calls/connect` (Basic auth) streams to `streamurl` and
//!   posts `statuscallback`; inbound rings ask `/exotel/voicebot` (Basic auth) for the URL.
//!
//! Each also serves its carrier's messaging API (`messages.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use vox_carriers::exotel::wire as exotel_voice;
use vox_carriers::plivo::wire as plivo_voice;
use vox_carriers::telnyx::wire as telnyx_voice;
use vox_carriers::vonage::wire as vonage_voice;
use vox_sim::SimDialect;

use crate::fake_twilio::play;

mod messages;
mod replays;
use crate::{CallerScript, FakeCall};
pub use replays::Replays;

/// Which carrier a [`FakeCarrier`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierKind {
    /// Telnyx Call Control.
    Telnyx,
    /// Plivo.
    Plivo,
    /// Vonage Voice API.
    Vonage,
    /// Exotel.
    Exotel,
}

impl CarrierKind {
    /// Its name in config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Telnyx => "telnyx",
            Self::Plivo => "plivo",
            Self::Vonage => "vonage",
            Self::Exotel => "exotel",
        }
    }

    fn dialect(self) -> SimDialect {
        match self {
            Self::Telnyx => SimDialect::Telnyx,
            Self::Plivo => SimDialect::Plivo,
            Self::Vonage => SimDialect::Vonage,
            Self::Exotel => SimDialect::Exotel,
        }
    }
}

struct Shared {
    kind: CarrierKind,
    /// Telnyx API key / Plivo auth id / Exotel API key.
    user: String,
    /// Plivo auth token / Exotel API token / Vonage signature secret.
    secret: String,
    /// Exotel account SID, Vonage application id.
    account: String,
    telnyx: telnyx_voice::Signer,
    telnyx_public: String,
    vonage_private_pem: String,
    vonage_public_der: Vec<u8>,
    script: CallerScript,
    calls: Mutex<Vec<FakeCall>>,
    /// Text messages sent through its messaging API: (from, to, text), as sent.
    messages: Mutex<Vec<(String, String, String)>>,
    /// Telnyx inbound rings waiting for Vox's `actions/answer`: call id -> Vox's base URL.
    ringing: Mutex<BTreeMap<String, String>>,
    http: reqwest::Client,
}

/// See the module docs.
pub struct FakeCarrier {
    /// Where its REST API listens (the pool's `api_base` is `http://{addr}`).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCarrier")
            .field("kind", &self.shared.kind)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeCarrier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl FakeCarrier {
    /// Starts on a free loopback port with fresh credentials.
    pub async fn start(kind: CarrierKind, script: CallerScript) -> Self {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let telnyx = telnyx_voice::Signer::from_seed(&seed);
        let (vonage_private_pem, vonage_public_der) = if kind == CarrierKind::Vonage {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
            let pkcs8 = pair.as_der().expect("pkcs8");
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
            );
            (pem, pair.public_key().as_ref().to_vec())
        } else {
            (String::new(), Vec::new())
        };
        let shared = Arc::new(Shared {
            kind,
            user: format!("{}-user-{}", kind.name(), &new_id()[..8]),
            secret: new_id(),
            account: format!("{}-account-{}", kind.name(), &new_id()[..8]),
            telnyx_public: telnyx.public_key(),
            telnyx,
            vonage_private_pem,
            vonage_public_der,
            script,
            calls: Mutex::new(Vec::new()),
            messages: Mutex::new(Vec::new()),
            ringing: Mutex::new(BTreeMap::new()),
            http: crate::http_client(),
        });
        let app = match kind {
            CarrierKind::Telnyx => Router::new()
                .route("/v2/calls", post(telnyx_create))
                .route("/v2/calls/{id}/actions/{action}", post(telnyx_action)),
            CarrierKind::Plivo => Router::new()
                .route("/v1/Account/{account}/Call/", post(plivo_create))
                .route(
                    "/v1/Account/{account}/Call/{uuid}/",
                    post(plivo_update).delete(plivo_update),
                ),
            CarrierKind::Vonage => Router::new()
                .route("/v1/calls", post(vonage_create))
                .route("/v1/calls/{uuid}", put(vonage_update)),
            CarrierKind::Exotel => {
                Router::new().route("/v1/accounts/{account}/calls/connect", post(exotel_create))
            }
        }
        .merge(messages::routes(kind))
        .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a fake carrier");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// The `[[telephony.pools]]` entry that points Vox at this fake with its credentials.
    pub fn pool_toml(&self, numbers: &[&str]) -> String {
        let s = &self.shared;
        let numbers = numbers
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let creds = match s.kind {
            CarrierKind::Telnyx => format!(
                "api_key = {:?}\npublic_key = {:?}\nconnection_id = \"conn-1\"",
                s.user, s.telnyx_public
            ),
            CarrierKind::Plivo => {
                format!("account_sid = {:?}\nauth_token = {:?}", s.user, s.secret)
            }
            CarrierKind::Vonage => format!(
                "application_id = {:?}\nprivate_key = {:?}\nsignature_secret = {:?}",
                s.account, s.vonage_private_pem, s.secret
            ),
            CarrierKind::Exotel => format!(
                "account_sid = {:?}\napi_key = {:?}\nauth_token = {:?}",
                s.account, s.user, s.secret
            ),
        };
        format!(
            "[[telephony.pools]]\ncarrier = {:?}\nnumbers = [{numbers}]\n{creds}\napi_base = \"http://{}\"\n",
            s.kind.name(),
            self.addr
        )
    }

    /// Calls so far.
    pub fn calls(&self) -> Vec<FakeCall> {
        lock(&self.shared.calls).clone()
    }

    /// The text messages sent through its messaging API: (from, to, text) as sent (Vonage's
    /// numbers without the `+`), in order.
    pub fn messages(&self) -> Vec<(String, String, String)> {
        lock(&self.shared.messages).clone()
    }

    /// Waits until `n` calls have finished (or `timeout` passes); the calls.
    pub async fn finished(&self, n: usize, timeout: std::time::Duration) -> Vec<FakeCall> {
        crate::fake_twilio::wait_finished(|| self.calls(), n, timeout).await
    }

    /// An unsigned (or wrongly authenticated) request to the carrier's set-up webhook on Vox:
    /// its HTTP status (Vox must refuse it).
    pub async fn forged_webhook(&self, vox_base: &str) -> u16 {
        let s = &self.shared;
        let r = match s.kind {
            CarrierKind::Telnyx => s
                .http
                .post(format!("{vox_base}/telnyx/webhook"))
                .header(telnyx_voice::SIGNATURE_HEADER, "AAAA")
                .header(telnyx_voice::TIMESTAMP_HEADER, now_secs().to_string())
                .body(r#"{"data":{"event_type":"call.initiated","payload":{}}}"#),
            CarrierKind::Plivo => s
                .http
                .post(format!("{vox_base}/plivo/answer"))
                .header("X-Plivo-Signature-V3-Nonce", "n")
                .header("X-Plivo-Signature-V3", "AAAA")
                .form(&[("CallUUID", "u"), ("To", "+15125550122")]),
            CarrierKind::Vonage => s
                .http
                .get(format!(
                    "{vox_base}/vonage/answer?to=15125550122&from=15552345678&uuid=u"
                ))
                .bearer_auth(vonage_voice::sign_webhook(
                    "not the secret",
                    b"",
                    now_secs(),
                )),
            CarrierKind::Exotel => s
                .http
                .get(format!(
                    "{vox_base}/exotel/voicebot?CallSid=c&CallTo=+15125550122"
                ))
                .basic_auth(&s.user, Some("wrong")),
        };
        r.send().await.map_or(0, |r| r.status().as_u16())
    }

    /// An inbound call from `from` to `to` (a Vox number): the carrier's set-up request to
    /// `vox_base`, then the media leg. The set-up's HTTP status, and the finished call.
    pub async fn ring(&self, vox_base: &str, from: &str, to: &str) -> (u16, FakeCall) {
        let s = self.shared.clone();
        let sid = format!("{}-{}", s.kind.name(), new_id());
        lock(&s.calls).push(FakeCall {
            sid: sid.clone(),
            to: to.into(),
            from: from.into(),
            ..Default::default()
        });
        let status = match s.kind {
            CarrierKind::Telnyx => {
                lock(&s.ringing).insert(sid.clone(), vox_base.to_owned());
                let body = json!({"data": {"event_type": "call.initiated", "id": new_id(), "payload": {"call_control_id": sid, "direction": "incoming", "from": from, "to": to, "state": "parked"}}});
                let status = telnyx_post(&s, &format!("{vox_base}/telnyx/webhook"), &body).await;
                // the media leg starts when Vox answers (or ends when it rejects)
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
                while !lock(&s.calls).iter().any(|c| c.sid == sid && c.finished)
                    && tokio::time::Instant::now() < deadline
                    && status == 200
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                status
            }
            CarrierKind::Plivo => {
                let params = vec![
                    ("CallUUID".to_owned(), sid.clone()),
                    ("From".to_owned(), from.trim_start_matches('+').to_owned()),
                    ("To".to_owned(), to.trim_start_matches('+').to_owned()),
                    ("Direction".to_owned(), "inbound".to_owned()),
                ];
                let (status, xml) =
                    plivo_post(&s, &format!("{vox_base}/plivo/answer"), &params).await;
                if status == 200 {
                    run_plivo_xml(&s, &sid, &xml).await;
                    let hang = vec![
                        ("CallUUID".to_owned(), sid.clone()),
                        ("CallStatus".to_owned(), "completed".to_owned()),
                        ("HangupCause".to_owned(), "NORMAL_CLEARING".to_owned()),
                    ];
                    let (st, _) = plivo_post(&s, &format!("{vox_base}/plivo/hangup"), &hang).await;
                    finish(&s, &sid, "completed", Some(st));
                } else {
                    finish(&s, &sid, "failed", None);
                }
                status
            }
            CarrierKind::Vonage => {
                let url = format!(
                    "{vox_base}/vonage/answer?{}",
                    serde_urlencoded::to_string([
                        ("to", vonage_voice::digits(to)),
                        ("from", vonage_voice::digits(from)),
                        ("uuid", sid.clone())
                    ])
                    .unwrap_or_default()
                );
                let res = s
                    .http
                    .get(&url)
                    .bearer_auth(vonage_voice::sign_webhook(&s.secret, b"", now_secs()))
                    .send()
                    .await;
                let (status, ncco) = match res {
                    Ok(r) => (
                        r.status().as_u16(),
                        r.json::<Value>().await.unwrap_or(Value::Null),
                    ),
                    Err(_) => (0, Value::Null),
                };
                if status == 200 {
                    run_ncco(&s, &sid, &ncco).await;
                    let st =
                        vonage_event(&s, &format!("{vox_base}/vonage/event"), &sid, "completed")
                            .await;
                    finish(&s, &sid, "completed", Some(st));
                } else {
                    finish(&s, &sid, "failed", None);
                }
                status
            }
            CarrierKind::Exotel => {
                let url = format!(
                    "{vox_base}/exotel/voicebot?{}",
                    serde_urlencoded::to_string([
                        ("CallSid", sid.as_str()),
                        ("CallFrom", from),
                        ("CallTo", to),
                        ("Direction", "incoming")
                    ])
                    .unwrap_or_default()
                );
                let res = s
                    .http
                    .get(&url)
                    .basic_auth(&s.user, Some(&s.secret))
                    .send()
                    .await;
                let (status, body) = match res {
                    Ok(r) => (
                        r.status().as_u16(),
                        r.json::<Value>().await.unwrap_or(Value::Null),
                    ),
                    Err(_) => (0, Value::Null),
                };
                match body["url"].as_str().filter(|_| status == 200) {
                    Some(ws) => {
                        let ws = ws.to_owned();
                        update(&s, &sid, |c| c.twiml = body.to_string());
                        stream(&s, &sid, &ws, BTreeMap::new()).await;
                        finish(&s, &sid, "completed", None);
                    }
                    None => finish(&s, &sid, "failed", None),
                }
                status
            }
        };
        let call = self
            .calls()
            .into_iter()
            .find(|c| c.sid == sid)
            .unwrap_or_default();
        (status, call)
    }
}

fn update(s: &Shared, sid: &str, f: impl FnOnce(&mut FakeCall)) {
    if let Some(c) = lock(&s.calls).iter_mut().find(|c| c.sid == sid) {
        f(c);
    }
}

fn finish(s: &Shared, sid: &str, status: &str, callback: Option<u16>) {
    update(s, sid, |c| {
        c.final_status = Some(status.to_owned());
        c.status_callback = callback;
        c.finished = true;
    });
}

/// Plays the caller script on `ws_url` in the carrier's dialect.
async fn stream(s: &Shared, sid: &str, ws_url: &str, params: BTreeMap<String, String>) {
    update(s, sid, |c| {
        c.stream = Some((ws_url.to_owned(), params.clone()))
    });
    let report = play(sid, ws_url, &params, &s.script, s.kind.dialect()).await;
    update(s, sid, |c| c.report = Some(report));
}

fn carrier_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"errors": [{"title": message, "detail": message}], "error": message, "message": message}))).into_response()
}

fn record_update(s: &Shared, sid: &str, entry: BTreeMap<String, String>) -> bool {
    let mut calls = lock(&s.calls);
    match calls.iter_mut().find(|c| c.sid == sid) {
        Some(c) => {
            c.updates.push(entry);
            true
        }
        None => false,
    }
}

// --- Telnyx ---

fn telnyx_authorized(s: &Shared, h: &HeaderMap) -> bool {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        == Some(format!("Bearer {}", s.user).as_str())
}

async fn telnyx_post(s: &Shared, url: &str, body: &Value) -> u16 {
    let text = body.to_string();
    let ts = now_secs().to_string();
    let sig = s.telnyx.sign(&ts, text.as_bytes());
    match s
        .http
        .post(url)
        .header(telnyx_voice::SIGNATURE_HEADER, sig)
        .header(telnyx_voice::TIMESTAMP_HEADER, ts)
        .header(header::CONTENT_TYPE, "application/json")
        .body(text)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

async fn telnyx_create(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !telnyx_authorized(&s, &headers) {
        return carrier_error(StatusCode::UNAUTHORIZED, "Authentication failed");
    }
    let (Some(to), Some(from), Some(url)) = (
        body["to"].as_str(),
        body["from"].as_str(),
        body["stream_url"].as_str(),
    ) else {
        return carrier_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "to, from and stream_url are required",
        );
    };
    if body["connection_id"].as_str().is_none_or(str::is_empty)
        || body["stream_bidirectional_mode"] != "rtp"
    {
        return carrier_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "connection_id and stream_bidirectional_mode rtp are required",
        );
    }
    let sid = format!("v3:{}", new_id());
    lock(&s.calls).push(FakeCall {
        sid: sid.clone(),
        to: to.into(),
        from: from.into(),
        twiml: body.to_string(),
        ..Default::default()
    });
    let (s2, sid2, url, hook, state) = (
        s.clone(),
        sid.clone(),
        url.to_owned(),
        body["webhook_url"].as_str().map(str::to_owned),
        body["client_state"].as_str().map(str::to_owned),
    );
    tokio::spawn(async move {
        stream(&s2, &sid2, &url, BTreeMap::new()).await;
        let st = match hook {
            Some(h) => Some(telnyx_post(&s2, &h, &json!({"data": {"event_type": "call.hangup", "payload": {"call_control_id": sid2, "client_state": state, "hangup_cause": "normal_clearing"}}})).await),
            None => None,
        };
        finish(&s2, &sid2, "completed", st);
    });
    Json(json!({"data": {"call_control_id": sid, "call_leg_id": new_id(), "call_session_id": new_id(), "is_alive": false, "record_type": "call"}})).into_response()
}

async fn telnyx_action(
    State(s): State<Arc<Shared>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !telnyx_authorized(&s, &headers) {
        return carrier_error(StatusCode::UNAUTHORIZED, "Authentication failed");
    }
    let mut entry = BTreeMap::from([("action".to_owned(), action.clone())]);
    if let Some(m) = body.as_object() {
        for (k, v) in m {
            entry.insert(
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            );
        }
    }
    if !record_update(&s, &id, entry) {
        return carrier_error(StatusCode::NOT_FOUND, "Call not found");
    }
    let ringing = lock(&s.ringing).remove(&id);
    match (action.as_str(), ringing) {
        ("answer", Some(vox)) => {
            let Some(url) = body["stream_url"].as_str().map(str::to_owned) else {
                return carrier_error(StatusCode::UNPROCESSABLE_ENTITY, "stream_url is required");
            };
            let state = body["client_state"].as_str().map(str::to_owned);
            let s2 = s.clone();
            tokio::spawn(async move {
                stream(&s2, &id, &url, BTreeMap::new()).await;
                let st = telnyx_post(&s2, &format!("{vox}/telnyx/webhook"), &json!({"data": {"event_type": "call.hangup", "payload": {"call_control_id": id, "client_state": state, "hangup_cause": "normal_clearing"}}})).await;
                finish(&s2, &id, "completed", Some(st));
            });
        }
        ("reject", Some(_)) => finish(&s, &id, "rejected", None),
        _ => {}
    }
    Json(json!({"data": {"result": "ok"}})).into_response()
}

// --- Plivo ---

fn basic_ok(h: &HeaderMap, user: &str, password: &str) -> bool {
    exotel_voice::basic_auth_ok(
        h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()),
        user,
        password,
    )
}

async fn plivo_post(s: &Shared, url: &str, params: &[(String, String)]) -> (u16, String) {
    let nonce = new_id();
    let sig = plivo_voice::signature(&s.secret, "POST", url, params, &nonce);
    match s
        .http
        .post(url)
        .header("X-Plivo-Signature-V3-Nonce", nonce)
        .header("X-Plivo-Signature-V3", sig)
        .form(params)
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// The `<Stream>` of a Plivo XML document: its URL and `extraHeaders`.
fn plivo_stream(xml: &str) -> Option<(String, BTreeMap<String, String>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut headers = BTreeMap::new();
    let mut url: Option<String> = None;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == "Stream" => {
                let extra = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "extraHeaders")
                    .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                    .map(|v| v.into_owned())
                    .unwrap_or_default();
                headers = extra
                    .split(',')
                    .filter_map(|p| p.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                url = Some(String::new());
            }
            // the URL's text comes in pieces around entity references (`&amp;`)
            Event::Text(t) if url.is_some() => url.as_mut()?.push_str(t.as_ref()),
            Event::GeneralRef(r) if url.is_some() => {
                url.as_mut()?.push(match r.into_inner().as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    _ => '\'',
                })
            }
            Event::End(e) if e.local_name().as_ref() == "Stream" => {
                return url.map(|u| (u.trim().to_owned(), headers));
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

async fn run_plivo_xml(s: &Shared, sid: &str, xml: &str) {
    update(s, sid, |c| c.twiml = xml.to_owned());
    if let Some((url, headers)) = plivo_stream(xml) {
        stream(s, sid, &url, headers).await;
    }
}

async fn plivo_create(
    State(s): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if account != s.user || !basic_ok(&headers, &s.user, &s.secret) {
        return carrier_error(StatusCode::UNAUTHORIZED, "Authentication failed");
    }
    let (Some(to), Some(from), Some(answer)) = (
        body["to"].as_str(),
        body["from"].as_str(),
        body["answer_url"].as_str(),
    ) else {
        return carrier_error(
            StatusCode::BAD_REQUEST,
            "from, to and answer_url are required",
        );
    };
    let request_uuid = new_id();
    let sid = new_id();
    lock(&s.calls).push(FakeCall {
        sid: sid.clone(),
        to: format!("+{to}"),
        from: format!("+{from}"),
        ..Default::default()
    });
    let (s2, answer, hangup) = (
        s.clone(),
        answer.to_owned(),
        body["hangup_url"].as_str().map(str::to_owned),
    );
    tokio::spawn(async move {
        let params = vec![
            ("CallUUID".to_owned(), sid.clone()),
            ("Direction".to_owned(), "outbound".to_owned()),
            ("CallStatus".to_owned(), "in-progress".to_owned()),
        ];
        let (status, xml) = plivo_post(&s2, &answer, &params).await;
        if status == 200 {
            run_plivo_xml(&s2, &sid, &xml).await;
        }
        let st = match hangup {
            Some(h) => Some(
                plivo_post(
                    &s2,
                    &h,
                    &[
                        ("CallUUID".to_owned(), sid.clone()),
                        ("CallStatus".to_owned(), "completed".to_owned()),
                        ("HangupCause".to_owned(), "NORMAL_CLEARING".to_owned()),
                    ],
                )
                .await
                .0,
            ),
            None => None,
        };
        finish(&s2, &sid, "completed", st);
    });
    (
        StatusCode::CREATED,
        Json(json!({"api_id": new_id(), "message": "call fired", "request_uuid": request_uuid})),
    )
        .into_response()
}

async fn plivo_update(
    State(s): State<Arc<Shared>>,
    Path((account, uuid)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if account != s.user || !basic_ok(&headers, &s.user, &s.secret) {
        return carrier_error(StatusCode::UNAUTHORIZED, "Authentication failed");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut entry = BTreeMap::from([("method".to_owned(), method.to_string())]);
    for (k, v) in body.as_object().into_iter().flatten() {
        entry.insert(
            k.clone(),
            v.as_str().map_or_else(|| v.to_string(), str::to_owned),
        );
    }
    let aleg = entry.get("aleg_url").cloned();
    if !record_update(&s, &uuid, entry) {
        return carrier_error(StatusCode::NOT_FOUND, "call not found");
    }
    if let Some(url) = aleg {
        // Plivo fetches the transferred leg's new XML
        let (status, xml) = plivo_post(&s, &url, &[("CallUUID".to_owned(), uuid.clone())]).await;
        update(&s, &uuid, |c| c.hold.push((url, status, xml)));
    }
    if method == Method::DELETE {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::ACCEPTED,
            Json(json!({"message": "call transferred"})),
        )
            .into_response()
    }
}

// --- Vonage ---

async fn vonage_event(s: &Shared, url: &str, uuid: &str, status: &str) -> u16 {
    let body = json!({"status": status, "uuid": uuid, "conversation_uuid": format!("CON-{uuid}"), "timestamp": "2026-01-01T00:00:00.000Z"}).to_string();
    let token = vonage_voice::sign_webhook(&s.secret, body.as_bytes(), now_secs());
    match s
        .http
        .post(url)
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Runs an NCCO's `connect` to a WebSocket: its headers are the stream's first message.
async fn run_ncco(s: &Shared, sid: &str, ncco: &Value) {
    update(s, sid, |c| c.twiml = ncco.to_string());
    let Some(ep) = ncco
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["action"] == "connect")
        .find_map(|a| {
            a["endpoint"]
                .as_array()
                .and_then(|e| e.iter().find(|e| e["type"] == "websocket"))
                .cloned()
        })
    else {
        return;
    };
    let Some(uri) = ep["uri"].as_str() else {
        return;
    };
    let headers: BTreeMap<String, String> = ep["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect();
    stream(s, sid, uri, headers).await;
}

async fn vonage_create(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match vonage_voice::verify_api_token(&s.vonage_public_der, auth, now_secs()) {
        Ok(claims) if claims["application_id"] == s.account.as_str() => {}
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"title": "Unauthorized", "detail": "invalid token"})),
            )
                .into_response();
        }
    }
    let (Some(to), Some(from)) = (
        body.pointer("/to/0/number").and_then(Value::as_str),
        body.pointer("/from/number").and_then(Value::as_str),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"title": "Bad Request", "detail": "to and from are required"})),
        )
            .into_response();
    };
    let uuid = new_id();
    lock(&s.calls).push(FakeCall {
        sid: uuid.clone(),
        to: format!("+{to}"),
        from: format!("+{from}"),
        ..Default::default()
    });
    let (s2, sid, ncco, event) = (
        s.clone(),
        uuid.clone(),
        body["ncco"].clone(),
        body.pointer("/event_url/0")
            .and_then(Value::as_str)
            .map(str::to_owned),
    );
    tokio::spawn(async move {
        run_ncco(&s2, &sid, &ncco).await;
        let st = match event {
            Some(e) => Some(vonage_event(&s2, &e, &sid, "completed").await),
            None => None,
        };
        finish(&s2, &sid, "completed", st);
    });
    (StatusCode::CREATED, Json(json!({"uuid": uuid, "status": "started", "direction": "outbound", "conversation_uuid": format!("CON-{}", new_id())}))).into_response()
}

async fn vonage_update(
    State(s): State<Arc<Shared>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if vonage_voice::verify_api_token(&s.vonage_public_der, auth, now_secs()).is_err() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"title": "Unauthorized"})),
        )
            .into_response();
    }
    let entry = BTreeMap::from([
        (
            "action".to_owned(),
            body["action"].as_str().unwrap_or_default().to_owned(),
        ),
        ("body".to_owned(), body.to_string()),
    ]);
    if !record_update(&s, &uuid, entry) {
        return (StatusCode::NOT_FOUND, Json(json!({"title": "Not Found"}))).into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

// --- Exotel ---

async fn exotel_create(
    State(s): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if account != s.account || !basic_ok(&headers, &s.user, &s.secret) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"RestException": {"Status": 401, "Message": "Authentication failed"}})),
        )
            .into_response();
    }
    let form: BTreeMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let (Some(to), Some(from), Some(url)) = (
        form.get("from"),
        form.get("callerid"),
        form.get("streamurl"),
    ) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"RestException": {"Status": 400, "Message": "from, callerid and streamurl are required"}}))).into_response();
    };
    if form.get("streamtype").map(String::as_str) != Some("bidirectional") {
        return (StatusCode::BAD_REQUEST, Json(json!({"RestException": {"Status": 400, "Message": "streamtype must be bidirectional"}}))).into_response();
    }
    let sid = new_id();
    lock(&s.calls).push(FakeCall {
        sid: sid.clone(),
        to: to.clone(),
        from: from.clone(),
        twiml: serde_json::to_string(&form).unwrap_or_default(),
        ..Default::default()
    });
    let (s2, sid2, url, callback) = (
        s.clone(),
        sid.clone(),
        url.clone(),
        form.get("statuscallback").cloned(),
    );
    tokio::spawn(async move {
        stream(&s2, &sid2, &url, BTreeMap::new()).await;
        let st = match callback {
            // Exotel calls the callback URL as given: credentials in it become Basic auth
            Some(cb) => s2
                .http
                .post(&cb)
                .form(&[("CallSid", sid2.as_str()), ("Status", "completed")])
                .send()
                .await
                .ok()
                .map(|r| r.status().as_u16()),
            None => None,
        };
        finish(&s2, &sid2, "completed", st);
    });
    Json(json!({"Call": {"Sid": sid, "Status": "in-progress", "To": to, "From": from}}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_plivo_stream_and_its_headers() {
        let xml = plivo_voice::stream(
            "ws://127.0.0.1:9/media/plivo?callId=c&token=1.a",
            &[("callId", "c"), ("token", "1.a")],
        );
        let (url, h) = plivo_stream(&xml).expect("stream");
        assert_eq!(url, "ws://127.0.0.1:9/media/plivo?callId=c&token=1.a");
        assert_eq!(h.get("token").map(String::as_str), Some("1.a"));
        assert!(plivo_stream(&plivo_voice::speak_and_hang_up("closed")).is_none());
    }
}
