//! The keys logkit writes itself, and what becomes of a field that names one.
//!
//! A record's own keys (`timestamp`, `level`, `event`, `target`, the ids, and a span
//! `END`'s `span`, `dur_ms`, `status`, `exc_info`) always mean what logkit wrote:
//! a reader that selects `.level == "error"` must never see a field's value there.
//! A macro's field with such a key is a compile error (see `check_key`); a key that
//! only exists at run time ([`Span::record`](crate::Span::record), the `log` and
//! `tracing` bridges) is written as `field.<key>` instead.

use std::borrow::Cow;

/// The keys of a record that logkit writes; no field may take one of them.
pub(crate) const RESERVED_KEYS: &[&str] = &[
    "timestamp",
    "level",
    "event",
    "target",
    "trace_id",
    "span_id",
    "parent_span_id",
    "span",
    "dur_ms",
    "status",
    "exc_info",
];

/// What a run-time field named after a reserved key is renamed to: the key after
/// this prefix (`level` → `field.level`).
pub(crate) const RENAMED_KEY_PREFIX: &str = "field.";

/// Whether `key` is one of [`RESERVED_KEYS`].
pub(crate) const fn is_reserved(key: &str) -> bool {
    let mut i = 0;
    while i < RESERVED_KEYS.len() {
        if eq(RESERVED_KEYS[i], key) {
            return true;
        }
        i += 1;
    }
    false
}

/// The key a run-time field is written under: `key`, or `field.<key>` for a reserved
/// key.
pub(crate) fn field_key(key: &str) -> Cow<'_, str> {
    if is_reserved(key) {
        Cow::Owned(format!("{RENAMED_KEY_PREFIX}{key}"))
    } else {
        Cow::Borrowed(key)
    }
}

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_renamed_and_others_kept() {
        for k in RESERVED_KEYS {
            assert!(is_reserved(k));
            assert_eq!(field_key(k), format!("field.{k}"));
        }
        for k in ["levels", "lev", "http.response.status_code", "Level", ""] {
            assert!(!is_reserved(k), "{k}");
            assert_eq!(field_key(k), k);
        }
    }
}
