//! Seed 003's list and search parameters: `filterBy` (`field:value;field:value`), `searchBy`
//! (free text), `sortBy` (`field=desc`, `field:asc` or `field`, comma-separated), and the
//! search body's `filters` (`{field, operator, value, or}`) and `sort` (`{field,
//! direction}`), turned into the store's queries with every field name checked.

use serde_json::{Map, Value};
use vox_store::{ContactField, Filter, FilterValue, Op, Order};

use crate::{ApiError, validate};

/// The contact fields a filter may name: the seed's name, and the store's field.
fn contact_field(name: &str) -> Option<ContactField> {
    Some(match name {
        "id" => ContactField::Number("id"),
        "firstName" => ContactField::Text("first_name"),
        "lastName" => ContactField::Text("last_name"),
        "email" => ContactField::Text("email"),
        "phone" => ContactField::Text("phone"),
        "nationalId" => ContactField::Text("national_id"),
        "providerId" => ContactField::Text("provider_id"),
        "providerName" => ContactField::Text("provider_name"),
        "companyPosition" => ContactField::Text("company_position"),
        "userId" => ContactField::Number("user_id"),
        "contactCompanyId" => ContactField::Number("contact_company_id"),
        "createdAt" => ContactField::Number("created_at"),
        "updatedAt" => ContactField::Number("updated_at"),
        "addresses.address" => ContactField::Address,
        "addresses.channelType" => ContactField::AddressChannel,
        _ => {
            let key = name.strip_prefix("customFields.")?;
            if key.is_empty() {
                return None;
            }
            ContactField::Custom(key.to_owned())
        }
    })
}

const FILTER_FIELDS: &str = "id, firstName, lastName, email, phone, nationalId, providerId, providerName, companyPosition, userId, contactCompanyId, createdAt, updatedAt, addresses.address, addresses.channelType, customFields.<key>";

/// The columns contacts sort by.
fn contact_sort(name: &str) -> Option<&'static str> {
    Some(match name {
        "id" => "id",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "firstName" => "first_name",
        "lastName" => "last_name",
        "email" => "email",
        _ => return None,
    })
}

fn op(raw: &str) -> Option<Op> {
    Some(match raw {
        "eq" => Op::Eq,
        "neq" | "ne" => Op::Neq,
        "contains" => Op::Contains,
        "startsWith" => Op::StartsWith,
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        _ => return None,
    })
}

/// A filter on contacts: the value read for the field's kind (times as ISO 8601, numbers as
/// numbers), the operator allowed for it.
fn contact_filter(
    path: &str,
    name: &str,
    op: Op,
    value: &Value,
    or: bool,
) -> Result<Filter, ApiError> {
    let field = contact_field(name).ok_or_else(|| {
        ApiError::invalid(
            path,
            format!("{path}: no field {name:?}; the fields are: {FILTER_FIELDS}"),
        )
    })?;
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => {
            return Err(ApiError::invalid(
                path,
                format!("{path}: the value must be a string, number or boolean"),
            ));
        }
    };
    let value = match &field {
        ContactField::Number(col) => {
            if matches!(op, Op::Contains | Op::StartsWith) {
                return Err(ApiError::invalid(
                    path,
                    format!("{path}: {name} is compared with eq, neq, gt, gte, lt or lte"),
                ));
            }
            let n = if col.ends_with("_at") {
                super::map::time(path, &text)? as f64
            } else {
                text.trim().parse::<f64>().map_err(|_| {
                    ApiError::invalid(path, format!("{path}: {name} takes a number, got {text:?}"))
                })?
            };
            FilterValue::Number(n)
        }
        ContactField::Custom(_) if matches!(op, Op::Gt | Op::Gte | Op::Lt | Op::Lte) => {
            match text.trim().parse::<f64>() {
                Ok(n) => FilterValue::Number(n),
                // dates compare as text (ISO 8601 sorts by time)
                Err(_) => FilterValue::Text(text),
            }
        }
        _ => FilterValue::Text(text),
    };
    Ok(Filter {
        field,
        op,
        value,
        or,
    })
}

/// `filterBy=firstName:John;email:john@example.com`: equality on each named field.
pub(crate) fn contact_filter_by(raw: Option<&str>) -> Result<Vec<Filter>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    raw.split(';')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once(':').ok_or_else(|| {
                ApiError::invalid("filterBy", format!("filterBy: {pair:?} is not field:value"))
            })?;
            contact_filter(
                "filterBy",
                name.trim(),
                Op::Eq,
                &Value::String(value.trim().to_owned()),
                false,
            )
        })
        .collect()
}

/// `sortBy=createdAt=desc,lastName` over `allowed` (the seed's name to the column).
pub(crate) fn sort_by(
    raw: Option<&str>,
    allowed: fn(&str) -> Option<&'static str>,
    names: &str,
) -> Result<Vec<Order>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let part = part.trim();
            let (name, dir) = part
                .split_once('=')
                .or_else(|| part.split_once(':'))
                .unwrap_or((part, "asc"));
            let column = allowed(name.trim()).ok_or_else(|| {
                ApiError::invalid(
                    "sortBy",
                    format!("sortBy: no sort field {name:?}; the fields are: {names}"),
                )
            })?;
            let ascending = direction("sortBy", dir)?;
            Ok(Order { column, ascending })
        })
        .collect()
}

fn direction(path: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(ApiError::invalid(
            path,
            format!("{path}: the direction is asc or desc, got {other:?}"),
        )),
    }
}

/// Contacts' `sortBy` (default: newest first).
pub(crate) fn contact_sort_by(raw: Option<&str>) -> Result<Vec<Order>, ApiError> {
    let sort = sort_by(
        raw,
        contact_sort,
        "id, createdAt, updatedAt, firstName, lastName, email",
    )?;
    Ok(if sort.is_empty() {
        vec![Order {
            column: "created_at",
            ascending: false,
        }]
    } else {
        sort
    })
}

/// The first sort of a list of definitions or options, by `allowed` (default: `id` asc).
pub(crate) fn order(
    raw: Option<&str>,
    allowed: fn(&str) -> Option<&'static str>,
    names: &str,
) -> Result<Order, ApiError> {
    let sort = sort_by(raw, allowed, names)?;
    if sort.len() > 1 {
        return Err(ApiError::invalid("sortBy", "sortBy takes one field here"));
    }
    Ok(sort.first().copied().unwrap_or(Order {
        column: "id",
        ascending: true,
    }))
}

/// A search body's `filters` and `sort`.
pub(crate) fn contact_search(
    m: &Map<String, Value>,
) -> Result<(Vec<Filter>, Vec<Order>), ApiError> {
    let mut filters = Vec::new();
    for (i, f) in validate::opt_array(m, "", "filters")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("filters[{i}]");
        let Some(o) = f.as_object() else {
            return Err(ApiError::invalid(
                &path,
                format!("{path} must be an object"),
            ));
        };
        validate::known(o, &path, &["field", "operator", "value", "or"])?;
        let name = validate::req_str(o, &path, "field")?;
        let raw_op = validate::opt_str(o, &path, "operator")?.unwrap_or("eq");
        let op = op(raw_op).ok_or_else(|| {
            ApiError::invalid(
                &format!("{path}.operator"),
                format!("{path}.operator must be eq, neq, contains, startsWith, gt, gte, lt or lte, got {raw_op:?}"),
            )
        })?;
        let value = o.get("value").ok_or_else(|| {
            ApiError::invalid(
                &format!("{path}.value"),
                format!("{path}.value is required"),
            )
        })?;
        let or = validate::opt_bool(o, &path, "or")?.unwrap_or(false);
        filters.push(contact_filter(&path, name, op, value, or && i > 0)?);
    }
    if filters.len() > 20 {
        return Err(ApiError::invalid("filters", "at most 20 filters"));
    }
    let mut sort = Vec::new();
    for (i, s) in validate::opt_array(m, "", "sort")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("sort[{i}]");
        let Some(o) = s.as_object() else {
            return Err(ApiError::invalid(
                &path,
                format!("{path} must be an object"),
            ));
        };
        validate::known(o, &path, &["field", "direction"])?;
        let name = validate::req_str(o, &path, "field")?;
        let column = contact_sort(name).ok_or_else(|| {
            ApiError::invalid(
                &format!("{path}.field"),
                format!("{path}.field: no sort field {name:?}"),
            )
        })?;
        let ascending = direction(
            &format!("{path}.direction"),
            validate::opt_str(o, &path, "direction")?.unwrap_or("asc"),
        )?;
        sort.push(Order { column, ascending });
    }
    if sort.is_empty() {
        sort.push(Order {
            column: "created_at",
            ascending: false,
        });
    }
    Ok((filters, sort))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_by_and_sort_by_read_the_seeds_forms() {
        let f = contact_filter_by(Some("firstName:John;email:john@example.com")).expect("filters");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].field, ContactField::Text("first_name"));
        assert_eq!(f[1].value, FilterValue::Text("john@example.com".into()));
        assert!(
            contact_filter_by(Some("nickname:Jo")).is_err(),
            "an unknown field"
        );
        assert!(contact_filter_by(Some("firstName")).is_err(), "no value");
        assert!(
            contact_filter_by(Some("userId:abc")).is_err(),
            "a number field"
        );
        assert_eq!(
            contact_sort_by(Some("createdAt=desc,lastName")).expect("sort"),
            [
                Order {
                    column: "created_at",
                    ascending: false
                },
                Order {
                    column: "last_name",
                    ascending: true
                }
            ]
        );
        assert_eq!(
            contact_sort_by(Some("lastName:asc")).expect("sort"),
            [Order {
                column: "last_name",
                ascending: true
            }]
        );
        assert!(contact_sort_by(Some("createdAt=sideways")).is_err());
        assert!(contact_sort_by(Some("metadata")).is_err());
    }
}
