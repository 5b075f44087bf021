//! `logkit slow`: the slowest spans and per span name count, errors and percentiles.
mod common;

use logkit::span;

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _s = span!("one");
        return;
    }
    let dir = common::tempdir();
    common::write_log("smoke", dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["slow"]));
    assert!(out.contains("\none "), "{out}");
}

fn end(name: &str, ms: f64, status: &str) -> String {
    format!(
        "{{\"timestamp\":\"2026-11-24T07:02:51.{:06}Z\",\"level\":\"info\",\"event\":\"END\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span\":\"{name}\",\"dur_ms\":{ms:?},\"status\":\"{status}\",\"target\":\"t\"}}\n",
        (ms * 1000.0) as u64 % 1_000_000
    )
}

#[test]
fn slow_reports_the_top_spans_and_percentiles_per_span_name() {
    let dir = common::tempdir();
    let mut log = String::new();
    for i in 1..=100 {
        log.push_str(&end("db", f64::from(i), if i % 10 == 0 { "error" } else { "success" }));
    }
    log.push_str(&end("http", 500.0, "success"));
    log.push_str("garbage\n");
    std::fs::write(common::run_log(dir.path()), log).unwrap();
    let out = common::logkit(dir.path(), &["slow", "--top", "3", "--by", "span"]);
    let text = common::ok(&out);
    let want = "\
slowest spans
       500.000ms  http  success  2026-11-24T07:02:51.500000Z  trace 4bf92f3577b34da6a3ce929d0e0e4736
       100.000ms  db  error  2026-11-24T07:02:51.100000Z  trace 4bf92f3577b34da6a3ce929d0e0e4736
        99.000ms  db  success  2026-11-24T07:02:51.099000Z  trace 4bf92f3577b34da6a3ce929d0e0e4736

span                                count  errors       p50 ms       p95 ms       p99 ms       max ms
http                                    1       0      500.000      500.000      500.000      500.000
db                                    100      10       50.000       95.000       99.000      100.000
";
    assert_eq!(text, want);
    assert_eq!(common::stderr(&out), "logkit: skipped 1 bad lines (run.log: 1 not JSON, 0 not logkit records)\n");
    let j: serde_json::Value =
        serde_json::from_str(&common::ok(&common::logkit(dir.path(), &["slow", "--json"]))).unwrap();
    assert_eq!(j["by_span"][1]["p95"], 95.0);
    assert_eq!(j["slowest"].as_array().unwrap().len(), 10);
    let bad = common::logkit(dir.path(), &["slow", "--top", "many"]);
    assert_eq!(common::stderr(&bad), "logkit: --top needs a number, not \"many\"\n");
}
