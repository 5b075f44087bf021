//! The record: key order, timestamp, levels, values, escaping, redaction.
mod common;

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!(order_id = 42, price = 1.5, symbol = "BTC", ok = true, "order filled");
        return;
    }
    let recs = common::records_of("smoke", &[]);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["level"], "info");
    assert_eq!(r["event"], "order filled");
    assert_eq!(r["order_id"], 42);
    assert_eq!(r["price"], 1.5);
    assert_eq!(r["symbol"], "BTC");
    assert_eq!(r["ok"], true);
}

#[test]
fn keys_come_in_contract_order() {
    if common::is_child("keys_come_in_contract_order") {
        logkit::info!(z = 1, a = 2, m = "x", "ordered");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("keys_come_in_contract_order", dir.path()));
    common::assert_success(&out);
    let text = common::log_text(&dir.path().join("run.log"));
    let keys = common::key_order(text.lines().next().unwrap());
    assert_eq!(keys, ["timestamp", "level", "event", "z", "a", "m", "target"]);
}

#[test]
fn timestamp_is_rfc3339_utc_with_microseconds() {
    if common::is_child("timestamp_is_rfc3339_utc_with_microseconds") {
        logkit::info!("tick");
        return;
    }
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let recs = common::records_of("timestamp_is_rfc3339_utc_with_microseconds", &[]);
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ts = recs[0]["timestamp"].as_str().unwrap();
    // 2026-11-24T07:02:51.123456Z
    assert_eq!(ts.len(), 27, "{ts}");
    let b = ts.as_bytes();
    assert_eq!((b[4], b[7], b[10], b[13], b[16], b[19], b[26]), (b'-', b'-', b'T', b':', b':', b'.', b'Z'), "{ts}");
    assert!(ts[20..26].bytes().all(|c| c.is_ascii_digit()), "{ts}");
    // Compare with the system clock, through days-from-civil.
    let (y, mo, d): (i64, i64, i64) =
        (ts[0..4].parse().unwrap(), ts[5..7].parse().unwrap(), ts[8..10].parse().unwrap());
    let (h, mi, s): (u64, u64, u64) =
        (ts[11..13].parse().unwrap(), ts[14..16].parse().unwrap(), ts[17..19].parse().unwrap());
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146097 + doe - 719468) as u64;
    let secs = days * 86400 + h * 3600 + mi * 60 + s;
    assert!(before <= secs && secs <= after, "{ts} not within [{before}, {after}]");
}

#[test]
fn levels_are_lowercase_and_warn_is_warning() {
    if common::is_child("levels_are_lowercase_and_warn_is_warning") {
        logkit::trace!("t");
        logkit::debug!("d");
        logkit::info!("i");
        logkit::warn!("w");
        logkit::error!("e");
        return;
    }
    let recs = common::records_of("levels_are_lowercase_and_warn_is_warning", &[("LOG_LEVEL", "trace")]);
    let levels: Vec<_> = recs.iter().map(|r| r["level"].as_str().unwrap().to_owned()).collect();
    assert_eq!(levels, ["trace", "debug", "info", "warning", "error"]);
}

#[test]
fn integers_are_exact_and_non_finite_floats_are_strings() {
    if common::is_child("integers_are_exact_and_non_finite_floats_are_strings") {
        logkit::info!(
            umax = u64::MAX,
            imin = i64::MIN,
            u128max = u128::MAX,
            i128min = i128::MIN,
            small = -7i8,
            f = 0.1,
            f32v = 0.1f32,
            nan = f64::NAN,
            inf = f64::INFINITY,
            ninf = f64::NEG_INFINITY,
            none = None::<u32>,
            some = Some(5u8),
            ch = 'é',
            "numbers"
        );
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("integers_are_exact_and_non_finite_floats_are_strings", dir.path()));
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    // Exactness checked on the raw text: serde_json's Value would round big integers.
    assert!(text.contains("\"umax\":18446744073709551615"), "{text}");
    assert!(text.contains("\"imin\":-9223372036854775808"), "{text}");
    assert!(text.contains("\"u128max\":340282366920938463463374607431768211455"), "{text}");
    assert!(text.contains("\"i128min\":-170141183460469231731687303715884105728"), "{text}");
    let r = &common::parse_jsonl(&text)[0];
    assert_eq!(r["small"], -7);
    assert_eq!(r["f"], 0.1);
    assert_eq!(r["f32v"], 0.1);
    assert!(r["nan"].is_string(), "{}", r["nan"]);
    assert!(r["inf"].is_string() && r["ninf"].is_string());
    assert_ne!(r["inf"], r["ninf"]);
    assert!(r["none"].is_null());
    assert_eq!(r["some"], 5);
    assert_eq!(r["ch"], "é");
}

const HOSTILE: &[&str] = &[
    "quote \" backslash \\ slash /",
    "newline \n carriage \r tab \t nul \0 bell \x07 esc \x1b[31mred\x1b[0m del \x7f",
    "line sep \u{2028} para sep \u{2029}",
    "bidi \u{202e}override\u{202c} \u{2066}isolate\u{2069} \u{200f}",
    "emoji 🦀 and CJK 日本語 and combining e\u{301}",
    "{\"event\":\"forged\",\"level\":\"error\"}\n{\"event\":\"forged\"}",
];

#[test]
fn hostile_strings_round_trip_in_one_line() {
    if common::is_child("hostile_strings_round_trip_in_one_line") {
        for (i, s) in HOSTILE.iter().enumerate() {
            logkit::info!(i = i, s = *s, "{}", s);
            logkit::info!(i = i, d = %s, q = ?s);
        }
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("hostile_strings_round_trip_in_one_line", dir.path()));
    common::assert_success(&out);
    let text = common::log_text(&dir.path().join("run.log"));
    assert_eq!(text.lines().count(), HOSTILE.len() * 2, "a string produced an extra line:\n{text}");
    for forbidden in ['\u{2028}', '\u{2029}', '\u{202e}', '\u{1b}', '\r'] {
        assert!(!text.contains(forbidden), "raw {forbidden:?} in the file");
    }
    let recs = common::parse_jsonl(&text);
    for (i, s) in HOSTILE.iter().enumerate() {
        let a = &recs[2 * i];
        assert_eq!(a["s"], *s);
        assert_eq!(a["event"], *s);
        let b = &recs[2 * i + 1];
        assert_eq!(b["d"], *s);
        assert_eq!(b["q"], format!("{s:?}"));
    }
    assert!(common::events(&recs, "forged").is_empty());
}

#[test]
fn megabyte_string_is_one_valid_line() {
    if common::is_child("megabyte_string_is_one_valid_line") {
        let big: String =
            (0..(1 << 20)).map(|i| if i % 1000 == 999 { '\n' } else { (b'a' + (i % 26) as u8) as char }).collect();
        logkit::info!(big = big.as_str(), "big");
        logkit::info!("after");
        return;
    }
    let recs = common::records_of("megabyte_string_is_one_valid_line", &[]);
    assert_eq!(recs.len(), 2);
    let big = recs[0]["big"].as_str().unwrap();
    assert_eq!(big.len(), 1 << 20);
    assert_eq!(big.matches('\n').count(), (1 << 20) / 1000);
    assert_eq!(recs[1]["event"], "after");
}

#[test]
fn redacted_keys_are_masked_whatever_the_value_type() {
    if common::is_child("redacted_keys_are_masked_whatever_the_value_type") {
        logkit::info!(password = "hunter2", token = 12345, api_key = %"k", Authorization = "Bearer x", user = "ann");
        return;
    }
    let recs = common::records_of("redacted_keys_are_masked_whatever_the_value_type", &[]);
    let r = &recs[0];
    for k in ["password", "token", "api_key", "Authorization"] {
        assert_eq!(r[k], "***", "{k} not masked: {r}");
    }
    assert_eq!(r["user"], "ann");
}

#[test]
fn target_is_module_path_unless_given() {
    if common::is_child("target_is_module_path_unless_given") {
        logkit::info!("default target");
        logkit::info!(target: "audit::login", "explicit target");
        return;
    }
    let recs = common::records_of("target_is_module_path_unless_given", &[]);
    assert_eq!(recs[0]["target"], "record_format");
    assert_eq!(recs[1]["target"], "audit::login");
}

#[test]
fn message_is_optional_when_fields_are_given() {
    if common::is_child("message_is_optional_when_fields_are_given") {
        logkit::info!(only = "fields");
        return;
    }
    let recs = common::records_of("message_is_optional_when_fields_are_given", &[]);
    assert_eq!(recs[0]["only"], "fields");
    assert_eq!(recs[0]["event"], "");
}

#[test]
fn a_huge_value_is_capped_with_a_truncation_marker() {
    if common::is_child("a_huge_value_is_capped_with_a_truncation_marker") {
        let huge = "é".repeat(3 << 20); // 6 MiB of two-byte characters
        logkit::info!(s = huge.as_str(), d = %huge, "{}", huge);
        logkit::info!("after");
        return;
    }
    let recs = common::records_of("a_huge_value_is_capped_with_a_truncation_marker", &[("LOG_ROTATE_MB", "0")]);
    assert_eq!(recs.len(), 2);
    let cap = logkit::MAX_VALUE_BYTES;
    for key in ["s", "d", "event"] {
        let v = recs[0][key].as_str().unwrap();
        let (kept, marker) = v.split_at(v.find('…').expect("truncation marker"));
        assert_eq!(kept.len(), cap, "{key}: kept {} bytes", kept.len());
        assert!(kept.chars().all(|c| c == 'é'), "{key}: cut inside a character");
        assert_eq!(marker, format!("…[truncated {} bytes]", (6 << 20) - cap), "{key}");
    }
    assert_eq!(recs[1]["event"], "after");
}
