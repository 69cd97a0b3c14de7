//! Call records: created when a call is placed or answered, updated as it runs and ends,
//! listed with the seed's filters. Lists are always scoped to a business or an
//! organization.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{CallChannel, CallKind, CallStatus, EndedReason, Store, StoreError, new_id, now_ms};

/// A call record.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// Its id.
    pub id: String,
    /// The business.
    pub business_id: String,
    /// The agent that handled it.
    pub agent_id: Option<String>,
    /// The lead it concerns.
    pub lead_id: Option<String>,
    /// Who called whom.
    pub kind: CallKind,
    /// Phone or browser.
    pub channel: CallChannel,
    /// The business's number on the call.
    pub phone_number: Option<String>,
    /// The other party's number.
    pub customer_number: Option<String>,
    /// Where it stands.
    pub status: CallStatus,
    /// Why it ended.
    pub ended_reason: Option<EndedReason>,
    /// Post-call summary.
    pub summary: Option<String>,
    /// The transcript ("Agent: ...\nCaller: ...").
    pub transcript: Option<String>,
    /// Where the recording is.
    pub recording_url: Option<String>,
    /// Length of the call.
    pub duration_ms: Option<i64>,
    /// Data extracted for the agent's collectFields (JSON).
    pub structured_data: Option<serde_json::Value>,
    /// The outbound call's context (JSON).
    pub lead_context: Option<serde_json::Value>,
    /// The carrier's id for the call (e.g. Twilio's CallSid).
    pub carrier_call_id: Option<String>,
    /// Started, Unix ms.
    pub started_at: Option<i64>,
    /// Ended, Unix ms.
    pub ended_at: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// The transcript as messages (`[{role, text, atMs, interrupted}]`), times from the
    /// call's start.
    pub messages: Option<serde_json::Value>,
    /// The campaign it was placed for.
    pub campaign_id: Option<String>,
    /// Its post-call survey's result (JSON), once one ran.
    pub epa_results: Option<serde_json::Value>,
}

impl CallRecord {
    /// A new SCHEDULED call of `business_id` (the store gives it its id when created).
    pub fn new(business_id: &str, kind: CallKind) -> Self {
        Self {
            id: String::new(),
            business_id: business_id.to_owned(),
            agent_id: None,
            lead_id: None,
            kind,
            channel: CallChannel::Phone,
            phone_number: None,
            customer_number: None,
            status: CallStatus::Scheduled,
            ended_reason: None,
            summary: None,
            transcript: None,
            recording_url: None,
            duration_ms: None,
            structured_data: None,
            lead_context: None,
            carrier_call_id: None,
            started_at: None,
            ended_at: None,
            created_at: 0,
            messages: None,
            campaign_id: None,
            epa_results: None,
        }
    }
}

/// Which calls to list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Only this organization's calls (always set by the API).
    pub organization_id: String,
    /// Only this business's.
    pub business_id: Option<String>,
    /// Who called whom.
    pub kind: Option<CallKind>,
    /// Where they stand.
    pub status: Option<CallStatus>,
    /// Started at or after (Unix ms).
    pub start: Option<i64>,
    /// Started before (Unix ms).
    pub end: Option<i64>,
    /// Lead.
    pub lead_id: Option<String>,
    /// Sort column: `started_at`, `ended_at` or `duration_ms`.
    pub order_by: OrderBy,
    /// Descending.
    pub descending: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// The columns calls may be sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderBy {
    /// When it started (the default).
    #[default]
    StartedAt,
    /// When it ended.
    EndedAt,
    /// How long it took.
    DurationMs,
}

/// Calls as the compatibility APIs search them (seed 000's call logs, seed 004's voice
/// calls): an organization's, narrowed by any of these.
#[derive(Debug, Clone, Default)]
pub struct CallSearch {
    /// The organization (always set).
    pub organization_id: String,
    /// Only this business's.
    pub business_id: Option<String>,
    /// Only this agent's.
    pub agent_id: Option<String>,
    /// Only calls about these leads (seed 000's contacts); any when empty.
    pub lead_ids: Vec<String>,
    /// Only calls of this channel (a browser call is a trial call).
    pub channel: Option<CallChannel>,
    /// Only calls placed for this campaign.
    pub campaign_id: Option<String>,
    /// Only calls in this direction.
    pub kind: Option<CallKind>,
    /// Only calls where they stand so.
    pub status: Option<CallStatus>,
    /// Only calls that ended for one of these reasons; any when empty.
    pub ended_reasons: Vec<EndedReason>,
    /// Never calls that ended for one of these reasons.
    pub not_ended_reasons: Vec<EndedReason>,
    /// Created at or after (Unix ms).
    pub created_from: Option<i64>,
    /// Created at or before (Unix ms).
    pub created_to: Option<i64>,
    /// Only calls that ran an action of one of these types; any when empty.
    pub action_types: Vec<String>,
    /// Sort by duration (else by creation).
    pub by_duration: bool,
    /// Ascending (else newest or longest first).
    pub ascending: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// Queues `event` for the business's endpoint inside `tx`, if it has one.
async fn queue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    business_id: &str,
    event: &str,
    body: &str,
) -> Result<(), StoreError> {
    let hook = sqlx::query("SELECT business_id FROM webhooks WHERE business_id = $1")
        .bind(business_id)
        .fetch_optional(&mut **tx)
        .await?;
    if hook.is_some() {
        let now = now_ms();
        sqlx::query("INSERT INTO webhook_deliveries (id, business_id, event, body, attempts, next_at, status, last_error, created_at) VALUES ($1, $2, $3, $4, 0, $5, 'pending', NULL, $6)")
            .bind(new_id("evt"))
            .bind(business_id)
            .bind(event)
            .bind(body)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

macro_rules! columns {
    () => {
        "c.id, c.business_id, c.agent_id, c.lead_id, c.kind, c.phone_number, c.customer_number, c.status, c.ended_reason, c.summary, c.transcript, c.recording_url, c.duration_ms, c.structured_data, c.lead_context, c.carrier_call_id, c.started_at, c.ended_at, c.created_at, c.messages, c.channel, c.campaign_id, c.epa_results"
    };
}

fn json_col(r: &AnyRow, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
    Ok(r.try_get::<Option<String>, _>(name)?
        .and_then(|s| serde_json::from_str(&s).ok()))
}

fn call(r: &AnyRow) -> Result<CallRecord, StoreError> {
    Ok(CallRecord {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        agent_id: r.try_get("agent_id")?,
        lead_id: r.try_get("lead_id")?,
        kind: CallKind::from_column(&r.try_get::<String, _>("kind")?)?,
        channel: CallChannel::from_column(&r.try_get::<String, _>("channel")?)?,
        phone_number: r.try_get("phone_number")?,
        customer_number: r.try_get("customer_number")?,
        status: CallStatus::from_column(&r.try_get::<String, _>("status")?)?,
        ended_reason: r
            .try_get::<Option<String>, _>("ended_reason")?
            .map(|s| EndedReason::from_column(&s))
            .transpose()?,
        summary: r.try_get("summary")?,
        transcript: r.try_get("transcript")?,
        recording_url: r.try_get("recording_url")?,
        duration_ms: r.try_get("duration_ms")?,
        structured_data: json_col(r, "structured_data")?,
        lead_context: json_col(r, "lead_context")?,
        carrier_call_id: r.try_get("carrier_call_id")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        created_at: r.try_get("created_at")?,
        messages: json_col(r, "messages")?,
        campaign_id: r.try_get("campaign_id")?,
        epa_results: json_col(r, "epa_results")?,
    })
}

impl Store {
    /// Stores a new call; `id` and `created_at` are filled in.
    pub async fn create_call(&self, mut c: CallRecord) -> Result<CallRecord, StoreError> {
        c.id = new_id("call");
        c.created_at = now_ms();
        self.write_call(&c, true).await?;
        Ok(c)
    }

    /// Saves every field of an existing call.
    pub async fn update_call(&self, c: &CallRecord) -> Result<(), StoreError> {
        self.write_call(c, false).await
    }

    async fn write_call(&self, c: &CallRecord, insert: bool) -> Result<(), StoreError> {
        let sql = if insert {
            "INSERT INTO calls (business_id, agent_id, lead_id, kind, phone_number, customer_number, status, ended_reason, summary, transcript, recording_url, duration_ms, structured_data, lead_context, carrier_call_id, started_at, ended_at, created_at, channel, campaign_id, id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
        } else {
            "UPDATE calls SET business_id = $1, agent_id = $2, lead_id = $3, kind = $4, phone_number = $5, customer_number = $6, status = $7, ended_reason = $8, summary = $9, transcript = $10, recording_url = $11, duration_ms = $12, structured_data = $13, lead_context = $14, carrier_call_id = $15, started_at = $16, ended_at = $17, created_at = $18, channel = $19, campaign_id = $20 WHERE id = $21"
        };
        let done = sqlx::query(sql)
            .bind(&c.business_id)
            .bind(&c.agent_id)
            .bind(&c.lead_id)
            .bind(c.kind.as_str())
            .bind(&c.phone_number)
            .bind(&c.customer_number)
            .bind(c.status.as_str())
            .bind(c.ended_reason.map(EndedReason::as_str))
            .bind(&c.summary)
            .bind(&c.transcript)
            .bind(&c.recording_url)
            .bind(c.duration_ms)
            .bind(c.structured_data.as_ref().map(|v| v.to_string()))
            .bind(c.lead_context.as_ref().map(|v| v.to_string()))
            .bind(&c.carrier_call_id)
            .bind(c.started_at)
            .bind(c.ended_at)
            .bind(c.created_at)
            .bind(c.channel.as_str())
            .bind(&c.campaign_id)
            .bind(&c.id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("call"));
        }
        Ok(())
    }

    /// A call by id alone: for the telephony side, which learns the id from a verified media
    /// token or a signed carrier callback, never from a tenant's request.
    pub async fn call_by_id(&self, id: &str) -> Result<Option<CallRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM calls c WHERE c.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(call).transpose()
    }

    /// Every call left SCHEDULED or IN_PROGRESS, oldest first: at start, the calls a dead
    /// process left unfinished.
    pub async fn unfinished_calls(&self) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM calls c WHERE c.status IN ('SCHEDULED', 'IN_PROGRESS') ORDER BY c.created_at, c.id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(call).collect()
    }

    /// Ends an unfinished call with its artifacts and queues the event that reports it (if
    /// the business has an endpoint), in one transaction: either the call is still
    /// unfinished afterwards (and can be done again) or its ending and its event are both
    /// stored, once. `event_body` is the delivery's body. False if the call had already
    /// ended.
    #[allow(clippy::too_many_arguments)]
    pub async fn end_call_with_event(
        &self,
        call: &CallRecord,
        reason: EndedReason,
        at: i64,
        recording_url: Option<&str>,
        summary: Option<&str>,
        structured_data: Option<&serde_json::Value>,
        event: &str,
        event_body: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let ended = sqlx::query("UPDATE calls SET status = $1, ended_reason = $2, ended_at = $3, duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE $4 - started_at END, recording_url = COALESCE($5, recording_url), summary = COALESCE($6, summary), structured_data = COALESCE($7, structured_data) WHERE id = $8 AND status IN ('SCHEDULED', 'IN_PROGRESS')")
            .bind(reason.status().as_str())
            .bind(reason.as_str())
            .bind(at)
            .bind(at)
            .bind(recording_url)
            .bind(summary)
            .bind(structured_data.map(|v| v.to_string()))
            .bind(&call.id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if ended {
            queue_in(&mut tx, &call.business_id, event, event_body).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends a running call whose summary and extracted fields are still to be made: marked
    /// so until [`Store::complete_call_artifacts`] stores them with the call's event (a
    /// process dying in between leaves them to [`Store::calls_awaiting_artifacts`]). False
    /// if the call had already ended (the first ending stands; it still awaits them).
    pub async fn call_ended_awaiting_artifacts(
        &self,
        id: &str,
        reason: EndedReason,
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE calls SET status = $1, ended_reason = $2, ended_at = $3, duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE $4 - started_at END WHERE id = $5 AND status IN ('SCHEDULED', 'IN_PROGRESS')")
            .bind(reason.status().as_str())
            .bind(reason.as_str())
            .bind(at)
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // awaiting them even when something else ended the record first: the call ran, and
        // its one record writer reports it once
        sqlx::query("UPDATE calls SET artifacts_pending = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores an ended call's artifacts and queues the event that reports its end (if the
    /// business has an endpoint), in one transaction, once: false if they were stored
    /// already (or the call was not awaiting them).
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_call_artifacts(
        &self,
        call: &CallRecord,
        recording_url: Option<&str>,
        summary: Option<&str>,
        structured_data: Option<&serde_json::Value>,
        event: &str,
        event_body: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE calls SET recording_url = COALESCE($1, recording_url), summary = COALESCE($2, summary), structured_data = COALESCE($3, structured_data), artifacts_pending = 0 WHERE id = $4 AND artifacts_pending = 1")
            .bind(recording_url)
            .bind(summary)
            .bind(structured_data.map(|v| v.to_string()))
            .bind(&call.id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if done {
            queue_in(&mut tx, &call.business_id, event, event_body).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Ended calls whose artifacts and event were never stored (the process died first).
    pub async fn calls_awaiting_artifacts(&self) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM calls c WHERE c.artifacts_pending = 1 ORDER BY c.created_at, c.id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(call).collect()
    }

    /// The call the carrier knows by `carrier_call_id` (the newest, should a carrier reuse
    /// one): for carrier callbacks that name only their own id, after their signature check.
    pub async fn call_by_carrier_id(
        &self,
        carrier_call_id: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM calls c WHERE c.carrier_call_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT 1"))
            .bind(carrier_call_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(call).transpose()
    }

    /// Records the carrier's id for a call (only this field: the call may already be live).
    pub async fn set_call_carrier_id(
        &self,
        id: &str,
        carrier_call_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET carrier_call_id = $1 WHERE id = $2")
            .bind(carrier_call_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records the id a dial's reply gave, unless the carrier's own callback already named
    /// the call: some carriers answer a dial with a request id rather than the call's (Plivo's
    /// `request_uuid`; its answer URL's `CallUUID` is the id call control takes).
    pub async fn set_call_carrier_id_if_unset(
        &self,
        id: &str,
        carrier_call_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE calls SET carrier_call_id = $1 WHERE id = $2 AND carrier_call_id IS NULL",
        )
        .bind(carrier_call_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The media stream is up: SCHEDULED -> IN_PROGRESS from `at`. False if the call was not
    /// SCHEDULED (already connected or ended): one conditional UPDATE, so of two streams
    /// racing for one call exactly one wins.
    pub async fn call_started(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE calls SET status = 'IN_PROGRESS', started_at = $1 WHERE id = $2 AND status = 'SCHEDULED'").bind(at).bind(id).execute(self.pool()).await?;
        Ok(done.rows_affected() == 1)
    }

    /// The post-call survey's result as it stands.
    pub async fn set_call_survey(
        &self,
        id: &str,
        result: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET epa_results = $1 WHERE id = $2")
            .bind(result.to_string())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The transcript so far, as text and as messages.
    pub async fn set_call_transcript(
        &self,
        id: &str,
        transcript: &str,
        messages: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET transcript = $1, messages = $2 WHERE id = $3")
            .bind(transcript)
            .bind(messages.to_string())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// What is known once the call is over: the recording's URL, the summary and the
    /// extracted data (each left as is when `None`).
    pub async fn set_call_artifacts(
        &self,
        id: &str,
        recording_url: Option<&str>,
        summary: Option<&str>,
        structured_data: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET recording_url = COALESCE($1, recording_url), summary = COALESCE($2, summary), structured_data = COALESCE($3, structured_data) WHERE id = $4")
            .bind(recording_url)
            .bind(summary)
            .bind(structured_data.map(|v| v.to_string()))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Browser calls minted but never connected by `before` (Unix ms) end as `expired`:
    /// their token is past its life. How many.
    pub async fn expire_web_calls(&self, before: i64, at: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE calls SET status = $1, ended_reason = $2, ended_at = $3, duration_ms = 0 WHERE channel = 'web' AND status = 'SCHEDULED' AND created_at < $4")
            .bind(EndedReason::Expired.status().as_str())
            .bind(EndedReason::Expired.as_str())
            .bind(at)
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The call is over, for `reason` (which decides its final status); the duration counts
    /// from `started_at`. A call that already ended keeps its first ending (carrier callbacks
    /// may arrive after the media stream's own end, or instead of it).
    pub async fn call_ended(
        &self,
        id: &str,
        reason: EndedReason,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET status = $1, ended_reason = $2, ended_at = $3, duration_ms = CASE WHEN started_at IS NULL THEN 0 ELSE $4 - started_at END WHERE id = $5 AND status IN ('SCHEDULED', 'IN_PROGRESS')")
            .bind(reason.status().as_str())
            .bind(reason.as_str())
            .bind(at)
            .bind(at)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// One call of an organization (and of a business, if given).
    pub async fn call(
        &self,
        organization_id: &str,
        business_id: Option<&str>,
        id: &str,
    ) -> Result<Option<CallRecord>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM calls c JOIN businesses b ON b.id = c.business_id WHERE c.id = $1 AND b.organization_id = $2 AND ($3 IS NULL OR c.business_id = $3)"))
            .bind(id)
            .bind(organization_id)
            .bind(business_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(call).transpose()
    }

    /// A page of calls matching `f`, and how many match.
    pub async fn list_calls(&self, f: &CallFilter) -> Result<(Vec<CallRecord>, i64), StoreError> {
        // Only fixed fragments are put together here; every value is a bound parameter.
        const WHERE: &str = " FROM calls c JOIN businesses b ON b.id = c.business_id WHERE b.organization_id = $1 AND ($2 IS NULL OR c.business_id = $2) AND ($3 IS NULL OR c.kind = $3) AND ($4 IS NULL OR c.status = $4) AND ($5 IS NULL OR c.started_at >= $5) AND ($6 IS NULL OR c.started_at < $6) AND ($7 IS NULL OR c.lead_id = $7)";
        let column = match f.order_by {
            OrderBy::StartedAt => "c.started_at",
            OrderBy::EndedAt => "c.ended_at",
            OrderBy::DurationMs => "c.duration_ms",
        };
        let direction = if f.descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {} {WHERE} ORDER BY {column} {direction}, c.created_at {direction}, c.id LIMIT $8 OFFSET $9",
            columns!()
        );
        let bind = |q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>| {
            q.bind(f.organization_id.clone())
                .bind(f.business_id.clone())
                .bind(f.kind.map(CallKind::as_str))
                .bind(f.status.map(CallStatus::as_str))
                .bind(f.start)
                .bind(f.end)
                .bind(f.lead_id.clone())
        };
        let rows = bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(self.pool())
            .await?;
        let total: i64 = bind(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n {WHERE}"
        ))))
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((rows.iter().map(call).collect::<Result<_, _>>()?, total))
    }

    /// A page of the calls a [`CallSearch`] finds, and how many there are.
    pub async fn search_calls(&self, f: &CallSearch) -> Result<(Vec<CallRecord>, i64), StoreError> {
        // Only fixed fragments and numbered placeholders are put together here; every value
        // is a bound parameter.
        let mut sql = String::from(
            " FROM calls c JOIN businesses b ON b.id = c.business_id WHERE b.organization_id = $1 AND ($2 IS NULL OR c.business_id = $2) AND ($3 IS NULL OR c.agent_id = $3) AND ($4 IS NULL OR c.channel = $4) AND ($5 IS NULL OR c.created_at >= $5) AND ($6 IS NULL OR c.created_at <= $6) AND ($7 IS NULL OR c.kind = $7) AND ($8 IS NULL OR c.status = $8) AND ($9 IS NULL OR c.campaign_id = $9)",
        );
        let mut n = 9;
        let mut list = |count: usize, clause: &str, sql: &mut String| {
            if count == 0 {
                return;
            }
            let marks: Vec<String> = (0..count)
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push_str(&clause.replace("{}", &marks.join(", ")));
        };
        list(f.lead_ids.len(), " AND c.lead_id IN ({})", &mut sql);
        list(
            f.action_types.len(),
            " AND EXISTS (SELECT 1 FROM call_tool_runs r WHERE r.call_id = c.id AND r.action_type IN ({}))",
            &mut sql,
        );
        list(
            f.ended_reasons.len(),
            " AND c.ended_reason IN ({})",
            &mut sql,
        );
        list(
            f.not_ended_reasons.len(),
            " AND (c.ended_reason IS NULL OR c.ended_reason NOT IN ({}))",
            &mut sql,
        );
        let column = if f.by_duration {
            "COALESCE(c.duration_ms, 0)"
        } else {
            "c.created_at"
        };
        let direction = if f.ascending { "ASC" } else { "DESC" };
        let bind = |q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>| {
            let mut q = q
                .bind(f.organization_id.clone())
                .bind(f.business_id.clone())
                .bind(f.agent_id.clone())
                .bind(f.channel.map(CallChannel::as_str))
                .bind(f.created_from)
                .bind(f.created_to)
                .bind(f.kind.map(CallKind::as_str))
                .bind(f.status.map(CallStatus::as_str))
                .bind(f.campaign_id.clone());
            for v in f.lead_ids.iter().chain(&f.action_types) {
                q = q.bind(v.clone());
            }
            for r in f.ended_reasons.iter().chain(&f.not_ended_reasons) {
                q = q.bind(r.as_str());
            }
            q
        };
        let page = format!(
            "SELECT {} {sql} ORDER BY {column} {direction}, c.id {direction} LIMIT ${} OFFSET ${}",
            columns!(),
            n + 1,
            n + 2
        );
        let rows = bind(sqlx::query(sqlx::AssertSqlSafe(page)))
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(self.pool())
            .await?;
        let total: i64 = bind(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n {sql}"
        ))))
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((rows.iter().map(call).collect::<Result<_, _>>()?, total))
    }
}
