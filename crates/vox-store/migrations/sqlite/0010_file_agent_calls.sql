-- Issue 17: calls answered by a file agent keep no call record, but their set-up must be
-- idempotent (a replayed carrier webhook gets the same call, never a fresh stream token)
-- and their token must open one stream, across restarts too.
CREATE TABLE file_agent_calls (
    call_id          TEXT PRIMARY KEY,
    carrier_call_id  TEXT UNIQUE,
    agent_id         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    connected_at     BIGINT
);
