//! The tenant of a request to an API whose paths name no business (seeds 003 and 001): one
//! business, found from the credential.
//!
//! - `X-API-Key: vk_…` (or `Authorization: Bearer vk_…`): an API key, bound to one business
//!   (`vox admin create` makes one; `vox admin api-key` more).
//! - `Authorization: Bearer <token>` from `POST /v1/oauth/token`: the organization's business
//!   named by `X-Tenant-Id`, or its only business.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use vox_store::API_KEY_PREFIX;

use super::{ErrorStyle, SeedError};
use crate::{ApiError, ApiState};

/// The header naming the business a token acts for.
pub(crate) const TENANT_HEADER: &str = "x-tenant-id";

/// A request's tenant and scopes, refused in the seed's error shape.
#[derive(Debug, Clone)]
pub(crate) struct TenantAuth<S> {
    /// The organization.
    pub organization_id: String,
    /// The business (the seed's `tenantId`).
    pub business_id: String,
    scopes: Vec<String>,
    style: PhantomData<S>,
}

impl<S> TenantAuth<S> {
    /// Ok if the credential carries `scope`, else 403.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden_scope(scope))
        }
    }
}

impl<S, St> FromRequestParts<St> for TenantAuth<S>
where
    S: ErrorStyle,
    ApiState: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = SeedError<S>;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let app = ApiState::from_ref(state);
        S::check_headers(parts)?;
        let header_text = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let bearer = header_text(header::AUTHORIZATION.as_str()).and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::trim)
        });
        let key =
            header_text("x-api-key").or_else(|| bearer.filter(|b| b.starts_with(API_KEY_PREFIX)));
        if let Some(key) = key {
            let k = app
                .store
                .api_key(key)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))?;
            return Ok(Self {
                organization_id: k.organization_id,
                business_id: k.business_id,
                scopes: k.scopes,
                style: PhantomData,
            });
        }
        if bearer.is_none() {
            return Err(ApiError::unauthorized(
                "missing credentials: X-API-Key: <key>, or Authorization: Bearer <token> (POST /v1/oauth/token)",
            )
            .into());
        }
        let tenant = header_text(TENANT_HEADER).map(str::to_owned);
        let auth = crate::Auth::from_request_parts(parts, state).await?;
        let businesses = app.store.business_ids(&auth.organization_id).await?;
        let business_id = match tenant.as_deref() {
            Some(b) if businesses.iter().any(|id| id == b) => b.to_owned(),
            Some(b) => {
                return Err(ApiError {
                    status: axum::http::StatusCode::FORBIDDEN,
                    code: "FORBIDDEN",
                    message: format!("X-Tenant-Id {b:?} is not a business of this organization"),
                    field: None,
                    retry_after: None,
                }
                .into());
            }
            None if businesses.len() == 1 => businesses[0].clone(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "this organization has {} businesses: name one with the X-Tenant-Id header, or use an API key bound to one",
                    businesses.len()
                ))
                .into());
            }
        };
        Ok(Self {
            organization_id: auth.organization_id.clone(),
            business_id,
            scopes: auth.scopes().to_vec(),
            style: PhantomData,
        })
    }
}
