//! How many outbound calls each business may start: a token bucket per business, so one
//! tenant (or one leaked token) cannot run up carrier costs or take every line.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Outbound calls per minute, per business (`api.outbound_calls_per_minute`): up to that
/// many at once, then one every `60 / per_minute` seconds.
#[derive(Debug)]
pub struct OutboundRate {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl OutboundRate {
    /// `per_minute` calls a minute for each business (at least 1).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Takes one call for `business` at `now`; when none is left, the seconds until one is.
    pub fn take(&self, business: &str, now: Instant) -> Result<(), u64> {
        let cap = f64::from(self.per_minute);
        let per_sec = cap / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(business.to_owned()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }

    /// The limit.
    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_business_gets_its_own_bucket_refilled_over_the_minute() {
        let r = OutboundRate::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(r.take("a", t0), Ok(()));
        }
        assert_eq!(r.take("a", t0), Err(20), "one call every 20 s");
        assert_eq!(r.take("b", t0), Ok(()), "another business is not affected");
        assert_eq!(r.take("a", t0 + Duration::from_secs(10)), Err(10));
        assert_eq!(r.take("a", t0 + Duration::from_secs(20)), Ok(()));
        assert!(r.take("a", t0 + Duration::from_secs(21)).is_err());
        // refilled, never beyond the burst
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(r.take("a", later), Ok(()));
        }
        assert!(r.take("a", later).is_err());
    }
}
