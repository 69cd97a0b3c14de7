-- Call records (seed 002's call object), updated live while the call runs.
CREATE TABLE calls (
    id               TEXT PRIMARY KEY,
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    agent_id         TEXT,
    lead_id          TEXT,
    kind             TEXT NOT NULL,
    phone_number     TEXT,
    customer_number  TEXT,
    status           TEXT NOT NULL,
    ended_reason     TEXT,
    summary          TEXT,
    transcript       TEXT,
    recording_url    TEXT,
    duration_ms      BIGINT,
    structured_data  TEXT,
    lead_context     TEXT,
    carrier_call_id  TEXT,
    started_at       BIGINT,
    ended_at         BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX calls_by_business ON calls(business_id, started_at);
