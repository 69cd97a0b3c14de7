//! One error type for every route: a status, a stable code, a message for people, and the
//! request field at fault when there is one.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error. The body is `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`BAD_REQUEST`, `NOT_FOUND`, ...).
    pub code: &'static str,
    /// What went wrong, for the developer.
    pub message: String,
    /// The request field at fault.
    pub field: Option<String>,
    /// Seconds until a refused request may be made again (429s: `Retry-After`).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// 400 for a field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: message.into(),
            field: Some(field.to_owned()),
            retry_after: None,
        }
    }

    /// 400 without a field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 409: the change conflicts with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "CONFLICT",
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 404 for a kind of thing.
    pub fn not_found(what: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: format!("{what} not found"),
            field: None,
            retry_after: None,
        }
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 403: the token lacks a scope.
    pub fn forbidden_scope(scope: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "FORBIDDEN",
            message: format!("this token lacks the scope {scope}"),
            field: None,
            retry_after: None,
        }
    }

    /// 429: too many requests of a kind; may be made again in `retry_after_secs`.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "RATE_LIMITED",
            message: message.into(),
            field: None,
            retry_after: Some(retry_after_secs),
        }
    }

    /// 502: a service Vox depends on (Google) failed or could not be reached.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            code: "UPSTREAM_ERROR",
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 500; the details go to the log, not to the client.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error in the API");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: "internal error".into(),
            field: None,
            retry_after: None,
        }
    }
}

impl From<vox_store::StoreError> for ApiError {
    fn from(e: vox_store::StoreError) -> Self {
        match e {
            vox_store::StoreError::NotFound(what) => Self::not_found(what),
            vox_store::StoreError::Conflict(why) => Self::conflict(why),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vox\""),
            );
        }
        res
    }
}
