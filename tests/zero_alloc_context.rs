//! A bound context and an open span cost no allocation per record: records logged
//! after `new_context!` (three keys) and inside a `span!` allocate nothing in steady
//! state, and still carry the context keys and the span id.
//!
//! A counting global allocator counts allocations made *by the logging thread* while
//! a flag is set, so the writer thread's own work (off the hot path) does not count.
mod common;

use common::alloc::counted;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

fn burst(n: u64, phase: &str) {
    for i in 0..n {
        logkit::info!(order_id = i, price = 1.5 + i as f64, phase = phase, "order filled");
    }
}

const COUNTED: usize = 100_000;

/// In a child process (logkit is process-wide; the counting test below owns this one).
#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::new_context!(user = "u1", region = "eu-west", shard = 7);
        let _span = logkit::span!("hot_loop", batch = 3);
        logkit::info!(order_id = 1, "order filled");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    let r = common::events(&recs, "order filled")[0];
    assert_eq!(
        (&r["user"], &r["region"], &r["shard"], &r["batch"]),
        (&"u1".into(), &"eu-west".into(), &7.into(), &3.into())
    );
    assert!(r["span_id"].is_string() && r["trace_id"].is_string(), "{r}");
}

// Only one test in this process starts logkit: the allocator counts per thread, and
// logkit is process-wide.
#[test]
fn records_in_a_bound_context_and_span_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = logkit::Config::default()
        .file(dir.path().join("run.log"))
        .console(logkit::Console::Off)
        .buffer(1024)
        .rotate_bytes(0)
        .level("debug")
        .init()
        .unwrap();
    let trace = logkit::new_context!(user = "u1", region = "eu-west", shard = 7);
    let span = logkit::span!("hot_loop", batch = 3);
    let span_id = span.id().expect("open span").to_string();
    // Warm-up: thread registration, and enough full buffers for the pool of recycled
    // buffers to reach its working size.
    burst(200_000, "warm-up");
    logkit::flush();
    let allocs = counted(|| burst(COUNTED as u64, "counted"));
    logkit::flush();
    assert_eq!(allocs, 0, "log calls in a bound context and span allocated {allocs} times in steady state");

    // The records were really written, with the context.
    let text = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    let trace = trace.to_string();
    let mut n = 0;
    for line in text.lines().filter(|l| l.contains("\"phase\":\"counted\"")) {
        let r: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(r["trace_id"], trace.as_str(), "{line}");
        assert_eq!(r["span_id"], span_id.as_str(), "{line}");
        assert_eq!(r["user"], "u1", "{line}");
        assert_eq!(r["region"], "eu-west", "{line}");
        assert_eq!(r["shard"], 7, "{line}");
        assert_eq!(r["batch"], 3, "{line}");
        assert_eq!(r["order_id"], n, "records in order: {line}");
        n += 1;
    }
    assert_eq!(n, COUNTED);
    drop(span);
}
