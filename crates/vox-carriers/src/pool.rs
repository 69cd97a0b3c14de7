//! Carrier accounts: a `[[telephony.pools]]` entry names its carrier, the numbers it holds and
//! that carrier's own credentials (nothing else: each carrier's fields are its pool type's).
//! Secrets may be references (`env:NAME`, `file:PATH`) that the binary resolves at start.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use vox_api::DialRequest;
use vox_store::CallRecord;
use vox_telephony::Dialect;
use vox_tools::api::TransferOrder;

use crate::{CarrierError, Carriers, exotel, plivo, telnyx, twilio, vonage};

/// One `[[telephony.pools]]` entry, tagged by `carrier`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "carrier", rename_all = "lowercase")]
pub enum PoolConfig {
    /// Twilio.
    Twilio(twilio::Pool),
    /// Telnyx.
    Telnyx(telnyx::Pool),
    /// Plivo.
    Plivo(plivo::Pool),
    /// Vonage.
    Vonage(vonage::Pool),
    /// Exotel.
    Exotel(exotel::Pool),
}

/// Turns a secret's reference into its value (`env:NAME`, `file:PATH`, or the value itself):
/// the binary's, which alone reads the environment and files.
pub type Resolve<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// A required secret, resolved; `field` names it in errors.
pub(crate) fn required(resolve: Resolve<'_>, field: &str, value: &str) -> Result<String, String> {
    let v = resolve(value).map_err(|e| format!("{field}: {e}"))?;
    if v.is_empty() {
        return Err(format!("{field} is required"));
    }
    Ok(v)
}

impl PoolConfig {
    /// The carrier.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Twilio(_) => Dialect::Twilio,
            Self::Telnyx(_) => Dialect::Telnyx,
            Self::Plivo(_) => Dialect::Plivo,
            Self::Vonage(_) => Dialect::Vonage,
            Self::Exotel(_) => Dialect::Exotel,
        }
    }

    /// The numbers it holds.
    pub fn numbers(&self) -> &[String] {
        match self {
            Self::Twilio(p) => &p.numbers,
            Self::Telnyx(p) => &p.numbers,
            Self::Plivo(p) => &p.numbers,
            Self::Vonage(p) => &p.numbers,
            Self::Exotel(p) => &p.numbers,
        }
    }

    /// The fields holding secrets, for redaction when printed.
    pub fn secrets_mut(&mut self) -> Vec<&mut String> {
        match self {
            Self::Twilio(p) => vec![&mut p.auth_token],
            Self::Telnyx(p) => vec![&mut p.api_key],
            Self::Plivo(p) => vec![&mut p.auth_token],
            Self::Vonage(p) => vec![&mut p.private_key, &mut p.signature_secret],
            Self::Exotel(p) => vec![&mut p.api_key, &mut p.auth_token],
        }
    }

    /// Checks the numbers (E.164) and resolves the secrets: the account.
    pub(crate) fn account(&self, resolve: Resolve<'_>) -> Result<Account, String> {
        for n in self.numbers() {
            let digits = n
                .strip_prefix('+')
                .filter(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
            if digits.is_none() {
                return Err(format!(
                    "numbers: {n:?} is not an E.164 number (+ and 8-15 digits)"
                ));
            }
        }
        Ok(match self {
            Self::Twilio(p) => Account::Twilio(p.account(resolve)?),
            Self::Telnyx(p) => Account::Telnyx(p.account(resolve)?),
            Self::Plivo(p) => Account::Plivo(p.account(resolve)?),
            Self::Vonage(p) => Account::Vonage(p.account(resolve)?),
            Self::Exotel(p) => Account::Exotel(p.account(resolve)?),
        })
    }
}

/// A carrier account ready to use: secrets resolved, keys parsed.
#[derive(Debug)]
pub(crate) enum Account {
    Twilio(twilio::Account),
    Telnyx(telnyx::Account),
    Plivo(plivo::Account),
    Vonage(vonage::Account),
    Exotel(exotel::Account),
}

impl Account {
    /// What this account's carrier does for Vox.
    pub(crate) fn carrier(&self) -> &dyn Carrier {
        match self {
            Self::Twilio(a) => a,
            Self::Telnyx(a) => a,
            Self::Plivo(a) => a,
            Self::Vonage(a) => a,
            Self::Exotel(a) => a,
        }
    }
}

/// A call in progress at a carrier.
#[derive(Debug, Clone)]
pub(crate) struct LiveCall {
    /// Vox's record of it.
    pub record: CallRecord,
    /// The carrier's id for it (CallSid, call_control_id, CallUUID, uuid).
    pub carrier_call_id: String,
}

/// How a transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    /// The carrier took the call to its destination (`warm`: after briefing it).
    Done { warm: bool },
    /// A warm transfer's destination could not even be called: the caller was told, and
    /// `call.transfer_failed` was sent.
    DestinationFailed,
}

/// What every carrier does for Vox; each carrier's account type implements it in that
/// carrier's module, beside its webhooks.
pub(crate) trait Carrier: Send + Sync + std::fmt::Debug {
    /// The carrier.
    fn dialect(&self) -> Dialect;
    /// The numbers of this account.
    fn numbers(&self) -> &[String];
    /// Rings `r.to` from `r.from`, connecting the call to our media endpoint; the carrier's
    /// id for the call.
    fn dial<'a>(
        &'a self,
        c: &'a Carriers,
        r: &'a DialRequest,
    ) -> BoxFuture<'a, Result<String, CarrierError>>;
    /// Hangs up a live call.
    fn hang_up<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
    ) -> BoxFuture<'a, Result<(), CarrierError>>;
    /// Hands a live call to `order`'s destination.
    fn transfer<'a>(
        &'a self,
        c: &'a Carriers,
        call: &'a LiveCall,
        order: &'a TransferOrder,
    ) -> BoxFuture<'a, Result<Transfer, CarrierError>>;
    /// Texts `body` from `from` (one of this account's numbers) to `to` through the carrier's
    /// messaging API; the carrier's id for the message.
    fn send_sms<'a>(
        &'a self,
        c: &'a Carriers,
        from: &'a str,
        to: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<String, CarrierError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        pools: Vec<PoolConfig>,
    }

    fn parse(text: &str) -> Result<Vec<PoolConfig>, String> {
        toml::from_str::<Doc>(text)
            .map(|d| d.pools)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn pools_are_tagged_by_carrier_with_only_that_carriers_fields() {
        let pools = parse(
            "[[pools]]\ncarrier = \"twilio\"\nnumbers = [\"+15125550100\"]\naccount_sid = \"AC1\"\nauth_token = \"t\"\n\
             [[pools]]\ncarrier = \"telnyx\"\nnumbers = []\napi_key = \"k\"\npublic_key = \"p\"\n",
        )
        .expect("pools");
        assert_eq!(pools[0].dialect(), Dialect::Twilio);
        assert!(matches!(&pools[1], PoolConfig::Telnyx(p) if p.connection_id.is_none()));
        // a field of another carrier is refused by name
        let e = parse("[[pools]]\ncarrier = \"twilio\"\nnumbers = []\naccount_sid = \"AC1\"\nauth_token = \"t\"\napi_key = \"k\"\n")
            .expect_err("api_key is not Twilio's");
        assert!(e.contains("api_key"), "{e}");
        let e =
            parse("[[pools]]\ncarrier = \"twillio\"\nnumbers = []\n").expect_err("unknown carrier");
        assert!(e.contains("twillio") && e.contains("twilio"), "{e}");
        let e = parse("[[pools]]\ncarrier = \"plivo\"\nnumbers = []\naccount_sid = \"MA1\"\n")
            .expect_err("missing token");
        assert!(e.contains("auth_token"), "{e}");
    }

    #[test]
    fn accounts_check_numbers_and_resolve_secrets() {
        let pools = parse("[[pools]]\ncarrier = \"twilio\"\nnumbers = [\"+15125550100\"]\naccount_sid = \"AC1\"\nauth_token = \"env:T\"\n")
            .expect("pool");
        let resolve = |v: &str| match v.strip_prefix("env:") {
            Some("T") => Ok("secret".to_owned()),
            Some(other) => Err(format!("{other} unset")),
            None => Ok(v.to_owned()),
        };
        let a = pools[0].account(&resolve).expect("account");
        assert!(matches!(a, Account::Twilio(ref t) if t.auth_token == "secret"));
        let none = |_: &str| Ok(String::new());
        assert!(
            pools[0]
                .account(&none)
                .expect_err("empty")
                .contains("is required")
        );
        let bad = parse("[[pools]]\ncarrier = \"twilio\"\nnumbers = [\"5125550100\"]\naccount_sid = \"AC1\"\nauth_token = \"t\"\n")
            .expect("parses");
        assert!(
            bad[0]
                .account(&resolve)
                .expect_err("not E.164")
                .contains("E.164")
        );
    }
}
