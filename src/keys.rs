//! The keys logkit writes itself, and what becomes of a field that names one.
//!
//! A record's own keys (`timestamp`, `level`, `event`, `target`, the ids, and a span
//! `END`'s `span`, `dur_ms`, `status`, `exc_info`) always mean what logkit wrote:
//! a reader that selects `.level == "error"` must never see a field's value there.
//! A macro's field with such a key is a compile error (see [`reserved_key_error`],
//! which every macro's expansion evaluates in a `const` item, so the check costs
//! nothing at run time); a key that only exists at run time ([`Span::record`](crate::Span::record), the `log` and
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

/// Why a macro field may not be named `key`, when it is one of [`RESERVED_KEYS`]:
/// what the key holds and what to write instead.
const fn reserved_message(key: &str) -> Option<&'static str> {
    Some(match key.as_bytes() {
        b"timestamp" => {
            "`timestamp` is a key logkit writes itself (the record's time) and no field may take it: rename the field (e.g. `at = ..`)"
        }
        b"level" => {
            "`level` is a key logkit writes itself (the record's level, which readers select on) and no field may take it: choose the level with the macro (`debug!`, `event!(Level::Debug, ..)`) or rename the field"
        }
        b"event" => {
            "`event` is a key logkit writes itself (the record's message) and no field may take it: give the message as the last argument (`info!(k = v, \"message\")`) or rename the field"
        }
        b"target" => {
            "`target` is a key logkit writes itself and no field may take it: set it with `target: \"name\",` before the fields, or rename the field"
        }
        b"trace_id" => {
            "`trace_id` is a key logkit writes itself (the context's trace) and no field may take it: continue a trace with `new_context!(trace_id = x, ..)` (first, before the keys), or rename the field"
        }
        b"span_id" | b"parent_span_id" => {
            "`span_id` and `parent_span_id` are keys logkit writes itself (the current span) and no field may take them: open a span with `span!` or `#[capture]`, or rename the field"
        }
        b"span" | b"dur_ms" | b"status" | b"exc_info" => {
            "`span`, `dur_ms`, `status` and `exc_info` are keys logkit writes itself (a span's END record) and no field may take them: mark a span failed with `fail(&e)` or `set_status_error(..)`, record a result with `record(\"key\", v)` (see `logkit::current_span`), or rename the field"
        }
        _ => return None,
    })
}

/// The compile-time check of a macro's field names: `None` when no name is a
/// reserved key, else the message of the first one. The macros expand to
/// `const _: () = if let Some(m) = reserved_key_error(&[..]) { panic!("{}", m) };`,
/// so a reserved key is a compile error at the call site saying why (and the check
/// is gone from the compiled code). Not API.
#[doc(hidden)]
pub const fn reserved_key_error(keys: &[&str]) -> Option<&'static str> {
    let mut i = 0;
    while i < keys.len() {
        if let Some(m) = reserved_message(keys[i]) {
            return Some(m);
        }
        i += 1;
    }
    None
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

    #[test]
    fn every_reserved_key_has_a_compile_time_message_naming_it() {
        for k in RESERVED_KEYS {
            let m = reserved_key_error(&["ok", k]).unwrap_or_else(|| panic!("{k} has no message"));
            assert!(m.contains(&format!("`{k}`")), "{k}: {m}");
        }
        assert_eq!(reserved_key_error(&["levels", "http.status", "user"]), None);
        assert_eq!(reserved_key_error(&[]), None);
    }
}
