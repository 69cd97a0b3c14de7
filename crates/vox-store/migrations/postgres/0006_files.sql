-- Knowledge-base files: the record (seed 002's file object) and the text chunks extracted
-- from it. The original bytes live on disk under the API's files directory.
CREATE TABLE files (
    id            TEXT PRIMARY KEY,
    business_id   TEXT NOT NULL REFERENCES businesses(id),
    display_name  TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX files_by_business ON files(business_id, created_at);
CREATE TABLE file_chunks (
    file_id       TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    business_id   TEXT NOT NULL,
    idx           BIGINT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (file_id, idx)
);
CREATE INDEX file_chunks_by_business ON file_chunks(business_id);
