//! The console: `GET /console`, a page Vox serves itself (no CDN: it works offline) from
//! which a developer calls an agent over WHIP and watches the call: the live transcript,
//! each turn's latency, the tool calls, and afterwards the call's record.
//!
//! The page is three files compiled into the binary (`crates/vox-media/console/`); its one
//! server-side question is `GET /console/agents`, the file agents this browser may call
//! (those of `media.trusted_sources`, as for WHIP itself). API agents are listed by the page
//! with the developer's own API token, through the control-plane API.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Endpoint;
use crate::admission::Peer;

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// Only the page's own files run; it talks to its own origin only (WebRTC media is not
/// under `connect-src`).
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; media-src 'self' blob: mediastream:; img-src 'self' data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// `GET /console`
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

/// `GET /console/console.js`
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /console/console.css`
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// `GET /console/agents`: `{"webrtc": bool, "fileAgents": bool, "agents": [{id, name}],
/// "iceServers": [..]}`. The file agents (and the STUN/TURN servers, whose TURN credentials
/// are worth keeping) go only to the addresses that may call them; to others both lists are
/// empty and `fileAgents` false (the page then asks for an API token, and an API agent's
/// web call brings its own `iceServers`).
pub(crate) async fn agents(State(endpoint): State<Endpoint>, peer: Peer) -> Response {
    let state = &endpoint.state;
    let trusted = state.config.trusted_sources.contains(peer.0);
    let (agents, ice_servers) = if trusted {
        (
            state.agents.listing(),
            serde_json::to_value(&state.config.ice_servers).unwrap_or_default(),
        )
    } else {
        (Vec::new(), json!([]))
    };
    let mut res = Json(json!({
        "webrtc": state.webrtc.is_some(),
        "fileAgents": trusted,
        "agents": agents,
        "iceServers": ice_servers,
    }))
    .into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
