//! Tasks (seed 003): an objective assigned to a user or an AI employee, due at a time. A
//! task is stored `scheduled`, `completed` or `cancelled`; `overdue` is what a scheduled task
//! past its due date is, computed when read and searched, never stored.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::custom_fields::Window;
use crate::{Store, StoreError, new_id, now_ms};

crate::call_state::string_enum! {
    /// Where a task stands.
    TaskStatus {
        /// To be done (by its due date).
        Scheduled = "scheduled",
        /// Done.
        Completed = "completed",
        /// Called off.
        Cancelled = "cancelled",
        /// Scheduled and past its due date (computed, never stored).
        Overdue = "overdue",
    }
}

crate::call_state::string_enum! {
    /// Who a task is from or for.
    PartyType {
        /// A person.
        User = "user",
        /// An AI employee: one of the business's agents.
        AiEmployee = "ai_employee",
    }
}

/// A task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// Its id (`task_…`).
    pub id: String,
    /// The business.
    pub business_id: String,
    /// The conversation it belongs to.
    pub conversation_id: Option<i64>,
    /// What is to be done.
    pub objective: String,
    /// Who made it.
    pub created_by: (PartyType, String),
    /// Who is to do it.
    pub assigned_to: (PartyType, String),
    /// As stored: scheduled, completed or cancelled.
    pub status: TaskStatus,
    /// When it is due, Unix ms.
    pub due_date: Option<i64>,
    /// When it was published, Unix ms.
    pub published_at: Option<i64>,
    /// When it was completed, Unix ms.
    pub completed_at: Option<i64>,
    /// When it was cancelled, Unix ms.
    pub cancelled_at: Option<i64>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// The call an AI employee placed for it.
    pub call_id: Option<String>,
    /// How that call went.
    pub outcome: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

impl Task {
    /// Its status at `now_ms`: a scheduled task past its due date is overdue.
    pub fn status_at(&self, now_ms: i64) -> TaskStatus {
        match (self.status, self.due_date) {
            (TaskStatus::Scheduled, Some(due)) if due < now_ms => TaskStatus::Overdue,
            (s, _) => s,
        }
    }
}

/// A search over a business's tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskQuery {
    /// The business (always set).
    pub business_id: String,
    /// Only tasks with this status (at `now`).
    pub status: Option<TaskStatus>,
    /// Due before this time, Unix ms.
    pub due_before: Option<i64>,
    /// Due after this time, Unix ms.
    pub due_after: Option<i64>,
    /// Of this conversation.
    pub conversation_id: Option<i64>,
    /// Assigned to this kind of party.
    pub assigned_to_type: Option<PartyType>,
    /// Assigned to this party.
    pub assigned_to_id: Option<String>,
    /// The time `overdue` is judged at, Unix ms.
    pub now: i64,
}

const TASK: &str = "id, business_id, conversation_id, objective, created_by_type, created_by_id, assigned_to_type, assigned_to_id, status, due_date, published_at, completed_at, cancelled_at, cancellation_reason, call_id, outcome, created_at, updated_at";

fn task(r: &AnyRow) -> Result<Task, StoreError> {
    Ok(Task {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        conversation_id: r.try_get("conversation_id")?,
        objective: r.try_get("objective")?,
        created_by: (
            PartyType::from_column(&r.try_get::<String, _>("created_by_type")?)?,
            r.try_get("created_by_id")?,
        ),
        assigned_to: (
            PartyType::from_column(&r.try_get::<String, _>("assigned_to_type")?)?,
            r.try_get("assigned_to_id")?,
        ),
        status: TaskStatus::from_column(&r.try_get::<String, _>("status")?)?,
        due_date: r.try_get("due_date")?,
        published_at: r.try_get("published_at")?,
        completed_at: r.try_get("completed_at")?,
        cancelled_at: r.try_get("cancelled_at")?,
        cancellation_reason: r.try_get("cancellation_reason")?,
        call_id: r.try_get("call_id")?,
        outcome: r.try_get("outcome")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Stores a new task (its id and times are set here).
    pub async fn create_task(&self, mut t: Task) -> Result<Task, StoreError> {
        t.id = new_id("task");
        t.created_at = now_ms();
        t.updated_at = t.created_at;
        self.write_task(&t, true).await?;
        Ok(t)
    }

    /// Saves a task's fields.
    pub async fn update_task(&self, mut t: Task) -> Result<Task, StoreError> {
        t.updated_at = now_ms();
        self.write_task(&t, false).await?;
        Ok(t)
    }

    async fn write_task(&self, t: &Task, new: bool) -> Result<(), StoreError> {
        let sql = if new {
            "INSERT INTO tasks (conversation_id, objective, created_by_type, created_by_id, assigned_to_type, assigned_to_id, status, due_date, published_at, completed_at, cancelled_at, cancellation_reason, call_id, outcome, updated_at, created_at, business_id, id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        } else {
            "UPDATE tasks SET conversation_id = $1, objective = $2, created_by_type = $3, created_by_id = $4, assigned_to_type = $5, assigned_to_id = $6, status = $7, due_date = $8, published_at = $9, completed_at = $10, cancelled_at = $11, cancellation_reason = $12, call_id = $13, outcome = $14, updated_at = $15, created_at = $16 WHERE business_id = $17 AND id = $18"
        };
        let done = sqlx::query(sql)
            .bind(t.conversation_id)
            .bind(&t.objective)
            .bind(t.created_by.0.as_str())
            .bind(&t.created_by.1)
            .bind(t.assigned_to.0.as_str())
            .bind(&t.assigned_to.1)
            .bind(t.status.as_str())
            .bind(t.due_date)
            .bind(t.published_at)
            .bind(t.completed_at)
            .bind(t.cancelled_at)
            .bind(&t.cancellation_reason)
            .bind(&t.call_id)
            .bind(&t.outcome)
            .bind(t.updated_at)
            .bind(t.created_at)
            .bind(&t.business_id)
            .bind(&t.id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("task"));
        }
        Ok(())
    }

    /// The AI employees' tasks due by `now` whose call is not placed yet, in every business.
    pub async fn due_ai_tasks(&self, now: i64) -> Result<Vec<Task>, StoreError> {
        let sql = format!(
            "SELECT {TASK} FROM tasks WHERE status = 'scheduled' AND assigned_to_type = 'ai_employee' AND due_date IS NOT NULL AND due_date <= $1 AND call_id IS NULL ORDER BY due_date, id LIMIT 100"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(task).collect()
    }

    /// Claims a due task for its call (the call not placed yet: `call_id` empty), once: false
    /// when another claimed it first. A claim older than `stale_before` (a process that died
    /// before dialing) is given up, so the task is claimed again.
    pub async fn claim_task(&self, id: &str, stale_before: i64) -> Result<bool, StoreError> {
        sqlx::query("UPDATE tasks SET call_id = NULL WHERE call_id = '' AND updated_at < $1")
            .bind(stale_before)
            .execute(self.pool())
            .await?;
        let done = sqlx::query(
            "UPDATE tasks SET call_id = '', updated_at = $1 WHERE id = $2 AND call_id IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The AI employees' tasks whose call was placed and not yet settled.
    pub async fn tasks_in_calls(&self) -> Result<Vec<Task>, StoreError> {
        let sql = format!(
            "SELECT {TASK} FROM tasks WHERE status = 'scheduled' AND call_id IS NOT NULL AND call_id <> '' ORDER BY due_date, id LIMIT 500"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(task).collect()
    }

    /// One of a business's tasks.
    pub async fn task(&self, business_id: &str, id: &str) -> Result<Option<Task>, StoreError> {
        let sql = format!("SELECT {TASK} FROM tasks WHERE business_id = $1 AND id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(business_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(task)
            .transpose()
    }

    /// Deletes a task; the task as it was.
    pub async fn delete_task(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<Option<Task>, StoreError> {
        let Some(t) = self.task(business_id, id).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM tasks WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(Some(t))
    }

    /// A page of the tasks `q` finds, soonest due first (undated last), and how many there
    /// are.
    pub async fn search_tasks(
        &self,
        q: &TaskQuery,
        window: Window,
    ) -> Result<(Vec<Task>, i64), StoreError> {
        // overdue and scheduled split the stored `scheduled` by the due date at `now` ($8)
        let (stored, due) = match q.status {
            None => (None, "$8 IS NOT NULL"),
            Some(TaskStatus::Overdue) => {
                (Some("scheduled"), "due_date IS NOT NULL AND due_date < $8")
            }
            Some(TaskStatus::Scheduled) => {
                (Some("scheduled"), "(due_date IS NULL OR due_date >= $8)")
            }
            Some(s) => (Some(s.as_str()), "$8 IS NOT NULL"),
        };
        let from = format!(
            " FROM tasks WHERE business_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR due_date < $3) AND ($4 IS NULL OR due_date > $4) AND ($5 IS NULL OR conversation_id = $5) AND ($6 IS NULL OR assigned_to_type = $6) AND ($7 IS NULL OR assigned_to_id = $7) AND {due}"
        );
        let bind = |sql: String| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(q.business_id.clone())
                .bind(stored)
                .bind(q.due_before)
                .bind(q.due_after)
                .bind(q.conversation_id)
                .bind(q.assigned_to_type.map(PartyType::as_str))
                .bind(q.assigned_to_id.clone())
                .bind(q.now)
        };
        let rows = bind(format!(
            "SELECT {TASK}{from} ORDER BY CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, created_at, id LIMIT $9 OFFSET $10"
        ))
        .bind(window.limit)
        .bind(window.offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = bind(format!("SELECT COUNT(*) AS n{from}"))
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows.iter().map(task).collect::<Result<_, _>>()?, total))
    }
}
