-- Seed 003's conversations: a contact's conversation in a funnel (a number the caller's
-- system keeps), with its channel sessions (a WhatsApp thread, ...). Deleting the contact
-- deletes them.
CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id       TEXT NOT NULL REFERENCES businesses(id),
    contact_id        BIGINT NOT NULL,
    user_id           BIGINT,
    funnel_id         BIGINT NOT NULL,
    funnel_status_id  BIGINT,
    archived_at       BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX conversations_by_contact ON conversations (business_id, contact_id, funnel_id);

CREATE TABLE channel_sessions (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id            BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    business_id                TEXT NOT NULL,
    contact_address_id         BIGINT,
    channel_type               TEXT NOT NULL,
    messaging_conversation_id  TEXT,
    archived_at                BIGINT,
    start_time                 BIGINT NOT NULL,
    end_time                   BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX channel_sessions_by_conversation ON channel_sessions (conversation_id);
