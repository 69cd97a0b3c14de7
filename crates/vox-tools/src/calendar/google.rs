//! The Google Calendar backend: a client for the Calendar REST API (v3).

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::{Booking, CalendarBackend, CalendarError, GoogleAccount};

/// A client for the Google Calendar REST API (v3): events.list, events.insert and
/// events.delete on one calendar, as Vox's Google account.
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    http: reqwest::Client,
    api_base: String,
    calendar_id: String,
    account: Arc<GoogleAccount>,
}

impl GoogleCalendar {
    /// `api_base` is `https://www.googleapis.com` in production; `calendar_id` comes from the
    /// business's own integration (shared with `account`).
    pub fn new(
        http: reqwest::Client,
        api_base: &str,
        calendar_id: &str,
        account: Arc<GoogleAccount>,
    ) -> Self {
        Self {
            http,
            api_base: api_base.trim_end_matches('/').to_owned(),
            calendar_id: calendar_id.to_owned(),
            account,
        }
    }

    fn events_url(&self) -> String {
        format!(
            "{}/calendar/v3/calendars/{}/events",
            self.api_base,
            crate::template::percent_encode(&self.calendar_id)
        )
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), CalendarError> {
        let token = self.account.token(&self.http).await?;
        let resp = req
            .bearer_auth(&*token)
            .send()
            .await
            // without the URL: its query and path are nobody's business in a log or a prompt
            .map_err(|e| {
                CalendarError::Other(format!("Google Calendar unreachable: {}", e.without_url()))
            })?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        if status >= 400 && status != 404 && status != 410 {
            let msg = body["error"]["message"]
                .as_str()
                .unwrap_or("no message")
                .to_owned();
            tracing::warn!(status, error = %msg, "Google Calendar refused a request");
            return Err(CalendarError::Other(format!(
                "Google Calendar answered {status}"
            )));
        }
        Ok((status, body))
    }
}

/// Google answers 404 for a calendar the account cannot see.
fn not_shared() -> CalendarError {
    CalendarError::Other(
        "the business's Google Calendar was not found or is not shared with Vox".into(),
    )
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn event_time(v: &Value) -> Option<i64> {
    if let Some(s) = v["dateTime"].as_str() {
        return s.parse::<Timestamp>().ok().map(|t| t.as_millisecond());
    }
    // all-day events block their whole day (UTC)
    let d: Date = v["date"].as_str()?.parse().ok()?;
    Some(
        d.at(0, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_millisecond(),
    )
}

impl GoogleCalendar {
    /// Events overlapping `[from, to)`, each with whether Vox booked it.
    async fn list(&self, from: i64, to: i64) -> Result<Vec<(Booking, bool)>, CalendarError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut q = vec![
                ("timeMin", rfc3339(from)),
                ("timeMax", rfc3339(to)),
                ("singleEvents", "true".into()),
                ("orderBy", "startTime".into()),
                ("maxResults", "250".into()),
            ];
            if let Some(p) = &page {
                q.push(("pageToken", p.clone()));
            }
            let (status, body) = self
                .call(self.http.get(self.events_url()).query(&q))
                .await?;
            if status == 404 {
                // a calendar Vox's account cannot see is not a free one
                return Err(not_shared());
            }
            for e in body["items"].as_array().into_iter().flatten() {
                if e["status"] == "cancelled" {
                    continue;
                }
                let (Some(start), Some(end)) = (event_time(&e["start"]), event_time(&e["end"]))
                else {
                    continue;
                };
                let private = &e["extendedProperties"]["private"];
                let booking = Booking {
                    id: e["id"].as_str().unwrap_or_default().to_owned(),
                    start_ms: start,
                    end_ms: end,
                    name: private["name"]
                        .as_str()
                        .or(e["summary"].as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    phone: private["phone"].as_str().map(str::to_owned),
                    address: e["location"]
                        .as_str()
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                    notes: e["description"]
                        .as_str()
                        .filter(|d| !d.is_empty())
                        .map(str::to_owned),
                };
                out.push((booking, private["bookedBy"] == "vox"));
            }
            page = body["nextPageToken"].as_str().map(str::to_owned);
            if page.is_none() {
                return Ok(out);
            }
        }
    }
}

impl CalendarBackend for GoogleCalendar {
    fn bookings(&self, from: i64, to: i64) -> BoxFuture<'_, Result<Vec<Booking>, CalendarError>> {
        async move {
            Ok(self
                .list(from, to)
                .await?
                .into_iter()
                .map(|(b, _)| b)
                .collect())
        }
        .boxed()
    }

    fn book(&self, b: Booking, buffer_ms: i64) -> BoxFuture<'_, Result<Booking, CalendarError>> {
        async move {
            // Google has no conditional insert: check, insert, then re-check. On the re-check
            // a booking yields to any other event in its window, except Vox's own bookings
            // with a greater id: of two Vox bookings racing for a slot exactly one stays.
            let (from, to) = (b.start_ms - buffer_ms, b.end_ms + buffer_ms);
            let overlaps = |x: &Booking| x.start_ms < to && x.end_ms > from;
            if self.list(from, to).await?.iter().any(|(x, _)| overlaps(x)) {
                return Err(CalendarError::Taken);
            }
            let mut private = json!({"name": b.name, "bookedBy": "vox"});
            if let Some(p) = &b.phone {
                private["phone"] = json!(p);
            }
            let event = json!({
                "summary": format!("Appointment: {}", b.name),
                "description": b.notes.clone().unwrap_or_default(),
                "location": b.address.clone().unwrap_or_default(),
                "start": {"dateTime": rfc3339(b.start_ms)},
                "end": {"dateTime": rfc3339(b.end_ms)},
                "extendedProperties": {"private": private},
            });
            let (status, created) = self
                .call(self.http.post(self.events_url()).json(&event))
                .await?;
            if status == 404 {
                return Err(not_shared());
            }
            let id = created["id"]
                .as_str()
                .ok_or_else(|| {
                    CalendarError::Other("Google Calendar's reply has no event id".into())
                })?
                .to_owned();
            let rivals = self.list(from, to).await?;
            if rivals
                .iter()
                .any(|(x, vox)| x.id != id && overlaps(x) && (!vox || x.id < id))
            {
                let _ = self.cancel(&id).await;
                return Err(CalendarError::Taken);
            }
            Ok(Booking { id, ..b })
        }
        .boxed()
    }

    fn cancel(&self, id: &str) -> BoxFuture<'_, Result<bool, CalendarError>> {
        let url = format!(
            "{}/{}",
            self.events_url(),
            crate::template::percent_encode(id)
        );
        async move {
            let (status, _) = self.call(self.http.delete(url)).await?;
            Ok(status < 300)
        }
        .boxed()
    }
}
