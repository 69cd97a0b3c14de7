//! What a call record says about a call as closed sets of values: its direction, where it
//! stands, and why it ended. Stored as the strings the seed's API shows (`INBOUND`,
//! `IN_PROGRESS`, `customer-ended-call`), read back strictly: a value the code does not know
//! is a corrupt row, not a string passed along.

use crate::StoreError;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value.
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// As stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// From its stored or shown form.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// From a row's column: an unknown value is a corrupt row.
            pub(crate) fn from_column(s: &str) -> Result<Self, StoreError> {
                Self::parse(s).ok_or_else(|| StoreError::Corrupt(format!("{} {s:?} is not one Vox knows", stringify!($name))))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// Who called whom.
    CallKind {
        /// The customer called the business's number.
        Inbound = "INBOUND",
        /// The agent called the customer.
        Outbound = "OUTBOUND",
    }
}

string_enum! {
    /// How the caller reached the agent.
    CallChannel {
        /// Through a carrier: a phone number.
        Phone = "phone",
        /// From a browser, over WebRTC.
        Web = "web",
    }
}

string_enum! {
    /// Where a call stands (the seed's four values).
    CallStatus {
        /// Set up, not yet connected.
        Scheduled = "SCHEDULED",
        /// Its media stream is up.
        InProgress = "IN_PROGRESS",
        /// It ran and ended.
        Completed = "COMPLETED",
        /// It never ran, or could not.
        Failed = "FAILED",
    }
}

string_enum! {
    /// Why a call ended.
    EndedReason {
        /// The caller hung up (the carrier stopped the stream, or it closed).
        CustomerEndedCall = "customer-ended-call",
        /// The agent ended it (endCall, a workflow's end, silence, the time limit).
        AssistantEndedCall = "assistant-ended-call",
        /// The agent handed it to a person.
        AssistantTransferredCall = "assistant-transferred-call",
        /// The server was shut down with the call still up.
        ServerShutdown = "server-shutdown",
        /// The call's actor failed.
        InternalError = "internal-error",
        /// The runtime of API agents could not be built (models missing, ...).
        RuntimeUnavailable = "runtime-unavailable",
        /// The number's agent was off duty.
        AgentOffDuty = "agent-off-duty",
        /// The carrier refused the dial or could not be reached.
        DialFailed = "dial-failed",
        /// The carrier reported it completed before its stream connected.
        CarrierCompleted = "carrier-completed",
        /// The callee was busy.
        CustomerBusy = "customer-busy",
        /// The callee did not answer.
        CustomerDidNotAnswer = "customer-did-not-answer",
        /// Cancelled before it was answered.
        Canceled = "canceled",
        /// The carrier reported a failure.
        CarrierFailed = "carrier-failed",
        /// The carrier's stream stopped taking part (no marks echoed, not reading, silent),
        /// and Vox hung up.
        CarrierUnresponsive = "carrier-unresponsive",
        /// The process running the call died (found IN_PROGRESS at the next start).
        ServerCrashed = "server-crashed",
        /// Set up, never connected, and left behind by a process that died (its stream token
        /// died with it).
        Expired = "expired",
    }
}

impl EndedReason {
    /// The status a call ending so has: the call ran (completed) or it did not (failed).
    pub fn status(self) -> CallStatus {
        match self {
            Self::CustomerEndedCall
            | Self::AssistantEndedCall
            | Self::AssistantTransferredCall
            | Self::ServerShutdown
            | Self::CarrierUnresponsive
            | Self::CarrierCompleted => CallStatus::Completed,
            Self::InternalError
            | Self::RuntimeUnavailable
            | Self::AgentOffDuty
            | Self::DialFailed
            | Self::CustomerBusy
            | Self::CustomerDidNotAnswer
            | Self::Canceled
            | Self::CarrierFailed
            | Self::ServerCrashed
            | Self::Expired => CallStatus::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_as_itself() {
        for k in CallKind::ALL {
            assert_eq!(CallKind::parse(k.as_str()), Some(*k));
        }
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(*s));
        }
        for r in EndedReason::ALL {
            assert_eq!(EndedReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(CallStatus::parse("in_progress"), None);
        assert!(EndedReason::from_column("dial failed: busy").is_err());
    }

    #[test]
    fn an_ending_decides_the_status() {
        assert_eq!(
            EndedReason::AssistantTransferredCall.status(),
            CallStatus::Completed
        );
        assert_eq!(
            EndedReason::CustomerDidNotAnswer.status(),
            CallStatus::Failed
        );
    }
}
