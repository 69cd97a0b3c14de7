//! A fake Twilio speaking the real wire protocol over loopback:
//!
//! - REST: `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` with HTTP Basic auth (Account
//!   SID + auth token) and Twilio's form parameters (`To`, `From`, `Twiml` or `Url`,
//!   `StatusCallback`); answers 201 with the call resource, or Twilio's error JSON.
//! - Then, as Twilio does once the callee answers: runs the TwiML (inline, or fetched from
//!   `Url` with a signed POST), opens its `<Connect><Stream>` media stream with the
//!   `<Parameter>`s, plays the caller script there (through `vox_sim`, which speaks Media
//!   Streams), and finally POSTs the signed `completed` status callback.
//! - REST call control: `POST .../Calls/{CallSid}.json` with `Twiml` (redirect the live call:
//!   a transfer) or `Status=completed` (hang up); each update is recorded on the call.
//!   A `<Conference waitUrl>` in such TwiML is followed as Twilio does: a signed GET of the
//!   wait URL, whose answer is recorded on the call (the on-hold audio).
//! - Numbers marked [`FakeTwilio::unanswered`] do not pick up: their calls run no TwiML and
//!   report `no-answer` to the status callback after a short ring; a number marked
//!   [`FakeTwilio::busy_once`] reports `busy` once, then answers.
//! - [`FakeTwilio::ring`]: an inbound call: the signed voice webhook to a Vox number, then the
//!   same stream handling.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// One turn of a fake caller: speech, or keys pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerTurn {
    /// Says what is in the WAV file.
    Say(PathBuf),
    /// Presses the keys (`0-9`, `*`, `#`, `A-D`), as the carrier's DTMF events.
    Press(String),
}

impl From<PathBuf> for CallerTurn {
    fn from(wav: PathBuf) -> Self {
        Self::Say(wav)
    }
}

/// What the fake's callers say.
#[derive(Debug, Clone, Default)]
pub struct CallerScript {
    /// The caller's turns, in order; each waits for the agent's reply to the one before.
    pub turns: Vec<CallerTurn>,
    /// Wait for the agent's greeting before the first turn.
    pub greeting: bool,
    /// Where to write each call's stereo recording (left caller, right agent).
    pub record_dir: Option<PathBuf>,
}

/// A call the fake placed or rang.
#[derive(Debug, Clone, Default)]
pub struct FakeCall {
    /// Its CallSid.
    pub sid: String,
    /// `To` / `From`.
    pub to: String,
    /// Caller number.
    pub from: String,
    /// The TwiML that ran.
    pub twiml: String,
    /// The stream URL and parameters found in it.
    pub stream: Option<(String, BTreeMap<String, String>)>,
    /// The `vox sim` report of the media leg (`{"calls": [...], "summary": {...}}`).
    pub report: Option<Value>,
    /// The status callback's HTTP status, once posted.
    pub status_callback: Option<u16>,
    /// Set when the whole call is over.
    pub finished: bool,
    /// Call-control updates received for it (`Twiml`, `Status`, ...), in order.
    pub updates: Vec<BTreeMap<String, String>>,
    /// Each conference wait URL fetched for it: (URL, HTTP status, body).
    pub hold: Vec<(String, u16, String)>,
    /// The status reported to its status callback (`completed`, `no-answer`).
    pub final_status: Option<String>,
}

impl CallerScript {
    /// A caller who waits for the greeting, then says each WAV in turn.
    pub fn saying(wavs: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            turns: wavs.into_iter().map(CallerTurn::Say).collect(),
            greeting: true,
            record_dir: None,
        }
    }
}

struct Shared {
    account_sid: String,
    auth_token: String,
    script: Mutex<CallerScript>,
    /// Scripts of particular numbers (the callee of an outbound call, the caller of an inbound
    /// one), instead of `script`.
    scripts: Mutex<BTreeMap<String, CallerScript>>,
    calls: Mutex<Vec<FakeCall>>,
    unanswered: Mutex<Vec<String>>,
    /// Numbers whose next call is busy (once each).
    busy_once: Mutex<Vec<String>>,
    /// Text messages sent through the Messages API: (from, to, body).
    messages: Mutex<Vec<(String, String, String)>>,
    http: reqwest::Client,
}

/// See the module docs.
pub struct FakeTwilio {
    /// Where it listens (use `http://{addr}` as a pool's `api_base`).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeTwilio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTwilio")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16()}))).into_response()
}

impl FakeTwilio {
    /// Starts on a free loopback port with an account of its own.
    pub async fn start(script: CallerScript) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let (sid, token) = (
            format!("AC{}", uuid::Uuid::new_v4().simple()),
            format!("{}", uuid::Uuid::new_v4().simple()),
        );
        Self::start_on(addr, &sid, &token, script)
            .await
            .expect("bind fake twilio")
    }

    /// Starts on `addr` with the given account (the `vox-fake twilio` command).
    pub async fn start_on(
        addr: SocketAddr,
        account_sid: &str,
        auth_token: &str,
        script: CallerScript,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            script: Mutex::new(script),
            scripts: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            unanswered: Mutex::new(Vec::new()),
            busy_once: Mutex::new(Vec::new()),
            messages: Mutex::new(Vec::new()),
            http: crate::http_client(),
        });
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}",
                post(update_call),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(create_message),
            )
            .route("/fake/ring", post(ring_route))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// The text messages sent through it: (from, to, body), in order.
    pub fn messages(&self) -> Vec<(String, String, String)> {
        lock(&self.shared.messages).clone()
    }

    /// The account SID.
    pub fn account_sid(&self) -> &str {
        &self.shared.account_sid
    }

    /// The auth token.
    pub fn auth_token(&self) -> &str {
        &self.shared.auth_token
    }

    /// The REST base URL.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls placed to `number` from now on are not answered.
    pub fn unanswered(&self, number: &str) {
        lock(&self.shared.unanswered).push(number.to_owned());
    }

    /// The next call placed to `number` is busy; the ones after it are answered.
    pub fn busy_once(&self, number: &str) {
        lock(&self.shared.busy_once).push(number.to_owned());
    }

    /// Calls to (or, rung inbound, from) `number` follow `script` instead of the fake's own.
    pub fn script_for(&self, number: &str, script: CallerScript) {
        lock(&self.shared.scripts).insert(number.to_owned(), script);
    }

    /// Calls so far.
    pub fn calls(&self) -> Vec<FakeCall> {
        lock(&self.shared.calls).clone()
    }

    /// Waits until `n` calls have finished (or `timeout` passes); the calls.
    pub async fn finished(&self, n: usize, timeout: std::time::Duration) -> Vec<FakeCall> {
        wait_finished(|| self.calls(), n, timeout).await
    }

    /// An inbound call from `from` to `to`: Twilio's signed voice webhook to
    /// `{vox_base}/twilio/voice`, then the TwiML it answers runs (to the end of the call).
    /// The webhook's HTTP status and the finished call.
    pub async fn ring(&self, vox_base: &str, from: &str, to: &str) -> (u16, FakeCall) {
        let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
        ring(self.shared.clone(), sid, vox_base, from, to).await
    }
}

/// `POST /fake/ring` `{voxBase, from, to}`: an inbound call, for scripts (`vox-fake`); answered
/// 202 with its `callSid` at once, the call runs on.
async fn ring_route(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let (Some(base), Some(from), Some(to)) = (
        body["voxBase"].as_str().map(str::to_owned),
        body["from"].as_str().map(str::to_owned),
        body["to"].as_str().map(str::to_owned),
    ) else {
        return (StatusCode::BAD_REQUEST, "voxBase, from and to are required").into_response();
    };
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let call_sid = sid.clone();
    tokio::spawn(async move {
        ring(shared, sid, &base, &from, &to).await;
    });
    (StatusCode::ACCEPTED, Json(json!({"callSid": call_sid}))).into_response()
}

/// An inbound call `sid` (see [`FakeTwilio::ring`]).
async fn ring(
    shared: Arc<Shared>,
    sid: String,
    vox_base: &str,
    from: &str,
    to: &str,
) -> (u16, FakeCall) {
    {
        let params = vec![
            ("AccountSid".to_owned(), shared.account_sid.clone()),
            ("CallSid".to_owned(), sid.clone()),
            ("CallStatus".to_owned(), "ringing".to_owned()),
            ("Direction".to_owned(), "inbound".to_owned()),
            ("From".to_owned(), from.to_owned()),
            ("To".to_owned(), to.to_owned()),
        ];
        let url = format!("{vox_base}/twilio/voice");
        let (status, twiml) = post_signed(&shared, &url, &params).await;
        let call = FakeCall {
            sid: sid.clone(),
            to: to.into(),
            from: from.into(),
            ..Default::default()
        };
        lock(&shared.calls).push(call);
        if status == 200 {
            run_twiml(shared.clone(), sid.clone(), twiml, None, from.to_owned()).await;
        } else {
            update(&shared, &sid, |c| c.finished = true);
        }
        let call = lock(&shared.calls)
            .iter()
            .find(|c| c.sid == sid)
            .cloned()
            .unwrap_or_default();
        (status, call)
    }
}

/// Polls `calls` until `n` of them have finished (or `timeout` passes); the calls.
pub(crate) async fn wait_finished(
    calls: impl Fn() -> Vec<FakeCall>,
    n: usize,
    timeout: std::time::Duration,
) -> Vec<FakeCall> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let calls = calls();
        if calls.iter().filter(|c| c.finished).count() >= n
            || tokio::time::Instant::now() > deadline
        {
            return calls;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn update(shared: &Shared, sid: &str, f: impl FnOnce(&mut FakeCall)) {
    if let Some(c) = lock(&shared.calls).iter_mut().find(|c| c.sid == sid) {
        f(c);
    }
}

/// POSTs form `params` to `url` with Twilio's signature; the status and body.
async fn post_signed(shared: &Shared, url: &str, params: &[(String, String)]) -> (u16, String) {
    let sig = vox_carriers::twilio::wire::signature(&shared.auth_token, url, params);
    match shared
        .http
        .post(url)
        .header("X-Twilio-Signature", sig)
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

fn authenticated(shared: &Shared, account: &str, headers: &HeaderMap) -> bool {
    use base64::Engine as _;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", shared.account_sid, shared.auth_token))
    );
    account == shared.account_sid
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            == Some(expected.as_str())
}

/// `POST .../Calls/{CallSid}.json`: Twiml (redirect) or Status=completed (hang up).
async fn update_call(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Some(sid) = file.strip_suffix(".json") else {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return twilio_error(StatusCode::BAD_REQUEST, 20001, "Malformed form body");
    };
    let params: BTreeMap<String, String> = params.into_iter().collect();
    if !params.contains_key("Twiml")
        && !params.contains_key("Url")
        && params.get("Status").map(String::as_str) != Some("completed")
    {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21218,
            "Twiml, Url or Status=completed is required",
        );
    }
    let mut calls = lock(&shared.calls);
    let Some(call) = calls.iter_mut().find(|c| c.sid == sid) else {
        return twilio_error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    let wait = params.get("Twiml").and_then(|t| conference_wait_url(t));
    call.updates.push(params);
    drop(calls);
    if let Some(url) = wait {
        let (shared, sid) = (shared.clone(), sid.to_owned());
        tokio::spawn(async move {
            let (status, body) = get_signed(
                &shared,
                &url,
                &[
                    ("AccountSid", shared.account_sid.as_str()),
                    ("CallSid", sid.as_str()),
                ],
            )
            .await;
            update(&shared, &sid, |c| c.hold.push((url, status, body)));
        });
    }
    (
        StatusCode::OK,
        Json(json!({"sid": sid, "account_sid": shared.account_sid, "status": "in-progress"})),
    )
        .into_response()
}

/// `POST Messages.json`: a text message (kept, not delivered anywhere).
async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return twilio_error(StatusCode::BAD_REQUEST, 20001, "Malformed form body");
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(to), Some(from), Some(text)) = (get("To"), get("From"), get("Body")) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21602,
            "A 'To', 'From' and 'Body' are required",
        );
    };
    lock(&shared.messages).push((from, to, text));
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued"})),
    )
        .into_response()
}

async fn create_call(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authenticated(&shared, &account, &headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return twilio_error(StatusCode::BAD_REQUEST, 20001, "Malformed form body");
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(to), Some(from)) = (get("To"), get("From")) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21201,
            "No 'To' or 'From' number is specified",
        );
    };
    let twiml = match (get("Twiml"), get("Url")) {
        (Some(t), _) => t,
        (None, Some(url)) => {
            let p = vec![
                ("AccountSid".to_owned(), shared.account_sid.clone()),
                ("Direction".to_owned(), "outbound-api".to_owned()),
                ("From".to_owned(), from.clone()),
                ("To".to_owned(), to.clone()),
            ];
            post_signed(&shared, &url, &p).await.1
        }
        (None, None) => {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                21205,
                "Url or Twiml parameter is required",
            );
        }
    };
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    lock(&shared.calls).push(FakeCall {
        sid: sid.clone(),
        to: to.clone(),
        from: from.clone(),
        ..Default::default()
    });
    let callback = get("StatusCallback");
    let busy = {
        let mut once = lock(&shared.busy_once);
        let found = once.iter().position(|n| *n == to);
        found.map(|i| once.remove(i)).is_some()
    };
    if busy {
        update(&shared, &sid, |c| c.twiml = twiml);
        tokio::spawn(not_answered(shared.clone(), sid.clone(), callback, "busy"));
    } else if lock(&shared.unanswered).contains(&to) {
        update(&shared, &sid, |c| c.twiml = twiml);
        tokio::spawn(not_answered(
            shared.clone(),
            sid.clone(),
            callback,
            "no-answer",
        ));
    } else {
        tokio::spawn(run_twiml(
            shared.clone(),
            sid.clone(),
            twiml,
            callback,
            to.clone(),
        ));
    }
    (StatusCode::CREATED, Json(json!({"sid": sid, "account_sid": shared.account_sid, "to": to, "from": from, "status": "queued", "direction": "outbound-api"}))).into_response()
}

/// The `<Stream url>` and its `<Parameter>`s of a `<Connect>` TwiML document.
pub fn parse_stream(twiml: &str) -> Option<(String, BTreeMap<String, String>)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(twiml);
    let mut url = None;
    let mut params = BTreeMap::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                        .map(|v| v.into_owned())
                };
                match e.local_name().as_ref() {
                    "Stream" => url = attr("url"),
                    "Parameter" => {
                        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
                            params.insert(n, v);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    url.map(|u| (u, params))
}

/// Runs the TwiML of call `sid`, whose far end is `party` (whose script is played).
async fn run_twiml(
    shared: Arc<Shared>,
    sid: String,
    twiml: String,
    callback: Option<String>,
    party: String,
) {
    let stream = parse_stream(&twiml);
    update(&shared, &sid, |c| {
        c.twiml = twiml.clone();
        c.stream = stream.clone();
    });
    if let Some((url, params)) = stream {
        let script = lock(&shared.scripts)
            .get(&party)
            .cloned()
            .unwrap_or_else(|| lock(&shared.script).clone());
        let report = play(&sid, &url, &params, &script, vox_sim::SimDialect::Twilio).await;
        update(&shared, &sid, |c| c.report = Some(report));
    }
    report_status(&shared, &sid, callback, "completed").await;
}

/// A call nobody picks up: it rings a while, then `no-answer` (or `busy`).
async fn not_answered(shared: Arc<Shared>, sid: String, callback: Option<String>, status: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    report_status(&shared, &sid, callback, status).await;
}

/// The final status callback (when one was asked for); the call is finished then.
async fn report_status(shared: &Shared, sid: &str, callback: Option<String>, final_status: &str) {
    if let Some(cb) = callback {
        let params = vec![
            ("AccountSid".to_owned(), shared.account_sid.clone()),
            ("CallSid".to_owned(), sid.to_owned()),
            ("CallStatus".to_owned(), final_status.to_owned()),
        ];
        let (status, _) = post_signed(shared, &cb, &params).await;
        update(shared, sid, |c| c.status_callback = Some(status));
    }
    update(shared, sid, |c| {
        c.final_status = Some(final_status.to_owned());
        c.finished = true;
    });
}

/// GETs `url` with `params` added to its query, signed as Twilio signs GET requests (the
/// full URL, no body parameters); the status and body.
async fn get_signed(shared: &Shared, url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let full = if url.contains('?') {
        format!("{url}&{query}")
    } else {
        format!("{url}?{query}")
    };
    let sig = vox_carriers::twilio::wire::signature(&shared.auth_token, &full, &[]);
    match shared
        .http
        .get(&full)
        .header("X-Twilio-Signature", sig)
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

/// The `waitUrl` of a `<Conference>` in a TwiML document.
pub fn conference_wait_url(twiml: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(twiml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Conference" => {
                return e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.as_ref() == "waitUrl")
                    .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                    .map(|v| v.into_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Plays the caller script on the media stream in `dialect` (`params` go where the dialect
/// carries stream parameters); the sim's report.
pub(crate) async fn play(
    sid: &str,
    url: &str,
    params: &BTreeMap<String, String>,
    script: &CallerScript,
    dialect: vox_sim::SimDialect,
) -> Value {
    let dir = std::env::temp_dir().join(format!("vox-fake-carrier-{}-{sid}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return json!({"error": "cannot create a temp dir"});
    }
    let mut toml = format!("greeting = {}\n", script.greeting);
    toml.push_str("[params]\n");
    for (k, v) in params {
        toml.push_str(&format!("{k:?} = {v:?}\n"));
    }
    for t in &script.turns {
        match t {
            CallerTurn::Say(w) => {
                toml.push_str(&format!("[[turn]]\nwav = {:?}\n", w.display().to_string()));
            }
            CallerTurn::Press(keys) => toml.push_str(&format!("[[turn]]\ndtmf = {keys:?}\n")),
        }
    }
    let script_path = dir.join("script.toml");
    let report_path = dir.join("report.json");
    if std::fs::write(&script_path, toml).is_err() {
        return json!({"error": "cannot write the script"});
    }
    let args = vox_sim::SimArgs {
        dialect,
        ramp_ms: 0,
        record: script.record_dir.clone(),
        report: Some(report_path.clone()),
        reply_timeout_ms: 15_000,
        silent: true,
        ..vox_sim::SimArgs::new(url, &script_path)
    };
    match vox_sim::run(args).await {
        Ok(_) => std::fs::read_to_string(&report_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null),
        Err(e) => json!({"error": format!("{e:#}")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stream_and_its_parameters() {
        let x = r#"<?xml version="1.0"?><Response><Connect><Stream url="ws://127.0.0.1:9/media/twilio"><Parameter name="agentId" value="a&amp;b"/><Parameter name="token" value="t"/></Stream></Connect></Response>"#;
        let (url, p) = parse_stream(x).expect("stream");
        assert_eq!(url, "ws://127.0.0.1:9/media/twilio");
        assert_eq!(p.get("agentId").map(String::as_str), Some("a&b"));
        assert_eq!(p.len(), 2);
        assert!(parse_stream("<Response><Say>closed</Say><Hangup/></Response>").is_none());
    }
}
