//! `vox admin create`: an organization, a business in it, an API client with every scope (or
//! those asked for) and an API key bound to the business, made straight in the database (the
//! API needs a credential before anything else exists).

use serde::Serialize;
use vox_store::Store;

/// Why nothing was created.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A flag's value is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] vox_store::StoreError),
}

/// What was made; the client's secret is shown only this once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The organization.
    pub organization_id: String,
    /// The business.
    pub business_id: String,
    /// The API client's id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Its scopes, space-separated.
    pub scopes: String,
    /// An API key bound to the business, with the same scopes (seed 003's `X-API-Key`);
    /// shown only this once.
    pub api_key: String,
}

/// Creates them; names are trimmed and must be 1 to 200 characters. The client may request
/// `scopes` (space-separated, each one of [`ALL_SCOPES`](crate::ALL_SCOPES)), or every scope.
pub async fn create(
    store: &Store,
    org: &str,
    business: &str,
    phone: Option<&str>,
    scopes: Option<&str>,
) -> Result<Created, AdminError> {
    for (field, value) in [("org", org), ("business", business)] {
        if value.trim().is_empty() || value.trim().chars().count() > 200 {
            return Err(AdminError::Invalid(format!(
                "--{field} must be 1 to 200 characters"
            )));
        }
    }
    if let Some(p) = phone {
        crate::validate::us_phone("phone", p)
            .map_err(|e| AdminError::Invalid(format!("--phone: {}", e.message)))?;
    }
    let scopes = scope_list(scopes)?;
    let o = store.create_organization(org.trim()).await?;
    let b = store.create_business(&o.id, business.trim(), phone).await?;
    let c = store.create_client(&o.id, "admin", &scopes).await?;
    let k = store.create_api_key(&b.id, "admin", &scopes).await?;
    Ok(Created {
        organization_id: o.id,
        business_id: b.id,
        client_id: c.client_id,
        client_secret: c.client_secret,
        scopes: c.scopes.join(" "),
        api_key: k.key,
    })
}

/// `scopes` (space-separated, each one of [`ALL_SCOPES`](crate::ALL_SCOPES)), or every scope.
fn scope_list(scopes: Option<&str>) -> Result<Vec<String>, AdminError> {
    let Some(list) = scopes else {
        return Ok(crate::ALL_SCOPES.iter().map(|s| s.to_string()).collect());
    };
    let asked: Vec<String> = list.split_whitespace().map(str::to_owned).collect();
    if asked.is_empty() {
        return Err(AdminError::Invalid("--scopes names no scope".into()));
    }
    if let Some(bad) = asked
        .iter()
        .find(|s| !crate::ALL_SCOPES.contains(&s.as_str()))
    {
        return Err(AdminError::Invalid(format!(
            "--scopes: no scope {bad:?}; the scopes are: {}",
            crate::ALL_SCOPES.join(" ")
        )));
    }
    Ok(asked)
}

/// A new API key for an existing business (`vox admin api-key`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    /// The business it acts for.
    pub business_id: String,
    /// The key's id.
    pub key_id: String,
    /// The key, shown only this once.
    pub api_key: String,
    /// Its scopes, space-separated.
    pub scopes: String,
}

/// Makes another API key for `business_id` (named `name`, 1 to 200 characters) with
/// `scopes`, or every scope.
pub async fn api_key(
    store: &Store,
    business_id: &str,
    name: &str,
    scopes: Option<&str>,
) -> Result<CreatedKey, AdminError> {
    if name.trim().is_empty() || name.trim().chars().count() > 200 {
        return Err(AdminError::Invalid(
            "--name must be 1 to 200 characters".into(),
        ));
    }
    let scopes = scope_list(scopes)?;
    if !store.business_exists(business_id).await? {
        return Err(AdminError::Invalid(format!(
            "--business {business_id:?}: no such business (vox admin create prints its id)"
        )));
    }
    let k = store
        .create_api_key(business_id, name.trim(), &scopes)
        .await?;
    Ok(CreatedKey {
        business_id: business_id.to_owned(),
        key_id: k.id,
        api_key: k.key,
        scopes: scopes.join(" "),
    })
}
