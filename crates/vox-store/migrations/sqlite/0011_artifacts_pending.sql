-- A call that ended while running has its summary and extracted fields made after its
-- ending; until they are stored with its call.ended event (one transaction), the call is
-- marked, so a process dying in between leaves the work to the next start.
ALTER TABLE calls ADD COLUMN artifacts_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_awaiting_artifacts ON calls(artifacts_pending) WHERE artifacts_pending = 1;
