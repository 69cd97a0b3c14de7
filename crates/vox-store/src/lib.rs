//! Control-plane storage over sqlx: SQLite by default (a file under the data directory),
//! PostgreSQL when given a `postgres://` URL. One set of queries runs on both through sqlx's
//! Any driver (placeholders `$1`, which SQLite also accepts); migrations are embedded per
//! backend and applied at connect.
//!
//! Secrets are never stored: API client secrets and access tokens are random 256-bit
//! strings kept as their SHA-256 (a slow password hash buys nothing at that entropy).

mod agents;
mod api_keys;
mod appointments;
mod call_state;
mod calls;
mod campaigns;
mod contacts;
mod conversations;
mod crm_calls;
mod custom_fields;
mod file_calls;
mod files;
mod numbers;
mod secrets;
mod tasks;
mod tool_runs;
mod tools;
mod webhooks;

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub use agents::AgentRecord;
pub use api_keys::{API_KEY_PREFIX, ApiKey, NewApiKey};
pub use appointments::Appointment;
pub use call_state::{CallChannel, CallKind, CallStatus, EndedReason};
pub use calls::{CallFilter, CallRecord, CallSearch, OrderBy};
pub use campaigns::{Campaign, CampaignContact, CampaignState, ContactState, NewContact, Progress};
pub use contacts::{
    Address, ChannelType, Contact, ContactField, ContactFields, ContactQuery, Filter, FilterValue,
    Op,
};
pub use conversations::{ChannelSession, Conversation};
pub use crm_calls::CrmCall;
pub use custom_fields::{
    EntityType, FieldChange, FieldDefinition, FieldOption, FieldType, Order, StoredValue, Window,
};
pub use file_calls::FileCallSetup;
pub use files::{Chunk, FileRecord};
pub use numbers::NumberClaim;
pub use tasks::{PartyType, Task, TaskQuery, TaskStatus};
pub use tool_runs::ToolRun;
pub use tools::{CalendarIntegration, ToolRecord};
pub use webhooks::{Delivery, Webhook};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL names no supported backend.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    Url(String),
    /// A referenced row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored value does not have the shape its reader needs.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The change conflicts with what is stored (a booking over another).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A sealed secret could not be opened (see `secrets.rs`).
    #[error("sealed secret: {0}")]
    Sealed(String),
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (the default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Seals secrets at rest (see `secrets.rs`); none: kept in plain text.
    sealer: Option<std::sync::Arc<vox_crypto::seal::Sealer>>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 (UTC) of a Unix-milliseconds time.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A new id with a readable prefix (`biz_…`, `org_…`): a UUID v7, so ids sort in creation
/// order even within one millisecond (lists order by creation time, then id).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A new random secret (256 bits from the OS generator, hex).
pub fn new_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// SHA-256 of a secret, hex.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// A business (belongs to one organization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    /// Its id.
    pub id: String,
    /// The organization it belongs to.
    pub organization_id: String,
    /// Its name.
    pub name: String,
    /// Its main phone number (E.164), if known.
    pub phone_number: Option<String>,
}

/// An API client's credentials, as created (the secret is shown once and not stored).
#[derive(Debug, Clone)]
pub struct NewClient {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub client_secret: String,
    /// Scopes it may request.
    pub scopes: Vec<String>,
}

/// What a valid bearer token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The organization.
    pub organization_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

fn scopes_of(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` — created if missing — or `postgres://…`) and
    /// applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            if path != ":memory:"
                && let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                let _ = std::fs::create_dir_all(dir);
            }
            let sep = if url.contains('?') { '&' } else { '?' };
            (
                Backend::Sqlite,
                if url.contains("mode=") {
                    url.to_owned()
                } else {
                    format!("{url}{sep}mode=rwc")
                },
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::Url(url.to_owned()));
        };
        // SQLite allows one writer: a single connection avoids "database is locked" and is
        // plenty for the control plane; PostgreSQL gets a small pool.
        let max = if backend == Backend::Sqlite { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Durability: WAL with synchronous = NORMAL. A committed write
                        // survives the process dying (kill -9, a panic, OOM): what crash
                        // recovery relies on. After an OS crash or power loss the last
                        // commits before it may be lost, never the database's consistency;
                        // the alternative (FULL) costs an fsync per transcript line.
                        for pragma in [
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE.run(&pool).await?,
            Backend::Postgres => POSTGRES.run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            sealer: None,
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for the other stores of this crate's users.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Creates an organization.
    pub async fn create_organization(&self, name: &str) -> Result<Organization, StoreError> {
        let id = new_id("org");
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(Organization {
            id,
            name: name.to_owned(),
        })
    }

    /// Creates a business in an organization.
    pub async fn create_business(
        &self,
        organization_id: &str,
        name: &str,
        phone_number: Option<&str>,
    ) -> Result<Business, StoreError> {
        let id = new_id("biz");
        sqlx::query("INSERT INTO businesses (id, organization_id, name, phone_number, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(organization_id)
            .bind(name)
            .bind(phone_number)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(Business {
            id,
            organization_id: organization_id.to_owned(),
            name: name.to_owned(),
            phone_number: phone_number.map(str::to_owned),
        })
    }

    /// The business `id` if it belongs to `organization_id` (another tenant's business is
    /// indistinguishable from a missing one).
    pub async fn business(
        &self,
        organization_id: &str,
        id: &str,
    ) -> Result<Option<Business>, StoreError> {
        let row: Option<AnyRow> =
            sqlx::query("SELECT id, organization_id, name, phone_number FROM businesses WHERE id = $1 AND organization_id = $2").bind(id).bind(organization_id).fetch_optional(&self.pool).await?;
        row.map(|r| {
            Ok(Business {
                id: r.try_get("id")?,
                organization_id: r.try_get("organization_id")?,
                name: r.try_get("name")?,
                phone_number: r.try_get("phone_number")?,
            })
        })
        .transpose()
    }

    /// The ids of an organization's businesses, oldest first.
    pub async fn business_ids(&self, organization_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM businesses WHERE organization_id = $1 ORDER BY created_at, id",
        )
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get("id").map_err(StoreError::from))
            .collect()
    }

    /// Creates an API client for an organization with the given scopes.
    pub async fn create_client(
        &self,
        organization_id: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<NewClient, StoreError> {
        let client_id = new_id("cli");
        let client_secret = new_secret();
        sqlx::query("INSERT INTO api_clients (id, organization_id, name, secret_sha256, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&client_id)
            .bind(organization_id)
            .bind(name)
            .bind(digest(&client_secret))
            .bind(scopes.join(" "))
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(NewClient {
            client_id,
            client_secret,
            scopes: scopes.to_vec(),
        })
    }

    /// Checks client credentials; the client's organization and allowed scopes if valid.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Option<(String, Vec<String>)>, StoreError> {
        let row: Option<AnyRow> = sqlx::query(
            "SELECT organization_id, secret_sha256, scopes FROM api_clients WHERE id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get("secret_sha256")?;
        if !constant_time_eq(stored.as_bytes(), digest(client_secret).as_bytes()) {
            return Ok(None);
        }
        Ok(Some((
            row.try_get("organization_id")?,
            scopes_of(&row.try_get::<String, _>("scopes")?),
        )))
    }

    /// Issues a bearer token valid for `ttl_s` seconds; returns the token.
    pub async fn issue_token(
        &self,
        client_id: &str,
        organization_id: &str,
        scopes: &[String],
        ttl_s: i64,
    ) -> Result<String, StoreError> {
        let token = new_secret();
        let now = now_ms();
        // expired tokens are swept as new ones are issued
        sqlx::query("DELETE FROM access_tokens WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO access_tokens (token_sha256, client_id, organization_id, scopes, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest(&token))
            .bind(client_id)
            .bind(organization_id)
            .bind(scopes.join(" "))
            .bind(now + ttl_s * 1000)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// What `token` grants, if it is valid and unexpired.
    pub async fn grant(&self, token: &str) -> Result<Option<Grant>, StoreError> {
        let row: Option<AnyRow> = sqlx::query("SELECT client_id, organization_id, scopes FROM access_tokens WHERE token_sha256 = $1 AND expires_at > $2")
            .bind(digest(token))
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Grant {
                client_id: r.try_get("client_id")?,
                organization_id: r.try_get("organization_id")?,
                scopes: scopes_of(&r.try_get::<String, _>("scopes")?),
            })
        })
        .transpose()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_secrets() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_705_312_800_000), "2024-01-15T10:00:00Z");
        let s = new_secret();
        assert_eq!(s.len(), 64);
        assert_ne!(s, new_secret());
        let ids: Vec<String> = (0..100).map(|_| new_id("t")).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids sort in creation order"
        );
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(
            constant_time_eq(b"same", b"same")
                && !constant_time_eq(b"same", b"diff")
                && !constant_time_eq(b"a", b"ab")
        );
    }
}
