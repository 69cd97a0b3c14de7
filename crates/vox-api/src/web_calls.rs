//! `POST /v1/businesses/{businessId}/voice-agents/{agentId}/web-call`: a browser call to an
//! API agent. The answer is where to send the browser's WHIP offer and the short-lived token
//! to send it with (`Authorization: Bearer`); the call's record exists from now on
//! (SCHEDULED, channel `web`), and ends `expired` if no browser connects in time.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use vox_store::{CallChannel, CallKind, CallRecord, rfc3339};

use crate::tools::business;
use crate::{ApiError, ApiState, Auth};

/// A web call's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebCallGrant {
    /// Where the browser POSTs its offer (absolute, with the call's id).
    pub whip_url: String,
    /// The bearer token for that request.
    pub token: String,
    /// When the token stops being accepted (Unix ms).
    pub expires_at: i64,
}

/// Mints web calls' tokens (the media side verifies them); the composition root provides it.
pub trait WebCallTokens: Send + Sync + std::fmt::Debug {
    /// Credentials for call `call_id` of agent `agent_id`.
    fn grant(&self, call_id: &str, agent_id: &str) -> WebCallGrant;
}

/// `POST .../voice-agents/{agentId}/web-call`
pub(crate) async fn create(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, agent_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // as placing a phone call: a call of the agent, under its update scope
    auth.require("voice-agents:update")?;
    let business = business(&state, &auth, &biz).await?;
    let agent = state
        .store
        .agent(&business.id, &agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("voice agent"))?;
    let Some(tokens) = state.web_calls.clone() else {
        return Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "UNAVAILABLE",
            message: "browser calls are turned off on this server (webrtc.enabled)".into(),
            field: None,
            retry_after: None,
        });
    };
    let record = state
        .store
        .create_call(CallRecord {
            agent_id: Some(agent.id.clone()),
            channel: CallChannel::Web,
            ..CallRecord::new(&business.id, CallKind::Inbound)
        })
        .await?;
    let grant = tokens.grant(&record.id, &agent.id);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "callId": record.id, "whipUrl": grant.whip_url, "token": grant.token,
            "expiresAt": rfc3339(grant.expires_at), "iceServers": state.web_ice_servers,
        })),
    ))
}
