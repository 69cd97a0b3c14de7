//! The phone-number pool: numbers from the configuration, handed to businesses and agents
//! at deploy time.

use sqlx::Row;

use crate::{Store, StoreError, now_ms};

/// Area code of a +1 number.
fn area(number: &str) -> Option<&str> {
    number.strip_prefix("+1").and_then(|d| d.get(..3))
}

/// What [`Store::claim_number`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberClaim {
    /// The agent holds the number now.
    Claimed,
    /// No pool has that number.
    NotInPool,
    /// Another business or agent holds it.
    Taken,
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

    /// Whether `number` is one of the business's numbers.
    pub async fn business_has_number(
        &self,
        business_id: &str,
        number: &str,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT number FROM phone_numbers WHERE business_id = $1 AND number = $2")
                .bind(business_id)
                .bind(number)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }

    /// Gives an INBOUND agent exactly `number` (seed 000's `inboundNumber`): a pool number
    /// that is free or its business's and held by no other agent. The number it held before,
    /// if another, goes back to the business.
    pub async fn claim_number(
        &self,
        business_id: &str,
        agent_id: &str,
        number: &str,
    ) -> Result<NumberClaim, StoreError> {
        let row = sqlx::query("SELECT business_id, agent_id FROM phone_numbers WHERE number = $1")
            .bind(number)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(NumberClaim::NotInPool);
        };
        let (owner, holder): (Option<String>, Option<String>) =
            (row.try_get("business_id")?, row.try_get("agent_id")?);
        if owner.as_deref().is_some_and(|b| b != business_id)
            || holder.as_deref().is_some_and(|a| a != agent_id)
        {
            return Ok(NumberClaim::Taken);
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE phone_numbers SET agent_id = NULL WHERE agent_id = $1 AND number <> $2",
        )
        .bind(agent_id)
        .bind(number)
        .execute(&mut *tx)
        .await?;
        // only if still free or this agent's (a concurrent claim may race)
        let done = sqlx::query("UPDATE phone_numbers SET business_id = $1, agent_id = $2, assigned_at = $3 WHERE number = $4 AND (business_id IS NULL OR business_id = $1) AND (agent_id IS NULL OR agent_id = $2)")
            .bind(business_id)
            .bind(agent_id)
            .bind(now_ms())
            .bind(number)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(NumberClaim::Taken);
        }
        tx.commit().await?;
        Ok(NumberClaim::Claimed)
    }

    /// A free number of the pool of `carrier` (or one of the business's own there) for an
    /// INBOUND agent (seed 000's `numberPoolId`); the agent's own if it already holds one
    /// of that pool. `None` when that pool has none free.
    pub async fn claim_pool_number(
        &self,
        business_id: &str,
        agent_id: &str,
        carrier: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows = sqlx::query("SELECT number, agent_id FROM phone_numbers WHERE carrier = $1 AND (business_id IS NULL OR business_id = $2) AND (agent_id IS NULL OR agent_id = $3) ORDER BY agent_id IS NULL, business_id IS NULL, number")
            .bind(carrier)
            .bind(business_id)
            .bind(agent_id)
            .fetch_all(self.pool())
            .await?;
        for r in rows {
            let number: String = r.try_get("number")?;
            if self.claim_number(business_id, agent_id, &number).await? == NumberClaim::Claimed {
                return Ok(Some(number));
            }
        }
        Ok(None)
    }

    /// The number pools (the carriers that hold numbers), in name order.
    pub async fn number_pools(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query("SELECT DISTINCT carrier FROM phone_numbers ORDER BY carrier")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get("carrier").map_err(StoreError::from))
            .collect()
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
