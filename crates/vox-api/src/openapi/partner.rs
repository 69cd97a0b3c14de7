//! The Partner API's operations (seed 002, under `/v1`): the table the document and the
//! docs page are generated from.

use serde_json::{Value, json};

use super::{Body, Operation};

const PAGE: &[(&str, &str)] = &[
    ("page", "1-based page number (default 1)"),
    ("page_size", "items per page, 1-100 (default 10)"),
];
const CALL_FILTERS: &[(&str, &str)] = &[
    ("type", "INBOUND or OUTBOUND"),
    ("status", "SCHEDULED, IN_PROGRESS, COMPLETED or FAILED"),
    (
        "start",
        "calls started at or after this ISO 8601 time or date",
    ),
    ("end", "calls started before this ISO 8601 time or date"),
    ("leadId", "only calls about this lead"),
    (
        "orderBy[field]",
        "startedAt (default), endedAt, durationMs or createdAt",
    ),
    ("orderBy[direction]", "asc or desc (default)"),
];
const BUSINESS: &[(&str, &str)] = &[("businessId", "only this business's calls")];

fn tool_create() -> Value {
    json!({"type": "object", "required": ["templateToolId"], "properties": {
        "templateToolId": {"type": "string", "description": "a template id from GET /v1/tools"},
        "configOverride": {"type": "object", "description": "the template's configuration overrides (per template rules)"},
        "message": {"type": "string"}, "enabled": {"type": "boolean"}}})
}

fn tool_update() -> Value {
    json!({"type": "object", "properties": {"configOverride": {"type": "object"}, "message": {"type": "string"}, "enabled": {"type": "boolean"}}})
}

fn calendar() -> Value {
    json!({"type": "object", "required": ["calendarId", "accessToken"], "properties": {"calendarId": {"type": "string"}, "accessToken": {"type": "string"}}})
}

fn webhook() -> Value {
    json!({"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "format": "uri"}, "secret": {"type": "string", "minLength": 16, "maxLength": 256}}})
}

fn agent(required: bool) -> Value {
    let mut v = json!({"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 40},
        "type": {"enum": ["INBOUND", "OUTBOUND"]},
        "conversationFlow": {"type": "string", "description": "prose; give this or workflow"},
        "workflow": {"type": "object", "description": "a graph of nodes and edges; give this or conversationFlow"},
        "customInstructions": {"type": "string"},
        "voiceId": {"type": "string", "description": "an id from GET /v1/voices"},
        "toolIds": {"type": "array", "items": {"type": "string"}},
        "knowledgeBaseDocumentIds": {"type": "array", "items": {"type": "string"}, "description": "ids of ready files"},
        "personality": {"type": "object"},
        "firstMessage": {"type": "string"},
        "multilingual": {"type": "boolean"},
        "backgroundSound": {"type": "string"},
        "collectFields": {"type": "array", "items": {"type": "string"}},
        "activatedHours": {"type": "object", "description": "INBOUND only: timezone and weekly hours"}}});
    if required {
        v["required"] = json!(["name", "type"]);
    }
    v
}

fn agent_create() -> Value {
    agent(true)
}

fn agent_update() -> Value {
    agent(false)
}

fn campaign() -> Value {
    json!({"type": "object", "required": ["name", "agentId", "contacts"], "additionalProperties": false, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "agentId": {"type": "string", "description": "an OUTBOUND, deployed voice agent"},
        "contacts": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "object", "required": ["phoneNumber"], "properties": {
            "phoneNumber": {"type": "string", "description": "E.164, a number Vox may dial"}, "name": {"type": "string"},
            "timezone": {"type": "string", "description": "the callee's IANA zone: the calling window is theirs"}}}},
        "callingWindow": {"type": "object", "properties": {"days": {"type": "array", "items": {"enum": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]}},
            "startTime": {"type": "string", "description": "HH:MM (default 09:00)"}, "endTime": {"type": "string", "description": "HH:MM, up to 24:00 (default 17:00)"},
            "timezone": {"type": "string", "description": "for contacts without one (default UTC)"}}},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 20, "default": 2},
        "callsPerMinute": {"type": "integer", "minimum": 1, "maximum": 60, "default": 10},
        "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 5, "default": 3},
        "retryAfterSecs": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 600, "description": "after busy or no answer; doubling with each attempt"},
        "survey": {"type": "object", "description": "asked when the agent ends a call (seed 004's EPA)", "required": ["questions"], "properties": {
            "questions": {"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "object", "required": ["text"], "properties": {
                "text": {"type": "string", "maxLength": 300}, "answerType": {"enum": ["keypad", "voice"], "default": "keypad"},
                "maxScore": {"type": "integer", "minimum": 2, "maximum": 9, "default": 5}}}},
            "questionTimeoutSecs": {"type": "integer", "minimum": 3, "maximum": 60, "default": 8}}}
    }})
}

fn outbound_call() -> Value {
    json!({"type": "object", "required": ["phoneNumber"], "properties": {
        "phoneNumber": {"type": "string", "description": "E.164 US number to call"},
        "name": {"type": "string"}, "leadId": {"type": "string"},
        "context": {"type": "string"}, "additionalInfo": {"type": "string"}, "imageUrls": {"type": "array", "items": {"type": "string"}}}})
}

/// Every operation under `/v1`.
pub const OPERATIONS: &[Operation] = &[
    op!(
        "post",
        "/v1/oauth/token",
        "createToken",
        "A bearer token for an API client (OAuth 2.0 client credentials)",
        None,
        &[],
        Body::Token,
        200
    ),
    op!(
        "get",
        "/v1/voices",
        "listVoices",
        "The installed TTS voices",
        Some("voices:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/voices/{voice_id}",
        "getVoice",
        "One voice",
        Some("voices:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/tools",
        "listToolTemplates",
        "Tool templates",
        Some("tools:read"),
        &[PAGE],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/tools/{tool_id}",
        "getToolTemplate",
        "One tool template",
        Some("tools:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/tools",
        "listTools",
        "The business's tool instances",
        Some("tools:read"),
        &[PAGE],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/tools",
        "createTool",
        "A tool instance from a template",
        Some("tools:create"),
        &[],
        Body::Json(tool_create),
        201
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/tools/{tool_id}",
        "getTool",
        "One tool instance",
        Some("tools:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "patch",
        "/v1/businesses/{business_id}/tools/{tool_id}",
        "updateTool",
        "Change a tool instance",
        Some("tools:update"),
        &[],
        Body::Json(tool_update),
        200
    ),
    op!(
        "delete",
        "/v1/businesses/{business_id}/tools/{tool_id}",
        "deleteTool",
        "Delete a tool instance",
        Some("tools:delete"),
        &[],
        Body::None,
        204
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/files",
        "listFiles",
        "The business's knowledge-base files",
        Some("files:read"),
        &[PAGE],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/files",
        "uploadFile",
        "Upload a file (PDF, DOCX, TXT, MD, ...); processing, then ready",
        Some("files:create"),
        &[],
        Body::File,
        201
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/files/{file_id}",
        "getFile",
        "One file and its status",
        Some("files:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "delete",
        "/v1/businesses/{business_id}/files/{file_id}",
        "deleteFile",
        "Delete a file no agent uses",
        Some("files:delete"),
        &[],
        Body::None,
        204
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/integrations/google-calendar",
        "getCalendarIntegration",
        "The Google Calendar integration",
        Some("integrations:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/integrations/google-calendar",
        "createCalendarIntegration",
        "Set up the Google Calendar integration",
        Some("integrations:create"),
        &[],
        Body::Json(calendar),
        200
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/webhook",
        "getWebhook",
        "The business's call-event webhook",
        Some("integrations:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "put",
        "/v1/businesses/{business_id}/webhook",
        "setWebhook",
        "Send call events (started, tool_called, transferred, ended), signed, to a URL",
        Some("integrations:create"),
        &[],
        Body::Json(webhook),
        200
    ),
    op!(
        "delete",
        "/v1/businesses/{business_id}/webhook",
        "deleteWebhook",
        "Stop sending call events",
        Some("integrations:create"),
        &[],
        Body::None,
        204
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/voice-agents",
        "listVoiceAgents",
        "The business's voice agents",
        Some("voice-agents:read"),
        &[PAGE],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/voice-agents",
        "createVoiceAgent",
        "Create a voice agent",
        Some("voice-agents:create"),
        &[],
        Body::Json(agent_create),
        201
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}",
        "getVoiceAgent",
        "One voice agent",
        Some("voice-agents:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "patch",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}",
        "updateVoiceAgent",
        "Change a voice agent (validated whole again)",
        Some("voice-agents:update"),
        &[],
        Body::Json(agent_update),
        200
    ),
    op!(
        "delete",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}",
        "deleteVoiceAgent",
        "Delete a voice agent (its number returns to the pool)",
        Some("voice-agents:delete"),
        &[],
        Body::None,
        204
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}/deploy",
        "deployVoiceAgent",
        "Give the agent a phone number and put it on duty",
        Some("voice-agents:update"),
        &[],
        Body::None,
        200
    ),
    op!(
        "patch",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}/on",
        "voiceAgentOnDuty",
        "Put a deployed agent on duty",
        Some("voice-agents:update"),
        &[],
        Body::None,
        200
    ),
    op!(
        "patch",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}/off",
        "voiceAgentOffDuty",
        "Take a deployed agent off duty",
        Some("voice-agents:update"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}/call",
        "placeCall",
        "An outbound call by an OUTBOUND agent",
        Some("voice-agents:update"),
        &[],
        Body::Json(outbound_call),
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/voice-agents/{agent_id}/web-call",
        "createWebCall",
        "A browser call to the agent: the WHIP URL and a short-lived bearer token for it",
        Some("voice-agents:update"),
        &[],
        Body::None,
        201
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/calls",
        "listBusinessCalls",
        "The business's call history",
        Some("calls:read"),
        &[PAGE, CALL_FILTERS],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/calls/{call_id}",
        "getBusinessCall",
        "One call: status, transcript, recording, data",
        Some("calls:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/calls/{call_id}/recording",
        "getCallRecording",
        "The call's two-channel WAV recording (left caller, right agent)",
        Some("calls:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/organizations/calls",
        "listOrganizationCalls",
        "Every call of the organization's businesses",
        Some("calls:read"),
        &[PAGE, CALL_FILTERS, BUSINESS],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/organizations/calls/{call_id}",
        "getOrganizationCall",
        "One call of the organization",
        Some("calls:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/campaigns",
        "createCampaign",
        "An outbound campaign (Vox's own; seed 004's calls belong to campaigns): made running",
        Some("campaigns:write"),
        &[],
        Body::Json(campaign),
        201
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/campaigns",
        "listCampaigns",
        "The business's campaigns with their progress, newest first",
        Some("campaigns:read"),
        &[PAGE],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/campaigns/{campaign_id}",
        "getCampaign",
        "A campaign: settings, state and progress",
        Some("campaigns:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/v1/businesses/{business_id}/campaigns/{campaign_id}/contacts",
        "listCampaignContacts",
        "A campaign's contacts: state, attempts, next attempt, last call and outcome",
        Some("campaigns:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/campaigns/{campaign_id}/pause",
        "pauseCampaign",
        "No new calls until resumed (calls up go on)",
        Some("campaigns:write"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/campaigns/{campaign_id}/resume",
        "resumeCampaign",
        "Call again (409 unless paused)",
        Some("campaigns:write"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/v1/businesses/{business_id}/campaigns/{campaign_id}/stop",
        "stopCampaign",
        "Stop for good (409 once stopped or completed)",
        Some("campaigns:write"),
        &[],
        Body::None,
        200
    ),
];
