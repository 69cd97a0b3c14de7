//! The tool library: read-only templates tool instances are made from (seed 002's table:
//! transferCall, googleCal, endCall, function, apiRequest; knowledgeBaseQuery has no template,
//! it is created from an agent's knowledge-base files).

use serde_json::{Value, json};

fn template(
    id: &str,
    name: &str,
    display: &str,
    kind: &str,
    config: Value,
    schema: Value,
) -> Value {
    json!({"id": id, "isTemplate": true, "name": name, "displayName": display, "type": kind, "config": config, "configSchema": schema})
}

/// Every template, in a stable order.
pub(crate) fn all() -> Vec<Value> {
    let phone = json!({"type": "string", "pattern": "^\\+1[2-9][0-9]{2}[2-9][0-9]{6}$", "description": "E.164 US number: +1, then area code and exchange not starting with 0 or 1"});
    vec![
        template(
            "template-transfer-call",
            "transferCall",
            "Transfer Call",
            "transferCall",
            json!({"message": "Let me transfer you to our team..."}),
            json!({
                "type": "object",
                "required": ["destinations"],
                "properties": {
                    "destinations": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name", "phoneNumber"], "properties": {
                        "name": {"type": "string"}, "phoneNumber": phone, "description": {"type": "string"}, "warmTransferEnabled": {"type": "boolean"}
                    }}},
                    "messages": {"type": "array", "items": {"type": "object", "properties": {"type": {"const": "request-complete"}, "content": {"type": "string", "format": "uri"}}}}
                }
            }),
        ),
        template(
            "template-google-calendar",
            "googleCal",
            "Google Calendar",
            "apiRequest",
            json!({"tools": ["scheduleAppointment", "searchAppointments", "cancelAppointment"]}),
            json!({
                "type": "object",
                "properties": {"appointmentConfig": {"type": "object", "properties": {
                    "slotDurationMinutes": {"type": "integer", "minimum": 10, "maximum": 300, "default": 60},
                    "slotBufferMinutes": {"type": "integer", "minimum": 0, "maximum": 120, "default": 0},
                    "advanceNoticeMinutes": {"type": "integer", "minimum": 0, "maximum": 14400, "default": 1440},
                    "offerDays": {"type": "integer", "minimum": 1, "maximum": 14, "default": 14, "description": "days ahead whose slots the agent offers"},
                    "offerSlotsPerDay": {"type": "integer", "minimum": 1, "maximum": 12, "description": "slots offered per day (default: all)"},
                    "hoursJson": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object", "properties": {"openTime": {"type": "string"}, "closeTime": {"type": "string"}}}}}
                }}}
            }),
        ),
        template(
            "template-end-call",
            "endCall",
            "End Call",
            "endCall",
            json!({"message": "Goodbye!"}),
            json!({"type": "object", "properties": {"message": {"type": "string"}}}),
        ),
        template(
            "template-function",
            "function",
            "Custom Function",
            "function",
            json!({}),
            json!({"type": "object", "required": ["serverUrl", "name"], "properties": {
                "serverUrl": {"type": "string", "format": "uri"}, "name": {"type": "string"}, "description": {"type": "string"},
                "parameters": {"type": "object"}, "timeoutMs": {"type": "integer", "minimum": 100, "maximum": 30000}
            }}),
        ),
        template(
            "template-api-request",
            "apiRequest",
            "API Request",
            "apiRequest",
            json!({"method": "GET"}),
            json!({"type": "object", "required": ["url", "method"], "properties": {
                "url": {"type": "string", "format": "uri"}, "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}}, "body": {}, "timeoutMs": {"type": "integer", "minimum": 100, "maximum": 30000}
            }}),
        ),
    ]
}
