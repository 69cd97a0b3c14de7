//! The descriptions of the metrics calls emit, for the Prometheus exporter's `# HELP`.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Describes the metrics of calls, their admission and the server's background tasks.
pub fn describe() {
    describe_gauge!("vox_calls_active", "Calls in progress.");
    describe_counter!("vox_calls_admitted_total", "Calls admitted.");
    describe_counter!(
        "vox_calls_rejected_total",
        "Streams refused before they became calls, by reason (capacity, draining, untrusted_source, start_timeout, too_many_pending, bad_call_token, unknown_agent)."
    );
    describe_counter!("vox_calls_ended_total", "Calls ended, by how they ended.");
    describe_counter!("vox_barge_ins_total", "Agent turns cut off by the caller.");
    describe_counter!(
        "vox_inbound_frames_dropped_total",
        "Caller frames dropped because a call actor fell behind."
    );
    describe_counter!(
        "vox_asr_frames_dropped_total",
        "Caller frames the speech recognizer could not take in time."
    );
    describe_counter!(
        "vox_provider_errors_total",
        "Failed ASR, LLM or TTS requests, by provider kind."
    );
    describe_counter!(
        "vox_task_panics_total",
        "Background tasks that panicked, by task."
    );
    describe_histogram!(
        "vox_playout_send_lateness_seconds",
        Unit::Seconds,
        "How late each agent frame left the pacer against its schedule."
    );
    describe_histogram!(
        "vox_turn_latency_seconds",
        Unit::Seconds,
        "Per-turn latency milestones from the caller's end of speech, by milestone."
    );
    // present from the first scrape, so dashboards and alerts see zeros rather than gaps
    metrics::gauge!("vox_calls_active").set(0.0);
    metrics::counter!("vox_calls_admitted_total").absolute(0);
}
