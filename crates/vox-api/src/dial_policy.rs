//! Which numbers Vox may dial for a business (outbound calls, transfer destinations): US
//! numbers, never premium-rate ones, and other +1 countries only where configured.
//!
//! The +1 prefix is shared by the US, Canada and twenty-odd Caribbean and Atlantic
//! countries. A number such as +1 876 or +1 284 looks domestic and is billed as
//! international, which is what toll fraud relies on; 900 numbers and the 976 exchange are
//! premium-rate. So a destination must be a US number unless its area code is listed in
//! `api.dial_area_codes`.

use crate::{ApiError, validate};

/// Area codes of the North American Numbering Plan outside the US and its territories:
/// Canada, then the Caribbean and Atlantic countries.
const NON_US: &[&str] = &[
    // Canada
    "204", "226", "236", "249", "250", "257", "263", "289", "306", "343", "354", "365", "367",
    "368", "382", "387", "403", "416", "418", "428", "431", "437", "438", "450", "460", "468",
    "474", "506", "514", "519", "548", "579", "581", "584", "587", "600", "604", "613", "622",
    "639", "647", "672", "683", "705", "709", "742", "753", "778", "780", "782", "807", "819",
    "825", "867", "873", "879", "902", "905", "942",
    // Bahamas, Barbados, Anguilla, Antigua, British Virgin Islands, Cayman, Bermuda, Grenada,
    // Turks and Caicos, Jamaica, Montserrat, Sint Maarten, St Lucia, Dominica, St Vincent,
    // Dominican Republic, Trinidad and Tobago, St Kitts and Nevis
    "242", "246", "264", "268", "284", "345", "441", "473", "649", "658", "664", "721", "758",
    "767", "784", "809", "829", "849", "868", "869", "876",
];

/// Area codes that are not places: premium-rate (900), personal numbers (5XX), and the
/// carrier and government codes 700 and 710.
const NOT_GEOGRAPHIC: &[&str] = &[
    "900", "500", "521", "522", "523", "524", "525", "526", "527", "528", "529", "532", "533",
    "544", "566", "577", "588", "700", "710",
];

/// The numbers a business may dial.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialPolicy {
    /// Non-US +1 area codes allowed anyway (`api.dial_area_codes`).
    allowed: Vec<String>,
}

impl DialPolicy {
    /// US numbers, plus the +1 area codes in `allowed` (three digits each).
    pub fn new(allowed: &[String]) -> Result<Self, String> {
        for a in allowed {
            if a.len() != 3 || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "api.dial_area_codes: {a:?} is not a three-digit area code"
                ));
            }
            if NOT_GEOGRAPHIC.contains(&a.as_str()) {
                return Err(format!(
                    "api.dial_area_codes: {a} is premium-rate or not a place; it cannot be allowed"
                ));
            }
        }
        Ok(Self {
            allowed: allowed.to_vec(),
        })
    }

    /// Whether `number` (in `field`) may be dialled; the error says why not.
    pub(crate) fn check(&self, field: &str, number: &str) -> Result<(), ApiError> {
        validate::nanp_phone(field, number)?;
        let area = &number[2..5];
        let exchange = &number[5..8];
        if NOT_GEOGRAPHIC.contains(&area) || exchange == "976" {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{field}: {number} is a premium-rate or non-geographic number; Vox does not dial those"
                ),
            ));
        }
        if NON_US.contains(&area) && !self.allowed.iter().any(|a| a == area) {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{field}: area code {area} is outside the US (+1 is shared with Canada and the Caribbean); add it to api.dial_area_codes to dial it"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_numbers_pass_premium_and_foreign_ones_do_not() {
        let us = DialPolicy::default();
        for ok in [
            "+15125550100",
            "+12125550111",
            "+17875550100",
            "+18005550100",
        ] {
            assert!(us.check("to", ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("+19005550100", "premium"),
            ("+15129765555", "premium"),
            ("+15005550100", "premium"),
            ("+18765550100", "outside the US"),
            ("+12845550100", "outside the US"),
            ("+14165550100", "outside the US"),
            ("+1512555010", "E.164"),
        ] {
            let e = us.check("to", bad).expect_err(bad).message;
            assert!(e.contains(why), "{bad}: {e}");
        }
        let canada = DialPolicy::new(&["416".into()]).expect("policy");
        assert!(canada.check("to", "+14165550100").is_ok());
        assert!(canada.check("to", "+18765550100").is_err());
        assert!(DialPolicy::new(&["900".into()]).is_err());
        assert!(DialPolicy::new(&["41".into()]).is_err());
    }
}
