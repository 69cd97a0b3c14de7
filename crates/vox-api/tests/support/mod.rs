//! The API's test fixture: a router over a real SQLite file, with two organizations, a
//! fake dialer and web-call tokens, and helpers for requests. Shared by the test files.
#![allow(dead_code)] // each test file uses its share

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;
use vox_api::{ALL_SCOPES, ApiState, Voice, router};
use vox_store::Store;

/// Web-call credentials of a recognizable shape.
#[derive(Debug)]
struct FakeWebCalls;

impl vox_api::WebCallTokens for FakeWebCalls {
    fn grant(&self, call_id: &str, agent_id: &str) -> vox_api::WebCallGrant {
        vox_api::WebCallGrant {
            whip_url: format!("https://vox.example/whip/{agent_id}?callId={call_id}"),
            token: format!("tok-{call_id}"),
            expires_at: 4_102_444_800_000,
        }
    }
}

/// A carrier that "rings" any number but +15559999999 (which it refuses).
#[derive(Debug, Default)]
pub struct FakeDialer {
    pub placed: std::sync::Mutex<Vec<vox_api::DialRequest>>,
}

impl vox_api::Dialer for FakeDialer {
    fn dial(
        &self,
        request: vox_api::DialRequest,
    ) -> futures::future::BoxFuture<'static, Result<String, vox_api::DialError>> {
        let refused = request.to == "+15559999999";
        let sid = format!("CA{}", request.call_id);
        self.placed.lock().expect("lock").push(request);
        Box::pin(async move {
            if refused {
                Err(vox_api::DialError::Carrier("number unreachable".into()))
            } else {
                Ok(sid)
            }
        })
    }
}

/// The fixture's outbound calls per minute per business.
pub const OUTBOUND_PER_MINUTE: u32 = 20;

/// The fixture's key for links that open without a token.
pub const LINK_KEY: [u8; 32] = [9; 32];

pub struct Fixture {
    pub app: axum::Router,
    pub client_id: String,
    pub client_secret: String,
    pub narrow_id: String,
    pub narrow_secret: String,
    pub biz: String,
    pub foreign_biz: String,
    pub foreign_org: String,
    pub org: String,
    pub store: Store,
    /// Where the API reads call recordings (`{dir}/{businessId}/{callId}.wav`).
    pub recordings_dir: std::path::PathBuf,
    /// What the router runs on (for background passes: the campaign dispatcher).
    pub state: ApiState,
    /// The carrier the API dials through.
    pub dialer: std::sync::Arc<FakeDialer>,
}

pub async fn fixture() -> Fixture {
    fixture_with(None).await
}

/// The fixture, sharing Google Calendars through `sharing`.
pub async fn fixture_with(sharing: Option<vox_tools::calendar::CalendarSharing>) -> Fixture {
    fixture_full(sharing, vox_api::SpeechLanguages::English).await
}

/// The fixture, its voice agents speaking `speech`.
pub async fn fixture_full(
    sharing: Option<vox_tools::calendar::CalendarSharing>,
    speech: vox_api::SpeechLanguages,
) -> Fixture {
    let dir = std::env::temp_dir().join(format!(
        "vox-api-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::connect(&format!("sqlite://{}/vox.db", dir.display()))
        .await
        .expect("store");
    let org = store.create_organization("Acme").await.expect("org");
    let all: Vec<String> = ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    let client = store
        .create_client(&org.id, "all", &all)
        .await
        .expect("client");
    let narrow = store
        .create_client(&org.id, "narrow", &["calls:read".to_owned()])
        .await
        .expect("client");
    let biz = store
        .create_business(&org.id, "Acme Plumbing", Some("+15125550100"))
        .await
        .expect("biz")
        .id;
    let globex = store.create_organization("Globex").await.expect("org");
    let foreign_biz = store
        .create_business(&globex.id, "Globex Dental", None)
        .await
        .expect("biz")
        .id;
    store
        .sync_numbers(&[
            ("twilio".into(), "+12125550111".into()),
            ("twilio".into(), "+15125550122".into()),
        ])
        .await
        .expect("numbers");
    let dialer = std::sync::Arc::new(FakeDialer::default());
    let voices = vec![Voice {
        id: "piper-joe".into(),
        name: "Joe".into(),
        category: "conversational".into(),
        description: "US English".into(),
        preview_url: None,
    }];
    let state = ApiState {
        store: store.clone(),
        token_ttl_s: 3600,
        voices: std::sync::Arc::new(voices),
        dialer: Some(dialer.clone()),
        web_calls: Some(std::sync::Arc::new(FakeWebCalls)),
        web_ice_servers: serde_json::json!([{"urls": ["stun:stun.example.org:3478"]}]),
        files_dir: dir.join("files"),
        max_upload_bytes: 1 << 20,
        recordings_dir: dir.join("recordings"),
        tasks: vox_call::Tasks::default(),
        dial_policy: std::sync::Arc::new(vox_api::DialPolicy::default()),
        outbound_rate: std::sync::Arc::new(vox_api::OutboundRate::new(OUTBOUND_PER_MINUTE)),
        calendar_sharing: sharing,
        speech_languages: speech,
        links: std::sync::Arc::new(vox_crypto::link::LinkSigner::new(&LINK_KEY)),
        link_ttl: std::time::Duration::from_secs(15 * 60),
        public_url: String::new(),
        call_defaults: vox_api::CallDefaults::default(),
    };
    let app = router(state.clone());
    Fixture {
        app,
        client_id: client.client_id,
        client_secret: client.client_secret,
        narrow_id: narrow.client_id,
        narrow_secret: narrow.client_secret,
        biz,
        foreign_biz,
        foreign_org: globex.id.clone(),
        org: org.id.clone(),
        store,
        recordings_dir: dir.join("recordings"),
        state,
        dialer,
    }
}

pub async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn form(body: &str) -> Request<Body> {
    Request::post("/v1/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

pub fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::empty()).expect("request")
}

pub async fn token(f: &Fixture, id: &str, secret: &str) -> String {
    let (status, body) = call(
        &f.app,
        form(&format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

// Seed 000 (Voice AI) requests: its Version header, and its 422 body.

pub const VERSION: &str = "2021-04-15";

pub fn seed(method: &str, path: &str, token: &str, body: Option<&Value>) -> Request<Body> {
    let r = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("Version", VERSION);
    match body {
        Some(b) => r
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    }
    .expect("request")
}

pub fn partner(method: &str, path: &str, token: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// Asserts a 422 in the seed's shape whose message names `field`.
pub fn assert_invalid(status: StatusCode, body: &Value, field: &str, what: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(body["statusCode"], 422, "{what}: {body}");
    assert_eq!(body["error"], "Unprocessable Entity", "{what}: {body}");
    let message = body["message"][0].as_str().unwrap_or_default();
    assert!(message.contains(field), "{what}: {message:?} names {field}");
}

// Seed 003 (CRM) requests: an API key, and its 400 body.

/// A seed-003 request with an API key (`X-API-Key`).
pub fn keyed(method: &str, path: &str, key: &str, body: Option<&Value>) -> Request<Body> {
    let r = Request::builder()
        .method(method)
        .uri(path)
        .header("X-API-Key", key);
    match body {
        Some(b) => r
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    }
    .expect("request")
}

/// An API key with every scope for the fixture's business.
pub async fn api_key(f: &Fixture) -> String {
    let all: Vec<String> = ALL_SCOPES.iter().map(|s| s.to_string()).collect();
    f.store
        .create_api_key(&f.biz, "test", &all)
        .await
        .expect("key")
        .key
}

/// Asserts a 400 in seed 003's shape naming `field`.
pub fn assert_bad(status: StatusCode, body: &Value, field: &str, what: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
    assert_eq!(body["code"], 400, "{what}: {body}");
    assert_eq!(body["error"], "BAD_REQUEST", "{what}: {body}");
    assert_eq!(body["details"]["field"], field, "{what}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
}
