//! `logkit errors`: every record with `status="error"` or level `error`, in time order.
//!
//! Selection runs on the raw bytes: a logkit line's level sits at a fixed offset and an
//! `END` record is recognised by its event, so only error records and failed spans are
//! parsed at all.

use crate::escape::{self, paint};
use crate::input::{At, BadLines, Fold};
use crate::pretty;
use crate::record::{Frame, Level, Record};
use memchr::memmem;

/// The selected lines, with what sorts them.
#[derive(Default)]
pub struct Errors {
    pub found: Vec<Found>,
    pub bad: BadLines,
}

/// One selected line.
pub struct Found {
    pub timestamp: String,
    pub at: At,
    pub line: Vec<u8>,
}

const STATUS_ERROR: &[u8] = b"\"status\":\"error\"";

impl Fold for Errors {
    #[inline]
    fn line(&mut self, at: At, line: &[u8]) {
        if let Some(f) = Frame::read(line) {
            let candidate =
                f.level == Level::Error || (f.event_is(b"END") && memmem::rfind(line, STATUS_ERROR).is_some());
            if !candidate {
                return;
            }
        }
        match Record::parse(line) {
            Ok(rec) if rec.is_error() => {
                self.found.push(Found { timestamp: rec.timestamp().into_owned(), at, line: line.to_vec() })
            }
            Ok(_) => {}
            Err(bad) => self.bad.add(at.source, bad),
        }
    }

    fn merge(&mut self, other: Self) {
        self.found.extend(other.found);
        self.bad.merge(other.bad);
    }
}

impl Errors {
    /// Sorts the records by time, then stream order.
    pub fn sort(&mut self) {
        self.found.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.at.cmp(&b.at)));
    }
}

/// Keys the report shows in its own places.
const SHOWN: [&str; 11] = [
    "timestamp",
    "level",
    "event",
    "trace_id",
    "span_id",
    "parent_span_id",
    "span",
    "dur_ms",
    "status",
    "exc_info",
    "target",
];

/// One error for a person: a head line (time, level, target, message or failed span),
/// the other fields, `exc_info` and the trace id to follow; then a blank line.
pub fn render(rec: &Record<'_>, color: bool) -> String {
    let mut out = String::new();
    out.push_str(&escape::text_of(&rec.timestamp()));
    out.push(' ');
    let (name, style) = pretty::level_style(rec.level());
    paint(&mut out, color && !style.is_empty(), style, name.trim_end());
    out.push(' ');
    let target = rec.target();
    if !target.is_empty() {
        paint(&mut out, color, escape::DIM, &escape::text_of(&target));
        out.push(' ');
    }
    let head = if rec.is_end() {
        let span = escape::text_of(&rec.str("span").unwrap_or_default());
        match rec.f64("dur_ms") {
            Some(ms) => format!("span {span} failed after {}ms", pretty::millis(ms)),
            None => format!("span {span} failed"),
        }
    } else {
        escape::text_of(&rec.event())
    };
    paint(&mut out, color, escape::BOLD, &head);
    out.push('\n');

    let mut pairs = String::new();
    for (k, v) in &rec.fields {
        if SHOWN.contains(&k.as_ref()) {
            continue;
        }
        pairs.push(' ');
        escape::text(&mut pairs, k);
        pairs.push('=');
        pretty::value_text(&mut pairs, v);
    }
    if !pairs.is_empty() {
        out.push(' ');
        out.push_str(&pairs);
        out.push('\n');
    }
    if let Some(exc) = rec.raw("exc_info") {
        for l in pretty::exc_info(exc) {
            out.push_str("  ");
            out.push_str(&l);
            out.push('\n');
        }
    }
    if let Some(id) = rec.str("trace_id") {
        out.push_str("  trace ");
        paint(&mut out, color, escape::DIM, &escape::text_of(&id));
        out.push('\n');
    }
    out.push('\n');
    out
}
