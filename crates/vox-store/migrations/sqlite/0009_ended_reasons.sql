-- Ended reasons are a closed set now (vox_store::EndedReason). Outbound calls the carrier
-- refused were recorded with the carrier's words after "dial failed: "; the words stay in
-- the log, the record keeps the reason.
UPDATE calls SET ended_reason = 'dial-failed' WHERE ended_reason LIKE 'dial failed%';
