-- Seed 003's CRM: API keys bound to a business, contacts with per-channel addresses, and
-- custom-field definitions (with the options of LIST fields) and their values. The ids the
-- seed shows as numbers are integers here, never reused.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    name         TEXT NOT NULL,
    key_sha256   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE contacts (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id         TEXT NOT NULL REFERENCES businesses(id),
    provider_id         TEXT,
    provider_name       TEXT,
    national_id         TEXT,
    first_name          TEXT,
    last_name           TEXT,
    email               TEXT,
    phone               TEXT,
    user_id             BIGINT,
    contact_company_id  BIGINT,
    company_position    TEXT,
    metadata            TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX contacts_by_business ON contacts (business_id, created_at);

CREATE TABLE contact_addresses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id    BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    business_id   TEXT NOT NULL,
    channel_type  TEXT NOT NULL,
    address       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX contact_addresses_by_address ON contact_addresses (business_id, address);
CREATE INDEX contact_addresses_by_contact ON contact_addresses (contact_id);

CREATE TABLE custom_field_definitions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    entity_type  TEXT NOT NULL,
    field_key    TEXT NOT NULL,
    field_label  TEXT,
    field_type   TEXT NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (business_id, entity_type, field_key)
);

CREATE TABLE custom_field_options (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    definition_id  BIGINT NOT NULL REFERENCES custom_field_definitions(id) ON DELETE CASCADE,
    value          TEXT NOT NULL,
    label          TEXT,
    description    TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (definition_id, value)
);

-- one value per field and entity: the JSON value, its text (for search) and, for NUMBER
-- fields, its number (for comparisons)
CREATE TABLE custom_field_values (
    definition_id  BIGINT NOT NULL REFERENCES custom_field_definitions(id) ON DELETE CASCADE,
    entity_id      BIGINT NOT NULL,
    value          TEXT NOT NULL,
    value_text     TEXT NOT NULL,
    value_num      DOUBLE PRECISION,
    PRIMARY KEY (definition_id, entity_id)
);
CREATE INDEX custom_field_values_by_entity ON custom_field_values (entity_id);
