//! What an open span has been told while it runs: fields recorded by
//! [`Span::record`](crate::Span::record) and a failure set by `fail` /
//! `set_status_error`, written into its `END` record when it closes.
//!
//! The state lives in the span's frame of the work unit's context (`context.rs`), so
//! [`current_span`](crate::current_span) reaches it from code that does not hold the
//! guard (the body of a `#[capture]` fn); a span whose frame is gone keeps it in its
//! guard instead.

use crate::record::ValueEncoder;
use crate::value::Value;

/// A span's recorded fields and failure.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpanState {
    /// `key value` entries in the record format's inline-key form (`key: str`, then a
    /// tagged value), in the order their keys were first recorded.
    bytes: Vec<u8>,
    /// Where each entry starts in `bytes`.
    starts: Vec<usize>,
    /// `exc_info` JSON once the span was marked failed.
    pub(crate) failure: Option<String>,
}

impl SpanState {
    /// The encoded entries, ready to follow a record's inline-key fields.
    pub(crate) fn fields(&self) -> &[u8] {
        &self.bytes
    }

    /// Adds one entry encoded by [`encode_entry`]; an entry for a key recorded
    /// before replaces the earlier one, in its place.
    pub(crate) fn set(&mut self, entry: &[u8]) {
        let key = entry_key(entry);
        match (0..self.starts.len()).find(|&i| entry_key(&self.bytes[self.starts[i]..]) == key) {
            None => {
                self.starts.push(self.bytes.len());
                self.bytes.extend_from_slice(entry);
            }
            Some(i) => {
                let start = self.starts[i];
                let end = self.starts.get(i + 1).copied().unwrap_or(self.bytes.len());
                self.bytes.splice(start..end, entry.iter().copied());
                let shift = entry.len() as isize - (end - start) as isize;
                for s in &mut self.starts[i + 1..] {
                    *s = (*s as isize + shift) as usize;
                }
            }
        }
    }

    /// Whether nothing was recorded and no failure set.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.starts.is_empty() && self.failure.is_none()
    }

    /// `later`'s entries and failure on top of this state's.
    pub(crate) fn merge(&mut self, later: SpanState) {
        for (i, &start) in later.starts.iter().enumerate() {
            let end = later.starts.get(i + 1).copied().unwrap_or(later.bytes.len());
            self.set(&later.bytes[start..end]);
        }
        if later.failure.is_some() {
            self.failure = later.failure;
        }
    }
}

/// Encodes one `key value` entry. Done before the context is borrowed, because the
/// value's `Display` / `Debug` impl is user code (which may log).
pub(crate) fn encode_entry(key: &str, value: &dyn Value) -> Vec<u8> {
    let key = crate::keys::field_key(key);
    let mut out = Vec::with_capacity(16 + key.len());
    out.extend_from_slice(&(key.len() as u32).to_ne_bytes());
    out.extend_from_slice(key.as_bytes());
    value.encode(&mut ValueEncoder::new(&mut out));
    out
}

/// The key of the entry at the start of `entry`.
fn entry_key(entry: &[u8]) -> &[u8] {
    let len = entry.get(..4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize);
    entry.get(4..4 + len).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_lens(s: &SpanState) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for (i, &start) in s.starts.iter().enumerate() {
            let end = s.starts.get(i + 1).copied().unwrap_or(s.bytes.len());
            out.push((String::from_utf8(entry_key(&s.bytes[start..]).to_vec()).unwrap(), end - start));
        }
        out
    }

    #[test]
    fn a_later_value_for_a_key_replaces_the_earlier_in_its_place() {
        let mut s = SpanState::default();
        s.set(&encode_entry("code", &200u16));
        s.set(&encode_entry("route", &"/orders"));
        s.set(&encode_entry("code", &"a longer string value"));
        let got = keys_and_lens(&s);
        assert_eq!(got.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["code", "route"]);
        assert_eq!(
            s.bytes,
            [encode_entry("code", &"a longer string value"), encode_entry("route", &"/orders")].concat()
        );
    }

    #[test]
    fn merging_keeps_the_later_state_s_values_and_failure() {
        let mut a = SpanState::default();
        a.set(&encode_entry("x", &1u8));
        let mut b = SpanState::default();
        b.set(&encode_entry("y", &2u8));
        b.set(&encode_entry("x", &3u8));
        b.failure = Some("{}".into());
        a.merge(b);
        assert_eq!(a.bytes, [encode_entry("x", &3u8), encode_entry("y", &2u8)].concat());
        assert_eq!(a.failure.as_deref(), Some("{}"));
    }
}
