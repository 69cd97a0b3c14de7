//! Calls answered by a file agent (an agent from `--agent FILE` on a pool number): no call
//! record, only what makes their set-up idempotent and their stream token single-use.

use sqlx::Row;

use crate::{Store, StoreError};

/// What answering a file agent's call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCallSetup {
    /// A new call.
    New,
    /// The carrier asked about this call before (a replayed or retried webhook): its call
    /// id, and whether its stream has connected.
    Replayed {
        /// The call id given the first time.
        call_id: String,
        /// Whether its stream connected.
        connected: bool,
    },
}

impl Store {
    /// Records that `call_id` answers the carrier's call `carrier_call_id` with `agent_id`,
    /// unless the carrier's call was answered before.
    pub async fn file_call_answered(
        &self,
        call_id: &str,
        carrier_call_id: Option<&str>,
        agent_id: &str,
        at: i64,
    ) -> Result<FileCallSetup, StoreError> {
        let inserted = sqlx::query("INSERT INTO file_agent_calls (call_id, carrier_call_id, agent_id, created_at, connected_at) VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (carrier_call_id) DO NOTHING")
            .bind(call_id)
            .bind(carrier_call_id)
            .bind(agent_id)
            .bind(at)
            .execute(self.pool())
            .await?
            .rows_affected();
        if inserted == 1 {
            return Ok(FileCallSetup::New);
        }
        let row = sqlx::query(
            "SELECT call_id, connected_at FROM file_agent_calls WHERE carrier_call_id = $1",
        )
        .bind(carrier_call_id)
        .fetch_one(self.pool())
        .await?;
        Ok(FileCallSetup::Replayed {
            call_id: row.try_get("call_id")?,
            connected: row.try_get::<Option<i64>, _>("connected_at")?.is_some(),
        })
    }

    /// The stream of `call_id` connects: true the first time only.
    pub async fn file_call_connected(&self, call_id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE file_agent_calls SET connected_at = $1 WHERE call_id = $2 AND connected_at IS NULL")
            .bind(at)
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
