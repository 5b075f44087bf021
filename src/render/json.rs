//! JSON line rendering: one object per record, keys in the contract's order
//! (`timestamp`, `level`, `event`, context, fields, `target`), one `\n` at the end.
//!
//! This is the writer thread's hot loop, so nothing here allocates or goes through
//! `fmt`: numbers through `itoa` / `ryu` stack buffers, strings through the escaper in
//! `escape.rs`.

pub(crate) use super::escape::write_str;
use super::escape::{self, push_short};
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

/// Appends the context entries (`,"key":value` each), each key once, with the
/// innermost value at the innermost place ([`super::unshadowed_context`]).
fn write_context(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor) {
    super::unshadowed_context(rec, |key, value| write_member(out, key, value, redact));
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
            escape::write_verbatim(out, j);
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
            escape::write_verbatim(out, std::str::from_utf8(&masked).unwrap_or("null"));
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

    /// The context of 10 000 nested spans that each bind a key of their own, every tenth
    /// also rebinding `depth`.
    fn deep_context() -> (Vec<(String, V)>, usize) {
        let mut ctx = Vec::new();
        for i in 0..10_000u64 {
            ctx.push((format!("k{i}"), V::U64(i)));
            if i % 10 == 0 {
                ctx.push(("depth".to_owned(), V::U64(i)));
            }
        }
        let n = ctx.len();
        (ctx, n)
    }

    #[test]
    fn a_deep_context_renders_each_key_once_and_decodes_each_entry_once() {
        let (ctx, n) = deep_context();
        let entries: Vec<(&str, V)> = ctx.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let buf = record(Level::Info, NS, "app", "deep", &entries, &[]);
        let before = crate::record::view::decoded_entries();
        let line = json(&buf, &Redactor::default());
        let decoded = crate::record::view::decoded_entries() - before;
        assert!(decoded <= 2 * n as u64 + 32, "{decoded} entries decoded for a context of {n}: not linear");
        let keys = key_order(&line);
        let mut want: Vec<String> = ["timestamp", "level", "event"].map(String::from).to_vec();
        for i in 0..10_000 {
            want.push(format!("k{i}"));
            if i == 9_990 {
                want.push("depth".to_owned()); // the innermost binding's place
            }
        }
        want.push("target".to_owned());
        assert_eq!(keys, want);
        let v = parse(&line);
        assert_eq!(
            (&v["k0"], &v["k9999"], &v["depth"]),
            (&serde_json::Value::from(0), &serde_json::Value::from(9_999), &serde_json::Value::from(9_990))
        );
        // The cached path (the writer's) renders the same.
        let mut sites = Sites::default();
        let mut ts = TimestampCache::default();
        let cached = render(&buf, |out, rec| write_record_cached(out, rec, &mut sites, &Redactor::default(), &mut ts));
        assert_eq!(cached, line);
    }

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
