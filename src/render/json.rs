//! JSON line rendering: one object per record, keys in the contract's order
//! (`timestamp`, `level`, `event`, context, fields, `target`), one `\n` at the end.
//!
//! This is the writer thread's hot loop, so nothing here allocates or goes through
//! `fmt`: numbers through `itoa` / `ryu` stack buffers, strings through a table-driven
//! escaper that copies runs of plain bytes with one `extend_from_slice`.
//!
//! Escaping follows RFC 8259 and goes further, so that a record can neither break its
//! line nor hide or forge text where it is displayed (a terminal running `tail -f`, a
//! JavaScript reader): besides `"`, `\` and the C0 controls, DEL, the C1 controls
//! (U+0080–U+009F, which some terminals obey), U+2028 / U+2029 (line breaks to
//! JavaScript) and the bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//! U+2066–U+2069: the "Trojan Source" set) are written as `\uXXXX`. In UTF-8 those
//! characters start with the bytes 0xC2, 0xD8 or 0xE2, so only those three bytes take
//! the multi-byte check; every other non-ASCII byte is copied as is.

use super::time::TimestampCache;
use super::value::{self, Spelling};
use super::Redactor;
use crate::callsite::Callsite;
use crate::level::Level;
use crate::record::{FieldValue, RecordView};

/// Appends `rec` as one JSON object and a `\n` to `out`.
pub(crate) fn write_record(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor, ts: &mut TimestampCache) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    ts.write_rfc3339(out, rec.timestamp_ns);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(rec.level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"event\":");
    write_str(out, rec.message);
    write_context(out, rec, redact);
    for (key, value) in rec.fields() {
        write_member(out, key, value, redact);
    }
    out.extend_from_slice(b",\"target\":");
    write_str(out, rec.target);
    out.extend_from_slice(b"}\n");
}

/// Pre-rendered pieces of one call site's records: built the first time the writer
/// sees the call site, so a record's keys are neither escaped nor checked against
/// `LOG_REDACT` again.
struct Site {
    callsite: &'static Callsite,
    /// `","level":"info","event":`.
    level: &'static [u8],
    /// The literal message last rendered into `head`.
    message: Option<&'static str>,
    /// `level`, then `message` as a JSON string.
    head: Vec<u8>,
    /// `,"key":` for each field, concatenated; `key_ends[i]` is where field i's ends.
    keys: Vec<u8>,
    key_ends: Vec<usize>,
    redacted: Vec<bool>,
    /// `,"target":"app::db"}` and the newline.
    tail: Vec<u8>,
}

/// The writer's cache of [`Site`]s, indexed by `Callsite::render_slot() - 1`, and of
/// the last context rendered: consecutive records of a work unit share their context
/// bytes, so comparing them (a `memcmp`) replaces escaping every bound key again.
#[derive(Default)]
pub(crate) struct Sites {
    sites: Vec<Site>,
    last_ctx: Vec<u8>,
    last_ctx_json: Vec<u8>,
}

impl Site {
    /// Writes `","level":…,"event":"message"`; a literal message is escaped only the
    /// first time (a call site has one literal, so `head` is built once).
    #[inline]
    fn write_head(&mut self, out: &mut Vec<u8>, rec: &RecordView<'_>) {
        let Some(m) = rec.static_message else {
            out.extend_from_slice(self.level);
            return write_str(out, rec.message);
        };
        if !self.message.is_some_and(|c| std::ptr::eq(c, m)) {
            self.set_message(m);
        }
        out.extend_from_slice(&self.head);
    }

    #[cold]
    fn set_message(&mut self, m: &'static str) {
        self.message = Some(m);
        self.head.clear();
        self.head.extend_from_slice(self.level);
        write_str(&mut self.head, m);
    }
}

/// The call site's cached [`Site`], built on first use. A free function (not a
/// method of [`Sites`]) so the context bytes can be borrowed beside it.
#[inline]
fn site_for<'s>(sites: &'s mut Vec<Site>, cs: &'static Callsite, redact: &Redactor) -> &'s mut Site {
    let slot = cs.render_slot() as usize;
    // The pointer check keeps two renderers in one process (tests) correct: a call site
    // cached by the other one is rebuilt here.
    if slot == 0 || slot > sites.len() || !std::ptr::eq(sites[slot - 1].callsite, cs) {
        return insert_site(sites, cs, redact);
    }
    &mut sites[slot - 1]
}

#[cold]
#[inline(never)]
fn insert_site<'s>(sites: &'s mut Vec<Site>, cs: &'static Callsite, redact: &Redactor) -> &'s mut Site {
    let mut keys = Vec::new();
    let mut key_ends = Vec::new();
    let mut redacted = Vec::new();
    for name in cs.field_names() {
        keys.push(b',');
        write_str(&mut keys, name);
        keys.push(b':');
        key_ends.push(keys.len());
        redacted.push(redact.is_redacted(name));
    }
    let mut tail = b",\"target\":".to_vec();
    write_str(&mut tail, cs.target());
    tail.extend_from_slice(b"}\n");
    let level = level_prefix(cs.level());
    sites.push(Site { callsite: cs, level, message: None, head: Vec::new(), keys, key_ends, redacted, tail });
    cs.set_render_slot(u32::try_from(sites.len()).unwrap_or(0));
    let last = sites.len() - 1;
    &mut sites[last]
}

fn level_prefix(level: Level) -> &'static [u8] {
    match level {
        Level::Error => b"\",\"level\":\"error\",\"event\":",
        Level::Warn => b"\",\"level\":\"warning\",\"event\":",
        Level::Info => b"\",\"level\":\"info\",\"event\":",
        Level::Debug => b"\",\"level\":\"debug\",\"event\":",
        Level::Trace => b"\",\"level\":\"trace\",\"event\":",
    }
}

/// [`write_record`] with the call site's keys, redaction and target pre-rendered:
/// what the writer thread uses. Records without a call site take the general path.
#[inline]
pub(crate) fn write_record_cached(
    out: &mut Vec<u8>,
    rec: &RecordView<'_>,
    sites: &mut Sites,
    redact: &Redactor,
    ts: &mut TimestampCache,
) {
    let (Some(cs), Some(values)) = (rec.callsite, rec.values()) else {
        return write_record(out, rec, redact, ts);
    };
    let ctx = rec.context_bytes();
    if ctx != sites.last_ctx.as_slice() {
        sites.last_ctx.clear();
        sites.last_ctx.extend_from_slice(ctx);
        sites.last_ctx_json.clear();
        write_context(&mut sites.last_ctx_json, rec, redact);
    }
    let Sites { sites, last_ctx_json, .. } = sites;
    let site = site_for(sites, cs, redact);
    out.extend_from_slice(b"{\"timestamp\":\"");
    ts.write_rfc3339(out, rec.timestamp_ns);
    site.write_head(out, rec);
    out.extend_from_slice(last_ctx_json);
    let mut start = 0;
    for (i, value) in values.enumerate() {
        let Some(&end) = site.key_ends.get(i) else { break };
        push_short(out, &site.keys[start..end]);
        start = end;
        if site.redacted[i] {
            out.extend_from_slice(REDACTED);
        } else {
            write_value_redacted(out, value, redact);
        }
    }
    if std::ptr::eq(rec.target, cs.target()) {
        push_short(out, &site.tail);
    } else {
        // A record that names its own target (a span's END record).
        out.extend_from_slice(b",\"target\":");
        write_str(out, rec.target);
        out.extend_from_slice(b"}\n");
    }
}

/// Appends the context entries (`,"key":value` each). A key bound again by an inner
/// span (or by `new_context!` and a span) appears once, with the innermost value, at
/// the innermost place. Contexts hold a handful of keys, and the writer renders a
/// context once per change, so the quadratic scan costs nothing measurable.
fn write_context(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor) {
    for (i, (key, value)) in rec.context().enumerate() {
        if rec.context().skip(i + 1).any(|(k, _)| k == key) {
            continue; // shadowed by an inner binding
        }
        write_member(out, key, value, redact);
    }
}

/// Appends `,"key":value`, the value masked when the key is redacted.
#[inline]
fn write_member(out: &mut Vec<u8>, key: &str, value: FieldValue<&str>, redact: &Redactor) {
    out.push(b',');
    write_str(out, key);
    out.push(b':');
    if redact.is_redacted(key) {
        out.extend_from_slice(REDACTED);
    } else {
        write_value_redacted(out, value, redact);
    }
}

/// Appends `s` as a JSON string literal (with quotes) to `out`.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    if is_plain(s.as_bytes()) {
        push_short(out, s.as_bytes());
    } else {
        escape::<JSON_STRING>(out, s);
    }
    out.push(b'"');
}

/// Appends `b`; up to 32 bytes are copied inline, with two overlapping loads and stores,
/// instead of through a `memcpy` call (keys, short strings and the record's tail are
/// mostly that short, and the call was ~8 % of the writer's instructions).
#[inline(always)]
fn push_short(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if !(4..=32).contains(&n) {
        return out.extend_from_slice(b);
    }
    out.reserve(n);
    let src = b.as_ptr();
    // SAFETY: `reserve` made room for `n` more bytes at `len`, so `dst..dst + n` is
    // inside the allocation; each load reads `src..src + n` only (4 <= n <= 32: the two
    // loads of each branch start at 0 and at n - width, both within the slice), each
    // store writes within `dst..dst + n`, and the two ranges do not overlap (`b` is not
    // borrowed from `out`). All bytes up to `len + n` are then initialised.
    unsafe {
        let dst = out.as_mut_ptr().add(out.len());
        if n >= 16 {
            let (a, z) = (src.cast::<u128>().read_unaligned(), src.add(n - 16).cast::<u128>().read_unaligned());
            dst.cast::<u128>().write_unaligned(a);
            dst.add(n - 16).cast::<u128>().write_unaligned(z);
        } else if n >= 8 {
            let (a, z) = (src.cast::<u64>().read_unaligned(), src.add(n - 8).cast::<u64>().read_unaligned());
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(z);
        } else {
            let (a, z) = (src.cast::<u32>().read_unaligned(), src.add(n - 4).cast::<u32>().read_unaligned());
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(z);
        }
        out.set_len(out.len() + n);
    }
}

/// Whether no byte of `b` needs a look from [`escape`]: the common case, checked in one
/// pass without the bookkeeping of copying runs. Eight bytes at a time; the last few
/// are covered by one more word that overlaps the ones already checked (from 4 to 7
/// bytes, two overlapping 4-byte halves), so no byte loop runs unless the string is
/// under 4 bytes. A byte checked twice changes nothing, and a word's false positive
/// (any non-ASCII byte) only sends the string to [`escape`], which decides per byte.
#[inline]
fn is_plain(b: &[u8]) -> bool {
    let n = b.len();
    if n >= 8 {
        let word = |w: &[u8]| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let mut words = b.chunks_exact(8);
        for w in &mut words {
            if word_needs_attention(word(w)) {
                return false;
            }
        }
        return words.remainder().is_empty() || !word_needs_attention(word(&b[n - 8..]));
    }
    if n >= 4 {
        let half = |w: &[u8]| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        return !word_needs_attention(half(&b[..4]) | half(&b[n - 4..]) << 32);
    }
    b.iter().all(|&x| ESCAPE[x as usize] == __)
}

/// Appends `s` with every control character, DEL, C1 control, U+2028/2029 and bidi
/// control escaped (`\n`, `\t`, `\u001b`, `\u202e`, ...) but `"` and `\` left as they
/// are: text for a human console that can hold no raw control or override.
#[inline]
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    escape::<TEXT>(out, s);
}

/// The value written for a redacted key.
const REDACTED: &[u8] = b"\"***\"";

/// The JSON spelling of a value: non-finite floats as the strings `"NaN"`,
/// `"Infinity"`, `"-Infinity"`, strings escaped, nested JSON verbatim (made safe to
/// keep on one line).
pub(crate) struct Json;

impl Spelling for Json {
    const NON_FINITE: [&'static [u8]; 3] = [b"\"NaN\"", b"\"Infinity\"", b"\"-Infinity\""];

    #[inline]
    fn str(out: &mut Vec<u8>, s: &str) {
        write_str(out, s);
    }

    #[inline]
    fn json(out: &mut Vec<u8>, j: &str) {
        if j.trim_ascii().is_empty() {
            // The encoder only stores valid JSON; an empty one would still break the line.
            out.extend_from_slice(b"null");
        } else {
            escape::<JSON_VERBATIM>(out, j);
        }
    }
}

/// Appends one value as JSON.
#[inline]
pub(crate) fn write_value(out: &mut Vec<u8>, value: FieldValue<&str>) {
    value::write::<Json>(out, value);
}

/// Appends one value as JSON, masking redacted keys inside nested JSON too.
#[inline]
pub(crate) fn write_value_redacted(out: &mut Vec<u8>, value: FieldValue<&str>, redact: &Redactor) {
    match value {
        FieldValue::Json(j) if !redact.is_empty() && !j.trim_ascii().is_empty() => {
            let mut masked = Vec::new();
            mask_nested(&mut masked, j, redact);
            // `mask_nested` only cuts and inserts at ASCII positions of valid UTF-8.
            escape::<JSON_VERBATIM>(out, std::str::from_utf8(&masked).unwrap_or("null"));
        }
        v => write_value(out, v),
    }
}

/// Copies the JSON text `j` (valid JSON, as serde_json wrote it) to `out`, with the
/// value of every object member whose key is redacted replaced by `"***"`, at any
/// depth. Keys are compared as written (a key spelled with `\u` escapes is not
/// decoded first).
pub(crate) fn mask_nested(out: &mut Vec<u8>, j: &str, redact: &Redactor) {
    let b = j.as_bytes();
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = skip_string(b, i);
        let colon = skip_ws(b, end);
        if b.get(colon) == Some(&b':') && redact.is_redacted(&j[i + 1..end.saturating_sub(1).max(i + 1)]) {
            out.extend_from_slice(&b[copied..=colon]);
            out.extend_from_slice(REDACTED);
            let value_end = skip_value(b, skip_ws(b, colon + 1));
            i = value_end;
            copied = value_end;
        } else {
            i = end;
        }
    }
    out.extend_from_slice(&b[copied..]);
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// `b[i]` is `"`: the index after the closing quote.
fn skip_string(b: &[u8], i: usize) -> usize {
    let mut k = i + 1;
    while k < b.len() {
        match b[k] {
            b'\\' => k += 2,
            b'"' => return k + 1,
            _ => k += 1,
        }
    }
    b.len()
}

/// The index after the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut k = i;
            while k < b.len() {
                match b[k] {
                    b'"' => {
                        k = skip_string(b, k);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return k + 1;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            b.len()
        }
        _ => {
            let mut k = i;
            while k < b.len() && !matches!(b[k], b',' | b'}' | b']') && !b[k].is_ascii_whitespace() {
                k += 1;
            }
            k
        }
    }
}

/// SWAR (eight bytes at a time): whether any byte of `w` may need escaping, i.e. is
/// below 0x20, is `"`, `\` or DEL, or is not ASCII. False positives are fine (the
/// byte loop decides), false negatives are impossible.
#[inline]
fn word_needs_attention(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn has_zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = has_zero(w ^ (ONES * b'"' as u64));
    let backslash = has_zero(w ^ (ONES * b'\\' as u64));
    let del = has_zero(w ^ (ONES * 0x7F));
    (control | quote | backslash | del | (w & HIGH)) != 0
}

/// Escape modes (a const generic, so each instantiation of [`escape`] has only the
/// branches it needs).
///
/// A JSON string's contents: everything in the table escaped.
const JSON_STRING: u8 = 0;
/// Console text: like `JSON_STRING` but `"` and `\` kept.
const TEXT: u8 = 1;
/// Pre-rendered JSON copied verbatim, made safe without changing its meaning: C0
/// controls (legal only as whitespace between tokens in valid JSON) become spaces, the
/// other unsafe characters (legal only inside strings) become `\uXXXX`.
const JSON_VERBATIM: u8 = 2;

/// Table entry: copy the byte.
const __: u8 = 0;
/// Table entry: a lead byte of a multi-byte character that may need escaping.
const MB: u8 = 1;
/// Table entry: `\u00XX`.
const UU: u8 = b'u';
/// Table entry for `"`.
const QU: u8 = b'"';
/// Table entry for `\`.
const BS: u8 = b'\\';

/// What each byte needs: `__` nothing, `MB` the multi-byte check, `UU` `\u00XX`, or
/// the letter of its two-character escape (`\n`, `\"`, ...).
static ESCAPE: [u8; 256] = {
    let mut t = [__; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = UU;
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = QU;
    t[b'\\' as usize] = BS;
    t[0x7F] = UU;
    t[0xC2] = MB;
    t[0xD8] = MB;
    t[0xE2] = MB;
    t
};

/// The code point and UTF-8 length of the character at `bytes[i]` (whose lead byte is
/// marked `MB`) if it must be escaped: a C1 control, U+061C, U+200E, U+200F,
/// U+2028–U+202E or U+2066–U+2069.
#[inline]
fn special_char(bytes: &[u8], i: usize) -> Option<(u32, usize)> {
    let b1 = *bytes.get(i + 1)?;
    match bytes[i] {
        // U+0080..=U+009F: C2 80..=C2 9F.
        0xC2 if (0x80..=0x9F).contains(&b1) => Some((u32::from(b1), 2)),
        // U+061C ARABIC LETTER MARK: D8 9C.
        0xD8 if b1 == 0x9C => Some((0x061C, 2)),
        0xE2 => {
            let b2 = *bytes.get(i + 2)?;
            let hit = match b1 {
                // U+200E, U+200F: E2 80 8E/8F; U+2028..=U+202E: E2 80 A8..=AE.
                0x80 => matches!(b2, 0x8E | 0x8F | 0xA8..=0xAE),
                // U+2066..=U+2069: E2 81 A6..=A9.
                0x81 => matches!(b2, 0xA6..=0xA9),
                _ => false,
            };
            hit.then(|| (0x2000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F), 3))
        }
        _ => None,
    }
}

/// Appends `\uXXXX` (lowercase hex) for a code point in the BMP.
#[inline]
fn write_u_escape(out: &mut Vec<u8>, cp: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(cp >> 12 & 0xF) as usize],
        HEX[(cp >> 8 & 0xF) as usize],
        HEX[(cp >> 4 & 0xF) as usize],
        HEX[(cp & 0xF) as usize],
    ]);
}

/// Appends `s` escaped per `MODE` (without quotes).
#[inline]
fn escape<const MODE: u8>(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // `bytes[start..i]` is the run of plain bytes not yet copied.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip clean words eight bytes at a time; most log strings are plain ASCII.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let w =
                u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
            if !word_needs_attention(w) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let class = ESCAPE[b as usize];
        if class == __ {
            i += 1;
            continue;
        }
        let len = match class {
            MB => match special_char(bytes, i) {
                Some((cp, len)) => {
                    out.extend_from_slice(&bytes[start..i]);
                    write_u_escape(out, cp);
                    len
                }
                None => {
                    i += 1;
                    continue;
                }
            },
            QU | BS if MODE != JSON_STRING => {
                i += 1;
                continue;
            }
            _ if MODE == JSON_VERBATIM && b < 0x20 => {
                out.extend_from_slice(&bytes[start..i]);
                out.push(b' ');
                1
            }
            UU => {
                out.extend_from_slice(&bytes[start..i]);
                write_u_escape(out, u32::from(b));
                1
            }
            letter => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(&[b'\\', letter]);
                1
            }
        };
        i += len;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Builders of records for the renderers' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::callsite::Callsite;
    use crate::level::Level;
    use crate::record::{
        view, Encoder, FieldValue, ValueEncoder, HAS_MESSAGE, HAS_TARGET, INLINE_KEYS, STATIC_MESSAGE,
    };

    /// A value to put in a test record.
    pub(crate) type V = FieldValue<String>;

    impl FieldValue<String> {
        /// A string value.
        pub(crate) fn s(s: &str) -> V {
            FieldValue::Str(s.to_owned())
        }
    }

    /// Context bytes as `context.rs` pre-encodes them: `key:str value` entries.
    pub(crate) fn context(entries: &[(&str, V)]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (k, v) in entries {
            buf.extend_from_slice(&(k.len() as u32).to_ne_bytes());
            buf.extend_from_slice(k.as_bytes());
            v.encode(&mut ValueEncoder::new(&mut buf));
        }
        buf
    }

    /// One record with inline keys and an explicit target.
    pub(crate) fn record(
        level: Level,
        ns: u64,
        target: &str,
        message: &str,
        ctx: &[(&str, V)],
        fields: &[(&str, V)],
    ) -> Vec<u8> {
        let ctx = context(ctx);
        let mut buf = Vec::new();
        let mut enc = Encoder::begin(&mut buf, level, HAS_TARGET | HAS_MESSAGE | INLINE_KEYS, None, ns);
        enc.raw_str(target);
        enc.raw_str(message);
        enc.context(&ctx);
        for (k, v) in fields {
            enc.raw_str(k);
            v.encode(&mut enc.values());
        }
        enc.finish();
        buf
    }

    /// One record whose keys and target come from a static call site, with no message.
    pub(crate) fn callsite_record(cs: &'static Callsite, values: &[V]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut enc = Encoder::begin(&mut buf, cs.level(), 0, Some(cs), 0);
        enc.context(&[]);
        for v in values {
            v.encode(&mut enc.values());
        }
        enc.finish();
        buf
    }

    /// Like [`callsite_record`], with a message: a string literal carried by address
    /// (what `info!("literal", ...)` encodes) when `literal`, else copied.
    pub(crate) fn message_record(cs: &'static Callsite, message: &'static str, literal: bool, values: &[V]) -> Vec<u8> {
        let mut buf = Vec::new();
        let flags = if literal { HAS_MESSAGE | STATIC_MESSAGE } else { HAS_MESSAGE };
        let mut enc = Encoder::begin(&mut buf, cs.level(), flags, Some(cs), 0);
        if literal {
            enc.static_str(message);
        } else {
            enc.raw_str(message);
        }
        enc.context(&[]);
        for v in values {
            v.encode(&mut enc.values());
        }
        enc.finish();
        buf
    }

    /// Renders every record in `buf` with `f`.
    pub(crate) fn render(buf: &[u8], mut f: impl FnMut(&mut Vec<u8>, &view::RecordView<'_>)) -> String {
        let mut out = Vec::new();
        let mut n = 0;
        for rec in view::records(buf) {
            f(&mut out, &rec);
            n += 1;
        }
        assert!(n > 0, "no record decoded");
        String::from_utf8(out).expect("renderers write UTF-8")
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn nested_redaction_masks_keys_at_any_depth_and_keeps_the_rest() {
        let r = Redactor::new(["password", "token"]);
        let j = r#"{"user":"ann","password":"p\"w","deep":{"token":{"a":[1,{"b":"}"}]},"list":[{"password":1}]},"n":[1,2]}"#;
        let mut out = Vec::new();
        mask_nested(&mut out, j, &r);
        let text = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["user"], "ann");
        assert_eq!(v["password"], "***");
        assert_eq!(v["deep"]["token"], "***");
        assert_eq!(v["deep"]["list"][0]["password"], "***");
        assert_eq!(v["n"], serde_json::json!([1, 2]));
        // A string value equal to a redacted key is not a key.
        let mut out = Vec::new();
        mask_nested(&mut out, r#"["password",{"x":"token"}]"#, &r);
        assert_eq!(String::from_utf8(out).unwrap(), r#"["password",{"x":"token"}]"#);
    }

    #[test]
    fn plain_check_never_misses_a_byte_to_escape_at_any_length_or_position() {
        let mut rng = fastrand::Rng::with_seed(5);
        for n in 0..40usize {
            // Plain ASCII is recognised as plain...
            for _ in 0..50 {
                let b: Vec<u8> = (0..n).map(|_| rng.u8(0x20..0x7F)).filter(|&c| c != b'"' && c != b'\\').collect();
                assert!(is_plain(&b), "{:?}", String::from_utf8_lossy(&b));
            }
            // ...and one byte the table escapes, anywhere, is never missed.
            for at in 0..n {
                for bad in [0x00, 0x1F, b'"', b'\\', 0x7F, 0xC2, 0xD8, 0xE2] {
                    let mut b = vec![b'a'; n];
                    b[at] = bad;
                    assert!(!is_plain(&b), "byte {bad:#x} at {at} of {n}");
                }
            }
        }
    }

    use super::test_support::{callsite_record, message_record, record, render, V};
    use super::*;
    use crate::callsite::Callsite;
    use crate::level::Level;

    // 2026-11-24T07:02:51.123456789Z
    const NS: u64 = 1_795_503_771_123_456_789;

    fn json(buf: &[u8], redact: &Redactor) -> String {
        let mut ts = TimestampCache::default();
        render(buf, |out, rec| write_record(out, rec, redact, &mut ts))
    }

    fn parse(line: &str) -> serde_json::Value {
        assert!(line.ends_with('\n'), "line ends with a newline: {line:?}");
        assert_eq!(line.matches('\n').count(), 1, "exactly one newline: {line:?}");
        serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid JSON ({e}): {line:?}"))
    }

    /// The top-level keys of a one-line JSON object, in order, read from the raw text
    /// (`serde_json::Value` sorts its keys without `preserve_order`).
    fn key_order(line: &str) -> Vec<String> {
        let mut de = serde_json::Deserializer::from_str(line);
        serde::de::Deserializer::deserialize_map(&mut de, KeyOrder).expect("object")
    }

    struct KeyOrder;
    impl<'de> serde::de::Visitor<'de> for KeyOrder {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }

    fn one_string_field(s: &str) -> (String, serde_json::Value) {
        let buf = record(Level::Info, NS, "t", s, &[], &[("s", V::s(s))]);
        let line = json(&buf, &Redactor::default());
        let v = parse(&line);
        (line, v)
    }

    #[test]
    fn the_design_example_renders_byte_for_byte() {
        let buf = record(
            Level::Info,
            NS,
            "app::orders",
            "order filled",
            &[
                ("trace_id", V::s("4bf92f3577b34da6a3ce929d0e0e4736")),
                ("span_id", V::s("00f067aa0ba902b7")),
                ("user", V::s("u1")),
            ],
            &[("order_id", V::U64(42)), ("price", V::F64(1.5))],
        );
        assert_eq!(
            json(&buf, &Redactor::default()),
            concat!(
                r#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"info","event":"order filled","#,
                r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","user":"u1","#,
                r#""order_id":42,"price":1.5,"target":"app::orders"}"#,
                "\n"
            )
        );
    }

    #[test]
    fn keys_come_in_contract_order_context_before_fields_target_last() {
        let buf = record(
            Level::Warn,
            NS,
            "app",
            "",
            &[("z_ctx", V::U64(1)), ("a_ctx", V::U64(2))],
            &[("zz", V::Bool(true)), ("aa", V::Null), ("mm", V::I64(-1))],
        );
        let line = json(&buf, &Redactor::default());
        assert_eq!(key_order(&line), ["timestamp", "level", "event", "z_ctx", "a_ctx", "zz", "aa", "mm", "target"]);
        let v = parse(&line);
        assert_eq!(v["level"], "warning");
        assert_eq!(v["event"], "", "an empty message is an empty event");
        assert_eq!(v["zz"], true);
        assert_eq!(v["aa"], serde_json::Value::Null);
        assert_eq!(v["mm"], -1);
    }

    #[test]
    fn every_level_has_its_contract_name() {
        for (level, name) in [
            (Level::Trace, "trace"),
            (Level::Debug, "debug"),
            (Level::Info, "info"),
            (Level::Warn, "warning"),
            (Level::Error, "error"),
        ] {
            let buf = record(level, NS, "t", "m", &[], &[]);
            assert_eq!(parse(&json(&buf, &Redactor::default()))["level"], name);
        }
    }

    #[test]
    fn call_site_keys_and_target_are_used_when_the_record_has_none_inline() {
        static CS: Callsite = Callsite::new(Level::Debug, "app::db", "db.rs", 7, &["rows", "table"]);
        let buf = callsite_record(&CS, &[V::U64(3), V::s("users")]);
        let line = json(&buf, &Redactor::default());
        assert_eq!(key_order(&line), ["timestamp", "level", "event", "rows", "table", "target"]);
        let v = parse(&line);
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(v["rows"], 3);
        assert_eq!(v["table"], "users");
        assert_eq!(v["target"], "app::db");
    }

    #[test]
    fn a_literal_message_renders_escaped_like_a_copied_one_every_time() {
        static CS: Callsite = Callsite::new(Level::Info, "app", "a.rs", 1, &["n"]);
        const HOSTILE: &str = "say \"hi\"\n\u{202e}\\ done";
        let redact = Redactor::default();
        let mut sites = Sites::default();
        let mut ts = TimestampCache::default();
        let mut cached =
            |buf: &[u8]| render(buf, |out, rec| write_record_cached(out, rec, &mut sites, &redact, &mut ts));
        // The first record builds the call site's head, later ones reuse it, and a
        // different literal (never two at one real call site, but cheap to check) is
        // not mistaken for the cached one.
        for (i, msg) in [HOSTILE, HOSTILE, "other", HOSTILE].into_iter().enumerate() {
            let line = cached(&message_record(&CS, msg, true, &[V::U64(i as u64)]));
            let v = parse(&line);
            assert_eq!(v["event"], msg, "{line}");
            assert_eq!(v["n"], i as u64);
            assert_eq!(v["level"], "info");
            assert!(!line.contains('\u{202e}'), "bidi control left raw: {line:?}");
        }
        // Same bytes as the copied-message path.
        let literal = cached(&message_record(&CS, HOSTILE, true, &[V::U64(7)]));
        assert_eq!(literal, cached(&message_record(&CS, HOSTILE, false, &[V::U64(7)])));
    }

    #[test]
    fn short_pushes_append_exactly_the_bytes_given_at_every_length_and_fill() {
        let src: Vec<u8> = (0..40u8).map(|i| b'a' + i).collect();
        for n in 0..=40 {
            for already in [0, 1, 7, 15, 31] {
                // Tight capacities make `reserve` grow; loose ones exercise the spare room.
                for cap in [already, already + n, already + 64] {
                    let mut out = Vec::with_capacity(cap);
                    out.extend(std::iter::repeat_n(b'#', already));
                    push_short(&mut out, &src[..n]);
                    let mut want = vec![b'#'; already];
                    want.extend_from_slice(&src[..n]);
                    assert_eq!(out, want, "n {n}, {already} bytes already, capacity {cap}");
                }
            }
        }
    }

    #[test]
    fn integers_at_their_limits_are_exact() {
        let buf = record(
            Level::Info,
            NS,
            "t",
            "m",
            &[],
            &[
                ("u64max", V::U64(u64::MAX)),
                ("i64min", V::I64(i64::MIN)),
                ("u128max", V::U128(u128::MAX)),
                ("i128min", V::I128(i128::MIN)),
                ("zero", V::U64(0)),
            ],
        );
        let line = json(&buf, &Redactor::default());
        assert!(line.contains(r#""u64max":18446744073709551615,"#), "{line}");
        assert!(line.contains(r#""i64min":-9223372036854775808,"#), "{line}");
        assert!(line.contains(r#""u128max":340282366920938463463374607431768211455,"#), "{line}");
        assert!(line.contains(r#""i128min":-170141183460469231731687303715884105728,"#), "{line}");
        assert!(line.contains(r#""zero":0,"#), "{line}");
        let v = parse(&line);
        assert_eq!(v["u64max"].as_u64(), Some(u64::MAX));
        assert_eq!(v["i64min"].as_i64(), Some(i64::MIN));
    }

    #[test]
    fn floats_are_json_numbers_and_non_finite_floats_are_strings() {
        let cases = [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e16"),
            (1e-7, "1e-7"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::NAN, r#""NaN""#),
            (f64::INFINITY, r#""Infinity""#),
            (f64::NEG_INFINITY, r#""-Infinity""#),
        ];
        for (f, text) in cases {
            let buf = record(Level::Info, NS, "t", "m", &[], &[("f", V::F64(f))]);
            let line = json(&buf, &Redactor::default());
            assert!(line.contains(&format!(r#","f":{text},"#)), "{f}: {line}");
            let v = parse(&line);
            if f.is_finite() {
                assert_eq!(v["f"].as_f64(), Some(f), "{line}");
            }
        }
    }

    #[test]
    fn nested_json_values_are_written_verbatim() {
        let nested = r#"{"a":[1,2,{"b":null}],"c":"d\"e"}"#;
        let buf = record(Level::Info, NS, "t", "m", &[], &[("obj", V::Json(nested.to_owned()))]);
        let line = json(&buf, &Redactor::default());
        assert!(line.contains(&format!(",\"obj\":{nested},")), "{line}");
        assert_eq!(parse(&line)["obj"]["a"][2]["b"], serde_json::Value::Null);
        let buf = record(Level::Info, NS, "t", "m", &[], &[("empty", V::Json(" ".to_owned()))]);
        assert_eq!(parse(&json(&buf, &Redactor::default()))["empty"], serde_json::Value::Null);
    }

    #[test]
    fn nested_json_with_raw_whitespace_or_hostile_chars_stays_one_valid_line() {
        let nested = "{\n\t\"a\": \"x\u{2028}y\u{202e}z\",\r\n\"b\": [1,\n2]\n}";
        let buf = record(Level::Info, NS, "t", "m", &[], &[("obj", V::Json(nested.to_owned()))]);
        let line = json(&buf, &Redactor::default());
        let v = parse(&line);
        assert_eq!(v["obj"]["a"], "x\u{2028}y\u{202e}z");
        assert_eq!(v["obj"]["b"], serde_json::json!([1, 2]));
        assert!(!line.contains('\u{2028}') && !line.contains('\u{202e}'));
    }

    #[test]
    fn hostile_strings_round_trip_exactly_and_stay_on_one_line() {
        let all_c0: String = (0u8..0x20).map(char::from).collect();
        let cases = [
            all_c0.as_str(),
            "\"quoted\" and \\back\\slashes\\",
            "\\u0000 is not an escape here",
            "line\u{2028}sep\u{2029}para",
            "bidi \u{202e}evil\u{202c} \u{2066}iso\u{2069} \u{200e}\u{200f} \u{061c}",
            "c1 \u{80} \u{85} \u{9b}[31m \u{9f} del \u{7f}",
            "emoji 🦀👨‍👩‍👧 and accents é ß © ° ∀ — ’",
            "ANSI \u{1b}[2J\u{1b}[31mred\u{1b}[0m",
            "",
        ];
        for s in cases {
            let (line, v) = one_string_field(s);
            assert_eq!(v["s"], s, "field round-trips: {line:?}");
            assert_eq!(v["event"], s, "message round-trips: {line:?}");
            assert!(!line.trim_end_matches('\n').contains(|c: char| c.is_control()), "raw control char: {line:?}");
            for c in ['\u{2028}', '\u{2029}', '\u{202e}', '\u{2066}', '\u{200e}', '\u{061c}'] {
                assert!(!line.contains(c), "raw {c:?} in {line:?}");
            }
        }
    }

    #[test]
    fn every_char_that_needs_escaping_has_the_expected_escape() {
        let mut out = Vec::new();
        for (s, expected) in [
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{0}\u{1f}\u{7f}", r#""\u0000\u001f\u007f""#),
            ("\u{1b}[0m", r#""\u001b[0m""#),
            ("a\u{2028}b\u{2029}c", r#""a\u2028b\u2029c""#),
            (
                "\u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}",
                r#""\u200e\u200f\u202a\u202b\u202c\u202d\u202e""#,
            ),
            ("\u{2066}\u{2067}\u{2068}\u{2069}\u{061c}", r#""\u2066\u2067\u2068\u2069\u061c""#),
            ("\u{80}\u{9f}", r#""\u0080\u009f""#),
            // Neighbours of the escaped characters pass through.
            (
                "\u{a0}\u{a9}\u{2027}\u{202f}\u{2065}\u{206a}\u{200d}\u{2010}\u{061b}",
                "\"\u{a0}\u{a9}\u{2027}\u{202f}\u{2065}\u{206a}\u{200d}\u{2010}\u{061b}\"",
            ),
            ("plain ascii / é 🦀", "\"plain ascii / é 🦀\""),
        ] {
            out.clear();
            write_str(&mut out, s);
            assert_eq!(String::from_utf8_lossy(&out), expected, "escaping {s:?}");
        }
    }

    #[test]
    fn every_char_of_the_bmp_edges_round_trips() {
        // Every code point from U+0000 to U+2FFF plus a sample of astral ones, in one
        // string: whatever is or is not escaped, serde_json must read back the same text.
        let s: String = (0u32..0x3000).chain(0x1F600..0x1F650).filter_map(char::from_u32).collect();
        let (line, v) = one_string_field(&s);
        assert_eq!(v["s"].as_str(), Some(s.as_str()));
        assert!(!line.trim_end_matches('\n').contains(['\n', '\r', '\u{2028}', '\u{2029}']));
    }

    #[test]
    fn a_one_mebibyte_string_round_trips() {
        let chunk = "abc\"\\\n\u{1b}é\u{2028}🦀 ";
        let s: String = chunk.repeat((1 << 20) / chunk.len() + 1);
        let (line, v) = one_string_field(&s);
        assert!(s.len() > 1 << 20);
        assert_eq!(v["s"].as_str(), Some(s.as_str()));
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn keys_are_escaped_too() {
        let buf = record(Level::Info, NS, "ta\"rget\n", "m", &[("c\"tx\n", V::U64(1))], &[("k\u{202e}\"", V::U64(2))]);
        let line = json(&buf, &Redactor::default());
        let v = parse(&line);
        assert_eq!(v["c\"tx\n"], 1);
        assert_eq!(v["k\u{202e}\""], 2);
        assert_eq!(v["target"], "ta\"rget\n");
    }

    #[test]
    fn redacted_keys_are_masked_whatever_their_type_in_context_and_fields() {
        let redact = Redactor::new(["password", "token", "api_key"]);
        let buf = record(
            Level::Info,
            NS,
            "t",
            "login",
            &[("Token", V::s("abc")), ("user", V::s("u1"))],
            &[
                ("password", V::s("hunter2")),
                ("API_KEY", V::U64(987_654)),
                ("token", V::Json(r#"{"a":1}"#.to_owned())),
                ("password", V::F64(f64::NAN)),
                ("ok", V::Bool(true)),
            ],
        );
        let line = json(&buf, &redact);
        assert!(!line.contains("hunter2") && !line.contains("987654") && !line.contains("abc"), "{line}");
        assert_eq!(line.matches(r#""***""#).count(), 5, "{line}");
        let v = parse(&line);
        assert_eq!(v["Token"], "***");
        assert_eq!(v["API_KEY"], "***");
        assert_eq!(v["user"], "u1");
        assert_eq!(v["ok"], true);
    }

    #[test]
    fn several_records_render_as_several_lines_and_reuse_the_timestamp_cache() {
        let mut buf = record(Level::Info, NS, "t", "one", &[], &[]);
        buf.extend(record(Level::Error, NS + 1_000, "t", "two", &[], &[]));
        buf.extend(record(Level::Debug, NS + 1_000_000_000, "t", "three", &[], &[]));
        let out = json(&buf, &Redactor::default());
        let lines: Vec<_> = out.split_inclusive('\n').collect();
        assert_eq!(lines.len(), 3);
        let ts: Vec<_> = lines.iter().map(|l| parse(l)["timestamp"].as_str().map(str::to_owned)).collect();
        assert_eq!(
            ts,
            [
                Some("2026-11-24T07:02:51.123456Z".to_owned()),
                Some("2026-11-24T07:02:51.123457Z".to_owned()),
                Some("2026-11-24T07:02:52.123456Z".to_owned())
            ]
        );
    }
}
