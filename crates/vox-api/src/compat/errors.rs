//! Errors in each seed's shape. Handlers decide with [`ApiError`] (status, message, field);
//! [`SeedError`] renders it as the seed's users expect.

use std::marker::PhantomData;

use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ApiError;

/// How one seed's API shows its errors, and the headers it requires of every request.
pub(crate) trait ErrorStyle: Send + Sync + 'static {
    /// The error as this seed's response.
    fn render(e: &ApiError) -> Response;

    /// Checks the headers every request of this seed must carry.
    fn check_headers(_parts: &Parts) -> Result<(), ApiError> {
        Ok(())
    }
}

/// An [`ApiError`] on its way out of a seed's route.
#[derive(Debug)]
pub(crate) struct SeedError<S>(pub ApiError, PhantomData<S>);

impl<S> From<ApiError> for SeedError<S> {
    fn from(e: ApiError) -> Self {
        Self(e, PhantomData)
    }
}

impl<S> From<vox_store::StoreError> for SeedError<S> {
    fn from(e: vox_store::StoreError) -> Self {
        Self(e.into(), PhantomData)
    }
}

impl<S: ErrorStyle> IntoResponse for SeedError<S> {
    fn into_response(self) -> Response {
        let mut res = S::render(&self.0);
        if let Some(secs) = self.0.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        if self.0.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"vox\""),
            );
        }
        res
    }
}

/// The LeadConnector dialect of seeds 000 and 001 (a NestJS service): a `Version` header on
/// every request, and errors as `{statusCode, message, error}` where invalid input is 422
/// with `message` a list of what is wrong (its `class-validator` habit).
#[derive(Debug)]
pub(crate) struct LeadConnector;

/// The only API version seeds 000 and 001 document.
pub(crate) const LEADCONNECTOR_VERSION: &str = "2021-04-15";

impl ErrorStyle for LeadConnector {
    fn render(e: &ApiError) -> Response {
        // a field at fault is invalid input: 422, as the seed's validation answers
        let status = if e.status == StatusCode::BAD_REQUEST && e.field.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            e.status
        };
        let reason = status.canonical_reason().unwrap_or("Error");
        let message = if status == StatusCode::UNPROCESSABLE_ENTITY {
            // each message names its property, as class-validator's do
            match e.field.as_deref() {
                Some(f) if !e.message.contains(f) => json!([format!("{f}: {}", e.message)]),
                _ => json!([e.message]),
            }
        } else {
            Value::String(e.message.clone())
        };
        (
            status,
            axum::Json(json!({"statusCode": status.as_u16(), "message": message, "error": reason})),
        )
            .into_response()
    }

    fn check_headers(parts: &Parts) -> Result<(), ApiError> {
        match parts.headers.get("version").map(|v| v.to_str()) {
            Some(Ok(LEADCONNECTOR_VERSION)) => Ok(()),
            Some(Ok(other)) => Err(ApiError::bad_request(format!(
                "Version {other:?} is not supported: use {LEADCONNECTOR_VERSION}"
            ))),
            Some(Err(_)) | None => Err(ApiError::bad_request(format!(
                "the Version header is required ({LEADCONNECTOR_VERSION})"
            ))),
        }
    }
}

/// The dialect of seed 004 (an ASP.NET Core service, by its SAS recording links and PascalCase
/// states): errors as RFC 9457 problem details, `application/problem+json` with `type`,
/// `title`, `status` and `detail`, and for invalid input ASP.NET's `errors` map from the field
/// to its messages.
#[derive(Debug)]
pub(crate) struct ProblemDetails;

impl ErrorStyle for ProblemDetails {
    fn render(e: &ApiError) -> Response {
        let status = e.status;
        let mut body = json!({
            "type": format!("https://httpstatuses.io/{}", status.as_u16()),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": e.message,
        });
        if let Some(f) = &e.field {
            body["title"] = json!("One or more validation errors occurred.");
            body["errors"] = json!({ f: [e.message] });
        }
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

/// The dialect of seed 003 (a TSOA service on Express): errors as `{code, error, message,
/// details}`, `code` the HTTP status, `error` a stable code (`BAD_REQUEST`, `NOT_FOUND`,
/// `CONFLICT`, ...), and for invalid input `details.field` naming the field at fault.
#[derive(Debug)]
pub(crate) struct Tsoa;

impl ErrorStyle for Tsoa {
    fn render(e: &ApiError) -> Response {
        let details = match &e.field {
            Some(f) => json!({ "field": f }),
            None => json!({}),
        };
        (
            e.status,
            axum::Json(json!({"code": e.status.as_u16(), "error": e.code, "message": e.message, "details": details})),
        )
            .into_response()
    }
}
