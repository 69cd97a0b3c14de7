//! What an agent is told about its call: the contact of the business it speaks with (their
//! name, addresses and custom fields), and the call's lead context (the Partner
//! API's `context`, `name` and `additionalInfo`; seed 003's `contextVariables`) as lines added
//! to its instructions, and `{{variable}}` in its prompt (flow or workflow steps), instructions
//! and greeting filled from the context variables.

use serde_json::Value;
use vox_engine::AgentSpec;

/// Longest brief, in characters (the rest is cut: a prompt is not a database).
const MAX_BRIEF: usize = 8000;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{{ key }}` in `s` replaced by the variable's value (unknown keys are left as written).
fn fill(s: &str, vars: &serde_json::Map<String, Value>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        let key = rest[start + 2..start + 2 + len].trim();
        out.push_str(&rest[..start]);
        match vars.get(key).and_then(text) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + len + 4]),
        }
        rest = &rest[start + len + 4..];
    }
    out.push_str(rest);
    out
}

/// Every string in `v` filled.
fn fill_strings(v: &mut Value, vars: &serde_json::Map<String, Value>) {
    match v {
        Value::String(s) => *s = fill(s, vars),
        Value::Array(a) => a.iter_mut().for_each(|x| fill_strings(x, vars)),
        Value::Object(o) => o.values_mut().for_each(|x| fill_strings(x, vars)),
        _ => {}
    }
}

/// The lines that tell the agent who the contact is.
fn contact_lines(c: &vox_store::Contact) -> Vec<String> {
    let f = &c.fields;
    let mut out = Vec::new();
    let name = [f.first_name.as_deref(), f.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !name.is_empty() {
        out.push(format!("- Name: {name}"));
    }
    if let Some(p) = &f.company_position {
        out.push(format!("- Position: {p}"));
    }
    for a in &c.addresses {
        out.push(format!("- {}: {}", a.channel_type, a.address));
    }
    for (k, v) in &c.custom_fields {
        if let Some(v) = text(v) {
            out.push(format!("- {k}: {v}"));
        }
    }
    out
}

/// Tells `spec` about its call (see the module docs) and, if the other party is a contact of
/// the business, about them.
pub fn apply(
    spec: &mut AgentSpec,
    lead_context: Option<&Value>,
    contact: Option<&vox_store::Contact>,
) {
    if let Some(c) = contact {
        let lines = contact_lines(c);
        if !lines.is_empty() {
            let about = format!(
                "The person on this call is a contact of the business:\n{}",
                lines.join("\n")
            );
            spec.custom_instructions = Some(match spec.custom_instructions.take() {
                Some(i) => format!("{i}\n\n{about}"),
                None => about,
            });
        }
    }
    let Some(ctx) = lead_context.and_then(Value::as_object) else {
        return;
    };
    let empty = serde_json::Map::new();
    let vars = ctx
        .get("contextVariables")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for s in [
        &mut spec.conversation_flow,
        &mut spec.custom_instructions,
        &mut spec.first_message,
    ]
    .into_iter()
    .flatten()
    {
        *s = fill(s, vars);
    }
    // a workflow's steps carry the prompt too (a flow is made into one when stored)
    if !vars.is_empty()
        && let Some(w) = spec.workflow.take()
    {
        spec.workflow = Some(
            serde_json::to_value(&w)
                .ok()
                .map(|mut v| {
                    fill_strings(&mut v, vars);
                    v
                })
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or(w),
        );
    }
    let mut lines = Vec::new();
    for (key, label) in [
        ("context", "Context"),
        ("name", "The person's name"),
        ("additionalInfo", "Additional information"),
    ] {
        if let Some(v) = ctx.get(key).and_then(text) {
            lines.push(format!("- {label}: {v}"));
        }
    }
    for (k, v) in vars {
        if let Some(v) = text(v) {
            lines.push(format!("- {k}: {v}"));
        }
    }
    if lines.is_empty() {
        return;
    }
    let mut brief = format!("About this call:\n{}", lines.join("\n"));
    if brief.chars().count() > MAX_BRIEF {
        brief = brief.chars().take(MAX_BRIEF).collect();
    }
    spec.custom_instructions = Some(match spec.custom_instructions.take() {
        Some(c) => format!("{c}\n\n{brief}"),
        None => brief,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> AgentSpec {
        serde_json::from_value(json!({"id": "a", "name": "A", "type": "OUTBOUND",
            "conversationFlow": "Confirm the visit with {{customerFirstName}} {{ customerLastName }}.",
            "firstMessage": "Hi {{customerFirstName}}, this is Acme about {{unknown}}."}))
        .expect("spec")
    }

    #[test]
    fn variables_fill_the_prompt_and_the_call_is_briefed() {
        let mut s = spec();
        apply(
            &mut s,
            Some(
                &json!({"context": "A follow-up on the quote.", "name": "Pedro",
                "contextVariables": {"customerFirstName": "Pedro", "customerLastName": "Gomez", "visits": 3}}),
            ),
            None,
        );
        assert_eq!(
            s.conversation_flow.as_deref(),
            Some("Confirm the visit with Pedro Gomez.")
        );
        assert_eq!(
            s.first_message.as_deref(),
            Some("Hi Pedro, this is Acme about {{unknown}}."),
            "an unknown variable is left as written"
        );
        let brief = s.custom_instructions.expect("briefed");
        assert!(
            brief.starts_with(
                "About this call:\n- Context: A follow-up on the quote.\n- The person's name: Pedro"
            ),
            "{brief}"
        );
        assert!(brief.contains("- visits: 3"), "{brief}");
    }

    #[test]
    fn a_workflows_steps_are_filled_too() {
        let mut s: AgentSpec = serde_json::from_value(json!({"id": "a", "name": "A", "type": "OUTBOUND",
            "workflow": {"nodes": [{"id": "start", "type": "conversation", "prompt": "Remind {{name}}."}],
                "edges": [], "startNode": "start"}}))
        .expect("spec");
        apply(
            &mut s,
            Some(&json!({"contextVariables": {"name": "Pedro"}})),
            None,
        );
        let w = serde_json::to_value(s.workflow.expect("workflow")).expect("json");
        assert!(w.to_string().contains("Remind Pedro."), "{w}");
    }

    #[test]
    fn no_context_changes_nothing() {
        let mut s = spec();
        apply(&mut s, None, None);
        apply(&mut s, Some(&json!({"generatedFromLeadId": null})), None);
        assert_eq!(s, spec());
    }

    #[test]
    fn a_contacts_record_is_told() {
        let mut s = spec();
        let contact = vox_store::Contact {
            id: 7,
            business_id: "biz".into(),
            fields: vox_store::ContactFields {
                first_name: Some("Pedro".into()),
                last_name: Some("Gomez".into()),
                ..Default::default()
            },
            created_at: 0,
            updated_at: 0,
            addresses: vec![vox_store::Address {
                id: 1,
                contact_id: 7,
                channel_type: vox_store::ChannelType::Phone,
                address: "+56912345678".into(),
                created_at: 0,
                updated_at: 0,
            }],
            custom_fields: [("tier".to_owned(), json!("gold"))].into_iter().collect(),
        };
        apply(&mut s, None, Some(&contact));
        assert_eq!(
            s.custom_instructions.as_deref(),
            Some(
                "The person on this call is a contact of the business:\n- Name: Pedro Gomez\n- PHONE: +56912345678\n- tier: gold"
            )
        );
    }
}
