-- Issue 6: what tools change and what calls leave behind.
-- The built-in calendar (the default backend of the googleCal tool): one row per booking;
-- a cancelled booking keeps its row (status 'cancelled') so history stays readable.
CREATE TABLE appointments (
    id             TEXT PRIMARY KEY,
    business_id    TEXT NOT NULL REFERENCES businesses(id),
    start_at       BIGINT NOT NULL,
    end_at         BIGINT NOT NULL,
    name           TEXT NOT NULL,
    phone          TEXT,
    address        TEXT,
    notes          TEXT,
    status         TEXT NOT NULL,
    call_id        TEXT,
    created_at     BIGINT NOT NULL,
    cancelled_at   BIGINT
);
CREATE INDEX appointments_by_time ON appointments(business_id, start_at);
-- The transcript as messages with roles and times (JSON array), beside the text form.
ALTER TABLE calls ADD COLUMN messages TEXT;
-- Call-event webhooks: one endpoint per business, and an outbox of deliveries so an event
-- survives a restart and is retried until delivered or given up.
CREATE TABLE webhooks (
    business_id    TEXT PRIMARY KEY REFERENCES businesses(id),
    url            TEXT NOT NULL,
    secret         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    id             TEXT PRIMARY KEY,
    business_id    TEXT NOT NULL,
    event          TEXT NOT NULL,
    body           TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    next_at        BIGINT NOT NULL,
    status         TEXT NOT NULL,
    last_error     TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_at);
