//! An AI employee's task, once due, is a call: a loop started by the server places, once a
//! second, the call of each due task (claimed once, so two nodes never place it twice) from
//! the task's agent to the contact of its conversation, told the task's objective; and when
//! the call has ended writes the outcome back (completed, or cancelled with why the call did
//! not happen or failed). Everything it knows is in the database: a restart takes up where it
//! was, and a claim left by a process that died before dialing is taken again after a minute.

use std::time::Duration;

use serde_json::json;
use vox_store::{CallStatus, ChannelType, StoreError, Task, TaskStatus, now_ms};

use crate::{ApiError, ApiState};

/// How long a claim may stand without its call before it is taken again.
const STALE_CLAIM_MS: i64 = 60_000;
/// How long an ended call's summary is waited for, to be the task's outcome.
const SUMMARY_WAIT_MS: i64 = 30_000;

/// Starts the loop.
pub fn start(state: ApiState) {
    let tasks = state.tasks.clone();
    tasks.spawn("task calls", async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = pass(&state).await {
                tracing::warn!(error = %e, "task calls");
            }
        }
    });
}

/// One pass: due tasks' calls placed, ended calls' outcomes written back; how many calls were
/// placed.
pub async fn pass(state: &ApiState) -> Result<usize, StoreError> {
    let now = now_ms();
    for t in state.store.tasks_in_calls().await? {
        settle(state, t).await?;
    }
    let mut placed = 0;
    for t in state.store.due_ai_tasks(now).await? {
        if !state.store.claim_task(&t.id, now - STALE_CLAIM_MS).await? {
            continue;
        }
        match call(state, &t).await {
            // over the business's outbound rate: the claim is let go, a later pass calls
            Err(Refusal::Later(why)) => {
                tracing::info!(task = %t.id, %why, "a task's call waits");
                let mut t = state.store.task(&t.business_id, &t.id).await?.unwrap_or(t);
                t.call_id = None;
                state.store.update_task(t).await?;
            }
            Ok(call_id) => {
                placed += 1;
                // its number, for the task's callId (seed 003 shows calls by number)
                state
                    .store
                    .crm_call(&call_id, &json!({"metadata": {"taskId": t.id}}))
                    .await?;
                let mut t = state.store.task(&t.business_id, &t.id).await?.unwrap_or(t);
                t.call_id = Some(call_id);
                state.store.update_task(t).await?;
            }
            Err(Refusal::Never(why)) => {
                tracing::info!(task = %t.id, %why, "a task's call could not be placed");
                let mut t = t;
                t.call_id = None;
                t.status = TaskStatus::Cancelled;
                t.cancelled_at = Some(now);
                t.cancellation_reason = Some(format!("the call could not be placed: {why}"));
                t.outcome = t.cancellation_reason.clone();
                state.store.update_task(t).await?;
            }
        }
    }
    Ok(placed)
}

/// Why a task's call was not placed.
enum Refusal {
    /// Not now (the business's outbound rate): a later pass tries again.
    Later(String),
    /// Not at all: the task is cancelled with this reason.
    Never(String),
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Self {
        Self::Never(why.to_owned())
    }
}

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Self::Never(why)
    }
}

/// Places task `t`'s call; its call id, or why not.
async fn call(state: &ApiState, t: &Task) -> Result<String, Refusal> {
    let store = &state.store;
    let internal = |e: StoreError| Refusal::Never(e.to_string());
    let agent = store
        .agent(&t.business_id, &t.assigned_to.1)
        .await
        .map_err(internal)?
        .ok_or("its AI employee is no longer a voice agent of the business")?;
    let (Some(from), Some(true), "OUTBOUND") = (
        agent.phone_number.clone(),
        agent.on_duty,
        agent.kind.as_str(),
    ) else {
        return Err(format!(
            "its AI employee {} is not a deployed, on-duty OUTBOUND agent",
            agent.id
        )
        .into());
    };
    let conversation = match t.conversation_id {
        Some(id) => store
            .conversation(&t.business_id, id)
            .await
            .map_err(internal)?,
        None => None,
    }
    .ok_or("it names no conversation of the business (context.conversationId)")?;
    let contact = store
        .contact(&t.business_id, conversation.contact_id)
        .await
        .map_err(internal)?
        .ok_or("its conversation's contact is gone")?;
    let to = [ChannelType::Phone, ChannelType::Whatsapp, ChannelType::Sms]
        .iter()
        .find_map(|ch| {
            contact
                .addresses
                .iter()
                .find(|a| a.channel_type == *ch)
                .map(|a| a.address.clone())
        })
        .or(contact.fields.phone.clone())
        .ok_or("its contact has no phone number")?;
    state
        .dial_policy
        .check("to", &to)
        .map_err(|e: ApiError| e.message)?;
    let lead = json!({"context": format!("This call is a task: {}", t.objective),
        "taskId": t.id, "generatedFromLeadId": contact.id.to_string()});
    let record = crate::calls::place(
        state,
        &t.business_id,
        &agent.id,
        (&from, &to),
        lead,
        Some(&contact.id.to_string()),
    )
    .await
    .map_err(|e| {
        if e.status == axum::http::StatusCode::TOO_MANY_REQUESTS {
            Refusal::Later(e.message)
        } else {
            Refusal::Never(e.message)
        }
    })?;
    Ok(record.id)
}

/// Writes a task's outcome once its call has ended.
async fn settle(state: &ApiState, mut t: Task) -> Result<(), StoreError> {
    let Some(call_id) = t.call_id.clone() else {
        return Ok(());
    };
    let Some(c) = state.store.call_by_id(&call_id).await? else {
        return Ok(());
    };
    let reason = c.ended_reason.map(|r| r.as_str()).unwrap_or("ended");
    match c.status {
        CallStatus::Scheduled | CallStatus::InProgress => return Ok(()),
        // the summary comes a few seconds after the call: wait for it, a while
        CallStatus::Completed
            if c.summary.is_none()
                && c.ended_at.is_some_and(|e| now_ms() - e < SUMMARY_WAIT_MS) =>
        {
            return Ok(());
        }
        CallStatus::Completed => {
            t.status = TaskStatus::Completed;
            t.completed_at = c.ended_at.or(Some(now_ms()));
            t.outcome = Some(
                c.summary
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| format!("the call ended: {reason}")),
            );
        }
        CallStatus::Failed => {
            t.status = TaskStatus::Cancelled;
            t.cancelled_at = c.ended_at.or(Some(now_ms()));
            t.cancellation_reason = Some(format!("the call did not happen: {reason}"));
            t.outcome = t.cancellation_reason.clone();
        }
    }
    state.store.update_task(t).await?;
    Ok(())
}
