//! The runnable examples: each one finishes by itself and leaves a `run.log` a person
//! (and `jq`) can read. `cargo test` builds the examples before it runs the tests
//! (`cargo test --test examples` alone does not: build them with
//! `cargo build --examples --all-features` first); each runs here in a fresh
//! directory with a clean `LOG_*` environment.
#![cfg(all(feature = "tower", feature = "tracing", feature = "tokio"))]

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value as J;

/// Runs the example `name` (built by `cargo test` beside this test binary) and returns
/// its stdout and the records of its `run.log`.
fn run_example(name: &str) -> (String, Vec<J>) {
    let exe = std::env::current_exe().expect("test binary path");
    let examples: PathBuf = exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("examples");
    let bin = examples.join(name);
    assert!(bin.exists(), "example {name} not built at {} (run through `cargo test`)", bin.display());
    let dir = common::tempdir();
    let mut c = Command::new(&bin);
    c.current_dir(dir.path());
    for k in common::KNOBS {
        c.env_remove(k);
    }
    c.env("LOG_CONSOLE", "off");
    let out = common::run(c);
    common::assert_success(&out);
    (String::from_utf8_lossy(&out.stdout).into_owned(), common::read_jsonl(&dir.path().join("run.log")))
}

#[test]
fn from_tracing_logs_instrumented_spans_and_their_errors() {
    let (_, recs) = run_example("from_tracing");
    let prices: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "price").collect();
    assert_eq!(prices.len(), 4, "{recs:#?}");
    let charges: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "charge").collect();
    let failed: Vec<&J> = charges.iter().copied().filter(|r| r["status"] == "error").collect();
    assert_eq!((charges.len(), failed.len()), (4, 1), "{charges:#?}");
    assert_eq!(failed[0]["exc_info"]["message"], "card declined for order 3");
    // One trace for the batch, its field bound to everything inside.
    let batch = common::end_of(&recs, "batch");
    for r in recs.iter().filter(|r| r["event"] != "START" || r["span"] != "batch") {
        assert_eq!(r["trace_id"], batch["trace_id"], "{r}");
        assert_eq!(r["run"], "nightly", "{r}");
    }
    assert_eq!(common::the(&recs, "order left unpaid")["level"], "warning");
}

#[test]
fn axum_service_serves_twenty_requests_and_stops() {
    let (stdout, recs) = run_example("axum_service");
    assert!(stdout.contains("done: read run.log"), "{stdout}");
    let requests: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "http.request").collect();
    assert_eq!(requests.len(), 20, "{recs:#?}");
    let failed: Vec<&str> =
        requests.iter().filter(|r| r["status"] == "error").map(|r| r["url.path"].as_str().unwrap()).collect();
    assert_eq!(failed, ["/orders/999", "/panic"]);
    // Requests that sent a traceparent continue its trace.
    let continued = requests.iter().filter(|r| r["trace_id"].as_str().unwrap().starts_with("00000000000")).count();
    assert_eq!(continued, 10);
    // Everything a handler logged carries its request's trace and bound keys.
    for r in recs.iter().filter(|r| r["event"] == "looking up order" || r["event"] == "audit written") {
        let end = requests.iter().find(|e| e["trace_id"] == r["trace_id"]).expect("its request");
        assert_eq!(r["url.path"], end["url.path"], "{r}");
        assert_eq!(r["user"], "ann", "{r}");
    }
    assert_eq!(recs.iter().filter(|r| r["event"] == "tracing event from a library").count(), 19);
}

#[test]
fn worker_pool_reports_the_failed_and_the_panicked_job_and_goes_on() {
    let (_, recs) = run_example("worker_pool");
    let jobs: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "worker_pool::run_job").collect();
    assert_eq!(jobs.len(), 6, "{recs:#?}");
    let mut failed: Vec<(i64, &str)> = jobs
        .iter()
        .filter(|r| r["status"] == "error")
        .map(|r| (r["job"].as_i64().unwrap(), r["exc_info"]["type"].as_str().unwrap()))
        .collect();
    failed.sort();
    assert_eq!(failed, [(3, "worker_pool::JobError"), (5, "panic")]);
    let chain = jobs.iter().find(|r| r["job"] == 3).unwrap();
    assert!(chain["exc_info"].to_string().contains("disk full"), "{chain}");
    // Each job is a unit of its own: its own trace, the pool's keys gone.
    let traces: std::collections::HashSet<&str> = jobs.iter().map(|r| r["trace_id"].as_str().unwrap()).collect();
    assert_eq!(traces.len(), 6);
    let tasks = common::ends(&recs).into_iter().filter(|r| r["span"] == "worker_pool::run_task").count();
    assert_eq!(tasks, 4);
    assert_eq!(common::events(&recs, "task done").len(), 4);
    common::the(&recs, "pool stopped");
}

#[test]
fn multi_process_children_continue_the_parents_trace() {
    let (stdout, recs) = run_example("multi_process");
    let dispatch = common::end_of(&recs, "parent.dispatch");
    let trace = dispatch["trace_id"].as_str().unwrap();
    assert!(stdout.contains(trace), "{stdout}");
    let children: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "child.work").collect();
    assert_eq!(children.len(), 3, "{recs:#?}");
    for c in children {
        assert_eq!(c["trace_id"], trace, "{c}");
        assert_eq!(c["parent_span_id"], dispatch["span_id"], "{c}");
    }
    assert_eq!(common::events(&recs, "child working").len(), 3);
}

#[test]
fn cli_runs_its_default_command_in_one_trace_with_a_failed_shard() {
    let (stdout, recs) = run_example("cli");
    assert!(stdout.contains("1 shard(s) failed"), "{stdout}");
    let reindex = common::end_of(&recs, "cli::reindex");
    assert_eq!(reindex["status"], "success");
    let shards: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "cli::rebuild").collect();
    assert_eq!(shards.len(), 4, "{recs:#?}");
    for s in &shards {
        assert_eq!(s["trace_id"], reindex["trace_id"], "{s}");
        assert_eq!(s["parent_span_id"], reindex["span_id"], "{s}");
    }
    let failed: Vec<&&J> = shards.iter().filter(|s| s["status"] == "error").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["shard"], 3);
    assert!(failed[0]["exc_info"].to_string().contains("segment file truncated"), "{}", failed[0]);
}
