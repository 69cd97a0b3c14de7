//! Knowledge-base files: the record a business sees (`processing` -> `ready` | `failed`) and
//! the text chunks extracted from it. Every query carries the business id.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, new_id, now_ms};

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Its id.
    pub id: String,
    /// The business it belongs to.
    pub business_id: String,
    /// The name it was uploaded with (the API's `name`).
    pub display_name: String,
    /// Its media type.
    pub mime_type: String,
    /// Its size as uploaded.
    pub size_bytes: i64,
    /// `processing`, `ready` or `failed`.
    pub status: String,
    /// Why processing failed.
    pub error: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// A piece of a file's text, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The file it came from.
    pub file_id: String,
    /// Its position in the file.
    pub index: i64,
    /// The text.
    pub text: String,
}

fn file(r: &AnyRow) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        id: r.try_get("id")?,
        business_id: r.try_get("business_id")?,
        display_name: r.try_get("display_name")?,
        mime_type: r.try_get("mime_type")?,
        size_bytes: r.try_get("size_bytes")?,
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

macro_rules! columns {
    () => {
        "id, business_id, display_name, mime_type, size_bytes, status, error, created_at, updated_at"
    };
}

impl Store {
    /// Records a new file as `processing`; `id` and times are filled in.
    pub async fn create_file(
        &self,
        business_id: &str,
        display_name: &str,
        mime_type: &str,
        size_bytes: i64,
    ) -> Result<FileRecord, StoreError> {
        let now = now_ms();
        let f = FileRecord {
            id: new_id("file"),
            business_id: business_id.to_owned(),
            display_name: display_name.to_owned(),
            mime_type: mime_type.to_owned(),
            size_bytes,
            status: "processing".into(),
            error: None,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(concat!(
            "INSERT INTO files (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&f.id)
        .bind(&f.business_id)
        .bind(&f.display_name)
        .bind(&f.mime_type)
        .bind(f.size_bytes)
        .bind(&f.status)
        .bind(&f.error)
        .bind(f.created_at)
        .bind(f.updated_at)
        .execute(self.pool())
        .await?;
        Ok(f)
    }

    /// One of a business's files.
    pub async fn file(
        &self,
        business_id: &str,
        id: &str,
    ) -> Result<Option<FileRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM files WHERE business_id = $1 AND id = $2"
        ))
        .bind(business_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(file).transpose()
    }

    /// A page of a business's files, oldest first, and how many there are.
    pub async fn list_files(
        &self,
        business_id: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<FileRecord>, i64), StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM files WHERE business_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(business_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM files WHERE business_id = $1")
            .bind(business_id)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows.iter().map(file).collect::<Result<_, _>>()?, total))
    }

    /// Files still `processing` (to resume after a restart), oldest first.
    pub async fn processing_files(&self) -> Result<Vec<FileRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM files WHERE status = 'processing' ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(file).collect()
    }

    /// Stores a file's chunks (replacing any) and marks it `ready`, in one transaction.
    pub async fn file_ready(
        &self,
        business_id: &str,
        id: &str,
        chunks: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM file_chunks WHERE file_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (i, text) in chunks.iter().enumerate() {
            sqlx::query(
                "INSERT INTO file_chunks (file_id, business_id, idx, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(business_id)
            .bind(i as i64)
            .bind(text)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query("UPDATE files SET status = 'ready', error = NULL, updated_at = $1 WHERE business_id = $2 AND id = $3")
            .bind(now_ms())
            .bind(business_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            // deleted while it was processed
            return Err(StoreError::NotFound("file"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a file `failed` with the reason.
    pub async fn file_failed(
        &self,
        business_id: &str,
        id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE files SET status = 'failed', error = $1, updated_at = $2 WHERE business_id = $3 AND id = $4")
            .bind(reason)
            .bind(now_ms())
            .bind(business_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A file's chunks, in order.
    pub async fn file_chunks(&self, business_id: &str, id: &str) -> Result<Vec<Chunk>, StoreError> {
        let rows = sqlx::query("SELECT file_id, idx, body FROM file_chunks WHERE business_id = $1 AND file_id = $2 ORDER BY idx")
            .bind(business_id)
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Chunk {
                    file_id: r.try_get("file_id")?,
                    index: r.try_get("idx")?,
                    text: r.try_get("body")?,
                })
            })
            .collect()
    }

    /// Deletes a file and its chunks; false if there was none.
    pub async fn delete_file(&self, business_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM file_chunks WHERE business_id = $1 AND file_id = $2")
            .bind(business_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM files WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}
