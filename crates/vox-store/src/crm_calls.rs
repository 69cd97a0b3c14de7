//! Seed 003's view of calls: a number for each call it shows (given on first sight, never
//! reused) and the seed's own fields of the call (JSON: an external call's provider, user,
//! team, metadata, custom data; an agent call's context and custom data).

use sqlx::Row;

use crate::{Store, StoreError};

/// A call as seed 003 knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmCall {
    /// Its number.
    pub number: i64,
    /// Vox's call id.
    pub call_id: String,
    /// The seed's fields of the call.
    pub data: serde_json::Value,
}

impl Store {
    /// The number of `call_id` (given now if it has none), with its data; `data` is stored
    /// when the call gets its number, and kept after.
    pub async fn crm_call(
        &self,
        call_id: &str,
        data: &serde_json::Value,
    ) -> Result<CrmCall, StoreError> {
        sqlx::query("INSERT INTO crm_calls (call_id, data) VALUES ($1, $2) ON CONFLICT (call_id) DO NOTHING")
            .bind(call_id)
            .bind(data.to_string())
            .execute(self.pool())
            .await?;
        let r = sqlx::query("SELECT id, call_id, data FROM crm_calls WHERE call_id = $1")
            .bind(call_id)
            .fetch_one(self.pool())
            .await?;
        let raw: String = r.try_get("data")?;
        Ok(CrmCall {
            number: r.try_get("id")?,
            call_id: r.try_get("call_id")?,
            data: serde_json::from_str(&raw)
                .map_err(|e| StoreError::Corrupt(format!("crm call data: {e}")))?,
        })
    }

    /// The call numbered `number`, if it is one of the business's.
    pub async fn crm_call_by_number(
        &self,
        business_id: &str,
        number: i64,
    ) -> Result<Option<CrmCall>, StoreError> {
        let row = sqlx::query("SELECT m.id, m.call_id, m.data FROM crm_calls m JOIN calls c ON c.id = m.call_id WHERE m.id = $1 AND c.business_id = $2")
            .bind(number)
            .bind(business_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            let raw: String = r.try_get("data")?;
            Ok(CrmCall {
                number: r.try_get("id")?,
                call_id: r.try_get("call_id")?,
                data: serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("crm call data: {e}")))?,
            })
        })
        .transpose()
    }
}
