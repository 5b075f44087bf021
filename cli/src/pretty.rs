//! The console's `dev` rendering of a record, from its JSON line; and `exc_info`
//! rendered for a person.
//!
//! ```text
//! 07:02:51.123 INFO  order filled                 user=u1 order_id=42 trace=4bf92f35 app::orders
//! 07:02:51.125 INFO  END handle 2.013ms success   user=u1 trace=4bf92f35 app::orders
//! ```
//!
//! The same layout as logkit's console: time of day (UTC), level padded to 5, the
//! message padded to 28 columns when `key=value` pairs follow, the record's keys in line
//! order (the bound context, then its fields; `span_id` and `parent_span_id` left out),
//! `trace=` with the first 8 hex digits, then the target.

use crate::escape::{self, paint, DIM, GREEN, RED};
use crate::record::{as_str, Level, Record};
use serde_json::value::RawValue;

const MESSAGE_COLUMNS: usize = 28;
const TRACE_PREFIX: usize = 8;
/// Keys the line shows in its own places (or not at all).
const HEAD_KEYS: [&str; 3] = ["timestamp", "level", "event"];

/// `HH:MM:SS.mmm` of an RFC 3339 timestamp (the text itself when it has another form).
pub fn time_of_day(ts: &str) -> String {
    match ts.get(11..23) {
        Some(t) if ts.as_bytes().get(10) == Some(&b'T') => t.to_owned(),
        _ => escape::text_of(ts),
    }
}

/// The level's console name, padded to 5, and its colour.
pub fn level_style(level: Option<Level>) -> (&'static str, &'static str) {
    match level {
        Some(Level::Error) => ("ERROR", escape::RED_BOLD),
        Some(Level::Warning) => ("WARN ", escape::YELLOW),
        Some(Level::Info) => ("INFO ", GREEN),
        Some(Level::Debug) => ("DEBUG", escape::BLUE),
        Some(Level::Trace) => ("TRACE", escape::MAGENTA),
        None => ("?    ", ""),
    }
}

/// A span's `END` summary fields, when the record is one.
struct SpanEnd<'a> {
    span: String,
    dur_ms: &'a RawValue,
    status: String,
}

fn span_end<'a>(rec: &Record<'a>) -> Option<SpanEnd<'a>> {
    if rec.event() != "END" {
        return None;
    }
    let span = rec.str("span")?.into_owned();
    let dur_ms = rec.raw("dur_ms").filter(|v| v.get().starts_with(|c: char| c == '-' || c.is_ascii_digit()))?;
    let status = rec.str("status")?.into_owned();
    Some(SpanEnd { span, dur_ms, status })
}

/// A duration in milliseconds with exactly three decimals: `2.013`.
pub fn millis(ms: f64) -> String {
    if (0.0..9.0e12).contains(&ms) {
        format!("{ms:.3}")
    } else {
        format!("{ms}")
    }
}

/// One console line for `rec`, with its `\n`.
pub fn line(rec: &Record<'_>, color: bool) -> String {
    let mut out = String::with_capacity(160);
    out.push_str(&time_of_day(&rec.timestamp()));
    out.push(' ');
    let (name, style) = level_style(rec.level());
    paint(&mut out, color && !style.is_empty(), style, name);
    out.push(' ');

    let message_at = out.len();
    let mut hidden = 0;
    let end = span_end(rec);
    let start = if end.is_none() && rec.event() == "START" { rec.str("span") } else { None };
    match (&end, &start) {
        (Some(end), _) => {
            out.push_str("END ");
            escape::text(&mut out, &end.span);
            out.push(' ');
            match serde_json::from_str::<f64>(end.dur_ms.get()) {
                Ok(ms) if end.dur_ms.get().contains(['.', 'e', 'E']) => out.push_str(&millis(ms)),
                _ => out.push_str(end.dur_ms.get()),
            }
            out.push_str("ms ");
            let style = match end.status.as_str() {
                "success" => Some(GREEN),
                "error" => Some(RED),
                _ => None,
            };
            let status = escape::text_of(&end.status);
            match style {
                Some(style) if color => {
                    paint(&mut out, true, style, &status);
                    hidden += style.len() + escape::RESET.len();
                }
                _ => out.push_str(&status),
            }
        }
        (None, Some(span)) => {
            out.push_str("START ");
            escape::text(&mut out, span);
        }
        (None, None) => escape::text(&mut out, &rec.event()),
    }
    let width = out[message_at..].chars().count().saturating_sub(hidden);
    let mut pad_to = Some(width);

    let target_at = rec.fields.iter().rposition(|(k, _)| k == "target");
    let mut trace_id = None;
    for (i, (key, value)) in rec.fields.iter().enumerate() {
        let key = key.as_ref();
        if Some(i) == target_at || HEAD_KEYS.contains(&key) {
            continue;
        }
        match key {
            "trace_id" => {
                trace_id.get_or_insert(*value);
                continue;
            }
            "span_id" | "parent_span_id" => continue,
            "span" | "dur_ms" | "status" if end.is_some() => continue,
            "span" if start.is_some() => continue,
            _ => {}
        }
        if let Some(w) = pad_to.take() {
            out.extend(std::iter::repeat_n(' ', MESSAGE_COLUMNS.saturating_sub(w)));
        }
        out.push(' ');
        let mut k = String::new();
        escape::text(&mut k, key);
        k.push('=');
        paint(&mut out, color, DIM, &k);
        value_text(&mut out, value);
    }
    if let Some(id) = trace_id {
        out.push(' ');
        paint(&mut out, color, DIM, "trace=");
        match as_str(id) {
            Some(s) => escape::text(&mut out, &s.chars().take(TRACE_PREFIX).collect::<String>()),
            None => value_text(&mut out, id),
        }
    }
    let target = rec.target();
    if !target.is_empty() {
        out.push(' ');
        paint(&mut out, color, DIM, &escape::text_of(&target));
    }
    out.push('\n');
    out
}

/// A value as the console spells it: numbers, bools and `null` as in JSON, plain
/// strings bare, other strings quoted and escaped, nested JSON as its text (escaped).
pub fn value_text(out: &mut String, v: &RawValue) {
    match as_str(v) {
        Some(s) if escape::is_bare(&s) => out.push_str(&s),
        Some(s) => escape::quoted(out, &s),
        None => escape::text(out, v.get()),
    }
}

/// `exc_info` for a person, one item per line (no newline at the end of the last):
/// `type: message`, `caused by: ...` for each link of the chain, the panic's location
/// and thread, and the backtrace folded to the application's frames.
pub fn exc_info(v: &RawValue) -> Vec<String> {
    let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(v.get()) {
        Ok(serde_json::Value::Object(m)) => m,
        Ok(serde_json::Value::String(s)) => return s.lines().map(escape::text_of).collect(),
        _ => return vec![escape::text_of(v.get())],
    };
    let s = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(escape::text_of);
    let mut out = Vec::new();
    match (s("type"), s("message")) {
        (Some(t), Some(m)) => out.push(format!("{t}: {m}")),
        (None, Some(m)) => out.push(m),
        (Some(t), None) => out.push(t),
        (None, None) => {}
    }
    if let Some(chain) = obj.get("chain").and_then(|c| c.as_array()) {
        for link in chain {
            let text = link.as_str().map_or_else(|| escape::text_of(&link.to_string()), escape::text_of);
            out.push(format!("caused by: {text}"));
        }
    }
    if let Some(loc) = s("location").filter(|l| !l.is_empty()) {
        match s("thread") {
            Some(t) => out.push(format!("at {loc} (thread {t})")),
            None => out.push(format!("at {loc}")),
        }
    }
    if let Some(bt) = obj.get("backtrace").and_then(|b| b.as_str()) {
        let (frames, folded) = app_frames(bt);
        if !frames.is_empty() || folded > 0 {
            out.push(format!("backtrace ({} application frames, {folded} folded):", frames.len()));
            out.extend(frames.into_iter().map(|f| format!("  {f}")));
        }
    }
    out
}

/// The frames of a `std::backtrace` text that belong to the application: not the
/// standard library, not logkit, not the runtime's entry glue. Returns them (symbol
/// and location on one line) and how many were folded away.
pub fn app_frames(bt: &str) -> (Vec<String>, usize) {
    let mut frames: Vec<(String, Option<String>)> = Vec::new();
    for line in bt.lines() {
        let t = line.trim();
        if let Some(loc) = t.strip_prefix("at ") {
            if let Some(last) = frames.last_mut() {
                last.1.get_or_insert_with(|| loc.to_owned());
            }
        } else if let Some((n, sym)) = t.split_once(": ") {
            if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
                frames.push((sym.to_owned(), None));
            }
        }
    }
    let total = frames.len();
    let kept: Vec<String> = frames
        .into_iter()
        .filter(|(sym, loc)| is_app_frame(sym, loc.as_deref()))
        .map(|(sym, loc)| {
            let sym = escape::text_of(&sym);
            match loc {
                Some(l) => format!("{sym} at {}", escape::text_of(&l)),
                None => sym,
            }
        })
        .collect();
    let folded = total - kept.len();
    (kept, folded)
}

fn is_app_frame(sym: &str, loc: Option<&str>) -> bool {
    const NOT_APP: [&str; 12] = [
        "std::",
        "core::",
        "alloc::",
        "logkit::",
        "logkit_macros::",
        "test::",
        "__rust",
        "rust_begin_unwind",
        "_start",
        "__libc",
        "backtrace::",
        "<unknown>",
    ];
    /// The C library's thread and process entry points.
    const LIBC: [&str; 5] = ["main", "start_thread", "clone", "clone3", "__clone"];
    let bare = sym.trim_start_matches('<');
    if NOT_APP.iter().any(|p| bare.starts_with(p)) || LIBC.contains(&sym) {
        return false;
    }
    !loc.is_some_and(|l| l.contains("/rustc/") || l.contains("/.cargo/registry/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(json: &str) -> String {
        line(&Record::parse(json.as_bytes()).unwrap(), false)
    }

    #[test]
    fn a_record_renders_like_the_console() {
        let l = render(
            r#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"info","event":"order filled","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","user":"u1","order_id":42,"price":1.5,"symbol":"BTC","ok":true,"target":"app::orders"}"#,
        );
        assert_eq!(
            l,
            "07:02:51.123 INFO  order filled                 user=u1 order_id=42 price=1.5 symbol=BTC ok=true \
             trace=4bf92f35 app::orders\n"
        );
    }

    #[test]
    fn end_and_start_records_render_as_summaries() {
        let l = render(
            r#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"info","event":"END","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","user":"u1","span":"handle","dur_ms":2.0134,"status":"success","target":"app::orders"}"#,
        );
        assert_eq!(l, "07:02:51.123 INFO  END handle 2.013ms success   user=u1 trace=4bf92f35 app::orders\n");
        let l = render(
            r#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"info","event":"START","user":"u1","span":"handle","target":"a"}"#,
        );
        assert_eq!(l, format!("07:02:51.123 INFO  START handle{} user=u1 a\n", " ".repeat(16)));
    }

    #[test]
    fn values_are_bare_quoted_or_json() {
        let l = render(
            r#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"warning","event":"m","a":"two words","b":null,"c":{"x":[1,2]},"d":"NaN","target":"t"}"#,
        );
        assert!(l.ends_with(" a=\"two words\" b=null c={\"x\":[1,2]} d=NaN t\n"), "{l}");
    }
}
