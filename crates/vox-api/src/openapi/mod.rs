//! The OpenAPI 3.1 document of the control plane (`GET /openapi.json`) and a docs page
//! rendered from it (`GET /docs`, plain HTML, no scripts, nothing from a CDN).
//!
//! One table per API ([`Api`]: seed 002's Partner API and Vox's campaigns in `partner.rs`,
//! seed 000's Voice AI API in `voice_ai.rs`, seed 004's Voice Calls API in
//! `voice_calls.rs`, seed 003's agent-call and CRM API in `crm.rs`) describes every route: method, path, scope, summary, query
//! parameters, body and success status; [`operations`] walks them all. The document is
//! generated from them, and a test requests every operation from the router (none may hit
//! the fallback), so the document cannot list a route that does not exist. We write the
//! document ourselves rather than derive it with utoipa: the handlers validate bodies by
//! hand (to name the JSON path of each error), so derived schemas would describe types we
//! do not parse.

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
    /// Query parameters (name, description; a description starting `required: ` marks a
    /// required one), in groups shared between operations.
    pub query: &'static [&'static [(&'static str, &'static str)]],
    /// Body.
    pub body: Body,
    /// Success status.
    pub ok: u16,
}

/// The APIs the server speaks, each with its own error body, headers and paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Seed 002, the Partner API (`/v1`).
    Partner,
    /// Seed 000, the Voice AI API (`/voice-ai`).
    VoiceAi,
    /// Seed 004, the Voice Calls API (`/api/v1/voice-calls`).
    VoiceCalls,
    /// Seed 003, the agent-call and CRM API (`/api/v1/contacts`, `/api/v1/custom-fields`,
    /// `/api/v1/tasks`).
    Crm,
}

impl Api {
    /// The operations of this API.
    pub fn operations(self) -> &'static [Operation] {
        match self {
            Self::Partner => partner::OPERATIONS,
            Self::VoiceAi => voice_ai::OPERATIONS,
            Self::VoiceCalls => voice_calls::OPERATIONS,
            Self::Crm => crm::OPERATIONS,
        }
    }

    /// Its tag in the document.
    fn tag(self) -> &'static str {
        match self {
            Self::Partner => "Partner API (seed 002)",
            Self::VoiceAi => "Voice AI API (seed 000)",
            Self::VoiceCalls => "Voice Calls API (seed 004)",
            Self::Crm => "Agent-call and CRM API (seed 003)",
        }
    }

    /// Its error body's schema name.
    fn error_schema(self) -> &'static str {
        match self {
            Self::Partner => "Error",
            Self::VoiceAi => "LeadConnectorError",
            Self::VoiceCalls => "ProblemDetails",
            Self::Crm => "TsoaError",
        }
    }

    /// The status of invalid input.
    fn invalid_status(self) -> &'static str {
        match self {
            Self::Partner | Self::VoiceCalls | Self::Crm => "400",
            Self::VoiceAi => "422",
        }
    }

    /// Headers every operation takes.
    fn headers(self) -> Vec<Value> {
        match self {
            Self::Partner | Self::VoiceCalls => Vec::new(),
            Self::Crm => vec![
                json!({"name": "X-Tenant-Id", "in": "header", "required": false, "description": "with a token: the business it acts for (not needed when the organization has one, or with an API key)", "schema": {"type": "string"}}),
            ],
            Self::VoiceAi => vec![
                json!({"name": "Version", "in": "header", "required": true, "description": "the API version", "schema": {"type": "string", "enum": [crate::compat::errors::LEADCONNECTOR_VERSION]}}),
            ],
        }
    }

    /// A query parameter's schema and whether it is required (also when its description
    /// starts with `required: `).
    fn query_param(self, name: &str) -> (Value, bool) {
        match (self, name) {
            (Self::Partner, "page") => (json!({"type": "integer", "minimum": 1}), false),
            (Self::Partner, "page_size") => (
                json!({"type": "integer", "minimum": 1, "maximum": 100}),
                false,
            ),
            (Self::VoiceAi, "page") => (
                json!({"type": "integer", "minimum": 1, "maximum": 5000}),
                false,
            ),
            (Self::VoiceAi, "pageSize") => (
                json!({"type": "integer", "minimum": 1, "maximum": 50}),
                false,
            ),
            (Self::VoiceAi, "startDate" | "endDate") => {
                (json!({"type": "number", "minimum": 0}), false)
            }
            (Self::VoiceAi, "callType") => (json!({"enum": ["LIVE", "TRIAL"]}), false),
            (Self::VoiceAi, "sortBy") => (json!({"enum": ["duration", "createdAt"]}), false),
            (Self::VoiceAi, "sort") => (json!({"enum": ["ascend", "descend"]}), false),
            (Self::VoiceCalls, "page") => (json!({"type": "integer", "minimum": 1}), false),
            (Self::VoiceCalls, "pageSize") => (
                json!({"type": "integer", "minimum": 1, "maximum": 100}),
                false,
            ),
            (Self::VoiceCalls, "dateFrom" | "dateTo") => (json!({"type": "string"}), false),
            (Self::VoiceCalls, "se") => (json!({"type": "integer"}), false),
            (Self::Crm, "page") => (json!({"type": "integer", "minimum": 1}), false),
            (Self::Crm, "pageSize") => (
                json!({"type": "integer", "minimum": 1, "maximum": 100}),
                false,
            ),
            (Self::Crm, "force") => (json!({"type": "boolean"}), false),
            (Self::Crm, "limit") => (
                json!({"type": "integer", "minimum": 1, "maximum": 100}),
                false,
            ),
            (Self::Crm, "status") => (
                json!({"enum": ["completed", "cancelled", "scheduled", "overdue"]}),
                false,
            ),
            (Self::Crm, "assignedToType") => (json!({"enum": ["user", "ai_employee"]}), false),
            _ => (json!({"type": "string"}), false),
        }
    }
}

/// Every API.
pub const APIS: &[Api] = &[Api::Partner, Api::VoiceAi, Api::VoiceCalls, Api::Crm];

/// Every operation of every API.
pub fn operations() -> impl Iterator<Item = (Api, &'static Operation)> {
    APIS.iter()
        .flat_map(|api| api.operations().iter().map(move |op| (*api, op)))
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

mod crm;
mod partner;
mod voice_ai;
mod voice_calls;

fn error_response(api: Api, description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", api.error_schema())}}}})
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (api, op) in operations() {
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(op.query.iter().copied().flatten().map(|(name, d)| {
            let (schema, required) = api.query_param(name);
            let (d, required) = match d.strip_prefix("required: ") {
                Some(rest) => (rest, true),
                None => (*d, required),
            };
            json!({"name": name, "in": "query", "required": required, "description": d, "schema": schema})
        }));
        params.extend(api.headers());
        let mut responses = Map::new();
        let ok = if op.ok == 204 {
            json!({"description": "done"})
        } else {
            json!({"description": "success", "content": {"application/json": {"schema": {"type": ["object", "array"]}}}})
        };
        responses.insert(op.ok.to_string(), ok);
        responses.insert(
            api.invalid_status().into(),
            error_response(api, "invalid input, naming the field at fault"),
        );
        if api == Api::VoiceAi {
            responses.insert(
                "400".into(),
                error_response(
                    api,
                    "a body that is not a JSON object, or no Version header",
                ),
            );
        }
        if op.id == "createCalendarIntegration" {
            responses.insert(
                "502".into(),
                error_response(api, "Google Calendar failed or could not be reached"),
            );
        }
        if op.scope.is_some() {
            responses.insert("401".into(), error_response(api, "no valid bearer token"));
            let forbidden = match api {
                Api::Partner | Api::VoiceCalls | Api::Crm => "the token lacks the scope",
                Api::VoiceAi => "the token lacks the scope, or has no access to the location",
            };
            responses.insert("403".into(), error_response(api, forbidden));
            responses.insert(
                "404".into(),
                error_response(
                    api,
                    "not found (another organization's resources look the same)",
                ),
            );
        }
        if api == Api::Crm && op.method != "get" && op.id != "SearchContacts" {
            responses.insert(
                "409".into(),
                error_response(api, "a key or value taken, or a field in use"),
            );
        }
        let mut o = json!({"operationId": op.id, "summary": op.summary, "tags": [api.tag()], "parameters": params, "responses": responses});
        match op.scope {
            Some(scope) if api == Api::Crm => {
                o["security"] = json!([{"bearer": [scope]}, {"apiKey": []}]);
                o["description"] = json!(format!("Scope: `{scope}`."));
            }
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
        "info": {"title": "Vox control plane", "version": env!("CARGO_PKG_VERSION"), "description": "The Partner API (seed 002: agents, tools, knowledge-base files, deployment, calls) and the compatibility APIs over the same agents and calls (seed 000: Voice AI; seed 004: Voice Calls; seed 003: contacts and custom fields, with an `X-API-Key` bound to one business or a token). Get a token from POST /v1/oauth/token and send it as `Authorization: Bearer TOKEN`."},
        "tags": APIS.iter().map(|a| json!({"name": a.tag()})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token from POST /v1/oauth/token"}, "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "seed 003: a key bound to one business (vox admin create prints one)"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}},
                "ProblemDetails": {"type": "object", "description": "RFC 9457, application/problem+json", "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}, "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}, "description": "invalid input: the field, its messages"}}},
                "TsoaError": {"type": "object", "required": ["code", "error", "message"], "properties": {"code": {"type": "integer", "description": "the HTTP status"}, "error": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object", "properties": {"field": {"type": "string"}}}}},
                "LeadConnectorError": {"type": "object", "required": ["statusCode", "message"], "properties": {"statusCode": {"type": "integer"}, "message": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}], "description": "422: a list, each naming its field"}, "error": {"type": "string"}}}
            }
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
    let mut current = None;
    for (api, op) in operations() {
        if current != Some(api) {
            rows.push_str(&format!(
                "<tr><th colspan=\"5\"><h2>{}</h2></th></tr>\n",
                esc(api.tag())
            ));
            current = Some(api);
        }
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
<h1>Vox control plane API</h1><p>Get a token: <code>curl -d grant_type=client_credentials -d client_id=ID -d client_secret=SECRET /v1/oauth/token</code>, then send <code>Authorization: Bearer TOKEN</code>. Errors are <code>{{\"error\": {{\"code\", \"message\", \"field\"}}}}</code>. The Voice AI routes (seed 000) also need the header <code>Version: 2021-04-15</code>; their errors are <code>{{\"statusCode\", \"message\", \"error\"}}</code>, invalid input 422 with a list of messages. Seed 003's routes take an <code>X-API-Key</code> bound to one business (or a token, and <code>X-Tenant-Id</code> when the organization has more than one business); their errors are <code>{{\"code\", \"error\", \"message\", \"details\"}}</code>. The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p>\
<table><tr><th>method</th><th>path</th><th>what</th><th>scope</th><th>success</th></tr>\n{rows}</table></body></html>"
    ))
}
