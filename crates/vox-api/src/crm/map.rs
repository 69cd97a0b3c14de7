//! Where seed 003's names meet the model's: its contact, address, custom-field definition and
//! option objects from the store's records, and its request bodies into the store's writes,
//! each rule checked with the field's name.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use vox_store::{
    ChannelType, Contact, ContactFields, EntityType, FieldChange, FieldDefinition, FieldOption,
    FieldType, StoredValue, rfc3339,
};

use crate::{ApiError, validate};

/// Longest name-like text (names, positions, labels, provider fields).
const SHORT: usize = 200;
/// Longest STRING custom-field value and description.
const LONG: usize = 2000;
/// Most addresses on one contact.
const MAX_ADDRESSES: usize = 20;
/// Largest `metadata`, serialized.
const MAX_METADATA: usize = 16 << 10;

/// The fields of a contact body (create; update adds the read-only ones it ignores).
pub(crate) const CONTACT_FIELDS: &[&str] = &[
    "userId",
    "customFields",
    "providerId",
    "providerName",
    "nationalId",
    "firstName",
    "lastName",
    "email",
    "phone",
    "contactCompanyId",
    "companyPosition",
    "metadata",
    "createdAt",
    "addresses",
    "id",
    "tenantId",
    "updatedAt",
];

/// The seed's contact object.
pub(crate) fn contact(c: &Contact) -> Value {
    let f = &c.fields;
    let first = |kinds: &[ChannelType]| {
        c.addresses
            .iter()
            .find(|a| kinds.contains(&a.channel_type))
            .map(|a| a.address.clone())
    };
    json!({
        "id": c.id,
        "tenantId": c.business_id,
        "providerId": f.provider_id,
        "providerName": f.provider_name,
        "nationalId": f.national_id,
        "firstName": f.first_name,
        "lastName": f.last_name,
        // the legacy fields: as written, else the first address on their channel
        "email": f.email.clone().or_else(|| first(&[ChannelType::Email])),
        "phone": f.phone.clone().or_else(|| first(&[ChannelType::Phone, ChannelType::Whatsapp, ChannelType::Sms])),
        "userId": f.user_id,
        "contactCompanyId": f.contact_company_id,
        "companyPosition": f.company_position,
        "metadata": f.metadata,
        "createdAt": rfc3339(c.created_at),
        "updatedAt": rfc3339(c.updated_at),
        "customFields": c.custom_fields,
        "addresses": c.addresses.iter().map(|a| json!({
            "id": a.id,
            "tenantId": c.business_id,
            "contactId": c.id,
            "channelType": a.channel_type,
            "address": a.address,
            "createdAt": rfc3339(a.created_at),
            "updatedAt": rfc3339(a.updated_at),
        })).collect::<Vec<_>>(),
    })
}

/// The seed's search document of a contact (`POST /api/v1/contacts/search`): the contact with
/// string ids and the search index's own fields.
pub(crate) fn search_document(c: &Contact) -> Value {
    let mut v = contact(c);
    v["id"] = json!(c.id.to_string());
    v["userId"] = json!(c.fields.user_id.map(|n| n.to_string()));
    v["contactCompanyId"] = json!(c.fields.contact_company_id.map(|n| n.to_string()));
    v["modelType"] = json!("Contact");
    v["archivedAt"] = Value::Null;
    v["eventSequence"] = json!(c.updated_at);
    v["eventTimestamp"] = json!(rfc3339(c.updated_at));
    v
}

/// The seed's custom field definition.
pub(crate) fn definition(d: &FieldDefinition) -> Value {
    json!({
        "id": d.id,
        "tenantId": d.business_id,
        "entityType": d.entity_type,
        "fieldKey": d.field_key,
        "fieldLabel": d.field_label,
        "fieldType": d.field_type,
        "description": d.description,
        "createdAt": rfc3339(d.created_at),
        "updatedAt": rfc3339(d.updated_at),
    })
}

/// The seed's list option.
pub(crate) fn option(o: &FieldOption, tenant: &str) -> Value {
    json!({
        "id": o.id,
        "tenantId": tenant,
        "definitionId": o.definition_id,
        "value": o.value,
        "label": o.label,
        "description": o.description,
        "createdAt": rfc3339(o.created_at),
        "updatedAt": rfc3339(o.updated_at),
    })
}

/// A path's numeric id (the seed's `number <double>`), or 400 naming it.
pub(crate) fn path_id(name: &str, raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n < 1e15)
        .map(|n| n as i64)
        .ok_or_else(|| {
            ApiError::invalid(
                name,
                format!("{name} must be a positive integer, got {raw:?}"),
            )
        })
}

/// An optional string of at most `max` characters.
pub(crate) fn text(
    m: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match validate::opt_str(m, "", key)? {
        Some(s) if s.chars().count() > max => Err(ApiError::invalid(
            key,
            format!("{key} must be at most {max} characters"),
        )),
        Some(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        None => Ok(None),
    }
}

/// An optional whole number (written as JSON number, possibly `2.0`), at least 0.
fn whole(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n < 1e15)
            .map(|n| Some(n as i64))
            .ok_or_else(|| {
                ApiError::invalid(key, format!("{key} must be a whole number, got {v}"))
            }),
    }
}

/// An RFC 3339 time as Unix ms.
pub(crate) fn time(field: &str, s: &str) -> Result<i64, ApiError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("{field} must be an ISO 8601 date-time (2024-02-15T10:00:00Z), got {s:?}"),
            )
        })
}

fn email(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = s.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
    }) && !s.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be an e-mail address, got {s:?}"),
        ))
    }
}

/// A channel's address, checked for its channel.
pub(crate) fn address(field: &str, channel: ChannelType, s: &str) -> Result<(), ApiError> {
    match channel {
        ChannelType::Email => email(field, s),
        ChannelType::Phone | ChannelType::Whatsapp | ChannelType::Sms => validate::e164(field, s),
    }
}

/// A contact body's own fields over `base` (absent fields keep `base`'s; null clears).
pub(crate) fn contact_fields(
    m: &Map<String, Value>,
    base: &ContactFields,
) -> Result<ContactFields, ApiError> {
    let mut f = base.clone();
    let texts: [(&str, &mut Option<String>); 7] = [
        ("providerId", &mut f.provider_id),
        ("providerName", &mut f.provider_name),
        ("nationalId", &mut f.national_id),
        ("firstName", &mut f.first_name),
        ("lastName", &mut f.last_name),
        ("companyPosition", &mut f.company_position),
        ("email", &mut f.email),
    ];
    for (key, slot) in texts {
        if m.contains_key(key) {
            *slot = text(m, key, SHORT)?;
        }
    }
    if m.contains_key("phone") {
        f.phone = text(m, "phone", SHORT)?;
    }
    if let Some(e) = &f.email {
        email("email", e)?;
    }
    if let Some(p) = &f.phone {
        validate::e164("phone", p)?;
    }
    if m.contains_key("userId") {
        f.user_id = whole(m, "userId")?;
    }
    if m.contains_key("contactCompanyId") {
        f.contact_company_id = whole(m, "contactCompanyId")?;
    }
    if let Some(meta) = m.get("metadata") {
        if meta.to_string().len() > MAX_METADATA {
            return Err(ApiError::invalid(
                "metadata",
                format!("metadata must be at most {MAX_METADATA} bytes as JSON"),
            ));
        }
        f.metadata = Some(meta.clone()).filter(|v| !v.is_null());
    }
    Ok(f)
}

/// A body's `addresses` (deduplicated, in order), with the legacy `phone` / `email` added on
/// their channels; None when the body changes none of them.
pub(crate) fn addresses(
    m: &Map<String, Value>,
    fields: &ContactFields,
    current: &[(ChannelType, String)],
) -> Result<Option<Vec<(ChannelType, String)>>, ApiError> {
    let given = validate::opt_array(m, "", "addresses")?;
    if given.is_none() && !m.contains_key("phone") && !m.contains_key("email") {
        return Ok(None);
    }
    let mut list: Vec<(ChannelType, String)> = match given {
        Some(a) => {
            if a.len() > MAX_ADDRESSES {
                return Err(ApiError::invalid(
                    "addresses",
                    format!("at most {MAX_ADDRESSES} addresses"),
                ));
            }
            let mut out = Vec::new();
            for (i, v) in a.iter().enumerate() {
                let path = format!("addresses[{i}]");
                let Some(o) = v.as_object() else {
                    return Err(ApiError::invalid(
                        &path,
                        format!("{path} must be an object"),
                    ));
                };
                validate::known(o, &path, &["channelType", "address"])?;
                let raw = validate::req_str(o, &path, "channelType")?;
                let channel = ChannelType::parse(raw).ok_or_else(|| {
                    ApiError::invalid(
                        &format!("{path}.channelType"),
                        format!(
                            "{path}.channelType must be one of {}, got {raw:?}",
                            names(ChannelType::ALL)
                        ),
                    )
                })?;
                let value = validate::req_str(o, &path, "address")?.trim().to_owned();
                address(&format!("{path}.address"), channel, &value)?;
                out.push((channel, value));
            }
            out
        }
        None => current.to_vec(),
    };
    if let Some(p) = &fields.phone
        && !list.iter().any(|(_, a)| a == p)
    {
        list.push((ChannelType::Phone, p.clone()));
    }
    if let Some(e) = &fields.email
        && !list.iter().any(|(_, a)| a.eq_ignore_ascii_case(e))
    {
        list.push((ChannelType::Email, e.clone()));
    }
    let mut seen = Vec::new();
    list.retain(|x| {
        let new = !seen.contains(x);
        seen.push(x.clone());
        new
    });
    Ok(Some(list))
}

/// The names of an enum's values, for messages.
pub(crate) fn names<T: Copy + std::fmt::Display>(all: &[T]) -> String {
    all.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A body's `customFields` checked against the entity type's definitions (and a LIST field's
/// options): the changes to write.
pub(crate) fn custom_fields(
    m: &Map<String, Value>,
    definitions: &BTreeMap<String, FieldDefinition>,
    options: &BTreeMap<i64, Vec<String>>,
) -> Result<Vec<FieldChange>, ApiError> {
    let Some(given) = validate::opt_object(m, "", "customFields")? else {
        return Ok(Vec::new());
    };
    let mut changes = Vec::new();
    for (key, v) in given {
        let field = format!("customFields.{key}");
        let Some(d) = definitions.get(key) else {
            return Err(ApiError::invalid(
                &field,
                format!(
                    "no custom field {key:?} is defined for this entity: create it with POST /api/v1/custom-fields/definitions"
                ),
            ));
        };
        let value = if v.is_null() {
            None
        } else {
            Some(stored(
                &field,
                d,
                v,
                options.get(&d.id).map(Vec::as_slice).unwrap_or(&[]),
            )?)
        };
        changes.push(FieldChange {
            definition_id: d.id,
            value,
        });
    }
    Ok(changes)
}

/// A value checked against its field's type.
fn stored(
    field: &str,
    d: &FieldDefinition,
    v: &Value,
    options: &[String],
) -> Result<StoredValue, ApiError> {
    StoredValue::for_field(d, v, options).map_err(|what| {
        ApiError::invalid(
            field,
            format!("{field} is a {} field: {what}, got {v}", d.field_type),
        )
    })
}

/// The fields of a definition body.
pub(crate) const DEFINITION_FIELDS: &[&str] = &[
    "description",
    "entityType",
    "fieldKey",
    "fieldLabel",
    "fieldType",
    "id",
    "tenantId",
    "createdAt",
    "updatedAt",
];

/// A definition body over `base` (create: every required field must be given).
pub(crate) fn definition_fields(
    m: &Map<String, Value>,
    mut d: FieldDefinition,
    creating: bool,
) -> Result<FieldDefinition, ApiError> {
    validate::known(m, "", DEFINITION_FIELDS)?;
    if creating || m.contains_key("entityType") {
        let raw = validate::req_str(m, "", "entityType")?;
        d.entity_type = EntityType::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "entityType",
                format!(
                    "entityType must be one of {}, got {raw:?}",
                    names(EntityType::ALL)
                ),
            )
        })?;
    }
    if creating || m.contains_key("fieldType") {
        let raw = validate::req_str(m, "", "fieldType")?;
        d.field_type = FieldType::parse(raw).ok_or_else(|| {
            ApiError::invalid(
                "fieldType",
                format!(
                    "fieldType must be one of {}, got {raw:?}",
                    names(FieldType::ALL)
                ),
            )
        })?;
    }
    if creating || m.contains_key("fieldKey") {
        let key = validate::req_str(m, "", "fieldKey")?.trim();
        let ok = key.len() <= 64
            && key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(ApiError::invalid(
                "fieldKey",
                format!(
                    "fieldKey must be 1 to 64 letters, digits or _, starting with a letter, got {key:?}"
                ),
            ));
        }
        d.field_key = key.to_owned();
    }
    if m.contains_key("fieldLabel") {
        d.field_label = text(m, "fieldLabel", SHORT)?;
    }
    if m.contains_key("description") {
        d.description = text(m, "description", LONG)?;
    }
    Ok(d)
}

/// An option body over `base`.
pub(crate) fn option_fields(
    m: &Map<String, Value>,
    mut o: FieldOption,
    creating: bool,
) -> Result<FieldOption, ApiError> {
    validate::known(
        m,
        "",
        &[
            "id",
            "tenantId",
            "definitionId",
            "value",
            "label",
            "description",
            "createdAt",
            "updatedAt",
        ],
    )?;
    match m.get("definitionId") {
        None if creating => {
            return Err(ApiError::invalid(
                "definitionId",
                "definitionId is required",
            ));
        }
        None => {}
        Some(v) if v.as_f64() == Some(o.definition_id as f64) => {}
        Some(v) => {
            return Err(ApiError::invalid(
                "definitionId",
                format!(
                    "definitionId {v} does not match the path's {}",
                    o.definition_id
                ),
            ));
        }
    }
    if creating || m.contains_key("value") {
        let v = validate::req_str(m, "", "value")?.trim();
        if v.chars().count() > SHORT {
            return Err(ApiError::invalid(
                "value",
                format!("value must be at most {SHORT} characters"),
            ));
        }
        o.value = v.to_owned();
    }
    if m.contains_key("label") {
        o.label = text(m, "label", SHORT)?;
    }
    if m.contains_key("description") {
        o.description = text(m, "description", LONG)?;
    }
    Ok(o)
}
