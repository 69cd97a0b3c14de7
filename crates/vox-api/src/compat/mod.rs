//! What the compatibility APIs share: the APIs of seeds 000 (Voice AI), 001, 003 and 004
//! (Voice Calls) are thin layers over Vox's one model (the agents, tools and call records
//! the Partner API of seed 002 manages), each speaking its users' dialect at the edge.
//!
//! - **Tokens**: the same `POST /v1/oauth/token` bearer tokens, carrying each seed's own scope
//!   names ([`crate::auth::ALL_SCOPES`] lists them by seed; `vox admin create --scopes` grants
//!   a subset). [`SeedAuth`] is the token check with the seed's error body.
//! - **Errors**: [`SeedError`] carries Vox's [`ApiError`] to the edge and renders it in the
//!   seed's shape ([`ErrorStyle`]): the same status decisions everywhere, one body per seed.
//! - **Names**: each seed's module has one `map.rs` that turns its names into the model's and
//!   back; handlers never write the model's document by hand.
//! - **Tenants**: seeds whose paths name no business (003, 001) act for the business of the
//!   credential ([`TenantAuth`]: an API key bound to one, or a token and `X-Tenant-Id`).
//! - **Paging and ids**: each seed's own query names and limits ([`Paging`], and opaque page
//!   tokens: [`TokenPaging`]); ids are Vox's opaque strings, or integers where the seed shows
//!   numbers (seed 003's contacts and custom fields).

pub(crate) mod errors;
mod page_token;
mod paging;
mod tenant;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;

pub(crate) use errors::{ErrorStyle, LeadConnector, ProblemDetails, SeedError, Tsoa};
pub(crate) use page_token::TokenPaging;
pub(crate) use paging::Paging;
pub(crate) use tenant::TenantAuth;

use crate::{ApiState, Auth};

/// A request's bearer token, refused in the seed's error shape.
#[derive(Debug, Clone)]
pub(crate) struct SeedAuth<S>(pub Auth, std::marker::PhantomData<S>);

impl<S> std::ops::Deref for SeedAuth<S> {
    type Target = Auth;
    fn deref(&self) -> &Auth {
        &self.0
    }
}

impl<S, St> FromRequestParts<St> for SeedAuth<S>
where
    S: ErrorStyle,
    ApiState: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = SeedError<S>;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        S::check_headers(parts)?;
        Ok(Self(auth, std::marker::PhantomData))
    }
}
