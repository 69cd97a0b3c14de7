//! What a stored tool instance does: [`ApiTool`], made from the business's tool records,
//! and the definitions the model is offered for it.

use std::time::Duration;

use serde_json::{Value, json};
use vox_engine::{ToolDef, ToolKind};
use vox_store::ToolRecord;

use crate::calendar::AppointmentConfig;
use crate::template::{self, CALL_VARIABLES};

/// The stored tool record a tool (or a transfer destination) came from: what a call's log
/// names when it runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Source {
    /// The record's id.
    pub tool_id: String,
    /// The seed-000 action the record is (`{actionType, name, actionParameters}`), if it is one.
    pub action: Option<Value>,
}

impl Source {
    fn of(r: &ToolRecord) -> Self {
        Self {
            tool_id: r.id.clone(),
            action: r
                .config_override
                .get("action")
                .filter(|a| a.is_object())
                .cloned(),
        }
    }
}

/// A transfer destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// Its name ("Sales Team").
    pub name: String,
    /// E.164 number.
    pub phone_number: String,
    /// What it is for.
    pub description: Option<String>,
    /// Check it answers and brief it before connecting.
    pub warm: bool,
    /// The record that named it.
    pub source: Source,
}

/// A tool of the call and the records it was made from (transfers and knowledge-base
/// queries are one tool however many records bring destinations or files).
#[derive(Debug, Clone)]
pub struct LoadedTool {
    /// What it does.
    pub tool: ApiTool,
    /// Its records, in order.
    pub sources: Vec<Source>,
}

/// What a tool instance does.
#[derive(Debug, Clone)]
pub enum ApiTool {
    /// Goodbye and hang up.
    EndCall {
        /// Said before hanging up.
        message: Option<String>,
    },
    /// Hand the call to a person.
    Transfer {
        /// Where to.
        destinations: Vec<Destination>,
        /// On-hold audio URL.
        hold_audio: Option<String>,
        /// Said before transferring.
        message: Option<String>,
    },
    /// scheduleAppointment, searchAppointments, cancelAppointment.
    Calendar {
        /// Slots, hours, zone.
        config: AppointmentConfig,
    },
    /// knowledgeBaseQuery over these files.
    Knowledge {
        /// Ready files of the business.
        file_ids: Vec<String>,
    },
    /// POST the call and the arguments to the developer's server.
    Function {
        /// Name the model calls.
        name: String,
        /// Where.
        url: String,
        /// For the model.
        description: String,
        /// JSON Schema of the arguments.
        parameters: Value,
        /// Limit.
        timeout: Option<Duration>,
        /// Said while it runs.
        message: Option<String>,
    },
    /// A templated HTTP request.
    ApiRequest {
        /// Name the model calls.
        name: String,
        /// For the model.
        description: String,
        /// GET, POST, ...
        method: String,
        /// URL template.
        url: String,
        /// Header templates.
        headers: Vec<(String, String)>,
        /// Body template.
        body: Option<Value>,
        /// The names the templates use besides the call variables: the model's arguments.
        arguments: Vec<String>,
        /// Limit.
        timeout: Option<Duration>,
        /// Said while it runs.
        message: Option<String>,
        /// Only these dotted paths of a JSON reply are handed to the model (`data.id`,
        /// `items.0.name`); all of it when empty.
        selected_paths: Vec<String>,
        /// What each argument is, for the model.
        argument_docs: std::collections::BTreeMap<String, String>,
    },
    /// Keeps what the caller says in the call's data, under `key`, as soon as it is said.
    CaptureData {
        /// Name the model calls.
        name: String,
        /// Where it goes in the call's data.
        key: String,
        /// What to listen for.
        description: String,
        /// Examples of its form.
        examples: Vec<String>,
        /// Replace a value already kept.
        overwrite: bool,
    },
    /// Texts the caller a fixed message from the agent's number.
    SendSms {
        /// Name the model calls.
        name: String,
        /// The message.
        body: String,
        /// When to send it, for the model.
        description: String,
        /// Said while it runs.
        message: Option<String>,
    },
    /// Starts the developer's workflow: a signed `workflow.triggered` event.
    TriggerWorkflow {
        /// Name the model calls.
        name: String,
        /// The developer's workflow.
        workflow_id: String,
        /// When to call it, for the model.
        description: String,
        /// Said while it runs.
        message: Option<String>,
    },
}

/// Record names the runtime knows but offers no tool for: a post-call extraction is done
/// after the call (its records are read there).
pub const POST_CALL_RECORDS: &[&str] = &["postCallExtraction"];

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn timeout_of(v: &Value) -> Option<Duration> {
    v.get("timeoutMs")
        .and_then(Value::as_u64)
        .map(Duration::from_millis)
}

impl ApiTool {
    /// The enabled tools among `records`, in order. A record that does not describe a
    /// usable tool (the API validates them, so only an old or hand-edited row) is skipped
    /// with a warning.
    pub fn from_records(records: &[ToolRecord]) -> Vec<LoadedTool> {
        let mut out: Vec<LoadedTool> = Vec::new();
        for r in records
            .iter()
            .filter(|r| r.enabled && !POST_CALL_RECORDS.contains(&r.name.as_str()))
        {
            let o = &r.config_override;
            let tool = match r.name.as_str() {
                "endCall" => Ok(ApiTool::EndCall {
                    message: r.message.clone().or_else(|| str_of(o, "message")),
                }),
                "transferCall" => {
                    let destinations: Vec<Destination> = o["destinations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|d| {
                            Some(Destination {
                                name: str_of(d, "name")?,
                                phone_number: str_of(d, "phoneNumber")?,
                                description: str_of(d, "description"),
                                warm: d["warmTransferEnabled"].as_bool().unwrap_or(false),
                                source: Source::of(r),
                            })
                        })
                        .collect();
                    let hold_audio = o["messages"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|m| m["type"] == "request-complete")
                        .and_then(|m| str_of(m, "content"));
                    if destinations.is_empty() {
                        Err("no destinations".to_owned())
                    } else {
                        Ok(ApiTool::Transfer {
                            destinations,
                            hold_audio,
                            message: r.message.clone(),
                        })
                    }
                }
                "googleCal" => AppointmentConfig::from_json(o.get("appointmentConfig"))
                    .map(|config| ApiTool::Calendar { config }),
                "knowledgeBaseQuery" => {
                    let file_ids: Vec<String> = o["fileIds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    Ok(ApiTool::Knowledge { file_ids })
                }
                "function" => match (str_of(o, "name"), str_of(o, "serverUrl")) {
                    (Some(name), Some(url)) => Ok(ApiTool::Function {
                        description: str_of(o, "description")
                            .unwrap_or_else(|| format!("Calls {name}.")),
                        parameters: o
                            .get("parameters")
                            .filter(|p| p.is_object())
                            .cloned()
                            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                        timeout: timeout_of(o),
                        message: r.message.clone(),
                        name,
                        url,
                    }),
                    _ => Err("needs name and serverUrl".to_owned()),
                },
                "apiRequest" => match (str_of(o, "url"), str_of(o, "method")) {
                    (Some(url), Some(method)) => {
                        let headers: Vec<(String, String)> = o["headers"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                            .collect();
                        let body = o.get("body").filter(|b| !b.is_null()).cloned();
                        let mut names = template::names(&url);
                        for (k, v) in &headers {
                            names.extend(
                                template::names(k)
                                    .into_iter()
                                    .chain(template::names(v))
                                    .filter(|n| !names.contains(n))
                                    .collect::<Vec<_>>(),
                            );
                        }
                        if let Some(b) = &body {
                            template::names_in(b, &mut names);
                        }
                        let name = str_of(o, "name").unwrap_or_else(|| "apiRequest".to_owned());
                        let selected_paths = o["selectedPaths"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect();
                        let argument_docs = o["argumentDescriptions"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                            .collect();
                        Ok(ApiTool::ApiRequest {
                            selected_paths,
                            argument_docs,
                            description: str_of(o, "description")
                                .unwrap_or_else(|| format!("Calls {name}.")),
                            arguments: names
                                .into_iter()
                                .filter(|n| !CALL_VARIABLES.contains(&n.as_str()))
                                .collect(),
                            timeout: timeout_of(o),
                            message: r.message.clone(),
                            name,
                            method,
                            url,
                            headers,
                            body,
                        })
                    }
                    _ => Err("needs url and method".to_owned()),
                },
                "captureData" => match (str_of(o, "name"), str_of(o, "key")) {
                    (Some(name), Some(key)) => Ok(ApiTool::CaptureData {
                        description: str_of(o, "description").unwrap_or_else(|| key.clone()),
                        examples: strings_of(o, "examples"),
                        overwrite: o["overwrite"].as_bool().unwrap_or(false),
                        name,
                        key,
                    }),
                    _ => Err("needs name and key".to_owned()),
                },
                "sendSms" => match (str_of(o, "name"), str_of(o, "messageBody")) {
                    (Some(name), Some(body)) => Ok(ApiTool::SendSms {
                        description: str_of(o, "description")
                            .unwrap_or_else(|| format!("Texts the caller ({name}).")),
                        message: r.message.clone(),
                        name,
                        body,
                    }),
                    _ => Err("needs name and messageBody".to_owned()),
                },
                "triggerWorkflow" => match (str_of(o, "name"), str_of(o, "workflowId")) {
                    (Some(name), Some(workflow_id)) => Ok(ApiTool::TriggerWorkflow {
                        description: str_of(o, "description")
                            .unwrap_or_else(|| format!("Starts the {name} workflow.")),
                        message: r.message.clone(),
                        name,
                        workflow_id,
                    }),
                    _ => Err("needs name and workflowId".to_owned()),
                },
                other => Err(format!("unknown tool {other:?}")),
            };
            match tool {
                Ok(t) => merge(&mut out, t, Source::of(r)),
                Err(e) => tracing::warn!(tool = %r.id, error = %e, "stored tool skipped"),
            }
        }
        out
    }

    /// Whether the model calls this tool by `name` (a calendar answers to three names).
    pub(super) fn answers_to(&self, name: &str) -> bool {
        match self {
            ApiTool::EndCall { .. } => name == "endCall",
            ApiTool::Transfer { .. } => name == "transferCall",
            ApiTool::Calendar { .. } => matches!(
                name,
                "scheduleAppointment" | "searchAppointments" | "cancelAppointment"
            ),
            ApiTool::Knowledge { .. } => name == "knowledgeBaseQuery",
            ApiTool::Function { name: n, .. }
            | ApiTool::ApiRequest { name: n, .. }
            | ApiTool::CaptureData { name: n, .. }
            | ApiTool::SendSms { name: n, .. }
            | ApiTool::TriggerWorkflow { name: n, .. } => n == name,
        }
    }

    /// The definitions the engine offers the model (a calendar is three).
    pub fn defs(&self) -> Vec<ToolDef> {
        let def = |name: &str,
                   kind: ToolKind,
                   description: String,
                   parameters: Value,
                   message: Option<String>,
                   url: Option<String>| ToolDef {
            name: name.to_owned(),
            kind,
            description,
            parameters,
            url,
            message,
        };
        match self {
            ApiTool::EndCall { message } => vec![def("endCall", ToolKind::EndCall, "End the call once the caller is done, after saying goodbye.".into(), json!({"type": "object", "properties": {}}), message.clone(), None)],
            ApiTool::Transfer { destinations, message, .. } => {
                let names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
                let described: Vec<String> = destinations.iter().map(|d| match &d.description {
                    Some(x) => format!("{} ({x})", d.name),
                    None => d.name.clone(),
                }).collect();
                vec![def(
                    "transferCall",
                    ToolKind::TransferCall,
                    format!("Transfer the caller to a person: {}. Use it when the caller asks for one or you cannot help.", described.join("; ")),
                    json!({"type": "object", "properties": {
                        "destination": {"type": "string", "enum": names, "description": "Which destination"},
                        "summary": {"type": "string", "description": "One sentence for the person taking the call: who is calling and why"}
                    }, "required": ["destination"]}),
                    message.clone(),
                    None,
                )]
            }
            ApiTool::Calendar { .. } => vec![
                def("scheduleAppointment", ToolKind::ScheduleAppointment, "Book an appointment in one of the open slots you were given.".into(), json!({"type": "object", "properties": {
                    "start": {"type": "string", "description": "Slot start, local time YYYY-MM-DDTHH:MM, one of the open slots"},
                    "name": {"type": "string", "description": "The caller's name"},
                    "phone": {"type": "string", "description": "Phone number (default: the caller's)"},
                    "address": {"type": "string"},
                    "notes": {"type": "string", "description": "What the appointment is for"}
                }, "required": ["start", "name"]}), None, None),
                def("searchAppointments", ToolKind::ScheduleAppointment, "Find existing appointments by the caller's name, phone number or address.".into(), json!({"type": "object", "properties": {
                    "query": {"type": "string", "description": "Name, phone number or address (default: the caller's number)"}
                }}), None, None),
                def("cancelAppointment", ToolKind::ScheduleAppointment, "Cancel an appointment found with searchAppointments. To reschedule, cancel and book again.".into(), json!({"type": "object", "properties": {
                    "appointmentId": {"type": "string"}
                }, "required": ["appointmentId"]}), None, None),
            ],
            ApiTool::Knowledge { .. } => vec![def("knowledgeBaseQuery", ToolKind::KnowledgeBase, "Look up the business's documents (prices, policies, services, hours) before answering a factual question.".into(), json!({"type": "object", "properties": {
                "query": {"type": "string", "description": "The question, in the caller's words"}
            }, "required": ["query"]}), None, None)],
            ApiTool::Function { name, url, description, parameters, message, .. } => vec![def(name, ToolKind::Function, description.clone(), parameters.clone(), message.clone(), Some(url.clone()))],
            ApiTool::ApiRequest { name, description, arguments, message, argument_docs, .. } => {
                let props: serde_json::Map<String, Value> = arguments.iter().map(|a| {
                    let mut p = json!({"type": "string"});
                    if let Some(d) = argument_docs.get(a) {
                        p["description"] = json!(d);
                    }
                    (a.clone(), p)
                }).collect();
                vec![def(name, ToolKind::ApiRequest, description.clone(), json!({"type": "object", "properties": props, "required": arguments}), message.clone(), None)]
            }
            ApiTool::CaptureData { name, description, examples, .. } => {
                let hint = if examples.is_empty() { String::new() } else { format!(" Examples of its form: {}.", examples.join(", ")) };
                vec![def(name, ToolKind::CaptureData, format!("Save the caller's {description} as soon as they say it (it is kept with the call).{hint}"), json!({"type": "object", "properties": {
                    "value": {"type": "string", "description": format!("The caller's {description}, as they gave it")}
                }, "required": ["value"]}), None, None)]
            }
            ApiTool::SendSms { name, description, message, body } => vec![def(name, ToolKind::SendSms, format!("{description} Texts the caller this message: {body:?}."), json!({"type": "object", "properties": {}}), message.clone(), None)],
            ApiTool::TriggerWorkflow { name, description, message, .. } => vec![def(name, ToolKind::TriggerWorkflow, description.clone(), json!({"type": "object", "properties": {
                "details": {"type": "string", "description": "What the workflow needs to know, in one sentence"}
            }}), message.clone(), None)],
        }
    }
}

fn strings_of(v: &Value, k: &str) -> Vec<String> {
    v[k].as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Adds `tool` to `out`: a transfer's destinations join the call's transfer tool, and a
/// knowledge base's files its knowledge tool (the model sees one of each); other tools are
/// their own.
fn merge(out: &mut Vec<LoadedTool>, tool: ApiTool, source: Source) {
    for loaded in out.iter_mut() {
        match (&mut loaded.tool, &tool) {
            (
                ApiTool::Transfer { destinations, .. },
                ApiTool::Transfer {
                    destinations: more, ..
                },
            ) => {
                for d in more {
                    if !destinations
                        .iter()
                        .any(|x| x.name.eq_ignore_ascii_case(&d.name))
                    {
                        destinations.push(d.clone());
                    }
                }
                loaded.sources.push(source);
                return;
            }
            (ApiTool::Knowledge { file_ids }, ApiTool::Knowledge { file_ids: more }) => {
                for f in more {
                    if !file_ids.contains(f) {
                        file_ids.push(f.clone());
                    }
                }
                loaded.sources.push(source);
                return;
            }
            _ => {}
        }
    }
    out.push(LoadedTool {
        tool,
        sources: vec![source],
    });
}
