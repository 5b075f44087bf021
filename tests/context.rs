//! `new_context!`: bound keys and their order, replacement, continuing a trace from a
//! `TraceId`, a hex string or a W3C `traceparent`, malformed trace ids, `traceparent()`,
//! and the public id types' parsing and formatting.
mod common;

use logkit::{info, new_context, span, SpanId, TraceId, TraceParent};
use serde_json::Value as J;

const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_HEX: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Runs the test `name` as a child process and returns its run.log, raw and parsed.
fn records_of(name: &str) -> (String, Vec<J>) {
    let dir = common::tempdir();
    let out = common::run(common::child(name, dir.path()));
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.path().join("run.log")).expect("run.log");
    let recs = common::parse_jsonl(&text);
    (text, recs)
}

/// The one record with `"event" == event`.
fn one<'a>(recs: &'a [J], event: &str) -> &'a J {
    let found = common::events(recs, event);
    assert_eq!(found.len(), 1, "expected one {event:?} record in {recs:#?}");
    found[0]
}

/// The raw line of the record whose event is `event`.
fn line_of<'a>(text: &'a str, event: &str) -> &'a str {
    let needle = format!("\"event\":\"{event}\"");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&needle)).collect();
    assert_eq!(lines.len(), 1, "expected one line with {needle} in:\n{text}");
    lines[0]
}

fn is_hex_id(v: &J, len: usize) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == len
            && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            && s.bytes().any(|c| c != b'0')
    })
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let trace = new_context!(user = "u1");
        info!(n = 1, "hello");
        info!(returned = %trace, "returned");
        return;
    }
    let (_, recs) = records_of("smoke");
    let hello = one(&recs, "hello");
    assert!(is_hex_id(&hello["trace_id"], 32), "{hello}");
    assert_eq!(hello["user"], "u1");
    assert_eq!(hello["n"], 1);
    let returned = one(&recs, "returned");
    assert_eq!(returned["returned"], hello["trace_id"], "new_context! returns the trace id the records carry");
}

#[test]
fn bound_keys_come_after_ids_and_before_the_records_fields() {
    if common::is_child("bound_keys_come_after_ids_and_before_the_records_fields") {
        new_context!(user = "u1", path = "/orders");
        info!(z = 1, a = 2, "no span");
        let _outer = span!("outer", okey = "o");
        info!(z = 1, a = 2, "in outer");
        let _inner = span!("inner", ikey = "i");
        info!(z = 1, a = 2, "in inner");
        return;
    }
    let (text, recs) = records_of("bound_keys_come_after_ids_and_before_the_records_fields");
    assert_eq!(
        common::key_order(line_of(&text, "no span")),
        ["timestamp", "level", "event", "trace_id", "user", "path", "z", "a", "target"]
    );
    assert_eq!(
        common::key_order(line_of(&text, "in outer")),
        ["timestamp", "level", "event", "trace_id", "span_id", "user", "path", "okey", "z", "a", "target"]
    );
    assert_eq!(
        common::key_order(line_of(&text, "in inner")),
        [
            "timestamp",
            "level",
            "event",
            "trace_id",
            "span_id",
            "parent_span_id",
            "user",
            "path",
            "okey",
            "ikey",
            "z",
            "a",
            "target"
        ]
    );
    let inner = one(&recs, "in inner");
    assert_eq!(inner["user"], "u1");
    assert_eq!(inner["path"], "/orders");
    assert_eq!(inner["okey"], "o");
    assert_eq!(inner["ikey"], "i");
}

#[test]
fn every_later_record_carries_the_bound_keys() {
    if common::is_child("every_later_record_carries_the_bound_keys") {
        new_context!(user = "u1", shard = 7, ok = true);
        for i in 0..5 {
            info!(i, "tick");
        }
        logkit::warn!("warned");
        logkit::error!("failed");
        return;
    }
    let (_, recs) = records_of("every_later_record_carries_the_bound_keys");
    assert_eq!(recs.len(), 7, "{recs:#?}");
    let trace = &recs[0]["trace_id"];
    assert!(is_hex_id(trace, 32));
    for r in &recs {
        assert_eq!(r["user"], "u1", "{r}");
        assert_eq!(r["shard"], 7, "{r}");
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(&r["trace_id"], trace, "{r}");
    }
}

#[test]
fn a_second_new_context_replaces_the_first() {
    if common::is_child("a_second_new_context_replaces_the_first") {
        let first = new_context!(user = "u1", stale = "yes");
        info!(returned = %first, "first");
        {
            // A span still open when the context is replaced moves into the new unit.
            let _s = span!("open_across");
            let second = new_context!(user = "u2", fresh = 1);
            info!(returned = %second, "second");
        }
        info!("after span guard dropped");
        return;
    }
    let (_, recs) = records_of("a_second_new_context_replaces_the_first");
    let first = one(&recs, "first");
    let second = one(&recs, "second");
    assert_eq!(first["trace_id"], first["returned"]);
    assert_eq!(second["trace_id"], second["returned"]);
    assert_ne!(first["trace_id"], second["trace_id"], "a new context starts a new trace");
    assert_eq!(second["user"], "u2");
    assert_eq!(second["fresh"], 1);
    assert!(second.get("stale").is_none(), "stale key survived: {second}");
    // The open span ends once, in the new trace, with the new unit's keys.
    let open_across: Vec<_> = recs.iter().filter(|r| r["event"] == "END" && r["span"] == "open_across").collect();
    assert_eq!(open_across.len(), 1, "{recs:#?}");
    assert_eq!(open_across[0]["trace_id"], second["trace_id"], "{}", open_across[0]);
    assert_eq!(open_across[0]["span_id"], second["span_id"], "{}", open_across[0]);
    assert!(open_across[0].get("stale").is_none(), "{}", open_across[0]);
    let after = one(&recs, "after span guard dropped");
    assert_eq!(after["trace_id"], second["trace_id"]);
    assert_eq!(after["fresh"], 1);
    assert!(after.get("stale").is_none() && after.get("span_id").is_none(), "{after}");
}

#[test]
fn records_before_any_context_carry_no_trace() {
    if common::is_child("records_before_any_context_carry_no_trace") {
        info!(n = 1, "before");
        new_context!(user = "u1");
        info!("after");
        return;
    }
    let (text, recs) = records_of("records_before_any_context_carry_no_trace");
    let before = one(&recs, "before");
    for k in ["trace_id", "span_id", "parent_span_id", "user"] {
        assert!(before.get(k).is_none(), "{k} in {before}");
    }
    assert_eq!(common::key_order(line_of(&text, "before")), ["timestamp", "level", "event", "n", "target"]);
    assert!(is_hex_id(&one(&recs, "after")["trace_id"], 32));
}

#[test]
fn continues_a_trace_given_as_a_trace_id_value() {
    if common::is_child("continues_a_trace_given_as_a_trace_id_value") {
        let given = TraceId::parse(TRACE_HEX).unwrap();
        let returned = new_context!(trace_id = given, user = "u1");
        assert_eq!(returned, given);
        info!("by value");
        let s = span!("s");
        info!("in span");
        drop(s);
        let returned = new_context!(trace_id = &given);
        assert_eq!(returned, given);
        info!("by reference");
        return;
    }
    let (_, recs) = records_of("continues_a_trace_given_as_a_trace_id_value");
    for ev in ["by value", "in span", "by reference"] {
        assert_eq!(one(&recs, ev)["trace_id"], TRACE_HEX, "{ev}");
    }
    assert_eq!(one(&recs, "by value")["user"], "u1");
    let in_span = one(&recs, "in span");
    assert!(is_hex_id(&in_span["span_id"], 16));
    assert!(in_span.get("parent_span_id").is_none(), "a bare trace id names no parent span: {in_span}");
    assert!(common::events(&recs, "logkit.bad_trace_id").is_empty());
}

#[test]
fn continues_a_trace_given_as_a_hex_string() {
    if common::is_child("continues_a_trace_given_as_a_hex_string") {
        let t = new_context!(trace_id = TRACE_HEX, via = "str");
        assert_eq!(t.to_string(), TRACE_HEX);
        info!("from str");
        let owned = String::from("0af7651916cd43dd8448eb211c80319c");
        let t = new_context!(trace_id = &owned, via = "&String");
        assert_eq!(t.to_string(), owned);
        info!("from &String");
        let t = new_context!(trace_id = owned.clone(), via = "String");
        assert_eq!(t.to_string(), owned);
        info!("from String");
        return;
    }
    let (_, recs) = records_of("continues_a_trace_given_as_a_hex_string");
    assert_eq!(one(&recs, "from str")["trace_id"], TRACE_HEX);
    assert_eq!(one(&recs, "from str")["via"], "str");
    assert_eq!(one(&recs, "from &String")["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(one(&recs, "from String")["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(one(&recs, "from String")["via"], "String");
    assert!(common::events(&recs, "logkit.bad_trace_id").is_empty());
}

#[test]
fn continues_a_traceparent_and_its_spans_hang_off_the_remote_span() {
    if common::is_child("continues_a_traceparent_and_its_spans_hang_off_the_remote_span") {
        let t = new_context!(trace_id = TRACEPARENT, user = "u1");
        assert_eq!(t.to_string(), TRACE_HEX);
        info!("no span yet");
        {
            let _outer = span!("outer");
            info!("in outer");
            let _inner = span!("inner");
            info!("in inner");
        }
        // A parsed `TraceParent` and an owned `String` work the same.
        new_context!(trace_id = TraceParent::parse(TRACEPARENT).unwrap());
        let s = span!("from_value");
        info!("in span of a TraceParent value");
        drop(s);
        new_context!(trace_id = TRACEPARENT.to_string());
        let _s = span!("from_string");
        info!("in span of a String traceparent");
        return;
    }
    let (_, recs) = records_of("continues_a_traceparent_and_its_spans_hang_off_the_remote_span");
    assert!(recs.iter().all(|r| r["trace_id"] == TRACE_HEX), "{recs:#?}");
    assert_eq!(one(&recs, "no span yet")["user"], "u1");
    let outer = one(&recs, "in outer");
    assert_eq!(outer["parent_span_id"], SPAN_HEX, "the first span's parent is the traceparent's span");
    assert_ne!(outer["span_id"], SPAN_HEX);
    let inner = one(&recs, "in inner");
    assert_eq!(inner["parent_span_id"], outer["span_id"]);
    for ev in ["in span of a TraceParent value", "in span of a String traceparent"] {
        assert_eq!(one(&recs, ev)["parent_span_id"], SPAN_HEX, "{ev}");
    }
    // The END records name the remote parent too.
    let ends = common::events(&recs, "END");
    let outer_end = ends.iter().find(|r| r["span"] == "outer").expect("outer END");
    assert_eq!(outer_end["parent_span_id"], SPAN_HEX);
    assert!(common::events(&recs, "logkit.bad_trace_id").is_empty());
}

#[test]
fn a_malformed_trace_id_starts_a_fresh_trace_and_is_reported_once() {
    if common::is_child("a_malformed_trace_id_starts_a_fresh_trace_and_is_reported_once") {
        let bad31 = &TRACE_HEX[..31];
        for (label, bad) in [("xyz", "xyz"), ("zeros", "00000000000000000000000000000000"), ("31hex", bad31)] {
            let t = new_context!(trace_id = bad, case = label);
            info!(returned = %t, "after bad");
        }
        return;
    }
    let (_, recs) = records_of("a_malformed_trace_id_starts_a_fresh_trace_and_is_reported_once");
    let after = common::events(&recs, "after bad");
    assert_eq!(after.len(), 3, "{recs:#?}");
    let mut traces = Vec::new();
    for r in &after {
        assert!(is_hex_id(&r["trace_id"], 32), "not a fresh valid trace: {r}");
        assert_eq!(r["trace_id"], r["returned"], "{r}");
        assert_ne!(r["trace_id"], "00000000000000000000000000000000");
        traces.push(r["trace_id"].as_str().unwrap().to_owned());
    }
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 3, "each bad id starts its own trace: {after:#?}");
    let reports = common::events(&recs, "logkit.bad_trace_id");
    assert_eq!(reports.len(), 1, "reported exactly once: {recs:#?}");
    let report = reports[0];
    assert_eq!(report["level"], "warning");
    assert_eq!(report["value"], "xyz", "the report names the bad value: {report}");
    assert_eq!(report["trace_id"], after[0]["trace_id"], "reported in the context that replaced it");
}

#[test]
fn traceparent_is_none_outside_a_context_and_names_the_innermost_span() {
    if common::is_child("traceparent_is_none_outside_a_context_and_names_the_innermost_span") {
        assert_eq!(logkit::traceparent(), None);
        assert_eq!(logkit::current_trace_id(), None);
        let trace = new_context!(user = "u1");
        let root = logkit::traceparent().expect("traceparent inside a context");
        info!(tp = root.as_str(), "root");
        assert_eq!(logkit::current_trace_id(), Some(trace));
        assert_eq!(logkit::current_span_id(), None);
        let outer = span!("outer");
        assert_eq!(logkit::current_span_id(), outer.id());
        let tp_outer = logkit::traceparent().unwrap();
        info!(tp = tp_outer.as_str(), "outer");
        let inner = span!("inner");
        let tp_inner = logkit::traceparent().unwrap();
        info!(tp = tp_inner.as_str(), "inner");
        drop(inner);
        info!(tp = logkit::traceparent().unwrap().as_str(), "outer again");
        assert_eq!(tp_outer, format!("00-{trace}-{}-01", outer.id().unwrap()));
        drop(outer);
        return;
    }
    let (_, recs) = records_of("traceparent_is_none_outside_a_context_and_names_the_innermost_span");
    let root = one(&recs, "root");
    let trace = root["trace_id"].as_str().unwrap();
    let tp = root["tp"].as_str().unwrap();
    let parsed = TraceParent::parse(tp).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.trace_id.to_string(), trace);
    assert!(tp.starts_with(&format!("00-{trace}-")) && tp.ends_with("-01"), "{tp}");
    for ev in ["outer", "inner", "outer again"] {
        let r = one(&recs, ev);
        let span_id = r["span_id"].as_str().unwrap();
        assert_eq!(r["tp"], format!("00-{trace}-{span_id}-01"), "{ev}: {r}");
    }
    assert_eq!(one(&recs, "outer again")["span_id"], one(&recs, "outer")["span_id"]);
    assert_ne!(one(&recs, "inner")["span_id"], one(&recs, "outer")["span_id"]);
}

// ---- the public id types, in this process (no logging)

#[test]
fn trace_id_displays_as_32_lowercase_hex_and_parses_back() {
    for _ in 0..100 {
        let t = TraceId::random();
        let s = t.to_string();
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{s}");
        assert_eq!(TraceId::parse(&s), Ok(t));
        assert_eq!(s.parse::<TraceId>(), Ok(t));
        assert_eq!(TraceId::from_u128(t.to_u128()), Some(t));
    }
    let t = TraceId::parse(TRACE_HEX).unwrap();
    assert_eq!(t.to_string(), TRACE_HEX);
    assert_eq!(t.to_u128(), 0x4bf92f3577b34da6a3ce929d0e0e4736);
    assert_eq!(TraceId::from_u128(1).unwrap().to_string(), "00000000000000000000000000000001");
    // The trace id of a traceparent.
    assert_eq!(TraceId::parse(TRACEPARENT), Ok(t));
}

#[test]
fn trace_id_rejects_zero_wrong_length_and_non_hex() {
    assert_eq!(TraceId::from_u128(0), None);
    for bad in [
        "",
        "xyz",
        "00000000000000000000000000000000",
        "4bf92f3577b34da6a3ce929d0e0e473",
        "4bf92f3577b34da6a3ce929d0e0e47360",
        "4bf92f3577b34da6a3ce929d0e0e473g",
        "4bf92f3577b34da6-3ce929d0e0e4736",
        "+bf92f3577b34da6a3ce929d0e0e4736",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    ] {
        let err = TraceId::parse(bad).expect_err(bad);
        assert!(err.to_string().contains("trace id"), "{err}");
        assert!(bad.parse::<TraceId>().is_err(), "{bad}");
    }
}

#[test]
fn span_id_displays_as_16_lowercase_hex_and_parses_back() {
    for _ in 0..100 {
        let s = SpanId::random();
        let hex = s.to_string();
        assert_eq!(hex.len(), 16);
        assert!(hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{hex}");
        assert_eq!(SpanId::parse(&hex), Ok(s));
        assert_eq!(hex.parse::<SpanId>(), Ok(s));
        assert_eq!(SpanId::from_u64(s.to_u64()), Some(s));
    }
    assert_eq!(SpanId::parse(SPAN_HEX).unwrap().to_u64(), 0x00f0_67aa_0ba9_02b7);
    assert_eq!(SpanId::from_u64(0xab).unwrap().to_string(), "00000000000000ab");
}

#[test]
fn span_id_rejects_zero_wrong_length_and_non_hex() {
    assert_eq!(SpanId::from_u64(0), None);
    for bad in ["", "0000000000000000", "00f067aa0ba902b", "00f067aa0ba902b70", "00f067aa0ba902bz", "xyz", TRACE_HEX] {
        assert!(SpanId::parse(bad).is_err(), "{bad}");
        assert!(bad.parse::<SpanId>().is_err(), "{bad}");
    }
}

#[test]
fn traceparent_parses_and_formats_round_trip() {
    let tp = TraceParent::parse(TRACEPARENT).unwrap();
    assert_eq!(tp.trace_id.to_string(), TRACE_HEX);
    assert_eq!(tp.parent_id.to_string(), SPAN_HEX);
    assert!(tp.sampled);
    assert_eq!(tp.to_string(), TRACEPARENT);
    assert_eq!(TRACEPARENT.parse::<TraceParent>(), Ok(tp));
    let unsampled = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
    assert!(!unsampled.sampled);
    assert_eq!(unsampled.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    let made = TraceParent { trace_id: TraceId::random(), parent_id: SpanId::random(), sampled: true };
    assert_eq!(TraceParent::parse(&made.to_string()), Ok(made));
}

#[test]
fn traceparent_rejects_zero_ids_wrong_shapes_and_non_hex() {
    for bad in [
        "",
        "xyz",
        TRACE_HEX,
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bx-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    ] {
        let err = TraceParent::parse(bad).expect_err(bad);
        assert!(err.to_string().contains("traceparent"), "{err}");
    }
}

/// A value whose `Display` panics.
struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("boom in a bound value")
    }
}

#[test]
fn a_panicking_display_in_new_context_or_span_leaves_the_context_as_it_was() {
    const NAME: &str = "a_panicking_display_in_new_context_or_span_leaves_the_context_as_it_was";
    if common::is_child(NAME) {
        let trace = new_context!(user = "u1");
        let r = std::panic::catch_unwind(|| {
            new_context!(user = "u2", k = %Boom);
        });
        assert!(r.is_err());
        info!(current = %logkit::current_trace_id().map(|t| t.to_string()).unwrap_or_default(), returned = %trace, "after new_context");
        let r = std::panic::catch_unwind(|| {
            let _s = span!("bad", k = %Boom);
        });
        assert!(r.is_err());
        info!("after span");
        {
            let _outer = span!("outer", a = 1u8);
            // With a span open, `new_context!` re-homes it: a panic there too.
            let r = std::panic::catch_unwind(|| {
                new_context!(k = %Boom);
            });
            assert!(r.is_err());
            let _inner = span!("inner", b = 2u8);
            info!(current = %logkit::current_trace_id().map(|t| t.to_string()).unwrap_or_default(), "inside the spans");
        }
        info!("last");
        return;
    }
    let (_, recs) = records_of(NAME);
    let first = one(&recs, "after new_context");
    assert_eq!(first["trace_id"], first["returned"], "{first}");
    assert_eq!(first["current"], first["returned"], "current_trace_id() and the records agree: {first}");
    assert_eq!(first["user"], "u1", "{first}");
    for event in ["after new_context", "after span", "inside the spans", "last"] {
        let r = one(&recs, event);
        assert_eq!(r["trace_id"], first["trace_id"], "{r}");
        assert_eq!(r["user"], "u1", "{r}");
        assert!(r.get("k").is_none() && r.get("span").is_none(), "a stray key: {r}");
    }
    assert!(one(&recs, "after span").get("span_id").is_none());
    let inside = one(&recs, "inside the spans");
    assert_eq!(inside["current"], first["trace_id"], "{inside}");
    assert_eq!((&inside["a"], &inside["b"]), (&J::from(1), &J::from(2)), "{inside}");
    let outer = common::end_of(&recs, "outer");
    let inner = common::end_of(&recs, "inner");
    assert_eq!(inner["parent_span_id"], outer["span_id"], "{inner}");
    assert_eq!((&outer["a"], outer.get("b"), outer.get("k")), (&J::from(1), None, None), "{outer}");
    assert!(common::ends(&recs).iter().all(|r| r["span"] != "bad"), "a span that never opened ended: {recs:#?}");
}
