//! The call record of a stored agent's call, kept current while the call runs: the
//! transcript as it grows, then the ending (status, reason, duration), the recording, the
//! summary and the extracted fields, and the `call.ended` event.
//!
//! One writer task per call, so updates land in order. The actor hands it the latest
//! transcript through a `watch` (each update carries the whole transcript, so an update
//! overtaken by a newer one needs no write: memory stays bounded however fast lines come)
//! and the ending through a `oneshot`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};
use vox_call::{CallEnd, CallObserver, CallSummary, Tasks};
use vox_engine::TranscriptEntry;
use vox_providers::LlmProvider;
use vox_store::{CallRecord, EndedReason, Store, now_ms};
use vox_tools::api::CallTools;

use crate::artifacts::{self, Field};
use crate::events::{EventKind, Events};

/// The calls whose media stream is connected. Their record is ended by the stream's own
/// ending (with the real reason and the transcript), not by a carrier's status callback,
/// which may arrive first.
#[derive(Debug, Clone, Default)]
pub struct LiveCalls(Arc<Mutex<HashSet<String>>>);

impl LiveCalls {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `call_id`'s stream is connected.
    pub fn contains(&self, call_id: &str) -> bool {
        self.set().contains(call_id)
    }

    fn insert(&self, call_id: &str) {
        self.set().insert(call_id.to_owned());
    }

    fn remove(&self, call_id: &str) {
        self.set().remove(call_id);
    }
}

/// What the writer needs besides the record.
pub(crate) struct RecordWriter {
    pub store: Store,
    pub events: Events,
    pub live: LiveCalls,
    pub llm: Option<Arc<dyn LlmProvider>>,
    pub collect: Vec<Field>,
    pub tools: Arc<CallTools>,
    /// The workflows to trigger when the call is over (`callEndWorkflowIds`).
    pub end_workflows: Vec<String>,
    /// Prefix of the recording's URL (`telephony.public_url`; may be empty).
    pub public_url: String,
}

/// The [`CallObserver`] the actor tells.
struct Observer {
    transcript: watch::Sender<Vec<TranscriptEntry>>,
    survey: watch::Sender<Option<Value>>,
    ended: Mutex<Option<oneshot::Sender<Option<CallSummary>>>>,
}

impl CallObserver for Observer {
    fn transcript(&self, all: &[TranscriptEntry]) {
        self.transcript.send_replace(all.to_vec());
    }

    fn survey(&self, result: &vox_engine::survey::SurveyResult) {
        self.survey.send_replace(serde_json::to_value(result).ok());
    }

    fn ended(&self, summary: Option<&CallSummary>) {
        let sender = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(tx) = sender {
            let _ = tx.send(summary.cloned());
        }
    }
}

impl RecordWriter {
    /// Logs each post-call extraction action that found its field as a run of the call.
    async fn log_extractions(&self, call_id: &str, extracted: Option<&Value>) {
        let now = now_ms();
        for f in &self.collect {
            let (Some((tool_id, action)), Some(value)) = (
                &f.action,
                extracted
                    .and_then(|d| d.get(&f.key))
                    .filter(|v| !v.is_null()),
            ) else {
                continue;
            };
            let run = vox_store::ToolRun {
                call_id: call_id.to_owned(),
                tool_id: Some(tool_id.clone()),
                name: "postCallExtraction".into(),
                action: Some(action.clone()),
                arguments: serde_json::json!({"key": f.key}),
                result: match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                started_at: now,
                finished_at: now,
            };
            if let Err(e) = self.store.add_tool_run(&run).await {
                warn!(error = %e, call = %call_id, "logging a post-call extraction");
            }
        }
    }

    /// Starts the writer of `record` in `tasks`; the observer to hand the call.
    pub fn start(self, tasks: &Tasks, record: CallRecord) -> Arc<dyn CallObserver> {
        let (transcript_tx, transcript_rx) = watch::channel(Vec::new());
        let (survey_tx, survey_rx) = watch::channel(None);
        let (ended_tx, ended_rx) = oneshot::channel();
        self.live.insert(&record.id);
        tasks.spawn_to_completion(
            "call record",
            self.run(record, transcript_rx, survey_rx, ended_rx),
        );
        Arc::new(Observer {
            transcript: transcript_tx,
            survey: survey_tx,
            ended: Mutex::new(Some(ended_tx)),
        })
    }

    async fn run(
        self,
        record: CallRecord,
        mut transcript: watch::Receiver<Vec<TranscriptEntry>>,
        mut survey: watch::Receiver<Option<Value>>,
        mut ended: oneshot::Receiver<Option<CallSummary>>,
    ) {
        let call_id = record.id.clone();
        let mut captured = self.tools.captured_updates();
        let summary = loop {
            tokio::select! {
                biased;
                end = &mut ended => break end.ok(),
                Ok(()) = survey.changed() => {
                    let result = survey.borrow_and_update().clone();
                    if let Some(r) = result
                        && let Err(e) = self.store.set_call_survey(&call_id, &r).await
                    {
                        warn!(error = %e, call = %call_id, "keeping the call's survey");
                    }
                }
                Ok(()) = captured.changed() => {
                    let data = Value::Object(captured.borrow_and_update().clone());
                    if let Err(e) = self.store.set_call_data(&call_id, &data).await {
                        warn!(error = %e, call = %call_id, "keeping the call's data");
                    }
                }
                changed = transcript.changed() => {
                    if changed.is_err() {
                        // the observer is gone without an ending; wait for it below
                        break (&mut ended).await.ok();
                    }
                    let all = transcript.borrow_and_update().clone();
                    if let Err(e) = self.store.set_call_transcript(&call_id, &transcript_text(&all), &messages(&all)).await {
                        warn!(error = %e, call = %call_id, "updating the call record");
                    }
                }
            }
        };
        // the survey's last word can come just before the ending
        let last = if survey.has_changed().unwrap_or(false) {
            survey.borrow_and_update().clone()
        } else {
            None
        };
        if let Some(r) = last
            && let Err(e) = self.store.set_call_survey(&call_id, &r).await
        {
            warn!(error = %e, call = %call_id, "keeping the call's survey");
        }
        match summary {
            Some(summary) => self.finish(&record, summary).await,
            // dropped without an ending (the stream never ran): the carrier's callback ends it
            None => self.live.remove(&call_id),
        }
    }

    async fn finish(&self, record: &CallRecord, summary: Option<CallSummary>) {
        let call_id = &record.id;
        let (reason, text) = match &summary {
            Some(s) => {
                let reason = match &s.end {
                    CallEnd::CarrierStop | CallEnd::TransportClosed => {
                        EndedReason::CustomerEndedCall
                    }
                    CallEnd::AgentHangup(_) if self.tools.transfer_order().is_some() => {
                        EndedReason::AssistantTransferredCall
                    }
                    CallEnd::AgentHangup(_) => EndedReason::AssistantEndedCall,
                    CallEnd::ServerShutdown => EndedReason::ServerShutdown,
                    CallEnd::PeerUnresponsive(_) => EndedReason::CarrierUnresponsive,
                };
                let text = transcript_text(&s.transcript);
                if let Err(e) = self
                    .store
                    .set_call_transcript(call_id, &text, &messages(&s.transcript))
                    .await
                {
                    warn!(error = %e, call = %call_id, "saving the transcript");
                }
                (reason, text)
            }
            None => (EndedReason::InternalError, String::new()),
        };
        if let Err(e) = self
            .store
            .call_ended_awaiting_artifacts(call_id, reason, now_ms())
            .await
        {
            warn!(error = %e, call = %call_id, "ending the call record");
        }
        self.live.remove(call_id);
        let recording_url = summary
            .as_ref()
            .and_then(|s| s.recording.as_ref())
            .map(|_| {
                format!(
                    "{}/v1/businesses/{}/calls/{}/recording",
                    self.public_url, record.business_id, call_id
                )
            });
        let (mut text_summary, mut extracted) = (None, None);
        if let Some(llm) = &self.llm {
            text_summary = artifacts::summarize(llm, &text).await;
            extracted = artifacts::extract(llm, &text, &self.collect).await;
        }
        self.log_extractions(call_id, extracted.as_ref()).await;
        // what the call's tools kept, with the extraction added
        let captured = self.tools.captured();
        let during = (!captured.is_empty()).then_some(Value::Object(captured));
        let data = artifacts::merge_data(during.as_ref(), extracted);
        // the artifacts and call.ended in one transaction: a process dying before it leaves
        // both to crash recovery, after it both are stored
        let ended = match self.store.call_by_id(call_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                warn!(error = %e, call = %call_id, "reading the ended call");
                return;
            }
        };
        let finished = CallRecord {
            recording_url: recording_url.clone().or(ended.recording_url.clone()),
            summary: text_summary.clone().or(ended.summary.clone()),
            structured_data: data.clone().or(ended.structured_data.clone()),
            ..ended
        };
        let event = crate::events::body(
            EventKind::CallEnded,
            crate::events::call_ended_data(&finished),
        );
        match self
            .store
            .complete_call_artifacts(
                &finished,
                recording_url.as_deref(),
                text_summary.as_deref(),
                data.as_ref(),
                EventKind::CallEnded.as_str(),
                &event,
            )
            .await
        {
            Ok(true) => {
                self.events.queued();
                crate::events::call_end_workflows(&self.events, &finished, &self.end_workflows);
            }
            Ok(false) => {}
            Err(e) => {
                warn!(error = %e, call = %call_id, "saving the call's artifacts; the next start tries again")
            }
        }
        // the contact the call reached keeps what was extracted into its custom fields
        if let (Some(Value::Object(d)), Some(address)) = (&data, &finished.customer_number) {
            match self
                .store
                .write_contact_data(&finished.business_id, address, d)
                .await
            {
                Ok(keys) if !keys.is_empty() => {
                    info!(call = %call_id, ?keys, "extracted data written to the contact")
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, call = %call_id, "writing extracted data to the contact")
                }
            }
        }
    }
}

/// The transcript as the record's `messages`.
fn messages(all: &[TranscriptEntry]) -> Value {
    Value::Array(
        all.iter()
            .map(|e| {
                let role = if e.role == vox_core::Role::User { "user" } else { "agent" };
                json!({"role": role, "text": e.text.trim(), "atMs": e.at_ms, "interrupted": e.interrupted})
            })
            .collect(),
    )
}

/// The transcript as the record's text: a line per turn, `Caller:` or `Agent:`.
fn transcript_text(all: &[TranscriptEntry]) -> String {
    all.iter()
        .map(|e| {
            let who = match e.role {
                vox_core::Role::User => "Caller",
                _ => "Agent",
            };
            let cut = if e.interrupted { " [interrupted]" } else { "" };
            format!("{who}: {}{cut}", e.text.trim())
        })
        .collect::<Vec<_>>()
        .join("\n")
}
