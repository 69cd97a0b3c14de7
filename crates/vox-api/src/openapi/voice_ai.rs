//! Seed 000's operations (the Voice AI API, under `/voice-ai`), with its field names.

use serde_json::{Value, json};

use super::{Body, Operation};

const LOCATION: &[(&str, &str)] = &[(
    "locationId",
    "required: the location, a business of the token's organization",
)];
const PAGE: &[(&str, &str)] = &[
    ("page", "1-based page number, 1-5000 (default 1)"),
    ("pageSize", "items per page, 1-50 (default 10)"),
];
const AGENT_SEARCH: &[(&str, &str)] = &[("query", "only agents whose name contains this")];

/// The writable fields of a seed-000 agent.
fn agent_fields() -> Value {
    let interval = json!({"type": "object", "required": ["startHour", "endHour", "startMinute", "endMinute"], "properties": {
        "startHour": {"type": "integer", "minimum": 0, "maximum": 23},
        "endHour": {"type": "integer", "minimum": 0, "maximum": 23},
        "startMinute": {"type": "integer", "minimum": 0, "maximum": 59},
        "endMinute": {"type": "integer", "minimum": 0, "maximum": 59}}});
    json!({
        "agentName": {"type": "string", "minLength": 1, "maxLength": 40, "description": "default \"My Agent {3 digits}\""},
        "businessName": {"type": "string", "minLength": 1, "description": "default: the location's name"},
        "welcomeMessage": {"type": "string", "minLength": 1, "maxLength": 190, "description": "default: generated"},
        "agentPrompt": {"type": "string", "description": "default: generated; the model's conversationFlow"},
        "voiceId": {"type": "string", "description": "an id from GET /v1/voices (default: the first)"},
        "language": {"enum": ["en-US", "pt-BR", "es", "fr", "de", "it", "nl-NL", "multi"], "description": "refused (422) when the server's speech stack cannot hold calls in it"},
        "patienceLevel": {"enum": ["low", "medium", "high"], "description": "how long the agent waits for a caller who pauses (the endpointing waits scaled)"},
        "maxCallDuration": {"type": "integer", "minimum": 180, "maximum": 900, "description": "seconds (default 300)"},
        "sendUserIdleReminders": {"type": "boolean", "description": "default true"},
        "reminderAfterIdleTimeSeconds": {"type": "integer", "minimum": 1, "maximum": 20, "description": "default 8"},
        "inboundNumber": {"type": ["string", "null"], "description": "E.164 number of the server's pools the agent answers on; null releases it"},
        "numberPoolId": {"type": ["string", "null"], "description": "a pool (the carrier holding the numbers, e.g. twilio): the agent gets a free number of it"},
        "callEndWorkflowIds": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "sendPostCallNotificationTo": {"type": "object", "properties": {
            "admins": {"type": "boolean"}, "allUsers": {"type": "boolean"}, "contactAssignedUser": {"type": "boolean"},
            "specificUsers": {"type": "array", "items": {"type": "string"}},
            "customEmails": {"type": "array", "items": {"type": "string", "format": "email"}}}},
        "agentWorkingHours": {"type": "array", "description": "empty: around the clock", "items": {"type": "object", "required": ["dayOfTheWeek", "intervals"], "properties": {
            "dayOfTheWeek": {"type": "integer", "minimum": 1, "maximum": 7, "description": "Monday=1 to Sunday=7"},
            "intervals": {"type": "array", "items": interval}}}},
        "timezone": {"type": "string", "description": "IANA zone of the working hours (default UTC)"},
        "isAgentAsBackupDisabled": {"type": "boolean"},
        "translation": {"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}, "language": {"type": "string"}},
            "description": "enabled only when language is not en-US; then language is required and is the agent's language or en-US"}
    })
}

fn agent_create() -> Value {
    let mut props = agent_fields();
    props["locationId"] = json!({"type": "string"});
    json!({"type": "object", "required": ["locationId"], "properties": props, "additionalProperties": false})
}

fn agent_patch() -> Value {
    json!({"type": "object", "properties": agent_fields(), "additionalProperties": false})
}

const CALL_LOG_FILTERS: &[(&str, &str)] = &[
    ("agentId", "only this agent's calls"),
    (
        "contactId",
        "only calls about these contacts (comma-separated; Vox's leadIds)",
    ),
    ("callType", "LIVE (phone) or TRIAL (a browser call)"),
    (
        "startDate",
        "created at or after this Unix time (seconds or milliseconds); with endDate",
    ),
    (
        "endDate",
        "created at or before this Unix time; with startDate, after it",
    ),
    (
        "actionType",
        "only calls that ran an action of these types (comma-separated)",
    ),
    ("sortBy", "duration or createdAt (default: newest first)"),
    ("sort", "ascend or descend, with sortBy"),
];
const CALL_LOG_PAGE: &[(&str, &str)] = &[
    ("page", "1-based page number (default 1)"),
    ("pageSize", "items per page, 1-50 (default 10)"),
];
const DELETE_ACTION: &[(&str, &str)] =
    &[("agentId", "required: the agent the action is attached to")];

/// A seed-000 action: its type, name and per-type parameters.
fn action() -> Value {
    json!({"type": "object", "required": ["agentId", "locationId", "actionType", "name", "actionParameters"], "additionalProperties": false, "properties": {
        "agentId": {"type": "string"},
        "locationId": {"type": "string"},
        "actionType": {"enum": ["CALL_TRANSFER", "DATA_EXTRACTION", "IN_CALL_DATA_EXTRACTION", "WORKFLOW_TRIGGER", "SMS", "APPOINTMENT_BOOKING", "CUSTOM_ACTION", "KNOWLEDGE_BASE"],
            "description": "SMS texts the caller through the carrier (Twilio's Messages API)"},
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "actionParameters": {"type": "object", "description": "per actionType: CALL_TRANSFER {triggerPrompt, transferToType: number, transferToValue (+ and 10-15 digits, dialable), triggerMessage, hearWhisperMessage?}; DATA_EXTRACTION and IN_CALL_DATA_EXTRACTION {contactFieldId, description, examples (1-5), overwriteExistingValue?}; WORKFLOW_TRIGGER {triggerPrompt, triggerMessage, workflowId}; APPOINTMENT_BOOKING {calendarId (the location's), daysOfOfferingDates 1-14, slotsPerDay 1-12, hoursBetweenSlots 1/6-5}; CUSTOM_ACTION {triggerPrompt, triggerMessage, apiDetails {url, method GET|POST, authenticationRequired?, authenticationValue?, headers [{key, value}]?, parameters [{name, description?, type?, example?}]?}, selectedPaths (GET: at least one; POST: none)}; KNOWLEDGE_BASE {triggerPrompt, knowledgeBaseId (a ready file)}; SMS {triggerPrompt, triggerMessage, messageBody (up to 1600 characters)}"}
    }})
}

/// Every operation under `/voice-ai`.
pub const OPERATIONS: &[Operation] = &[
    op!(
        "post",
        "/voice-ai/agents",
        "create-agent",
        "Create a voice AI agent (a model agent: seed 002's API reads it too)",
        Some("voice-ai-agents.write"),
        &[],
        Body::Json(agent_create),
        201
    ),
    op!(
        "get",
        "/voice-ai/agents",
        "get-agents",
        "The location's agents, a page at a time",
        Some("voice-ai-agents.readonly"),
        &[LOCATION, PAGE, AGENT_SEARCH],
        Body::None,
        200
    ),
    op!(
        "get",
        "/voice-ai/agents/{agent_id}",
        "get-agent",
        "One agent with its actions",
        Some("voice-ai-agents.readonly"),
        &[LOCATION],
        Body::None,
        200
    ),
    op!(
        "patch",
        "/voice-ai/agents/{agent_id}",
        "patch-agent",
        "Change some of an agent's fields (the whole agent is validated again)",
        Some("voice-ai-agents.write"),
        &[LOCATION],
        Body::Json(agent_patch),
        200
    ),
    op!(
        "delete",
        "/voice-ai/agents/{agent_id}",
        "delete-agent",
        "Delete an agent; its number goes back to the location",
        Some("voice-ai-agents.write"),
        &[LOCATION],
        Body::None,
        204
    ),
    op!(
        "get",
        "/voice-ai/dashboard/call-logs",
        "get-call-logs",
        "The location's calls with the actions each ran, summary, transcript and data",
        Some("voice-ai-dashboard.readonly"),
        &[LOCATION, CALL_LOG_FILTERS, CALL_LOG_PAGE],
        Body::None,
        200
    ),
    op!(
        "get",
        "/voice-ai/dashboard/call-logs/{call_id}",
        "getCallLog",
        "One call log",
        Some("voice-ai-dashboard.readonly"),
        &[LOCATION],
        Body::None,
        200
    ),
    op!(
        "post",
        "/voice-ai/actions",
        "create-action",
        "Attach an action to an agent: a tool it uses during its calls",
        Some("voice-ai-agent-goals.write"),
        &[],
        Body::Json(action),
        201
    ),
    op!(
        "get",
        "/voice-ai/actions/{action_id}",
        "get-action",
        "One action with its parameters (secrets masked)",
        Some("voice-ai-agent-goals.readonly"),
        &[LOCATION],
        Body::None,
        200
    ),
    op!(
        "put",
        "/voice-ai/actions/{action_id}",
        "update-action",
        "Replace an action (on the agent named: moved if another had it)",
        Some("voice-ai-agent-goals.write"),
        &[],
        Body::Json(action),
        200
    ),
    op!(
        "delete",
        "/voice-ai/actions/{action_id}",
        "delete-action",
        "Take an action off its agent and delete it",
        Some("voice-ai-agent-goals.write"),
        &[LOCATION, DELETE_ACTION],
        Body::None,
        204
    ),
];
