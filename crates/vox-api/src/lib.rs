//! The control-plane REST API: the Partner API of seed 002 under `/v1`.
//!
//! Every route but `POST /v1/oauth/token` takes a bearer token ([`auth::Auth`]) and checks
//! its scope; business routes look the business up together with the token's organization,
//! so another tenant's business answers 404 exactly like a missing one. Errors are one
//! [`ApiError`] shape.

pub mod admin;
mod agent_settings;
mod agents;
pub mod auth;
mod calls;
pub mod campaigns;
mod compat;
pub mod crm;
mod dial_policy;
mod error;
pub mod extract;
pub mod files;
pub mod openapi;
mod rate;
pub mod schedule;
mod templates;
mod tools;
mod validate;
mod voice_ai;
mod voice_calls;
mod web_calls;
mod webhooks;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vox_store::Store;

pub use agent_settings::{CallDefaults, SpeechLanguages};
pub use auth::{ALL_SCOPES, Auth};
pub use calls::{DialError, DialRequest, Dialer};
pub use dial_policy::DialPolicy;
pub use error::ApiError;
pub use rate::OutboundRate;
pub use web_calls::{WebCallGrant, WebCallTokens};

/// A TTS voice agents can use.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Voice {
    /// The id agents name in `voiceId`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind of voice.
    pub category: String,
    /// A line about it.
    pub description: String,
    /// A sample of it, if there is one.
    pub preview_url: Option<String>,
}

/// What the API's handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// Lifetime of issued tokens.
    pub token_ttl_s: i64,
    /// The installed voices.
    pub voices: std::sync::Arc<Vec<Voice>>,
    /// Places outbound calls (none: outbound calls fail with a clear message).
    pub dialer: Option<std::sync::Arc<dyn Dialer>>,
    /// Mints browser calls' tokens (none: web calls answer 503).
    pub web_calls: Option<std::sync::Arc<dyn WebCallTokens>>,
    /// The STUN/TURN servers a web call's browser is given (`iceServers`; `webrtc.ice_servers`).
    pub web_ice_servers: serde_json::Value,
    /// Where uploaded files' bytes are kept.
    pub files_dir: std::path::PathBuf,
    /// The largest file upload accepted.
    pub max_upload_bytes: usize,
    /// Where call recordings are (`{dir}/{businessId}/{callId}.wav`).
    pub recordings_dir: std::path::PathBuf,
    /// Background work (file processing), stopped and awaited at shutdown.
    pub tasks: vox_call::Tasks,
    /// The numbers businesses may dial (outbound calls, transfer destinations).
    pub dial_policy: std::sync::Arc<DialPolicy>,
    /// Outbound calls each business may start per minute.
    pub outbound_rate: std::sync::Arc<OutboundRate>,
    /// Shares businesses' Google Calendars with Vox's Google account (`tools.calendar =
    /// "google"`); none: the integration only records the calendar id (built-in calendar).
    pub calendar_sharing: Option<vox_tools::calendar::CalendarSharing>,
    /// The languages the voice agents' speech stack can hold a call in.
    pub speech_languages: SpeechLanguages,
    /// What agents' calls run by where an agent sets nothing (`[conversation]`).
    pub call_defaults: CallDefaults,
    /// Signs and checks links that open without a token (seed 004's recordings).
    pub links: std::sync::Arc<vox_crypto::link::LinkSigner>,
    /// How long such a link opens after it is handed out.
    pub link_ttl: std::time::Duration,
    /// The base URL this server is reached at (`telephony.public_url`; empty: the request's
    /// host).
    pub public_url: String,
}

/// `page` / `page_size` of list routes (seed 002: default 1 and 10, at most 100).
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub(crate) page: Option<String>,
    pub(crate) page_size: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub size: u32,
}

impl PageQuery {
    /// Validates, naming the field at fault.
    pub fn page(&self) -> Result<Page, ApiError> {
        let num =
            |field: &str, v: &Option<String>, default: u32, max: u32| -> Result<u32, ApiError> {
                match v {
                    None => Ok(default),
                    Some(s) => match s.trim().parse::<u32>() {
                        Ok(n) if (1..=max).contains(&n) => Ok(n),
                        _ => Err(ApiError::invalid(
                            field,
                            format!("{field} must be an integer from 1 to {max}, got {s:?}"),
                        )),
                    },
                }
            };
        Ok(Page {
            page: num("page", &self.page, 1, u32::MAX)?,
            size: num("page_size", &self.page_size, 10, 100)?,
        })
    }
}

impl Page {
    /// Rows to skip.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1).saturating_mul(i64::from(self.size))
    }

    /// Rows to return.
    pub fn limit(self) -> i64 {
        i64::from(self.size)
    }

    /// The list response `{items, page, page_size, total}` for this page.
    pub fn body(self, items: Vec<serde_json::Value>, total: i64) -> Json<serde_json::Value> {
        Json(
            serde_json::json!({"items": items, "page": self.page, "page_size": self.size, "total": total}),
        )
    }
}

/// A page of a list: `{items, page, page_size, total}`.
#[derive(Debug, Serialize)]
pub struct Paged<T> {
    items: Vec<T>,
    page: u32,
    page_size: u32,
    total: usize,
}

impl<T: Clone> Paged<T> {
    /// The `page` of `all`.
    pub fn of(all: &[T], page: Page) -> Self {
        let start = (page.page as usize - 1).saturating_mul(page.size as usize);
        let items = all
            .iter()
            .skip(start)
            .take(page.size as usize)
            .cloned()
            .collect();
        Self {
            items,
            page: page.page,
            page_size: page.size,
            total: all.len(),
        }
    }
}

/// The `/v1` routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/docs", get(openapi::docs))
        .route("/v1/oauth/token", post(auth::token))
        .route("/v1/voices", get(list_voices))
        .route("/v1/voices/{voice_id}", get(get_voice))
        .route("/v1/tools", get(list_templates))
        .route("/v1/tools/{tool_id}", get(get_template))
        .route(
            "/v1/businesses/{business_id}/tools",
            get(tools::list).post(tools::create),
        )
        .route(
            "/v1/businesses/{business_id}/tools/{tool_id}",
            get(tools::get).patch(tools::update).delete(tools::delete),
        )
        .route(
            "/v1/businesses/{business_id}/files",
            get(files::list)
                .post(files::upload)
                .layer(DefaultBodyLimit::max(
                    state.max_upload_bytes.saturating_add(64 << 10),
                )),
        )
        .route(
            "/v1/businesses/{business_id}/files/{file_id}",
            get(files::get).delete(files::delete),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents",
            get(agents::list).post(agents::create),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents/{agent_id}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents/{agent_id}/deploy",
            post(agents::deploy),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents/{agent_id}/call",
            post(calls::outbound),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents/{agent_id}/web-call",
            post(web_calls::create),
        )
        .route(
            "/v1/businesses/{business_id}/calls",
            get(calls::list_business),
        )
        .route(
            "/v1/businesses/{business_id}/calls/{call_id}",
            get(calls::get_business),
        )
        .route("/v1/organizations/calls", get(calls::list_organization))
        .route(
            "/v1/organizations/calls/{call_id}",
            get(calls::get_organization),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents/{agent_id}/on",
            patch(agents::on_duty),
        )
        .route(
            "/v1/businesses/{business_id}/voice-agents/{agent_id}/off",
            patch(agents::off_duty),
        )
        .route(
            "/v1/businesses/{business_id}/integrations/google-calendar",
            get(tools::get_calendar).post(tools::set_calendar),
        )
        .route(
            "/v1/businesses/{business_id}/calls/{call_id}/recording",
            get(calls::recording),
        )
        .route(
            "/v1/businesses/{business_id}/webhook",
            get(webhooks::get)
                .put(webhooks::put)
                .delete(webhooks::delete),
        )
        .route(
            "/v1/businesses/{business_id}/campaigns",
            get(campaigns::list).post(campaigns::create),
        )
        .route(
            "/v1/businesses/{business_id}/campaigns/{campaign_id}",
            get(campaigns::get),
        )
        .route(
            "/v1/businesses/{business_id}/campaigns/{campaign_id}/contacts",
            get(campaigns::contacts_of),
        )
        .route(
            "/v1/businesses/{business_id}/campaigns/{campaign_id}/pause",
            post(campaigns::pause),
        )
        .route(
            "/v1/businesses/{business_id}/campaigns/{campaign_id}/resume",
            post(campaigns::resume),
        )
        .route(
            "/v1/businesses/{business_id}/campaigns/{campaign_id}/stop",
            post(campaigns::stop),
        )
        .merge(voice_ai::routes())
        .merge(voice_calls::routes())
        .merge(crm::routes())
        .fallback(|| async { ApiError::not_found("route") })
        .with_state(state)
}

async fn list_voices(
    auth: Auth,
    State(state): State<ApiState>,
) -> Result<Json<Vec<Voice>>, ApiError> {
    auth.require("voices:read")?;
    Ok(Json(state.voices.as_ref().clone()))
}

async fn get_voice(
    auth: Auth,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Voice>, ApiError> {
    auth.require("voices:read")?;
    state
        .voices
        .iter()
        .find(|v| v.id == id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("voice"))
}

async fn list_templates(
    auth: Auth,
    Query(q): Query<PageQuery>,
) -> Result<Json<Paged<serde_json::Value>>, ApiError> {
    auth.require("tools:read")?;
    Ok(Json(Paged::of(&templates::all(), q.page()?)))
}

async fn get_template(
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.require("tools:read")?;
    templates::all()
        .into_iter()
        .find(|t| t["id"] == id.as_str())
        .map(Json)
        .ok_or_else(|| ApiError::not_found("tool template"))
}
