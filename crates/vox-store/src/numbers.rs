//! The phone-number pool: numbers from the configuration, handed to businesses and agents
//! at deploy time.

use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// Area code of a +1 number.
fn area(number: &str) -> Option<&str> {
    number.strip_prefix("+1").and_then(|d| d.get(..3))
}

impl Store {
    /// Adds the configured numbers that are not yet known (numbers are never removed here:
    /// one may still be in use).
    pub async fn sync_numbers(&self, numbers: &[(String, String)]) -> Result<(), StoreError> {
        for (carrier, number) in numbers {
            let known = sqlx::query("SELECT number FROM phone_numbers WHERE number = $1")
                .bind(number)
                .fetch_optional(self.pool())
                .await?;
            if known.is_none() {
                sqlx::query("INSERT INTO phone_numbers (number, carrier) VALUES ($1, $2)")
                    .bind(number)
                    .bind(carrier)
                    .execute(self.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// The number for an agent's deployment. An agent keeps the number it has. An INBOUND
    /// agent needs one of its own (calls are routed by number): a number of its business
    /// that no agent holds, else a free pool number. An OUTBOUND agent calls from any number
    /// of its business, else a free one. Free numbers with the area code of `prefer` come
    /// first. `None` when the pool is exhausted.
    pub async fn assign_number(
        &self,
        business_id: &str,
        agent_id: &str,
        inbound: bool,
        prefer: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let held = sqlx::query("SELECT number FROM phone_numbers WHERE agent_id = $1")
            .bind(agent_id)
            .fetch_optional(self.pool())
            .await?;
        if let Some(r) = held {
            return Ok(Some(r.try_get("number")?));
        }
        let own = if inbound {
            sqlx::query("SELECT number FROM phone_numbers WHERE business_id = $1 AND agent_id IS NULL ORDER BY number LIMIT 1").bind(business_id).fetch_optional(self.pool()).await?
        } else {
            sqlx::query(
                "SELECT number FROM phone_numbers WHERE business_id = $1 ORDER BY number LIMIT 1",
            )
            .bind(business_id)
            .fetch_optional(self.pool())
            .await?
        };
        let number: String = match own {
            Some(r) => r.try_get("number")?,
            None => {
                let free = sqlx::query(
                    "SELECT number FROM phone_numbers WHERE business_id IS NULL ORDER BY number",
                )
                .fetch_all(self.pool())
                .await?;
                let free: Vec<String> = free
                    .iter()
                    .map(|r| r.try_get("number"))
                    .collect::<Result<_, _>>()?;
                let want = prefer.and_then(area);
                match free
                    .iter()
                    .find(|n| want.is_some() && area(n) == want)
                    .or_else(|| free.first())
                {
                    Some(n) => n.clone(),
                    None => return Ok(None),
                }
            }
        };
        // claim it only if still free or the business's own (a concurrent deploy may race)
        let owner = if inbound { Some(agent_id) } else { None };
        let done = sqlx::query("UPDATE phone_numbers SET business_id = $1, agent_id = COALESCE($2, agent_id), assigned_at = $3 WHERE number = $4 AND (business_id IS NULL OR business_id = $1) AND (agent_id IS NULL OR $2 IS NULL)")
            .bind(business_id)
            .bind(owner)
            .bind(now_ms())
            .bind(&number)
            .execute(self.pool())
            .await?;
        Ok((done.rows_affected() == 1).then_some(number))
    }

    /// Gives a deleted agent's number back to its business.
    pub async fn release_agent_number(&self, agent_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE phone_numbers SET agent_id = NULL WHERE agent_id = $1")
            .bind(agent_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The agent an INBOUND number routes to, with its business.
    pub async fn number_owner(&self, number: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT business_id, agent_id FROM phone_numbers WHERE number = $1 AND agent_id IS NOT NULL").bind(number).fetch_optional(self.pool()).await?;
        row.map(|r| Ok((r.try_get("business_id")?, r.try_get("agent_id")?)))
            .transpose()
    }
}
