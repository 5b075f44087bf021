//! Writer-side rendering of compact records: JSON lines for the file (and the `prod`
//! console), aligned human lines for the `dev` console.

pub(crate) mod escape;
pub(crate) mod json;
pub(crate) mod pretty;
pub(crate) mod time;
pub(crate) mod value;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::record::{FieldValue, RecordView};

/// Contexts up to this many entries are de-duplicated on the stack.
const SMALL_CONTEXT: usize = 16;

/// Calls `f` with the context entries a renderer writes, in binding order: a key bound
/// again by an inner span (or by `new_context!` and a span) appears once, with the
/// innermost value, at the innermost place.
///
/// Linear in the context's size: each entry is decoded once. (Re-scanning the rest of
/// the context for every entry made nested spans cubic in the writer: 1 000 nested
/// spans that each bind a key took seconds; PERF.md "Deep spans".) Up to
/// [`SMALL_CONTEXT`] entries — every context but a deep span stack's — are compared
/// with each other on the stack; a larger one goes through a map of each key's last
/// position, allocated for that record.
#[inline]
pub(crate) fn unshadowed_context<'a>(rec: &RecordView<'a>, mut f: impl FnMut(&'a str, FieldValue<&'a str>)) {
    let mut small = [("", FieldValue::Null); SMALL_CONTEXT];
    let mut n = 0;
    for entry in rec.context() {
        if n == SMALL_CONTEXT {
            return unshadowed_large(rec, f);
        }
        small[n] = entry;
        n += 1;
    }
    for (i, &(key, value)) in small[..n].iter().enumerate() {
        if !small[i + 1..n].iter().any(|&(k, _)| k == key) {
            f(key, value);
        }
    }
}

#[cold]
#[inline(never)]
fn unshadowed_large<'a>(rec: &RecordView<'a>, mut f: impl FnMut(&'a str, FieldValue<&'a str>)) {
    let entries: Vec<(&'a str, FieldValue<&'a str>)> = rec.context().collect();
    let mut last: HashMap<&str, usize, BuildHasherDefault<KeyHasher>> =
        HashMap::with_capacity_and_hasher(entries.len(), Default::default());
    for (i, &(key, _)) in entries.iter().enumerate() {
        last.insert(key, i);
    }
    for (i, &(key, value)) in entries.iter().enumerate() {
        if last.get(key) == Some(&i) {
            f(key, value);
        }
    }
}

/// A fast hasher for context keys (FxHash's multiply-rotate, a word at a time): keys
/// come from the application's own code, not from an adversary, and SipHash was a
/// third of the time of rendering a 10 000-entry context.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(26) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Keys whose values are written as `"***"` by every renderer (`LOG_REDACT`).
/// Matching is ASCII case-insensitive on the whole key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    keys: Vec<String>,
}

impl Redactor {
    pub(crate) fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(keys: I) -> Redactor {
        Redactor {
            keys: keys.into_iter().map(|k| k.as_ref().trim().to_ascii_lowercase()).filter(|k| !k.is_empty()).collect(),
        }
    }

    /// Whether no key is masked.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    #[inline]
    pub(crate) fn is_redacted(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k.eq_ignore_ascii_case(key))
    }
}
