//! Campaigns (`/v1/businesses/{businessId}/campaigns`): Vox's own API, since seed 004's
//! voice calls belong to campaigns but the seed documents no way to make one. An OUTBOUND
//! agent calls a list of contacts within a calling window in each callee's time zone, with a
//! concurrency limit, pacing, and retries on busy and no-answer with doubling delays; it can be
//! paused, resumed and stopped, and shows its progress. Its state is in the database, so the
//! dispatcher (`dispatch.rs`) takes up where it was after a restart; each call is tagged with
//! its campaign.

pub mod dispatch;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use vox_store::{Campaign, CampaignState, NewContact, rfc3339};

use crate::tools::business;
use crate::validate::{self, DAYS};
use crate::{ApiError, ApiState, Auth, PageQuery};

const FIELDS: &[&str] = &[
    "name",
    "agentId",
    "contacts",
    "callingWindow",
    "concurrency",
    "callsPerMinute",
    "maxAttempts",
    "retryAfterSecs",
    "survey",
];

/// The most contacts a campaign takes in one request.
const MAX_CONTACTS: usize = 1000;

/// Validates the calling window (default: every day, 09:00-17:00 UTC).
fn window(m: &Map<String, Value>) -> Result<Value, ApiError> {
    let Some(w) = validate::opt_object(m, "", "callingWindow")? else {
        return Ok(
            json!({"days": DAYS, "startTime": "09:00", "endTime": "17:00", "timezone": "UTC"}),
        );
    };
    let p = "callingWindow";
    validate::known(w, p, &["days", "startTime", "endTime", "timezone"])?;
    let mut days = Vec::new();
    for (i, d) in validate::opt_array(w, p, "days")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let day = d.as_str().map(str::to_lowercase).unwrap_or_default();
        if !DAYS.contains(&day.as_str()) {
            return Err(ApiError::invalid(
                &format!("{p}.days[{i}]"),
                format!("{p}.days[{i}] must be monday..sunday, got {d}"),
            ));
        }
        if !days.contains(&day) {
            days.push(day);
        }
    }
    if days.is_empty() {
        days = DAYS.iter().map(|d| d.to_string()).collect();
    }
    let start = validate::opt_str(w, p, "startTime")?.unwrap_or("09:00");
    let end = validate::opt_str(w, p, "endTime")?.unwrap_or("17:00");
    let (s, e) = (
        validate::hhmm("callingWindow.startTime", start, false)?,
        validate::hhmm("callingWindow.endTime", end, true)?,
    );
    if s >= e {
        return Err(ApiError::invalid(
            "callingWindow.startTime",
            "callingWindow.startTime must be before endTime",
        ));
    }
    let tz = validate::opt_str(w, p, "timezone")?.unwrap_or("UTC");
    if jiff::tz::TimeZone::get(tz).is_err() {
        return Err(ApiError::invalid(
            "callingWindow.timezone",
            format!("{tz:?} is not an IANA time zone"),
        ));
    }
    Ok(json!({"days": days, "startTime": start, "endTime": end, "timezone": tz}))
}

/// The post-call survey (seed 004's EPA): 1-10 questions answered by keypad or voice.
fn survey(m: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Some(s) = validate::opt_object(m, "", "survey")? else {
        return Ok(None);
    };
    validate::known(s, "survey", &["questions", "questionTimeoutSecs"])?;
    let list = validate::opt_array(s, "survey", "questions")?
        .ok_or_else(|| ApiError::invalid("survey.questions", "survey.questions is required"))?;
    if !(1..=10).contains(&list.len()) {
        return Err(ApiError::invalid(
            "survey.questions",
            format!(
                "survey.questions must hold 1 to 10 questions, got {}",
                list.len()
            ),
        ));
    }
    let mut questions = Vec::new();
    for (i, q) in list.iter().enumerate() {
        let p = format!("survey.questions[{i}]");
        let q = q
            .as_object()
            .ok_or_else(|| ApiError::invalid(&p, format!("{p} must be an object")))?;
        validate::known(q, &p, &["text", "answerType", "maxScore"])?;
        let text = validate::req_str(q, &p, "text")?;
        if text.chars().count() > 300 {
            return Err(ApiError::invalid(
                &format!("{p}.text"),
                format!("{p}.text must be at most 300 characters"),
            ));
        }
        let kind = validate::opt_str(q, &p, "answerType")?.unwrap_or("keypad");
        if kind != "keypad" && kind != "voice" {
            return Err(ApiError::invalid(
                &format!("{p}.answerType"),
                format!("{p}.answerType must be keypad or voice, got {kind:?}"),
            ));
        }
        let max = validate::opt_int(q, &p, "maxScore", 2, 9)?.unwrap_or(5);
        questions.push(json!({"text": text, "answerType": kind, "maxScore": max}));
    }
    let timeout = validate::opt_int(s, "survey", "questionTimeoutSecs", 3, 60)?.unwrap_or(8);
    Ok(Some(
        json!({"questions": questions, "questionTimeoutSecs": timeout}),
    ))
}

/// The contacts, each phone a number Vox may dial.
fn contacts(state: &ApiState, m: &Map<String, Value>) -> Result<Vec<NewContact>, ApiError> {
    let list = validate::opt_array(m, "", "contacts")?
        .ok_or_else(|| ApiError::invalid("contacts", "contacts is required"))?;
    if list.is_empty() || list.len() > MAX_CONTACTS {
        return Err(ApiError::invalid(
            "contacts",
            format!(
                "contacts must hold 1 to {MAX_CONTACTS} contacts, got {}",
                list.len()
            ),
        ));
    }
    let mut out: Vec<NewContact> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let p = format!("contacts[{i}]");
        let c = c
            .as_object()
            .ok_or_else(|| ApiError::invalid(&p, format!("{p} must be an object")))?;
        validate::known(c, &p, &["phoneNumber", "name", "timezone"])?;
        let phone = validate::req_str(c, &p, "phoneNumber")?;
        state
            .dial_policy
            .check(&format!("{p}.phoneNumber"), phone)?;
        if out.iter().any(|k| k.phone_number == phone) {
            return Err(ApiError::invalid(
                &format!("{p}.phoneNumber"),
                format!("{p}.phoneNumber {phone} is in the list twice"),
            ));
        }
        let tz = validate::opt_str(c, &p, "timezone")?;
        if let Some(tz) = tz
            && jiff::tz::TimeZone::get(tz).is_err()
        {
            return Err(ApiError::invalid(
                &format!("{p}.timezone"),
                format!("{tz:?} is not an IANA time zone"),
            ));
        }
        out.push(NewContact {
            phone_number: phone.to_owned(),
            name: validate::opt_str(c, &p, "name")?.map(str::to_owned),
            timezone: tz.map(str::to_owned),
        });
    }
    Ok(out)
}

async fn view(state: &ApiState, c: &Campaign) -> Result<Value, ApiError> {
    let p = state.store.campaign_progress(&c.id).await?;
    let mut v = c.settings.as_object().cloned().unwrap_or_default();
    v.extend([
        ("id".to_owned(), json!(c.id)),
        ("businessId".to_owned(), json!(c.business_id)),
        ("agentId".to_owned(), json!(c.agent_id)),
        ("name".to_owned(), json!(c.name)),
        ("state".to_owned(), json!(c.state.as_str())),
        (
            "progress".to_owned(),
            json!({"total": p.total, "pending": p.pending, "dialing": p.dialing, "retry": p.retry, "done": p.done, "failed": p.failed}),
        ),
        ("createdAt".to_owned(), json!(rfc3339(c.created_at))),
        ("updatedAt".to_owned(), json!(rfc3339(c.updated_at))),
    ]);
    Ok(Value::Object(v))
}

/// `POST /v1/businesses/{businessId}/campaigns`: made running.
pub(crate) async fn create(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require("campaigns:write")?;
    let business = business(&state, &auth, &biz).await?;
    let m = validate::object(&body)?;
    validate::known(&m, "", FIELDS)?;
    let name = validate::req_str(&m, "", "name")?.trim();
    if name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "name must be 1-100 characters"));
    }
    let agent_id = validate::req_str(&m, "", "agentId")?;
    let agent = state
        .store
        .agent(&business.id, agent_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "agentId",
                format!("no voice agent {agent_id:?} in this business"),
            )
        })?;
    if agent.kind != "OUTBOUND" || agent.phone_number.is_none() {
        return Err(ApiError::invalid(
            "agentId",
            format!(
                "voice agent {agent_id} must be OUTBOUND and deployed (POST .../voice-agents/{agent_id}/deploy) to call a campaign's contacts"
            ),
        ));
    }
    let settings = json!({
        "callingWindow": window(&m)?,
        "concurrency": validate::opt_int(&m, "", "concurrency", 1, 20)?.unwrap_or(2),
        "callsPerMinute": validate::opt_int(&m, "", "callsPerMinute", 1, 60)?.unwrap_or(10),
        "maxAttempts": validate::opt_int(&m, "", "maxAttempts", 1, 5)?.unwrap_or(3),
        "retryAfterSecs": validate::opt_int(&m, "", "retryAfterSecs", 1, 86_400)?.unwrap_or(600),
        "survey": survey(&m)?,
    });
    let list = contacts(&state, &m)?;
    let c = state
        .store
        .create_campaign(
            Campaign {
                id: String::new(),
                business_id: business.id.clone(),
                agent_id: agent.id,
                name: name.to_owned(),
                state: CampaignState::Running,
                settings,
                created_at: 0,
                updated_at: 0,
            },
            &list,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view(&state, &c).await?)))
}

/// `GET /v1/businesses/{businessId}/campaigns`
pub(crate) async fn list(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require("campaigns:read")?;
    let business = business(&state, &auth, &biz).await?;
    let page = q.page()?;
    let (items, total) = state
        .store
        .list_campaigns(&business.id, page.offset(), page.limit())
        .await?;
    let mut shown = Vec::new();
    for c in &items {
        shown.push(view(&state, c).await?);
    }
    Ok(page.body(shown, total))
}

async fn campaign(
    state: &ApiState,
    auth: &Auth,
    biz: &str,
    id: &str,
) -> Result<Campaign, ApiError> {
    let business = business(state, auth, biz).await?;
    state
        .store
        .campaign(&business.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("campaign"))
}

/// `GET /v1/businesses/{businessId}/campaigns/{campaignId}`
pub(crate) async fn get(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("campaigns:read")?;
    let c = campaign(&state, &auth, &biz, &id).await?;
    Ok(Json(view(&state, &c).await?))
}

/// `GET /v1/businesses/{businessId}/campaigns/{campaignId}/contacts`
pub(crate) async fn contacts_of(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("campaigns:read")?;
    let c = campaign(&state, &auth, &biz, &id).await?;
    let items: Vec<Value> = state
        .store
        .campaign_contacts(&c.id)
        .await?
        .into_iter()
        .map(|k| {
            json!({"id": k.id, "phoneNumber": k.phone_number, "name": k.name, "timezone": k.timezone,
                   "state": k.state.as_str(), "attempts": k.attempts, "nextAttemptAt": k.next_attempt_at.map(rfc3339),
                   "lastCallId": k.last_call_id, "lastOutcome": k.last_outcome})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

async fn transition(
    auth: Auth,
    state: ApiState,
    biz: String,
    id: String,
    from: &[CampaignState],
    to: CampaignState,
) -> Result<Json<Value>, ApiError> {
    auth.require("campaigns:write")?;
    let c = campaign(&state, &auth, &biz, &id).await?;
    if c.state != to && !state.store.set_campaign_state(&c.id, from, to).await? {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "CONFLICT",
            message: format!(
                "campaign {id} is {}: it cannot become {}",
                c.state.as_str(),
                to.as_str()
            ),
            field: None,
            retry_after: None,
        });
    }
    let c = campaign(&state, &auth, &biz, &id).await?;
    Ok(Json(view(&state, &c).await?))
}

/// `POST .../campaigns/{campaignId}/pause`: no new calls (calls up go on).
pub(crate) async fn pause(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    transition(
        auth,
        state,
        biz,
        id,
        &[CampaignState::Running],
        CampaignState::Paused,
    )
    .await
}

/// `POST .../campaigns/{campaignId}/resume`
pub(crate) async fn resume(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    transition(
        auth,
        state,
        biz,
        id,
        &[CampaignState::Paused],
        CampaignState::Running,
    )
    .await
}

/// `POST .../campaigns/{campaignId}/stop`: for good.
pub(crate) async fn stop(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    transition(
        auth,
        state,
        biz,
        id,
        &[CampaignState::Running, CampaignState::Paused],
        CampaignState::Stopped,
    )
    .await
}
