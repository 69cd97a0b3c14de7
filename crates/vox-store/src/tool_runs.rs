//! The tools a call's agent ran (`call_tool_runs`), written as each run ends.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, new_id};

/// One tool run of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRun {
    /// The call.
    pub call_id: String,
    /// The tool record that ran (`None`: none matched, or a post-call step without one).
    pub tool_id: Option<String>,
    /// The name the model called it by.
    pub name: String,
    /// The seed-000 action the record was (`{actionType, name, actionParameters}`), as it was
    /// when it ran.
    pub action: Option<serde_json::Value>,
    /// Its arguments.
    pub arguments: serde_json::Value,
    /// What the model was answered.
    pub result: String,
    /// When the model asked for it, Unix ms.
    pub started_at: i64,
    /// When it was done, Unix ms.
    pub finished_at: i64,
}

fn run(r: &AnyRow) -> Result<ToolRun, StoreError> {
    let json = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
        Ok(r.try_get::<Option<String>, _>(col)?
            .and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(ToolRun {
        call_id: r.try_get("call_id")?,
        tool_id: r.try_get("tool_id")?,
        name: r.try_get("name")?,
        action: json("action")?,
        arguments: json("arguments")?.unwrap_or(serde_json::Value::Null),
        result: r.try_get("result")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

impl Store {
    /// Logs a run.
    pub async fn add_tool_run(&self, t: &ToolRun) -> Result<(), StoreError> {
        let action_type = t
            .action
            .as_ref()
            .and_then(|a| a["actionType"].as_str())
            .map(str::to_owned);
        sqlx::query("INSERT INTO call_tool_runs (id, call_id, tool_id, name, action_type, action, arguments, result, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(new_id("run"))
            .bind(&t.call_id)
            .bind(&t.tool_id)
            .bind(&t.name)
            .bind(action_type)
            .bind(t.action.as_ref().map(|a| a.to_string()))
            .bind(t.arguments.to_string())
            .bind(&t.result)
            .bind(t.started_at)
            .bind(t.finished_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A call's runs, in the order they started.
    pub async fn tool_runs(&self, call_id: &str) -> Result<Vec<ToolRun>, StoreError> {
        sqlx::query("SELECT call_id, tool_id, name, action, arguments, result, started_at, finished_at FROM call_tool_runs WHERE call_id = $1 ORDER BY started_at, id")
            .bind(call_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(run)
            .collect()
    }

    /// Sets a call's data as the call goes (what the caller gave, kept by its tools).
    pub async fn set_call_data(
        &self,
        call_id: &str,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET structured_data = $1 WHERE id = $2")
            .bind(data.to_string())
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
