-- The phone numbers Vox may hand out (telephony.pools in the config), who holds them, and
-- what the activated-hours scheduler last decided for each deployed agent.
CREATE TABLE phone_numbers (
    number       TEXT PRIMARY KEY,
    carrier      TEXT NOT NULL,
    business_id  TEXT REFERENCES businesses(id),
    agent_id     TEXT,
    assigned_at  BIGINT
);
ALTER TABLE agents ADD COLUMN schedule_state BIGINT;
