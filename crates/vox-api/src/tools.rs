//! Tool instances (`/v1/businesses/{businessId}/tools`) and the Google Calendar integration
//! (`/v1/businesses/{businessId}/integrations/google-calendar`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use vox_store::{Business, ToolRecord, rfc3339};
use vox_tools::calendar::ShareError;

use crate::validate::{self, join};
use crate::{ApiError, ApiState, Auth, PageQuery, templates};

/// The business, if it is the token's organization's.
pub(crate) async fn business(
    state: &ApiState,
    auth: &Auth,
    id: &str,
) -> Result<Business, ApiError> {
    state
        .store
        .business(&auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("business"))
}

fn view(t: &ToolRecord) -> Value {
    let template = templates::all()
        .into_iter()
        .find(|x| x["id"] == t.template_id.as_str())
        .unwrap_or(Value::Null);
    let config = template.get("config").cloned().unwrap_or_else(|| json!({}));
    let mut config_override = t.config_override.clone();
    if let Some(h) = config_override
        .get_mut("headers")
        .and_then(Value::as_object_mut)
    {
        for v in h.values_mut() {
            if let Some(s) = v.as_str() {
                *v = Value::String(masked(s));
            }
        }
    }
    let mut effective = config.as_object().cloned().unwrap_or_default();
    if let Some(o) = config_override.as_object() {
        effective.extend(o.clone());
    }
    json!({
        "id": t.id, "isTemplate": false, "templateToolId": t.template_id, "name": t.name, "displayName": t.display_name,
        "type": t.kind, "config": config, "configOverride": config_override, "effectiveConfig": effective,
        "message": t.message.clone().or_else(|| template["config"]["message"].as_str().map(str::to_owned)),
        "businessId": t.business_id, "enabled": t.enabled, "createdAt": rfc3339(t.created_at), "updatedAt": rfc3339(t.updated_at),
    })
}

/// What a response shows of an apiRequest header value: never the value (headers carry API
/// keys; they are sealed at rest), only its last four characters when it is long enough that
/// they give nothing away, so a developer can tell which key is set.
fn masked(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() >= 16 {
        format!(
            "****{}",
            chars[chars.len() - 4..].iter().collect::<String>()
        )
    } else {
        "****".to_owned()
    }
}

/// A PATCH that sends back a header as a response showed it (masked) keeps the stored value,
/// so reading a tool, changing one field and writing it back loses no key.
fn keep_masked_headers(old: &Value, new: &mut Map<String, Value>) {
    let (Some(old), Some(new)) = (
        old.get("headers").and_then(Value::as_object),
        new.get_mut("headers").and_then(Value::as_object_mut),
    ) else {
        return;
    };
    for (name, value) in new.iter_mut() {
        if let (Some(sent), Some(stored)) = (value.as_str(), old.get(name).and_then(Value::as_str))
            && sent == masked(stored)
        {
            *value = Value::String(stored.to_owned());
        }
    }
}

/// The names the model calls the built-in tools by; a function or apiRequest tool may not
/// take one.
pub(crate) const BUILTIN_TOOL_NAMES: [&str; 6] = [
    "endCall",
    "transferCall",
    "scheduleAppointment",
    "searchAppointments",
    "cancelAppointment",
    "knowledgeBaseQuery",
];

/// A function or apiRequest tool's name, as the model will call it.
fn tool_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ApiError::invalid(
            "configOverride.name",
            "configOverride.name must be 1-64 letters, digits, '_' or '-' (the model calls it by this name)",
        ));
    }
    if BUILTIN_TOOL_NAMES.contains(&name) {
        return Err(ApiError::invalid(
            "configOverride.name",
            format!("configOverride.name {name:?} is the name of a built-in tool; choose another"),
        ));
    }
    Ok(())
}

/// `{{name}}` templates in `text`: every `{{` closed, every name an identifier.
fn template(field: &str, text: &str) -> Result<(), ApiError> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start + 2..].find("}}") else {
            return Err(ApiError::invalid(
                field,
                format!("{field}: a \"{{{{\" is not closed with \"}}}}\""),
            ));
        };
        let name = rest[start + 2..start + 2 + end].trim();
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{field}: {{{{{name}}}}} is not a variable name (letters, digits and _, starting with a letter)"
                ),
            ));
        }
        rest = &rest[start + 2 + end + 2..];
    }
    Ok(())
}

/// `text` with each (already checked) `{{name}}` replaced by a placeholder value.
fn filled(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('x');
        rest = &rest[start + 2 + end + 2..];
    }
    out.push_str(rest);
    out
}

/// [`template`] over every string (and key) of a JSON body.
fn templates_in(field: &str, v: &Value) -> Result<(), ApiError> {
    match v {
        Value::String(s) => template(field, s),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| templates_in(&format!("{field}[{i}]"), x)),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            let f = join(field, k);
            template(&f, k)?;
            templates_in(&f, x)
        }),
        _ => Ok(()),
    }
}

/// Checks `configOverride` against the template's rules (seed 002, step 2).
async fn check_override(
    state: &ApiState,
    business: &Business,
    template_name: &str,
    o: &Map<String, Value>,
) -> Result<(), ApiError> {
    let p = "configOverride";
    match template_name {
        "transferCall" => {
            validate::known(o, p, &["destinations", "messages"])?;
            let dests = validate::opt_array(o, p, "destinations")?
                .filter(|d| !d.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "configOverride.destinations",
                        "at least one destination is required",
                    )
                })?;
            for (i, d) in dests.iter().enumerate() {
                let path = format!("{p}.destinations[{i}]");
                let d = d
                    .as_object()
                    .ok_or_else(|| ApiError::invalid(&path, format!("{path} must be an object")))?;
                validate::known(
                    d,
                    &path,
                    &["name", "phoneNumber", "description", "warmTransferEnabled"],
                )?;
                validate::req_str(d, &path, "name")?;
                state.dial_policy.check(
                    &join(&path, "phoneNumber"),
                    validate::req_str(d, &path, "phoneNumber")?,
                )?;
                validate::opt_str(d, &path, "description")?;
                validate::opt_bool(d, &path, "warmTransferEnabled")?;
            }
            // the model names the destination; names differing only in case could not be told apart
            for (i, d) in dests.iter().enumerate() {
                let name = d["name"].as_str().unwrap_or_default();
                if let Some(j) = dests[..i].iter().position(|e| {
                    e["name"]
                        .as_str()
                        .is_some_and(|n| n.trim().eq_ignore_ascii_case(name.trim()))
                }) {
                    return Err(ApiError::invalid(
                        &format!("{p}.destinations[{i}].name"),
                        format!(
                            "destination name {name:?} is already used by destinations[{j}]; each destination needs its own name"
                        ),
                    ));
                }
            }
            for (i, m) in validate::opt_array(o, p, "messages")?
                .into_iter()
                .flatten()
                .enumerate()
            {
                let path = format!("{p}.messages[{i}]");
                let m = m
                    .as_object()
                    .ok_or_else(|| ApiError::invalid(&path, format!("{path} must be an object")))?;
                validate::known(m, &path, &["type", "content"])?;
                if validate::req_str(m, &path, "type")? != "request-complete" {
                    return Err(ApiError::invalid(
                        &join(&path, "type"),
                        format!("{path}.type must be \"request-complete\""),
                    ));
                }
                validate::url(
                    &join(&path, "content"),
                    validate::req_str(m, &path, "content")?,
                )?;
            }
        }
        "googleCal" => {
            if state.store.calendar(&business.id).await?.is_none() {
                return Err(ApiError::invalid(
                    "templateToolId",
                    format!(
                        "Google Calendar integration not configured: POST /v1/businesses/{}/integrations/google-calendar first",
                        business.id
                    ),
                ));
            }
            validate::known(o, p, &["appointmentConfig"])?;
            if let Some(a) = validate::opt_object(o, p, "appointmentConfig")? {
                let path = "configOverride.appointmentConfig";
                validate::known(
                    a,
                    path,
                    &[
                        "slotDurationMinutes",
                        "slotBufferMinutes",
                        "advanceNoticeMinutes",
                        "hoursJson",
                        "timezone",
                        "appointmentsOfAnyCaller",
                        "offerDays",
                        "offerSlotsPerDay",
                    ],
                )?;
                validate::opt_bool(a, path, "appointmentsOfAnyCaller")?;
                validate::opt_int(a, path, "offerDays", 1, 14)?;
                validate::opt_int(a, path, "offerSlotsPerDay", 1, 12)?;
                validate::opt_int(a, path, "slotDurationMinutes", 10, 300)?;
                validate::opt_int(a, path, "slotBufferMinutes", 0, 120)?;
                validate::opt_int(a, path, "advanceNoticeMinutes", 0, 14400)?;
                validate::opt_str(a, path, "timezone")?;
                if let Some(h) = validate::opt_object(a, path, "hoursJson")? {
                    for (day, ranges) in h {
                        let dp = format!("{path}.hoursJson.{day}");
                        if !validate::DAYS.contains(&day.to_lowercase().as_str()) {
                            return Err(ApiError::invalid(
                                &dp,
                                format!("{day:?} is not a day of the week (monday..sunday)"),
                            ));
                        }
                        let ranges = ranges.as_array().ok_or_else(|| {
                            ApiError::invalid(
                                &dp,
                                format!("{dp} must be an array of {{openTime, closeTime}}"),
                            )
                        })?;
                        for (i, r) in ranges.iter().enumerate() {
                            let rp = format!("{dp}[{i}]");
                            let r = r.as_object().ok_or_else(|| {
                                ApiError::invalid(&rp, format!("{rp} must be an object"))
                            })?;
                            validate::known(r, &rp, &["openTime", "closeTime"])?;
                            let open = validate::hhmm(
                                &join(&rp, "openTime"),
                                validate::req_str(r, &rp, "openTime")?,
                                false,
                            )?;
                            let close = validate::hhmm(
                                &join(&rp, "closeTime"),
                                validate::req_str(r, &rp, "closeTime")?,
                                true,
                            )?;
                            if open >= close {
                                return Err(ApiError::invalid(
                                    &join(&rp, "openTime"),
                                    format!("{rp}: openTime must be before closeTime"),
                                ));
                            }
                        }
                    }
                }
            }
        }
        "endCall" => {
            validate::known(o, p, &["message"])?;
            validate::opt_str(o, p, "message")?;
        }
        "function" => {
            validate::known(
                o,
                p,
                &[
                    "serverUrl",
                    "name",
                    "description",
                    "parameters",
                    "timeoutMs",
                ],
            )?;
            validate::url(
                "configOverride.serverUrl",
                validate::req_str(o, p, "serverUrl")?,
            )?;
            tool_name(validate::req_str(o, p, "name")?)?;
            validate::opt_str(o, p, "description")?;
            validate::opt_object(o, p, "parameters")?;
            validate::opt_int(o, p, "timeoutMs", 100, 30_000)?;
        }
        "apiRequest" => {
            validate::known(
                o,
                p,
                &[
                    "url",
                    "method",
                    "headers",
                    "body",
                    "timeoutMs",
                    "name",
                    "description",
                ],
            )?;
            let url = validate::req_str(o, p, "url")?;
            template("configOverride.url", url)?;
            // checked as the URL it becomes (`{{ name }}` may hold spaces; its value is encoded)
            validate::url("configOverride.url", &filled(url)).map_err(|_| {
                ApiError::invalid(
                    "configOverride.url",
                    format!("configOverride.url must be an http:// or https:// URL, got {url:?}"),
                )
            })?;
            // only the path and query may be filled in: a templated host would let the model
            // (or the caller talking to it) choose where the request goes
            let authority = url.split_once("://").map_or(url, |(_, rest)| {
                rest.split(['/', '?', '#']).next().unwrap_or(rest)
            });
            if authority.contains("{{") {
                return Err(ApiError::invalid(
                    "configOverride.url",
                    "configOverride.url: templates may fill in the path and query, not the host",
                ));
            }
            if let Some(name) = validate::opt_str(o, p, "name")? {
                tool_name(name)?;
            }
            validate::opt_str(o, p, "description")?;
            if let Some(h) = validate::opt_object(o, p, "headers")? {
                for (k, v) in h {
                    let field = format!("configOverride.headers.{k}");
                    if k.is_empty()
                        || !k
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                    {
                        return Err(ApiError::invalid(
                            &field,
                            format!(
                                "{k:?} is not an HTTP header name (letters, digits and -, no templates)"
                            ),
                        ));
                    }
                    template(
                        &field,
                        v.as_str().ok_or_else(|| {
                            ApiError::invalid(&field, "header values must be strings")
                        })?,
                    )?;
                }
            }
            if let Some(b) = o.get("body").filter(|b| !b.is_null()) {
                if !(b.is_object() || b.is_array() || b.is_string()) {
                    return Err(ApiError::invalid(
                        "configOverride.body",
                        "configOverride.body must be a JSON object, array or string (a template)",
                    ));
                }
                templates_in("configOverride.body", b)?;
            }
            let method = validate::req_str(o, p, "method")?;
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
                return Err(ApiError::invalid(
                    "configOverride.method",
                    format!(
                        "configOverride.method must be GET, POST, PUT, PATCH or DELETE, got {method:?}"
                    ),
                ));
            }
            validate::opt_int(o, p, "timeoutMs", 100, 30_000)?;
        }
        _ => {}
    }
    Ok(())
}

/// `POST /v1/businesses/{businessId}/tools`
pub(crate) async fn create(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require("tools:create")?;
    let business = business(&state, &auth, &biz).await?;
    let m = validate::object(&body)?;
    validate::known(
        &m,
        "",
        &["templateToolId", "configOverride", "message", "enabled"],
    )?;
    let template_id = validate::req_str(&m, "", "templateToolId")?;
    let template = templates::all()
        .into_iter()
        .find(|t| t["id"] == template_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "templateToolId",
                format!("no tool template {template_id:?}; GET /v1/tools lists them"),
            )
        })?;
    let empty = Map::new();
    let o = validate::opt_object(&m, "", "configOverride")?.unwrap_or(&empty);
    let name = template["name"].as_str().unwrap_or_default();
    check_override(&state, &business, name, o).await?;
    let record = ToolRecord {
        id: String::new(),
        business_id: business.id.clone(),
        template_id: template_id.to_owned(),
        name: name.to_owned(),
        display_name: template["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        kind: template["type"].as_str().unwrap_or_default().to_owned(),
        config_override: Value::Object(o.clone()),
        message: validate::opt_str(&m, "", "message")?.map(str::to_owned),
        enabled: validate::opt_bool(&m, "", "enabled")?.unwrap_or(true),
        created_at: 0,
        updated_at: 0,
    };
    let saved = state.store.create_tool(record).await?;
    Ok((StatusCode::CREATED, Json(view(&saved))))
}

/// `GET /v1/businesses/{businessId}/tools`
pub(crate) async fn list(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require("tools:read")?;
    let business = business(&state, &auth, &biz).await?;
    let page = q.page()?;
    let (items, total) = state
        .store
        .list_tools(&business.id, page.offset(), page.limit())
        .await?;
    Ok(page.body(items.iter().map(view).collect(), total))
}

/// `GET /v1/businesses/{businessId}/tools/{toolId}`
pub(crate) async fn get(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("tools:read")?;
    let business = business(&state, &auth, &biz).await?;
    let t = state
        .store
        .tool(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("tool"))?;
    Ok(Json(view(&t)))
}

/// `PATCH /v1/businesses/{businessId}/tools/{toolId}`: configOverride (re-validated,
/// replaced whole), message, enabled.
pub(crate) async fn update(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth.require("tools:update")?;
    let business = business(&state, &auth, &biz).await?;
    let mut t = state
        .store
        .tool(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("tool"))?;
    let m = validate::object(&body)?;
    validate::known(&m, "", &["configOverride", "message", "enabled"])?;
    if let Some(o) = validate::opt_object(&m, "", "configOverride")? {
        let mut o = o.clone();
        keep_masked_headers(&t.config_override, &mut o);
        check_override(&state, &business, &t.name, &o).await?;
        t.config_override = Value::Object(o);
    }
    if m.contains_key("message") {
        t.message = validate::opt_str(&m, "", "message")?.map(str::to_owned);
    }
    if let Some(e) = validate::opt_bool(&m, "", "enabled")? {
        t.enabled = e;
    }
    Ok(Json(view(&state.store.update_tool(&t).await?)))
}

/// `DELETE /v1/businesses/{businessId}/tools/{toolId}`
pub(crate) async fn delete(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require("tools:delete")?;
    let business = business(&state, &auth, &biz).await?;
    if state.store.delete_tool(&business.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("tool"))
    }
}

/// `POST /v1/businesses/{businessId}/integrations/google-calendar`
pub(crate) async fn set_calendar(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    auth.require("integrations:create")?;
    let business = business(&state, &auth, &biz).await?;
    let m = validate::object(&body)?;
    validate::known(&m, "", &["accessToken", "calendarId"])?;
    // the access token is used once, to share the calendar with Vox's Google account, and
    // is never stored
    let token = validate::req_str(&m, "", "accessToken")?;
    let calendar = validate::req_str(&m, "", "calendarId")?.trim();
    if calendar.is_empty() {
        return Err(ApiError::invalid("calendarId", "calendarId is empty"));
    }
    let rule = match &state.calendar_sharing {
        None => None,
        Some(sharing) => Some(sharing.share(token, calendar).await.map_err(|e| match e {
            ShareError::BadToken | ShareError::NoAccess => {
                ApiError::invalid("accessToken", format!("{e} ({calendar})"))
            }
            ShareError::Other(why) => ApiError::upstream(why),
        })?),
    };
    let c = state
        .store
        .set_calendar(&business.id, calendar, rule.as_deref())
        .await?;
    Ok(Json(
        json!({"id": c.id, "calendarId": c.calendar_id, "aclRuleId": c.acl_rule_id}),
    ))
}

/// `GET /v1/businesses/{businessId}/integrations/google-calendar`
pub(crate) async fn get_calendar(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require("integrations:read")?;
    let business = business(&state, &auth, &biz).await?;
    let c = state
        .store
        .calendar(&business.id)
        .await?
        .ok_or_else(|| ApiError::not_found("Google Calendar integration"))?;
    Ok(Json(
        json!({"id": c.id, "calendarId": c.calendar_id, "aclRuleId": c.acl_rule_id}),
    ))
}
