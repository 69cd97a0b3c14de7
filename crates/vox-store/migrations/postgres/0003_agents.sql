-- Voice agents: the agent document (JSON, the API's fields) plus what is queried or set
-- by deployment.
CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    business_id   TEXT NOT NULL REFERENCES businesses(id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    document      TEXT NOT NULL,
    phone_number  TEXT,
    on_duty       BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX agents_by_business ON agents(business_id, created_at);
