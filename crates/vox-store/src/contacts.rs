//! Contacts (seed 003's CRM): a business's people, each with addresses per channel (a phone
//! number, a WhatsApp number, an e-mail address) and custom-field values; and the one search
//! every listing of them goes through ([`ContactQuery`]).

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::custom_fields::{
    EntityType, FieldChange, FieldType, Order, StoredValue, Window, contains_pattern,
};
use crate::{Store, StoreError, now_ms};

crate::call_state::string_enum! {
    /// The channel an address reaches a contact on.
    ChannelType {
        /// Phone calls (E.164).
        Phone = "PHONE",
        /// WhatsApp (E.164).
        Whatsapp = "WHATSAPP",
        /// Text messages (E.164).
        Sms = "SMS",
        /// E-mail.
        Email = "EMAIL",
    }
}

/// A contact's address on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Its id.
    pub id: i64,
    /// The contact.
    pub contact_id: i64,
    /// The channel.
    pub channel_type: ChannelType,
    /// The address (E.164 for phone channels).
    pub address: String,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A contact's own fields, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFields {
    /// The id in an outside system.
    pub provider_id: Option<String>,
    /// That system.
    pub provider_name: Option<String>,
    /// A national id number.
    pub national_id: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// E-mail (the seed's legacy field; addresses are the way).
    pub email: Option<String>,
    /// Phone (legacy, as `email`).
    pub phone: Option<String>,
    /// The user who owns the contact.
    pub user_id: Option<i64>,
    /// The contact's company.
    pub contact_company_id: Option<i64>,
    /// Position at the company.
    pub company_position: Option<String>,
    /// Anything the caller keeps with it.
    pub metadata: Option<serde_json::Value>,
}

/// A contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// Its id.
    pub id: i64,
    /// The business.
    pub business_id: String,
    /// Its fields.
    pub fields: ContactFields,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
    /// Its addresses, oldest first.
    pub addresses: Vec<Address>,
    /// Its custom-field values by key.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

/// A field a search can filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactField {
    /// A text column of the contact (a name the caller checked against a fixed list).
    Text(&'static str),
    /// A number or time (Unix ms) column of the contact.
    Number(&'static str),
    /// Any of its addresses.
    Address,
    /// The channel of any of its addresses.
    AddressChannel,
    /// A custom field, by key.
    Custom(String),
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (text: ignoring case).
    Eq,
    /// Not equal.
    Neq,
    /// Contains (text, ignoring case).
    Contains,
    /// Starts with (text, ignoring case).
    StartsWith,
    /// Greater than.
    Gt,
    /// Greater or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less or equal.
    Lte,
}

/// What a filter compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// Text.
    Text(String),
    /// A number (or a time in Unix ms).
    Number(f64),
}

/// One condition of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The field.
    pub field: ContactField,
    /// The comparison.
    pub op: Op,
    /// The value.
    pub value: FilterValue,
    /// Joined to the condition before it with OR (else AND).
    pub or: bool,
}

/// A search over a business's contacts.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactQuery {
    /// The business (always set).
    pub business_id: String,
    /// Conditions: groups joined by `or`, the groups ANDed.
    pub filters: Vec<Filter>,
    /// Free text in the names, e-mail, phone, national id, position or addresses.
    pub search: Option<String>,
    /// Sorts (columns the caller checked), then the id.
    pub sort: Vec<Order>,
    /// The page.
    pub window: Window,
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Builds a WHERE clause of numbered placeholders; every value is bound, never spliced.
struct Where {
    sql: String,
    binds: Vec<Bind>,
}

impl Where {
    fn mark(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len() + 1)
    }

    /// `expr OP value` for text (`expr` already lower-cased), case-insensitive.
    fn text(&mut self, expr: &str, op: Op, value: &str) -> String {
        let v = value.to_lowercase();
        match op {
            Op::Contains => {
                let m = self.mark(Bind::Text(contains_pattern(value)));
                format!("{expr} LIKE {m} ESCAPE '\\'")
            }
            Op::StartsWith => {
                let pattern = contains_pattern(value);
                let m = self.mark(Bind::Text(pattern[1..].to_owned()));
                format!("{expr} LIKE {m} ESCAPE '\\'")
            }
            _ => {
                let m = self.mark(Bind::Text(v));
                format!("{expr} {} {m}", sql_op(op))
            }
        }
    }

    fn condition(&mut self, f: &Filter) -> String {
        match (&f.field, &f.value) {
            (ContactField::Text(col), v) => {
                let text = value_text(v);
                self.text(&format!("LOWER(COALESCE(c.{col}, ''))"), f.op, &text)
            }
            (ContactField::Number(col), FilterValue::Number(n)) => {
                let m = self.mark(Bind::Int(*n as i64));
                format!("c.{col} {} {m}", sql_op(f.op))
            }
            // a number column compared with text matches nothing (the API parses numbers)
            (ContactField::Number(_), FilterValue::Text(_)) => "1 = 0".to_owned(),
            (ContactField::Address | ContactField::AddressChannel, v) => {
                let col = if f.field == ContactField::Address {
                    "a.address"
                } else {
                    "a.channel_type"
                };
                let (op, negate) = if f.op == Op::Neq {
                    (Op::Eq, "NOT ")
                } else {
                    (f.op, "")
                };
                let cond = self.text(&format!("LOWER({col})"), op, &value_text(v));
                format!(
                    "{negate}EXISTS (SELECT 1 FROM contact_addresses a WHERE a.contact_id = c.id AND {cond})"
                )
            }
            (ContactField::Custom(key), v) => {
                let k = self.mark(Bind::Text(key.clone()));
                let (op, negate) = if f.op == Op::Neq {
                    (Op::Eq, "NOT ")
                } else {
                    (f.op, "")
                };
                let cond = match (op, v) {
                    (Op::Gt | Op::Gte | Op::Lt | Op::Lte, FilterValue::Number(n)) => {
                        let m = self.mark(Bind::Text(n.to_string()));
                        format!("v.value_num {} CAST({m} AS DOUBLE PRECISION)", sql_op(op))
                    }
                    _ => self.text("LOWER(v.value_text)", op, &value_text(v)),
                };
                format!(
                    "{negate}EXISTS (SELECT 1 FROM custom_field_values v JOIN custom_field_definitions d ON d.id = v.definition_id WHERE v.entity_id = c.id AND d.business_id = $1 AND d.entity_type = 'CONTACT' AND d.field_key = {k} AND {cond})"
                )
            }
        }
    }
}

/// An extracted value (text, as a model says it) read for a field's type: a number or a
/// yes/no from its words.
fn from_text(ty: FieldType, v: &serde_json::Value) -> serde_json::Value {
    let Some(s) = v.as_str().map(str::trim) else {
        return v.clone();
    };
    match ty {
        FieldType::Number => match s.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| v.clone(), serde_json::Value::Number),
        },
        FieldType::Boolean => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" => serde_json::Value::Bool(true),
            "false" | "no" => serde_json::Value::Bool(false),
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

fn value_text(v: &FilterValue) -> String {
    match v {
        FilterValue::Text(t) => t.clone(),
        FilterValue::Number(n) if n.fract() == 0.0 => format!("{}", *n as i64),
        FilterValue::Number(n) => n.to_string(),
    }
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq | Op::Contains | Op::StartsWith => "=",
        Op::Neq => "<>",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    business_id: &str,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q = q.bind(business_id.to_owned());
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.clone()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

const CONTACT: &str = "c.id, c.business_id, c.provider_id, c.provider_name, c.national_id, c.first_name, c.last_name, c.email, c.phone, c.user_id, c.contact_company_id, c.company_position, c.metadata, c.created_at, c.updated_at";

fn contact(r: &AnyRow) -> Result<Contact, StoreError> {
    let metadata: Option<String> = r.try_get("metadata")?;
    Ok(Contact {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        fields: ContactFields {
            provider_id: r.try_get("provider_id")?,
            provider_name: r.try_get("provider_name")?,
            national_id: r.try_get("national_id")?,
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
            user_id: r.try_get("user_id")?,
            contact_company_id: r.try_get("contact_company_id")?,
            company_position: r.try_get("company_position")?,
            metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        addresses: Vec::new(),
        custom_fields: BTreeMap::new(),
    })
}

/// Writes an entity's custom-field changes in `tx`.
pub(crate) async fn write_fields(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    contact_id: i64,
    changes: &[FieldChange],
) -> Result<(), StoreError> {
    for c in changes {
        match &c.value {
            Some(v) => {
                sqlx::query("INSERT INTO custom_field_values (definition_id, entity_id, value, value_text, value_num) VALUES ($1, $2, $3, $4, CAST($5 AS DOUBLE PRECISION)) ON CONFLICT (definition_id, entity_id) DO UPDATE SET value = excluded.value, value_text = excluded.value_text, value_num = excluded.value_num")
                    .bind(c.definition_id)
                    .bind(contact_id)
                    .bind(v.json.to_string())
                    .bind(&v.text)
                    // as text: sqlx's Any driver sends floats PostgreSQL refuses here
                    .bind(v.num.map(|n| n.to_string()))
                    .execute(&mut **tx)
                    .await?;
            }
            None => {
                sqlx::query(
                    "DELETE FROM custom_field_values WHERE definition_id = $1 AND entity_id = $2",
                )
                .bind(c.definition_id)
                .bind(contact_id)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// Sets a contact's addresses to `addresses` in `tx`: the ones it has already keep their ids.
async fn write_addresses(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    business_id: &str,
    contact_id: i64,
    addresses: &[(ChannelType, String)],
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "SELECT id, channel_type, address FROM contact_addresses WHERE contact_id = $1",
    )
    .bind(contact_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut kept = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let channel: String = r.try_get("channel_type")?;
        let address: String = r.try_get("address")?;
        if addresses
            .iter()
            .any(|(c, a)| c.as_str() == channel && *a == address)
        {
            kept.push((channel, address));
        } else {
            sqlx::query("DELETE FROM contact_addresses WHERE id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }
    let now = now_ms();
    for (channel, address) in addresses {
        if kept
            .iter()
            .any(|(c, a)| c == channel.as_str() && a == address)
        {
            continue;
        }
        kept.push((channel.as_str().to_owned(), address.clone()));
        sqlx::query("INSERT INTO contact_addresses (contact_id, business_id, channel_type, address, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(contact_id)
            .bind(business_id)
            .bind(channel.as_str())
            .bind(address)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Stores a new contact with its addresses and custom-field values, in one transaction.
    /// `created_at` (Unix ms) may be given (an import), else now.
    pub async fn create_contact(
        &self,
        business_id: &str,
        fields: &ContactFields,
        created_at: Option<i64>,
        addresses: &[(ChannelType, String)],
        custom: &[FieldChange],
    ) -> Result<Contact, StoreError> {
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query("INSERT INTO contacts (business_id, provider_id, provider_name, national_id, first_name, last_name, email, phone, user_id, contact_company_id, company_position, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id")
            .bind(business_id)
            .bind(&fields.provider_id)
            .bind(&fields.provider_name)
            .bind(&fields.national_id)
            .bind(&fields.first_name)
            .bind(&fields.last_name)
            .bind(&fields.email)
            .bind(&fields.phone)
            .bind(fields.user_id)
            .bind(fields.contact_company_id)
            .bind(&fields.company_position)
            .bind(fields.metadata.as_ref().map(|m| m.to_string()))
            .bind(created_at.unwrap_or(now))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = row.try_get("id")?;
        write_addresses(&mut tx, business_id, id, addresses).await?;
        write_fields(&mut tx, id, custom).await?;
        tx.commit().await?;
        self.contact(business_id, id)
            .await?
            .ok_or(StoreError::NotFound("contact"))
    }

    /// Saves a contact's fields; its addresses when given (else kept), and custom-field
    /// changes. The contact as it is now, or None if the business has no such contact.
    pub async fn update_contact(
        &self,
        business_id: &str,
        id: i64,
        fields: &ContactFields,
        addresses: Option<&[(ChannelType, String)]>,
        custom: &[FieldChange],
    ) -> Result<Option<Contact>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE contacts SET provider_id = $1, provider_name = $2, national_id = $3, first_name = $4, last_name = $5, email = $6, phone = $7, user_id = $8, contact_company_id = $9, company_position = $10, metadata = $11, updated_at = $12 WHERE business_id = $13 AND id = $14")
            .bind(&fields.provider_id)
            .bind(&fields.provider_name)
            .bind(&fields.national_id)
            .bind(&fields.first_name)
            .bind(&fields.last_name)
            .bind(&fields.email)
            .bind(&fields.phone)
            .bind(fields.user_id)
            .bind(fields.contact_company_id)
            .bind(&fields.company_position)
            .bind(fields.metadata.as_ref().map(|m| m.to_string()))
            .bind(now_ms())
            .bind(business_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(a) = addresses {
            write_addresses(&mut tx, business_id, id, a).await?;
        }
        write_fields(&mut tx, id, custom).await?;
        tx.commit().await?;
        self.contact(business_id, id).await
    }

    /// Deletes a contact with its addresses, custom-field values and conversations; the
    /// contact as it was.
    pub async fn delete_contact(
        &self,
        business_id: &str,
        id: i64,
    ) -> Result<Option<Contact>, StoreError> {
        let Some(c) = self.contact(business_id, id).await? else {
            return Ok(None);
        };
        let mut tx = self.pool().begin().await?;
        Store::delete_conversations_of(&mut tx, business_id, id).await?;
        sqlx::query("DELETE FROM custom_field_values WHERE entity_id = $1 AND definition_id IN (SELECT id FROM custom_field_definitions WHERE business_id = $2 AND entity_type = 'CONTACT')")
            .bind(id)
            .bind(business_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM contact_addresses WHERE contact_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM contacts WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(c))
    }

    /// One of a business's contacts, with its addresses and custom fields.
    pub async fn contact(&self, business_id: &str, id: i64) -> Result<Option<Contact>, StoreError> {
        let sql =
            format!("SELECT {CONTACT} FROM contacts c WHERE c.business_id = $1 AND c.id = $2");
        let Some(c) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(contact)
            .transpose()?
        else {
            return Ok(None);
        };
        Ok(self.complete(business_id, vec![c]).await?.pop())
    }

    /// The business's contacts with `address` (on any channel), oldest first.
    pub async fn contacts_at(
        &self,
        business_id: &str,
        address: &str,
    ) -> Result<Vec<Contact>, StoreError> {
        let sql = format!(
            "SELECT {CONTACT} FROM contacts c WHERE c.business_id = $1 AND EXISTS (SELECT 1 FROM contact_addresses a WHERE a.contact_id = c.id AND a.address = $2) ORDER BY c.created_at, c.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(address)
            .fetch_all(self.pool())
            .await?;
        let list = rows.iter().map(contact).collect::<Result<Vec<_>, _>>()?;
        self.complete(business_id, list).await
    }

    /// Writes the values of `data` (a call's extracted data) whose keys are CONTACT custom
    /// fields of the business into the first contact with `address`: values that do not fit
    /// their field are left out, nulls ignored. The keys written.
    pub async fn write_contact_data(
        &self,
        business_id: &str,
        address: &str,
        data: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<String>, StoreError> {
        let Some(contact) = self
            .contacts_at(business_id, address)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Vec::new());
        };
        let definitions = self
            .field_definitions_by_key(business_id, EntityType::Contact)
            .await?;
        let (mut changes, mut keys) = (Vec::new(), Vec::new());
        for (key, v) in data {
            let Some(d) = definitions.get(key).filter(|_| !v.is_null()) else {
                continue;
            };
            let options = if d.field_type == FieldType::List {
                self.field_option_values(d.id).await?
            } else {
                Vec::new()
            };
            match StoredValue::for_field(d, &from_text(d.field_type, v), &options) {
                Ok(value) => {
                    changes.push(FieldChange {
                        definition_id: d.id,
                        value: Some(value),
                    });
                    keys.push(key.clone());
                }
                Err(why) => {
                    tracing::info!(field = %key, %why, "an extracted value does not fit its contact field")
                }
            }
        }
        if changes.is_empty() {
            return Ok(keys);
        }
        let mut tx = self.pool().begin().await?;
        write_fields(&mut tx, contact.id, &changes).await?;
        sqlx::query("UPDATE contacts SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(contact.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(keys)
    }

    /// A page of the contacts `q` finds, and how many there are.
    pub async fn search_contacts(
        &self,
        q: &ContactQuery,
    ) -> Result<(Vec<Contact>, i64), StoreError> {
        let mut w = Where {
            sql: String::from(" FROM contacts c WHERE c.business_id = $1"),
            binds: Vec::new(),
        };
        let mut groups: Vec<Vec<String>> = Vec::new();
        for f in &q.filters {
            let cond = w.condition(f);
            match groups.last_mut() {
                Some(g) if f.or => g.push(cond),
                _ => groups.push(vec![cond]),
            }
        }
        for g in groups {
            w.sql = format!("{} AND ({})", w.sql, g.join(" OR "));
        }
        if let Some(text) = q.search.as_deref().filter(|t| !t.trim().is_empty()) {
            let m = w.mark(Bind::Text(contains_pattern(text.trim())));
            let cols = [
                "COALESCE(c.first_name, '') || ' ' || COALESCE(c.last_name, '')",
                "COALESCE(c.email, '')",
                "COALESCE(c.phone, '')",
                "COALESCE(c.national_id, '')",
                "COALESCE(c.company_position, '')",
            ];
            let any: Vec<String> = cols
                .iter()
                .map(|c| format!("LOWER({c}) LIKE {m} ESCAPE '\\'"))
                .collect();
            w.sql = format!(
                "{} AND ({} OR EXISTS (SELECT 1 FROM contact_addresses a WHERE a.contact_id = c.id AND LOWER(a.address) LIKE {m} ESCAPE '\\'))",
                w.sql,
                any.join(" OR ")
            );
        }
        let mut order: Vec<String> = q
            .sort
            .iter()
            .map(|o| {
                format!(
                    "c.{} {}",
                    o.column,
                    if o.ascending { "ASC" } else { "DESC" }
                )
            })
            .collect();
        order.push("c.id ASC".into());
        let n = w.binds.len() + 1;
        let page = format!(
            "SELECT {CONTACT}{} ORDER BY {} LIMIT ${} OFFSET ${}",
            w.sql,
            order.join(", "),
            n + 1,
            n + 2
        );
        let rows = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(page)),
            &q.business_id,
            &w.binds,
        )
        .bind(q.window.limit)
        .bind(q.window.offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = bind_all(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n{}",
                w.sql
            ))),
            &q.business_id,
            &w.binds,
        )
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        let list = rows.iter().map(contact).collect::<Result<Vec<_>, _>>()?;
        Ok((self.complete(&q.business_id, list).await?, total))
    }

    /// Fills in the addresses and custom fields of `list`.
    async fn complete(
        &self,
        business_id: &str,
        mut list: Vec<Contact>,
    ) -> Result<Vec<Contact>, StoreError> {
        if list.is_empty() {
            return Ok(list);
        }
        let marks: Vec<String> = (0..list.len()).map(|i| format!("${}", i + 2)).collect();
        let ids = marks.join(", ");
        let bind = |sql: String| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(business_id.to_owned());
            for c in &list {
                q = q.bind(c.id);
            }
            q
        };
        let addresses = bind(format!("SELECT id, contact_id, channel_type, address, created_at, updated_at FROM contact_addresses WHERE business_id = $1 AND contact_id IN ({ids}) ORDER BY created_at, id"))
            .fetch_all(self.pool())
            .await?;
        let values = bind(format!("SELECT v.entity_id, d.field_key, v.value FROM custom_field_values v JOIN custom_field_definitions d ON d.id = v.definition_id WHERE d.business_id = $1 AND d.entity_type = 'CONTACT' AND v.entity_id IN ({ids})"))
            .fetch_all(self.pool())
            .await?;
        let by_id: BTreeMap<i64, usize> = list.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        for r in &addresses {
            let contact_id: i64 = r.try_get("contact_id")?;
            if let Some(&i) = by_id.get(&contact_id) {
                list[i].addresses.push(Address {
                    id: r.try_get("id")?,
                    contact_id,
                    channel_type: ChannelType::from_column(
                        &r.try_get::<String, _>("channel_type")?,
                    )?,
                    address: r.try_get("address")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                });
            }
        }
        for r in &values {
            let entity: i64 = r.try_get("entity_id")?;
            if let Some(&i) = by_id.get(&entity) {
                let raw: String = r.try_get("value")?;
                let value = serde_json::from_str(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("custom field value: {e}")))?;
                list[i].custom_fields.insert(r.try_get("field_key")?, value);
            }
        }
        Ok(list)
    }
}
