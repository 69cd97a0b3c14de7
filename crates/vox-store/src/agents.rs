//! Voice agents: the agent document as the API shows it, plus deployment state. Every query
//! carries the business id.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, new_id, now_ms};

/// A stored voice agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRecord {
    /// Its id.
    pub id: String,
    /// The business it belongs to.
    pub business_id: String,
    /// Display name.
    pub name: String,
    /// INBOUND or OUTBOUND.
    pub kind: String,
    /// The agent's fields (JSON object, API names).
    pub document: serde_json::Value,
    /// The number it is deployed on, once deployed.
    pub phone_number: Option<String>,
    /// On duty, once deployed.
    pub on_duty: Option<bool>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

macro_rules! columns {
    () => {
        "id, business_id, name, kind, document, phone_number, on_duty, created_at, updated_at"
    };
}

fn agent(r: &AnyRow) -> Result<AgentRecord, StoreError> {
    let doc: String = r.try_get("document")?;
    Ok(AgentRecord {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        document: serde_json::from_str(&doc).unwrap_or(serde_json::Value::Null),
        phone_number: r.try_get("phone_number")?,
        on_duty: r.try_get::<Option<i64>, _>("on_duty")?.map(|v| v != 0),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Stores a new agent; `id` and times are filled in.
    pub async fn create_agent(&self, mut a: AgentRecord) -> Result<AgentRecord, StoreError> {
        a.id = new_id("agent");
        a.created_at = now_ms();
        a.updated_at = a.created_at;
        sqlx::query(concat!(
            "INSERT INTO agents (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&a.id)
        .bind(&a.business_id)
        .bind(&a.name)
        .bind(&a.kind)
        .bind(a.document.to_string())
        .bind(&a.phone_number)
        .bind(a.on_duty.map(i64::from))
        .bind(a.created_at)
        .bind(a.updated_at)
        .execute(self.pool())
        .await?;
        Ok(a)
    }

    /// A page of a business's agents, oldest first, and how many there are.
    pub async fn list_agents(
        &self,
        business_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AgentRecord>, i64), StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM agents WHERE business_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(business_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM agents WHERE business_id = $1")
            .bind(business_id)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows.iter().map(agent).collect::<Result<_, _>>()?, total))
    }

    /// A page of a business's agents whose name contains `query` (any case; `%` and `_`
    /// match themselves), oldest first, and how many match.
    pub async fn search_agents(
        &self,
        business_id: &str,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AgentRecord>, i64), StoreError> {
        let escaped: String = query
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM agents WHERE business_id = $1 AND LOWER(name) LIKE $2 ESCAPE '\\' ORDER BY created_at, id LIMIT $3 OFFSET $4"
        ))
        .bind(business_id)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM agents WHERE business_id = $1 AND LOWER(name) LIKE $2 ESCAPE '\\'",
        )
        .bind(business_id)
        .bind(&pattern)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((rows.iter().map(agent).collect::<Result<_, _>>()?, total))
    }

    /// One of a business's agents.
    pub async fn agent(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM agents WHERE business_id = $1 AND id = $2"
        ))
        .bind(business_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(agent).transpose()
    }

    /// Saves an agent's document, name, type and deployment state.
    pub async fn update_agent(&self, a: &AgentRecord) -> Result<AgentRecord, StoreError> {
        let now = now_ms();
        let done = sqlx::query("UPDATE agents SET name = $1, kind = $2, document = $3, phone_number = $4, on_duty = $5, updated_at = $6 WHERE business_id = $7 AND id = $8")
            .bind(&a.name)
            .bind(&a.kind)
            .bind(a.document.to_string())
            .bind(&a.phone_number)
            .bind(a.on_duty.map(i64::from))
            .bind(now)
            .bind(&a.business_id)
            .bind(&a.id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("voice agent"));
        }
        Ok(AgentRecord {
            updated_at: now,
            ..a.clone()
        })
    }

    /// Deletes an agent; false if there was none.
    pub async fn delete_agent(&self, business_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM agents WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store {
    /// Deployed INBOUND agents with what the activated-hours scheduler last decided for each.
    pub async fn deployed_inbound_agents(
        &self,
    ) -> Result<Vec<(AgentRecord, Option<bool>)>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), ", schedule_state FROM agents WHERE kind = 'INBOUND' AND phone_number IS NOT NULL ORDER BY id")).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    agent(r)?,
                    r.try_get::<Option<i64>, _>("schedule_state")?
                        .map(|v| v != 0),
                ))
            })
            .collect()
    }

    /// Records the scheduler's decision and sets the agent's duty to it.
    pub async fn apply_schedule(
        &self,
        business_id: &str,
        id: &str,
        on_duty: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE agents SET on_duty = $1, schedule_state = $1, updated_at = $2 WHERE business_id = $3 AND id = $4")
            .bind(i64::from(on_duty))
            .bind(now_ms())
            .bind(business_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
