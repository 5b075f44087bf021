//! `logkit trace ID`: every record of one trace as a span tree — spans indented under
//! their parents with `dur_ms` and status, the records logged inside each span beneath
//! it — or as a waterfall of bars to scale, in the terminal or as a self-contained
//! HTML page.
//!
//! Selection runs on the raw bytes: only lines holding `"trace_id":"<prefix>` are
//! parsed. A span is known by its `START` record (name, parent, start time) and its
//! `END` record (duration, status, `exc_info`); with only an `END`, it started
//! `dur_ms` before it.

use crate::escape::{self, paint};
use crate::input::{At, BadLines, Fold};
use crate::pretty;
use crate::record::{Frame, Record};
use memchr::memmem;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

/// `"trace_id":"<prefix>`: what a line of the trace holds (set once, before the scan).
static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();

/// Sets the id (or prefix) to select; only lowercase hex is accepted.
pub fn select(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("bad trace id {prefix:?}: give up to 32 hex digits (a prefix is enough)"));
    }
    let mut p = b"\"trace_id\":\"".to_vec();
    p.extend_from_slice(prefix.to_ascii_lowercase().as_bytes());
    PATTERN.set(p).map_err(|_| "a trace is already selected".to_owned())
}

/// The lines of the selected trace.
#[derive(Default)]
pub struct Trace {
    pub found: Vec<(String, At, Vec<u8>)>,
    /// The full ids that matched the prefix.
    pub ids: BTreeSet<String>,
    pub bad: BadLines,
}

impl Fold for Trace {
    fn line(&mut self, at: At, line: &[u8]) {
        let pattern = PATTERN.get().map_or(&[][..], Vec::as_slice);
        if Frame::read(line).is_some() && memmem::find(line, pattern).is_none() {
            return;
        }
        match Record::parse(line) {
            Ok(rec) => {
                let prefix = &pattern[b"\"trace_id\":\"".len().min(pattern.len())..];
                if let Some(id) = rec.str("trace_id").filter(|id| id.as_bytes().starts_with(prefix)) {
                    self.ids.insert(id.into_owned());
                    self.found.push((rec.timestamp().into_owned(), at, line.to_vec()));
                }
            }
            Err(b) => self.bad.add(at.source, b),
        }
    }

    fn merge(&mut self, o: Self) {
        self.found.extend(o.found);
        self.ids.extend(o.ids);
        self.bad.merge(o.bad);
    }
}

/// Microseconds since the Unix epoch of `2026-11-24T07:02:51.123456Z`.
pub fn micros(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() != 27 || b[26] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| ts.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss, us) = (n(11..13)?, n(14..16)?, n(17..19)?, n(20..26)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000) + us)
}

/// One span of the tree.
#[derive(Default, Debug)]
pub struct Span {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    /// µs since the epoch.
    pub start: Option<i64>,
    pub dur_ms: Option<f64>,
    pub status: Option<String>,
    /// The `END` record's line, for its fields and `exc_info`.
    pub end_line: Option<usize>,
    pub start_line: Option<usize>,
    /// Indexes into the lines: records logged inside this span (not START/END).
    pub records: Vec<usize>,
    pub children: Vec<usize>,
}

/// A trace: its lines in time order and its spans as a tree.
pub struct Tree {
    pub id: String,
    pub lines: Vec<Vec<u8>>,
    pub spans: Vec<Span>,
    /// Top-level spans (no parent, or a parent outside the trace).
    pub roots: Vec<usize>,
    /// Records outside any span.
    pub loose: Vec<usize>,
}

impl Tree {
    pub fn build(id: String, mut found: Vec<(String, At, Vec<u8>)>) -> Tree {
        found.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let lines: Vec<Vec<u8>> = found.into_iter().map(|f| f.2).collect();
        let mut spans: Vec<Span> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        // Per line: `None` for a span's START / END (or a line that no longer parses),
        // else the span the record was logged in (`None` inside: outside any span).
        let mut owner: Vec<Option<Option<String>>> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Ok(rec) = Record::parse(line) else {
                owner.push(None);
                continue;
            };
            let sid = rec.str("span_id").map(|s| s.into_owned());
            let event = rec.event();
            let is_start = event == "START" && rec.str("span").is_some();
            let is_end = rec.is_end();
            if let (Some(sid), true) = (&sid, is_start || is_end) {
                let k = *by_id.entry(sid.clone()).or_insert_with(|| {
                    spans.push(Span { id: sid.clone(), ..Span::default() });
                    spans.len() - 1
                });
                let s = &mut spans[k];
                s.name = rec.str("span").unwrap_or_default().into_owned();
                if s.parent.is_none() {
                    s.parent = rec.str("parent_span_id").map(|p| p.into_owned());
                }
                if is_start {
                    s.start = micros(&rec.timestamp());
                    s.start_line = Some(i);
                } else {
                    s.dur_ms = rec.f64("dur_ms");
                    s.status = rec.str("status").map(|p| p.into_owned());
                    s.end_line = Some(i);
                    if s.start.is_none() {
                        s.start = micros(&rec.timestamp()).map(|t| t - (s.dur_ms.unwrap_or(0.0) * 1000.0) as i64);
                    }
                }
                owner.push(None);
            } else {
                owner.push(Some(sid));
            }
        }
        let mut loose = Vec::new();
        for (i, o) in owner.into_iter().enumerate() {
            let Some(sid) = o else { continue };
            match sid.and_then(|sid| by_id.get(&sid).copied()) {
                Some(k) => spans[k].records.push(i),
                None => loose.push(i),
            }
        }
        let mut roots = Vec::new();
        for k in 0..spans.len() {
            match spans[k].parent.as_ref().and_then(|p| by_id.get(p)).copied() {
                Some(p) if p != k => spans[p].children.push(k),
                _ => roots.push(k),
            }
        }
        let start_of = |spans: &[Span], k: usize| spans[k].start.unwrap_or(i64::MAX);
        roots.sort_by_key(|&k| start_of(&spans, k));
        for k in 0..spans.len() {
            let mut c = std::mem::take(&mut spans[k].children);
            c.sort_by_key(|&k| start_of(&spans, k));
            spans[k].children = c;
        }
        Tree { id, lines, spans, roots, loose }
    }

    fn rec(&self, i: usize) -> Option<Record<'_>> {
        Record::parse(&self.lines[i]).ok()
    }

    fn line_time(&self, i: usize) -> i64 {
        self.rec(i).and_then(|r| micros(&r.timestamp())).unwrap_or(i64::MAX)
    }

    /// The time span of the whole trace, µs: `(first, last)`.
    fn bounds(&self) -> (i64, i64) {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for i in 0..self.lines.len() {
            let t = self.line_time(i);
            if t != i64::MAX {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
        for s in &self.spans {
            if let Some(st) = s.start {
                lo = lo.min(st);
                hi = hi.max(st + (s.dur_ms.unwrap_or(0.0) * 1000.0) as i64);
            }
        }
        if lo > hi {
            (0, 0)
        } else {
            (lo, hi)
        }
    }

    fn errors(&self) -> usize {
        self.spans.iter().filter(|s| s.status.as_deref() == Some("error")).count()
    }

    /// The header line.
    fn header(&self, color: bool) -> String {
        let (lo, hi) = self.bounds();
        let mut out = String::new();
        paint(&mut out, color, escape::BOLD, &format!("trace {}", escape::text_of(&self.id)));
        out.push_str(&format!(
            "  {} spans, {} failed, {} records, {}ms\n",
            self.spans.len(),
            self.errors(),
            self.lines.len(),
            pretty::millis((hi - lo) as f64 / 1000.0)
        ));
        out
    }

    fn span_label(&self, k: usize, color: bool) -> String {
        let s = &self.spans[k];
        let mut out = String::new();
        paint(&mut out, color, escape::BOLD, &escape::text_of(&s.name));
        match (s.dur_ms, &s.status) {
            (Some(ms), Some(st)) => {
                out.push_str(&format!(" {}ms ", pretty::millis(ms)));
                let style = if st == "error" { escape::RED } else { escape::GREEN };
                paint(&mut out, color, style, &escape::text_of(st));
            }
            _ => out.push_str(" (not ended)"),
        }
        out
    }

    /// The span tree for a person.
    pub fn render(&self, color: bool) -> String {
        let mut out = self.header(color);
        // Loose records and root spans, in time order.
        let mut items: Vec<(i64, Item)> = self.loose.iter().map(|&i| (self.line_time(i), Item::Line(i))).collect();
        items.extend(self.roots.iter().map(|&k| (self.spans[k].start.unwrap_or(i64::MAX), Item::Span(k))));
        items.sort_by_key(|x| x.0);
        for (_, item) in items {
            self.render_item(&mut out, item, 0, color);
        }
        out
    }

    fn render_item(&self, out: &mut String, item: Item, depth: usize, color: bool) {
        let indent = "  ".repeat(depth);
        match item {
            Item::Line(i) => {
                if let Some(rec) = self.rec(i) {
                    out.push_str(&indent);
                    out.push_str(&pretty::line(&rec, color));
                }
            }
            Item::Span(k) => {
                out.push_str(&indent);
                out.push_str(&self.span_label(k, color));
                out.push('\n');
                if let Some(exc) = self.spans[k].end_line.and_then(|i| self.rec(i)).and_then(|r| r.raw("exc_info")) {
                    for l in pretty::exc_info(exc) {
                        out.push_str(&indent);
                        out.push_str("  ! ");
                        out.push_str(&l);
                        out.push('\n');
                    }
                }
                let s = &self.spans[k];
                let mut items: Vec<(i64, Item)> =
                    s.records.iter().map(|&i| (self.line_time(i), Item::Line(i))).collect();
                items.extend(s.children.iter().map(|&c| (self.spans[c].start.unwrap_or(i64::MAX), Item::Span(c))));
                items.sort_by_key(|x| x.0);
                for (_, item) in items {
                    self.render_item(out, item, depth + 1, color);
                }
            }
        }
    }

    /// Spans in tree order with their depth.
    fn flat(&self) -> Vec<(usize, usize)> {
        fn walk(t: &Tree, k: usize, d: usize, out: &mut Vec<(usize, usize)>) {
            out.push((k, d));
            for &c in &t.spans[k].children {
                walk(t, c, d + 1, out);
            }
        }
        let mut out = Vec::new();
        for &r in &self.roots {
            walk(self, r, 0, &mut out);
        }
        out
    }

    /// The spans as bars to scale on a time axis, `width` columns wide.
    pub fn waterfall(&self, width: usize, color: bool) -> String {
        const LABEL: usize = 28;
        let bar_w = width.saturating_sub(LABEL + 24).max(10);
        let (lo, hi) = self.bounds();
        let total = (hi - lo).max(1) as f64;
        let mut out = self.header(color);
        let axis_end = format!("{}ms", pretty::millis((hi - lo) as f64 / 1000.0));
        out.push_str(&format!(
            "{:LABEL$} 0ms{}{axis_end}\n",
            "",
            " ".repeat(bar_w.saturating_sub(3 + axis_end.chars().count()) + 2)
        ));
        for (k, depth) in self.flat() {
            let s = &self.spans[k];
            let mut label: String = format!("{}{}", "  ".repeat(depth), escape::text_of(&s.name));
            if label.chars().count() > LABEL {
                label = label.chars().take(LABEL - 1).collect::<String>() + "…";
            }
            let start = s.start.unwrap_or(lo);
            let dur = (s.dur_ms.unwrap_or((hi - start) as f64 / 1000.0) * 1000.0).max(0.0);
            // A bar covers every column its interval touches (start rounded down, end up),
            // so a child's bar always lies inside its parent's.
            let col = |t: f64| (t / total) * bar_w as f64;
            let from = (col((start - lo) as f64).floor() as usize).min(bar_w - 1);
            let to = (col((start - lo) as f64 + dur).ceil() as usize).clamp(from + 1, bar_w);
            let len = to - from;
            let failed = s.status.as_deref() == Some("error");
            let fill = if failed { "x" } else { "=" }.repeat(len);
            let mut bar = " ".repeat(from);
            paint(&mut bar, color, if failed { escape::RED } else { escape::GREEN }, &fill);
            bar.push_str(&" ".repeat(bar_w - from - len));
            let pad = LABEL - label.chars().count();
            let status = s.status.as_deref().map_or("open".to_owned(), escape::text_of);
            let ms = s.dur_ms.map_or("-".to_owned(), |m| format!("{}ms", pretty::millis(m)));
            out.push_str(&format!("{label}{} |{bar}| {ms} {status}\n", " ".repeat(pad)));
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Item {
    Line(usize),
    Span(usize),
}

/// `s` escaped for HTML text and attribute values (after the terminal escaping, so no
/// control character reaches the page either).
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape::text_of(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const PAGE_STYLE: &str = "body{font:13px/1.4 ui-monospace,monospace;margin:16px;color:#222}\
h1{font-size:15px}.row{margin:1px 0}summary{cursor:pointer;display:flex;align-items:center}\
.label{flex:0 0 28em;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}\
.track{flex:1;position:relative;height:14px;background:#f3f3f3}\
.bar{position:absolute;top:1px;bottom:1px;background:#4a8;min-width:2px}.bar.error{background:#d33}\
.dur{flex:0 0 12em;text-align:right;padding-left:8px}.detail{margin:4px 0 8px 2em;padding:6px;\
background:#fafafa;border-left:3px solid #ccc}table{border-collapse:collapse}td{padding:0 8px 0 0;\
vertical-align:top}pre{margin:2px 0;white-space:pre-wrap}";

impl Tree {
    /// A self-contained HTML waterfall (no network, no script): one row per span, a
    /// bar to scale on the trace's time axis, and on click the span's fields and the
    /// records logged inside it.
    pub fn html(&self) -> String {
        let (lo, hi) = self.bounds();
        let total = (hi - lo).max(1) as f64;
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        out.push_str(&format!("<title>trace {}</title><style>{PAGE_STYLE}</style></head><body>\n", html(&self.id)));
        out.push_str(&format!(
            "<h1>trace {}</h1><p>{} spans, {} failed, {} records, {}ms</p>\n",
            html(&self.id),
            self.spans.len(),
            self.errors(),
            self.lines.len(),
            pretty::millis((hi - lo) as f64 / 1000.0)
        ));
        for (k, depth) in self.flat() {
            let s = &self.spans[k];
            let start = s.start.unwrap_or(lo);
            let dur = s.dur_ms.unwrap_or((hi - start) as f64 / 1000.0) * 1000.0;
            let left = (start - lo) as f64 / total * 100.0;
            let width = (dur / total * 100.0).clamp(0.0, 100.0 - left);
            let failed = s.status.as_deref() == Some("error");
            out.push_str(&format!(
                "<details class=\"row span\" data-span-id=\"{}\"><summary><span class=\"label\" style=\"padding-left:{}em\">{}</span>\
                 <span class=\"track\"><span class=\"bar{}\" style=\"left:{left:.3}%;width:{width:.3}%\"></span></span>\
                 <span class=\"dur\">{} {}</span></summary><div class=\"detail\">",
                html(&s.id),
                depth * 2,
                html(&s.name),
                if failed { " error" } else { "" },
                s.dur_ms.map_or("-".to_owned(), |m| format!("{}ms", pretty::millis(m))),
                html(s.status.as_deref().unwrap_or("open")),
            ));
            out.push_str("<table>");
            for line in [s.start_line, s.end_line].into_iter().flatten() {
                if let Some(rec) = self.rec(line) {
                    for (k, v) in &rec.fields {
                        if k == "exc_info" {
                            continue;
                        }
                        out.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>", html(k), html(v.get())));
                    }
                }
            }
            out.push_str("</table>");
            if let Some(exc) = s.end_line.and_then(|i| self.rec(i)).and_then(|r| r.raw("exc_info")) {
                out.push_str(&format!("<pre class=\"exc\">{}</pre>", html(&pretty::exc_info(exc).join("\n"))));
            }
            for &i in &s.records {
                if let Some(rec) = self.rec(i) {
                    out.push_str(&format!(
                        "<pre class=\"record\">{}</pre>",
                        html(pretty::line(&rec, false).trim_end())
                    ));
                }
            }
            out.push_str("</div></details>\n");
        }
        if !self.loose.is_empty() {
            out.push_str("<h2>records outside any span</h2>\n");
            for &i in &self.loose {
                if let Some(rec) = self.rec(i) {
                    out.push_str(&format!(
                        "<pre class=\"record\">{}</pre>\n",
                        html(pretty::line(&rec, false).trim_end())
                    ));
                }
            }
        }
        out.push_str("</body></html>\n");
        out
    }
}

impl Tree {
    /// The tree as one JSON object: `{"trace_id", "spans": [...], "records": [...]}`,
    /// each span with its id, name, parent, start, `dur_ms`, status, `exc_info`, the
    /// records logged inside it and its children.
    pub fn json(&self) -> String {
        use serde_json::{json, Value};
        let rec_json = |i: usize| -> Value { serde_json::from_slice(&self.lines[i]).unwrap_or(Value::Null) };
        fn span(t: &Tree, k: usize, rec_json: &dyn Fn(usize) -> Value) -> Value {
            let s = &t.spans[k];
            let exc = s.end_line.map(rec_json).and_then(|r| r.get("exc_info").cloned()).unwrap_or(Value::Null);
            json!({
                "span_id": s.id,
                "name": s.name,
                "parent_span_id": s.parent,
                "start_us": s.start,
                "dur_ms": s.dur_ms,
                "status": s.status,
                "exc_info": exc,
                "records": s.records.iter().map(|&i| rec_json(i)).collect::<Vec<_>>(),
                "children": s.children.iter().map(|&c| span(t, c, rec_json)).collect::<Vec<_>>(),
            })
        }
        json!({
            "trace_id": self.id,
            "spans": self.roots.iter().map(|&k| span(self, k, &rec_json)).collect::<Vec<_>>(),
            "records": self.loose.iter().map(|&i| rec_json(i)).collect::<Vec<_>>(),
        })
        .to_string()
            + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_convert_to_microseconds_since_the_epoch() {
        assert_eq!(micros("1970-01-01T00:00:00.000001Z"), Some(1));
        assert_eq!(micros("2026-11-24T07:02:51.123456Z"), Some(1_795_503_771_123_456));
        assert_eq!(micros("2000-03-01T00:00:00.000000Z"), Some(951_868_800_000_000));
        assert_eq!(micros("garbage"), None);
    }

    #[test]
    fn a_bad_trace_id_is_refused() {
        assert!(select("xyz").unwrap_err().starts_with("bad trace id \"xyz\""));
    }
}
