//! Outbound campaigns and their contacts. A contact is `pending` until its call is placed
//! (`dialing`, claimed by one conditional UPDATE so two dispatchers never ring it twice),
//! then `done`, `retry` (busy or no answer: again at `next_attempt_at`) or `failed`.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, new_id, now_ms};

crate::call_state::string_enum! {
    /// Where a campaign stands.
    CampaignState {
        /// Calling its contacts.
        Running = "running",
        /// Holding: no new calls until resumed.
        Paused = "paused",
        /// Stopped for good: its contacts not called are left.
        Stopped = "stopped",
        /// Every contact is done or failed.
        Completed = "completed",
    }
}

crate::call_state::string_enum! {
    /// Where a campaign's contact stands.
    ContactState {
        /// Not called yet.
        Pending = "pending",
        /// A call is placed or up.
        Dialing = "dialing",
        /// Busy or no answer: called again at its next attempt.
        Retry = "retry",
        /// Reached.
        Done = "done",
        /// Not reached within the attempts, or the call failed.
        Failed = "failed",
    }
}

/// A campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// Its id.
    pub id: String,
    /// The business.
    pub business_id: String,
    /// The agent that calls.
    pub agent_id: String,
    /// Display name.
    pub name: String,
    /// Where it stands.
    pub state: CampaignState,
    /// Its settings (windows, concurrency, pacing, retries), as the API validated them.
    pub settings: serde_json::Value,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A contact of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignContact {
    /// Its id.
    pub id: String,
    /// The campaign.
    pub campaign_id: String,
    /// Its place in the list.
    pub position: i64,
    /// E.164.
    pub phone_number: String,
    /// Name, if given.
    pub name: Option<String>,
    /// The callee's IANA zone (the calling window is theirs), if given.
    pub timezone: Option<String>,
    /// Where it stands.
    pub state: ContactState,
    /// Calls placed so far.
    pub attempts: i64,
    /// When it may be called (again), Unix ms.
    pub next_attempt_at: Option<i64>,
    /// The last call placed.
    pub last_call_id: Option<String>,
    /// How the last call ended (its ending reason).
    pub last_outcome: Option<String>,
}

/// A contact as a campaign is made with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    /// E.164.
    pub phone_number: String,
    /// Name, if given.
    pub name: Option<String>,
    /// The callee's IANA zone, if given.
    pub timezone: Option<String>,
}

/// A campaign's contacts by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// All.
    pub total: i64,
    /// Not called yet.
    pub pending: i64,
    /// A call placed or up.
    pub dialing: i64,
    /// Waiting to be called again.
    pub retry: i64,
    /// Reached.
    pub done: i64,
    /// Given up.
    pub failed: i64,
}

fn campaign(r: &AnyRow) -> Result<Campaign, StoreError> {
    let settings: String = r.try_get("settings")?;
    Ok(Campaign {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        agent_id: r.try_get("agent_id")?,
        name: r.try_get("name")?,
        state: CampaignState::from_column(&r.try_get::<String, _>("state")?)?,
        settings: serde_json::from_str(&settings).unwrap_or(serde_json::Value::Null),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn contact(r: &AnyRow) -> Result<CampaignContact, StoreError> {
    Ok(CampaignContact {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        position: r.try_get("position")?,
        phone_number: r.try_get("phone_number")?,
        name: r.try_get("name")?,
        timezone: r.try_get("timezone")?,
        state: ContactState::from_column(&r.try_get::<String, _>("state")?)?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_call_id: r.try_get("last_call_id")?,
        last_outcome: r.try_get("last_outcome")?,
    })
}

const CAMPAIGN: &str = "id, business_id, agent_id, name, state, settings, created_at, updated_at";
const CONTACT: &str = "id, campaign_id, position, phone_number, name, timezone, state, attempts, next_attempt_at, last_call_id, last_outcome";

impl Store {
    /// Stores a campaign and its contacts (in order), in one transaction.
    pub async fn create_campaign(
        &self,
        mut c: Campaign,
        contacts: &[NewContact],
    ) -> Result<Campaign, StoreError> {
        c.id = new_id("camp");
        c.created_at = now_ms();
        c.updated_at = c.created_at;
        let mut tx = self.pool().begin().await?;
        sqlx::query("INSERT INTO campaigns (id, business_id, agent_id, name, state, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&c.id)
            .bind(&c.business_id)
            .bind(&c.agent_id)
            .bind(&c.name)
            .bind(c.state.as_str())
            .bind(c.settings.to_string())
            .bind(c.created_at)
            .bind(c.updated_at)
            .execute(&mut *tx)
            .await?;
        for (i, k) in contacts.iter().enumerate() {
            sqlx::query("INSERT INTO campaign_contacts (id, campaign_id, position, phone_number, name, timezone, state) VALUES ($1, $2, $3, $4, $5, $6, 'pending')")
                .bind(new_id("cc"))
                .bind(&c.id)
                .bind(i as i64)
                .bind(&k.phone_number)
                .bind(&k.name)
                .bind(&k.timezone)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(c)
    }

    /// One of a business's campaigns.
    pub async fn campaign(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        let sql = format!("SELECT {CAMPAIGN} FROM campaigns WHERE business_id = $1 AND id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(campaign)
            .transpose()
    }

    /// A page of a business's campaigns, newest first, and how many there are.
    pub async fn list_campaigns(
        &self,
        business_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Campaign>, i64), StoreError> {
        let sql = format!(
            "SELECT {CAMPAIGN} FROM campaigns WHERE business_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM campaigns WHERE business_id = $1")
            .bind(business_id)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows.iter().map(campaign).collect::<Result<_, _>>()?, total))
    }

    /// The campaigns that are running, across businesses (the dispatcher's work).
    pub async fn running_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let sql = format!(
            "SELECT {CAMPAIGN} FROM campaigns WHERE state = 'running' ORDER BY created_at, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(campaign)
            .collect()
    }

    /// Moves a campaign `from` one of these states `to` another; false if it was in none.
    pub async fn set_campaign_state(
        &self,
        id: &str,
        from: &[CampaignState],
        to: CampaignState,
    ) -> Result<bool, StoreError> {
        let mut done = false;
        for f in from {
            let r = sqlx::query(
                "UPDATE campaigns SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
            )
            .bind(to.as_str())
            .bind(now_ms())
            .bind(id)
            .bind(f.as_str())
            .execute(self.pool())
            .await?;
            done |= r.rows_affected() == 1;
        }
        Ok(done)
    }

    /// A campaign's contacts, in order.
    pub async fn campaign_contacts(
        &self,
        campaign_id: &str,
    ) -> Result<Vec<CampaignContact>, StoreError> {
        let sql = format!(
            "SELECT {CONTACT} FROM campaign_contacts WHERE campaign_id = $1 ORDER BY position"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(campaign_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(contact)
            .collect()
    }

    /// How far a campaign is.
    pub async fn campaign_progress(&self, campaign_id: &str) -> Result<Progress, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM campaign_contacts WHERE campaign_id = $1 GROUP BY state",
        )
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        let mut p = Progress::default();
        for r in rows {
            let n: i64 = r.try_get("n")?;
            p.total += n;
            match ContactState::from_column(&r.try_get::<String, _>("state")?)? {
                ContactState::Pending => p.pending += n,
                ContactState::Dialing => p.dialing += n,
                ContactState::Retry => p.retry += n,
                ContactState::Done => p.done += n,
                ContactState::Failed => p.failed += n,
            }
        }
        Ok(p)
    }

    /// Claims `contact` for a call (pending or due for a retry -> dialing, one more attempt):
    /// false if another claimed it first.
    pub async fn claim_contact(&self, contact: &CampaignContact) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE campaign_contacts SET state = 'dialing', attempts = attempts + 1, next_attempt_at = NULL WHERE id = $1 AND state = $2 AND attempts = $3")
            .bind(&contact.id)
            .bind(contact.state.as_str())
            .bind(contact.attempts)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the call placed for a claimed contact.
    pub async fn contact_called(&self, contact_id: &str, call_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE campaign_contacts SET last_call_id = $1 WHERE id = $2")
            .bind(call_id)
            .bind(contact_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Settles a dialing contact: its state, when to call again, and how the call ended.
    pub async fn settle_contact(
        &self,
        contact_id: &str,
        state: ContactState,
        next_attempt_at: Option<i64>,
        outcome: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE campaign_contacts SET state = $1, next_attempt_at = $2, last_outcome = $3 WHERE id = $4 AND state = 'dialing'")
            .bind(state.as_str())
            .bind(next_attempt_at)
            .bind(outcome)
            .bind(contact_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
