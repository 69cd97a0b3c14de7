//! Each seed's paging: its query names, defaults and limits, checked with its words.

use std::collections::HashMap;

use crate::ApiError;

/// A seed's page request, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// 1-based page.
    pub page: u32,
    /// Items per page.
    pub size: u32,
}

impl Paging {
    /// `page` (1..=`max_page`, default 1) and `pageSize` (1..=`max_size`, default
    /// `default_size`) from the query; numbers may be written as decimals (`2.0`), as a JSON
    /// number is.
    pub fn from_query(
        q: &HashMap<String, String>,
        default_size: u32,
        max_size: u32,
        max_page: u32,
    ) -> Result<Self, ApiError> {
        let num = |key: &str, default: u32, max: u32| -> Result<u32, ApiError> {
            let Some(raw) = q.get(key) else {
                return Ok(default);
            };
            let n = raw.trim().parse::<f64>().ok().filter(|n| n.fract() == 0.0);
            match n {
                Some(n) if n >= 1.0 && n <= f64::from(max) => Ok(n as u32),
                _ => Err(ApiError::invalid(
                    key,
                    format!("{key} must be an integer from 1 to {max}, got {raw:?}"),
                )),
            }
        };
        Ok(Self {
            page: num("page", 1, max_page)?,
            size: num("pageSize", default_size, max_size)?,
        })
    }

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        i64::from(self.page - 1).saturating_mul(i64::from(self.size))
    }

    /// Rows to return.
    pub fn limit(self) -> i64 {
        i64::from(self.size)
    }
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
    fn pages_within_the_seeds_limits() {
        let p = Paging::from_query(&q(&[]), 10, 50, 5000).expect("defaults");
        assert_eq!((p.page, p.size, p.offset()), (1, 10, 0));
        let p = Paging::from_query(&q(&[("page", "3"), ("pageSize", "50.0")]), 10, 50, 5000)
            .expect("ok");
        assert_eq!((p.page, p.size, p.offset()), (3, 50, 100));
        for bad in [
            ("pageSize", "51"),
            ("pageSize", "0"),
            ("page", "0"),
            ("page", "1.5"),
            ("page", "x"),
        ] {
            let e = Paging::from_query(&q(&[bad]), 10, 50, 5000).expect_err("refused");
            assert_eq!(e.field.as_deref(), Some(bad.0), "{bad:?}");
        }
    }
}
