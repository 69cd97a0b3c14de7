-- Every tool a call's agent ran, as it ran: the call's log of actions (seed 000's
-- executedCallActions), written as each run ends so a crash loses none.
CREATE TABLE call_tool_runs (
    id           TEXT PRIMARY KEY,
    call_id      TEXT NOT NULL,
    tool_id      TEXT,
    name         TEXT NOT NULL,
    action_type  TEXT,
    action       TEXT,
    arguments    TEXT NOT NULL,
    result       TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL
);
CREATE INDEX call_tool_runs_call ON call_tool_runs (call_id, started_at);
CREATE INDEX call_tool_runs_action ON call_tool_runs (action_type, call_id);
