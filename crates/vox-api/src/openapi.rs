//! The OpenAPI 3.1 document of `/v1` (`GET /openapi.json`) and a docs page rendered from it
//! (`GET /docs`, plain HTML, no scripts, nothing from a CDN).
//!
//! One table, [`OPERATIONS`], describes every route: method, path, scope, summary, query
//! parameters, body and success status. The document is generated from it, and a test
//! requests every operation of the table from the router (none may hit the fallback), so
//! the document cannot list a route that does not exist. We write the document ourselves
//! rather than derive it with utoipa: the handlers validate bodies by hand (to name the
//! JSON path of each error), so derived schemas would describe types we do not parse.

use axum::Json;
use axum::response::{Html, IntoResponse};
use serde_json::{Map, Value, json};

/// A request body kind.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// None.
    None,
    /// JSON described by a schema.
    Json(fn() -> Value),
    /// `multipart/form-data` with a `file` part.
    File,
    /// The OAuth token request (form or JSON).
    Token,
}

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path with `{param}`s.
    pub path: &'static str,
    /// Stable operation id.
    pub id: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// Scope the bearer token needs (`None`: the token endpoint).
    pub scope: Option<&'static str>,
    /// Query parameters (name, description), in groups shared between operations.
    pub query: &'static [&'static [(&'static str, &'static str)]],
    /// Body.
    pub body: Body,
    /// Success status.
    pub ok: u16,
}

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

fn outbound_call() -> Value {
    json!({"type": "object", "required": ["phoneNumber"], "properties": {
        "phoneNumber": {"type": "string", "description": "E.164 US number to call"},
        "name": {"type": "string"}, "leadId": {"type": "string"},
        "context": {"type": "string"}, "additionalInfo": {"type": "string"}, "imageUrls": {"type": "array", "items": {"type": "string"}}}})
}

macro_rules! op {
    ($m:literal, $p:literal, $id:literal, $s:literal, $scope:expr, $q:expr, $b:expr, $ok:literal) => {
        Operation {
            method: $m,
            path: $p,
            id: $id,
            summary: $s,
            scope: $scope,
            query: $q,
            body: $b,
            ok: $ok,
        }
    };
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
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(op.query.iter().copied().flatten().map(|(name, d)| {
            let schema = match *name {
                "page" => json!({"type": "integer", "minimum": 1}),
                "page_size" => json!({"type": "integer", "minimum": 1, "maximum": 100}),
                _ => json!({"type": "string"}),
            };
            json!({"name": name, "in": "query", "required": false, "description": d, "schema": schema})
        }));
        let mut responses = Map::new();
        let ok = if op.ok == 204 {
            json!({"description": "done"})
        } else {
            json!({"description": "success", "content": {"application/json": {"schema": {"type": ["object", "array"]}}}})
        };
        responses.insert(op.ok.to_string(), ok);
        responses.insert(
            "400".into(),
            error_response("invalid input; `field` names the JSON path at fault"),
        );
        if op.id == "createCalendarIntegration" {
            responses.insert(
                "502".into(),
                error_response("Google Calendar failed or could not be reached"),
            );
        }
        if op.scope.is_some() {
            responses.insert("401".into(), error_response("no valid bearer token"));
            responses.insert("403".into(), error_response("the token lacks the scope"));
            responses.insert(
                "404".into(),
                error_response("not found (another organization's resources look the same)"),
            );
        }
        let mut o = json!({"operationId": op.id, "summary": op.summary, "parameters": params, "responses": responses});
        match op.scope {
            Some(scope) => {
                o["security"] = json!([{"bearer": [scope]}]);
                o["description"] = json!(format!("Scope: `{scope}`."));
            }
            None => o["security"] = json!([]),
        }
        match op.body {
            Body::None => {}
            Body::Json(schema) => {
                o["requestBody"] =
                    json!({"required": true, "content": {"application/json": {"schema": schema()}}})
            }
            Body::File => {
                o["requestBody"] = json!({"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}})
            }
            Body::Token => {
                let schema = json!({"type": "object", "required": ["grant_type"], "properties": {"grant_type": {"const": "client_credentials"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"}, "scope": {"type": "string", "description": "space-separated subset of the client's scopes"}}});
                o["requestBody"] = json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": schema.clone()}, "application/json": {"schema": schema}}});
            }
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = o;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Vox control plane", "version": env!("CARGO_PKG_VERSION"), "description": "The Partner API: agents, tools, knowledge-base files, deployment, calls. Get a token from POST /v1/oauth/token and send it as `Authorization: Bearer TOKEN`."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token from POST /v1/oauth/token"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}}}
        }
    })
}

/// `GET /openapi.json`
pub(crate) async fn openapi_json() -> impl IntoResponse {
    Json(document())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /docs`: the operations as one HTML page, rendered here (works offline).
pub(crate) async fn docs() -> Html<String> {
    let mut rows = String::new();
    for op in OPERATIONS {
        let query = if op.query.is_empty() {
            String::new()
        } else {
            format!(
                "<br><small>query: {}</small>",
                esc(&op
                    .query
                    .iter()
                    .copied()
                    .flatten()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "))
            )
        };
        let body = match op.body {
            Body::None => String::new(),
            Body::Json(schema) => format!("<details><summary>JSON body</summary><pre>{}</pre></details>", esc(&serde_json::to_string_pretty(&schema()).unwrap_or_default())),
            Body::File => "<small>multipart/form-data, part <code>file</code></small>".into(),
            Body::Token => "<small>form or JSON: grant_type=client_credentials, client_id, client_secret, scope</small>".into(),
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td><code>{}</code>{query}</td><td>{}{body}</td><td><code>{}</code></td><td>{}</td></tr>\n",
            op.method.to_uppercase(),
            esc(op.path),
            esc(op.summary),
            op.scope.unwrap_or("none"),
            op.ok
        ));
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Vox API</title><style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:72em}}table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}}pre{{font-size:.85em}}</style></head><body>\
<h1>Vox control plane API</h1><p>Get a token: <code>curl -d grant_type=client_credentials -d client_id=ID -d client_secret=SECRET /v1/oauth/token</code>, then send <code>Authorization: Bearer TOKEN</code>. Errors are <code>{{\"error\": {{\"code\", \"message\", \"field\"}}}}</code>. The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p>\
<table><tr><th>method</th><th>path</th><th>what</th><th>scope</th><th>success</th></tr>\n{rows}</table></body></html>"
    ))
}
