//! What every carrier's set-up webhook decides the same way: which agent takes an inbound
//! call (and its record), and what a carrier's end-of-call callback does to a record.

use tracing::info;
use vox_store::{CallKind, CallRecord, CallStatus, EndedReason, FileCallSetup, StoreError, now_ms};
use vox_telephony::Dialect;

use crate::Carriers;

/// What a carrier's inbound set-up should do with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Stream it to the agent: the call record and the agent.
    Stream {
        /// The new call record.
        call_id: String,
        /// The agent deployed on the number.
        agent_id: String,
    },
    /// Say this and hang up.
    Refuse(&'static str),
}

/// Said when a number has no agent.
const NOT_IN_SERVICE: &str = "This number is not in service.";
/// Said when the number's agent is off duty.
const OFF_DUTY: &str = "No one is available to take your call right now. Please call again later.";
/// Said when answering failed on our side.
pub(crate) const SORRY: &str = "Sorry, we cannot take your call right now. Please try again later.";

/// Said to a set-up webhook about a call whose stream already connected: a replay, which
/// must change nothing.
const ALREADY_ANSWERED: &str = "This call has already been answered.";

/// The answer to a replayed set-up webhook, counted.
fn replayed(carrier: Dialect) -> Answer {
    metrics::counter!("vox_webhook_replayed_total", "carrier" => carrier.name()).increment(1);
    info!(%carrier, "a set-up webhook about a call already answered: nothing new");
    Answer::Refuse(ALREADY_ANSWERED)
}

/// A carrier's word for how a call ended (Twilio's and Exotel's `CallStatus`, Plivo's,
/// Vonage's `status`, Telnyx's `hangup_cause`); `None` for words that are not an ending
/// (ringing, answered, ...).
pub fn ending(word: &str) -> Option<EndedReason> {
    Some(match word {
        "completed" | "normal_clearing" => EndedReason::CarrierCompleted,
        "busy" | "user_busy" => EndedReason::CustomerBusy,
        "no-answer" | "no_answer" | "timeout" | "unanswered" => EndedReason::CustomerDidNotAnswer,
        "canceled" | "cancelled" | "cancel" | "originator_cancel" => EndedReason::Canceled,
        "failed" | "rejected" | "call_rejected" => EndedReason::CarrierFailed,
        _ => return None,
    })
}

impl Carriers {
    /// An inbound call to `to` (our number) from `from`: its record, and what to do with it.
    pub(crate) async fn answer_inbound(
        &self,
        carrier: Dialect,
        to: &str,
        from: &str,
        carrier_call_id: &str,
    ) -> Result<Answer, StoreError> {
        let store = &self.0.store;
        let carrier_call = Some(carrier_call_id).filter(|c| !c.is_empty());
        // look-up and creation as one step: a concurrent replay waits and then finds the call
        let _one_at_a_time = self.0.setup_lock.lock().await;
        if let Some(agent_id) = self.0.file_numbers.get(to) {
            // a file agent's number: no call record (file agents keep none), a signed stream
            let mut call_id = format!("{}{}", crate::FILE_CALL, uuid::Uuid::new_v4());
            match store
                .file_call_answered(&call_id, carrier_call, agent_id, now_ms())
                .await?
            {
                FileCallSetup::New => {}
                FileCallSetup::Replayed {
                    connected: true, ..
                } => return Ok(replayed(carrier)),
                FileCallSetup::Replayed { call_id: first, .. } => call_id = first,
            }
            info!(call = %call_id, agent = %agent_id, carrier_call = %carrier_call_id, %carrier, "answering inbound call for a file agent");
            return Ok(Answer::Stream {
                call_id,
                agent_id: agent_id.clone(),
            });
        }
        // a webhook about a call already answered (replayed, or retried by the carrier): the
        // same call while its stream has not connected, else nothing new
        if let Some(carrier_call) = carrier_call
            && let Some(first) = store.call_by_carrier_id(carrier_call).await?
        {
            return Ok(match (first.status, first.agent_id) {
                (CallStatus::Scheduled, Some(agent_id)) => Answer::Stream {
                    call_id: first.id,
                    agent_id,
                },
                _ => replayed(carrier),
            });
        }
        let Some((business_id, agent_id)) = store.number_owner(to).await? else {
            info!(%to, %carrier, "call to a number no agent is deployed on");
            return Ok(Answer::Refuse(NOT_IN_SERVICE));
        };
        let Some(agent) = store.agent(&business_id, &agent_id).await? else {
            return Ok(Answer::Refuse(NOT_IN_SERVICE));
        };
        let mut record = CallRecord {
            agent_id: Some(agent_id.clone()),
            phone_number: Some(to.to_owned()),
            customer_number: Some(from.to_owned()),
            carrier_call_id: Some(carrier_call_id.to_owned()).filter(|c| !c.is_empty()),
            ..CallRecord::new(&business_id, CallKind::Inbound)
        };
        if agent.on_duty != Some(true) {
            record.status = CallStatus::Failed;
            record.ended_reason = Some(EndedReason::AgentOffDuty);
            record.ended_at = Some(now_ms());
            record.duration_ms = Some(0);
            store.create_call(record).await?;
            info!(agent = %agent_id, "call to an agent off duty");
            return Ok(Answer::Refuse(OFF_DUTY));
        }
        let record = store.create_call(record).await?;
        info!(call = %record.id, agent = %agent_id, carrier_call = %carrier_call_id, %carrier, "answering inbound call");
        Ok(Answer::Stream {
            call_id: record.id,
            agent_id,
        })
    }

    /// A carrier reports the call over: ends the record unless its stream is live (a live
    /// stream records its own ending, with the real reason); the first ending stands.
    pub(crate) async fn end_unless_live(
        &self,
        call_id: &str,
        reason: EndedReason,
    ) -> Result<(), StoreError> {
        if self.0.stored.live().contains(call_id) {
            return Ok(());
        }
        self.0.store.call_ended(call_id, reason, now_ms()).await
    }

    /// The record a carrier's callback means: named by our `callId`, else found by the
    /// carrier's id for the call.
    pub(crate) async fn call_named(&self, call_id: &str, carrier_call_id: &str) -> Option<String> {
        if !call_id.is_empty() {
            return Some(call_id.to_owned());
        }
        self.0
            .store
            .call_by_carrier_id(carrier_call_id)
            .await
            .ok()
            .flatten()
            .map(|c| c.id)
    }
}
