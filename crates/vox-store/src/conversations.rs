//! Conversations (seed 003): a contact's conversation in a funnel (a number the caller's own
//! system keeps), its custom fields (FUNNEL_CONVERSATION definitions) and channel sessions
//! (the threads it runs on: WhatsApp, ...).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::contacts::ChannelType;
use crate::custom_fields::FieldChange;
use crate::{Store, StoreError, now_ms};

/// A conversation's thread on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSession {
    /// Its id.
    pub id: i64,
    /// The conversation.
    pub conversation_id: i64,
    /// The contact's address it runs on.
    pub contact_address_id: Option<i64>,
    /// The channel.
    pub channel_type: ChannelType,
    /// The provider's thread id.
    pub messaging_conversation_id: Option<String>,
    /// Archived, Unix ms.
    pub archived_at: Option<i64>,
    /// Started, Unix ms.
    pub start_time: i64,
    /// Ended, Unix ms.
    pub end_time: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Its id.
    pub id: i64,
    /// The business.
    pub business_id: String,
    /// The contact.
    pub contact_id: i64,
    /// The user in charge.
    pub user_id: Option<i64>,
    /// The funnel (the caller's number).
    pub funnel_id: i64,
    /// Its status in the funnel.
    pub funnel_status_id: Option<i64>,
    /// Archived, Unix ms.
    pub archived_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
    /// Its channel sessions, oldest first.
    pub sessions: Vec<ChannelSession>,
    /// Its custom-field values by key.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

const CONVERSATION: &str = "id, business_id, contact_id, user_id, funnel_id, funnel_status_id, archived_at, created_at, updated_at";

fn conversation(r: &AnyRow) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        contact_id: r.try_get("contact_id")?,
        user_id: r.try_get("user_id")?,
        funnel_id: r.try_get("funnel_id")?,
        funnel_status_id: r.try_get("funnel_status_id")?,
        archived_at: r.try_get("archived_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        sessions: Vec::new(),
        custom_fields: BTreeMap::new(),
    })
}

impl Store {
    /// Stores a new conversation with its custom fields (its id and update time are set
    /// here; `created_at` is kept when given, else now).
    pub async fn create_conversation(
        &self,
        mut c: Conversation,
        custom: &[FieldChange],
    ) -> Result<Conversation, StoreError> {
        let now = now_ms();
        if c.created_at == 0 {
            c.created_at = now;
        }
        c.updated_at = now;
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("INSERT INTO conversations (business_id, contact_id, user_id, funnel_id, funnel_status_id, archived_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(&c.business_id)
            .bind(c.contact_id)
            .bind(c.user_id)
            .bind(c.funnel_id)
            .bind(c.funnel_status_id)
            .bind(c.archived_at)
            .bind(c.created_at)
            .bind(c.updated_at)
            .fetch_one(&mut *tx)
            .await?;
        c.id = row.try_get("id")?;
        crate::contacts::write_fields(&mut tx, c.id, custom).await?;
        tx.commit().await?;
        self.conversation(&c.business_id, c.id)
            .await?
            .ok_or(StoreError::NotFound("conversation"))
    }

    /// Saves a conversation's user, status and archive time, and custom-field changes.
    pub async fn update_conversation(
        &self,
        c: &Conversation,
        custom: &[FieldChange],
    ) -> Result<Conversation, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE conversations SET user_id = $1, funnel_status_id = $2, archived_at = $3, updated_at = $4 WHERE business_id = $5 AND id = $6")
            .bind(c.user_id)
            .bind(c.funnel_status_id)
            .bind(c.archived_at)
            .bind(now_ms())
            .bind(&c.business_id)
            .bind(c.id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        crate::contacts::write_fields(&mut tx, c.id, custom).await?;
        tx.commit().await?;
        self.conversation(&c.business_id, c.id)
            .await?
            .ok_or(StoreError::NotFound("conversation"))
    }

    /// One of a business's conversations, with its sessions and custom fields.
    pub async fn conversation(
        &self,
        business_id: &str,
        id: i64,
    ) -> Result<Option<Conversation>, StoreError> {
        let sql =
            format!("SELECT {CONVERSATION} FROM conversations WHERE business_id = $1 AND id = $2");
        let Some(mut c) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(conversation)
            .transpose()?
        else {
            return Ok(None);
        };
        let sessions = sqlx::query("SELECT id, conversation_id, contact_address_id, channel_type, messaging_conversation_id, archived_at, start_time, end_time, created_at, updated_at FROM channel_sessions WHERE conversation_id = $1 ORDER BY created_at, id")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        for r in &sessions {
            c.sessions.push(ChannelSession {
                id: r.try_get("id")?,
                conversation_id: r.try_get("conversation_id")?,
                contact_address_id: r.try_get("contact_address_id")?,
                channel_type: ChannelType::from_column(&r.try_get::<String, _>("channel_type")?)?,
                messaging_conversation_id: r.try_get("messaging_conversation_id")?,
                archived_at: r.try_get("archived_at")?,
                start_time: r.try_get("start_time")?,
                end_time: r.try_get("end_time")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            });
        }
        let values = sqlx::query("SELECT d.field_key, v.value FROM custom_field_values v JOIN custom_field_definitions d ON d.id = v.definition_id WHERE d.business_id = $1 AND d.entity_type = 'FUNNEL_CONVERSATION' AND v.entity_id = $2")
            .bind(business_id)
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        for r in &values {
            let raw: String = r.try_get("value")?;
            let value = serde_json::from_str(&raw)
                .map_err(|e| StoreError::Corrupt(format!("custom field value: {e}")))?;
            c.custom_fields.insert(r.try_get("field_key")?, value);
        }
        Ok(Some(c))
    }

    /// The open (not archived) conversation of a contact in a funnel, if there is one.
    pub async fn open_conversation(
        &self,
        business_id: &str,
        contact_id: i64,
        funnel_id: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT id FROM conversations WHERE business_id = $1 AND contact_id = $2 AND funnel_id = $3 AND archived_at IS NULL ORDER BY id LIMIT 1")
            .bind(business_id)
            .bind(contact_id)
            .bind(funnel_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get("id").map_err(StoreError::from))
            .transpose()
    }

    /// Deletes a contact's conversations (with their sessions and custom fields) in `tx`.
    pub(crate) async fn delete_conversations_of(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        business_id: &str,
        contact_id: i64,
    ) -> Result<(), StoreError> {
        for sql in [
            "DELETE FROM custom_field_values WHERE definition_id IN (SELECT id FROM custom_field_definitions WHERE business_id = $1 AND entity_type = 'FUNNEL_CONVERSATION') AND entity_id IN (SELECT id FROM conversations WHERE business_id = $1 AND contact_id = $2)",
            "DELETE FROM channel_sessions WHERE conversation_id IN (SELECT id FROM conversations WHERE business_id = $1 AND contact_id = $2)",
            "DELETE FROM conversations WHERE business_id = $1 AND contact_id = $2",
        ] {
            sqlx::query(sql)
                .bind(business_id)
                .bind(contact_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
