//! Sampling (`LOG_SAMPLE`, `set_sample`): the fraction of TRACE/DEBUG/INFO records
//! kept; WARN and ERROR always kept; a sampled-out call evaluates nothing.
mod common;

use std::process::Command;

use serde_json::Value as J;

fn child_with(name: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut c = common::child(name, dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs `name` as a child with `env` and returns its run.log records.
fn records_of(name: &str, env: &[(&str, &str)]) -> Vec<J> {
    let dir = common::tempdir();
    let out = common::run(child_with(name, dir.path(), env));
    common::assert_success(&out);
    let path = dir.path().join("run.log");
    if path.exists() {
        common::read_jsonl(&path)
    } else {
        Vec::new()
    }
}

fn count(recs: &[J], event: &str) -> usize {
    common::events(recs, event).len()
}

/// Asserts that `kept` of `n` Bernoulli(`p`) trials is within 5 standard deviations of
/// the mean (a false failure about once in 3.5 million runs).
fn assert_binomial(kept: usize, n: usize, p: f64, what: &str) {
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    let (lo, hi) = (mean - 5.0 * sigma, mean + 5.0 * sigma);
    assert!(
        (kept as f64) >= lo && (kept as f64) <= hi,
        "{what}: kept {kept} of {n} at p={p}, outside the 5-sigma range {lo:.0}..={hi:.0}"
    );
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        for i in 0..2000 {
            logkit::info!(i, "sampled");
        }
        logkit::warn!("kept");
        return;
    }
    let recs = records_of("smoke", &[("LOG_SAMPLE", "0.5")]);
    let kept = count(&recs, "sampled");
    assert!(kept > 0 && kept < 2000, "LOG_SAMPLE=0.5 kept {kept} of 2000");
    assert_eq!(count(&recs, "kept"), 1);
}

#[test]
fn info_keeps_the_given_fraction_within_five_sigma() {
    const NAME: &str = "info_keeps_the_given_fraction_within_five_sigma";
    if common::is_child(NAME) {
        for i in 0..20_000u32 {
            logkit::info!(i, "sampled");
        }
        return;
    }
    let recs = records_of(NAME, &[("LOG_SAMPLE", "0.2")]);
    assert_binomial(count(&recs, "sampled"), 20_000, 0.2, "INFO");
    // The kept ones are intact and in order.
    let idx: Vec<u64> = recs.iter().map(|r| r["i"].as_u64().expect("i")).collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "kept records out of order");
}

#[test]
fn debug_and_trace_are_sampled_too() {
    const NAME: &str = "debug_and_trace_are_sampled_too";
    if common::is_child(NAME) {
        for i in 0..20_000u32 {
            logkit::debug!(i, "dbg");
            logkit::trace!(i, "trc");
        }
        return;
    }
    let recs = records_of(NAME, &[("LOG_SAMPLE", "0.2"), ("LOG_LEVEL", "trace")]);
    assert_binomial(count(&recs, "dbg"), 20_000, 0.2, "DEBUG");
    assert_binomial(count(&recs, "trc"), 20_000, 0.2, "TRACE");
}

#[test]
fn warn_and_error_are_never_sampled() {
    const NAME: &str = "warn_and_error_are_never_sampled";
    if common::is_child(NAME) {
        for i in 0..5_000u32 {
            logkit::warn!(i, "w");
            logkit::error!(i, "e");
        }
        return;
    }
    for p in ["0.01", "0"] {
        let recs = records_of(NAME, &[("LOG_SAMPLE", p)]);
        for ev in ["w", "e"] {
            let is: Vec<u64> = common::events(&recs, ev).iter().map(|r| r["i"].as_u64().expect("i")).collect();
            assert_eq!(is, (0..5_000).collect::<Vec<u64>>(), "LOG_SAMPLE={p}: {ev} records missing");
        }
    }
}

#[test]
fn sample_zero_keeps_no_info_or_debug_but_every_warn() {
    const NAME: &str = "sample_zero_keeps_no_info_or_debug_but_every_warn";
    if common::is_child(NAME) {
        for i in 0..1_000u32 {
            logkit::debug!(i, "d");
            logkit::info!(i, "i");
            if i % 10 == 0 {
                logkit::warn!(i, "w");
            }
        }
        return;
    }
    let recs = records_of(NAME, &[("LOG_SAMPLE", "0")]);
    assert_eq!(count(&recs, "d"), 0);
    assert_eq!(count(&recs, "i"), 0);
    assert_eq!(count(&recs, "w"), 100);
    assert_eq!(recs.len(), 100, "only the WARN records: {:?}", recs.first());
}

#[test]
fn set_sample_takes_effect_at_run_time() {
    const NAME: &str = "set_sample_takes_effect_at_run_time";
    if common::is_child(NAME) {
        for i in 0..1_000u32 {
            logkit::info!(i, phase = "all");
        }
        logkit::set_sample(0.5).expect("0.5 is valid");
        for i in 0..20_000u32 {
            logkit::info!(i, phase = "half");
        }
        logkit::set_sample(0.0).expect("0 is valid");
        for i in 0..1_000u32 {
            logkit::info!(i, phase = "none");
        }
        logkit::set_sample(1.0).expect("1 is valid");
        for i in 0..1_000u32 {
            logkit::info!(i, phase = "all again");
        }
        return;
    }
    let recs = records_of(NAME, &[]);
    let phase = |p: &str| recs.iter().filter(|r| r["phase"] == p).count();
    assert_eq!(phase("all"), 1_000);
    assert_binomial(phase("half"), 20_000, 0.5, "after set_sample(0.5)");
    assert_eq!(phase("none"), 0, "after set_sample(0.0)");
    assert_eq!(phase("all again"), 1_000, "after set_sample(1.0)");
}

#[test]
fn set_sample_out_of_range_is_an_error_and_keeps_the_rate() {
    const NAME: &str = "set_sample_out_of_range_is_an_error_and_keeps_the_rate";
    if common::is_child(NAME) {
        logkit::set_sample(0.0).expect("0 is valid");
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            let e = logkit::set_sample(bad).expect_err("out of range");
            assert_eq!(e.kind(), logkit::ConfigErrorKind::Invalid, "{e}");
            assert!(e.to_string().contains("set_sample"), "{e}");
        }
        for i in 0..1_000u32 {
            logkit::info!(i, "still sampled out");
        }
        logkit::warn!("marker");
        return;
    }
    let recs = records_of(NAME, &[]);
    assert_eq!(count(&recs, "still sampled out"), 0, "a rejected set_sample changed the rate");
    assert_eq!(count(&recs, "marker"), 1);
}

#[test]
fn sampled_out_or_disabled_calls_evaluate_none_of_their_arguments() {
    const NAME: &str = "sampled_out_or_disabled_calls_evaluate_none_of_their_arguments";
    if common::is_child(NAME) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static EVALS: AtomicUsize = AtomicUsize::new(0);
        fn side_effect() -> u64 {
            EVALS.fetch_add(1, Ordering::SeqCst) as u64
        }
        // Start logkit first, so only the steady-state gate is under test here.
        logkit::warn!("started");
        for _ in 0..1_000 {
            // Sampled out (LOG_SAMPLE=0).
            logkit::info!(v = side_effect(), w = %side_effect(), "msg {}", side_effect());
            // Disabled level (LOG_LEVEL=info).
            logkit::debug!(v = side_effect(), "msg {}", side_effect());
            logkit::trace!(v = ?side_effect());
        }
        let skipped = EVALS.load(Ordering::SeqCst);
        // A kept call evaluates each argument exactly once.
        for _ in 0..10 {
            logkit::warn!(v = side_effect(), "kept {}", side_effect());
        }
        let kept = EVALS.load(Ordering::SeqCst) - skipped;
        logkit::warn!(skipped, kept, "counts");
        return;
    }
    let recs = records_of(NAME, &[("LOG_SAMPLE", "0"), ("LOG_LEVEL", "info")]);
    let counts = common::events(&recs, "counts");
    assert_eq!(counts.len(), 1, "{recs:?}");
    assert_eq!(counts[0]["skipped"], 0, "left-out calls evaluated their arguments");
    assert_eq!(counts[0]["kept"], 20, "kept calls should evaluate each argument once");
}

#[test]
fn the_first_call_evaluates_nothing_when_it_is_sampled_out() {
    const NAME: &str = "the_first_call_evaluates_nothing_when_it_is_sampled_out";
    if common::is_child(NAME) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static EVALS: AtomicUsize = AtomicUsize::new(0);
        fn side_effect() -> u64 {
            EVALS.fetch_add(1, Ordering::SeqCst) as u64
        }
        // No init: this call starts logkit (LOG_SAMPLE=0 leaves it out).
        logkit::info!(v = side_effect(), "first {}", side_effect());
        logkit::warn!(evals = EVALS.load(Ordering::SeqCst), "counts");
        return;
    }
    let recs = records_of(NAME, &[("LOG_SAMPLE", "0")]);
    assert_eq!(count(&recs, "first 0"), 0, "the sampled-out first record was written");
    let counts = common::events(&recs, "counts");
    assert_eq!(counts.len(), 1, "{recs:?}");
    assert_eq!(counts[0]["evals"], 0, "the sampled-out first call (lazy start) evaluated its arguments");
}
