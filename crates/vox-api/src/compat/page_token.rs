//! Page tokens (seed 003): a list answers `nextPageToken`, an opaque string the caller sends
//! back as `pageToken` for the next page. It carries only the position in the list (which
//! the tenant's query scopes anyway), so a forged one shows nothing new; a malformed one is a
//! 400. `page` (1-based) works too.

use std::collections::HashMap;

use base64::Engine as _;

use crate::ApiError;

const PREFIX: &str = "o:";

/// A page request by token or page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenPaging {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

impl TokenPaging {
    /// From `pageToken`, `page` and the size under `size_key` (`pageSize`, `limit`): 1 to
    /// `max`, `default` if absent.
    pub fn from_query(
        q: &HashMap<String, String>,
        size_key: &str,
        default: i64,
        max: i64,
    ) -> Result<Self, ApiError> {
        let limit = match q.get(size_key) {
            None => default,
            Some(raw) => whole(raw)
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        size_key,
                        format!("{size_key} must be an integer from 1 to {max}, got {raw:?}"),
                    )
                })?,
        };
        Self::from_parts(
            q.get("pageToken").map(String::as_str),
            q.get("page").map(String::as_str),
            limit,
        )
    }

    /// From a token or a page number (a body's fields), and the size.
    pub fn from_parts(
        token: Option<&str>,
        page: Option<&str>,
        limit: i64,
    ) -> Result<Self, ApiError> {
        let offset = match (token.filter(|t| !t.is_empty()), page) {
            (Some(t), _) => decode(t).ok_or_else(|| {
                ApiError::invalid("pageToken", "pageToken is not one this API gave")
            })?,
            (None, Some(raw)) => {
                let page = whole(raw)
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "page",
                            format!("page must be an integer from 1, got {raw:?}"),
                        )
                    })?;
                (page - 1).saturating_mul(limit)
            }
            (None, None) => 0,
        };
        Ok(Self { offset, limit })
    }

    /// The token of the page after this one, if there are rows past it.
    pub fn next(self, total: i64) -> Option<String> {
        let next = self.offset.saturating_add(self.limit);
        (next < total).then(|| encode(next))
    }
}

/// An integer, possibly written as a decimal (`20.0`, as a JSON number is).
fn whole(raw: &str) -> Option<i64> {
    let n = raw.trim().parse::<f64>().ok()?;
    (n.fract() == 0.0 && n.abs() < 1e15).then_some(n as i64)
}

fn encode(offset: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{PREFIX}{offset}"))
}

fn decode(token: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(PREFIX)?
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tokens_walk_the_pages_and_malformed_ones_are_refused() {
        let first =
            TokenPaging::from_query(&q(&[("pageSize", "2")]), "pageSize", 20, 100).expect("first");
        assert_eq!((first.offset, first.limit), (0, 2));
        let token = first.next(5).expect("more");
        let second = TokenPaging::from_query(
            &q(&[("pageSize", "2"), ("pageToken", &token)]),
            "pageSize",
            20,
            100,
        )
        .expect("second");
        assert_eq!(second.offset, 2);
        let third = TokenPaging::from_parts(second.next(5).as_deref(), None, 2).expect("third");
        assert_eq!(third.offset, 4);
        assert_eq!(third.next(5), None, "the last page");
        assert_eq!(
            TokenPaging::from_query(
                &q(&[("page", "3"), ("pageSize", "10.0")]),
                "pageSize",
                20,
                100
            )
            .expect("page")
            .offset,
            20
        );
        for bad in ["Xde34567890", "bzotMQ", "!!"] {
            let e = TokenPaging::from_parts(Some(bad), None, 2).expect_err(bad);
            assert_eq!(e.field.as_deref(), Some("pageToken"), "{bad}");
        }
        for (k, v) in [
            ("pageSize", "0"),
            ("pageSize", "101"),
            ("pageSize", "2.5"),
            ("page", "0"),
        ] {
            assert!(
                TokenPaging::from_query(&q(&[(k, v)]), "pageSize", 20, 100).is_err(),
                "{k}={v}"
            );
        }
    }
}
