//! WHIP signalling (RFC 9725) for browser calls: `POST /whip/{agentId}` with an SDP offer
//! answers `201 Created` with the SDP answer and `Location: /whip/sessions/{id}`; `DELETE`
//! on that location hangs up. Non-trickle: the offer and the answer each carry their
//! candidates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tracing::{Instrument as _, warn};
use vox_core::CallId;

use crate::Endpoint;
use crate::admission::Peer;

/// The largest offer accepted (a browser's is 3-6 kB).
const MAX_OFFER_BYTES: usize = 64 * 1024;

/// Live browser calls by session id: how `DELETE` tells each that its caller hung up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions(Arc<Mutex<HashMap<String, mpsc::Sender<()>>>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<()>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

fn problem(status: StatusCode, why: impl Into<String>) -> Response {
    let body = serde_json::json!({"error": {"message": why.into()}});
    (status, axum::Json(body)).into_response()
}

/// `POST /whip/{agentId}`
pub(crate) async fn offer(
    State(endpoint): State<Endpoint>,
    Path(agent_id): Path<String>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &endpoint.state;
    let Some(webrtc) = &state.webrtc else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "browser calls are turned off on this server (webrtc.enabled)",
        );
    };
    let is_sdp = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sdp"))
        });
    if !is_sdp {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the offer must be sent as Content-Type: application/sdp",
        );
    }
    if body.len() > MAX_OFFER_BYTES {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an SDP offer is at most {MAX_OFFER_BYTES} bytes"),
        );
    }
    let Ok(offer) = std::str::from_utf8(&body) else {
        return problem(StatusCode::BAD_REQUEST, "the SDP offer is not UTF-8 text");
    };
    // file agents, as on the media WebSocket: only from trusted networks
    if !state.config.trusted_sources.contains(peer.0) {
        metrics::counter!("vox_calls_rejected_total", "reason" => "untrusted_source").increment(1);
        return problem(
            StatusCode::FORBIDDEN,
            "this address is not in media.trusted_sources, and browser calls to file agents need it",
        );
    }
    let Some(session) = state.agents.create(&agent_id) else {
        metrics::counter!("vox_calls_rejected_total", "reason" => "unknown_agent").increment(1);
        return problem(StatusCode::NOT_FOUND, format!("no agent {agent_id:?}"));
    };
    let admission = match state.registry.try_admit() {
        Ok(a) => a,
        Err(e) => {
            let mut res = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{e}; try again later"),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            return res;
        }
    };
    let (answer, call) = match webrtc.answer(offer) {
        Ok(x) => x,
        Err(e) => return problem(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (hangup_tx, hangup_rx) = mpsc::channel(1);
    endpoint.sessions.lock().insert(id.clone(), hangup_tx);
    let call_id = CallId::new(format!("web-{id}"));
    let span = tracing::info_span!("call", call = %call_id, channel = "web", agent = %agent_id);
    let sessions = endpoint.sessions.clone();
    let state = state.clone();
    let session_id = id.clone();
    tokio::spawn(
        async move {
            crate::browser::run(call_id, session, call, hangup_rx, state, admission).await;
            sessions.remove(&session_id);
        }
        .instrument(span),
    );
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_owned()),
            (header::LOCATION, format!("/whip/sessions/{id}")),
        ],
        answer,
    )
        .into_response()
}

/// `DELETE /whip/sessions/{id}`: the caller hangs up.
pub(crate) async fn hangup(State(endpoint): State<Endpoint>, Path(id): Path<String>) -> Response {
    let hangup = endpoint.sessions.lock().remove(&id);
    match hangup {
        Some(h) => {
            let _ = h.send(()).await;
            StatusCode::OK.into_response()
        }
        None => {
            warn!(session = %id, "hang-up of an unknown browser call");
            problem(
                StatusCode::NOT_FOUND,
                "no such session (it ended, or never was)",
            )
        }
    }
}
