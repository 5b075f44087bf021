//! Human console rendering for the `dev` profile: one aligned line per record.
//!
//! ```text
//! 07:02:51.123 INFO  order filled                 user=u1 order_id=42 price=1.5 trace=4bf92f35 app::orders
//! 07:02:51.123 INFO  START handle                 user=u1 trace=4bf92f35 app::orders
//! 07:02:51.125 INFO  END handle 2.013ms success   user=u1 trace=4bf92f35 app::orders
//! ```
//!
//! Layout: time of day (UTC), level padded to 5, the message padded to 28 columns when
//! `key=value` pairs follow, the bound context keys (without the ids), the record's
//! fields, `trace=` with the first 8 hex digits of the trace id, then the target.
//!
//! Whatever a string holds, the line stays one line and cannot drive the terminal:
//! control characters (ESC included), DEL, C1 controls, U+2028/2029 and the bidi
//! controls are escaped (`\n`, `\u001b`, `\u202e`) everywhere — message, keys, values,
//! target. Without colour the output holds no ESC byte at all.

use super::escape::{write_str, write_text};
use super::time::TimestampCache;
use super::value::{self, Spelling};
use super::Redactor;
use crate::level::Level;
use crate::record::{FieldValue, RecordView};

/// The message is padded to this many columns (chars) when `key=value` pairs follow.
const MESSAGE_COLUMNS: usize = 28;

/// Context keys shown only through `trace=` (or not at all) on the console.
const TRACE_ID: &str = "trace_id";
const SPAN_ID: &str = "span_id";
const PARENT_SPAN_ID: &str = "parent_span_id";
/// Hex digits of the trace id shown after `trace=`.
const TRACE_PREFIX: usize = 8;

/// The fields of a span's `END` record that its summary shows.
const END_MESSAGE: &str = "END";
const END_SPAN: &str = "span";
const END_DUR: &str = "dur_ms";
const END_STATUS: &str = "status";
/// A span's `START` record shows as `START <span>`.
const START_MESSAGE: &str = "START";
/// Where an error's details are: an `END`'s, a panic record's.
const EXC_INFO: &str = "exc_info";
/// The message of the record the panic hook logs.
const PANIC_MESSAGE: &str = "panic";

const RESET: &[u8] = b"\x1b[0m";
const DIM: &[u8] = b"\x1b[2m";
const RED_BOLD: &[u8] = b"\x1b[1;31m";
const RED: &[u8] = b"\x1b[31m";
const YELLOW: &[u8] = b"\x1b[33m";
const GREEN: &[u8] = b"\x1b[32m";
const BLUE: &[u8] = b"\x1b[34m";
const MAGENTA: &[u8] = b"\x1b[35m";

/// Appends `rec` as one human-readable line and a `\n` to `out`; ANSI colours when
/// `color` is true.
pub(crate) fn write_record(
    out: &mut Vec<u8>,
    rec: &RecordView<'_>,
    redact: &Redactor,
    color: bool,
    ts: &mut TimestampCache,
) {
    ts.write_time_of_day(out, rec.timestamp_ns);
    out.push(b' ');
    let (name, style) = level_style(rec.level);
    paint(out, color, style, name);
    out.push(b' ');

    let message_at = out.len();
    let mut hidden = 0; // bytes of ANSI codes inside the message part
    let end = span_end(rec, redact);
    let start = if end.is_none() { span_start(rec, redact) } else { None };
    // A panic is said once, readably: the panic record as `panic: <message>` with its
    // location and thread, an END it ended as `panic=<message>`; neither repeats the
    // backtrace, which the file keeps whole (and Rust's own panic message prints under
    // `RUST_BACKTRACE=1`).
    let panic = exc_info(rec, redact).and_then(Panic::read);
    let panic_record = panic.is_some() && end.is_none() && rec.message == PANIC_MESSAGE;
    match (&end, start) {
        (Some(end), _) => hidden += write_end_summary(out, end, color),
        (None, Some(span)) => {
            out.extend_from_slice(b"START ");
            write_text(out, span);
        }
        (None, None) if panic_record => {
            out.extend_from_slice(b"panic: ");
            write_text(out, panic.as_ref().map_or("", |p| &p.message));
        }
        (None, None) => write_text(out, rec.message),
    }
    let width = message_columns(&out[message_at..]).saturating_sub(hidden);
    let mut line = Line { out, color, pad_to: Some(width) };

    let mut trace_id = None;
    // A key bound again by an inner span appears once, as in the JSON line.
    super::unshadowed_context(rec, |key, value| match key {
        TRACE_ID => trace_id = Some(value),
        SPAN_ID | PARENT_SPAN_ID => {}
        _ => line.pair(key, value, redact),
    });
    for (key, value) in rec.fields() {
        if end.is_some() && matches!(key, END_SPAN | END_DUR | END_STATUS) {
            continue;
        }
        if start.is_some() && key == END_SPAN {
            continue;
        }
        if let (EXC_INFO, Some(p)) = (key, &panic) {
            if !panic_record {
                line.pair("panic", FieldValue::Str(&p.message), redact);
            }
            if panic_record && !p.location.is_empty() {
                line.pair("at", FieldValue::Str(&p.location), redact);
            }
            if panic_record && !p.thread.is_empty() {
                line.pair("thread", FieldValue::Str(&p.thread), redact);
            }
            continue;
        }
        line.pair(key, value, redact);
    }
    let out = line.out;
    if let Some(id) = trace_id {
        out.push(b' ');
        paint(out, color, DIM, b"trace=");
        if redact.is_redacted(TRACE_ID) {
            out.extend_from_slice(b"***");
        } else if let FieldValue::Str(s) = id {
            write_text(out, prefix(s, TRACE_PREFIX));
        } else {
            write_bare_value(out, id);
        }
    }
    if !rec.target.is_empty() {
        out.push(b' ');
        if color {
            out.extend_from_slice(DIM);
        }
        write_text(out, rec.target);
        if color {
            out.extend_from_slice(RESET);
        }
    }
    out.push(b'\n');
}

/// The `key=value` part of a line; pads the message the first time a pair is written.
struct Line<'o> {
    out: &'o mut Vec<u8>,
    color: bool,
    /// The message's width, until the first pair pads it.
    pad_to: Option<usize>,
}

impl Line<'_> {
    #[inline]
    fn pair(&mut self, key: &str, value: FieldValue<&str>, redact: &Redactor) {
        let out = &mut *self.out;
        if let Some(width) = self.pad_to.take() {
            out.resize(out.len() + MESSAGE_COLUMNS.saturating_sub(width), b' ');
        }
        out.push(b' ');
        if self.color {
            out.extend_from_slice(DIM);
        }
        write_text(out, key);
        out.push(b'=');
        if self.color {
            out.extend_from_slice(RESET);
        }
        if redact.is_redacted(key) {
            out.extend_from_slice(b"***");
        } else if let (FieldValue::Json(j), false) = (value, redact.is_empty()) {
            let mut masked = Vec::new();
            crate::render::json::mask_nested(&mut masked, j, redact);
            write_text(out, std::str::from_utf8(&masked).unwrap_or(""));
        } else {
            write_bare_value(out, value);
        }
    }
}

/// What an `END` record's summary shows.
struct SpanEnd<'a> {
    span: &'a str,
    dur_ms: FieldValue<&'a str>,
    status: &'a str,
}

/// The summary of a span's `END` record: message `END` with a string `span`, a numeric
/// `dur_ms` and a string `status`, none of them redacted. Anything else renders as a
/// plain record.
fn span_end<'a>(rec: &RecordView<'a>, redact: &Redactor) -> Option<SpanEnd<'a>> {
    if rec.message != END_MESSAGE {
        return None;
    }
    let (mut span, mut dur_ms, mut status) = (None, None, None);
    for (key, value) in rec.fields() {
        match (key, value) {
            (END_SPAN, FieldValue::Str(s)) if span.is_none() => span = Some(s),
            (END_DUR, FieldValue::F64(_) | FieldValue::U64(_) | FieldValue::I64(_)) if dur_ms.is_none() => {
                dur_ms = Some(value)
            }
            (END_STATUS, FieldValue::Str(s)) if status.is_none() => status = Some(s),
            _ => {}
        }
    }
    if [END_SPAN, END_DUR, END_STATUS].iter().any(|k| redact.is_redacted(k)) {
        return None;
    }
    Some(SpanEnd { span: span?, dur_ms: dur_ms?, status: status? })
}

/// The span name of a `START` record (message `START`, a string `span` not redacted).
fn span_start<'a>(rec: &RecordView<'a>, redact: &Redactor) -> Option<&'a str> {
    if rec.message != START_MESSAGE || redact.is_redacted(END_SPAN) {
        return None;
    }
    rec.fields().find_map(|(k, v)| match (k, v) {
        (END_SPAN, FieldValue::Str(s)) => Some(s),
        _ => None,
    })
}

/// A record's `exc_info` (nested JSON, not redacted).
fn exc_info<'a>(rec: &RecordView<'a>, redact: &Redactor) -> Option<&'a str> {
    if redact.is_redacted(EXC_INFO) {
        return None;
    }
    rec.fields().find_map(|(k, v)| match (k, v) {
        (EXC_INFO, FieldValue::Json(j)) => Some(j),
        _ => None,
    })
}

/// What the console shows of a panic's `exc_info`
/// (`{"type":"panic","message":..,"location":..,"thread":..,"backtrace":..}`).
#[derive(Debug, Default, PartialEq)]
struct Panic {
    message: String,
    location: String,
    thread: String,
}

impl Panic {
    /// The panic in `j`, if `j` is an object whose `type` is `"panic"`.
    fn read(j: &str) -> Option<Panic> {
        let mut p = Panic::default();
        let mut is_panic = false;
        for (key, value) in string_members(j)? {
            match key.as_str() {
                "type" => is_panic = value == "panic",
                "message" => p.message = value,
                "location" => p.location = value,
                "thread" => p.thread = value,
                _ => {}
            }
        }
        is_panic.then_some(p)
    }
}

/// The members of the JSON object `j` whose values are strings, decoded (others are
/// skipped); `None` if `j` is not an object logkit wrote.
fn string_members(j: &str) -> Option<Vec<(String, String)>> {
    let b = j.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'}') => return Some(out),
            Some(b',') => i += 1,
            Some(b'"') => {
                let (key, after) = json_string(b, i)?;
                i = skip_ws(b, after);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b'"') {
                    let (value, after) = json_string(b, i)?;
                    out.push((key, value));
                    i = after;
                } else {
                    i = skip_json_value(b, i)?;
                }
            }
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The JSON string starting at `b[i]` (a `"`), decoded, and the index after it.
fn json_string(b: &[u8], i: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut k = i + 1;
    let mut run = k; // start of the bytes not yet copied
    let hex4 = |k: usize| -> Option<u32> { u32::from_str_radix(std::str::from_utf8(b.get(k..k + 4)?).ok()?, 16).ok() };
    loop {
        match *b.get(k)? {
            b'"' => {
                out.push_str(std::str::from_utf8(&b[run..k]).ok()?);
                return Some((out, k + 1));
            }
            b'\\' => {
                out.push_str(std::str::from_utf8(&b[run..k]).ok()?);
                let esc = *b.get(k + 1)?;
                k += 2;
                match esc {
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'u' => {
                        let mut cp = hex4(k)?;
                        k += 4;
                        if (0xD800..0xDC00).contains(&cp) && b.get(k..k + 2) == Some(b"\\u") {
                            let lo = hex4(k + 2)?;
                            if (0xDC00..0xE000).contains(&lo) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                k += 6;
                            }
                        }
                        out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                    }
                    c => out.push(c as char),
                }
                run = k;
            }
            _ => k += 1,
        }
    }
}

/// The index after the JSON value (not a string) starting at `b[i]`.
fn skip_json_value(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = i;
    loop {
        match *b.get(k)? {
            b'"' => k = json_string(b, k)?.1,
            b'{' | b'[' => {
                depth += 1;
                k += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                k += 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            b',' | b'}' | b']' if depth == 0 => return Some(k),
            _ => k += 1,
        }
    }
}

/// Writes `END <span> <dur_ms>ms <status>`; returns the number of ANSI bytes written.
fn write_end_summary(out: &mut Vec<u8>, end: &SpanEnd<'_>, color: bool) -> usize {
    out.extend_from_slice(b"END ");
    write_text(out, end.span);
    out.push(b' ');
    match end.dur_ms {
        FieldValue::F64(ms) => write_millis(out, ms),
        other => write_bare_value(out, other),
    }
    out.extend_from_slice(b"ms ");
    let style = match end.status {
        "success" => Some(GREEN),
        "error" => Some(RED),
        _ => None,
    };
    match style {
        Some(style) if color => {
            out.extend_from_slice(style);
            write_text(out, end.status);
            out.extend_from_slice(RESET);
            style.len() + RESET.len()
        }
        _ => {
            write_text(out, end.status);
            0
        }
    }
}

/// A duration in milliseconds with exactly three decimals (microseconds): `2.013`.
#[inline]
fn write_millis(out: &mut Vec<u8>, ms: f64) {
    // Beyond 2^53 µs the fixed form has no exact digits left; fall back to ryu.
    if !(0.0..9.0e12).contains(&ms) {
        return write_bare_value(out, FieldValue::F64(ms));
    }
    let micros = (ms * 1000.0).round() as u64;
    out.extend_from_slice(itoa::Buffer::new().format(micros / 1000).as_bytes());
    let frac = micros % 1000;
    out.extend_from_slice(&[b'.', b'0' + (frac / 100) as u8, b'0' + (frac / 10 % 10) as u8, b'0' + (frac % 10) as u8]);
}

/// `(name padded to 5, colour)` of a level.
#[inline]
fn level_style(level: Level) -> (&'static [u8], &'static [u8]) {
    match level {
        Level::Error => (b"ERROR", RED_BOLD),
        Level::Warn => (b"WARN ", YELLOW),
        Level::Info => (b"INFO ", GREEN),
        Level::Debug => (b"DEBUG", BLUE),
        Level::Trace => (b"TRACE", MAGENTA),
    }
}

/// Appends `text` (trusted ASCII), in `style` when `color`.
#[inline]
fn paint(out: &mut Vec<u8>, color: bool, style: &[u8], text: &[u8]) {
    if color {
        out.extend_from_slice(style);
        out.extend_from_slice(text);
        out.extend_from_slice(RESET);
    } else {
        out.extend_from_slice(text);
    }
}

/// Columns taken by rendered text: its chars (UTF-8 lead bytes).
#[inline]
fn message_columns(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// The first `n` chars of `s`.
#[inline]
fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The console's spelling of a value: numbers, bools and `null` as in JSON
/// (non-finite floats as `NaN`, `inf`, `-inf`), plain strings bare, other strings
/// quoted and escaped, nested JSON as text with its control characters escaped.
struct Console;

impl Spelling for Console {
    const NON_FINITE: [&'static [u8]; 3] = [b"NaN", b"inf", b"-inf"];

    #[inline]
    fn str(out: &mut Vec<u8>, s: &str) {
        if is_bare(s) {
            out.extend_from_slice(s.as_bytes());
        } else {
            write_str(out, s);
        }
    }

    #[inline]
    fn json(out: &mut Vec<u8>, j: &str) {
        write_text(out, j);
    }
}

/// A value on the console, as [`Console`] spells it.
#[inline]
fn write_bare_value(out: &mut Vec<u8>, value: FieldValue<&str>) {
    value::write::<Console>(out, value);
}

/// Whether `s` can be written without quotes: non-empty, only printable non-space
/// characters, no `"`, `=` or `\`, and nothing the escaper would escape.
#[inline]
fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| match c {
            '!'..='~' => !matches!(c, '"' | '=' | '\\'),
            '\0'..='\u{7f}' => false,
            _ => !c.is_control() && !c.is_whitespace() && !is_bidi_control(c),
        })
}

/// The characters that reorder displayed text (the "Trojan Source" set).
#[inline]
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::super::json::test_support::{record, render, V};
    use super::*;

    // 2026-11-24T07:02:51.123456789Z
    const NS: u64 = 1_795_503_771_123_456_789;
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn pretty(buf: &[u8], redact: &Redactor, color: bool) -> String {
        let mut ts = TimestampCache::default();
        render(buf, |out, rec| write_record(out, rec, redact, color, &mut ts))
    }

    fn plain(buf: &[u8]) -> String {
        pretty(buf, &Redactor::default(), false)
    }

    /// Asserts `line` is one line with no raw control character, no ESC, no U+2028/2029
    /// and no bidi control.
    fn assert_inert(line: &str) {
        let body = line.strip_suffix('\n').expect("ends with a newline");
        for c in body.chars() {
            assert!(
                !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}') && !is_bidi_control(c),
                "raw {c:?} in {line:?}"
            );
        }
    }

    fn order_record() -> Vec<u8> {
        record(
            Level::Info,
            NS,
            "app::orders",
            "order filled",
            &[
                (TRACE_ID, V::s(TRACE)),
                (SPAN_ID, V::s("00f067aa0ba902b7")),
                (PARENT_SPAN_ID, V::s("00f067aa0ba902b6")),
                ("user", V::s("u1")),
            ],
            &[("order_id", V::U64(42)), ("price", V::F64(1.5)), ("symbol", V::s("BTC")), ("ok", V::Bool(true))],
        )
    }

    #[test]
    fn a_record_renders_time_level_padded_message_context_fields_trace_and_target() {
        assert_eq!(
            plain(&order_record()),
            "07:02:51.123 INFO  order filled                 user=u1 order_id=42 price=1.5 symbol=BTC ok=true \
             trace=4bf92f35 app::orders\n"
        );
    }

    #[test]
    fn a_deep_context_shows_each_key_once_and_decodes_each_entry_once() {
        // 10 000 nested spans, each binding a key of its own and rebinding `depth`.
        let mut ctx = Vec::new();
        for i in 0..10_000u64 {
            ctx.push((format!("k{i}"), V::U64(i)));
            ctx.push(("depth".to_owned(), V::U64(i)));
        }
        let entries: Vec<(&str, V)> = ctx.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let buf = record(Level::Info, NS, "app", "deep", &entries, &[]);
        let before = crate::record::view::decoded_entries();
        let line = plain(&buf);
        let decoded = crate::record::view::decoded_entries() - before;
        assert!(
            decoded <= 2 * entries.len() as u64 + 32,
            "{decoded} entries decoded for {}: not linear",
            entries.len()
        );
        assert_eq!(line.matches("depth=").count(), 1, "{line}");
        assert!(line.contains(" k0=0 ") && line.contains(" k9999=9999 depth=9999 app\n"), "{line}");
    }

    #[test]
    fn levels_are_upper_case_and_padded_to_five() {
        for (level, name) in [
            (Level::Trace, "TRACE "),
            (Level::Debug, "DEBUG "),
            (Level::Info, "INFO  "),
            (Level::Warn, "WARN  "),
            (Level::Error, "ERROR "),
        ] {
            let line = plain(&record(level, NS, "t", "m", &[], &[]));
            assert_eq!(line, format!("07:02:51.123 {name}m t\n"));
        }
    }

    #[test]
    fn the_message_is_padded_only_when_pairs_follow_and_long_messages_are_not_cut() {
        let no_pairs = plain(&record(Level::Info, NS, "t", "short", &[(TRACE_ID, V::s(TRACE))], &[]));
        assert_eq!(no_pairs, "07:02:51.123 INFO  short trace=4bf92f35 t\n");

        let long = "a message that is longer than twenty-eight columns";
        let line = plain(&record(Level::Info, NS, "t", long, &[], &[("n", V::U64(1))]));
        assert_eq!(line, format!("07:02:51.123 INFO  {long} n=1 t\n"));

        // Columns are chars, not bytes.
        let line = plain(&record(Level::Info, NS, "t", "héllo 🦀", &[], &[("n", V::U64(1))]));
        assert_eq!(line, format!("07:02:51.123 INFO  héllo 🦀{} n=1 t\n", " ".repeat(MESSAGE_COLUMNS - 7)));

        let line = plain(&record(Level::Info, NS, "t", "", &[], &[("n", V::U64(1))]));
        assert_eq!(line, format!("07:02:51.123 INFO  {} n=1 t\n", " ".repeat(MESSAGE_COLUMNS)));
    }

    #[test]
    fn values_render_bare_when_plain_and_quoted_otherwise() {
        let line = plain(&record(
            Level::Info,
            NS,
            "t",
            "m",
            &[],
            &[
                ("a", V::s("plain-value/é")),
                ("b", V::s("two words")),
                ("c", V::s("")),
                ("d", V::s("k=v")),
                ("e", V::s("say \"hi\"")),
                ("f", V::s("back\\slash")),
                ("g", V::Null),
                ("h", V::I64(-7)),
                ("i", V::U128(u128::MAX)),
                ("j", V::F64(f64::NAN)),
                ("k", V::F64(f64::NEG_INFINITY)),
                ("l", V::Json(r#"{"x":[1,2]}"#.to_owned())),
                ("m", V::s("tab\there")),
            ],
        ));
        let expected = concat!(
            r#" a=plain-value/é b="two words" c="" d="k=v" e="say \"hi\"" f="back\\slash" g=null h=-7"#,
            r#" i=340282366920938463463374607431768211455 j=NaN k=-inf l={"x":[1,2]} m="tab\there" t"#,
            "\n"
        );
        assert!(line.ends_with(expected), "{line}");
    }

    #[test]
    fn a_finite_float_has_the_same_digits_on_the_console_as_in_the_json_line() {
        for f in [1.5, 1.5e-5, 0.1, 100.0, -2.25, 1e16, 1e-7, 123_456.789, f64::MAX] {
            let mut console = Vec::new();
            write_bare_value(&mut console, FieldValue::F64(f));
            let mut json = Vec::new();
            crate::render::json::write_value(&mut json, FieldValue::F64(f));
            assert_eq!(console, json, "{f:?}");
        }
    }

    #[test]
    fn span_end_records_render_as_a_readable_summary() {
        let buf = record(
            Level::Info,
            NS,
            "app::orders",
            "END",
            &[(TRACE_ID, V::s(TRACE)), ("user", V::s("u1"))],
            &[("span", V::s("handle")), ("dur_ms", V::F64(2.0134)), ("status", V::s("success"))],
        );
        assert_eq!(plain(&buf), "07:02:51.123 INFO  END handle 2.013ms success   user=u1 trace=4bf92f35 app::orders\n");
        let colored = pretty(&buf, &Redactor::default(), true);
        assert!(colored.contains("\x1b[32msuccess\x1b[0m"), "{colored:?}");
        // Padding ignores the colour codes.
        assert!(colored.contains("success\x1b[0m   \x1b[2muser=\x1b[0mu1"), "{colored:?}");
    }

    #[test]
    fn span_start_records_render_as_start_and_the_span_name() {
        let buf = record(
            Level::Info,
            NS,
            "app::orders",
            "START",
            &[(TRACE_ID, V::s(TRACE)), ("user", V::s("u1"))],
            &[("span", V::s("handle"))],
        );
        assert_eq!(
            plain(&buf),
            format!(
                "07:02:51.123 INFO  START handle{} user=u1 trace=4bf92f35 app::orders\n",
                " ".repeat(MESSAGE_COLUMNS - 12)
            )
        );
    }

    #[test]
    fn failed_span_end_records_show_the_error_status_in_red_and_the_remaining_fields() {
        let buf = record(
            Level::Error,
            NS,
            "app",
            "END",
            &[],
            &[
                ("span", V::s("reindex")),
                ("dur_ms", V::F64(1234.5)),
                ("status", V::s("error")),
                ("exc_info", V::s("disk full\ncaused by: ENOSPC")),
            ],
        );
        let line = plain(&buf);
        assert_eq!(
            line,
            "07:02:51.123 ERROR END reindex 1234.500ms error exc_info=\"disk full\\ncaused by: ENOSPC\" app\n"
        );
        let colored = pretty(&buf, &Redactor::default(), true);
        assert!(colored.contains("\x1b[31merror\x1b[0m"), "{colored:?}");
    }

    #[test]
    fn an_end_message_without_span_fields_renders_as_a_plain_record() {
        let line = plain(&record(Level::Info, NS, "t", "END", &[], &[("span", V::s("x"))]));
        assert_eq!(line, format!("07:02:51.123 INFO  END{} span=x t\n", " ".repeat(MESSAGE_COLUMNS - 3)));
    }

    #[test]
    fn hostile_strings_cannot_break_the_line_drive_the_terminal_or_reorder_text() {
        let hostile = [
            "two\nlines",
            "carriage\rreturn",
            "\u{1b}[2J\u{1b}[31mclear and red",
            "\u{1b}]0;title\u{7}",
            "del\u{7f} c1\u{9b}31m nel\u{85}",
            "line\u{2028}sep\u{2029}para",
            "bidi \u{202e}evil\u{202c} \u{2066}x\u{2069} \u{200f} \u{061c}",
            "nul\0 bell\u{7} bs\u{8} vt\u{b} ff\u{c}",
        ];
        for s in hostile {
            let buf = record(Level::Warn, NS, s, s, &[(s, V::s(s))], &[(s, V::s(s)), ("j", V::Json(s.to_owned()))]);
            let line = plain(&buf);
            assert_inert(&line);
            assert!(!line.as_bytes().contains(&0x1b), "ESC in {line:?}");
            assert_eq!(line.matches('\n').count(), 1);
            let colored = pretty(&buf, &Redactor::default(), true);
            assert_inert(&colored.replace('\u{1b}', ""));
            // Every ESC in colour mode starts one of our own SGR sequences.
            for (i, _) in colored.match_indices('\u{1b}') {
                let rest = &colored[i + 1..];
                assert!(rest.starts_with('[') && rest[1..].find('m').is_some_and(|m| m <= 4), "{colored:?}");
                assert!(rest[1..].chars().take_while(|&c| c != 'm').all(|c| c.is_ascii_digit() || c == ';'));
            }
        }
        let line = plain(&record(Level::Info, NS, "t", "a\nb\u{1b}[0m\u{202e}", &[], &[]));
        assert_eq!(line, "07:02:51.123 INFO  a\\nb\\u001b[0m\\u202e t\n");
    }

    #[test]
    fn without_colour_there_is_no_escape_byte_and_with_colour_levels_keys_and_target_are_styled() {
        let buf = order_record();
        assert!(!plain(&buf).as_bytes().contains(&0x1b));
        let colored = pretty(&buf, &Redactor::default(), true);
        assert!(colored.starts_with("07:02:51.123 \x1b[32mINFO \x1b[0m order filled"), "{colored:?}");
        assert!(colored.contains(" \x1b[2muser=\x1b[0mu1 \x1b[2morder_id=\x1b[0m42"), "{colored:?}");
        assert!(colored.ends_with(" \x1b[2mtrace=\x1b[0m4bf92f35 \x1b[2mapp::orders\x1b[0m\n"), "{colored:?}");
        for (level, code) in [
            (Level::Error, "\x1b[1;31mERROR\x1b[0m"),
            (Level::Warn, "\x1b[33mWARN \x1b[0m"),
            (Level::Debug, "\x1b[34mDEBUG\x1b[0m"),
            (Level::Trace, "\x1b[35mTRACE\x1b[0m"),
        ] {
            let line = pretty(&record(level, NS, "t", "m", &[], &[]), &Redactor::default(), true);
            assert!(line.contains(code), "{line:?}");
        }
    }

    #[test]
    fn redacted_keys_show_stars_in_context_and_fields() {
        let redact = Redactor::new(["password", "token"]);
        let buf = record(
            Level::Info,
            NS,
            "t",
            "login",
            &[("token", V::s("abc")), ("user", V::s("u1"))],
            &[("PASSWORD", V::s("hunter2")), ("pin", V::U64(1234)), ("token", V::F64(1.5))],
        );
        let line = pretty(&buf, &redact, false);
        assert!(!line.contains("abc") && !line.contains("hunter2") && !line.contains("1.5"), "{line}");
        assert!(line.contains(" token=*** user=u1 PASSWORD=*** pin=1234 token=*** t\n"), "{line}");
    }

    #[test]
    fn a_non_string_or_short_trace_id_still_renders() {
        let line = plain(&record(Level::Info, NS, "t", "m", &[(TRACE_ID, V::s("abc"))], &[]));
        assert_eq!(line, "07:02:51.123 INFO  m trace=abc t\n");
        let line = plain(&record(Level::Info, NS, "t", "m", &[(TRACE_ID, V::U64(7))], &[]));
        assert_eq!(line, "07:02:51.123 INFO  m trace=7 t\n");
    }

    #[test]
    fn durations_have_exactly_three_decimals() {
        for (ms, text) in
            [(0.0, "0.000"), (0.001, "0.001"), (2.0134, "2.013"), (1.9996, "2.000"), (60000.0, "60000.000")]
        {
            let mut out = Vec::new();
            write_millis(&mut out, ms);
            assert_eq!(String::from_utf8_lossy(&out), text);
        }
        let mut out = Vec::new();
        write_millis(&mut out, f64::NAN);
        assert_eq!(out, b"NaN");
    }

    /// A panic's `exc_info` as the panic hook writes it.
    const PANIC_EXC: &str = r#"{"type":"panic","message":"index out of date","location":"src/jobs.rs:26:9","thread":"worker-1","backtrace":"   0: std::backtrace::Backtrace::force_capture\n             at /rustc/x/library/std/src/backtrace.rs:312:13\n   1: app::reindex\n"}"#;

    #[test]
    fn a_panic_is_said_once_on_the_console_readably_and_without_its_backtrace() {
        let ctx = [(TRACE_ID, V::s(TRACE)), ("shard", V::U64(3))];
        let exc = ("exc_info", V::Json(PANIC_EXC.to_owned()));
        let panic = plain(&record(Level::Error, NS, "logkit::panic", "panic", &ctx, std::slice::from_ref(&exc)));
        assert_eq!(
            panic,
            "07:02:51.123 ERROR panic: index out of date     shard=3 at=src/jobs.rs:26:9 thread=worker-1 \
             trace=4bf92f35 logkit::panic\n"
        );
        let end = plain(&record(
            Level::Error,
            NS,
            "app::jobs",
            "END",
            &ctx,
            &[("span", V::s("reindex")), ("dur_ms", V::F64(0.081)), ("status", V::s("error")), exc],
        ));
        assert_eq!(
            end,
            "07:02:51.123 ERROR END reindex 0.081ms error    shard=3 panic=\"index out of date\" trace=4bf92f35 \
             app::jobs\n"
        );
        for line in [&panic, &end] {
            assert!(!line.contains("backtrace") && !line.contains("\\n"), "{line}");
        }
    }

    #[test]
    fn an_error_that_is_not_a_panic_keeps_its_exc_info_on_the_console() {
        let exc = r#"{"type":"io::Error","message":"disk gone","chain":[]}"#;
        let end = plain(&record(
            Level::Error,
            NS,
            "app",
            "END",
            &[],
            &[
                ("span", V::s("load")),
                ("dur_ms", V::F64(1.0)),
                ("status", V::s("error")),
                ("exc_info", V::Json(exc.to_owned())),
            ],
        ));
        assert!(end.contains(&format!("exc_info={exc}")), "{end}");
    }

    #[test]
    fn a_panics_message_is_decoded_from_its_json_then_escaped_for_the_console() {
        let j =
            r#"{"type":"panic","message":"a \"quoted\"\nline \u00e9 \ud83e\udd80","n":[1,{"x":"}"}],"location":"l"}"#;
        let p = Panic::read(j).expect("a panic");
        assert_eq!(p.message, "a \"quoted\"\nline é 🦀");
        assert_eq!(p.location, "l");
        assert_eq!(Panic::read(r#"{"type":"io::Error","message":"m"}"#), None);
        assert_eq!(Panic::read("not json"), None);
        let line =
            plain(&record(Level::Error, NS, "logkit::panic", "panic", &[], &[("exc_info", V::Json(j.to_owned()))]));
        assert!(line.starts_with("07:02:51.123 ERROR panic: a \"quoted\"\\nline é 🦀"), "{line}");
        assert_inert(&line);
    }
}
