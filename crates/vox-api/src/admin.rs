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
    let scopes: Vec<String> = match scopes {
        None => crate::ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
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
            asked
        }
    };
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
