-- Seed 003's tasks: an objective assigned to a user or an AI employee (an agent), due at a
-- time; the call an AI employee's task placed and its outcome are kept with it.
CREATE TABLE tasks (
    id                   TEXT PRIMARY KEY,
    business_id          TEXT NOT NULL REFERENCES businesses(id),
    conversation_id      BIGINT,
    objective            TEXT NOT NULL,
    created_by_type      TEXT NOT NULL,
    created_by_id        TEXT NOT NULL,
    assigned_to_type     TEXT NOT NULL,
    assigned_to_id       TEXT NOT NULL,
    status               TEXT NOT NULL,
    due_date             BIGINT,
    published_at         BIGINT,
    completed_at         BIGINT,
    cancelled_at         BIGINT,
    cancellation_reason  TEXT,
    call_id              TEXT,
    outcome              TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX tasks_by_business ON tasks (business_id, status, due_date);
