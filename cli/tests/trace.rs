//! `logkit trace ID`: one trace as a span tree, a terminal waterfall and an HTML
//! waterfall (opened in headless Chromium), over a run written by logkit itself.
mod common;

use common::AppError;
use logkit::{info, new_context, span};

/// Two traces; the first has nested spans, a failure with a chain, and records inside.
fn scenario() {
    new_context!(user = "u1");
    info!("request received");
    {
        let _h = span!("handle", path = "/orders");
        info!(items = 3, "parsed request");
        {
            let db = span!("db.query");
            db.fail(&AppError {
                msg: "query failed",
                cause: Some(Box::new(AppError { msg: "connection reset", cause: None })),
            });
        }
        let _c = span!("cache");
        info!(key = "k1", "hit");
    }
    new_context!(user = "u2");
    let _other = span!("other");
}

fn trace_ids(dir: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = common::records(&common::run_log(dir))
        .iter()
        .filter_map(|r| r["trace_id"].as_str().map(str::to_owned))
        .collect();
    ids.dedup();
    ids
}

const TREE: &str = "\
trace <trace1>  3 spans, 1 failed, 9 records, <d>ms
<time> INFO  request received             user=u1 trace=<trace1> trace
handle <d>ms success
  <time> INFO  parsed request               user=u1 path=/orders items=3 trace=<trace1> trace
  db.query <d>ms error
    ! trace::common::AppError: query failed
    ! caused by: connection reset
  cache <d>ms success
    <time> INFO  hit                          user=u1 path=/orders key=k1 trace=<trace1> trace
";

#[test]
fn smoke() {
    if common::is_child("smoke") {
        new_context!();
        let _s = span!("one");
        return;
    }
    let dir = common::tempdir();
    common::write_log("smoke", dir.path(), &[]);
    let id = trace_ids(dir.path()).remove(0);
    let out = common::ok(&common::logkit(dir.path(), &["trace", &id]));
    assert!(out.contains("\none "), "{out}");
}

#[test]
fn trace_prints_the_span_tree_with_records_under_their_spans() {
    let name = "trace_prints_the_span_tree_with_records_under_their_spans";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let ids = trace_ids(dir.path());
    assert_eq!(ids.len(), 2);
    let out = common::ok(&common::logkit(dir.path(), &["trace", &ids[0]]));
    assert_eq!(common::normalise(&out), TREE, "{out}");
    // A unique prefix is enough.
    let prefix = &ids[0][..6];
    assert_eq!(common::ok(&common::logkit(dir.path(), &["trace", prefix])), out);
    // --last-error picks the trace of the latest error.
    assert_eq!(common::ok(&common::logkit(dir.path(), &["trace", "--last-error"])), out);
}

#[test]
fn trace_json_nests_spans_and_their_records() {
    let name = "trace_json_nests_spans_and_their_records";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let ids = trace_ids(dir.path());
    let out = common::ok(&common::logkit(dir.path(), &["trace", &ids[0], "--json"]));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["trace_id"], ids[0].as_str());
    let handle = &j["spans"][0];
    assert_eq!(handle["name"], "handle");
    let children: Vec<&str> =
        handle["children"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(children, ["db.query", "cache"]);
    assert_eq!(handle["children"][0]["status"], "error");
    assert_eq!(handle["children"][0]["exc_info"]["chain"][0], "connection reset");
    assert_eq!(handle["records"][0]["event"], "parsed request");
    assert_eq!(j["records"][0]["event"], "request received");
}

#[test]
fn an_unknown_or_ambiguous_trace_id_is_a_clear_error() {
    let name = "an_unknown_or_ambiguous_trace_id_is_a_clear_error";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let out = common::logkit(dir.path(), &["trace", "ffffffffffffffffffffffffffffffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(common::stderr(&out), "logkit: no record of trace ffffffffffffffffffffffffffffffff\n");
    let out = common::logkit(dir.path(), &["trace", "not-hex"]);
    assert!(common::stderr(&out).starts_with("logkit: bad trace id \"not-hex\""));
    // Two traces whose ids share a first digit or not: the empty-ish prefix of both.
    let ids = trace_ids(dir.path());
    let common_prefix: String =
        ids[0].chars().zip(ids[1].chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect();
    if !common_prefix.is_empty() {
        let out = common::logkit(dir.path(), &["trace", &common_prefix]);
        assert!(common::stderr(&out).contains("is ambiguous: 2 traces match"), "{}", common::stderr(&out));
    }
}

#[test]
fn trace_waterfall_draws_each_span_as_a_bar_on_one_time_axis() {
    let name = "trace_waterfall_draws_each_span_as_a_bar_on_one_time_axis";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let ids = trace_ids(dir.path());
    let out = common::ok(&common::logkit(dir.path(), &["trace", &ids[0], "--waterfall"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[1].trim_start().starts_with("0ms"), "{out}");
    let bars: Vec<&str> = lines[2..].iter().map(|l| l.split('|').nth(1).unwrap()).collect();
    assert!(lines[2].starts_with("handle ") && lines[3].starts_with("  db.query") && lines[4].starts_with("  cache"));
    // Same width; handle's bar covers its children's; the failed span is drawn with x.
    assert!(bars.iter().all(|b| b.len() == bars[0].len()), "{out}");
    let span_of = |b: &str| (b.find(|c| c != ' ').unwrap(), b.rfind(|c| c != ' ').unwrap());
    let (h0, h1) = span_of(bars[0]);
    for b in &bars[1..] {
        let (s, e) = span_of(b);
        assert!(h0 <= s && e <= h1, "{out}");
    }
    assert!(bars[1].contains('x') && !bars[1].contains('='), "{out}");
    assert!(bars[0].contains('=') && !bars[0].contains('x'), "{out}");
}

/// Chromium's binary, or a clear failure (`.ci/run` installs Debian's `chromium`).
fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser"] {
        if std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c;
        }
    }
    panic!("the HTML waterfall test needs chromium (apt-get install -y chromium)");
}

#[test]
fn trace_html_is_a_self_contained_page_that_chromium_renders_with_every_span() {
    let name = "trace_html_is_a_self_contained_page_that_chromium_renders_with_every_span";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let ids = trace_ids(dir.path());
    common::ok(&common::logkit(dir.path(), &["trace", &ids[0], "--html", "trace.html"]));
    let page = std::fs::read_to_string(dir.path().join("trace.html")).unwrap();
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"), "self-contained");
    let profile = dir.path().join("chromium-profile");
    let out = std::process::Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", dir.path().join("trace.html").display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && dom.contains("<body"), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = dom.split("<details class=\"row span\"").skip(1).collect();
    assert_eq!(rows.len(), 3, "{dom}");
    for (row, span) in rows.iter().zip(["handle", "db.query", "cache"]) {
        assert!(row.contains(&format!(">{span}</span>")), "{span} in {row}");
    }
    assert!(rows[1].contains("class=\"bar error\"") && rows[1].contains("connection reset"), "{}", rows[1]);
    assert!(rows[2].contains("hit"), "the records logged inside a span are in its details");
}
