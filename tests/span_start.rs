//! `START` records: a span logs one when it opens (`span`, its ids, its parent, its
//! keys), so a span that never ends is still named in the log; `LOG_SPAN_START=0`
//! turns them off.
mod common;

use serde_json::Value as J;

fn records_of(name: &str, env: &[(&str, &str)]) -> Vec<J> {
    common::records_of(name, env)
}

fn starts(recs: &[J]) -> Vec<&J> {
    common::events(recs, "START")
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _s = logkit::span!("s");
        return;
    }
    let recs = records_of("smoke", &[]);
    assert_eq!(starts(&recs).len(), 1);
}

#[test]
fn a_span_logs_start_with_its_name_ids_parent_and_keys() {
    const NAME: &str = "a_span_logs_start_with_its_name_ids_parent_and_keys";
    if common::is_child(NAME) {
        logkit::new_context!(user = "u1");
        let _outer = logkit::span!("import_batch");
        let _inner = logkit::span!("wait_for_lock", lock = "db", attempt = 2);
        logkit::info!("waiting");
        return;
    }
    let recs = records_of(NAME, &[]);
    let events: Vec<&str> = recs.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(events, ["START", "START", "waiting", "END", "END"], "{recs:#?}");
    let (outer_start, inner_start) = (&recs[0], &recs[1]);
    let inner_end = common::end_of(&recs, "wait_for_lock");
    let outer_end = common::end_of(&recs, "import_batch");
    assert_eq!(outer_start["span"], "import_batch");
    assert_eq!(outer_start["span_id"], outer_end["span_id"]);
    assert_eq!(inner_start["span"], "wait_for_lock");
    assert_eq!(inner_start["span_id"], inner_end["span_id"]);
    assert_eq!(inner_start["parent_span_id"], outer_end["span_id"]);
    assert_eq!(inner_start["trace_id"], inner_end["trace_id"]);
    assert_eq!(inner_start["user"], "u1");
    assert_eq!(inner_start["lock"], "db");
    assert_eq!(inner_start["attempt"], 2);
    assert_eq!(inner_start["level"], "info");
    // START carries no duration or status: it is not an END.
    assert!(inner_start.get("dur_ms").is_none() && inner_start.get("status").is_none(), "{inner_start}");
    // The records inside the span carry the span_id the START named.
    assert_eq!(common::the(&recs, "waiting")["span_id"], inner_start["span_id"]);
}

#[test]
fn start_keeps_the_record_order_keys_of_the_format() {
    const NAME: &str = "start_keeps_the_record_order_keys_of_the_format";
    if common::is_child(NAME) {
        logkit::new_context!(user = "u1");
        let _s = logkit::span!("handle", order_id = 42);
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child(NAME, dir.path())));
    let text = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    let line = text.lines().find(|l| l.contains("\"event\":\"START\"")).expect("a START line");
    assert_eq!(
        common::key_order(line),
        ["timestamp", "level", "event", "trace_id", "span_id", "user", "order_id", "span", "target"],
        "{line}"
    );
}

#[test]
fn a_span_that_never_ends_is_named_by_its_start() {
    const NAME: &str = "a_span_that_never_ends_is_named_by_its_start";
    if common::is_child(NAME) {
        let span = logkit::span!("wait_for_lock");
        logkit::info!("stuck");
        logkit::flush();
        // Killed inside the span: no unwinding, no END.
        std::mem::forget(span);
        std::process::abort();
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert!(!out.status.success(), "the child was meant to abort");
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert!(common::ends(&recs).is_empty(), "{recs:#?}");
    let start = common::the(&recs, "START");
    assert_eq!(start["span"], "wait_for_lock");
    assert_eq!(common::the(&recs, "stuck")["span_id"], start["span_id"]);
    assert!(start["timestamp"].is_string());
}

#[test]
fn log_span_start_0_turns_start_records_off() {
    const NAME: &str = "log_span_start_0_turns_start_records_off";
    if common::is_child(NAME) {
        let _s = logkit::span!("quiet");
        return;
    }
    let recs = records_of(NAME, &[("LOG_SPAN_START", "0")]);
    assert!(starts(&recs).is_empty(), "{recs:#?}");
    assert_eq!(common::ends(&recs).len(), 1);
    let recs = records_of(NAME, &[("LOG_SPAN_START", "1")]);
    assert_eq!(starts(&recs).len(), 1);
}

#[test]
fn config_span_start_false_turns_start_records_off() {
    const NAME: &str = "config_span_start_false_turns_start_records_off";
    if common::is_child(NAME) {
        let _g = logkit::Config::from_env().unwrap().span_start(false).init().unwrap();
        let _s = logkit::span!("quiet");
        return;
    }
    let recs = records_of(NAME, &[]);
    assert!(starts(&recs).is_empty(), "{recs:#?}");
}

#[test]
fn a_bad_log_span_start_is_an_error_naming_the_variable() {
    const NAME: &str = "a_bad_log_span_start_is_an_error_naming_the_variable";
    if common::is_child(NAME) {
        let e = logkit::init().expect_err("LOG_SPAN_START=maybe must be rejected");
        assert_eq!(e.var(), "LOG_SPAN_START");
        assert_eq!(e.value(), "maybe");
        println!("{e}");
        return;
    }
    let dir = common::tempdir();
    let mut c = common::child(NAME, dir.path());
    c.env("LOG_SPAN_START", "maybe");
    let out = common::run(c);
    common::assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("LOG_SPAN_START=\"maybe\""));
}

#[test]
fn capture_fns_log_start_too_sync_and_async() {
    const NAME: &str = "capture_fns_log_start_too_sync_and_async";
    #[logkit::capture(job = 3)]
    fn sync_job() {}
    #[logkit::capture]
    async fn async_job() {
        logkit::info!("in async");
    }
    if common::is_child(NAME) {
        sync_job();
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async_job());
        return;
    }
    let recs = records_of(NAME, &[]);
    let starts = starts(&recs);
    assert_eq!(starts.len(), 2, "{recs:#?}");
    assert!(starts[0]["span"].as_str().unwrap().ends_with("sync_job"), "{}", starts[0]);
    assert_eq!(starts[0]["job"], 3);
    assert!(starts[1]["span"].as_str().unwrap().ends_with("async_job"), "{}", starts[1]);
    assert_eq!(common::the(&recs, "in async")["span_id"], starts[1]["span_id"]);
}

#[test]
fn start_follows_the_span_filter_and_trace_sampling() {
    const NAME: &str = "start_follows_the_span_filter_and_trace_sampling";
    if common::is_child(NAME) {
        // Key 2^63 - 1: dropped at any rate below 1.
        logkit::new_context!(trace_id = "0000000000000000ffffffffffffffff");
        drop(logkit::span!("sampled_out"));
        logkit::new_context!(trace_id = "00000000000000000000000000000001");
        drop(logkit::span!("kept"));
        return;
    }
    let recs = records_of(NAME, &[("LOG_SAMPLE", "0.5")]);
    let names: Vec<&str> = starts(&recs).iter().filter_map(|r| r["span"].as_str()).collect();
    assert_eq!(names, ["kept"], "{recs:#?}");
    let recs = records_of(NAME, &[("LOG_LEVEL", "warn")]);
    assert!(starts(&recs).is_empty(), "START is an INFO record: {recs:#?}");
}
