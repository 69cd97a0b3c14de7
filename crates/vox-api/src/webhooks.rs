//! A business's call-event webhook (`/v1/businesses/{businessId}/webhook`): where events go
//! and the secret their signature header is made with. Delivery lives in the server.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vox_store::{Webhook, rfc3339};

use crate::tools::business;
use crate::{ApiError, ApiState, Auth, validate};

/// The events sent.
pub const EVENTS: [&str; 5] = [
    "call.started",
    "call.tool_called",
    "call.transferred",
    "call.transfer_failed",
    "call.ended",
];

/// How the endpoint is shown: the secret only to whoever sets it (the answer of the PUT, as
/// Stripe shows a signing secret once); reading shows its last four characters, so a token
/// that can read integrations cannot forge events.
fn view(w: &Webhook, reveal_secret: bool) -> Value {
    let mut v = json!({"url": w.url, "events": EVENTS, "signatureHeader": "X-Vox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>", "createdAt": rfc3339(w.created_at), "updatedAt": rfc3339(w.updated_at)});
    if reveal_secret {
        v["secret"] = json!(w.secret);
    } else {
        let tail: String = w
            .secret
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        v["secretLast4"] = json!(tail);
    }
    v
}

/// `PUT /v1/businesses/{businessId}/webhook`: `{url, secret?}` (a secret of 16-256 characters;
/// generated when absent).
pub(crate) async fn put(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth.require("integrations:create")?;
    let business = business(&state, &auth, &biz).await?;
    let m = validate::object(&body)?;
    validate::known(&m, "", &["url", "secret"])?;
    let url = validate::req_str(&m, "", "url")?;
    validate::url("url", url)?;
    let secret = match validate::opt_str(&m, "", "secret")? {
        Some(s) if !(16..=256).contains(&s.chars().count()) => {
            return Err(ApiError::invalid(
                "secret",
                "secret must be 16-256 characters (leave it out to have one generated)",
            ));
        }
        Some(s) => s.to_owned(),
        None => format!("whsec_{}", vox_store::new_secret()),
    };
    Ok(Json(view(
        &state.store.set_webhook(&business.id, url, &secret).await?,
        true,
    )))
}

/// `GET /v1/businesses/{businessId}/webhook`
pub(crate) async fn get(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require("integrations:read")?;
    let business = business(&state, &auth, &biz).await?;
    state
        .store
        .webhook(&business.id)
        .await?
        .map(|w| Json(view(&w, false)))
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// `DELETE /v1/businesses/{businessId}/webhook`
pub(crate) async fn delete(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require("integrations:create")?;
    let business = business(&state, &auth, &biz).await?;
    if state.store.delete_webhook(&business.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}
