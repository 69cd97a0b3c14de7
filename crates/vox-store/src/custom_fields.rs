//! Custom fields (seed 003): a business's definitions (a key unique per entity type, a type,
//! the options of a LIST field) and the values entities hold. A definition in use is not
//! deleted unless asked to take its values with it.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms};

crate::call_state::string_enum! {
    /// What kind of record a field belongs to.
    EntityType {
        /// A contact.
        Contact = "CONTACT",
        /// A company.
        Company = "COMPANY",
        /// A conversation.
        FunnelConversation = "FUNNEL_CONVERSATION",
        /// A conversation's channel session.
        FunnelChannelSession = "FUNNEL_CHANNEL_SESSION",
        /// A product.
        Product = "PRODUCT",
    }
}

crate::call_state::string_enum! {
    /// What a field holds.
    FieldType {
        /// Text.
        String = "STRING",
        /// A number.
        Number = "NUMBER",
        /// A date or time (ISO 8601).
        Date = "DATE",
        /// true or false.
        Boolean = "BOOLEAN",
        /// One of the definition's options.
        List = "LIST",
        /// A file's id.
        File = "FILE",
    }
}

/// A custom field definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDefinition {
    /// Its id.
    pub id: i64,
    /// The business.
    pub business_id: String,
    /// The records it belongs to.
    pub entity_type: EntityType,
    /// Its key, unique per business and entity type.
    pub field_key: String,
    /// A label for people.
    pub field_label: Option<String>,
    /// What it holds.
    pub field_type: FieldType,
    /// What it is for.
    pub description: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// An option of a LIST field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldOption {
    /// Its id.
    pub id: i64,
    /// The definition.
    pub definition_id: i64,
    /// The value stored.
    pub value: String,
    /// A label for people.
    pub label: Option<String>,
    /// What it means.
    pub description: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A value as stored: the JSON value, its text (searched) and its number (compared), as the
/// API validated it against the definition.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredValue {
    /// The value.
    pub json: serde_json::Value,
    /// As text.
    pub text: String,
    /// As a number (NUMBER fields).
    pub num: Option<f64>,
}

/// Longest STRING value, in characters.
pub const MAX_TEXT: usize = 2000;

impl StoredValue {
    /// `v` as a value of field `d` (a LIST field's value one of `options`); why not, in
    /// words that follow "a {type} field: ".
    pub fn for_field(
        d: &FieldDefinition,
        v: &serde_json::Value,
        options: &[String],
    ) -> Result<Self, String> {
        use serde_json::Value;
        let text_of = |s: &str| StoredValue {
            json: Value::String(s.to_owned()),
            text: s.to_owned(),
            num: None,
        };
        match d.field_type {
            FieldType::String => match v.as_str() {
                Some(s) if s.chars().count() <= MAX_TEXT => Ok(text_of(s)),
                Some(_) => Err(format!("at most {MAX_TEXT} characters")),
                None => Err("give a string".into()),
            },
            FieldType::Number => match v.as_f64() {
                Some(n) if n.is_finite() => Ok(StoredValue {
                    json: v.clone(),
                    text: v.to_string(),
                    num: Some(n),
                }),
                _ => Err("give a number".into()),
            },
            FieldType::Boolean => match v.as_bool() {
                Some(b) => Ok(StoredValue {
                    json: Value::Bool(b),
                    text: b.to_string(),
                    num: None,
                }),
                None => Err("give true or false".into()),
            },
            FieldType::Date => match v.as_str() {
                Some(s)
                    if s.parse::<jiff::Timestamp>().is_ok()
                        || s.parse::<jiff::civil::Date>().is_ok() =>
                {
                    Ok(text_of(s))
                }
                _ => Err("give an ISO 8601 date (2024-02-15) or date-time".into()),
            },
            FieldType::List => match v.as_str() {
                Some(s) if options.iter().any(|o| o == s) => Ok(text_of(s)),
                Some(_) => Err(format!("give one of its options ({})", options.join(", "))),
                None => Err("give one of its options' values".into()),
            },
            FieldType::File => match v.as_str() {
                Some(s) if !s.trim().is_empty() && s.len() <= 200 => Ok(text_of(s.trim())),
                _ => Err("give a file id".into()),
            },
        }
    }
}

/// A change to one field of an entity: set it, or (None) clear it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The definition.
    pub definition_id: i64,
    /// The new value, or none to clear it.
    pub value: Option<StoredValue>,
}

/// How a list of definitions or options is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The column (one the caller checked against a fixed list).
    pub column: &'static str,
    /// Ascending.
    pub ascending: bool,
}

/// A page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

fn definition(r: &AnyRow) -> Result<FieldDefinition, StoreError> {
    Ok(FieldDefinition {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        entity_type: EntityType::from_column(&r.try_get::<String, _>("entity_type")?)?,
        field_key: r.try_get("field_key")?,
        field_label: r.try_get("field_label")?,
        field_type: FieldType::from_column(&r.try_get::<String, _>("field_type")?)?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn option(r: &AnyRow) -> Result<FieldOption, StoreError> {
    Ok(FieldOption {
        id: r.try_get("id")?,
        definition_id: r.try_get("definition_id")?,
        value: r.try_get("value")?,
        label: r.try_get("label")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const DEFINITION: &str = "id, business_id, entity_type, field_key, field_label, field_type, description, created_at, updated_at";
const OPTION: &str = "id, definition_id, value, label, description, created_at, updated_at";

/// A unique constraint refused the write: `what` is taken.
pub(crate) fn conflict_if_taken(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("{what} is taken"))
        }
        _ => e.into(),
    }
}

/// `LOWER(column) LIKE` pattern matching `text` anywhere, with LIKE's wildcards escaped
/// (`ESCAPE '\'`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    /// Stores a new definition (its id and times are set here); Conflict if its key is taken.
    pub async fn create_field_definition(
        &self,
        mut d: FieldDefinition,
    ) -> Result<FieldDefinition, StoreError> {
        d.created_at = now_ms();
        d.updated_at = d.created_at;
        let row = sqlx::query("INSERT INTO custom_field_definitions (business_id, entity_type, field_key, field_label, field_type, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(&d.business_id)
            .bind(d.entity_type.as_str())
            .bind(&d.field_key)
            .bind(&d.field_label)
            .bind(d.field_type.as_str())
            .bind(&d.description)
            .bind(d.created_at)
            .bind(d.updated_at)
            .fetch_one(self.pool())
            .await
            .map_err(|e| conflict_if_taken(e, &format!("fieldKey {:?}", d.field_key)))?;
        d.id = row.try_get("id")?;
        Ok(d)
    }

    /// One of a business's definitions.
    pub async fn field_definition(
        &self,
        business_id: &str,
        id: i64,
    ) -> Result<Option<FieldDefinition>, StoreError> {
        let sql = format!(
            "SELECT {DEFINITION} FROM custom_field_definitions WHERE business_id = $1 AND id = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(definition)
            .transpose()
    }

    /// A business's definitions for `entity_type`, by key.
    pub async fn field_definitions_by_key(
        &self,
        business_id: &str,
        entity_type: EntityType,
    ) -> Result<BTreeMap<String, FieldDefinition>, StoreError> {
        let sql = format!(
            "SELECT {DEFINITION} FROM custom_field_definitions WHERE business_id = $1 AND entity_type = $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(entity_type.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| definition(r).map(|d| (d.field_key.clone(), d)))
            .collect()
    }

    /// A page of a business's definitions (of `entity_type`, with `search` in the key, label
    /// or description), and how many there are.
    pub async fn field_definitions(
        &self,
        business_id: &str,
        entity_type: Option<EntityType>,
        search: Option<&str>,
        order: Order,
        window: Window,
    ) -> Result<(Vec<FieldDefinition>, i64), StoreError> {
        let from = " FROM custom_field_definitions WHERE business_id = $1 AND ($2 IS NULL OR entity_type = $2) AND ($3 IS NULL OR LOWER(field_key) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(field_label, '')) LIKE $3 ESCAPE '\\' OR LOWER(COALESCE(description, '')) LIKE $3 ESCAPE '\\')";
        let pattern = search.map(contains_pattern);
        let direction = if order.ascending { "ASC" } else { "DESC" };
        let page = format!(
            "SELECT {DEFINITION}{from} ORDER BY {} {direction}, id {direction} LIMIT $4 OFFSET $5",
            order.column
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(page))
            .bind(business_id)
            .bind(entity_type.map(EntityType::as_str))
            .bind(pattern.clone())
            .bind(window.limit)
            .bind(window.offset)
            .fetch_all(self.pool())
            .await?;
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n{from}")))
            .bind(business_id)
            .bind(entity_type.map(EntityType::as_str))
            .bind(pattern)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((
            rows.iter().map(definition).collect::<Result<_, _>>()?,
            total,
        ))
    }

    /// How many values a definition holds.
    pub async fn field_values_count(&self, definition_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM custom_field_values WHERE definition_id = $1")
                .bind(definition_id)
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }

    /// Saves a definition's key, label, type and description; Conflict if the key is taken.
    pub async fn update_field_definition(
        &self,
        mut d: FieldDefinition,
    ) -> Result<FieldDefinition, StoreError> {
        d.updated_at = now_ms();
        let done = sqlx::query("UPDATE custom_field_definitions SET entity_type = $1, field_key = $2, field_label = $3, field_type = $4, description = $5, updated_at = $6 WHERE business_id = $7 AND id = $8")
            .bind(d.entity_type.as_str())
            .bind(&d.field_key)
            .bind(&d.field_label)
            .bind(d.field_type.as_str())
            .bind(&d.description)
            .bind(d.updated_at)
            .bind(&d.business_id)
            .bind(d.id)
            .execute(self.pool())
            .await
            .map_err(|e| conflict_if_taken(e, &format!("fieldKey {:?}", d.field_key)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("custom field definition"));
        }
        Ok(d)
    }

    /// Deletes a definition with its options and, if `force`, its values; Conflict when it
    /// holds values and `force` is not set. The definition as it was, if it existed.
    pub async fn delete_field_definition(
        &self,
        business_id: &str,
        id: i64,
        force: bool,
    ) -> Result<Option<FieldDefinition>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "SELECT {DEFINITION} FROM custom_field_definitions WHERE business_id = $1 AND id = $2"
        );
        let Some(d) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(definition)
            .transpose()?
        else {
            return Ok(None);
        };
        let used: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM custom_field_values WHERE definition_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if used > 0 && !force {
            return Err(StoreError::Conflict(format!(
                "the field {:?} holds {used} value(s)",
                d.field_key
            )));
        }
        for sql in [
            "DELETE FROM custom_field_values WHERE definition_id = $1",
            "DELETE FROM custom_field_options WHERE definition_id = $1",
            "DELETE FROM custom_field_definitions WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(Some(d))
    }

    /// Stores a new option of a definition; Conflict if its value is taken.
    pub async fn create_field_option(&self, mut o: FieldOption) -> Result<FieldOption, StoreError> {
        o.created_at = now_ms();
        o.updated_at = o.created_at;
        let row = sqlx::query("INSERT INTO custom_field_options (definition_id, value, label, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(o.definition_id)
            .bind(&o.value)
            .bind(&o.label)
            .bind(&o.description)
            .bind(o.created_at)
            .bind(o.updated_at)
            .fetch_one(self.pool())
            .await
            .map_err(|e| conflict_if_taken(e, &format!("the option value {:?}", o.value)))?;
        o.id = row.try_get("id")?;
        Ok(o)
    }

    /// One option of a definition.
    pub async fn field_option(
        &self,
        definition_id: i64,
        id: i64,
    ) -> Result<Option<FieldOption>, StoreError> {
        let sql = format!(
            "SELECT {OPTION} FROM custom_field_options WHERE definition_id = $1 AND id = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(definition_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(option)
            .transpose()
    }

    /// A page of a definition's options (with `search` in the value, label or description),
    /// and how many there are.
    pub async fn field_options(
        &self,
        definition_id: i64,
        search: Option<&str>,
        order: Order,
        window: Window,
    ) -> Result<(Vec<FieldOption>, i64), StoreError> {
        let from = " FROM custom_field_options WHERE definition_id = $1 AND ($2 IS NULL OR LOWER(value) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(label, '')) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(description, '')) LIKE $2 ESCAPE '\\')";
        let pattern = search.map(contains_pattern);
        let direction = if order.ascending { "ASC" } else { "DESC" };
        let page = format!(
            "SELECT {OPTION}{from} ORDER BY {} {direction}, id {direction} LIMIT $3 OFFSET $4",
            order.column
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(page))
            .bind(definition_id)
            .bind(pattern.clone())
            .bind(window.limit)
            .bind(window.offset)
            .fetch_all(self.pool())
            .await?;
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n{from}")))
            .bind(definition_id)
            .bind(pattern)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows.iter().map(option).collect::<Result<_, _>>()?, total))
    }

    /// The values of a definition's options.
    pub async fn field_option_values(&self, definition_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT value FROM custom_field_options WHERE definition_id = $1")
            .bind(definition_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get("value").map_err(StoreError::from))
            .collect()
    }

    /// Saves an option's value, label and description; values that held its old value follow
    /// it. Conflict if the value is taken.
    pub async fn update_field_option(
        &self,
        mut o: FieldOption,
        old_value: &str,
    ) -> Result<FieldOption, StoreError> {
        o.updated_at = now_ms();
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE custom_field_options SET value = $1, label = $2, description = $3, updated_at = $4 WHERE definition_id = $5 AND id = $6")
            .bind(&o.value)
            .bind(&o.label)
            .bind(&o.description)
            .bind(o.updated_at)
            .bind(o.definition_id)
            .bind(o.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_if_taken(e, &format!("the option value {:?}", o.value)))?;
        if o.value != old_value {
            sqlx::query("UPDATE custom_field_values SET value = $1, value_text = $2 WHERE definition_id = $3 AND value_text = $4")
                .bind(serde_json::Value::String(o.value.clone()).to_string())
                .bind(&o.value)
                .bind(o.definition_id)
                .bind(old_value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(o)
    }

    /// Deletes an option, and the values that held it (they name an option no longer
    /// offered). The option as it was, if it existed.
    pub async fn delete_field_option(
        &self,
        definition_id: i64,
        id: i64,
    ) -> Result<Option<FieldOption>, StoreError> {
        let Some(o) = self.field_option(definition_id, id).await? else {
            return Ok(None);
        };
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM custom_field_values WHERE definition_id = $1 AND value_text = $2")
            .bind(definition_id)
            .bind(&o.value)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM custom_field_options WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(o))
    }
}
