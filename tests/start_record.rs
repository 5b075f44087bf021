//! `logkit.start`: one record when logkit starts, first in the file, naming the process
//! (pid, executable, host), logkit's version, the effective configuration (each knob's
//! value and where it came from) and the clock calibration, so that runs appending to
//! one file can be told apart.
mod common;

use serde_json::Value as J;

/// Every record of `run.log`, `logkit.start` included.
fn all_records(dir: &std::path::Path) -> Vec<J> {
    common::read_jsonl_with_start(&dir.join("run.log"))
}

fn run_child(name: &str, dir: &std::path::Path, env: &[(&str, &str)]) {
    let mut c = common::child(name, dir);
    for (k, v) in env {
        c.env(k, v);
    }
    common::assert_success(&common::run(c));
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!("hello");
        return;
    }
    let dir = common::tempdir();
    run_child("smoke", dir.path(), &[]);
    let recs = all_records(dir.path());
    assert_eq!(recs[0]["event"], "logkit.start", "{recs:#?}");
}

#[test]
fn logkit_start_is_the_first_record_and_names_the_process_version_config_and_clock() {
    const NAME: &str = "logkit_start_is_the_first_record_and_names_the_process_version_config_and_clock";
    if common::is_child(NAME) {
        logkit::info!(pid = std::process::id(), "mine");
        return;
    }
    let dir = common::tempdir();
    run_child(NAME, dir.path(), &[]);
    let recs = all_records(dir.path());
    let events: Vec<&str> = recs.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(events, ["logkit.start", "mine"], "{recs:#?}");
    let (start, mine) = (&recs[0], &recs[1]);
    assert_eq!(start["level"], "info");
    assert_eq!(start["target"], "logkit");
    assert_eq!(start["pid"], mine["pid"], "the child's own pid");
    let time = |r: &J| r["timestamp"].as_str().expect("timestamp").to_owned();
    assert!(time(start) <= time(mine), "logkit.start is also first in time: {start} then {mine}");
    let exe = start["exe"].as_str().expect("exe");
    assert!(exe.contains("start_record"), "the test binary: {exe}");
    assert!(!start["host"].as_str().expect("host").is_empty(), "{start}");
    assert_eq!(start["logkit_version"], env!("CARGO_PKG_VERSION"));
    let config = start["config"].as_object().expect("config is an object");
    for knob in ["LOG_PROFILE", "LOG_LEVEL", "LOG_SAMPLE", "LOG_FILE", "LOG_BUFFER", "LOG_FSYNC", "LOG_SPAN_START"] {
        assert!(config.contains_key(knob), "{knob} missing from {start}");
    }
    let clock = &start["clock"];
    assert!(["tsc", "monotonic"].contains(&clock["source"].as_str().unwrap_or("")), "{clock}");
    assert!(clock["ns_per_tick"].as_f64().is_some_and(|r| r > 0.0), "{clock}");
    assert!(clock["unix_ns"].as_u64().is_some_and(|t| t > 1_600_000_000_000_000_000), "{clock}");
}

#[test]
fn the_start_record_says_where_each_knob_came_from() {
    const NAME: &str = "the_start_record_says_where_each_knob_came_from";
    if common::is_child(NAME) {
        let _g = logkit::Config::from_env().unwrap().buffer(256).init().unwrap();
        logkit::info!("x");
        return;
    }
    let dir = common::tempdir();
    run_child(NAME, dir.path(), &[("LOG_SAMPLE", "0.5"), ("RUST_LOG", "warn")]);
    let recs = all_records(dir.path());
    let config = &common::the(&recs, "logkit.start")["config"];
    assert_eq!((&config["LOG_SAMPLE"]["value"], &config["LOG_SAMPLE"]["from"]), (&0.5.into(), &"env".into()));
    assert_eq!(config["LOG_LEVEL"]["value"], "warn");
    assert_eq!((&config["LOG_LEVEL"]["from"], &config["LOG_LEVEL"]["var"]), (&"env".into(), &"RUST_LOG".into()));
    assert_eq!((&config["LOG_BUFFER"]["value"], &config["LOG_BUFFER"]["from"]), (&256.into(), &"code".into()));
    assert_eq!(config["LOG_BUFFER"]["set_by"], "Config::buffer");
    assert_eq!((&config["LOG_PROFILE"]["value"], &config["LOG_PROFILE"]["from"]), (&"dev".into(), &"default".into()));
}

#[test]
fn each_run_appending_to_one_file_starts_with_its_own_start_record() {
    const NAME: &str = "each_run_appending_to_one_file_starts_with_its_own_start_record";
    if common::is_child(NAME) {
        logkit::info!(pid = std::process::id(), "work");
        logkit::info!(pid = std::process::id(), "more work");
        return;
    }
    let dir = common::tempdir();
    run_child(NAME, dir.path(), &[]);
    run_child(NAME, dir.path(), &[]);
    let recs = all_records(dir.path());
    // Split the file at each logkit.start: every run's records carry that run's pid.
    let mut runs: Vec<(u64, Vec<u64>)> = Vec::new();
    for r in &recs {
        if r["event"] == "logkit.start" {
            runs.push((r["pid"].as_u64().expect("pid"), Vec::new()));
        } else {
            runs.last_mut().expect("a logkit.start before any record").1.push(r["pid"].as_u64().expect("pid"));
        }
    }
    assert_eq!(runs.len(), 2, "{recs:#?}");
    assert_ne!(runs[0].0, runs[1].0, "two processes");
    for (pid, pids) in &runs {
        assert_eq!(pids, &[*pid, *pid], "{recs:#?}");
    }
}

#[test]
fn the_start_record_stays_off_the_console() {
    const NAME: &str = "the_start_record_stays_off_the_console";
    if common::is_child(NAME) {
        logkit::info!("visible");
        return;
    }
    let dir = common::tempdir();
    for profile in ["dev", "prod"] {
        let mut c = common::child(NAME, dir.path());
        c.env("LOG_CONSOLE", "stderr").env("LOG_PROFILE", profile);
        let out = common::run(c);
        common::assert_success(&out);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("visible"), "{profile}: {err}");
        assert!(!err.contains("logkit.start"), "{profile}: {err}");
    }
}
