//! Seed 000, the Voice AI API (`/voice-ai/...`), over the model: its agents are model agents
//! (seed 002's API reads the same ones), its calls the same call records. Every request
//! carries the `Version` header the seed requires and a token with the seed's scopes; a
//! `locationId` is a Vox business of the token's organization (another tenant's, or none,
//! is refused alike: 403). Errors are the seed's `{statusCode, message, error}`, invalid
//! input 422 ([`LeadConnector`]). `map.rs` is where seed names meet the model's.

mod action_map;
mod actions;
mod agents;
mod call_logs;
mod map;

use axum::Router;
use axum::routing::get;
use vox_store::Business;

use crate::compat::{LeadConnector, SeedAuth, SeedError};
use crate::{ApiError, ApiState};

/// A seed-000 route's error.
type Error = SeedError<LeadConnector>;
/// A seed-000 route's token (and `Version` header).
type VoiceAiAuth = SeedAuth<LeadConnector>;

/// The `/voice-ai` routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/voice-ai/agents", get(agents::list).post(agents::create))
        .route(
            "/voice-ai/agents/{agent_id}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route("/voice-ai/dashboard/call-logs", get(call_logs::list_logs))
        .route(
            "/voice-ai/dashboard/call-logs/{call_id}",
            get(call_logs::get_log),
        )
        .route("/voice-ai/actions", axum::routing::post(actions::create))
        .route(
            "/voice-ai/actions/{action_id}",
            get(actions::get)
                .put(actions::update)
                .delete(actions::delete),
        )
}

/// The business a `locationId` names, if the token's organization has it.
async fn location(state: &ApiState, auth: &VoiceAiAuth, id: &str) -> Result<Business, Error> {
    state
        .store
        .business(&auth.organization_id, id)
        .await?
        .ok_or_else(|| {
            ApiError {
                status: axum::http::StatusCode::FORBIDDEN,
                code: "FORBIDDEN",
                message: format!("the token has no access to location {id:?}"),
                field: None,
                retry_after: None,
            }
            .into()
        })
}

/// A required query parameter (422 naming it when absent or blank).
fn required<'a>(
    q: &'a std::collections::HashMap<String, String>,
    key: &str,
) -> Result<&'a str, Error> {
    q.get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(key, format!("{key} should not be empty")).into())
}
