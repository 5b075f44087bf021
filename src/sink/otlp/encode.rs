//! Compact records → OTLP requests (`ExportLogsServiceRequest`,
//! `ExportTraceServiceRequest`), per the OpenTelemetry logs and traces data models, in
//! protobuf (here) or OTLP/JSON (`json`).
//!
//! - A record → a `LogRecord`: its timestamp, the time the exporter saw it
//!   (`observed_time_unix_nano`), severity number and text (trace 1, debug 5, info 9,
//!   warning 13, error 17; the text is logkit's level name), the message as `body`,
//!   `trace_id` / `span_id` as bytes, the bound context and the fields as typed
//!   attributes (nested JSON values as maps and arrays). The target is the
//!   instrumentation scope.
//! - A span's `END` record → a `Span` (and no `LogRecord`: everything it says is in the
//!   span): name, start (end minus `dur_ms`) and end, ids, the bound context and the
//!   span's own fields as attributes, and for `status="error"` status `ERROR` with the
//!   error's message and an `exception` event. A span's `START` record is not exported:
//!   its ids and time are the span's.
//! - Redacted keys (`LOG_REDACT`) are exported as `"***"`, as in every sink.
//!
//! Records are grouped by scope as they come; a request is assembled from the groups
//! without re-encoding them.

use super::json_value::Json;
use super::pb;
use super::Protocol;
use crate::callsite::Callsite;
use crate::level::Level;
use crate::record::{FieldValue, RecordView};
use crate::render::Redactor;

/// `SpanKind.SPAN_KIND_INTERNAL`.
const SPAN_KIND_INTERNAL: u64 = 1;
/// `StatusCode.STATUS_CODE_ERROR`.
const STATUS_CODE_ERROR: u64 = 2;

/// OpenTelemetry severity numbers.
pub(crate) fn severity_number(level: Level) -> u64 {
    match level {
        Level::Trace => 1,
        Level::Debug => 5,
        Level::Info => 9,
        Level::Warn => 13,
        Level::Error => 17,
    }
}

/// What a record is, for the exporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Log,
    SpanEnd,
    SpanStart,
}

/// Whether `cs` is one of the span records' call sites.
pub(crate) fn kind(cs: Option<&'static Callsite>) -> Kind {
    match cs {
        Some(cs) if crate::span::is_end_callsite(cs) => Kind::SpanEnd,
        Some(cs) if crate::span::is_start_callsite(cs) => Kind::SpanStart,
        _ => Kind::Log,
    }
}

/// Encoded messages grouped by instrumentation scope (the record's target).
#[derive(Debug, Default)]
struct Scopes {
    names: Vec<String>,
    /// Each scope's encoded `LogRecord`s or `Span`s, each with its field tag and length
    /// (in JSON: each object and its comma).
    bodies: Vec<Vec<u8>>,
    /// Where each item of each scope's body ends, so that a request can be split.
    ends: Vec<Vec<usize>>,
    last: usize,
}

impl Scopes {
    fn body(&mut self, scope: &str) -> &mut Vec<u8> {
        if self.names.get(self.last).is_none_or(|n| n != scope) {
            self.last = match self.names.iter().position(|n| n == scope) {
                Some(i) => i,
                None => {
                    self.names.push(scope.to_owned());
                    self.bodies.push(Vec::new());
                    self.ends.push(Vec::new());
                    self.names.len() - 1
                }
            };
        }
        &mut self.bodies[self.last]
    }

    /// Marks the end of the item just written to the last scope's body.
    fn item_written(&mut self) {
        let end = self.bodies[self.last].len();
        self.ends[self.last].push(end);
    }

    fn bytes(&self) -> usize {
        self.bodies.iter().map(Vec::len).sum()
    }

    fn clear(&mut self) {
        // Bodies keep their capacity for the next batch; a scope with nothing is skipped.
        for b in &mut self.bodies {
            b.clear();
        }
        for e in &mut self.ends {
            e.clear();
        }
        if self.names.len() > 256 {
            self.names.clear();
            self.bodies.clear();
            self.ends.clear();
        }
        self.last = 0;
    }

    /// The items, in order, as (scope index, bytes).
    fn items(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.bodies.iter().zip(&self.ends).enumerate().flat_map(|(i, (body, ends))| {
            let starts = std::iter::once(0).chain(ends.iter().copied());
            starts.zip(ends.iter().copied()).map(move |(a, b)| (i, &body[a..b]))
        })
    }

    /// The first `n` items and the others, in two new groups.
    fn split(&self, n: usize) -> (Scopes, Scopes) {
        let (mut a, mut b) = (Scopes::default(), Scopes::default());
        for (k, (i, item)) in self.items().enumerate() {
            let half = if k < n { &mut a } else { &mut b };
            half.body(&self.names[i]).extend_from_slice(item);
            half.item_written();
        }
        (a, b)
    }

    /// The `ScopeLogs` / `ScopeSpans` messages (field 2 of the resource message), each
    /// with the scope (field 1) and the encoded items (field 2 of the scope message).
    fn write_pb(&self, out: &mut Vec<u8>) {
        for (name, body) in self.names.iter().zip(&self.bodies) {
            if body.is_empty() {
                continue;
            }
            pb::message(out, 2, |o| {
                pb::message(o, 1, |o| pb::bytes(o, 1, name.as_bytes()));
                o.extend_from_slice(body);
            });
        }
    }
}

/// The two kinds of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    /// `ExportLogsServiceRequest` to `/v1/logs`.
    Logs,
    /// `ExportTraceServiceRequest` to `/v1/traces`.
    Traces,
}

/// One batch of records on its way to a collector.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    protocol: Protocol,
    logs: Scopes,
    spans: Scopes,
    pub(crate) log_count: usize,
    pub(crate) span_count: usize,
}

impl Batch {
    /// An empty batch whose requests are encoded for `protocol`.
    pub(crate) fn new(protocol: Protocol) -> Batch {
        Batch { protocol, ..Batch::default() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.log_count == 0 && self.span_count == 0
    }

    pub(crate) fn records(&self) -> usize {
        self.log_count + self.span_count
    }

    /// Encoded bytes so far (before compression).
    pub(crate) fn bytes(&self) -> usize {
        self.logs.bytes() + self.spans.bytes()
    }

    pub(crate) fn clear(&mut self) {
        self.logs.clear();
        self.spans.clear();
        self.log_count = 0;
        self.span_count = 0;
    }

    /// Adds one record (its timestamp already in Unix nanoseconds). Returns whether it
    /// was exported (a span's `START` is not).
    pub(crate) fn add(&mut self, rec: &RecordView<'_>, redact: &Redactor, observed_ns: u64) -> bool {
        match kind(rec.callsite) {
            Kind::SpanStart => false,
            Kind::SpanEnd => {
                let body = self.spans.body(rec.target);
                match self.protocol {
                    Protocol::Protobuf => pb::message(body, 2, |o| write_span(o, rec, redact)),
                    Protocol::Json => json::span(body, rec, redact),
                }
                self.spans.item_written();
                self.span_count += 1;
                true
            }
            Kind::Log => {
                let body = self.logs.body(rec.target);
                match self.protocol {
                    Protocol::Protobuf => pb::message(body, 2, |o| write_log(o, rec, redact, observed_ns)),
                    Protocol::Json => json::log(body, rec, redact, observed_ns),
                }
                self.logs.item_written();
                self.log_count += 1;
                true
            }
        }
    }

    /// How many items `signal`'s request carries.
    pub(crate) fn count(&self, signal: Signal) -> usize {
        match signal {
            Signal::Logs => self.log_count,
            Signal::Traces => self.span_count,
        }
    }

    /// `signal`'s request (see [`Batch::logs_request`], [`Batch::traces_request`]).
    pub(crate) fn request(&self, signal: Signal, resource: &[u8], out: &mut Vec<u8>) {
        match signal {
            Signal::Logs => self.logs_request(resource, out),
            Signal::Traces => self.traces_request(resource, out),
        }
    }

    /// `signal`'s items in two batches of half each (for a collector that answered 413
    /// Payload Too Large); `None` with fewer than two.
    pub(crate) fn halves(&self, signal: Signal) -> Option<(Batch, Batch)> {
        let n = self.count(signal);
        if n < 2 {
            return None;
        }
        let (mut a, mut b) = (Batch::new(self.protocol), Batch::new(self.protocol));
        match signal {
            Signal::Logs => {
                (a.logs, b.logs) = self.logs.split(n / 2);
                (a.log_count, b.log_count) = (n / 2, n - n / 2);
            }
            Signal::Traces => {
                (a.spans, b.spans) = self.spans.split(n / 2);
                (a.span_count, b.span_count) = (n / 2, n - n / 2);
            }
        }
        Some((a, b))
    }

    /// `ExportLogsServiceRequest` with `resource` (an encoded `Resource` body, see
    /// [`resource`]), or nothing when the batch has no log records.
    pub(crate) fn logs_request(&self, resource: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.log_count > 0 {
            match self.protocol {
                Protocol::Protobuf => request(out, resource, &self.logs),
                Protocol::Json => json::request(out, &json::LOGS, resource, &self.logs),
            }
        }
    }

    /// `ExportTraceServiceRequest`, or nothing when the batch has no spans.
    pub(crate) fn traces_request(&self, resource: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.span_count > 0 {
            match self.protocol {
                Protocol::Protobuf => request(out, resource, &self.spans),
                Protocol::Json => json::request(out, &json::SPANS, resource, &self.spans),
            }
        }
    }
}

/// `Export*ServiceRequest { resource_* = 1: { resource = 1, scope_* = 2 } }`.
fn request(out: &mut Vec<u8>, resource: &[u8], scopes: &Scopes) {
    pb::message(out, 1, |o| {
        pb::message(o, 1, |o| o.extend_from_slice(resource));
        scopes.write_pb(o);
    });
}

/// An encoded `Resource` body for `protocol`: its `attributes` (field 1; in JSON the
/// members of the resource object).
pub(crate) fn resource(protocol: Protocol, attributes: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    match protocol {
        Protocol::Protobuf => {
            for (k, v) in attributes {
                key_value(&mut out, 1, k, |o| pb::bytes(o, 1, v.as_bytes()));
            }
        }
        Protocol::Json => json::resource(&mut out, attributes),
    }
    out
}

/// A `KeyValue` as field `field`: key (1) and the `AnyValue` (2) that `value` writes.
fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: impl FnOnce(&mut Vec<u8>)) {
    pb::message(out, field, |o| {
        pb::bytes(o, 1, key.as_bytes());
        pb::message(o, 2, value);
    });
}

/// An attribute from a record's context or fields, masked if its key is redacted.
fn attribute(out: &mut Vec<u8>, field: u32, key: &str, v: FieldValue<&str>, redact: &Redactor) {
    if redact.is_redacted(key) {
        key_value(out, field, key, |o| pb::bytes(o, 1, b"***"));
    } else {
        key_value(out, field, key, |o| any_value(o, v, redact));
    }
}

/// The fields of an `AnyValue` for `v`: `string_value` 1, `bool_value` 2, `int_value`
/// 3, `double_value` 4, `array_value` 5, `kvlist_value` 6. 64-bit and 128-bit integers
/// that do not fit an `int64` are exported as their decimal strings; `null` is an
/// empty `AnyValue`.
fn any_value(out: &mut Vec<u8>, v: FieldValue<&str>, redact: &Redactor) {
    let decimal = |out: &mut Vec<u8>, s: String| pb::bytes(out, 1, s.as_bytes());
    match v {
        FieldValue::Null => {}
        FieldValue::Bool(b) => pb::uint(out, 2, u64::from(b)),
        FieldValue::U64(n) => match i64::try_from(n) {
            Ok(i) => pb::uint(out, 3, i as u64),
            Err(_) => decimal(out, n.to_string()),
        },
        FieldValue::I64(i) => pb::uint(out, 3, i as u64),
        FieldValue::U128(n) => match i64::try_from(n) {
            Ok(i) => pb::uint(out, 3, i as u64),
            Err(_) => decimal(out, n.to_string()),
        },
        FieldValue::I128(n) => match i64::try_from(n) {
            Ok(i) => pb::uint(out, 3, i as u64),
            Err(_) => decimal(out, n.to_string()),
        },
        FieldValue::F64(f) => pb::double(out, 4, f),
        FieldValue::Str(s) => pb::bytes(out, 1, s.as_bytes()),
        FieldValue::Json(j) => match Json::parse(j) {
            Some(tree) => json_any(out, &tree, redact),
            None => pb::bytes(out, 1, j.as_bytes()),
        },
    }
}

/// A nested JSON value as an `AnyValue`; object members with a redacted key are masked.
fn json_any(out: &mut Vec<u8>, j: &Json, redact: &Redactor) {
    match j {
        Json::Null => {}
        Json::Bool(b) => pb::uint(out, 2, u64::from(*b)),
        Json::Int(i) => pb::uint(out, 3, *i as u64),
        Json::Float(f) => pb::double(out, 4, *f),
        Json::Str(s) => pb::bytes(out, 1, s.as_bytes()),
        Json::Array(items) => pb::message(out, 5, |o| {
            for item in items {
                pb::message(o, 1, |o| json_any(o, item, redact));
            }
        }),
        Json::Object(members) => pb::message(out, 6, |o| {
            for (k, v) in members {
                if redact.is_redacted(k) {
                    key_value(o, 1, k, |o| pb::bytes(o, 1, b"***"));
                } else {
                    key_value(o, 1, k, |o| json_any(o, v, redact));
                }
            }
        }),
    }
}

/// Decodes lowercase or uppercase hex into `out`; `None` unless `s` is exactly
/// `2 * N` hex digits.
fn hex_id<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nib(b[2 * i])? << 4) | nib(b[2 * i + 1])?;
    }
    Some(out)
}

/// The ids among a record's context entries.
#[derive(Default)]
struct Ids {
    trace: Option<[u8; 16]>,
    span: Option<[u8; 8]>,
    parent: Option<[u8; 8]>,
}

/// Whether a context entry is one of the ids (exported as the record's or span's id
/// fields, not as attributes); fills `ids`.
fn take_id(ids: &mut Ids, key: &str, v: &FieldValue<&str>) -> bool {
    let FieldValue::Str(s) = v else { return false };
    match key {
        "trace_id" => ids.trace = hex_id(s).or(ids.trace),
        "span_id" => ids.span = hex_id(s).or(ids.span),
        "parent_span_id" => ids.parent = hex_id(s).or(ids.parent),
        _ => return false,
    }
    true
}

/// A `LogRecord` body.
fn write_log(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor, observed_ns: u64) {
    pb::fixed64(out, 1, rec.timestamp_ns);
    pb::uint(out, 2, severity_number(rec.level));
    pb::bytes(out, 3, rec.level.as_str().as_bytes());
    if !rec.message.is_empty() {
        pb::message(out, 5, |o| pb::bytes(o, 1, rec.message.as_bytes()));
    }
    let mut ids = Ids::default();
    for (k, v) in rec.context() {
        if !take_id(&mut ids, k, &v) {
            attribute(out, 6, k, v, redact);
        }
    }
    for (k, v) in rec.fields() {
        attribute(out, 6, k, v, redact);
    }
    if let Some(t) = ids.trace {
        pb::bytes(out, 9, &t);
    }
    if let Some(s) = ids.span {
        pb::bytes(out, 10, &s);
    }
    pb::fixed64(out, 11, observed_ns);
}

/// What a span's `END` record says about the span, for either encoding.
struct SpanEnd<'a> {
    ids: Ids,
    name: &'a str,
    start: u64,
    end: u64,
    /// `Some` for `status="error"`.
    error: Option<Exception>,
}

impl<'a> SpanEnd<'a> {
    fn of(rec: &RecordView<'a>) -> SpanEnd<'a> {
        let mut ids = Ids::default();
        let (mut name, mut dur_ms, mut exc, mut failed) = ("", 0.0f64, None, false);
        for (k, v) in rec.fields() {
            match (k, v) {
                ("span", FieldValue::Str(s)) => name = s,
                ("dur_ms", FieldValue::F64(d)) => dur_ms = d,
                ("status", v) => failed = v == FieldValue::Str("error"),
                ("exc_info", FieldValue::Json(j)) => exc = Some(j),
                _ => {}
            }
        }
        for (k, v) in rec.context() {
            take_id(&mut ids, k, &v);
        }
        let end = rec.timestamp_ns;
        let start = end.saturating_sub((dur_ms.max(0.0) * 1e6).round() as u64);
        SpanEnd { ids, name, start, end, error: failed.then(|| Exception::from_exc_info(exc)) }
    }
}

/// A span's attributes: its bound context but the ids, then its own fields but the
/// ones its `END` record adds.
fn span_attributes<'a>(rec: &RecordView<'a>) -> impl Iterator<Item = (&'a str, FieldValue<&'a str>)> {
    let context = rec.context().filter(|(k, _)| !matches!(*k, "trace_id" | "span_id" | "parent_span_id"));
    let fields = rec.fields().filter(|(k, _)| !matches!(*k, "span" | "dur_ms" | "status" | "exc_info"));
    context.chain(fields)
}

/// A `Span` body from a span's `END` record.
fn write_span(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor) {
    let sp = SpanEnd::of(rec);
    if let Some(t) = sp.ids.trace {
        pb::bytes(out, 1, &t);
    }
    if let Some(s) = sp.ids.span {
        pb::bytes(out, 2, &s);
    }
    if let Some(p) = sp.ids.parent {
        pb::bytes(out, 4, &p);
    }
    pb::bytes(out, 5, sp.name.as_bytes());
    pb::uint(out, 6, SPAN_KIND_INTERNAL);
    pb::fixed64(out, 7, sp.start);
    pb::fixed64(out, 8, sp.end);
    for (k, v) in span_attributes(rec) {
        attribute(out, 9, k, v, redact);
    }
    let Some(exc) = sp.error else { return };
    // Span.events (11): one `exception` event at the span's end.
    pb::message(out, 11, |o| {
        pb::fixed64(o, 1, sp.end);
        pb::bytes(o, 2, b"exception");
        for (k, v) in exc.attributes() {
            key_value(o, 3, k, |o| pb::bytes(o, 1, v.as_bytes()));
        }
    });
    // Span.status (15): message 2, code 3.
    pb::message(out, 15, |o| {
        pb::bytes(o, 2, exc.message.as_bytes());
        pb::uint(o, 3, STATUS_CODE_ERROR);
    });
}

/// The OpenTelemetry `exception.*` attributes of an `exc_info`.
pub(crate) struct Exception {
    pub(crate) kind: String,
    pub(crate) message: String,
    /// The `source()` chain, one `caused by:` line each, then for a panic its location,
    /// thread and backtrace.
    pub(crate) stacktrace: String,
}

impl Exception {
    /// The `exception` event's attributes (no `exception.stacktrace` when there is none).
    fn attributes(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("exception.type", self.kind.as_str()),
            ("exception.message", self.message.as_str()),
            ("exception.stacktrace", self.stacktrace.as_str()),
        ]
        .into_iter()
        .filter(|(k, v)| *k != "exception.stacktrace" || !v.is_empty())
    }

    pub(crate) fn from_exc_info(exc: Option<&str>) -> Exception {
        let tree = exc.and_then(Json::parse);
        let text = |k: &str| tree.as_ref().and_then(|t| t.get(k)).and_then(Json::as_str).unwrap_or("");
        let mut stacktrace = String::new();
        if let Some(Json::Array(chain)) = tree.as_ref().and_then(|t| t.get("chain")) {
            for c in chain.iter().filter_map(Json::as_str) {
                stacktrace.push_str("caused by: ");
                stacktrace.push_str(c);
                stacktrace.push('\n');
            }
        }
        for k in ["location", "thread"] {
            if !text(k).is_empty() {
                stacktrace.push_str(k);
                stacktrace.push_str(": ");
                stacktrace.push_str(text(k));
                stacktrace.push('\n');
            }
        }
        stacktrace.push_str(text("backtrace"));
        let kind = match text("type") {
            "" => "error",
            t => t,
        };
        let message = match (text("message"), exc) {
            ("", Some(raw)) if tree.is_none() => raw,
            (m, _) => m,
        };
        Exception { kind: kind.to_owned(), message: message.to_owned(), stacktrace: stacktrace.trim_end().to_owned() }
    }
}

mod json;
#[cfg(test)]
mod tests;
