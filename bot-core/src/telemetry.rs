//! What the bot counts and times, through the `metrics` facade.
//!
//! The core only records; it never exports. The binary installs a Prometheus recorder when
//! `HEARTH_METRICS_ADDR` is set and serves it on `/metrics`; without one every call here is a
//! no-op costing an atomic load. Names and labels are part of the owner's dashboards
//! (`deploy/grafana-hearth.json`): change them only with it.

use std::time::Duration;

use crate::types::Platform;

/// Messages received from people, per platform.
pub const MESSAGES_IN: &str = "hearth_messages_in_total";
/// Replies finished (answered or failed with a message), per platform.
pub const MESSAGES_OUT: &str = "hearth_messages_out_total";
/// Errors, by kind (`model_unreachable`, `model_timeout`, `model_not_found`, `model_server`,
/// `model_protocol`, `store`, `panic`, `voice`).
pub const ERRORS: &str = "hearth_errors_total";
/// Seconds from sending a request to the model to its last piece.
pub const MODEL_SECONDS: &str = "hearth_model_seconds";
/// Seconds from sending a request to the model to its first piece.
pub const FIRST_TOKEN_SECONDS: &str = "hearth_model_first_token_seconds";
/// Messages waiting for a model slot now.
pub const QUEUE_DEPTH: &str = "hearth_queue_depth";
/// Voice notes transcribed.
pub const TRANSCRIPTIONS: &str = "hearth_voice_transcriptions_total";
/// Seconds of audio per second of transcription (higher is faster).
pub const REAL_TIME_FACTOR: &str = "hearth_voice_real_time_factor";
/// Seconds a memory search took (query embedding included).
pub const MEMORY_SEARCH_SECONDS: &str = "hearth_memory_search_seconds";
/// Seconds a notes search took.
pub const NOTES_SEARCH_SECONDS: &str = "hearth_notes_search_seconds";
/// Reminders and schedules waiting to fire.
pub const REMINDERS_PENDING: &str = "hearth_reminders_pending";
/// Reminders delivered late (the bot was down when they were due) or dropped as too late.
pub const REMINDERS_LATE: &str = "hearth_reminders_late_total";
/// Bytes the database takes on disk (set by the binary when scraped).
pub const STORE_BYTES: &str = "hearth_store_bytes";

/// Says what each metric is, for the exporter's `# HELP` lines.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(MESSAGES_IN, "Messages received from people, per platform");
    describe_counter!(MESSAGES_OUT, "Replies finished, per platform");
    describe_counter!(ERRORS, "Errors, by kind");
    describe_histogram!(
        MODEL_SECONDS,
        metrics::Unit::Seconds,
        "Model request to last piece"
    );
    describe_histogram!(
        FIRST_TOKEN_SECONDS,
        metrics::Unit::Seconds,
        "Model request to first piece"
    );
    describe_gauge!(QUEUE_DEPTH, "Messages waiting for a model slot");
    describe_counter!(TRANSCRIPTIONS, "Voice notes transcribed");
    describe_histogram!(REAL_TIME_FACTOR, "Audio seconds per transcription second");
    describe_histogram!(
        MEMORY_SEARCH_SECONDS,
        metrics::Unit::Seconds,
        "Memory search time"
    );
    describe_histogram!(
        NOTES_SEARCH_SECONDS,
        metrics::Unit::Seconds,
        "Notes search time"
    );
    describe_gauge!(REMINDERS_PENDING, "Reminders and schedules waiting to fire");
    describe_counter!(
        REMINDERS_LATE,
        "Reminders delivered late or dropped as too late"
    );
    describe_gauge!(STORE_BYTES, metrics::Unit::Bytes, "Database size on disk");
}

/// A message arrived.
pub fn message_in(platform: Platform) {
    metrics::counter!(MESSAGES_IN, "platform" => platform.as_str()).increment(1);
}

/// A reply ended.
pub fn message_out(platform: Platform) {
    metrics::counter!(MESSAGES_OUT, "platform" => platform.as_str()).increment(1);
}

/// Something failed.
pub fn error(kind: &'static str) {
    metrics::counter!(ERRORS, "kind" => kind).increment(1);
}

/// The error kind of a model failure.
pub fn model_error_kind(error: &crate::model::ModelError) -> &'static str {
    use crate::model::ModelError;
    match error {
        ModelError::Unreachable { .. } => "model_unreachable",
        ModelError::ModelNotFound { .. } => "model_not_found",
        ModelError::Server { .. } => "model_server",
        ModelError::Timeout(_) => "model_timeout",
        _ => "model_protocol",
    }
}

/// A model stream ended after `total`; its first piece came after `first`.
pub fn model_answer(first: Option<Duration>, total: Duration) {
    if let Some(first) = first {
        metrics::histogram!(FIRST_TOKEN_SECONDS).record(first.as_secs_f64());
    }
    metrics::histogram!(MODEL_SECONDS).record(total.as_secs_f64());
}

/// How many messages wait for a model slot now.
pub fn queue_depth(waiting: usize) {
    metrics::gauge!(QUEUE_DEPTH).set(waiting as f64);
}

/// A voice note of `audio` was transcribed in `took`.
pub fn transcription(audio: Duration, took: Duration) {
    metrics::counter!(TRANSCRIPTIONS).increment(1);
    if took > Duration::ZERO {
        metrics::histogram!(REAL_TIME_FACTOR).record(audio.as_secs_f64() / took.as_secs_f64());
    }
}

/// A memory search took `took`.
pub fn memory_search(took: Duration) {
    metrics::histogram!(MEMORY_SEARCH_SECONDS).record(took.as_secs_f64());
}

/// A notes search took `took`.
pub fn notes_search(took: Duration) {
    metrics::histogram!(NOTES_SEARCH_SECONDS).record(took.as_secs_f64());
}

/// How many reminders wait to fire now.
pub fn reminders_pending(pending: usize) {
    metrics::gauge!(REMINDERS_PENDING).set(pending as f64);
}

/// A reminder fired late, or was dropped as too late.
pub fn reminder_late() {
    metrics::counter!(REMINDERS_LATE).increment(1);
}

/// The database's size on disk.
pub fn store_bytes(bytes: u64) {
    metrics::gauge!(STORE_BYTES).set(bytes as f64);
}
