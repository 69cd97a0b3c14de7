//! Knowledge-base files: `multipart/form-data` upload (field `file`), the file record
//! (`processing` -> `ready` | `failed`), list, get, delete.
//!
//! The upload answers at once with `processing`; a background task extracts the text
//! ([`crate::extract`]), splits it into chunks and stores them, then marks the file `ready`
//! (or `failed` with an `error` saying why). The original bytes are kept under
//! `ApiState::files_dir/<fileId>` so files still `processing` when the server stopped are
//! processed again at the next start ([`resume`]).

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tracing::{info, warn};
use vox_store::{FileRecord, Store, rfc3339};

use crate::tools::business;
use crate::{ApiError, ApiState, Auth, PageQuery, extract};

fn view(f: &FileRecord) -> Value {
    let mut v = json!({
        "id": f.id,
        "name": f.display_name,
        "mimeType": f.mime_type,
        "sizeBytes": f.size_bytes,
        "businessId": f.business_id,
        "status": f.status,
        "createdAt": rfc3339(f.created_at),
        "updatedAt": rfc3339(f.updated_at),
    });
    if let Some(e) = &f.error {
        v["error"] = json!(e);
    }
    v
}

fn too_large(limit: usize) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "PAYLOAD_TOO_LARGE",
        message: format!(
            "the file is larger than the {} MB upload limit (api.max_upload_bytes)",
            limit >> 20
        ),
        field: Some("file".into()),
        retry_after: None,
    }
}

/// `POST /v1/businesses/{businessId}/files`
pub(crate) async fn upload(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.require("files:create")?;
    let business = business(&state, &auth, &biz).await?;
    let mut form = form.map_err(|e| {
        ApiError::bad_request(format!(
            "send the file as multipart/form-data with a field named \"file\" ({e})"
        ))
    })?;
    let mut upload = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(state.max_upload_bytes));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "malformed multipart body: {}",
                    e.body_text()
                )));
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("file")
            .to_owned();
        let declared = field.content_type().map(str::to_owned);
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(state.max_upload_bytes));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "malformed multipart body: {}",
                    e.body_text()
                )));
            }
        };
        upload = Some((name, declared, bytes));
        break;
    }
    let (name, declared, bytes) =
        upload.ok_or_else(|| ApiError::invalid("file", "the form has no field named \"file\""))?;
    if name.chars().count() > 255 {
        return Err(ApiError::invalid(
            "file",
            "the file name is longer than 255 characters",
        ));
    }
    if bytes.is_empty() {
        return Err(ApiError::invalid("file", format!("{name} is empty")));
    }
    if bytes.len() > state.max_upload_bytes {
        return Err(too_large(state.max_upload_bytes));
    }
    let (kind, mime) =
        extract::sniff(&name, declared.as_deref(), &bytes).ok_or_else(|| ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UNSUPPORTED_MEDIA_TYPE",
            message: format!(
                "cannot read {name} ({}): upload PDF, DOCX, or UTF-8 text (TXT, MD, CSV, ...)",
                declared.as_deref().unwrap_or("unknown type")
            ),
            field: Some("file".into()),
            retry_after: None,
        })?;
    let record = state
        .store
        .create_file(&business.id, &name, &mime, bytes.len() as i64)
        .await?;
    let path = state.files_dir.join(&record.id);
    let saved = async {
        tokio::fs::create_dir_all(&state.files_dir).await?;
        tokio::fs::write(&path, &bytes).await
    }
    .await;
    if let Err(e) = saved {
        let _ = state.store.delete_file(&business.id, &record.id).await;
        return Err(ApiError::internal(&format!(
            "saving upload to {}: {e}",
            path.display()
        )));
    }
    info!(file = %record.id, business = %business.id, bytes = bytes.len(), mime = %mime, "file uploaded");
    // cancelled at shutdown: a file left `processing` is processed again at the next start
    state.tasks.spawn(
        "file processing",
        process(
            state.store.clone(),
            state.files_dir.clone(),
            record.clone(),
            kind,
        ),
    );
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// Extracts, chunks and stores a file's text, then marks it ready or failed.
async fn process(store: Store, dir: std::path::PathBuf, f: FileRecord, kind: extract::Kind) {
    let path = dir.join(&f.id);
    let result = match tokio::fs::read(&path).await {
        Ok(bytes) => tokio::task::spawn_blocking(move || {
            extract::extract(kind, &bytes).map(|t| extract::chunks(&t))
        })
        .await
        .unwrap_or_else(|e| Err(format!("text extraction crashed: {e}"))),
        Err(e) => Err(format!(
            "the uploaded bytes are gone ({}): upload the file again",
            e.kind()
        )),
    };
    let outcome = match &result {
        Ok(chunks) => store.file_ready(&f.business_id, &f.id, chunks).await,
        Err(reason) => store.file_failed(&f.business_id, &f.id, reason).await,
    };
    match (result, outcome) {
        (Ok(chunks), Ok(())) => info!(file = %f.id, chunks = chunks.len(), "file ready"),
        (Err(reason), Ok(())) => warn!(file = %f.id, %reason, "file failed"),
        (_, Err(vox_store::StoreError::NotFound(_))) => {
            info!(file = %f.id, "file deleted while it was processed")
        }
        (_, Err(e)) => warn!(file = %f.id, error = %e, "storing the processed file"),
    }
}

/// Processes again, in `tasks`, the files left `processing` by a previous run (call once at
/// start).
pub async fn resume(
    store: &Store,
    dir: &std::path::Path,
    tasks: &vox_call::Tasks,
) -> Result<usize, vox_store::StoreError> {
    let pending = store.processing_files().await?;
    for f in &pending {
        let bytes = tokio::fs::read(dir.join(&f.id)).await.unwrap_or_default();
        match extract::sniff(&f.display_name, Some(&f.mime_type), &bytes) {
            Some((kind, _)) => {
                tasks.spawn(
                    "file processing",
                    process(store.clone(), dir.to_owned(), f.clone(), kind),
                );
            }
            None => {
                store
                    .file_failed(
                        &f.business_id,
                        &f.id,
                        "the uploaded bytes are gone: upload the file again",
                    )
                    .await?
            }
        }
    }
    Ok(pending.len())
}

/// `GET /v1/businesses/{businessId}/files`
pub(crate) async fn list(
    auth: Auth,
    State(state): State<ApiState>,
    Path(biz): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    auth.require("files:read")?;
    let business = business(&state, &auth, &biz).await?;
    let page = q.page()?;
    let (items, total) = state
        .store
        .list_files(&business.id, page.offset(), page.limit())
        .await?;
    Ok(page.body(items.iter().map(view).collect(), total))
}

/// `GET /v1/businesses/{businessId}/files/{fileId}`
pub(crate) async fn get(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.require("files:read")?;
    let business = business(&state, &auth, &biz).await?;
    let f = state
        .store
        .file(&business.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    Ok(Json(view(&f)))
}

/// `DELETE /v1/businesses/{businessId}/files/{fileId}`: refused (409) while an agent uses it.
pub(crate) async fn delete(
    auth: Auth,
    State(state): State<ApiState>,
    Path((biz, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth.require("files:delete")?;
    let business = business(&state, &auth, &biz).await?;
    if state.store.file(&business.id, &id).await?.is_none() {
        return Err(ApiError::not_found("file"));
    }
    let users = crate::agents::agents_using_file(&state, &business.id, &id).await?;
    if !users.is_empty() {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "CONFLICT",
            message: format!(
                "file {id} is in the knowledge base of voice agent(s) {}: remove it from their knowledgeBaseDocumentIds first",
                users.join(", ")
            ),
            field: None,
            retry_after: None,
        });
    }
    if !state.store.delete_file(&business.id, &id).await? {
        return Err(ApiError::not_found("file"));
    }
    if let Err(e) = tokio::fs::remove_file(state.files_dir.join(&id)).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(file = %id, error = %e, "removing the file's bytes");
    }
    Ok(StatusCode::NO_CONTENT)
}
