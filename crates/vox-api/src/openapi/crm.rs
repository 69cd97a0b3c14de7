//! Seed 003's operations (the agent-call and CRM API, under `/api/v1`), by the seed's
//! operation names.

use serde_json::{Value, json};

use super::{Body, Operation};

const LIST: &[(&str, &str)] = &[
    ("filterBy", "field:value pairs separated by ; (equality)"),
    ("searchBy", "free text"),
    ("sortBy", "field=asc|desc (or field:dir), comma-separated"),
    ("page", "1-based page number"),
    ("pageSize", "items per page, 1-100 (default 20)"),
    ("pageToken", "the nextPageToken of the previous page"),
];
const TENANT: &[(&str, &str)] = &[("tenantId", "if given, the credentials' tenant")];
const TASKS: &[(&str, &str)] = &[
    ("limit", "items per page, 1-100 (default 20)"),
    ("pageToken", "the nextPageToken of the previous page"),
    (
        "status",
        "completed, cancelled, scheduled or overdue (scheduled and past its dueDate)",
    ),
    ("dueBefore", "due before this ISO 8601 date-time"),
    ("dueAfter", "due after this ISO 8601 date-time"),
    ("conversationId", "of this conversation"),
    ("assignedToType", "user or ai_employee"),
    ("assignedToId", "assigned to this id"),
];
const FORCE: &[(&str, &str)] = &[("force", "true: delete the field's values too")];

fn text() -> Value {
    json!({"type": ["string", "null"]})
}

fn contact_body() -> Value {
    json!({"type": "object", "properties": {
        "firstName": text(), "lastName": text(), "nationalId": text(), "providerId": text(),
        "providerName": text(), "companyPosition": text(),
        "email": {"type": ["string", "null"], "format": "email", "deprecated": true},
        "phone": {"type": ["string", "null"], "description": "E.164", "deprecated": true},
        "userId": {"type": ["number", "null"], "minimum": 0},
        "contactCompanyId": {"type": ["number", "null"], "minimum": 0},
        "metadata": {},
        "createdAt": {"type": "string", "format": "date-time"},
        "customFields": {"type": "object", "description": "fieldKey: value, per the CONTACT definitions (null clears)"},
        "addresses": {"type": "array", "maxItems": 20, "items": {"type": "object", "required": ["channelType", "address"], "properties": {
            "channelType": {"enum": ["PHONE", "WHATSAPP", "SMS", "EMAIL"]},
            "address": {"type": "string", "description": "E.164 for PHONE, WHATSAPP and SMS"}}}}
    }})
}

fn search_body() -> Value {
    json!({"type": "object", "properties": {
        "search": {"type": "string"},
        "filters": {"type": "array", "maxItems": 20, "items": {"type": "object", "required": ["field", "value"], "properties": {
            "field": {"type": "string", "description": "firstName, lastName, email, phone, ..., addresses.address, addresses.channelType, customFields.<key>"},
            "operator": {"enum": ["eq", "neq", "contains", "startsWith", "gt", "gte", "lt", "lte"]},
            "value": {"type": ["string", "number", "boolean"]},
            "or": {"type": "boolean", "description": "joined to the filter before with OR"}}}},
        "sort": {"type": "array", "items": {"type": "object", "required": ["field"], "properties": {
            "field": {"enum": ["id", "createdAt", "updatedAt", "firstName", "lastName", "email"]},
            "direction": {"enum": ["asc", "desc"]}}}},
        "size": {"type": "integer", "minimum": 1, "maximum": 100},
        "pageToken": {"type": "string"},
        "includeArchived": {"type": "boolean"},
        "includeTotalCount": {"type": ["boolean", "string"]}
    }})
}

fn party() -> Value {
    json!({"type": "object", "required": ["id", "type"], "properties": {
        "id": {"type": "string", "minLength": 1, "description": "a user's id, or an ai_employee's: one of the business's voice agents"},
        "type": {"enum": ["user", "ai_employee"]}}})
}

fn task_body() -> Value {
    json!({"type": "object", "required": ["context", "objective", "createdBy", "assignedTo"], "properties": {
        "context": {"type": "object", "properties": {"conversationId": {"type": ["number", "null"], "minimum": 1}}},
        "objective": {"type": "string", "minLength": 1, "maxLength": 2000},
        "createdBy": party(),
        "assignedTo": party(),
        "dueDate": {"type": ["string", "null"], "format": "date-time"},
        "status": {"enum": ["completed", "cancelled", "scheduled"]}
    }})
}

fn task_update() -> Value {
    let mut v = task_body();
    v["required"] = json!([]);
    for key in ["publishedAt", "completedAt", "cancelledAt"] {
        v["properties"][key] = json!({"type": ["string", "null"], "format": "date-time"});
    }
    v["properties"]["cancellationReason"] = json!({"type": ["string", "null"]});
    v
}

fn agent_call() -> Value {
    json!({"type": "object", "required": ["voiceAgentId", "to", "contextVariables"], "properties": {
        "voiceAgentId": {"type": "string", "description": "the voice agent's id as the Partner API shows it (Vox's ids are strings)"},
        "to": {"type": "string", "description": "E.164"},
        "contextVariables": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}, "description": "fill {{name}} in the agent's prompt and greeting, and brief it"},
        "customData": {"type": "object"}
    }})
}

fn ad_hoc_call() -> Value {
    let strings = |max: u64| json!({"type": "array", "maxItems": max, "items": {"type": "string", "minLength": 1, "maxLength": 500}});
    json!({"type": "object", "required": ["toPhoneNumber", "objectives"], "properties": {
        "toPhoneNumber": {"type": "string", "description": "E.164"},
        "fromPhoneNumber": {"type": "string", "description": "one of the business's numbers (default: the business's)"},
        "objectives": {"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "string", "minLength": 1, "maxLength": 500}},
        "constraints": strings(20), "taskSteps": strings(20),
        "userId": {"type": ["number", "null"], "minimum": 1},
        "personality": {"type": "object", "properties": {"name": {"type": "string"}, "communicationStyle": {"type": "string"}, "customTraits": {"type": "string"}}},
        "localization": {"enum": ["CL", "MX", "CO", "PE", "US"], "description": "CL, MX, CO, PE: Spanish, refused when the speech stack speaks English only"},
        "contactInfo": {"type": "object", "properties": {"firstName": {"type": "string"}, "lastName": {"type": "string"}, "company": {"type": "string"}, "additionalInfo": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "knowledgeBase": {"type": "string", "maxLength": 20000},
        "maxDurationSeconds": {"type": "integer", "minimum": 180, "maximum": 900},
        "silenceTimeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 20},
        "customData": {"type": "object"},
        "provider": {"const": "vapi"},
        "providerConfig": {"type": "object", "description": "not used: the server's [voice_agents] speak; named in metadata.ignored", "properties": {"model": {}, "voice": {}, "transcriber": {}}}
    }})
}

fn conversation_contact() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "number", "minimum": 1},
        "firstName": {"type": "string"}, "lastName": {"type": "string"},
        "phones": {"type": "array", "items": {"type": "string", "description": "E.164"}},
        "emails": {"type": "array", "items": {"type": "string", "format": "email"}},
        "nationalId": {"type": "string"}, "companyPosition": {"type": "string"},
        "customFields": {"type": "object"}, "userId": {"type": ["number", "null"], "minimum": 1}
    }})
}

fn conversation() -> Value {
    let id = json!({"type": ["number", "null"], "minimum": 1});
    json!({"type": "object", "required": ["funnelId"], "properties": {
        "funnelId": {"type": "number", "minimum": 1}, "funnelStatusId": id, "userId": id,
        "contactId": {"type": "number", "minimum": 1, "description": "either this or contact"},
        "contact": conversation_contact(),
        "createdAt": {"type": "string", "format": "date-time"},
        "archivedAt": {"type": ["string", "null"], "format": "date-time"},
        "customFields": {"type": "object", "description": "per the FUNNEL_CONVERSATION definitions"}
    }})
}

fn bulk_create() -> Value {
    json!({"type": "object", "required": ["conversations"], "properties": {
        "conversations": {"type": "array", "minItems": 1, "maxItems": 100, "items": conversation()}}})
}

fn bulk_update() -> Value {
    let mut item = conversation();
    item["required"] = json!(["id"]);
    item["properties"]["id"] = json!({"type": "number", "minimum": 1});
    json!({"type": "object", "required": ["conversations"], "properties": {
        "conversations": {"type": "array", "minItems": 1, "maxItems": 100, "items": item}}})
}

fn external_call() -> Value {
    let id = json!({"type": ["number", "null"], "minimum": 1});
    json!({"type": "object", "required": ["status", "userId", "metadata", "from", "to", "duration", "direction", "startTime"], "properties": {
        "status": {"enum": ["completed", "busy", "no-answer", "canceled", "failed"]},
        "userId": id, "teamId": id, "sessionId": id, "funnelConversationId": id,
        "metadata": {}, "customData": {},
        "providerId": {"type": "string"}, "providerName": {"type": "string"},
        "from": {"type": "string", "description": "E.164"}, "to": {"type": "string", "description": "E.164"},
        "redirectedTo": {"type": ["string", "null"]},
        "duration": {"type": ["number", "null"], "minimum": 0, "maximum": 86400, "description": "seconds"},
        "direction": {"enum": ["incoming", "outgoing"]},
        "startTime": {"type": "string", "format": "date-time"}
    }})
}

fn definition_body() -> Value {
    json!({"type": "object", "required": ["entityType", "fieldKey", "fieldType"], "properties": {
        "entityType": {"enum": ["CONTACT", "COMPANY", "FUNNEL_CONVERSATION", "FUNNEL_CHANNEL_SESSION", "PRODUCT"]},
        "fieldKey": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
        "fieldLabel": {"type": ["string", "null"], "maxLength": 200},
        "fieldType": {"enum": ["STRING", "NUMBER", "DATE", "BOOLEAN", "LIST", "FILE"]},
        "description": {"type": ["string", "null"], "maxLength": 2000}
    }})
}

fn definition_update() -> Value {
    let mut v = definition_body();
    v["required"] = json!([]);
    v
}

fn option_body() -> Value {
    json!({"type": "object", "required": ["definitionId", "value"], "properties": {
        "definitionId": {"type": "number"},
        "value": {"type": "string", "minLength": 1, "maxLength": 200},
        "label": {"type": ["string", "null"], "maxLength": 200},
        "description": {"type": ["string", "null"]}
    }})
}

fn option_update() -> Value {
    let mut v = option_body();
    v["required"] = json!([]);
    v
}

/// Every operation of seed 003 built so far.
pub const OPERATIONS: &[Operation] = &[
    op!(
        "post",
        "/api/v1/conversations",
        "Create",
        "A conversation; its contact by contactId, or found by the contact's phones and e-mails and updated, or created (409 when the contact has an open one in the funnel)",
        Some("conversations:write"),
        &[],
        Body::Json(conversation),
        200
    ),
    op!(
        "post",
        "/api/v1/conversations/bulk",
        "BulkCreate",
        "Up to 100 conversations, each on its own: {message, operationId, report}",
        Some("conversations:write"),
        &[],
        Body::Json(bulk_create),
        200
    ),
    op!(
        "put",
        "/api/v1/conversations/bulk",
        "BulkUpdate",
        "Up to 100 conversations by id, each on its own: the same report",
        Some("conversations:write"),
        &[],
        Body::Json(bulk_update),
        200
    ),
    op!(
        "get",
        "/api/v1/conversations/{id}",
        "GetConversation",
        "A conversation with its channel sessions and contact",
        Some("conversations:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "post",
        "/api/v2/calls",
        "StartAgentCall",
        "An agent made for this call from its objectives calls toPhoneNumber; after the call, objective_1..n say which were met",
        Some("calls:write"),
        &[],
        Body::Json(ad_hoc_call),
        200
    ),
    op!(
        "post",
        "/api/v1/calls/agent",
        "StartAgentCallByAgent",
        "A deployed OUTBOUND voice agent calls `to`, its prompt filled from contextVariables",
        Some("calls:write"),
        &[],
        Body::Json(agent_call),
        200
    ),
    op!(
        "post",
        "/api/v1/calls",
        "CreateCall",
        "Logs a call made elsewhere (one that has ended); the call by its number",
        Some("calls:write"),
        &[],
        Body::Json(external_call),
        200
    ),
    op!(
        "get",
        "/api/v1/calls/{call_id}",
        "GetCall",
        "A call by its number, with the contact it reached",
        Some("calls:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/calls/{call_id}/recording",
        "GetCallRecording",
        "The call's recording: a url that opens without a token until it expires",
        Some("calls:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/calls/{call_id}/transcription",
        "GetCallTranscription",
        "The call's transcript as text",
        Some("calls:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/tasks",
        "GetTasks",
        "The tenant's tasks, soonest due first: {nextPageToken, totalCount, items}",
        Some("tasks:read"),
        &[TASKS],
        Body::None,
        200
    ),
    op!(
        "post",
        "/api/v1/tasks",
        "CreateTask",
        "A new task for a user or an AI employee (one of the business's voice agents)",
        Some("tasks:write"),
        &[],
        Body::Json(task_body),
        200
    ),
    op!(
        "get",
        "/api/v1/tasks/{task_id}",
        "GetTask",
        "A task",
        Some("tasks:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "put",
        "/api/v1/tasks/{task_id}",
        "UpdateTask",
        "The fields given replace the task's; completing or cancelling it stamps the time",
        Some("tasks:write"),
        &[],
        Body::Json(task_update),
        200
    ),
    op!(
        "delete",
        "/api/v1/tasks/{task_id}",
        "DeleteTask",
        "Deletes a task; the task as it was",
        Some("tasks:write"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/contacts",
        "GetContacts",
        "The tenant's contacts: {items, nextPageToken, totalCount}",
        Some("contacts:read"),
        &[LIST],
        Body::None,
        200
    ),
    op!(
        "post",
        "/api/v1/contacts",
        "CreateContact",
        "A new contact with its addresses and custom fields",
        Some("contacts:write"),
        &[],
        Body::Json(contact_body),
        200
    ),
    op!(
        "post",
        "/api/v1/contacts/search",
        "SearchContacts",
        "Contacts by filters with operators, free text and sorts",
        Some("contacts:read"),
        &[],
        Body::Json(search_body),
        200
    ),
    op!(
        "get",
        "/api/v1/contacts/{id}",
        "GetContact",
        "A contact",
        Some("contacts:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "put",
        "/api/v1/contacts/{id}",
        "UpdateContact",
        "The fields given replace the contact's (null clears)",
        Some("contacts:write"),
        &[],
        Body::Json(contact_body),
        200
    ),
    op!(
        "delete",
        "/api/v1/contacts/{id}",
        "DeleteContact",
        "Deletes a contact with its addresses and custom fields; the contact as it was",
        Some("contacts:write"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/custom-fields/definitions",
        "GetCustomFieldDefinitions",
        "The tenant's custom field definitions (filterBy=entityType:CONTACT)",
        Some("custom-fields:read"),
        &[LIST, TENANT],
        Body::None,
        200
    ),
    op!(
        "post",
        "/api/v1/custom-fields/definitions",
        "CreateCustomFieldDefinition",
        "A new definition (409 when the key is taken for the entity type)",
        Some("custom-fields:write"),
        &[],
        Body::Json(definition_body),
        200
    ),
    op!(
        "get",
        "/api/v1/custom-fields/definitions/{id}",
        "GetCustomFieldDefinition",
        "A definition",
        Some("custom-fields:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "put",
        "/api/v1/custom-fields/definitions/{id}",
        "UpdateCustomFieldDefinition",
        "Changes a definition (409 for the type of a field holding values)",
        Some("custom-fields:write"),
        &[],
        Body::Json(definition_update),
        200
    ),
    op!(
        "delete",
        "/api/v1/custom-fields/definitions/{id}",
        "DeleteCustomFieldDefinition",
        "Deletes a definition (409 while it holds values, unless force=true)",
        Some("custom-fields:write"),
        &[FORCE],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/custom-fields/definitions/{id}/options",
        "GetCustomFieldListOptions",
        "A LIST field's options",
        Some("custom-fields:read"),
        &[LIST, TENANT],
        Body::None,
        200
    ),
    op!(
        "post",
        "/api/v1/custom-fields/definitions/{id}/options",
        "CreateCustomFieldListOption",
        "A new option of a LIST field (409 when the value is taken)",
        Some("custom-fields:write"),
        &[],
        Body::Json(option_body),
        200
    ),
    op!(
        "get",
        "/api/v1/custom-fields/definitions/{id}/options/{option_id}",
        "GetCustomFieldListOption",
        "An option",
        Some("custom-fields:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "put",
        "/api/v1/custom-fields/definitions/{id}/options/{option_id}",
        "UpdateCustomFieldListOption",
        "Changes an option; values holding it follow a new value",
        Some("custom-fields:write"),
        &[],
        Body::Json(option_update),
        200
    ),
    op!(
        "delete",
        "/api/v1/custom-fields/definitions/{id}/options/{option_id}",
        "DeleteCustomFieldListOption",
        "Deletes an option and clears the values holding it",
        Some("custom-fields:write"),
        &[],
        Body::None,
        200
    ),
];
