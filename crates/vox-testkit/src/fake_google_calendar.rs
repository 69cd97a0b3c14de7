//! A fake Google Calendar (REST API v3) over loopback, for the calendar backend's tests.
//!
//! - `GET /calendar/v3/calendars/{calendarId}/events` with `timeMin`/`timeMax` (RFC 3339,
//!   overlap semantics as Google's: an event is listed when it ends after `timeMin` and
//!   starts before `timeMax`), `pageToken`; pages of at most [`PAGE_SIZE`] events whatever
//!   `maxResults` says, so clients must follow `nextPageToken`.
//! - `POST .../events`: inserts the event JSON, gives it an `id`, `status: "confirmed"`.
//! - `DELETE .../events/{eventId}`: 204; 410 Gone when already cancelled, 404 when unknown.
//! - `POST /calendar/v3/calendars/{calendarId}/acl`: shares the calendar (`role`, `scope`);
//!   only its owner's token may, others get 404 (`notFound`) as Google answers for a calendar
//!   the token cannot see. The rule's id is `user:{email}`.
//! - `POST /token`: the service-account JWT bearer grant (RFC 7523): an RS256 assertion
//!   signed with the key of [`FakeGoogleCalendar::service_account_key`], `aud` this endpoint,
//!   the calendar scope; answers a short-lived access token.
//! - Every request needs `Authorization: Bearer <token>`, else 401 with Google's error JSON.
//!   A calendar's events are for its owner's token and for service-account tokens of accounts
//!   it was shared with; anything else is 404 (`notFound`). Events carry `organizer.email`,
//!   the calendar they are in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

/// Events per page the fake returns.
pub const PAGE_SIZE: usize = 3;

/// The service account's e-mail.
pub const SERVICE_ACCOUNT: &str = "vox-calendar@vox-test.iam.gserviceaccount.com";

/// A calendar: whose token owns it, and whom it is shared with.
#[derive(Debug, Clone, Default)]
struct Calendar {
    owner_token: String,
    shared_with: Vec<String>,
}

struct Shared {
    /// The calendar `start` made (where `add` puts events).
    calendar_id: String,
    calendars: Mutex<BTreeMap<String, Calendar>>,
    /// Service-account access tokens issued: token -> e-mail.
    issued: Mutex<BTreeMap<String, String>>,
    /// The service account's key: PKCS#8 PEM, and the public half (DER).
    sa_private_pem: String,
    sa_public_der: Vec<u8>,
    events: Mutex<Vec<Value>>,
    next_id: Mutex<u64>,
    requests: Mutex<Vec<String>>,
}

/// See the module docs.
pub struct FakeGoogleCalendar {
    /// Where it listens (`http://{addr}` is the client's API base).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeGoogleCalendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGoogleCalendar")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeGoogleCalendar {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": status.as_u16(), "message": message, "errors": [{"reason": reason, "message": message}]}}))).into_response()
}

fn parse_time(v: &Value) -> Option<rfc3339::Instant> {
    rfc3339::Instant::parse(v["dateTime"].as_str()?)
}

/// Minimal RFC 3339 parsing (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`) into Unix seconds, so the
/// fake does not share the client's date library (and its bugs).
mod rfc3339 {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Instant(pub i64);

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    impl Instant {
        pub fn parse(s: &str) -> Option<Instant> {
            let b = s.as_bytes();
            if b.len() < 20
                || b[4] != b'-'
                || b[7] != b'-'
                || b[10] != b'T'
                || b[13] != b':'
                || b[16] != b':'
            {
                return None;
            }
            let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
            let secs = days_from_civil(n(0..4)?, n(5..7)?, n(8..10)?) * 86_400
                + n(11..13)? * 3600
                + n(14..16)? * 60
                + n(17..19)?;
            let mut rest = &s[19..];
            if let Some(frac) = rest.strip_prefix('.') {
                rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
            }
            let offset = match rest {
                "Z" | "z" => 0,
                _ if rest.len() == 6 => {
                    let sign = match &rest[..1] {
                        "+" => 1,
                        "-" => -1,
                        _ => return None,
                    };
                    sign * (rest[1..3].parse::<i64>().ok()? * 3600
                        + rest[4..6].parse::<i64>().ok()? * 60)
                }
                _ => return None,
            };
            Some(Instant(secs - offset))
        }
    }
}

impl FakeGoogleCalendar {
    /// Serves one calendar, `calendar_id`, owned by the holder of `token`.
    pub async fn start(calendar_id: &str, token: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa key");
        let sa_private_pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD
                .encode(pair.as_der().expect("pkcs8").as_ref())
        );
        let calendars = BTreeMap::from([(
            calendar_id.to_owned(),
            Calendar {
                owner_token: token.into(),
                shared_with: Vec::new(),
            },
        )]);
        let shared = Arc::new(Shared {
            calendar_id: calendar_id.into(),
            calendars: Mutex::new(calendars),
            issued: Mutex::new(BTreeMap::new()),
            sa_private_pem,
            sa_public_der: pair.public_key().as_ref().to_vec(),
            events: Mutex::new(Vec::new()),
            next_id: Mutex::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(
                "/calendar/v3/calendars/{cal}/events",
                get(list).post(insert),
            )
            .route("/calendar/v3/calendars/{cal}/events/{id}", delete(remove))
            .route("/calendar/v3/calendars/{cal}/acl", post(share))
            .route("/token", post(token_grant))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// The API base URL for the client.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every event, cancelled ones included (with `status: "cancelled"`).
    pub fn events(&self) -> Vec<Value> {
        self.shared.events.lock().expect("events").clone()
    }

    /// Another calendar, owned by the holder of `owner_token`.
    pub fn add_calendar(&self, calendar_id: &str, owner_token: &str) {
        lock(&self.shared.calendars).insert(
            calendar_id.to_owned(),
            Calendar {
                owner_token: owner_token.to_owned(),
                shared_with: Vec::new(),
            },
        );
    }

    /// Whom `calendar_id` is shared with.
    pub fn shared_with(&self, calendar_id: &str) -> Vec<String> {
        lock(&self.shared.calendars)
            .get(calendar_id)
            .map(|c| c.shared_with.clone())
            .unwrap_or_default()
    }

    /// The JSON key of [`SERVICE_ACCOUNT`], as Google's console downloads it, its
    /// `token_uri` this fake's `/token`.
    pub fn service_account_key(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "vox-test",
            "private_key_id": "k1",
            "private_key": self.shared.sa_private_pem,
            "client_email": SERVICE_ACCOUNT,
            "token_uri": format!("{}/token", self.base()),
        })
        .to_string()
    }

    /// How many service-account tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.shared.issued).len()
    }

    /// Adds an event to the first calendar as someone else would (in the Google UI),
    /// returning its id.
    pub fn add(&self, mut event: Value) -> String {
        let id = next_id(&self.shared);
        event["id"] = json!(id);
        event["organizer"] = json!({"email": self.shared.calendar_id});
        event["status"] = json!("confirmed");
        self.shared.events.lock().expect("events").push(event);
        id
    }

    /// `METHOD path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().expect("requests").clone()
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

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn unauthenticated() -> Response {
    google_error(
        StatusCode::UNAUTHORIZED,
        "authError",
        "Request had invalid authentication credentials.",
    )
}

fn not_found() -> Response {
    google_error(StatusCode::NOT_FOUND, "notFound", "Not Found")
}

fn next_id(s: &Shared) -> String {
    let mut n = s.next_id.lock().expect("id");
    *n += 1;
    format!("evt{:04}", *n)
}

/// Checks the token and the calendar; the error response otherwise.
#[allow(clippy::result_large_err)] // the error is the HTTP response itself, built once
fn admit(s: &Shared, headers: &HeaderMap, cal: &str, what: String) -> Result<(), Response> {
    s.requests.lock().expect("requests").push(what);
    let token = bearer(headers).unwrap_or_default();
    let calendars = lock(&s.calendars);
    let account = lock(&s.issued).get(token).cloned();
    let owns_one = calendars.values().any(|c| c.owner_token == token);
    if account.is_none() && !owns_one {
        return Err(unauthenticated());
    }
    let allowed = calendars.get(cal).is_some_and(|c| {
        c.owner_token == token || account.as_ref().is_some_and(|a| c.shared_with.contains(a))
    });
    if !allowed {
        return Err(not_found());
    }
    Ok(())
}

/// `acl.insert`: the calendar's owner shares it.
async fn share(
    State(s): State<Arc<Shared>>,
    Path(cal): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    lock(&s.requests).push(format!("POST {cal}/acl"));
    let token = bearer(&headers).unwrap_or_default();
    let mut calendars = lock(&s.calendars);
    if !calendars.values().any(|c| c.owner_token == token) {
        return unauthenticated();
    }
    let Some(c) = calendars.get_mut(&cal).filter(|c| c.owner_token == token) else {
        return not_found();
    };
    let Some(Json(rule)) = body else {
        return google_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    let (Some(role), Some("user"), Some(email)) = (
        rule["role"].as_str(),
        rule["scope"]["type"].as_str(),
        rule["scope"]["value"].as_str(),
    ) else {
        return google_error(
            StatusCode::BAD_REQUEST,
            "required",
            "Missing scope or role.",
        );
    };
    if !c.shared_with.iter().any(|e| e == email) {
        c.shared_with.push(email.to_owned());
    }
    Json(json!({"kind": "calendar#aclRule", "id": format!("user:{email}"), "role": role, "scope": {"type": "user", "value": email}})).into_response()
}

/// The JWT bearer grant of the service account.
async fn token_grant(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let refuse = |why: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse("unsupported grant type");
    }
    let assertion = form
        .get("assertion")
        .map(String::as_str)
        .unwrap_or_default();
    let Ok(claims) = vox_crypto::jwt::verify_rs256(&s.sa_public_der, assertion) else {
        return refuse("Invalid JWT Signature.");
    };
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let now = now_secs();
    if claims["iss"] != SERVICE_ACCOUNT
        || claims["aud"] != format!("http://{host}/token").as_str()
        || !claims["scope"].as_str().is_some_and(|sc| {
            sc.split(' ')
                .any(|x| x == "https://www.googleapis.com/auth/calendar")
        })
        || claims["exp"]
            .as_i64()
            .is_none_or(|e| e < now || e > now + 3600 + 60)
    {
        return refuse("Invalid JWT: iss, aud, scope or exp.");
    }
    let token = format!("ya29.sa-{}", uuid::Uuid::new_v4().simple());
    lock(&s.issued).insert(token.clone(), SERVICE_ACCOUNT.to_owned());
    Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})).into_response()
}

async fn list(
    State(s): State<Arc<Shared>>,
    Path(cal): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = admit(&s, &headers, &cal, format!("GET {cal}")) {
        return r;
    }
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let bound = |k: &str| match param(k) {
        None => Ok(None),
        Some(v) => rfc3339::Instant::parse(v).map(Some).ok_or(()),
    };
    let (Ok(min), Ok(max)) = (bound("timeMin"), bound("timeMax")) else {
        return google_error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request");
    };
    let mut hits: Vec<Value> = s
        .events
        .lock()
        .expect("events")
        .iter()
        .filter(|e| e["status"] != "cancelled" && e["organizer"]["email"] == cal.as_str())
        .filter(|e| {
            let (Some(start), Some(end)) = (parse_time(&e["start"]), parse_time(&e["end"])) else {
                return false;
            };
            min.is_none_or(|m| end > m) && max.is_none_or(|m| start < m)
        })
        .cloned()
        .collect();
    hits.sort_by_key(|e| parse_time(&e["start"]));
    let from: usize = param("pageToken")
        .and_then(|t| t.strip_prefix("p"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = hits.iter().skip(from).take(PAGE_SIZE).cloned().collect();
    let mut body = json!({"kind": "calendar#events", "summary": cal, "items": page});
    if from + PAGE_SIZE < hits.len() {
        body["nextPageToken"] = json!(format!("p{}", from + PAGE_SIZE));
    }
    Json(body).into_response()
}

async fn insert(
    State(s): State<Arc<Shared>>,
    Path(cal): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if let Err(r) = admit(&s, &headers, &cal, format!("POST {cal}")) {
        return r;
    }
    let Some(Json(mut event)) = body else {
        return google_error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    if parse_time(&event["start"]).is_none() || parse_time(&event["end"]).is_none() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "required",
            "Missing time zone definition for start time.",
        );
    }
    event["id"] = json!(next_id(&s));
    event["status"] = json!("confirmed");
    event["kind"] = json!("calendar#event");
    event["organizer"] = json!({"email": cal});
    s.events.lock().expect("events").push(event.clone());
    Json(event).into_response()
}

async fn remove(
    State(s): State<Arc<Shared>>,
    Path((cal, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = admit(&s, &headers, &cal, format!("DELETE {cal}/{id}")) {
        return r;
    }
    let mut events = s.events.lock().expect("events");
    match events
        .iter_mut()
        .find(|e| e["id"] == id.as_str() && e["organizer"]["email"] == cal.as_str())
    {
        None => google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
        Some(e) if e["status"] == "cancelled" => {
            google_error(StatusCode::GONE, "deleted", "Resource has been deleted")
        }
        Some(e) => {
            e["status"] = json!("cancelled");
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339::Instant;

    #[test]
    fn rfc3339_with_offsets_and_fractions() {
        assert_eq!(Instant::parse("1970-01-01T00:00:00Z"), Some(Instant(0)));
        assert_eq!(
            Instant::parse("2026-11-24T10:00:00-05:00"),
            Instant::parse("2026-11-24T15:00:00Z")
        );
        assert_eq!(
            Instant::parse("2026-11-24T15:00:00.123Z"),
            Instant::parse("2026-11-24T15:00:00Z")
        );
        assert_eq!(
            Instant::parse("2000-03-01T00:00:00Z"),
            Some(Instant(951_868_800))
        );
        assert_eq!(Instant::parse("2026-11-24 10:00"), None);
    }
}
