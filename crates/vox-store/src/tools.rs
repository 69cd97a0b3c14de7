//! Tool instances (a template plus a business's overrides) and the Google Calendar
//! integration record. Every query carries the business id.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::secrets::tool_place;
use crate::{Store, StoreError, new_id, now_ms};

/// A stored tool instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRecord {
    /// Its id.
    pub id: String,
    /// The business it belongs to.
    pub business_id: String,
    /// The template it was made from.
    pub template_id: String,
    /// The template's name (`transferCall`, `googleCal`, ...).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Tool type.
    pub kind: String,
    /// The business's configuration (JSON).
    pub config_override: serde_json::Value,
    /// What the agent says while it runs.
    pub message: Option<String>,
    /// Whether agents may use it.
    pub enabled: bool,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A business's Google Calendar integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarIntegration {
    /// Its id.
    pub id: String,
    /// The calendar.
    pub calendar_id: String,
    /// The ACL rule that shares it with Vox.
    pub acl_rule_id: String,
}

fn tool(r: &AnyRow) -> Result<ToolRecord, StoreError> {
    let text: String = r.try_get("config_override")?;
    Ok(ToolRecord {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        template_id: r.try_get("template_id")?,
        name: r.try_get("name")?,
        display_name: r.try_get("display_name")?,
        kind: r.try_get("kind")?,
        config_override: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        message: r.try_get("message")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The columns of `tools`, as a literal so queries stay `&'static str` (sqlx refuses
/// dynamic SQL strings).
macro_rules! columns {
    () => {
        "id, business_id, template_id, name, display_name, kind, config_override, message, enabled, created_at, updated_at"
    };
}

impl Store {
    /// Stores a new tool instance; `id` and times are filled in.
    pub async fn create_tool(&self, mut t: ToolRecord) -> Result<ToolRecord, StoreError> {
        t.id = new_id("tool");
        t.created_at = now_ms();
        t.updated_at = t.created_at;
        sqlx::query(concat!(
            "INSERT INTO tools (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&t.id)
        .bind(&t.business_id)
        .bind(&t.template_id)
        .bind(&t.name)
        .bind(&t.display_name)
        .bind(&t.kind)
        .bind(
            self.seal_headers(&t.config_override, &tool_place(&t.business_id, &t.id))
                .to_string(),
        )
        .bind(&t.message)
        .bind(i64::from(t.enabled))
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(self.pool())
        .await?;
        Ok(t)
    }

    /// A page of a business's tools, oldest first, and how many there are.
    pub async fn list_tools(
        &self,
        business_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ToolRecord>, i64), StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM tools WHERE business_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(business_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tools WHERE business_id = $1")
            .bind(business_id)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        let tools = rows
            .iter()
            .map(|r| self.opened(tool(r)?))
            .collect::<Result<_, _>>()?;
        Ok((tools, total))
    }

    /// One of a business's tools.
    pub async fn tool(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<Option<ToolRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM tools WHERE business_id = $1 AND id = $2"
        ))
        .bind(business_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(|r| self.opened(tool(r)?)).transpose()
    }

    /// A tool as read, its header values opened.
    fn opened(&self, mut t: ToolRecord) -> Result<ToolRecord, StoreError> {
        t.config_override =
            self.open_headers(&t.config_override, &tool_place(&t.business_id, &t.id))?;
        Ok(t)
    }

    /// Replaces a tool's mutable fields (configuration, message, enabled).
    pub async fn update_tool(&self, t: &ToolRecord) -> Result<ToolRecord, StoreError> {
        let now = now_ms();
        let done = sqlx::query("UPDATE tools SET config_override = $1, message = $2, enabled = $3, updated_at = $4 WHERE business_id = $5 AND id = $6")
            .bind(
                self.seal_headers(&t.config_override, &tool_place(&t.business_id, &t.id))
                    .to_string(),
            )
            .bind(&t.message)
            .bind(i64::from(t.enabled))
            .bind(now)
            .bind(&t.business_id)
            .bind(&t.id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("tool"));
        }
        Ok(ToolRecord {
            updated_at: now,
            ..t.clone()
        })
    }

    /// Deletes a tool; false if there was none.
    pub async fn delete_tool(&self, business_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tools WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Creates or replaces a business's Google Calendar integration; `acl_rule_id` is the
    /// rule Google made when the calendar was shared (none: one of our own is kept).
    pub async fn set_calendar(
        &self,
        business_id: &str,
        calendar_id: &str,
        acl_rule_id: Option<&str>,
    ) -> Result<CalendarIntegration, StoreError> {
        let now = now_ms();
        let existing = self.calendar(business_id).await?;
        let rec = CalendarIntegration {
            id: existing
                .as_ref()
                .map_or_else(|| new_id("gcal"), |e| e.id.clone()),
            calendar_id: calendar_id.to_owned(),
            acl_rule_id: match acl_rule_id {
                Some(rule) => rule.to_owned(),
                None => existing
                    .as_ref()
                    .filter(|e| e.calendar_id == calendar_id)
                    .map_or_else(|| new_id("acl"), |e| e.acl_rule_id.clone()),
            },
        };
        sqlx::query("DELETE FROM calendar_integrations WHERE business_id = $1")
            .bind(business_id)
            .execute(self.pool())
            .await?;
        sqlx::query("INSERT INTO calendar_integrations (business_id, id, calendar_id, acl_rule_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(business_id)
            .bind(&rec.id)
            .bind(&rec.calendar_id)
            .bind(&rec.acl_rule_id)
            .bind(now)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(rec)
    }

    /// A business's Google Calendar integration, if set up.
    pub async fn calendar(
        &self,
        business_id: &str,
    ) -> Result<Option<CalendarIntegration>, StoreError> {
        let row = sqlx::query(
            "SELECT id, calendar_id, acl_rule_id FROM calendar_integrations WHERE business_id = $1",
        )
        .bind(business_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(CalendarIntegration {
                id: r.try_get("id")?,
                calendar_id: r.try_get("calendar_id")?,
                acl_rule_id: r.try_get("acl_rule_id")?,
            })
        })
        .transpose()
    }
}
