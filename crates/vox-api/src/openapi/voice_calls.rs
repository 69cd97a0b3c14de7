//! Seed 004's operations (the Voice Calls API, under `/api/v1`).

use super::{Body, Operation};

const FILTERS: &[(&str, &str)] = &[
    ("campaignId", "only this campaign's calls"),
    (
        "state",
        "Queued, InProgress, Completed, Busy, NoAnswer, Canceled or Failed",
    ),
    ("direction", "Inbound or Outbound"),
    (
        "dateFrom",
        "created at or after this ISO 8601 date-time or date",
    ),
    (
        "dateTo",
        "created at or before this ISO 8601 date-time or date",
    ),
];
const PAGE: &[(&str, &str)] = &[
    ("page", "1-based page number (default 1)"),
    ("pageSize", "items per page, 1-100 (default 20)"),
];
const LINK: &[(&str, &str)] = &[
    ("se", "required: the link's expiry, Unix seconds"),
    ("sig", "required: the link's signature"),
];

/// Every operation of seed 004.
pub const OPERATIONS: &[Operation] = &[
    op!(
        "get",
        "/api/v1/voice-calls",
        "listVoiceCalls",
        "The organization's voice calls, newest first: {items, page, pageSize, totalCount, totalPages}",
        Some("voice:read"),
        &[FILTERS, PAGE],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/voice-calls/{id}",
        "getVoiceCall",
        "A voice call with its full transcript (HH:MM:SS from the call's start)",
        Some("voice:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/voice-calls/{id}/recording-url",
        "getVoiceCallRecordingUrl",
        "A link to the call's WAV that opens without a token for 15 minutes: {recordingUrl, expiresAt}",
        Some("audio:download"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/voice-calls/{id}/epa-results",
        "getVoiceCallEpaResults",
        "The post-call survey's results (404 when no survey ran)",
        Some("voice:read"),
        &[],
        Body::None,
        200
    ),
    op!(
        "get",
        "/api/v1/recordings/{file}",
        "downloadRecording",
        "A recording through its signed link (no token; 403 once expired or altered). A number instead of {vc_id}.wav is seed 003's GetRecording: the recording of the call with that number, with an X-API-Key or token",
        None,
        &[LINK],
        Body::None,
        200
    ),
];
