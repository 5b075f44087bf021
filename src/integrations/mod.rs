//! Front doors into the pipeline for code that does not call logkit's macros: each
//! integration turns another library's events, spans or requests into the same
//! records, through the same gate, context and span machinery the macros use (never a
//! pipeline of its own).
//!
//! - [`tracing`] (feature `tracing`): a `tracing_subscriber::Layer`.
//! - [`tower`] (feature `tower`): request middleware for tower / axum.

#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "tracing")]
pub mod tracing;

/// The renamed form of a reserved key (`level` → `field.level`), without allocating:
/// the integrations meet field names only at run time (see `crate::keys`).
pub(crate) fn run_time_key(key: &str) -> &str {
    if !crate::keys::is_reserved(key) {
        return key;
    }
    match key {
        "timestamp" => "field.timestamp",
        "level" => "field.level",
        "event" => "field.event",
        "target" => "field.target",
        "trace_id" => "field.trace_id",
        "span_id" => "field.span_id",
        "parent_span_id" => "field.parent_span_id",
        "span" => "field.span",
        "dur_ms" => "field.dur_ms",
        "status" => "field.status",
        "exc_info" => "field.exc_info",
        // A reserved key added to `keys` but not here: still never written as itself.
        _ => "field.reserved",
    }
}

#[cfg(test)]
mod tests {
    use super::run_time_key;

    #[test]
    fn every_reserved_key_has_its_renamed_form() {
        for k in crate::keys::RESERVED_KEYS {
            assert_eq!(run_time_key(k), crate::keys::field_key(k));
        }
        assert_eq!(run_time_key("user"), "user");
    }
}
