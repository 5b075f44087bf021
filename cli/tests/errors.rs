//! `logkit errors`: every error record and failed span of a run written by logkit
//! itself, in time order, rendered for a person or as JSONL; bad lines counted.
mod common;

use common::AppError;
use logkit::{error, info, new_context, span, warn};

/// The scenario: two work units; the first fails in a nested span with an error
/// chain, the second logs an error record; a third panics inside a span.
fn scenario() {
    new_context!(user = "u1");
    {
        let _outer = span!("handle", path = "/orders");
        info!(items = 3, "parsed request");
        let db = span!("db.query");
        let err =
            AppError { msg: "query failed", cause: Some(Box::new(AppError { msg: "connection reset", cause: None })) };
        db.fail(&err);
    }
    new_context!(user = "u2");
    warn!(latency_ms = 250.5, "slow query");
    error!(target: "app::pay", code = 402, "payment refused");
    new_context!(user = "u3");
    let r = std::panic::catch_unwind(|| {
        let _s = span!("reindex");
        panic!("index out of date");
    });
    assert!(r.is_err());
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        error!("boom");
        return;
    }
    let dir = common::tempdir();
    common::write_log("smoke", dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["errors"]));
    assert!(out.contains(" ERROR errors boom\n"), "{out}");
}

#[test]
fn errors_lists_failed_spans_and_error_records_in_time_order_with_chains_and_trace_ids() {
    let name = "errors_lists_failed_spans_and_error_records_in_time_order_with_chains_and_trace_ids";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["errors"]));
    let norm = lines_of_this_file(&common::normalise(&out).replace(env!("CARGO_MANIFEST_DIR"), "<cli>"));
    let thread = "thread errors_lists_failed_spans_and_error_records_in_time_order_with_chains_and_trace_ids";
    let frames = "  backtrace (4 application frames, 35 folded):
    errors::scenario::{{closure}} at <cli>/tests/errors.rs:<l>
    errors::scenario at <cli>/tests/errors.rs:<l>
    errors::errors_lists_failed_spans_and_error_records_in_time_order_with_chains_and_trace_ids at <cli>/tests/errors.rs:<l>
    errors::errors_lists_failed_spans_and_error_records_in_time_order_with_chains_and_trace_ids::{{closure}} at <cli>/tests/errors.rs:<l>
";
    let want = format!(
        "\
<ts> ERROR errors span db.query failed after <d>ms
  user=u1 path=/orders
  errors::common::AppError: query failed
  caused by: connection reset
  trace <trace1>

<ts> ERROR app::pay payment refused
  user=u2 code=402
  trace <trace2>

<ts> ERROR logkit::panic panic
  user=u3
  panic: index out of date
  at cli/tests/errors.rs:<l> ({thread})
{frames}  trace <trace3>

<ts> ERROR errors span reindex failed after <d>ms
  user=u3
  panic: index out of date
  at cli/tests/errors.rs:<l> ({thread})
{frames}  trace <trace3>

4 errors
"
    );
    assert_eq!(without_crate_paths(&norm), without_crate_paths(&want), "{out}");
}

/// A backtrace frame's name with or without its crate path (`errors::scenario` or
/// `scenario`): which one the symbolizer finds depends on how much debug info the
/// test binary has (full, or line tables only), not on the reader.
fn without_crate_paths(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("    errors::") {
            Some(rest) if line.contains(" at <cli>/") => format!("    {rest}\n"),
            _ => format!("{line}\n"),
        })
        .collect()
}

#[test]
fn errors_json_prints_the_selected_lines_verbatim_in_time_order() {
    let name = "errors_json_prints_the_selected_lines_verbatim_in_time_order";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["errors", "--json"]));
    let log = std::fs::read_to_string(common::run_log(dir.path())).unwrap();
    let want: Vec<&str> =
        log.lines().filter(|l| l.contains("\"level\":\"error\"") || l.contains("\"status\":\"error\"")).collect();
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 4, "{out}");
    let mut sorted = want.clone();
    sorted.sort_by_key(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"].as_str().unwrap().to_owned()
    });
    assert_eq!(got, sorted);
}

#[test]
fn errors_fail_exits_1_when_it_found_any_and_0_when_none() {
    let name = "errors_fail_exits_1_when_it_found_any_and_0_when_none";
    if common::is_child(name) {
        info!("fine");
        error!("not fine");
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    assert_eq!(common::logkit(dir.path(), &["errors", "--fail"]).status.code(), Some(1));
    let clean = dir.path().join("clean.log");
    let log = std::fs::read_to_string(common::run_log(dir.path())).unwrap();
    std::fs::write(&clean, log.lines().filter(|l| !l.contains("not fine")).collect::<Vec<_>>().join("\n")).unwrap();
    let out = common::logkit(dir.path(), &["errors", "--fail", "clean.log"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(common::ok(&out), "0 errors\n");
}

#[test]
fn torn_garbage_and_foreign_lines_are_skipped_and_counted_on_stderr() {
    let name = "torn_garbage_and_foreign_lines_are_skipped_and_counted_on_stderr";
    if common::is_child(name) {
        error!(n = 1, "first");
        error!(n = 2, "second");
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let log = std::fs::read_to_string(common::run_log(dir.path())).unwrap();
    // The run's own records (the engine's `logkit.start` line first is not one).
    let mut lines: Vec<&str> = log.lines().filter(|l| !l.contains(r#""event":"logkit.start""#)).collect();
    let torn = &lines[1][..lines[1].len() / 2];
    lines[1] = torn;
    let mut text: Vec<u8> = Vec::new();
    text.extend_from_slice(b"not json at all\n");
    text.extend_from_slice(b"{\"msg\":\"json, but not logkit's\",\"level\":\"error\"}\n");
    text.extend_from_slice(lines[0].as_bytes());
    text.extend_from_slice(b"\n\x1b[31m\xff?\n");
    text.extend_from_slice(lines[1].as_bytes()); // torn: a crash mid-write, no newline
    std::fs::write(common::run_log(dir.path()), text).unwrap();
    let out = common::logkit(dir.path(), &["errors"]);
    let stdout = common::ok(&out);
    assert!(stdout.contains("first") && !stdout.contains("second"), "{stdout}");
    assert!(stdout.ends_with("\n1 error\n"), "{stdout}");
    assert_eq!(common::stderr(&out), "logkit: skipped 4 bad lines (run.log: 3 not JSON, 1 not logkit records)\n");
}

#[test]
fn a_missing_file_is_an_io_error_with_exit_1_naming_it() {
    let dir = common::tempdir();
    let out = common::logkit(dir.path(), &["errors", "nope.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(common::stderr(&out), "logkit: cannot open nope.log: no such file\n");
    let out = common::logkit(dir.path(), &["errors"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(common::stderr(&out).starts_with("logkit: no run.log here"), "{}", common::stderr(&out));
    let out = common::logkit(dir.path(), &["errors", "--bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(common::stderr(&out), "logkit: unknown option \"--bogus\" (see logkit --help)\n");
}

/// `text` with the `line:column` after each `errors.rs:` replaced by `<l>` (they move
/// whenever this file is edited).
fn lines_of_this_file(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("errors.rs:") {
        out.push_str(&rest[..i + 10]);
        rest = rest[i + 10..].trim_start_matches(|c: char| c.is_ascii_digit() || c == ':');
        out.push_str("<l>");
    }
    out.push_str(rest);
    out
}
