//! What seed 000's actions add to a call's tools: keeping what the caller says in the call's
//! data, and handing the model only the parts of a JSON reply an action selected.

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::Effect;

/// Keeps the caller's `value` under `key` (a value kept before stays unless `overwrite`):
/// the answer for the model and what was kept.
pub(super) fn capture(
    kept: &watch::Sender<Map<String, Value>>,
    key: &str,
    overwrite: bool,
    args: &Value,
) -> (String, Option<Effect>) {
    let value = args["value"].as_str().unwrap_or_default().trim();
    if value.is_empty() {
        return ("Error: give the caller's words in `value`.".into(), None);
    }
    let mut before = None;
    kept.send_if_modified(|m| {
        before = m.get(key).and_then(Value::as_str).map(str::to_owned);
        if before.is_some() && !overwrite {
            return false;
        }
        m.insert(key.to_owned(), json!(value));
        true
    });
    match before {
        Some(old) if !overwrite => (
            format!("Already saved as {old:?}; it is kept (this field is not overwritten)."),
            None,
        ),
        _ => (
            "Saved.".into(),
            Some(Effect::DataCaptured {
                key: key.to_owned(),
                value: value.to_owned(),
            }),
        ),
    }
}

/// The value at a dotted path (`data.items.0.id`: keys, and indexes into arrays).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// The `paths` of `reply` as one object (`null` for a path the reply lacks).
pub(super) fn select(reply: &Value, paths: &[String]) -> Value {
    Value::Object(
        paths
            .iter()
            .map(|p| (p.clone(), at(reply, p).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_dotted_paths_of_a_reply() {
        let reply = json!({"data": {"orderId": "ORD-1", "items": [{"sku": "A"}, {"sku": "B"}]}, "status": "shipped"});
        let paths =
            ["data.orderId", "status", "data.items.1.sku", "data.missing"].map(String::from);
        assert_eq!(
            select(&reply, &paths),
            json!({"data.orderId": "ORD-1", "status": "shipped", "data.items.1.sku": "B", "data.missing": null})
        );
    }

    #[test]
    fn keeps_the_first_value_unless_told_to_overwrite() {
        let kept = watch::Sender::new(Map::new());
        let (said, effect) = capture(&kept, "email", false, &json!({"value": "a@x.com"}));
        assert_eq!(said, "Saved.");
        assert!(matches!(effect, Some(Effect::DataCaptured { .. })));
        let (said, effect) = capture(&kept, "email", false, &json!({"value": "b@x.com"}));
        assert!(said.contains("kept") && effect.is_none(), "{said}");
        let (_, effect) = capture(&kept, "email", true, &json!({"value": "b@x.com"}));
        assert!(effect.is_some());
        assert_eq!(kept.borrow()["email"], "b@x.com");
        let (said, _) = capture(&kept, "email", true, &json!({}));
        assert!(said.starts_with("Error"));
    }
}
