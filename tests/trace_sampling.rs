//! Sampling by trace (`LOG_SAMPLE` inside a trace): a trace is kept whole or dropped
//! whole, decided from its trace id by OpenTelemetry's `TraceIdRatioBased` rule, so
//! every thread and every process continuing it agrees; WARN and ERROR are always
//! kept; records outside any trace are sampled one by one.
mod common;

use std::collections::BTreeMap;

use serde_json::Value as J;

/// The records of each trace, by trace id.
fn by_trace(recs: &[J]) -> BTreeMap<String, Vec<&J>> {
    let mut m: BTreeMap<String, Vec<&J>> = BTreeMap::new();
    for r in recs {
        if let Some(t) = r["trace_id"].as_str() {
            m.entry(t.to_owned()).or_default().push(r);
        }
    }
    m
}

/// A trace id whose low 8 bytes are `low` (the part the ratio rule reads).
fn trace_with_low(high: u64, low: u64) -> String {
    format!("{high:016x}{low:016x}")
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::new_context!(job = 1);
        logkit::info!("inside");
        return;
    }
    let recs = common::records_of("smoke", &[("LOG_SAMPLE", "1")]);
    assert_eq!(common::events(&recs, "inside").len(), 1);
}

#[test]
fn sampling_keeps_or_drops_whole_traces() {
    const NAME: &str = "sampling_keeps_or_drops_whole_traces";
    const JOBS: u64 = 400;
    if common::is_child(NAME) {
        for job in 0..JOBS {
            logkit::new_context!(job);
            let _span = logkit::span!("process");
            for step in 0..5u32 {
                logkit::info!(step, "step");
            }
            logkit::debug!("detail");
            logkit::thread::spawn(|| {
                let _inner = logkit::span!("child");
                logkit::info!("on another thread");
            })
            .join()
            .unwrap();
        }
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0.3")]);
    let traces = by_trace(&recs);
    // 400 traces at 0.3: 120 expected, sigma ~9.2; 5 sigma either side.
    assert!((74..=166).contains(&traces.len()), "kept {} of {JOBS} traces at LOG_SAMPLE=0.3", traces.len());
    for (trace, rs) in &traces {
        let count = |ev: &str| rs.iter().filter(|r| r["event"] == ev).count();
        let ends: Vec<&str> = rs.iter().filter(|r| r["event"] == "END").filter_map(|r| r["span"].as_str()).collect();
        assert_eq!(count("step"), 5, "trace {trace} kept partly: {rs:#?}");
        assert_eq!(count("detail"), 1, "trace {trace} kept partly: {rs:#?}");
        assert_eq!(count("on another thread"), 1, "trace {trace}: the thread's record is missing: {rs:#?}");
        assert_eq!(ends.len(), 2, "trace {trace}: END records {ends:?}");
        assert!(ends.contains(&"process") && ends.contains(&"child"), "trace {trace}: END records {ends:?}");
    }
    // Nothing of a dropped trace leaks out without its trace id either.
    assert_eq!(common::events(&recs, "step").len(), 5 * traces.len());
}

#[test]
fn the_decision_is_the_trace_id_ratio_rule_on_the_low_eight_bytes() {
    const NAME: &str = "the_decision_is_the_trace_id_ratio_rule_on_the_low_eight_bytes";
    if common::is_child(NAME) {
        for t in std::env::var("TRACES").unwrap().split(',') {
            logkit::new_context!(trace_id = t);
            for i in 0..20u32 {
                logkit::info!(i, "r");
            }
        }
        return;
    }
    // At 0.5 the bound is 2^62: a key (low 8 bytes >> 1) below it is kept.
    let kept =
        [trace_with_low(u64::MAX, 0), trace_with_low(1, (1 << 63) - 2), trace_with_low(7, 0x0123_4567_89ab_cdef)];
    let dropped = [trace_with_low(0, 1 << 63), trace_with_low(2, u64::MAX), trace_with_low(9, 0x8000_0000_0000_0001)];
    let all: Vec<String> = kept.iter().chain(dropped.iter()).cloned().collect();
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0.5"), ("TRACES", &all.join(","))]);
    let traces = by_trace(&recs);
    for t in &kept {
        assert_eq!(traces.get(t).map_or(0, Vec::len), 20, "trace {t} should be kept whole");
    }
    for t in &dropped {
        assert!(!traces.contains_key(t), "trace {t} should be dropped whole: {:?}", traces.get(t));
    }
}

#[test]
fn a_process_continuing_a_trace_makes_the_same_decision() {
    const NAME: &str = "a_process_continuing_a_trace_makes_the_same_decision";
    if common::is_child(NAME) {
        // Started with TRACEPARENT: the first new_context! continues it.
        logkit::new_context!(side = "child");
        let _span = logkit::span!("remote_work");
        logkit::info!("in the child process");
        return;
    }
    let mut kept_somewhere = 0;
    for i in 0..12u64 {
        let trace = format!("{:016x}{:016x}", i + 1, fastrand_like(i));
        let tp = format!("00-{trace}-00f067aa0ba902b7-01");
        let a = common::records_of(NAME, &[("LOG_SAMPLE", "0.5"), ("TRACEPARENT", &tp)]);
        let b = common::records_of(NAME, &[("LOG_SAMPLE", "0.5"), ("TRACEPARENT", &tp)]);
        let (ta, tb) = (by_trace(&a), by_trace(&b));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "two processes decided differently");
        if let Some(rs) = ta.get(&trace) {
            assert!(rs.iter().any(|r| r["event"] == "in the child process"), "trace {trace} kept partly: {rs:#?}");
            assert!(rs.iter().any(|r| r["event"] == "END"), "trace {trace} kept partly: {rs:#?}");
            kept_somewhere += 1;
        }
        assert!(ta.keys().all(|t| *t == trace), "records of another trace: {ta:#?}");
    }
    assert!(kept_somewhere > 0 && kept_somewhere < 12, "kept {kept_somewhere} of 12 traces at 0.5");
}

/// A fixed spread of 64-bit values (splitmix64), so the test is the same on every run.
fn fastrand_like(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn warn_error_and_failed_ends_of_a_dropped_trace_are_kept() {
    const NAME: &str = "warn_error_and_failed_ends_of_a_dropped_trace_are_kept";
    if common::is_child(NAME) {
        // Key 2^63 - 1: dropped at any rate below 1.
        logkit::new_context!(trace_id = "0000000000000000ffffffffffffffff");
        let ok = logkit::span!("ok");
        logkit::info!("dropped info");
        logkit::warn!("kept warn");
        drop(ok);
        let failed = logkit::span!("failed");
        logkit::error!("kept error");
        failed.fail_with("boom");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0.9")]);
    let events: Vec<&str> = recs.iter().filter_map(|r| r["event"].as_str()).collect();
    assert!(events.contains(&"kept warn") && events.contains(&"kept error"), "{events:?}");
    assert!(!events.contains(&"dropped info"), "{events:?}");
    let ends: Vec<&J> = common::ends(&recs);
    assert_eq!(ends.len(), 1, "only the failed span's END (an ERROR) is kept: {ends:#?}");
    assert_eq!(ends[0]["span"], "failed");
    assert_eq!(ends[0]["status"], "error");
}

#[test]
fn records_outside_a_trace_are_sampled_one_by_one() {
    const NAME: &str = "records_outside_a_trace_are_sampled_one_by_one";
    if common::is_child(NAME) {
        for i in 0..10_000u32 {
            logkit::info!(i, "free");
        }
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0.5")]);
    let kept = common::events(&recs, "free").len();
    // Bernoulli(0.5) x 10 000: mean 5 000, sigma 50; 5 sigma either side.
    assert!((4_750..=5_250).contains(&kept), "kept {kept} of 10000 at 0.5");
}

#[test]
fn set_sample_at_run_time_decides_by_trace_too() {
    const NAME: &str = "set_sample_at_run_time_decides_by_trace_too";
    if common::is_child(NAME) {
        logkit::set_sample(0.5).unwrap();
        logkit::new_context!(trace_id = "00000000000000000000000000000010");
        logkit::info!("low key");
        logkit::new_context!(trace_id = "0000000000000000f000000000000000");
        logkit::info!("high key");
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let events: Vec<&str> = recs.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(events, ["low key"]);
}

#[test]
fn traceparent_carries_the_sampling_decision() {
    const NAME: &str = "traceparent_carries_the_sampling_decision";
    if common::is_child(NAME) {
        logkit::new_context!(trace_id = "00000000000000000000000000000010");
        let kept = logkit::traceparent().unwrap();
        logkit::new_context!(trace_id = "0000000000000000f000000000000000");
        let dropped = logkit::traceparent().unwrap();
        logkit::warn!(kept = kept.as_str(), dropped = dropped.as_str(), "tp");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0.5")]);
    let tp = common::the(&recs, "tp");
    assert!(tp["kept"].as_str().unwrap().ends_with("-01"), "{tp}");
    assert!(tp["dropped"].as_str().unwrap().ends_with("-00"), "{tp}");
}
