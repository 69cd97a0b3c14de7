-- Tool instances made from templates, and a business's Google Calendar integration.
-- JSON documents are TEXT (the same on both backends).
CREATE TABLE tools (
    id               TEXT PRIMARY KEY,
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    template_id      TEXT NOT NULL,
    name             TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    kind             TEXT NOT NULL,
    config_override  TEXT NOT NULL,
    message          TEXT,
    enabled          BIGINT NOT NULL,  -- 0 or 1 (the Any driver cannot decode SQLite booleans)
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX tools_by_business ON tools(business_id, created_at);

CREATE TABLE calendar_integrations (
    business_id   TEXT PRIMARY KEY REFERENCES businesses(id),
    id            TEXT NOT NULL,
    calendar_id   TEXT NOT NULL,
    acl_rule_id   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
