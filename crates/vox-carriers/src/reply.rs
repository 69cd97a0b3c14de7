//! A carrier's REST API answering, or not.

use serde_json::Value;
use vox_telephony::Dialect;

/// Why a request to a carrier's REST API failed.
#[derive(Debug, thiserror::Error)]
pub enum CarrierError {
    /// No answer (connection, time limit).
    #[error("{} unreachable: {source}", .carrier.label())]
    Unreachable {
        /// The carrier.
        carrier: Dialect,
        /// What failed.
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx answer, with the carrier's own message.
    #[error("{} answered {status}: {message}", .carrier.label())]
    Refused {
        /// The carrier.
        carrier: Dialect,
        /// The HTTP status.
        status: u16,
        /// What the carrier said.
        message: String,
    },
    /// A 2xx answer without what it should hold.
    #[error("{}'s reply has no {field}", .carrier.label())]
    Incomplete {
        /// The carrier.
        carrier: Dialect,
        /// The missing field.
        field: &'static str,
    },
    /// The request could not be made from this account's settings.
    #[error("{}: {problem}", .carrier.label())]
    Unconfigured {
        /// The carrier.
        carrier: Dialect,
        /// What is missing.
        problem: String,
    },
}

/// The JSON body of a carrier's 2xx answer to `sent`, or why there is none.
pub(crate) async fn carrier_reply(
    carrier: Dialect,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, CarrierError> {
    // the error is logged and may reach the API's answer: never with the request's URL
    let res = sent.map_err(|source| CarrierError::Unreachable {
        carrier,
        source: source.without_url(),
    })?;
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        let message = ["message", "error", "title", "detail"]
            .iter()
            .find_map(|k| body.get(k).and_then(Value::as_str).map(str::to_owned))
            .or_else(|| {
                body.pointer("/errors/0/detail")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(CarrierError::Refused {
            carrier,
            status: status.as_u16(),
            message,
        });
    }
    Ok(body)
}

/// The string at `pointer` in a reply, or [`CarrierError::Incomplete`].
pub(crate) fn field(
    carrier: Dialect,
    reply: &Value,
    pointers: &[&str],
    name: &'static str,
) -> Result<String, CarrierError> {
    pointers
        .iter()
        .find_map(|p| reply.pointer(p).and_then(Value::as_str).map(str::to_owned))
        .ok_or(CarrierError::Incomplete {
            carrier,
            field: name,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_carrier_is_reported_without_the_url() {
        // nothing listens on the discard port: the request fails at once
        let sent = reqwest::Client::new()
            .get("http://127.0.0.1:9/v1/Accounts/AC1/Calls.json?token=s3cr3t-in-query")
            .send()
            .await;
        let e = carrier_reply(Dialect::Twilio, sent)
            .await
            .expect_err("unreachable")
            .to_string();
        assert!(e.starts_with("Twilio unreachable"), "{e}");
        assert!(!e.contains("s3cr3t") && !e.contains("/Calls.json"), "{e}");
    }
}
