//! Call-event webhooks: a business's endpoint and signing secret, and the outbox of
//! deliveries (an event is stored before it is sent, so a restart does not lose it).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, new_id, now_ms};

/// A business's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The business.
    pub business_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The HMAC key of the signature header.
    pub secret: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// An event waiting to be delivered (or given up on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id (also sent, so receivers can drop duplicates).
    pub id: String,
    /// The business.
    pub business_id: String,
    /// The event type (`call.started`, ...).
    pub event: String,
    /// The JSON body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When to try next, Unix ms.
    pub next_at: i64,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

fn webhook(r: &AnyRow) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        business_id: r.try_get("business_id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn delivery(r: &AnyRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        event: r.try_get("event")?,
        body: r.try_get("body")?,
        attempts: r.try_get("attempts")?,
        next_at: r.try_get("next_at")?,
        status: r.try_get("status")?,
        last_error: r.try_get("last_error")?,
    })
}

impl Store {
    /// Sets (or replaces) a business's endpoint.
    pub async fn set_webhook(
        &self,
        business_id: &str,
        url: &str,
        secret: &str,
    ) -> Result<Webhook, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let created: Option<i64> =
            sqlx::query("SELECT created_at FROM webhooks WHERE business_id = $1")
                .bind(business_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("created_at"))
                .transpose()?;
        sqlx::query("DELETE FROM webhooks WHERE business_id = $1")
            .bind(business_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO webhooks (business_id, url, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(business_id)
            .bind(url)
            .bind(self.seal(secret, &crate::secrets::webhook_place(business_id)))
            .bind(created.unwrap_or(now))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Webhook {
            business_id: business_id.into(),
            url: url.into(),
            secret: secret.into(),
            created_at: created.unwrap_or(now),
            updated_at: now,
        })
    }

    /// A business's endpoint, if set.
    pub async fn webhook(&self, business_id: &str) -> Result<Option<Webhook>, StoreError> {
        let row = sqlx::query("SELECT business_id, url, secret, created_at, updated_at FROM webhooks WHERE business_id = $1").bind(business_id).fetch_optional(self.pool()).await?;
        let Some(mut hook) = row.as_ref().map(webhook).transpose()? else {
            return Ok(None);
        };
        hook.secret = self.open(&hook.secret, &crate::secrets::webhook_place(business_id))?;
        Ok(Some(hook))
    }

    /// Removes a business's endpoint (pending deliveries are dropped with it).
    pub async fn delete_webhook(&self, business_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhooks WHERE business_id = $1")
            .bind(business_id)
            .execute(self.pool())
            .await?;
        sqlx::query("UPDATE webhook_deliveries SET status = 'failed', last_error = 'the endpoint was removed' WHERE business_id = $1 AND status = 'pending'").bind(business_id).execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queues an event for the business's endpoint; `None` when it has none.
    pub async fn queue_delivery(
        &self,
        business_id: &str,
        event: &str,
        body: &str,
    ) -> Result<Option<String>, StoreError> {
        if self.webhook(business_id).await?.is_none() {
            return Ok(None);
        }
        let id = new_id("evt");
        let now = now_ms();
        sqlx::query("INSERT INTO webhook_deliveries (id, business_id, event, body, attempts, next_at, status, last_error, created_at) VALUES ($1, $2, $3, $4, 0, $5, 'pending', NULL, $6)")
            .bind(&id)
            .bind(business_id)
            .bind(event)
            .bind(body)
            .bind(now)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(Some(id))
    }

    /// Pending deliveries due by `now`, oldest first.
    pub async fn due_deliveries(&self, now: i64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        self.due_deliveries_except(now, limit, &[]).await
    }

    /// Pending deliveries due by `now`, oldest first, of businesses other than `except` (those
    /// whose deliveries are under way).
    pub async fn due_deliveries_except(
        &self,
        now: i64,
        limit: i64,
        except: &[String],
    ) -> Result<Vec<Delivery>, StoreError> {
        // one bound placeholder per excluded business: no value is ever spliced into the SQL
        let not_in = if except.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..except.len()).map(|i| format!("${}", i + 3)).collect();
            format!(" AND business_id NOT IN ({})", marks.join(", "))
        };
        let sql = format!(
            "SELECT id, business_id, event, body, attempts, next_at, status, last_error FROM webhook_deliveries WHERE status = 'pending' AND next_at <= $1{not_in} ORDER BY next_at, id LIMIT $2"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(limit);
        for b in except {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(delivery).collect()
    }

    /// Records an attempt: delivered, or failed with the next try at `next_at` (`None`: give up).
    pub async fn delivery_attempted(
        &self,
        id: &str,
        error: Option<&str>,
        next_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let status = match (error, next_at) {
            (None, _) => "delivered",
            (Some(_), Some(_)) => "pending",
            (Some(_), None) => "failed",
        };
        sqlx::query("UPDATE webhook_deliveries SET attempts = attempts + 1, status = $1, last_error = $2, next_at = COALESCE($3, next_at) WHERE id = $4")
            .bind(status)
            .bind(error)
            .bind(next_at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A delivery by id (for tests and operators).
    pub async fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query("SELECT id, business_id, event, body, attempts, next_at, status, last_error FROM webhook_deliveries WHERE id = $1").bind(id).fetch_optional(self.pool()).await?;
        row.as_ref().map(delivery).transpose()
    }
}
