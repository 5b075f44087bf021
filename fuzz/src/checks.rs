//! The properties each fuzz target checks. Every function panics, with a message
//! naming the broken property, when logkit misbehaves; a panic inside logkit itself
//! propagates the same way. Long strings in messages are shortened.

use std::fmt;

use logkit::__fuzz::{check_knob, parse_directives, render, FieldValue};
use logkit::{SpanId, TraceId, TraceParent, MAX_VALUE_BYTES};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::input::{DirectivesInput, KnobInput, Record, RecordInput, TraceIdInput};

/// Every knob `check_knob` parses.
pub const KNOBS: [&str; 10] = [
    "LOG_PROFILE",
    "LOG_SAMPLE",
    "LOG_ROTATE_MB",
    "LOG_BUFFER",
    "LOG_OVERFLOW",
    "LOG_FSYNC",
    "LOG_CONSOLE",
    "LOG_FILE_MODE",
    "LOG_REDACT",
    "LOG_LEVEL",
];

/// Variables logkit reads that `check_knob` does not parse (any value is taken as is);
/// given to it anyway, only to see it does not panic.
pub const UNPARSED_KNOBS: [&str; 2] = ["LOG_FILE", "LOG_OTLP"];

/// At most 200 chars of `s`, for panic messages.
fn short(s: &str) -> String {
    if s.chars().count() <= 200 {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(200).collect();
    format!("{head:?}… ({} bytes)", s.len())
}

/// What logkit stores for a string: at most `MAX_VALUE_BYTES` (cut on a char boundary)
/// and a truncation marker.
pub fn capped(s: &str) -> String {
    if s.len() <= MAX_VALUE_BYTES {
        return s.to_owned();
    }
    let mut cut = MAX_VALUE_BYTES;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[truncated {} bytes]", &s[..cut], s.len() - cut)
}

/// Whether `LOG_REDACT` entries `redact` mask `key` (whole key, ASCII case-insensitive,
/// entries trimmed, empty entries ignored).
pub fn is_redacted(key: &str, redact: &[String]) -> bool {
    redact.iter().any(|r| {
        let r = r.trim();
        !r.is_empty() && r.eq_ignore_ascii_case(key)
    })
}

/// The bidirectional controls (the "Trojan Source" set).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters that must never appear raw in a rendered line: controls (C0, DEL, C1),
/// U+2028 / U+2029 and the bidi controls.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c)
}

/// The members of a JSON object in order, duplicates kept, each value as its exact
/// text.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Members, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Hinnant's `days_from_civil`:
/// the inverse of the algorithm logkit formats with, so the check is independent).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `timestamp` is `YYYY-MM-DDTHH:MM:SS.ffffffZ` for `ns` (UTC, microseconds truncated).
fn check_timestamp(timestamp: &str, ns: u64) {
    let b = timestamp.as_bytes();
    let shape = b.len() == 27
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "timestamp {timestamp:?} is not YYYY-MM-DDTHH:MM:SS.ffffffZ (ns = {ns})");
    let num = |r: std::ops::Range<usize>| timestamp[r].parse::<i64>().unwrap_or(-1);
    let (y, mo, d, h, mi, s, us) =
        (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16), num(17..19), num(20..26));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&mo) && d >= 1 && d <= month_days[(mo - 1).clamp(0, 11) as usize];
    assert!(valid && h < 24 && mi < 60 && s < 60, "timestamp {timestamp:?} is not a valid date and time (ns = {ns})");
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    assert_eq!(
        (secs, us),
        ((ns / 1_000_000_000) as i64, (ns % 1_000_000_000 / 1_000) as i64),
        "timestamp {timestamp:?} is not ns = {ns}"
    );
}

/// The raw JSON text of `value` under `key` is what logkit must write for `expected`.
fn check_value(key: &str, raw: &str, expected: &FieldValue<String>) {
    let want_text = |want: &str| assert_eq!(raw, want, "value of {} is not {want}", short(key));
    match expected {
        FieldValue::Null => want_text("null"),
        FieldValue::Bool(b) => want_text(if *b { "true" } else { "false" }),
        FieldValue::U64(x) => want_text(&x.to_string()),
        FieldValue::I64(x) => want_text(&x.to_string()),
        FieldValue::U128(x) => want_text(&x.to_string()),
        FieldValue::I128(x) => want_text(&x.to_string()),
        FieldValue::F64(x) if x.is_nan() => want_text("\"NaN\""),
        FieldValue::F64(x) if x.is_infinite() => want_text(if *x > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" }),
        FieldValue::F64(x) => {
            // A JSON number (not a string) that parses back to the same bits, -0.0
            // included: logkit writes `-0.0`, which JSON allows.
            assert!(
                raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()),
                "float {x:?} of {} written as {raw}, not a number",
                short(key)
            );
            let back: f64 = raw.parse().unwrap_or_else(|e| panic!("float {x:?} written as {raw}: {e}"));
            assert_eq!(
                back.to_bits(),
                x.to_bits(),
                "float {x:?} of {} written as {raw}, reads back as {back:?}",
                short(key)
            );
        }
        FieldValue::Str(s) => {
            let back: String = serde_json::from_str(raw)
                .unwrap_or_else(|e| panic!("string of {} written as {} is not a string: {e}", short(key), short(raw)));
            let want = capped(s);
            assert!(back == want, "string of {} reads back as {}, not {}", short(key), short(&back), short(&want));
        }
        FieldValue::Json(j) => {
            let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).ok();
            assert!(
                parse(raw).is_some() && parse(raw) == parse(j),
                "nested JSON of {} written as {}",
                short(key),
                short(raw)
            );
        }
    }
}

/// The JSON line: one line, valid JSON, an object whose members are, in order,
/// `timestamp`, `level`, `event`, the context entries, the fields and `target`, each
/// with exactly the value logged (or `"***"` when redacted).
fn check_json_line(json: &[u8], r: &Record) {
    let line = std::str::from_utf8(json).unwrap_or_else(|e| panic!("JSON line is not UTF-8: {e}"));
    let body = line.strip_suffix('\n').unwrap_or_else(|| panic!("JSON line does not end in \\n: {}", short(line)));
    if let Some(c) = body.chars().find(|&c| is_unsafe_char(c)) {
        panic!("raw {c:?} in the JSON line {}", short(line));
    }
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON line does not parse: {e}: {}", short(line)));
    assert!(value.is_object(), "JSON line is not an object: {}", short(line));
    let Members(members) = serde_json::from_str(line).unwrap_or_else(|e| panic!("members: {e}"));

    let info = FieldValue::Str("info".to_owned());
    let event = FieldValue::Str(r.message.clone());
    let target = FieldValue::Str(r.target.clone());
    // Context keys are stored as given; field keys, like every string value, capped.
    let mut expected: Vec<(String, &FieldValue<String>)> =
        vec![("level".to_owned(), &info), ("event".to_owned(), &event)];
    // A context key bound again later (an inner span) appears once, at its last
    // binding, with that value.
    expected.extend(
        r.context
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !r.context[i + 1..].iter().any(|(later, _)| later == k))
            .map(|(_, (k, v))| (k.clone(), v)),
    );
    expected.extend(r.fields.iter().map(|(k, v)| (capped(k), v)));
    expected.push(("target".to_owned(), &target));

    let names = || members.iter().map(|(k, _)| short(k)).collect::<Vec<_>>().join(", ");
    assert_eq!(members.len(), expected.len() + 1, "JSON members: {}", names());
    let (first, raw) = &members[0];
    assert_eq!(first, "timestamp", "first member");
    let timestamp: String = serde_json::from_str(raw.get()).expect("timestamp is a string");
    check_timestamp(&timestamp, r.timestamp_ns);
    for (i, ((key, raw), (want_key, want))) in members[1..].iter().zip(&expected).enumerate() {
        assert!(key == want_key, "member {} is {}, not {} (members: {})", i + 1, short(key), short(want_key), names());
        let redactable = i >= 2 && i < expected.len() - 1;
        if redactable && is_redacted(key, &r.redact) {
            assert_eq!(raw.get(), "\"***\"", "{} is redacted", short(key));
        } else {
            check_value(key, raw.get(), want);
        }
    }
}

/// The pretty console line: one line, valid UTF-8, no raw control character (so no
/// ESC), U+2028/9 or bidi control, starting with the time of day and the level; a
/// redacted key with a plain name shows as `key=***`.
fn check_pretty_line(pretty: &[u8], r: &Record) {
    let line = std::str::from_utf8(pretty).unwrap_or_else(|e| panic!("pretty line is not UTF-8: {e}"));
    let body = line.strip_suffix('\n').unwrap_or_else(|| panic!("pretty line does not end in \\n: {}", short(line)));
    if let Some(c) = body.chars().find(|&c| is_unsafe_char(c)) {
        panic!("raw {c:?} in the pretty line {}", short(line));
    }
    let secs = r.timestamp_ns / 1_000_000_000 % 86_400;
    let millis = r.timestamp_ns % 1_000_000_000 / 1_000_000;
    let head = format!("{:02}:{:02}:{:02}.{millis:03} INFO  ", secs / 3600, secs / 60 % 60, secs % 60);
    assert!(body.starts_with(&head), "pretty line does not start with {head:?}: {}", short(line));
    if r.message == "END" {
        return; // a span summary hides some fields
    }
    let plain = |k: &str| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let hidden = ["trace_id", "span_id", "parent_span_id"];
    let context = r.context.iter().map(|(k, _)| k).filter(|k| !hidden.contains(&k.as_str()));
    for key in context.chain(r.fields.iter().map(|(k, _)| k)) {
        if plain(key) && is_redacted(key, &r.redact) {
            assert!(body.contains(&format!(" {key}=***")), "redacted {key} not shown as {key}=***: {}", short(line));
        }
    }
}

/// `json_record`: renders the record and checks both lines.
pub fn json_record(input: &RecordInput) {
    let r = input.to_record();
    let redact: Vec<&str> = r.redact.iter().map(String::as_str).collect();
    let (json, pretty) = render(r.timestamp_ns, &r.target, &r.message, &r.context, &r.fields, &redact);
    check_json_line(&json, &r);
    check_pretty_line(&pretty, &r);
}

/// `directives`: never panics; an accepted string's normalised form is accepted and
/// normalises to itself, and has the shape `level(,target=level)*`.
pub fn directives(input: &DirectivesInput) {
    let Ok(normal) = parse_directives(&input.0) else { return };
    let again = parse_directives(&normal)
        .unwrap_or_else(|e| panic!("normalised form {normal:?} of {:?} is rejected: {e}", input.0));
    assert_eq!(again, normal, "normalising {:?} twice", input.0);
    let levels = ["off", "error", "warn", "info", "debug", "trace"];
    let mut parts = normal.split(',');
    assert!(parts.next().is_some_and(|l| levels.contains(&l)), "{normal:?} does not start with a level");
    for p in parts {
        let ok = p
            .split_once('=')
            .is_some_and(|(t, l)| !t.is_empty() && !t.contains(char::is_whitespace) && levels.contains(&l));
        assert!(ok, "{p:?} in {normal:?} is not target=level");
    }
}

/// `trace_ids`: the three parsers never panic; what they accept is not all-zero,
/// displays as lowercase hex of the right length and parses back to itself.
pub fn trace_ids(input: &TraceIdInput) {
    let s = input.0.as_str();
    let lower_hex = |d: &str, n: usize| d.len() == n && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Ok(id) = TraceId::parse(s) {
        assert_ne!(id.to_u128(), 0, "all-zero trace id accepted from {s:?}");
        let d = id.to_string();
        assert!(lower_hex(&d, 32), "trace id from {s:?} displays as {d:?}");
        assert_eq!(TraceId::parse(&d), Ok(id), "trace id {d:?} does not parse back");
    }
    if let Ok(id) = SpanId::parse(s) {
        assert_ne!(id.to_u64(), 0, "all-zero span id accepted from {s:?}");
        let d = id.to_string();
        assert!(lower_hex(&d, 16), "span id from {s:?} displays as {d:?}");
        assert_eq!(SpanId::parse(&d), Ok(id), "span id {d:?} does not parse back");
    }
    if let Ok(tp) = TraceParent::parse(s) {
        assert_ne!(tp.trace_id.to_u128(), 0, "all-zero trace id accepted in {s:?}");
        assert_ne!(tp.parent_id.to_u64(), 0, "all-zero parent id accepted in {s:?}");
        let d = tp.to_string();
        assert_eq!(TraceParent::parse(&d), Ok(tp), "traceparent {d:?} does not parse back");
        assert_eq!(d.parse::<TraceParent>(), Ok(tp), "FromStr and parse disagree on {d:?}");
        // TraceId::parse takes a traceparent's trace id too.
        assert_eq!(TraceId::parse(s), Ok(tp.trace_id), "TraceId::parse of the traceparent {s:?}");
    }
}

/// `env_knobs`: `check_knob` never panics for any knob and value; rejections carry a
/// reason; `LOG_REDACT` takes anything; `LOG_LEVEL` agrees with the directive parser;
/// surrounding whitespace never changes a verdict; unknown names are rejected. The
/// input is also split at its first NUL into an arbitrary name and value.
pub fn env_knobs(input: &KnobInput) {
    let v = input.0.as_str();
    let padded = format!(" \t{v} ");
    for name in KNOBS {
        let r = check_knob(name, v);
        if let Err(e) = &r {
            assert!(!e.is_empty(), "{name}={v:?} rejected without a reason");
        }
        assert_eq!(check_knob(name, &padded).is_ok(), r.is_ok(), "{name}: {v:?} and {padded:?} disagree");
        match name {
            "LOG_REDACT" => assert!(r.is_ok(), "LOG_REDACT={v:?} rejected"),
            "LOG_LEVEL" => assert_eq!(r.is_ok(), parse_directives(v).is_ok(), "LOG_LEVEL={v:?}"),
            _ => {}
        }
    }
    for name in UNPARSED_KNOBS {
        let _ = check_knob(name, v);
    }
    if let Some((name, value)) = v.split_once('\0') {
        let r = check_knob(name, value);
        if !KNOBS.contains(&name) && !UNPARSED_KNOBS.contains(&name) {
            assert!(r.is_err(), "unknown knob {name:?} accepted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-24T07:02:51.123456789Z
    const NS: u64 = 1_795_503_771_123_456_789;
    const TS: &str = "2026-11-24T07:02:51.123456Z";

    fn record(fields: Vec<(&str, FieldValue<String>)>, redact: &[&str]) -> Record {
        Record {
            timestamp_ns: NS,
            target: "app".to_owned(),
            message: "m".to_owned(),
            context: Vec::new(),
            fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            redact: redact.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn line(members: &str) -> String {
        format!("{{\"timestamp\":\"{TS}\",\"level\":\"info\",\"event\":\"m\"{members},\"target\":\"app\"}}\n")
    }

    fn json_fails(members: &str, r: &Record) -> bool {
        let l = line(members);
        std::panic::catch_unwind(|| check_json_line(l.as_bytes(), r)).is_err()
    }

    #[test]
    fn the_json_check_accepts_a_faithful_line() {
        let r = record(
            vec![
                ("a", FieldValue::U128(u128::MAX)),
                ("z", FieldValue::F64(-0.0)),
                ("n", FieldValue::F64(f64::NAN)),
                ("s", FieldValue::Str("x\u{2028}\"".to_owned())),
                ("p", FieldValue::Str("secret".to_owned())),
            ],
            &[" P "],
        );
        let members = ",\"a\":340282366920938463463374607431768211455,\"z\":-0.0,\"n\":\"NaN\",\"s\":\"x\\u2028\\\"\",\"p\":\"***\"";
        assert!(!json_fails(members, &r));
    }

    #[test]
    fn the_json_check_catches_each_kind_of_fault() {
        let u = record(vec![("a", FieldValue::U128(u128::MAX))], &[]);
        assert!(json_fails(",\"a\":340282366920938463463374607431768211456", &u), "u128 off by one");
        assert!(json_fails(",\"a\":3.402823669209385e38", &u), "u128 as a float");
        let z = record(vec![("z", FieldValue::F64(-0.0))], &[]);
        assert!(json_fails(",\"z\":0.0", &z), "sign of zero lost");
        assert!(json_fails(",\"z\":\"-0.0\"", &z), "float as a string");
        let s = record(vec![("s", FieldValue::Str("a\u{2028}".to_owned()))], &[]);
        assert!(json_fails(",\"s\":\"a\u{2028}\"", &s), "raw U+2028");
        assert!(json_fails(",\"s\":\"a\"", &s), "string changed");
        assert!(json_fails(",\"s\":\"a\\u2028\",\"s\":\"a\\u2028\"", &s), "extra member");
        let p = record(vec![("pass", FieldValue::Str("x".to_owned()))], &["PASS"]);
        assert!(json_fails(",\"pass\":\"x\"", &p), "not redacted");
        let ok = record(Vec::new(), &[]);
        let two_lines = format!("{}\n", line(""));
        assert!(std::panic::catch_unwind(|| check_json_line(two_lines.as_bytes(), &ok)).is_err(), "two newlines");
        let bad_ts = line("").replace("07:02:51.123456", "07:02:51.123457");
        assert!(std::panic::catch_unwind(|| check_json_line(bad_ts.as_bytes(), &ok)).is_err(), "timestamp");
    }

    #[test]
    fn the_pretty_check_catches_controls_and_unredacted_keys() {
        let r = record(vec![("pass", FieldValue::Str("x".to_owned()))], &["pass"]);
        let check = |l: &str| {
            let l = l.to_owned();
            let r = r.clone();
            std::panic::catch_unwind(move || check_pretty_line(l.as_bytes(), &r)).is_ok()
        };
        assert!(check("07:02:51.123 INFO  m pass=*** app\n"));
        assert!(!check("07:02:51.123 INFO  m pass=x app\n"));
        assert!(!check("07:02:51.123 INFO  m\u{1b}[2J pass=*** app\n"));
        assert!(!check("07:02:51.123 INFO  m\u{202e} pass=*** app\n"));
        assert!(!check("07:02:51.123 INFO  m pass=*** app\n\n"));
        assert!(!check("07:02:52.123 INFO  m pass=*** app\n"));
    }

    #[test]
    fn timestamps_are_checked_against_the_calendar() {
        check_timestamp("1970-01-01T00:00:00.000000Z", 0);
        check_timestamp("2554-07-21T23:34:33.709551Z", u64::MAX);
        check_timestamp("2000-02-29T00:00:00.000000Z", 951_782_400_000_000_000);
        assert!(std::panic::catch_unwind(|| check_timestamp(
            "2001-02-29T00:00:00.000000Z",
            983_404_800 * 1_000_000_000
        ))
        .is_err());
    }
}
