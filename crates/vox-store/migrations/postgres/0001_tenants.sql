-- Tenants and API access. Times are Unix milliseconds; ids are prefixed random strings.
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE businesses (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    name             TEXT NOT NULL,
    phone_number     TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX businesses_by_org ON businesses(organization_id);

CREATE TABLE api_clients (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    name             TEXT NOT NULL,
    secret_sha256    TEXT NOT NULL,
    scopes           TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    token_sha256     TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL REFERENCES api_clients(id),
    organization_id  TEXT NOT NULL REFERENCES organizations(id),
    scopes           TEXT NOT NULL,
    expires_at       BIGINT NOT NULL
);
