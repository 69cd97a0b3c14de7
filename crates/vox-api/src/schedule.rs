//! The activated-hours scheduler: deployed INBOUND agents go on duty when their hours begin
//! and off when they end, in the agent's time zone. It acts only when its own decision
//! changes (at a boundary), so a manual on/off holds until the next boundary. Agents without
//! activated hours are always on and left alone.

use serde_json::Value;
use vox_store::Store;

/// Whether `hours` (`{timezone, hours: [{day, startTime, endTime}]}`) covers `now`.
pub fn is_active(hours: &Value, now: jiff::Timestamp) -> Option<bool> {
    let tz = jiff::tz::TimeZone::get(hours.get("timezone")?.as_str()?).ok()?;
    let local = now.to_zoned(tz);
    let day = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ][local.weekday().to_monday_zero_offset() as usize];
    let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
    let parse = |s: &str| -> Option<i32> {
        let (h, m) = s.split_once(':')?;
        Some(h.parse::<i32>().ok()? * 60 + m.parse::<i32>().ok()?)
    };
    let on = hours
        .get("hours")?
        .as_array()?
        .iter()
        .filter(|h| h["day"] == day)
        .any(|h| {
            match (
                h["startTime"].as_str().and_then(parse),
                h["endTime"].as_str().and_then(parse),
            ) {
                (Some(s), Some(e)) => s <= minute && minute < e,
                _ => false,
            }
        });
    Some(on)
}

/// One pass at `now`: returns how many agents changed duty.
pub async fn apply(store: &Store, now: jiff::Timestamp) -> Result<usize, vox_store::StoreError> {
    let mut changed = 0;
    for (agent, last) in store.deployed_inbound_agents().await? {
        let Some(want) = agent
            .document
            .get("activatedHours")
            .and_then(|h| is_active(h, now))
        else {
            continue;
        };
        if last != Some(want) {
            store
                .apply_schedule(&agent.business_id, &agent.id, want)
                .await?;
            tracing::info!(agent = %agent.id, on_duty = want, "activated hours");
            changed += 1;
        }
    }
    Ok(changed)
}

/// Runs [`apply`] every 30 s in `tasks` until shutdown.
pub fn start(store: Store, tasks: &vox_call::Tasks, web_call_ttl: std::time::Duration) {
    tasks.spawn("activated-hours scheduler", async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tick.tick().await;
            if let Err(e) = apply(&store, jiff::Timestamp::now()).await {
                tracing::warn!(error = %e, "activated-hours scheduler");
            }
            // browser calls whose token ran out before any browser connected
            let now = vox_store::now_ms();
            let ttl = i64::try_from(web_call_ttl.as_millis()).unwrap_or(i64::MAX);
            match store.expire_web_calls(now.saturating_sub(ttl), now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(calls = n, "browser calls never connected: expired"),
                Err(e) => tracing::warn!(error = %e, "expiring unused browser calls"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_in_the_agents_time_zone() {
        let hours = serde_json::json!({"timezone": "America/New_York", "hours": [{"day": "monday", "startTime": "09:00", "endTime": "17:00"}, {"day": "friday", "startTime": "20:00", "endTime": "24:00"}]});
        let at = |s: &str| s.parse::<jiff::Timestamp>().expect("time");
        // 2026-11-23 is a Monday; New York is UTC-5 then
        assert_eq!(
            is_active(&hours, at("2026-11-23T14:00:00Z")),
            Some(true),
            "09:00 local"
        );
        assert_eq!(
            is_active(&hours, at("2026-11-23T13:59:00Z")),
            Some(false),
            "08:59 local"
        );
        assert_eq!(
            is_active(&hours, at("2026-11-23T22:00:00Z")),
            Some(false),
            "17:00 local: the end is exclusive"
        );
        assert_eq!(
            is_active(&hours, at("2026-11-28T04:59:00Z")),
            Some(true),
            "Friday 23:59 local is Saturday in UTC"
        );
        assert_eq!(
            is_active(&hours, at("2026-11-24T15:00:00Z")),
            Some(false),
            "Tuesday: no hours"
        );
        assert_eq!(
            is_active(
                &serde_json::json!({"timezone": "Nowhere/Else", "hours": []}),
                at("2026-11-23T14:00:00Z")
            ),
            None
        );
    }
}
