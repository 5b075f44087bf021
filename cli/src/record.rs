//! One line of `run.log`: the fast frame read straight from the bytes, and the full
//! parse (top-level keys in their order, values kept as raw JSON text).
//!
//! logkit writes every record as `{"timestamp":"<27 chars>","level":"<l>","event":...`
//! with `"target":"..."` last, so the fields most commands select on sit at fixed
//! offsets: [`Frame`] reads them without parsing. A line that does not have that shape
//! (another producer, a hand edit, a torn or corrupted line) takes the full parse, which
//! decides whether it is a record at all.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// `{"timestamp":"`: every logkit line starts with it.
const TS_PREFIX: &[u8] = b"{\"timestamp\":\"";
/// `2026-11-24T07:02:51.123456Z`.
const TS_LEN: usize = 27;
const LEVEL_KEY: &[u8] = b"\",\"level\":\"";
const EVENT_KEY: &[u8] = b",\"event\":\"";
const TARGET_KEY: &[u8] = b",\"target\":";

/// A record's level, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Error, Level::Warning, Level::Info, Level::Debug, Level::Trace];

    /// The record format's name (`warning`, not `warn`).
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// Parses a record's level; also accepts `warn` and upper case (for `--level`).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warning" | "warn" => Some(Level::Warning),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "trace" => Some(Level::Trace),
            _ => None,
        }
    }

    fn from_bytes(b: &[u8]) -> Option<Level> {
        match b {
            b"error" => Some(Level::Error),
            b"warning" => Some(Level::Warning),
            b"info" => Some(Level::Info),
            b"debug" => Some(Level::Debug),
            b"trace" => Some(Level::Trace),
            _ => None,
        }
    }
}

/// What the fixed layout of a logkit line tells without parsing it.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The timestamp's 27 bytes.
    pub timestamp: &'a [u8],
    pub level: Level,
    /// The bytes from the start of the event's value (after its opening quote).
    pub event_tail: &'a [u8],
    /// The target, when it is the last key and has no escapes.
    pub target: Option<&'a [u8]>,
}

impl<'a> Frame<'a> {
    /// The frame of `line` (without its `\n`), or `None` when the line does not have
    /// logkit's layout (then [`Record::parse`] decides).
    #[inline]
    pub fn read(line: &'a [u8]) -> Option<Frame<'a>> {
        let rest = line.strip_prefix(TS_PREFIX)?;
        if rest.len() < TS_LEN || !line.ends_with(b"}") {
            return None;
        }
        let (timestamp, rest) = rest.split_at(TS_LEN);
        let rest = rest.strip_prefix(LEVEL_KEY)?;
        let q = memchr::memchr(b'"', rest)?;
        let level = Level::from_bytes(&rest[..q])?;
        let event_tail = rest[q + 1..].strip_prefix(EVENT_KEY)?;
        Some(Frame { timestamp, level, event_tail, target: target_of(line) })
    }

    /// Whether the event is exactly `event`.
    #[inline]
    pub fn event_is(&self, event: &[u8]) -> bool {
        self.event_tail.len() > event.len()
            && self.event_tail.starts_with(event)
            && self.event_tail[event.len()] == b'"'
    }
}

/// The value of a last `"target":"..."` key written without escapes.
#[inline]
fn target_of(line: &[u8]) -> Option<&[u8]> {
    let body = line.strip_suffix(b"\"}")?;
    let q = memchr::memrchr(b'"', body)?;
    let value = &body[q + 1..];
    // An escaped quote is preceded by a backslash, so a quote preceded by `,"target":`
    // opens the value; a value with escapes takes the full parse.
    if !body[..q].ends_with(TARGET_KEY) || memchr::memchr(b'\\', value).is_some() {
        return None;
    }
    Some(value)
}

/// A top-level key, borrowed from the line unless it had escapes.
#[derive(Debug)]
pub struct Key<'a>(pub Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// One parsed record: its top-level keys in line order, values as raw JSON.
#[derive(Debug)]
pub struct Record<'a> {
    pub fields: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Why a line is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Not UTF-8, not JSON, or not a JSON object (a torn or corrupted line).
    NotJson,
    /// A JSON object without a string `timestamp` and a known `level`.
    NotLogkit,
}

impl<'a> Record<'a> {
    /// Parses a line (without its `\n`).
    pub fn parse(line: &'a [u8]) -> Result<Record<'a>, Bad> {
        let text = std::str::from_utf8(line).map_err(|_| Bad::NotJson)?;
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::with_capacity(16);
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k.0, v));
                }
                Ok(out)
            }
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let fields = de.deserialize_map(V).map_err(|_| Bad::NotJson)?;
        de.end().map_err(|_| Bad::NotJson)?;
        let rec = Record { fields };
        if rec.str("timestamp").is_none() || rec.level().is_none() {
            return Err(Bad::NotLogkit);
        }
        Ok(rec)
    }

    /// The raw JSON of the first `key`.
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The string value of the first `key` (`None` when absent or not a string).
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        self.raw(key).and_then(as_str)
    }

    /// The number value of the first `key`.
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.raw(key).and_then(|v| serde_json::from_str::<f64>(v.get()).ok())
    }

    pub fn level(&self) -> Option<Level> {
        self.str("level").as_deref().and_then(Level::parse)
    }

    pub fn timestamp(&self) -> Cow<'a, str> {
        self.str("timestamp").unwrap_or_default()
    }

    pub fn event(&self) -> Cow<'a, str> {
        self.str("event").unwrap_or_default()
    }

    /// The target: the last `target` key (logkit writes it last).
    pub fn target(&self) -> Cow<'a, str> {
        self.fields.iter().rev().find(|(k, _)| k == "target").and_then(|(_, v)| as_str(v)).unwrap_or_default()
    }

    /// Whether this is a span's `END` record with `status="error"`, or an error record.
    pub fn is_error(&self) -> bool {
        self.level() == Some(Level::Error) || self.str("status").as_deref() == Some("error")
    }

    /// Whether this is a span's `END` record.
    pub fn is_end(&self) -> bool {
        self.event() == "END" && self.str("span").is_some()
    }
}

/// A raw value as a string, when it is one.
pub fn as_str(v: &RawValue) -> Option<Cow<'_, str>> {
    let text = v.get();
    if !text.starts_with('"') {
        return None;
    }
    serde_json::from_str::<Cow<'_, str>>(text).ok()
}

/// A raw value as text: strings decoded, anything else as its JSON.
pub fn as_text(v: &RawValue) -> Cow<'_, str> {
    as_str(v).unwrap_or(Cow::Borrowed(v.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"error","event":"END","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span":"db","dur_ms":1.5,"status":"error","target":"app::db"}"#;

    #[test]
    fn a_logkit_line_has_a_frame_with_timestamp_level_event_and_target() {
        let f = Frame::read(LINE).expect("frame");
        assert_eq!(f.timestamp, b"2026-11-24T07:02:51.123456Z");
        assert_eq!(f.level, Level::Error);
        assert!(f.event_is(b"END"));
        assert!(!f.event_is(b"EN"));
        assert_eq!(f.target, Some(&b"app::db"[..]));
    }

    #[test]
    fn a_target_with_escapes_or_not_last_is_left_to_the_full_parse() {
        let line = br#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"info","event":"m","target":"a\"b"}"#;
        assert_eq!(Frame::read(line).unwrap().target, None);
        let line = br#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"info","event":"m","x":"y"}"#;
        assert_eq!(Frame::read(line).unwrap().target, None);
    }

    #[test]
    fn torn_and_foreign_lines_have_no_frame() {
        assert!(Frame::read(&LINE[..LINE.len() - 3]).is_none());
        assert!(Frame::read(br#"{"level":"info"}"#).is_none());
        assert!(Frame::read(br#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"loud","event":"m"}"#).is_none());
    }

    #[test]
    fn the_full_parse_keeps_key_order_and_decodes_strings() {
        let r = Record::parse(LINE).unwrap();
        let keys: Vec<_> = r.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["timestamp", "level", "event", "trace_id", "span", "dur_ms", "status", "target"]);
        assert_eq!(r.f64("dur_ms"), Some(1.5));
        assert_eq!(r.target(), "app::db");
        assert!(r.is_error() && r.is_end());
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(Record::parse(b"garbage").unwrap_err(), Bad::NotJson);
        assert_eq!(Record::parse(&LINE[..LINE.len() - 1]).unwrap_err(), Bad::NotJson);
        assert_eq!(Record::parse(b"[1,2]").unwrap_err(), Bad::NotJson);
        assert_eq!(Record::parse(b"{\"a\":1} x").unwrap_err(), Bad::NotJson);
        assert_eq!(Record::parse(b"\xff\xfe").unwrap_err(), Bad::NotJson);
        assert_eq!(Record::parse(br#"{"msg":"hello"}"#).unwrap_err(), Bad::NotLogkit);
    }
}
