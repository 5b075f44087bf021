//! The `log` facade: `log::info!` and friends flow into run.log once logkit runs, with
//! their target and level, through the same directives and sampling.
mod common;

use serde_json::Value as J;

fn events(recs: &[J]) -> Vec<&str> {
    recs.iter().map(|r| r["event"].as_str().expect("event")).collect()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _guard = logkit::init().expect("init");
        log::info!(target: "dep::x", "from log {}", 1);
        return;
    }
    let recs = common::records_of("smoke", &[]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["event"], "from log 1");
    assert_eq!(recs[0]["target"], "dep::x");
    assert_eq!(recs[0]["level"], "info");
}

#[test]
fn log_levels_map_to_record_levels() {
    const NAME: &str = "log_levels_map_to_record_levels";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("init");
        log::error!(target: "dep", "e");
        log::warn!(target: "dep", "w");
        log::info!(target: "dep", "i");
        log::debug!(target: "dep", "d");
        log::trace!(target: "dep", "t");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "trace")]);
    let got: Vec<(&str, &str)> =
        recs.iter().map(|r| (r["event"].as_str().expect("event"), r["level"].as_str().expect("level"))).collect();
    assert_eq!(got, [("e", "error"), ("w", "warning"), ("i", "info"), ("d", "debug"), ("t", "trace")]);
}

#[test]
fn log_records_flow_in_after_a_lazy_start_in_order_with_logkit_records() {
    const NAME: &str = "log_records_flow_in_after_a_lazy_start_in_order_with_logkit_records";
    if common::is_child(NAME) {
        // No init: the first logkit call starts logkit and installs the bridge.
        logkit::info!("a");
        log::info!("b");
        logkit::info!("c");
        log::warn!(target: "dep::x", "d {}", "formatted");
        return;
    }
    let recs = common::records_of(NAME, &[]);
    assert_eq!(events(&recs), ["a", "b", "c", "d formatted"]);
    // Without `target:`, a `log` record's target is its module path.
    assert_eq!(recs[1]["target"], "log_facade");
    assert_eq!((&recs[3]["target"], &recs[3]["level"]), (&"dep::x".into(), &"warning".into()));
}

#[test]
fn log_records_follow_the_directives_for_their_target() {
    const NAME: &str = "log_records_follow_the_directives_for_their_target";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("init");
        for target in ["dep", "dep::x", "dep::verbose", "dep::verbose::y", "depx", "other"] {
            log::trace!(target: target, "{target}/trace");
            log::debug!(target: target, "{target}/debug");
            log::info!(target: target, "{target}/info");
            log::warn!(target: target, "{target}/warn");
        }
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "info,dep=warn,dep::verbose=trace")]);
    let want = [
        "dep/warn",
        "dep::x/warn",
        "dep::verbose/trace",
        "dep::verbose/debug",
        "dep::verbose/info",
        "dep::verbose/warn",
        "dep::verbose::y/trace",
        "dep::verbose::y/debug",
        "dep::verbose::y/info",
        "dep::verbose::y/warn",
        // A directive is a string prefix (as in env_logger and EnvFilter): `dep`
        // covers `depx` too.
        "depx/warn",
        "other/info",
        "other/warn",
    ];
    assert_eq!(events(&recs), want);
    for r in &recs {
        assert_eq!(r["target"].as_str(), r["event"].as_str().expect("event").split('/').next(), "{r}");
    }
}

#[test]
fn log_records_follow_set_level_both_ways() {
    const NAME: &str = "log_records_follow_set_level_both_ways";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("init");
        // prod: INFO floor, so `log`'s own max level starts at Info.
        log::debug!(target: "dep", "debug before");
        logkit::set_level("warn").expect("valid");
        log::info!(target: "dep", "info at warn");
        log::warn!(target: "dep", "warn at warn");
        // Raising the level must raise `log`'s static max level too.
        logkit::set_level("info,dep=trace").expect("valid");
        log::trace!(target: "dep", "trace at dep=trace");
        log::trace!(target: "other", "trace for other");
        log::info!(target: "other", "info for other");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_PROFILE", "prod")]);
    assert_eq!(events(&recs), ["warn at warn", "trace at dep=trace", "info for other"]);
}

#[test]
fn log_records_are_sampled_like_logkit_records() {
    const NAME: &str = "log_records_are_sampled_like_logkit_records";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("init");
        for i in 0..500 {
            log::info!(target: "dep", "info {i}");
            log::debug!(target: "dep", "debug {i}");
        }
        for i in 0..50 {
            log::warn!(target: "dep", "warn {i}");
            log::error!(target: "dep", "error {i}");
        }
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0")]);
    assert_eq!(recs.len(), 100, "LOG_SAMPLE=0 should keep only WARN and ERROR: {:?}", recs.first());
    assert!(recs.iter().all(|r| r["level"] == "warning" || r["level"] == "error"));
}

#[test]
fn log_messages_are_escaped_into_one_line() {
    const NAME: &str = "log_messages_are_escaped_into_one_line";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("init");
        log::info!(target: "dep", "line1\nline2 \"quoted\" \u{1b}[31m");
        return;
    }
    let recs = common::records_of(NAME, &[]);
    assert_eq!(events(&recs), ["line1\nline2 \"quoted\" \u{1b}[31m"]);
}

#[test]
fn log_enabled_answers_per_target() {
    const NAME: &str = "log_enabled_answers_per_target";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("init");
        let answers = [
            log::log_enabled!(target: "dep", log::Level::Info),
            log::log_enabled!(target: "dep", log::Level::Warn),
            log::log_enabled!(target: "dep::verbose", log::Level::Trace),
            log::log_enabled!(target: "other", log::Level::Info),
            log::log_enabled!(target: "other", log::Level::Debug),
        ];
        logkit::warn!(answers = ?answers, "answers");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "info,dep=warn,dep::verbose=trace")]);
    assert_eq!(events(&recs), ["answers"]);
    assert_eq!(recs[0]["answers"], "[false, true, true, true, false]");
}
