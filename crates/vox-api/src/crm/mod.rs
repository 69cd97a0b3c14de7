//! Seed 003, the agent-call and CRM API (`/api/v1/...`), over the model: its contacts are a
//! business's contacts with addresses per channel and custom fields; its tasks are assigned
//! to users or to AI employees (the business's agents). The tenant is the
//! business of the credential ([`TenantAuth`]: an `X-API-Key` bound to one business, or a
//! token and `X-Tenant-Id`); ids the seed shows as numbers are integers; errors are the
//! seed's `{code, error, message, details}` ([`Tsoa`]). `map.rs` is where the seed's names
//! meet the model's, `query.rs` its filter, search and sort parameters.

mod agent_calls;
mod calls;
mod contacts;
mod conversations;
mod custom_fields;
mod map;
mod query;
pub mod task_calls;
mod tasks;

use axum::Router;
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::compat::{SeedError, TenantAuth, Tsoa};
use crate::{ApiError, ApiState};

pub(crate) use calls::get_recording;

/// A seed-003 route's error.
type Error = SeedError<Tsoa>;
/// A seed-003 route's tenant and scopes.
type CrmAuth = TenantAuth<Tsoa>;

/// The seed-003 routes.
pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/api/v1/contacts",
            get(contacts::list).post(contacts::create),
        )
        .route("/api/v1/contacts/search", post(contacts::search))
        .route(
            "/api/v1/contacts/{id}",
            get(contacts::get)
                .put(contacts::update)
                .delete(contacts::delete),
        )
        .route("/api/v1/calls", post(calls::create))
        .route("/api/v1/calls/agent", post(agent_calls::by_agent))
        .route("/api/v2/calls", post(agent_calls::ad_hoc))
        .route("/api/v1/calls/{call_id}", get(calls::get))
        .route("/api/v1/calls/{call_id}/recording", get(calls::recording))
        .route(
            "/api/v1/calls/{call_id}/transcription",
            get(calls::transcription),
        )
        .route("/api/v1/conversations", post(conversations::create))
        .route(
            "/api/v1/conversations/bulk",
            post(conversations::bulk_create).put(conversations::bulk_update),
        )
        .route("/api/v1/conversations/{id}", get(conversations::get))
        .route("/api/v1/tasks", get(tasks::list).post(tasks::create))
        .route(
            "/api/v1/tasks/{task_id}",
            get(tasks::get).put(tasks::update).delete(tasks::delete),
        )
        .route(
            "/api/v1/custom-fields/definitions",
            get(custom_fields::list).post(custom_fields::create),
        )
        .route(
            "/api/v1/custom-fields/definitions/{id}",
            get(custom_fields::get)
                .put(custom_fields::update)
                .delete(custom_fields::delete),
        )
        .route(
            "/api/v1/custom-fields/definitions/{id}/options",
            get(custom_fields::options).post(custom_fields::create_option),
        )
        .route(
            "/api/v1/custom-fields/definitions/{id}/options/{option_id}",
            get(custom_fields::get_option)
                .put(custom_fields::update_option)
                .delete(custom_fields::delete_option),
        )
}

/// The read-only fields an update body may echo back (`id`, `tenantId`, `createdAt`,
/// `updatedAt`): ignored when they match, refused when they name another record or tenant.
/// `id` is the record's (a number or a string, as the seed shows it), none on create.
fn read_only(m: &Map<String, Value>, id: Option<&str>, tenant: &str) -> Result<(), ApiError> {
    let same = |v: &Value, id: &str| match v {
        Value::String(s) => s == id,
        Value::Number(n) => n
            .as_f64()
            .is_some_and(|n| n.fract() == 0.0 && format!("{}", n as i64) == id),
        _ => false,
    };
    match (m.get("id"), id) {
        (None | Some(Value::Null), _) => {}
        (Some(v), Some(id)) if same(v, id) => {}
        (Some(v), Some(id)) => {
            return Err(ApiError::invalid(
                "id",
                format!("id {v} does not match the path's {id}"),
            ));
        }
        (Some(_), None) => return Err(ApiError::invalid("id", "id is set by the server")),
    }
    match m.get("tenantId") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == tenant => {}
        Some(v) => {
            return Err(ApiError::invalid(
                "tenantId",
                format!("tenantId {v} is not the tenant of these credentials"),
            ));
        }
    }
    Ok(())
}
