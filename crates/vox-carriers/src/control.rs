//! Call control of a live call: when the agent ends the call, hang up at the carrier, or
//! carry out the transfer the tools accepted. The carrier's own way of doing either is in its
//! module ([`Carrier::hang_up`], [`Carrier::transfer`]); the events and logs are here, once.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;
use tracing::{info, warn};
use vox_agents::{ControlFactory, EventKind};
use vox_call::CallControl;
use vox_store::CallRecord;
use vox_tools::api::{CallTools, Messenger};

use crate::Carriers;
use crate::pool::{Carrier, LiveCall, Transfer};

impl Messenger for Carriers {
    fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> BoxFuture<'static, Result<String, String>> {
        let (c, from, to, body) = (
            self.clone(),
            from.to_owned(),
            to.to_owned(),
            body.to_owned(),
        );
        Box::pin(async move {
            let account = c
                .account_for_number(&from)
                .ok_or_else(|| format!("no pool holds {from}"))?;
            let sent = account
                .carrier()
                .send_sms(&c, &from, &to, &body)
                .await
                .map_err(|e| e.to_string());
            match &sent {
                Ok(sid) => info!(message = %sid, "text message sent"),
                Err(e) => warn!(error = %e, "text message not sent"),
            }
            sent
        })
    }
}

impl Carriers {
    /// The index of the account holding the record's number.
    fn account_of(&self, record: &CallRecord) -> Option<usize> {
        let number = record.phone_number.as_deref()?;
        self.0
            .accounts
            .iter()
            .position(|a| a.carrier().numbers().iter().any(|n| n == number))
    }
}

impl ControlFactory for Carriers {
    fn controls(&self, record: &CallRecord) -> bool {
        self.account_of(record).is_some() && record.carrier_call_id.is_some()
    }

    fn messenger(&self, record: &CallRecord) -> Option<Arc<dyn Messenger>> {
        self.account_of(record)
            .map(|_| Arc::new(self.clone()) as Arc<dyn Messenger>)
    }

    fn control(&self, record: &CallRecord, tools: Arc<CallTools>) -> Option<Arc<dyn CallControl>> {
        let account = self.account_of(record)?;
        let carrier_call_id = record.carrier_call_id.clone()?;
        Some(Arc::new(LiveControl {
            carriers: self.clone(),
            account,
            call: LiveCall {
                record: record.clone(),
                carrier_call_id,
            },
            tools,
        }))
    }
}

/// One call's control.
struct LiveControl {
    carriers: Carriers,
    account: usize,
    call: LiveCall,
    tools: Arc<CallTools>,
}

impl CallControl for LiveControl {
    fn end(&self, reason: &str) -> BoxFuture<'static, ()> {
        let (c, account, call, order) = (
            self.carriers.clone(),
            self.account,
            self.call.clone(),
            self.tools.transfer_order(),
        );
        let reason = reason.to_owned();
        Box::pin(async move {
            let carrier: &dyn Carrier = c.0.accounts[account].carrier();
            let dialect = carrier.dialect();
            let record = &call.record;
            match &order {
                None => match carrier.hang_up(&c, &call).await {
                    Ok(()) => {
                        info!(call = %record.id, %reason, carrier = %dialect, "hung up at the carrier")
                    }
                    Err(e) => {
                        warn!(call = %record.id, error = %e, "carrier call control failed; closing the stream instead")
                    }
                },
                Some(o) => match carrier.transfer(&c, &call, o).await {
                    Ok(Transfer::Done { warm }) => {
                        info!(call = %record.id, destination = %o.destination.name, warm, carrier = %dialect, "call transferred");
                        c.0.stored.events().emit(
                            &record.business_id,
                            EventKind::Transferred,
                            json!({"callId": record.id, "destination": o.destination.name, "phoneNumber": o.destination.phone_number, "warm": warm}),
                        );
                    }
                    Ok(Transfer::DestinationFailed) => {}
                    Err(e) => {
                        warn!(call = %record.id, error = %e, "carrier call control failed; closing the stream instead")
                    }
                },
            }
        })
    }
}
