//! The fakes' messaging APIs, each with its carrier's authentication and body: a text message
//! is kept (from, to, text as sent) for the test to read, and answered with the carrier's id.
//!
//! - Telnyx: `POST /v2/messages` `{from, to, text}` (Bearer API key) -> `{data: {id}}`.
//! - Plivo: `POST /v1/Account/{id}/Message/` `{src, dst, text}` (Basic) -> 202
//!   `{message_uuid: [..]}`.
//! - Vonage: `POST /v1/messages` `{message_type: text, channel: sms, from, to, text}` (the
//!   application's JWT; numbers without `+`) -> 202 `{message_uuid}`.
//! - Exotel: `POST /v1/Accounts/{sid}/Sms/send.json` form `From`, `To`, `Body` (Basic) ->
//!   `{SMSMessage: {Sid}}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{CarrierKind, Shared, basic_ok, carrier_error, lock, new_id, now_secs};

/// The messaging route of `kind`.
pub(super) fn routes(kind: CarrierKind) -> Router<Arc<Shared>> {
    use axum::routing::post;
    match kind {
        CarrierKind::Telnyx => Router::new().route("/v2/messages", post(telnyx)),
        CarrierKind::Plivo => Router::new().route("/v1/Account/{account}/Message/", post(plivo)),
        CarrierKind::Vonage => Router::new().route("/v1/messages", post(vonage)),
        CarrierKind::Exotel => {
            Router::new().route("/v1/Accounts/{account}/Sms/send.json", post(exotel))
        }
    }
}

fn keep(s: &Shared, from: &str, to: &str, text: &str) {
    lock(&s.messages).push((from.to_owned(), to.to_owned(), text.to_owned()));
}

/// `from`, `to`, the text, from a JSON body's fields.
fn fields<'a>(body: &'a Value, names: [&str; 3]) -> Option<(&'a str, &'a str, &'a str)> {
    let [from, to, text] = names.map(|n| body[n].as_str().filter(|v| !v.is_empty()));
    Some((from?, to?, text?))
}

async fn telnyx(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !super::telnyx_authorized(&s, &headers) {
        return carrier_error(StatusCode::UNAUTHORIZED, "Authentication failed");
    }
    let Some((from, to, text)) = fields(&body, ["from", "to", "text"]) else {
        return carrier_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "from, to and text are required",
        );
    };
    keep(&s, from, to, text);
    Json(json!({"data": {"record_type": "message", "id": new_id(), "direction": "outbound"}}))
        .into_response()
}

async fn plivo(
    State(s): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if account != s.user || !basic_ok(&headers, &s.user, &s.secret) {
        return carrier_error(StatusCode::UNAUTHORIZED, "Authentication failed");
    }
    let Some((from, to, text)) = fields(&body, ["src", "dst", "text"]) else {
        return carrier_error(StatusCode::BAD_REQUEST, "src, dst and text are required");
    };
    keep(&s, from, to, text);
    (
        StatusCode::ACCEPTED,
        Json(
            json!({"api_id": new_id(), "message": "message(s) queued", "message_uuid": [new_id()]}),
        ),
    )
        .into_response()
}

async fn vonage(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match vox_carriers::vonage::wire::verify_api_token(&s.vonage_public_der, auth, now_secs()) {
        Ok(claims) if claims["application_id"] == s.account.as_str() => {}
        _ => {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"title": "Unauthorized", "detail": "invalid token"})),
            )
                .into_response();
        }
    }
    let kind = (body["message_type"].as_str(), body["channel"].as_str());
    let Some((from, to, text)) = fields(&body, ["from", "to", "text"]).filter(|(f, t, _)| {
        kind == (Some("text"), Some("sms")) && !f.starts_with('+') && !t.starts_with('+')
    }) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"title": "Invalid params", "detail": "a text sms from and to numbers without +"})),
        )
            .into_response();
    };
    keep(&s, from, to, text);
    (
        StatusCode::ACCEPTED,
        Json(json!({"message_uuid": new_id()})),
    )
        .into_response()
}

async fn exotel(
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
    let (Some(from), Some(to), Some(text)) = (form.get("From"), form.get("To"), form.get("Body"))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"RestException": {"Status": 400, "Message": "From, To and Body are required"}})),
        )
            .into_response();
    };
    keep(&s, from, to, text);
    Json(json!({"SMSMessage": {"Sid": new_id(), "From": from, "To": to, "Status": "queued"}}))
        .into_response()
}
