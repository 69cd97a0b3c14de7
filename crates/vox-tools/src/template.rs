//! `{{name}}` templates for apiRequest tools: URL, headers and body are filled in with call
//! variables (`callId`, `customerNumber`, `phoneNumber`, `agentId`, `businessId`) and the
//! tool's arguments, which are the other names a template mentions.

use std::collections::BTreeMap;

use serde_json::Value;

/// The call variables every template may use.
pub const CALL_VARIABLES: [&str; 5] = [
    "callId",
    "customerNumber",
    "phoneNumber",
    "agentId",
    "businessId",
];

/// The `{{names}}` in `text`, in order of first use.
pub fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start + 2..].find("}}") else {
            break;
        };
        let name = rest[start + 2..start + 2 + end].trim().to_owned();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &rest[start + 2 + end + 2..];
    }
    out
}

/// Every `{{name}}` in a JSON value's strings (keys included).
pub fn names_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(
            names(s)
                .into_iter()
                .filter(|n| !out.contains(n))
                .collect::<Vec<_>>(),
        ),
        Value::Array(a) => a.iter().for_each(|x| names_in(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.extend(
                names(k)
                    .into_iter()
                    .filter(|n| !out.contains(n))
                    .collect::<Vec<_>>(),
            );
            names_in(x, out);
        }),
        _ => {}
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `s` percent-encoded for a URL path segment or query value (all but RFC 3986 unreserved
/// characters).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` with each `{{name}}` replaced by its value (`encode`: percent-encoded, for URLs);
/// unknown names become empty.
pub fn render(text: &str, vars: &BTreeMap<String, Value>, encode: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + 2 + end].trim();
        let value = vars.get(name).map(as_text).unwrap_or_default();
        if encode {
            out.push_str(&percent_encode(&value));
        } else {
            out.push_str(&value);
        }
        rest = &rest[start + 2 + end + 2..];
    }
    out.push_str(rest);
    out
}

/// A JSON body with its strings rendered; a string that is exactly one `{{name}}` takes the
/// value itself (so a number stays a number).
pub fn render_json(v: &Value, vars: &BTreeMap<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with("{{")
                && t.ends_with("}}")
                && names(t).len() == 1
                && t[2..t.len() - 2].find("{{").is_none()
            {
                return vars
                    .get(t[2..t.len() - 2].trim())
                    .cloned()
                    .unwrap_or(Value::Null);
            }
            Value::String(render(s, vars, false))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| render_json(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (render(k, vars, false), render_json(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_fill_call_variables_and_arguments() {
        let vars: BTreeMap<String, Value> = [
            ("callId", json!("call_1")),
            ("zip", json!("78701")),
            ("count", json!(3)),
            ("q", json!("a b&c")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            names("https://x/{{ zip }}/{{callId}}?q={{q}}&z={{zip}}"),
            vec!["zip", "callId", "q"]
        );
        assert_eq!(
            render("https://x/{{zip}}?q={{q}}&m={{missing}}", &vars, true),
            "https://x/78701?q=a%20b%26c&m="
        );
        let body = render_json(
            &json!({"call": "{{callId}}", "n": "{{count}}", "text": "zip {{zip}}", "list": ["{{ zip }}"]}),
            &vars,
        );
        assert_eq!(
            body,
            json!({"call": "call_1", "n": 3, "text": "zip 78701", "list": ["78701"]})
        );
        let mut found = Vec::new();
        names_in(&json!({"a": "{{x}} {{y}}", "{{z}}": ["{{x}}"]}), &mut found);
        assert_eq!(found, vec!["x", "y", "z"]);
    }
}
