//! The built-in calendar: appointments booked by agents. Every query carries the business id;
//! a booking that overlaps another (buffers included) is refused inside the same
//! transaction that would insert it, so two calls cannot take one slot.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, new_id, now_ms};

/// A booking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Appointment {
    /// Its id.
    pub id: String,
    /// The business.
    pub business_id: String,
    /// Start, Unix ms.
    pub start_at: i64,
    /// End, Unix ms.
    pub end_at: i64,
    /// Who it is for.
    pub name: String,
    /// Their phone number.
    pub phone: Option<String>,
    /// Where.
    pub address: Option<String>,
    /// Anything else.
    pub notes: Option<String>,
    /// `booked` or `cancelled`.
    pub status: String,
    /// The call that booked it.
    pub call_id: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
}

fn appointment(r: &AnyRow) -> Result<Appointment, StoreError> {
    Ok(Appointment {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        start_at: r.try_get("start_at")?,
        end_at: r.try_get("end_at")?,
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        address: r.try_get("address")?,
        notes: r.try_get("notes")?,
        status: r.try_get("status")?,
        call_id: r.try_get("call_id")?,
        created_at: r.try_get("created_at")?,
    })
}

macro_rules! columns {
    () => {
        "id, business_id, start_at, end_at, name, phone, address, notes, status, call_id, created_at"
    };
}

impl Store {
    /// Books `a` (id, status and time filled in) unless a booked appointment of the business
    /// overlaps `[start_at - buffer_ms, end_at + buffer_ms)`: then `Conflict`.
    pub async fn book_appointment(
        &self,
        mut a: Appointment,
        buffer_ms: i64,
    ) -> Result<Appointment, StoreError> {
        a.id = new_id("appt");
        a.status = "booked".into();
        a.created_at = now_ms();
        let mut tx = self.pool().begin().await?;
        let clash: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appointments WHERE business_id = $1 AND status = 'booked' AND start_at < $2 AND end_at > $3")
            .bind(&a.business_id)
            .bind(a.end_at + buffer_ms)
            .bind(a.start_at - buffer_ms)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if clash > 0 {
            return Err(StoreError::Conflict("that time is no longer free".into()));
        }
        sqlx::query(concat!(
            "INSERT INTO appointments (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&a.id)
        .bind(&a.business_id)
        .bind(a.start_at)
        .bind(a.end_at)
        .bind(&a.name)
        .bind(&a.phone)
        .bind(&a.address)
        .bind(&a.notes)
        .bind(&a.status)
        .bind(&a.call_id)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// Booked appointments of the business overlapping `[from, to)`, by start.
    pub async fn appointments_between(
        &self,
        business_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Appointment>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM appointments WHERE business_id = $1 AND status = 'booked' AND start_at < $2 AND end_at > $3 ORDER BY start_at, id"))
            .bind(business_id)
            .bind(to)
            .bind(from)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(appointment).collect()
    }

    /// One appointment of the business.
    pub async fn appointment(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<Option<Appointment>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM appointments WHERE business_id = $1 AND id = $2"
        ))
        .bind(business_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(appointment).transpose()
    }

    /// Cancels a booked appointment; false if there is none (or it was already cancelled).
    pub async fn cancel_appointment(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE appointments SET status = 'cancelled', cancelled_at = $1 WHERE business_id = $2 AND id = $3 AND status = 'booked'")
            .bind(now_ms())
            .bind(business_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
