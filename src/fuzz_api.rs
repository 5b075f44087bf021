//! Entry points for the fuzz targets in `fuzz/` and its regression replayer: the
//! private encoder, renderers and parsers behind stable signatures. Compiled only with
//! the `__fuzz` feature, which `fuzz/Cargo.toml` turns on. Not API: may change in any
//! release.

use crate::record::ValueEncoder;
use crate::record::{view, Encoder, HAS_MESSAGE, HAS_TARGET, INLINE_KEYS};
use crate::render::time::TimestampCache;
use crate::render::{json, pretty, Redactor};

/// A field value for [`render`]: logkit's one value type, with owned strings.
pub use crate::record::FieldValue;

/// Encodes one record (message, context entries, fields with inline keys) the way a
/// call site does (a `Json` value must hold one valid JSON value), then renders it as
/// the writer does: returns the JSON line (with its `\n`) and the pretty console line
/// (without colour).
pub fn render(
    timestamp_ns: u64,
    target: &str,
    message: &str,
    context: &[(String, FieldValue<String>)],
    fields: &[(String, FieldValue<String>)],
    redact: &[&str],
) -> (Vec<u8>, Vec<u8>) {
    let mut ctx = Vec::new();
    for (k, v) in context {
        ctx.extend_from_slice(&(k.len() as u32).to_ne_bytes());
        ctx.extend_from_slice(k.as_bytes());
        v.encode(&mut ValueEncoder::new(&mut ctx));
    }
    let mut buf = Vec::new();
    let mut enc =
        Encoder::begin(&mut buf, crate::Level::Info, HAS_TARGET | HAS_MESSAGE | INLINE_KEYS, None, timestamp_ns);
    enc.raw_str(target);
    enc.raw_str(message);
    enc.context(&ctx);
    for (k, v) in fields {
        enc.raw_str(k);
        v.encode(&mut enc.values());
    }
    enc.finish();
    let redact = Redactor::new(redact);
    let mut ts = TimestampCache::default();
    let (mut j, mut p) = (Vec::new(), Vec::new());
    for rec in view::records(&buf) {
        json::write_record(&mut j, &rec, &redact, &mut ts);
        pretty::write_record(&mut p, &rec, &redact, false, &mut ts);
    }
    (j, p)
}

/// `LOG_LEVEL` directives: the normalised form, or the error message.
pub fn parse_directives(s: &str) -> Result<String, String> {
    crate::level::Directives::parse(s, crate::LevelFilter::Info).map(|d| d.to_string()).map_err(|e| e.0)
}

/// One env knob's value (`LOG_SAMPLE`, `LOG_FSYNC`, ...): `Err` is the reason.
pub fn check_knob(name: &str, value: &str) -> Result<(), String> {
    crate::config::check_knob(name, value)
}
