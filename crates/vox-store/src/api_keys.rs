//! API keys: a secret bound to one business (the tenant of seed 003's API, sent as
//! `X-API-Key`), with scopes. Like client secrets, only the key's SHA-256 is stored.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, digest, new_id, new_secret, now_ms, scopes_of};

/// The prefix of every API key, so a bearer credential can be told apart from a token.
pub const API_KEY_PREFIX: &str = "vk_";

/// A valid key's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id (not secret).
    pub id: String,
    /// The business it acts for.
    pub business_id: String,
    /// That business's organization.
    pub organization_id: String,
    /// Its name.
    pub name: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

/// A key as created: the secret is shown this once.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Its id.
    pub id: String,
    /// The key itself (`vk_…`).
    pub key: String,
}

impl Store {
    /// Makes an API key for `business_id` with `scopes`.
    pub async fn create_api_key(
        &self,
        business_id: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<NewApiKey, StoreError> {
        let id = new_id("key");
        let key = format!("{API_KEY_PREFIX}{}", new_secret());
        sqlx::query("INSERT INTO api_keys (id, business_id, name, key_sha256, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(business_id)
            .bind(name)
            .bind(digest(&key))
            .bind(scopes.join(" "))
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(NewApiKey { id, key })
    }

    /// Whether a business with this id exists.
    pub async fn business_exists(&self, business_id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT id FROM businesses WHERE id = $1")
            .bind(business_id)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// The grant of `key`, if it is a key.
    pub async fn api_key(&self, key: &str) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<AnyRow> = sqlx::query("SELECT k.id, k.business_id, b.organization_id, k.name, k.scopes FROM api_keys k JOIN businesses b ON b.id = k.business_id WHERE k.key_sha256 = $1")
            .bind(digest(key))
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(ApiKey {
                id: r.try_get("id")?,
                business_id: r.try_get("business_id")?,
                organization_id: r.try_get("organization_id")?,
                name: r.try_get("name")?,
                scopes: scopes_of(&r.try_get::<String, _>("scopes")?),
            })
        })
        .transpose()
    }
}
