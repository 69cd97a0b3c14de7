-- Outbound campaigns: an agent calling a list of contacts within calling windows, with
-- concurrency, pacing and retries; each call is tagged with its campaign.
CREATE TABLE campaigns (
    id           TEXT PRIMARY KEY,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    agent_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL,
    settings     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE TABLE campaign_contacts (
    id               TEXT PRIMARY KEY,
    campaign_id      TEXT NOT NULL REFERENCES campaigns(id),
    position         BIGINT NOT NULL,
    phone_number     TEXT NOT NULL,
    name             TEXT,
    timezone         TEXT,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    last_call_id     TEXT,
    last_outcome     TEXT
);
CREATE INDEX campaign_contacts_due ON campaign_contacts (campaign_id, state, next_attempt_at);
ALTER TABLE calls ADD COLUMN campaign_id TEXT;
