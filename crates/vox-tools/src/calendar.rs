//! Appointments: the googleCal tool's `appointmentConfig`, open slots, and two backends
//! behind one trait: the built-in calendar in Vox's database (the default) and a client for
//! the Google Calendar REST API.
//!
//! Slots start at each opening time and follow each other every `slot + buffer` minutes
//! while they end by the closing time; a slot is open when it starts at least
//! `advanceNoticeMinutes` from now and no booking comes within `buffer` of it. Times are
//! the config's time zone (`timezone`, default America/New_York).

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::Value;
use vox_store::{Appointment, Store, StoreError};

mod google;
mod google_account;
pub use google::GoogleCalendar;
pub use google_account::{
    CALENDAR_SCOPE, CalendarSharing, GoogleAccount, ServiceAccount, ShareError, share_calendar,
};

/// Days ahead searched for open slots.
pub const HORIZON_DAYS: i64 = 14;
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// The time zone when the config names none.
pub const DEFAULT_TIMEZONE: &str = "America/New_York";

/// A googleCal tool's `appointmentConfig`, with the seed's defaults.
#[derive(Debug, Clone)]
pub struct AppointmentConfig {
    /// Minutes per appointment (10-300, default 60).
    pub slot_minutes: i64,
    /// Minutes kept free before and after each (0-120, default 0).
    pub buffer_minutes: i64,
    /// Minutes of notice needed (0-14400, default 1440).
    pub notice_minutes: i64,
    /// Opening ranges per weekday (Monday first), minutes from midnight.
    pub hours: [Vec<(i64, i64)>; 7],
    /// The zone the hours are in.
    pub tz: TimeZone,
    /// Whether a call may find and cancel appointments booked for other phone numbers
    /// (`appointmentsOfAnyCaller`, default false: only the caller's own).
    pub any_caller: bool,
    /// Days ahead whose slots are offered to the caller (`offerDays`, 1-14, default 14;
    /// seed 000's `daysOfOfferingDates`).
    pub offer_days: i64,
    /// Slots offered per day (`offerSlotsPerDay`; seed 000's `slotsPerDay`), all if absent.
    pub offer_per_day: Option<usize>,
}

fn hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

impl AppointmentConfig {
    /// From the tool's `configOverride.appointmentConfig` (absent: all defaults, business
    /// hours Monday to Friday 09:00-17:00).
    pub fn from_json(v: Option<&Value>) -> Result<Self, String> {
        let get = |k: &str, d: i64| {
            v.and_then(|v| v.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(d)
        };
        let tz_name = v
            .and_then(|v| v.get("timezone"))
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_TIMEZONE);
        let tz =
            TimeZone::get(tz_name).map_err(|_| format!("{tz_name:?} is not an IANA time zone"))?;
        let mut hours: [Vec<(i64, i64)>; 7] = Default::default();
        match v
            .and_then(|v| v.get("hoursJson"))
            .and_then(Value::as_object)
        {
            Some(h) => {
                for (day, ranges) in h {
                    let i = DAYS
                        .iter()
                        .position(|d| d.eq_ignore_ascii_case(day))
                        .ok_or_else(|| format!("{day:?} is not a day of the week"))?;
                    for r in ranges.as_array().into_iter().flatten() {
                        let open = r["openTime"]
                            .as_str()
                            .and_then(hhmm)
                            .ok_or("openTime must be HH:MM")?;
                        let close = r["closeTime"]
                            .as_str()
                            .and_then(hhmm)
                            .ok_or("closeTime must be HH:MM")?;
                        if open < close {
                            hours[i].push((open, close));
                        }
                    }
                    hours[i].sort_unstable();
                }
            }
            None => (0..5).for_each(|i| hours[i].push((9 * 60, 17 * 60))),
        }
        Ok(Self {
            slot_minutes: get("slotDurationMinutes", 60),
            buffer_minutes: get("slotBufferMinutes", 0),
            notice_minutes: get("advanceNoticeMinutes", 1440),
            hours,
            tz,
            any_caller: v
                .and_then(|v| v.get("appointmentsOfAnyCaller"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            offer_days: get("offerDays", HORIZON_DAYS).clamp(1, HORIZON_DAYS),
            offer_per_day: v
                .and_then(|v| v.get("offerSlotsPerDay"))
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0),
        })
    }

    /// The slots to offer the caller: open slots over the offering days, at most
    /// `offer_per_day` a day (the earliest), at most `limit` in all.
    pub fn offered_slots(&self, busy: &[(i64, i64)], now_ms: i64, limit: usize) -> Vec<i64> {
        let open = self.open_slots(busy, now_ms, self.offer_days, usize::MAX);
        let mut out: Vec<i64> = Vec::new();
        let mut day: Option<(Date, usize)> = None;
        for start in open {
            let Ok(t) = Timestamp::from_millisecond(start) else {
                continue;
            };
            let date = t.to_zoned(self.tz.clone()).date();
            let taken = match day {
                Some((d, n)) if d == date => n,
                _ => 0,
            };
            if self.offer_per_day.is_some_and(|max| taken >= max) {
                continue;
            }
            day = Some((date, taken + 1));
            out.push(start);
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    /// The buffer in ms.
    pub fn buffer_ms(&self) -> i64 {
        self.buffer_minutes * 60_000
    }

    /// Open slot starts (Unix ms) from `now_ms` over `days` days, at most `limit`, given the
    /// `busy` intervals already booked.
    pub fn open_slots(
        &self,
        busy: &[(i64, i64)],
        now_ms: i64,
        days: i64,
        limit: usize,
    ) -> Vec<i64> {
        let mut out = Vec::new();
        let Ok(now) = Timestamp::from_millisecond(now_ms) else {
            return out;
        };
        let today = now.to_zoned(self.tz.clone()).date();
        let earliest = now_ms + self.notice_minutes * 60_000;
        let (slot, buffer) = (self.slot_minutes * 60_000, self.buffer_ms());
        for d in 0..days {
            let Ok(date) = today.checked_add(jiff::Span::new().days(d)) else {
                break;
            };
            for &(open, close) in &self.hours[date.weekday().to_monday_zero_offset() as usize] {
                let mut t = open;
                while t + self.slot_minutes <= close {
                    if let Some(start) = self.local_ms(date, t) {
                        let end = start + slot;
                        if start >= earliest
                            && !busy
                                .iter()
                                .any(|&(b0, b1)| b0 < end + buffer && b1 > start - buffer)
                        {
                            out.push(start);
                            if out.len() >= limit {
                                return out;
                            }
                        }
                    }
                    t += self.slot_minutes + self.buffer_minutes;
                }
            }
        }
        out
    }

    fn local_ms(&self, date: Date, minute: i64) -> Option<i64> {
        let dt = if minute >= 24 * 60 {
            date.tomorrow().ok()?.at(0, 0, 0, 0)
        } else {
            date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
        };
        Some(
            dt.to_zoned(self.tz.clone())
                .ok()?
                .timestamp()
                .as_millisecond(),
        )
    }

    /// `ms` in the config's zone, for the caller: "Tuesday, November 24 at 10:00".
    pub fn speak(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(t) => t
                .to_zoned(self.tz.clone())
                .strftime("%A, %B %-d at %H:%M")
                .to_string(),
            Err(_) => ms.to_string(),
        }
    }

    /// `ms` as the local time the model passes back: "2026-11-24T10:00".
    pub fn local(&self, ms: i64) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(t) => t
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string(),
            Err(_) => ms.to_string(),
        }
    }

    /// A start time from the model: local "YYYY-MM-DDTHH:MM" or RFC 3339 with an offset.
    pub fn parse(&self, s: &str) -> Option<i64> {
        let s = s.trim();
        if let Ok(t) = s.parse::<Timestamp>() {
            return Some(t.as_millisecond());
        }
        let dt: DateTime = s.replace(' ', "T").parse().ok()?;
        Some(
            dt.to_zoned(self.tz.clone())
                .ok()?
                .timestamp()
                .as_millisecond(),
        )
    }
}

/// A booking as the tools see it, whichever backend holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Booking {
    /// The backend's id.
    pub id: String,
    /// Start, Unix ms.
    pub start_ms: i64,
    /// End, Unix ms.
    pub end_ms: i64,
    /// Who it is for.
    pub name: String,
    /// Their phone.
    pub phone: Option<String>,
    /// Where.
    pub address: Option<String>,
    /// Anything else.
    pub notes: Option<String>,
}

/// Why a calendar operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// The time was taken meanwhile.
    Taken,
    /// Anything else, as a sentence.
    Other(String),
}

/// Where bookings live.
pub trait CalendarBackend: Send + Sync + std::fmt::Debug {
    /// Bookings overlapping `[from, to)`.
    fn bookings(&self, from: i64, to: i64) -> BoxFuture<'_, Result<Vec<Booking>, CalendarError>>;
    /// Books `b` unless something comes within `buffer_ms` of it.
    fn book(&self, b: Booking, buffer_ms: i64) -> BoxFuture<'_, Result<Booking, CalendarError>>;
    /// Cancels a booking; false if there is no such booking.
    fn cancel(&self, id: &str) -> BoxFuture<'_, Result<bool, CalendarError>>;
}

/// The calendar of a business without a Google Calendar integration: every operation says
/// so (there is no calendar to fall back on: Vox's account holds only shared calendars).
#[derive(Debug, Clone, Copy)]
pub struct NoCalendar;

impl NoCalendar {
    fn refuse<T: Send + 'static>() -> BoxFuture<'static, Result<T, CalendarError>> {
        futures::future::ready(Err(CalendarError::Other(
            "this business has not set up its Google Calendar integration".into(),
        )))
        .boxed()
    }
}

impl CalendarBackend for NoCalendar {
    fn bookings(&self, _: i64, _: i64) -> BoxFuture<'_, Result<Vec<Booking>, CalendarError>> {
        Self::refuse()
    }
    fn book(&self, _: Booking, _: i64) -> BoxFuture<'_, Result<Booking, CalendarError>> {
        Self::refuse()
    }
    fn cancel(&self, _: &str) -> BoxFuture<'_, Result<bool, CalendarError>> {
        Self::refuse()
    }
}

/// The built-in calendar of one business.
#[derive(Debug, Clone)]
pub struct BuiltinCalendar {
    store: Store,
    business_id: String,
    call_id: Option<String>,
}

impl BuiltinCalendar {
    /// The business's calendar; bookings note `call_id`.
    pub fn new(store: Store, business_id: String, call_id: Option<String>) -> Self {
        Self {
            store,
            business_id,
            call_id,
        }
    }
}

fn booking(a: Appointment) -> Booking {
    Booking {
        id: a.id,
        start_ms: a.start_at,
        end_ms: a.end_at,
        name: a.name,
        phone: a.phone,
        address: a.address,
        notes: a.notes,
    }
}

fn store_err(e: StoreError) -> CalendarError {
    match e {
        StoreError::Conflict(_) => CalendarError::Taken,
        other => {
            tracing::warn!(error = %other, "built-in calendar");
            CalendarError::Other("the calendar is unavailable".into())
        }
    }
}

impl CalendarBackend for BuiltinCalendar {
    fn bookings(&self, from: i64, to: i64) -> BoxFuture<'_, Result<Vec<Booking>, CalendarError>> {
        async move {
            Ok(self
                .store
                .appointments_between(&self.business_id, from, to)
                .await
                .map_err(store_err)?
                .into_iter()
                .map(booking)
                .collect())
        }
        .boxed()
    }

    fn book(&self, b: Booking, buffer_ms: i64) -> BoxFuture<'_, Result<Booking, CalendarError>> {
        async move {
            let a = Appointment {
                business_id: self.business_id.clone(),
                start_at: b.start_ms,
                end_at: b.end_ms,
                name: b.name,
                phone: b.phone,
                address: b.address,
                notes: b.notes,
                call_id: self.call_id.clone(),
                ..Default::default()
            };
            Ok(booking(
                self.store
                    .book_appointment(a, buffer_ms)
                    .await
                    .map_err(store_err)?,
            ))
        }
        .boxed()
    }

    fn cancel(&self, id: &str) -> BoxFuture<'_, Result<bool, CalendarError>> {
        let id = id.to_owned();
        async move {
            self.store
                .cancel_appointment(&self.business_id, &id)
                .await
                .map_err(store_err)
        }
        .boxed()
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Edit distance, for typos in names ("Dana" / "Donna").
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = cur;
        }
    }
    row[b.len()]
}

/// How well `query` (a name, a phone number or an address, in any mix) matches `b`; 0 is
/// no match. Phone numbers match on their last 7+ digits; words match exactly, by prefix or
/// within one edit (two for words of five letters or more).
pub fn match_score(query: &str, b: &Booking) -> f32 {
    let mut score = 0.0;
    let q_digits = digits(query);
    if q_digits.len() >= 7
        && let Some(p) = &b.phone
    {
        let p = digits(p);
        let tail = &q_digits[q_digits.len().saturating_sub(10)..];
        if p.ends_with(tail) || tail.ends_with(&p[p.len().saturating_sub(7)..]) {
            score += 3.0;
        }
    }
    let hay: Vec<String> = words(&b.name)
        .into_iter()
        .chain(b.address.as_deref().map(words).unwrap_or_default())
        .collect();
    for w in words(query)
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphabetic) || w.len() < 7)
    {
        let best = hay
            .iter()
            .map(|h| {
                if *h == w {
                    1.0
                } else if w.len() >= 3 && h.starts_with(&w) {
                    0.8
                } else if w.len() >= 4 && levenshtein(&w, h) <= if w.len() >= 5 { 2 } else { 1 } {
                    0.6
                } else {
                    0.0
                }
            })
            .fold(0.0_f32, f32::max);
        score += best;
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(s: &str, tz: &str) -> i64 {
        let dt: DateTime = s.parse().expect("datetime");
        dt.to_zoned(TimeZone::get(tz).expect("tz"))
            .expect("zoned")
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn offered_slots_keep_to_the_offering_days_and_per_day_count() {
        let cfg = AppointmentConfig::from_json(Some(&json!({
            "advanceNoticeMinutes": 0, "timezone": "America/Chicago",
            "offerDays": 2, "offerSlotsPerDay": 3
        })))
        .expect("config");
        // Monday 2026-11-23 07:00 Chicago: hours 09:00-17:00, hourly slots
        let now = ms("2026-11-23T07:00", "America/Chicago");
        let offered: Vec<String> = cfg
            .offered_slots(&[], now, 12)
            .into_iter()
            .map(|s| cfg.local(s))
            .collect();
        assert_eq!(
            offered,
            [
                "2026-11-23T09:00",
                "2026-11-23T10:00",
                "2026-11-23T11:00",
                "2026-11-24T09:00",
                "2026-11-24T10:00",
                "2026-11-24T11:00"
            ]
        );
        // without the settings: every slot of the horizon, up to the limit
        let all = AppointmentConfig::from_json(Some(&json!({"advanceNoticeMinutes": 0})))
            .expect("config");
        assert_eq!(all.offered_slots(&[], now, 12).len(), 12);
        assert_eq!((all.offer_days, all.offer_per_day), (HORIZON_DAYS, None));
    }

    #[test]
    fn slots_honour_hours_duration_buffer_notice_and_bookings() {
        let cfg = AppointmentConfig::from_json(Some(&json!({
            "slotDurationMinutes": 45, "slotBufferMinutes": 15, "advanceNoticeMinutes": 120, "timezone": "America/Chicago",
            "hoursJson": {"monday": [{"openTime": "09:00", "closeTime": "12:00"}], "Wednesday": [{"openTime": "13:00", "closeTime": "14:00"}]}
        })))
        .expect("config");
        // Monday 2026-11-23 08:00 Chicago: notice of 2 h leaves 10:00 as the first slot
        let now = ms("2026-11-23T08:00", "America/Chicago");
        let booked = (
            ms("2026-11-23T11:00", "America/Chicago"),
            ms("2026-11-23T11:45", "America/Chicago"),
        );
        let slots: Vec<String> = cfg
            .open_slots(&[booked], now, 7, 10)
            .into_iter()
            .map(|s| cfg.local(s))
            .collect();
        // 09:00 is too soon, 10:00 open, 11:00 booked; Wednesday has room for one (13:00-13:45)
        assert_eq!(slots, vec!["2026-11-23T10:00", "2026-11-25T13:00"]);
        // a booking at 10:50 is within the 15-minute buffer of the 10:00 slot's end
        let near = (
            ms("2026-11-23T10:50", "America/Chicago"),
            ms("2026-11-23T10:55", "America/Chicago"),
        );
        assert_eq!(cfg.open_slots(&[near], now, 1, 10).len(), 0);
        assert_eq!(
            cfg.parse("2026-11-23T10:00"),
            Some(ms("2026-11-23T10:00", "America/Chicago"))
        );
        assert_eq!(
            cfg.parse("2026-11-23T16:00:00Z"),
            Some(ms("2026-11-23T10:00", "America/Chicago"))
        );
        assert_eq!(
            cfg.speak(ms("2026-11-23T10:00", "America/Chicago")),
            "Monday, November 23 at 10:00"
        );
    }

    #[test]
    fn defaults_are_business_hours_and_a_day_of_notice() {
        let cfg = AppointmentConfig::from_json(None).expect("defaults");
        let now = ms("2026-11-20T12:00", DEFAULT_TIMEZONE); // a Friday
        let slots = cfg.open_slots(&[], now, 7, 3);
        assert_eq!(
            slots.into_iter().map(|s| cfg.local(s)).collect::<Vec<_>>(),
            vec!["2026-11-23T09:00", "2026-11-23T10:00", "2026-11-23T11:00"]
        );
        assert!(AppointmentConfig::from_json(Some(&json!({"timezone": "Mars/Olympus"}))).is_err());
    }

    #[test]
    fn search_is_fuzzy_on_phone_name_and_address() {
        let b = Booking {
            name: "Dana Whitfield".into(),
            phone: Some("+15125550177".into()),
            address: Some("12 Oak Street, Austin".into()),
            ..Default::default()
        };
        assert!(match_score("512-555-0177", &b) >= 3.0);
        assert!(match_score("5550177", &b) >= 3.0);
        assert!(match_score("Donna Whitfeld", &b) >= 1.0, "typos");
        assert!(match_score("oak street", &b) >= 2.0);
        assert!(match_score("whit", &b) > 0.0, "prefix");
        assert_eq!(match_score("Robert 555-9999", &b), 0.0);
    }
}
