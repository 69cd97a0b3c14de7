//! OAuth 2.0 client credentials (`POST /v1/oauth/token`, RFC 6749 §4.4) and the bearer
//! token check every other route goes through.

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{ApiError, ApiState};

/// Every scope a token may carry: seed 002's, then each compatibility API's own names.
pub const ALL_SCOPES: &[&str] = &[
    // seed 002, the Partner API
    "voice-agents:create",
    "voice-agents:read",
    "voice-agents:update",
    "voice-agents:delete",
    "tools:read",
    "tools:create",
    "tools:update",
    "tools:delete",
    "files:read",
    "files:create",
    "files:delete",
    "voices:read",
    "integrations:read",
    "integrations:create",
    "integrations:update",
    "integrations:delete",
    "calls:read",
    // Vox's own: campaigns (seed 004's calls belong to them; the seed makes none)
    "campaigns:read",
    "campaigns:write",
    // seed 000, the Voice AI API
    "voice-ai-agents.readonly",
    "voice-ai-agents.write",
    "voice-ai-dashboard.readonly",
    "voice-ai-agent-goals.readonly",
    "voice-ai-agent-goals.write",
    // seed 004, the Voice Calls API
    "voice:read",
    "audio:download",
    // seed 003, the agent-call and CRM API
    "contacts:read",
    "contacts:write",
    "custom-fields:read",
    "custom-fields:write",
    "tasks:read",
    "tasks:write",
    "calls:write",
    "conversations:read",
    "conversations:write",
];

/// The caller of a route: an organization, through a token with scopes.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The organization the token acts for.
    pub organization_id: String,
    scopes: Vec<String>,
}

impl Auth {
    /// The token's scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Ok if the token carries `scope`, else 403.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden_scope(scope))
        }
    }
}

impl<S> FromRequestParts<S> for Auth
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ApiState::from_ref(state);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing Authorization: Bearer <token> (get one from POST /v1/oauth/token)",
                )
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let grant = state
            .store
            .grant(token)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the token is invalid or expired"))?;
        Ok(Self {
            organization_id: grant.organization_id,
            scopes: grant.scopes,
        })
    }
}

/// The token request (form or JSON).
#[derive(Debug, Deserialize, Default)]
pub struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    scope: String,
}

/// An OAuth error body (RFC 6749 §5.2), not the API's usual one: OAuth clients expect it.
fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> Response {
    let mut res = (
        status,
        Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"vox\""),
        );
    }
    res
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1), if present.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /v1/oauth/token`.
pub async fn token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let req: TokenRequest = if body.is_empty() {
        TokenRequest::default()
    } else if is_json {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("the body is not valid JSON: {e}"),
                );
            }
        }
    } else {
        match parse_form(&body) {
            Ok(r) => r,
            Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &e),
        }
    };
    match req.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type {other:?} is not supported; use client_credentials"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required (client_credentials)",
            );
        }
    }
    let (id, secret) = match (basic(&headers), req.client_id, req.client_secret) {
        (Some(b), _, _) => b,
        (None, Some(id), Some(secret)) => (id, secret),
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id and client_secret are required (in the body or as HTTP Basic)",
            );
        }
    };
    let (org, allowed) = match state.store.authenticate_client(&id, &secret).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client or wrong secret",
            );
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let scopes: Vec<String> = match req
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => allowed,
        Some(asked) => {
            let asked: Vec<String> = asked.split_whitespace().map(str::to_owned).collect();
            if let Some(extra) = asked.iter().find(|s| !allowed.contains(s)) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("this client may not request {extra}"),
                );
            }
            asked
        }
    };
    match state
        .store
        .issue_token(&id, &org, &scopes, state.token_ttl_s)
        .await
    {
        Ok(access_token) => Json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: state.token_ttl_s,
            scope: scopes.join(" "),
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Parses `application/x-www-form-urlencoded` into the token request.
fn parse_form(body: &[u8]) -> Result<TokenRequest, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut req = TokenRequest::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v)?;
        match percent_decode(k)?.as_str() {
            "grant_type" => req.grant_type = Some(v),
            "client_id" => req.client_id = Some(v),
            "client_secret" => req.client_secret = Some(v),
            "scope" => req.scope = Some(v),
            _ => {} // RFC 6749: unknown parameters are ignored
        }
    }
    Ok(req)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("a bad %-escape in the form")?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the form is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let r = parse_form(b"grant_type=client_credentials&client_id=cli_1&client_secret=a%2Bb&scope=calls%3Aread+voices%3Aread&x=1").expect("form");
        assert_eq!(r.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(r.client_secret.as_deref(), Some("a+b"));
        assert_eq!(r.scope.as_deref(), Some("calls:read voices:read"));
        assert!(parse_form(b"client_id=%zz").is_err());
    }
}
