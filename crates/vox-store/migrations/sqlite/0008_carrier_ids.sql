-- Issue 8: carriers whose callbacks name only their own call id (Telnyx's call_control_id,
-- Plivo's CallUUID, Vonage's uuid, Exotel's CallSid) find the call record by it.
CREATE INDEX calls_by_carrier_call_id ON calls(carrier_call_id);
