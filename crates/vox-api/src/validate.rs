//! Request validation with the seed's rules; every error names the field (JSON path).

use serde_json::{Map, Value};

use crate::ApiError;

/// The request body as a JSON object, or 400.
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("a JSON object body is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// Rejects keys not in `allowed` (a typo should not be silently ignored).
pub(crate) fn known(m: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(
            &join(path, k),
            format!("unknown field {k:?}; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// An optional string field.
pub(crate) fn opt_str<'a>(
    m: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(
            &join(path, key),
            format!("{} must be a string", join(path, key)),
        )),
    }
}

/// A required, non-blank string field.
pub(crate) fn req_str<'a>(
    m: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, ApiError> {
    match opt_str(m, path, key)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(ApiError::invalid(
            &join(path, key),
            format!("{} is required", join(path, key)),
        )),
    }
}

/// An optional boolean field.
pub(crate) fn opt_bool(
    m: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<bool>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid(
            &join(path, key),
            format!("{} must be true or false", join(path, key)),
        )),
    }
}

/// An optional integer field within `lo..=hi`.
pub(crate) fn opt_int(
    m: &Map<String, Value>,
    path: &str,
    key: &str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, ApiError> {
    let field = join(path, key);
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid(
                &field,
                format!("{field} must be an integer from {lo} to {hi}, got {v}"),
            )),
        },
    }
}

/// An optional object field.
pub(crate) fn opt_object<'a>(
    m: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ApiError::invalid(
            &join(path, key),
            format!("{} must be an object", join(path, key)),
        )),
    }
}

/// An optional array field.
pub(crate) fn opt_array<'a>(
    m: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(ApiError::invalid(
            &join(path, key),
            format!("{} must be an array", join(path, key)),
        )),
    }
}

/// An optional array of non-empty strings (absent: none), each error naming its index.
pub(crate) fn strings(
    m: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Vec<String>, ApiError> {
    let field = join(path, key);
    opt_array(m, path, key)?
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::invalid(
                        &format!("{field}[{i}]"),
                        format!("{field}[{i}] must be a non-empty string"),
                    )
                })
        })
        .collect()
}

/// A US number in E.164: `+1`, then an area code and an exchange not starting with 0 or 1
/// (where it may be dialled is [`DialPolicy`](crate::DialPolicy)'s to say).
pub(crate) fn us_phone(field: &str, s: &str) -> Result<(), ApiError> {
    nanp_phone(field, s)
}

/// A North American number in E.164: `+1`, then an area code and an exchange not starting
/// with 0 or 1.
pub(crate) fn nanp_phone(field: &str, s: &str) -> Result<(), ApiError> {
    let digits = s
        .strip_prefix("+1")
        .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()));
    let Some(d) = digits else {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be in E.164 format +1XXXXXXXXXX (US numbers only), got {s:?}"),
        ));
    };
    let b = d.as_bytes();
    if matches!(b[0], b'0' | b'1') || matches!(b[3], b'0' | b'1') {
        return Err(ApiError::invalid(
            field,
            format!(
                "{field}: the area code and the exchange code cannot start with 0 or 1, got {s:?}"
            ),
        ));
    }
    Ok(())
}

/// A number in E.164 (any country): `+`, then 8 to 15 digits, the first not 0.
pub(crate) fn e164(field: &str, s: &str) -> Result<(), ApiError> {
    let ok = s.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be in E.164 format (e.g. +56912345678), got {s:?}"),
        ))
    }
}

/// An http(s) URL.
pub(crate) fn url(field: &str, s: &str) -> Result<(), ApiError> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !s.chars().any(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(ApiError::invalid(
            field,
            format!("{field} must be an http:// or https:// URL, got {s:?}"),
        )),
    }
}

/// `HH:MM` (00:00-23:59, or 24:00 when `allow_24`) as minutes.
pub(crate) fn hhmm(field: &str, s: &str, allow_24: bool) -> Result<u32, ApiError> {
    let bad = || ApiError::invalid(field, format!("{field} must be HH:MM (24-hour), got {s:?}"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Day names, lower-case.
pub(crate) const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_phone_numbers() {
        assert!(us_phone("p", "+15125550100").is_ok());
        for bad in [
            "5125550100",
            "+1512555010",
            "+151255501000",
            "+44 20 7946 0958",
            "+10125550100",
            "+11125550100",
            "+15120550100",
            "+15121550100",
            "+1512555010x",
        ] {
            assert!(us_phone("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_and_urls() {
        assert_eq!(hhmm("t", "09:30", false).ok(), Some(570));
        assert_eq!(hhmm("t", "24:00", true).ok(), Some(1440));
        for bad in ["24:00", "9:30", "09:60", "25:00", "ab:cd", "0930"] {
            assert!(hhmm("t", bad, false).is_err(), "{bad}");
        }
        assert!(url("u", "https://example.com/x").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "example.com",
            "https:///x",
            "https://a b",
        ] {
            assert!(url("u", bad).is_err(), "{bad}");
        }
    }
}
