//! The same requests in OTLP/JSON (`LOG_OTLP_PROTOCOL=http/json`), written straight
//! from the compact record like the protobuf ones. The OTLP specification's rules for
//! JSON, which strict collectors enforce:
//!
//! - keys are the protobuf field names in lowerCamelCase (`timeUnixNano`, `logRecords`);
//! - `traceId`, `spanId` and `parentSpanId` are hex strings (not base64, as the
//!   generic protobuf JSON mapping would write bytes);
//! - 64-bit integers (`fixed64` times, `intValue`) are decimal strings;
//! - enums (`severityNumber`, `kind`, `status.code`) are numbers;
//! - doubles are numbers. NaN and the infinities have no JSON number: the protobuf
//!   JSON mapping writes them as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` in
//!   `doubleValue`, but strict collectors (rotel 0.0.1a15, and
//!   `opentelemetry-proto`'s serde types) answer such a request with 400, which would
//!   cost the whole batch. So they go as a `stringValue` of those words, which is
//!   also how `run.log` writes them.
//!
//! Every item (a `LogRecord`, a `Span`) is written followed by a comma; the comma after
//! the last item of a list is dropped when the list is closed.

use super::{severity_number, span_attributes, take_id, Ids, Json, Scopes, SpanEnd};
use super::{SPAN_KIND_INTERNAL, STATUS_CODE_ERROR};
use crate::record::{FieldValue, RecordView};
use crate::render::escape::write_str;
use crate::render::Redactor;

/// The key names of one signal's request.
pub(crate) struct Signal {
    resource: &'static [u8],
    scope: &'static [u8],
    items: &'static [u8],
}

/// `ExportLogsServiceRequest`.
pub(crate) const LOGS: Signal = Signal { resource: b"resourceLogs", scope: b"scopeLogs", items: b"logRecords" };
/// `ExportTraceServiceRequest`.
pub(crate) const SPANS: Signal = Signal { resource: b"resourceSpans", scope: b"scopeSpans", items: b"spans" };

/// Drops the comma after the last item of a list about to be closed.
fn end_items(out: &mut Vec<u8>) {
    if out.last() == Some(&b',') {
        out.pop();
    }
}

/// `"key":` for a key that needs no escaping.
fn key(out: &mut Vec<u8>, k: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(k);
    out.extend_from_slice(b"\":");
}

/// A 64-bit integer as a decimal string.
fn int_str(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.push(b'"');
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    out.push(b'"');
}

/// An id as a lowercase hex string.
fn hex(out: &mut Vec<u8>, id: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in id {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xF)]);
    }
    out.push(b'"');
}

/// The whole request: one resource with its scopes, each with its items.
pub(crate) fn request(out: &mut Vec<u8>, signal: &Signal, resource: &[u8], scopes: &Scopes) {
    out.push(b'{');
    key(out, signal.resource);
    out.extend_from_slice(b"[{\"resource\":{");
    out.extend_from_slice(resource);
    out.extend_from_slice(b"},");
    key(out, signal.scope);
    out.push(b'[');
    for (name, body) in scopes.names.iter().zip(&scopes.bodies) {
        if body.is_empty() {
            continue;
        }
        out.extend_from_slice(b"{\"scope\":{\"name\":");
        write_str(out, name);
        out.extend_from_slice(b"},");
        key(out, signal.items);
        out.push(b'[');
        out.extend_from_slice(body);
        end_items(out);
        out.extend_from_slice(b"]},");
    }
    end_items(out);
    out.extend_from_slice(b"]}]}");
}

/// The members of a `Resource` object: its `attributes`.
pub(crate) fn resource(out: &mut Vec<u8>, attributes: &[(String, String)]) {
    key(out, b"attributes");
    out.push(b'[');
    for (k, v) in attributes {
        key_value(out, k, |o| string_value(o, v));
    }
    end_items(out);
    out.push(b']');
}

/// `{"key":k,"value":{...}},` with the `AnyValue`'s members written by `value`.
fn key_value(out: &mut Vec<u8>, k: &str, value: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(b"{\"key\":");
    write_str(out, k);
    out.extend_from_slice(b",\"value\":{");
    value(out);
    out.extend_from_slice(b"}},");
}

fn string_value(out: &mut Vec<u8>, s: &str) {
    key(out, b"stringValue");
    write_str(out, s);
}

/// An attribute from a record's context or fields, masked if its key is redacted.
fn attribute(out: &mut Vec<u8>, k: &str, v: FieldValue<&str>, redact: &Redactor) {
    if redact.is_redacted(k) {
        key_value(out, k, |o| string_value(o, "***"));
    } else {
        key_value(out, k, |o| any_value(o, v, redact));
    }
}

/// The members of an `AnyValue` for `v`, as the protobuf encoder chooses them:
/// integers beyond `int64` as their decimal strings, `null` as an empty `AnyValue`.
fn any_value(out: &mut Vec<u8>, v: FieldValue<&str>, redact: &Redactor) {
    let decimal = |out: &mut Vec<u8>, s: String| string_value(out, &s);
    match v {
        FieldValue::Null => {}
        FieldValue::Bool(b) => bool_value(out, b),
        FieldValue::U64(n) => match i64::try_from(n) {
            Ok(i) => int_value(out, i),
            Err(_) => decimal(out, n.to_string()),
        },
        FieldValue::I64(i) => int_value(out, i),
        FieldValue::U128(n) => match i64::try_from(n) {
            Ok(i) => int_value(out, i),
            Err(_) => decimal(out, n.to_string()),
        },
        FieldValue::I128(n) => match i64::try_from(n) {
            Ok(i) => int_value(out, i),
            Err(_) => decimal(out, n.to_string()),
        },
        FieldValue::F64(f) => double_value(out, f),
        FieldValue::Str(s) => string_value(out, s),
        FieldValue::Json(j) => match Json::parse(j) {
            Some(tree) => json_any(out, &tree, redact),
            None => string_value(out, j),
        },
    }
}

fn bool_value(out: &mut Vec<u8>, b: bool) {
    key(out, b"boolValue");
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn int_value(out: &mut Vec<u8>, i: i64) {
    key(out, b"intValue");
    int_str(out, i);
}

/// A finite double as a number, NaN and the infinities as strings (see the module doc).
fn double_value(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        key(out, b"doubleValue");
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else if f.is_nan() {
        string_value(out, "NaN");
    } else if f > 0.0 {
        string_value(out, "Infinity");
    } else {
        string_value(out, "-Infinity");
    }
}

/// A nested JSON value as an `AnyValue`; object members with a redacted key are masked.
fn json_any(out: &mut Vec<u8>, j: &Json, redact: &Redactor) {
    match j {
        Json::Null => {}
        Json::Bool(b) => bool_value(out, *b),
        Json::Int(i) => int_value(out, *i),
        Json::Float(f) => double_value(out, *f),
        Json::Str(s) => string_value(out, s),
        Json::Array(items) => {
            out.extend_from_slice(b"\"arrayValue\":{\"values\":[");
            for item in items {
                out.push(b'{');
                json_any(out, item, redact);
                out.extend_from_slice(b"},");
            }
            end_items(out);
            out.extend_from_slice(b"]}");
        }
        Json::Object(members) => {
            out.extend_from_slice(b"\"kvlistValue\":{\"values\":[");
            for (k, v) in members {
                if redact.is_redacted(k) {
                    key_value(out, k, |o| string_value(o, "***"));
                } else {
                    key_value(out, k, |o| json_any(o, v, redact));
                }
            }
            end_items(out);
            out.extend_from_slice(b"]}");
        }
    }
}

/// A `LogRecord` object and its comma.
pub(crate) fn log(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor, observed_ns: u64) {
    out.push(b'{');
    key(out, b"timeUnixNano");
    int_str(out, rec.timestamp_ns);
    out.push(b',');
    key(out, b"observedTimeUnixNano");
    int_str(out, observed_ns);
    out.push(b',');
    key(out, b"severityNumber");
    out.extend_from_slice(itoa::Buffer::new().format(severity_number(rec.level)).as_bytes());
    out.push(b',');
    key(out, b"severityText");
    write_str(out, rec.level.as_str());
    if !rec.message.is_empty() {
        out.extend_from_slice(b",\"body\":{");
        string_value(out, rec.message);
        out.push(b'}');
    }
    out.extend_from_slice(b",\"attributes\":[");
    let mut ids = Ids::default();
    for (k, v) in rec.context() {
        if !take_id(&mut ids, k, &v) {
            attribute(out, k, v, redact);
        }
    }
    for (k, v) in rec.fields() {
        attribute(out, k, v, redact);
    }
    end_items(out);
    out.push(b']');
    if let Some(t) = ids.trace {
        out.extend_from_slice(b",\"traceId\":");
        hex(out, &t);
    }
    if let Some(s) = ids.span {
        out.extend_from_slice(b",\"spanId\":");
        hex(out, &s);
    }
    out.extend_from_slice(b"},");
}

/// A `Span` object (from a span's `END` record) and its comma.
pub(crate) fn span(out: &mut Vec<u8>, rec: &RecordView<'_>, redact: &Redactor) {
    let sp = SpanEnd::of(rec);
    out.push(b'{');
    if let Some(t) = sp.ids.trace {
        key(out, b"traceId");
        hex(out, &t);
        out.push(b',');
    }
    if let Some(s) = sp.ids.span {
        key(out, b"spanId");
        hex(out, &s);
        out.push(b',');
    }
    if let Some(p) = sp.ids.parent {
        key(out, b"parentSpanId");
        hex(out, &p);
        out.push(b',');
    }
    key(out, b"name");
    write_str(out, sp.name);
    out.extend_from_slice(b",\"kind\":");
    out.extend_from_slice(itoa::Buffer::new().format(SPAN_KIND_INTERNAL).as_bytes());
    out.extend_from_slice(b",\"startTimeUnixNano\":");
    int_str(out, sp.start);
    out.extend_from_slice(b",\"endTimeUnixNano\":");
    int_str(out, sp.end);
    out.extend_from_slice(b",\"attributes\":[");
    for (k, v) in span_attributes(rec) {
        attribute(out, k, v, redact);
    }
    end_items(out);
    out.push(b']');
    if let Some(exc) = sp.error {
        out.extend_from_slice(b",\"events\":[{\"timeUnixNano\":");
        int_str(out, sp.end);
        out.extend_from_slice(b",\"name\":\"exception\",\"attributes\":[");
        for (k, v) in exc.attributes() {
            key_value(out, k, |o| string_value(o, v));
        }
        end_items(out);
        out.extend_from_slice(b"]}],\"status\":{\"message\":");
        write_str(out, &exc.message);
        out.extend_from_slice(b",\"code\":");
        out.extend_from_slice(itoa::Buffer::new().format(STATUS_CODE_ERROR).as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"},");
}
