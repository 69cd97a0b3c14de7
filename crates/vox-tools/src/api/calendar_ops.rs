//! The calendar tools of a call (scheduleAppointment, searchAppointments,
//! cancelAppointment): what the caller may see of the business's bookings, and the three
//! operations on its calendar backend.

use serde_json::Value;

use super::CallTools;
use crate::calendar::{AppointmentConfig, Booking, CalendarError, HORIZON_DAYS, match_score};

/// Said when appointments are limited to the caller's and the caller's number is unknown.
const NO_CALLER_NUMBER: &str =
    "Error: the caller's number is unknown, so their appointments cannot be looked up.";

/// The last ten digits of a phone number (how a booking's phone and the caller's compare).
fn phone_key(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(10)..].iter().collect()
}

impl CallTools {
    /// The bookings this call may see: all of them if the tool allows any caller's, else the
    /// caller's own (booked for their number); `None` when that number is unknown.
    fn callers_own(&self, cfg: &AppointmentConfig, list: Vec<Booking>) -> Option<Vec<Booking>> {
        if cfg.any_caller {
            return Some(list);
        }
        let caller = phone_key(self.ctx.customer_number.as_deref()?);
        if caller.len() < 7 {
            return None;
        }
        Some(
            list.into_iter()
                .filter(|b| b.phone.as_deref().map(phone_key).as_deref() == Some(caller.as_str()))
                .collect(),
        )
    }

    /// Runs the calendar tool `name` with the model's `args`; the text for the model.
    pub(super) async fn calendar_op(&self, name: &str, args: &Value) -> String {
        let Some((cfg, backend)) = self.calendar.as_ref() else {
            return "Error: no calendar.".into();
        };
        let now = vox_store::now_ms();
        let failed = |e: CalendarError| match e {
            CalendarError::Taken => {
                "Error: that time was just taken; offer the caller another slot.".to_owned()
            }
            CalendarError::Other(m) => format!("Error: {m}."),
        };
        match name {
            "scheduleAppointment" => {
                let Some(start) = args["start"].as_str().and_then(|s| cfg.parse(s)) else {
                    return "Error: `start` must be a slot time like 2026-11-24T10:00.".into();
                };
                let Some(who) = args["name"]
                    .as_str()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                else {
                    return "Error: ask for the caller's name first and pass it as `name`.".into();
                };
                let horizon = now + HORIZON_DAYS * 86_400_000;
                let busy = match backend.bookings(now, horizon).await {
                    Ok(b) => b
                        .into_iter()
                        .map(|b| (b.start_ms, b.end_ms))
                        .collect::<Vec<_>>(),
                    Err(e) => return failed(e),
                };
                let open = cfg.open_slots(&busy, now, HORIZON_DAYS, usize::MAX);
                if !open.contains(&start) {
                    let next: Vec<String> = open
                        .iter()
                        .filter(|s| **s >= start)
                        .take(3)
                        .map(|s| format!("{} ({})", cfg.speak(*s), cfg.local(*s)))
                        .collect();
                    return format!(
                        "Error: {} is not an open slot. The nearest open slots: {}.",
                        cfg.speak(start),
                        if next.is_empty() {
                            "none".into()
                        } else {
                            next.join("; ")
                        }
                    );
                }
                let booking = Booking {
                    id: String::new(),
                    start_ms: start,
                    end_ms: start + cfg.slot_minutes * 60_000,
                    name: who.to_owned(),
                    phone: args["phone"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| self.ctx.customer_number.clone()),
                    address: args["address"].as_str().map(str::to_owned),
                    notes: args["notes"].as_str().map(str::to_owned),
                };
                match backend.book(booking, cfg.buffer_ms()).await {
                    Ok(b) => format!(
                        "Booked: {} for {} (appointment id {}).",
                        cfg.speak(b.start_ms),
                        b.name,
                        b.id
                    ),
                    Err(e) => failed(e),
                }
            }
            "searchAppointments" => {
                let query = args["query"]
                    .as_str()
                    .map(str::trim)
                    .filter(|q| !q.is_empty())
                    .map(str::to_owned)
                    .or_else(|| self.ctx.customer_number.clone())
                    .unwrap_or_default();
                let list = match backend
                    .bookings(now - 86_400_000, now + 365 * 86_400_000)
                    .await
                {
                    Ok(l) => l,
                    Err(e) => return failed(e),
                };
                let Some(list) = self.callers_own(cfg, list) else {
                    return NO_CALLER_NUMBER.into();
                };
                let mut scored: Vec<(f32, Booking)> = list
                    .into_iter()
                    .map(|b| (match_score(&query, &b), b))
                    .filter(|(s, _)| *s >= 1.0)
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.start_ms.cmp(&b.1.start_ms)));
                if scored.is_empty() {
                    return format!("No appointment found for {query:?}.");
                }
                let found: Vec<String> = scored
                    .into_iter()
                    .take(5)
                    .map(|(_, b)| {
                        format!(
                            "{} for {} (appointment id {})",
                            cfg.speak(b.start_ms),
                            b.name,
                            b.id
                        )
                    })
                    .collect();
                format!("Found: {}.", found.join("; "))
            }
            "cancelAppointment" => {
                let Some(id) = args["appointmentId"]
                    .as_str()
                    .map(str::trim)
                    .filter(|i| !i.is_empty())
                else {
                    return "Error: pass the appointmentId from searchAppointments.".into();
                };
                // only an appointment the caller may see can be cancelled (and one they
                // may not see is "not booked": its existence is not theirs to learn)
                let list = match backend
                    .bookings(now - 86_400_000, now + 365 * 86_400_000)
                    .await
                {
                    Ok(l) => l,
                    Err(e) => return failed(e),
                };
                let Some(list) = self.callers_own(cfg, list) else {
                    return NO_CALLER_NUMBER.into();
                };
                if !list.iter().any(|b| b.id == id) {
                    return format!("Error: there is no booked appointment {id}.");
                }
                match backend.cancel(id).await {
                    Ok(true) => format!("Cancelled appointment {id}."),
                    Ok(false) => format!("Error: there is no booked appointment {id}."),
                    Err(e) => failed(e),
                }
            }
            other => format!("Error: there is no tool named {other:?}."),
        }
    }
}
