//! Calls a dead process left unfinished (killed, out of memory, power lost): found at start,
//! ended as a finished call would be, from what was written while they ran.
//!
//! A call left IN_PROGRESS ends as `server-crashed`: its transcript is the one the record
//! writer kept current line by line, its recording is repaired (a killed writer leaves the
//! WAV header's sizes unset) and linked, and the summary and extracted fields are made from
//! that transcript. A call left SCHEDULED never connected, and the token it would have
//! connected with died with the process: it ends as `expired`. The ending, the artifacts and
//! `call.ended` are stored in one transaction, so a crash during recovery leaves the call to
//! the next start, and no call reports its end twice. A call that had ended but whose
//! artifacts were still being made (`artifacts_pending`) gets them and its `call.ended` the
//! same way, keeping its real ending.

use tracing::{info, warn};
use vox_store::{CallRecord, CallStatus, EndedReason, StoreError, now_ms};

use super::{StoredAgents, agent_tools, collect_fields};
use crate::artifacts;
use crate::events::{EventKind, body, call_ended_data};

impl StoredAgents {
    /// Takes the calls a previous process left unfinished (call it before serving: calls set
    /// up afterwards are this process's) and finishes them in the background. Returns how
    /// many there are.
    pub async fn recover_unfinished(&self) -> Result<usize, StoreError> {
        let calls = self.0.store.unfinished_calls().await?;
        let awaiting = self.0.store.calls_awaiting_artifacts().await?;
        let n = calls.len() + awaiting.len();
        if n > 0 {
            let me = self.clone();
            self.0.tasks.spawn_to_completion("crash recovery", async move {
                for call in calls {
                    let id = call.id.clone();
                    if let Err(e) = me.recover(call).await {
                        warn!(error = %e, call = %id, "recovering a call left unfinished; the next start tries again");
                    }
                }
                for call in awaiting {
                    let id = call.id.clone();
                    if let Err(e) = me.complete(call).await {
                        warn!(error = %e, call = %id, "completing an ended call's artifacts; the next start tries again");
                    }
                }
            });
        }
        Ok(n)
    }

    /// The summary and extracted fields of a call's transcript (none without an LLM).
    async fn artifacts(
        &self,
        call: &CallRecord,
    ) -> Result<(Option<String>, Option<serde_json::Value>), StoreError> {
        let transcript = call.transcript.clone().unwrap_or_default();
        if transcript.is_empty() {
            return Ok((None, None));
        }
        let Ok(runtime) = self.runtime().await else {
            return Ok((None, None));
        };
        let Some(llm) = &runtime.services.llm else {
            return Ok((None, None));
        };
        let collect = match call.agent_id.as_deref() {
            Some(agent) => match self.0.store.agent(&call.business_id, agent).await? {
                Some(a) => collect_fields(&a.document, &agent_tools(&a, &self.0.store).await?),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        Ok((
            artifacts::summarize(llm, &transcript).await,
            artifacts::merge_data(
                call.structured_data.as_ref(),
                artifacts::extract(llm, &transcript, &collect).await,
            ),
        ))
    }

    /// An ended call whose artifacts were never stored: them and its `call.ended`.
    async fn complete(&self, call: CallRecord) -> Result<(), StoreError> {
        let recording_url = self
            .recording_path(&call)
            .filter(|p| p.exists() && vox_call::recorder::repair(p).is_ok())
            .map(|_| {
                format!(
                    "{}/v1/businesses/{}/calls/{}/recording",
                    self.0.cfg.public_url, call.business_id, call.id
                )
            });
        let (summary, data) = self.artifacts(&call).await?;
        let finished = CallRecord {
            summary: summary.clone().or(call.summary.clone()),
            structured_data: data.clone().or(call.structured_data.clone()),
            recording_url: recording_url.clone().or(call.recording_url.clone()),
            ..call.clone()
        };
        let event = body(EventKind::CallEnded, call_ended_data(&finished));
        if self
            .0
            .store
            .complete_call_artifacts(
                &finished,
                recording_url.as_deref(),
                summary.as_deref(),
                data.as_ref(),
                EventKind::CallEnded.as_str(),
                &event,
            )
            .await?
        {
            self.0.events.queued();
            self.end_workflows(&finished).await?;
            info!(call = %call.id, "stored the artifacts and call.ended of a call that ended before the last process died");
        }
        Ok(())
    }

    /// The agent's `callEndWorkflowIds` events for a call whose ending was just stored.
    async fn end_workflows(&self, finished: &CallRecord) -> Result<(), StoreError> {
        if let Some(agent) = finished.agent_id.as_deref()
            && let Some(a) = self.0.store.agent(&finished.business_id, agent).await?
        {
            crate::events::call_end_workflows(
                &self.0.events,
                finished,
                &crate::events::workflows_of(&a.document),
            );
        }
        Ok(())
    }

    async fn recover(&self, call: CallRecord) -> Result<(), StoreError> {
        let reason = match call.status {
            CallStatus::InProgress => EndedReason::ServerCrashed,
            _ => EndedReason::Expired,
        };
        let mut ended_at = None;
        let mut recording_url = None;
        if reason == EndedReason::ServerCrashed
            && let Some(path) = self.recording_path(&call)
            && path.exists()
        {
            match vox_call::recorder::repair(&path) {
                Ok(_) => {
                    recording_url = Some(format!(
                        "{}/v1/businesses/{}/calls/{}/recording",
                        self.0.cfg.public_url, call.business_id, call.id
                    ));
                    // the last audio written is the best guess of when the call died
                    ended_at = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .and_then(|d| i64::try_from(d.as_millis()).ok());
                }
                Err(e) => {
                    warn!(error = %e, call = %call.id, path = %path.display(), "the recording cannot be repaired")
                }
            }
        }
        let ended_at = ended_at
            .unwrap_or_else(now_ms)
            .max(call.started_at.unwrap_or(0));
        let (summary, data) = self.artifacts(&call).await?;
        // the record as the transaction below leaves it, for the event's body
        let finished = CallRecord {
            status: reason.status(),
            ended_reason: Some(reason),
            duration_ms: Some(call.started_at.map_or(0, |s| ended_at - s)),
            summary: summary.clone(),
            structured_data: data.clone(),
            recording_url: recording_url.clone(),
            ..call.clone()
        };
        let event = body(EventKind::CallEnded, call_ended_data(&finished));
        let ended = self
            .0
            .store
            .end_call_with_event(
                &call,
                reason,
                ended_at,
                recording_url.as_deref(),
                summary.as_deref(),
                data.as_ref(),
                EventKind::CallEnded.as_str(),
                &event,
            )
            .await?;
        if ended {
            self.0.events.queued();
            self.end_workflows(&finished).await?;
            info!(call = %call.id, reason = %reason, recording = recording_url.is_some(), "ended a call a previous process left unfinished");
        }
        Ok(())
    }
}
