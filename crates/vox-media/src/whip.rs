//! WHIP signalling (RFC 9725) for browser calls: `POST /whip/{agentId}` with an SDP offer
//! answers `201 Created` with the SDP answer and `Location: /whip/sessions/{id}`; `DELETE`
//! on that location hangs up. Non-trickle: the offer and the answer each carry their
//! candidates.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tracing::{Instrument as _, warn};
use vox_call::OpenCallError;
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

/// Why a web call's token does not open its call, as an HTTP answer.
fn refused(why: &OpenCallError) -> Response {
    let status = match why {
        OpenCallError::MalformedToken
        | OpenCallError::InvalidToken
        | OpenCallError::ExpiredToken => StatusCode::UNAUTHORIZED,
        OpenCallError::WrongAgent => StatusCode::FORBIDDEN,
        OpenCallError::UnknownCall | OpenCallError::AgentDeleted => StatusCode::NOT_FOUND,
        OpenCallError::AlreadyConnected => StatusCode::CONFLICT,
        OpenCallError::NotServed | OpenCallError::RuntimeUnavailable | OpenCallError::Internal => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    let mut res = problem(status, why.to_string());
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    res
}

/// `POST /whip/{agentId}`: with `Authorization: Bearer` and `?callId=` (a web call of an API
/// agent, from `POST .../voice-agents/{agentId}/web-call`), or from `media.trusted_sources`
/// naming a file agent.
pub(crate) async fn offer(
    State(endpoint): State<Endpoint>,
    Path(agent_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
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
    if let Err(e) = vox_webrtc::check_offer(offer) {
        return problem(StatusCode::BAD_REQUEST, e.to_string());
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // file agents, as on the media WebSocket: only from trusted networks
    if bearer.is_none() && !state.config.trusted_sources.contains(peer.0) {
        metrics::counter!("vox_calls_rejected_total", "reason" => "untrusted_source").increment(1);
        return problem(
            StatusCode::FORBIDDEN,
            "browser calls need a web-call token (Authorization: Bearer), or an address in media.trusted_sources to call a file agent",
        );
    }
    let file_session = match bearer {
        Some(_) => None,
        None => match state.agents.create(&agent_id) {
            Some(s) => Some(s),
            None => {
                metrics::counter!("vox_calls_rejected_total", "reason" => "unknown_agent")
                    .increment(1);
                return problem(StatusCode::NOT_FOUND, format!("no agent {agent_id:?}"));
            }
        },
    };
    // a slot before the call is opened: an opened call is IN_PROGRESS from then on
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
    let (session, call_id) = match (file_session, bearer) {
        (Some(s), _) => (s, format!("web-{}", uuid::Uuid::new_v4().simple())),
        (None, token) => {
            let Some(call_id) = query.get("callId").filter(|c| !c.is_empty()) else {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "a web-call token goes with its callId: POST to the whipUrl the web-call answer gave",
                );
            };
            let Some(placed) = &state.placed else {
                return refused(&OpenCallError::NotServed);
            };
            let params = BTreeMap::from([
                ("callId".to_owned(), call_id.clone()),
                ("agentId".to_owned(), agent_id.clone()),
                ("token".to_owned(), token.unwrap_or_default().to_owned()),
            ]);
            match placed.open(&params, "").await {
                Ok(s) => (s, call_id.clone()),
                Err(why) => {
                    warn!(agent = %agent_id, reason = %why, "refusing a web call");
                    metrics::counter!("vox_calls_rejected_total", "reason" => "bad_call_token")
                        .increment(1);
                    return refused(&why);
                }
            }
        }
    };
    let (answer, call) = match webrtc.answer(offer) {
        Ok(x) => x,
        Err(e) => {
            // an opened call's record ends with it
            if let Some(o) = &session.services.observer {
                o.ended(None);
            }
            return problem(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (hangup_tx, hangup_rx) = mpsc::channel(1);
    endpoint.sessions.lock().insert(id.clone(), hangup_tx);
    let call_id = CallId::new(call_id);
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
