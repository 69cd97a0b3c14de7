-- Seed 003 shows calls by number: each call it shows gets one here (on first sight), with the
-- seed's own fields of the call (an external call's provider, user, team, metadata, custom
-- data, ...) as JSON.
CREATE TABLE crm_calls (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id  TEXT NOT NULL UNIQUE REFERENCES calls(id),
    data     TEXT NOT NULL
);
