//! Who Vox is to Google: the account businesses share their calendars with, and its access
//! tokens; and the sharing itself.
//!
//! As seed 002 describes the integration: a business hands Vox an OAuth access token once;
//! Vox uses it to add an ACL rule giving its own account `writer` on the business's calendar
//! (Calendar API `acl.insert`), keeps the rule's id and forgets the token. Calls then reach
//! the calendar as Vox's account. Google enforces the tenancy: Vox's account sees only the
//! calendars shared with it, and a business can share only a calendar its own token may
//! manage, so naming another business's calendar gets it nothing.
//!
//! Vox's account is a service account (its JSON key; tokens by the JWT bearer grant of RFC
//! 7523 at the key's `token_uri`, kept until five minutes before they expire), or for
//! development a fixed access token and the e-mail it belongs to.

use std::sync::Arc;

use serde_json::{Value, json};
use vox_crypto::jwt::RsaKey;

use super::CalendarError;

/// The OAuth scope the service account asks for.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// Google's token endpoint, when a key names none.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// A token is renewed this long before it expires.
const RENEW_BEFORE_SECS: i64 = 300;

/// Vox's Google identity.
#[derive(Debug)]
pub enum GoogleAccount {
    /// A service account.
    ServiceAccount(ServiceAccount),
    /// A fixed access token (Google's expire within the hour: development only).
    Token {
        /// The account the token belongs to (calendars are shared with it).
        email: String,
        /// The bearer token.
        token: Arc<str>,
    },
}

/// A service account: its key and the token it last got.
#[derive(Debug)]
pub struct ServiceAccount {
    email: String,
    key: RsaKey,
    token_uri: String,
    /// The current token and when it expires (Unix seconds).
    current: tokio::sync::Mutex<Option<(Arc<str>, i64)>>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl ServiceAccount {
    /// From the JSON key Google's console downloads (`type`, `client_email`, `private_key`,
    /// `token_uri`); the error names the field at fault and never quotes the key.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|_| "not a JSON service-account key".to_owned())?;
        if v["type"] != "service_account" {
            return Err("type is not \"service_account\"".into());
        }
        let field = |name: &str| {
            v[name]
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("{name} is missing"))
        };
        Ok(Self {
            email: field("client_email")?.to_owned(),
            key: RsaKey::from_pem(field("private_key")?)
                .map_err(|e| format!("private_key: {e}"))?,
            token_uri: v["token_uri"]
                .as_str()
                .unwrap_or(DEFAULT_TOKEN_URI)
                .to_owned(),
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token: the current one, or a new one from the token endpoint.
    async fn token(&self, http: &reqwest::Client) -> Result<Arc<str>, CalendarError> {
        let mut current = self.current.lock().await;
        let now = now_secs();
        if let Some((token, expires)) = current.as_ref()
            && now < expires - RENEW_BEFORE_SECS
        {
            return Ok(token.clone());
        }
        let failed = |why: String| CalendarError::Other(format!("Google sign-in failed: {why}"));
        let assertion = self
            .key
            .sign(&json!({"iss": self.email, "scope": CALENDAR_SCOPE, "aud": self.token_uri, "iat": now, "exp": now + 3600}))
            .map_err(failed)?;
        let resp = http
            .post(&self.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let token = body["access_token"]
            .as_str()
            .filter(|_| status == 200)
            .ok_or_else(|| {
                failed(format!(
                    "the token endpoint answered {status} ({})",
                    body["error"].as_str().unwrap_or("no error code")
                ))
            })?;
        let token: Arc<str> = token.into();
        let expires = now + body["expires_in"].as_i64().unwrap_or(3600);
        *current = Some((token.clone(), expires));
        Ok(token)
    }
}

impl GoogleAccount {
    /// The e-mail calendars are shared with.
    pub fn email(&self) -> &str {
        match self {
            Self::ServiceAccount(sa) => &sa.email,
            Self::Token { email, .. } => email,
        }
    }

    /// A bearer token for the Calendar API.
    pub async fn token(&self, http: &reqwest::Client) -> Result<Arc<str>, CalendarError> {
        match self {
            Self::ServiceAccount(sa) => sa.token(http).await,
            Self::Token { token, .. } => Ok(token.clone()),
        }
    }
}

/// Why a calendar could not be shared with Vox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareError {
    /// Google did not accept the business's access token (401).
    BadToken,
    /// The token may not manage that calendar, or cannot see it (403, 404).
    NoAccess,
    /// Anything else (Google unreachable, an unexpected answer), as a sentence.
    Other(String),
}

impl std::fmt::Display for ShareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadToken => f.write_str("Google did not accept the access token"),
            Self::NoAccess => f.write_str(
                "the access token may not share this calendar (it needs the calendar scope and owner rights on the calendar)",
            ),
            Self::Other(why) => f.write_str(why),
        }
    }
}

/// Gives `email` writer rights on `calendar_id`, with the business's `user_token` (used for
/// this request only): the ACL rule's id.
pub async fn share_calendar(
    http: &reqwest::Client,
    api_base: &str,
    user_token: &str,
    calendar_id: &str,
    email: &str,
) -> Result<String, ShareError> {
    let url = format!(
        "{}/calendar/v3/calendars/{}/acl?sendNotifications=false",
        api_base.trim_end_matches('/'),
        crate::template::percent_encode(calendar_id)
    );
    let resp = http
        .post(url)
        .bearer_auth(user_token)
        .json(&json!({"role": "writer", "scope": {"type": "user", "value": email}}))
        .send()
        .await
        .map_err(|e| {
            ShareError::Other(format!("Google Calendar unreachable: {}", e.without_url()))
        })?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    match status {
        200 | 201 => body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ShareError::Other("Google's ACL rule has no id".into())),
        401 => Err(ShareError::BadToken),
        403 | 404 => Err(ShareError::NoAccess),
        _ => Err(ShareError::Other(format!(
            "Google Calendar answered {status} when sharing the calendar"
        ))),
    }
}

/// What the control plane needs to set up a business's Google Calendar integration: where
/// the Calendar API is and whom to share calendars with.
#[derive(Debug, Clone)]
pub struct CalendarSharing {
    http: reqwest::Client,
    api_base: String,
    account: Arc<GoogleAccount>,
}

impl CalendarSharing {
    /// Shares with `account` through the API at `api_base`.
    pub fn new(http: reqwest::Client, api_base: &str, account: Arc<GoogleAccount>) -> Self {
        Self {
            http,
            api_base: api_base.to_owned(),
            account,
        }
    }

    /// Shares `calendar_id` with Vox's account using the business's `user_token`: the ACL
    /// rule's id.
    pub async fn share(&self, user_token: &str, calendar_id: &str) -> Result<String, ShareError> {
        share_calendar(
            &self.http,
            &self.api_base,
            user_token,
            calendar_id,
            self.account.email(),
        )
        .await
    }
}
