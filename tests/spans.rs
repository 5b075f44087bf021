//! `span!`: span ids on the records inside, nesting, the END record (duration, status,
//! keys), out-of-order drops, failures with an error's `source()` chain, panics inside
//! a span and in a thread, and an application's own panic hook.
mod common;

use std::fmt;
use std::time::Duration;

use logkit::{info, new_context, span};
use serde_json::Value as J;

/// Runs the test `name` as a child process and returns its records and stderr.
fn run_child(name: &str) -> (Vec<J>, String) {
    let dir = common::tempdir();
    let out = common::run(common::child(name, dir.path()).env("RUST_BACKTRACE", "0"));
    common::assert_success(&out);
    (common::read_jsonl(&dir.path().join("run.log")), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The one record with `"event" == event`.
fn one<'a>(recs: &'a [J], event: &str) -> &'a J {
    let found = common::events(recs, event);
    assert_eq!(found.len(), 1, "expected one {event:?} record in {recs:#?}");
    found[0]
}

/// The END records of the span named `name`.
fn ends<'a>(recs: &'a [J], name: &str) -> Vec<&'a J> {
    recs.iter().filter(|r| r["event"] == "END" && r["span"] == name).collect()
}

/// The one END record of the span named `name`.
fn end_of<'a>(recs: &'a [J], name: &str) -> &'a J {
    let found = ends(recs, name);
    assert_eq!(found.len(), 1, "expected one END of {name:?} in {recs:#?}");
    found[0]
}

fn is_span_id(v: &J) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 16 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) && s != "0000000000000000"
    })
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _span = span!("work", k = 7);
        info!("inside");
        return;
    }
    let (recs, _) = run_child("smoke");
    let inside = one(&recs, "inside");
    assert!(is_span_id(&inside["span_id"]), "{inside}");
    assert_eq!(inside["k"], 7);
    let end = end_of(&recs, "work");
    assert_eq!(end["status"], "success");
    assert_eq!(end["span_id"], inside["span_id"]);
    assert_eq!(end["k"], 7);
}

#[test]
fn nested_spans_carry_the_right_span_ids_before_inside_and_after() {
    if common::is_child("nested_spans_carry_the_right_span_ids_before_inside_and_after") {
        new_context!(user = "u1");
        info!("before");
        {
            let _outer = span!("outer", o = 1);
            info!("in outer");
            {
                let _inner = span!("inner", i = 2);
                info!("in inner");
            }
            info!("in outer again");
        }
        info!("after");
        return;
    }
    let (recs, _) = run_child("nested_spans_carry_the_right_span_ids_before_inside_and_after");
    let trace = &one(&recs, "before")["trace_id"];
    assert!(recs.iter().all(|r| &r["trace_id"] == trace), "one trace: {recs:#?}");
    let outer_id = &one(&recs, "in outer")["span_id"];
    let inner_id = &one(&recs, "in inner")["span_id"];
    assert!(is_span_id(outer_id) && is_span_id(inner_id));
    assert_ne!(outer_id, inner_id);

    for ev in ["before", "after"] {
        let r = one(&recs, ev);
        for k in ["span_id", "parent_span_id", "o", "i"] {
            assert!(r.get(k).is_none(), "{ev} has {k}: {r}");
        }
    }
    for ev in ["in outer", "in outer again"] {
        let r = one(&recs, ev);
        assert_eq!(&r["span_id"], outer_id, "{ev}");
        assert!(r.get("parent_span_id").is_none(), "{ev}: {r}");
        assert_eq!(r["o"], 1);
        assert!(r.get("i").is_none(), "{ev}: {r}");
    }
    let inner = one(&recs, "in inner");
    assert_eq!(&inner["parent_span_id"], outer_id);
    assert_eq!(inner["o"], 1);
    assert_eq!(inner["i"], 2);

    let outer_end = end_of(&recs, "outer");
    assert_eq!(&outer_end["span_id"], outer_id);
    assert!(outer_end.get("parent_span_id").is_none());
    let inner_end = end_of(&recs, "inner");
    assert_eq!(&inner_end["span_id"], inner_id);
    assert_eq!(&inner_end["parent_span_id"], outer_id);
    assert_eq!(inner_end["i"], 2);
    assert_eq!(common::events(&recs, "END").len(), 2, "exactly one END per span");
}

#[test]
fn end_record_has_duration_status_keys_and_its_own_span_id() {
    if common::is_child("end_record_has_duration_status_keys_and_its_own_span_id") {
        let trace = new_context!(user = "u1");
        let span = span!("timed", job = "reindex", shard = 3);
        let id = span.id().expect("open span has an id");
        assert_eq!(span.trace_id(), Some(trace));
        std::thread::sleep(Duration::from_millis(20));
        drop(span);
        info!(id = %id, "span id was");
        return;
    }
    let (recs, _) = run_child("end_record_has_duration_status_keys_and_its_own_span_id");
    let end = end_of(&recs, "timed");
    assert_eq!(end["level"], "info");
    assert_eq!(end["status"], "success");
    assert_eq!(end["job"], "reindex");
    assert_eq!(end["shard"], 3);
    assert_eq!(end["user"], "u1");
    assert_eq!(end["span_id"], one(&recs, "span id was")["id"]);
    assert_eq!(end["trace_id"], one(&recs, "span id was")["trace_id"]);
    assert!(end.get("exc_info").is_none(), "{end}");
    let dur = end["dur_ms"].as_f64().unwrap_or_else(|| panic!("dur_ms is not a number: {end}"));
    // 19, not 20: the TSC rate is calibrated to ~0.1 % in the first 100 ms of a process.
    assert!(dur >= 19.0, "slept 20 ms inside the span, dur_ms = {dur}");
    let micros = dur * 1000.0;
    assert!((micros - micros.round()).abs() < 1e-6, "dur_ms has microsecond precision: {dur}");
    // After the END, no record carries the span.
    assert!(one(&recs, "span id was").get("span_id").is_none());
}

#[test]
fn guards_dropped_out_of_order_give_correct_ends_and_no_stale_span() {
    if common::is_child("guards_dropped_out_of_order_give_correct_ends_and_no_stale_span") {
        new_context!(user = "u1");
        let outer = span!("outer", o = 1);
        info!("in outer");
        let inner = span!("inner", i = 2);
        info!("in inner");
        drop(outer);
        info!("outer dropped");
        drop(inner);
        info!("both dropped");
        let _next = span!("next");
        info!("in next");
        return;
    }
    let (recs, _) = run_child("guards_dropped_out_of_order_give_correct_ends_and_no_stale_span");
    let outer_id = &one(&recs, "in outer")["span_id"];
    let inner_id = &one(&recs, "in inner")["span_id"];
    assert_eq!(&one(&recs, "in inner")["parent_span_id"], outer_id);

    let outer_end = end_of(&recs, "outer");
    assert_eq!(&outer_end["span_id"], outer_id, "outer's END names outer: {outer_end}");
    assert_eq!(outer_end["o"], 1);
    assert!(outer_end.get("i").is_none(), "outer's END has the inner span's key: {outer_end}");
    assert!(outer_end.get("parent_span_id").is_none(), "{outer_end}");

    let between = one(&recs, "outer dropped");
    assert_eq!(&between["span_id"], inner_id, "inner is still open: {between}");
    assert_eq!(between["i"], 2);
    assert!(between.get("o").is_none(), "closed outer's key is stale: {between}");

    let inner_end = end_of(&recs, "inner");
    assert_eq!(&inner_end["span_id"], inner_id, "{inner_end}");
    assert_eq!(inner_end["i"], 2);
    assert!(inner_end.get("o").is_none(), "{inner_end}");
    // A span's parent is fixed when it opens: its END says the same as its records did.
    assert_eq!(&inner_end["parent_span_id"], outer_id, "inner's END lost its parent: {inner_end}");

    let both = one(&recs, "both dropped");
    for k in ["span_id", "parent_span_id", "o", "i"] {
        assert!(both.get(k).is_none(), "stale {k}: {both}");
    }
    assert_eq!(both["user"], "u1");
    let next = one(&recs, "in next");
    assert!(next.get("parent_span_id").is_none(), "a new top-level span hangs off a closed one: {next}");
    assert_eq!(common::events(&recs, "END").len(), 3, "exactly one END per span: {recs:#?}");
}

#[derive(Debug)]
struct RootCause;
impl fmt::Display for RootCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("disk full")
    }
}
impl std::error::Error for RootCause {}

#[derive(Debug)]
struct WriteError(RootCause);
impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot write shard 3")
    }
}
impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug)]
struct ReindexError(WriteError);
impl fmt::Display for ReindexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reindex failed")
    }
}
impl std::error::Error for ReindexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn fail_with_an_error_logs_its_message_type_and_source_chain() {
    if common::is_child("fail_with_an_error_logs_its_message_type_and_source_chain") {
        let span = span!("reindex", shard = 3);
        span.fail(&ReindexError(WriteError(RootCause)));
        drop(span);
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(ReindexError(WriteError(RootCause)));
        let span = span!("boxed");
        span.fail(&*boxed);
        return;
    }
    let (recs, _) = run_child("fail_with_an_error_logs_its_message_type_and_source_chain");
    let end = end_of(&recs, "reindex");
    assert_eq!(end["level"], "error");
    assert_eq!(end["status"], "error");
    assert_eq!(end["shard"], 3);
    let exc = &end["exc_info"];
    assert!(exc.is_object(), "exc_info is nested JSON: {end}");
    assert_eq!(exc["message"], "reindex failed");
    assert_eq!(exc["chain"], serde_json::json!(["cannot write shard 3", "disk full"]));
    assert!(exc["type"].as_str().is_some_and(|t| t.contains("ReindexError")), "{exc}");
    let boxed = end_of(&recs, "boxed");
    assert_eq!(boxed["status"], "error");
    assert_eq!(boxed["exc_info"]["message"], "reindex failed");
    assert_eq!(boxed["exc_info"]["chain"], serde_json::json!(["cannot write shard 3", "disk full"]));
}

#[test]
fn fail_with_a_message_marks_the_span_failed() {
    if common::is_child("fail_with_a_message_marks_the_span_failed") {
        let span = span!("checkout", order = 42);
        span.fail_with("card declined");
        drop(span);
        let _ok = span!("fine");
        return;
    }
    let (recs, _) = run_child("fail_with_a_message_marks_the_span_failed");
    let failed = end_of(&recs, "checkout");
    assert_eq!(failed["level"], "error");
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["order"], 42);
    assert_eq!(failed["exc_info"]["message"], "card declined");
    // A later span is not tainted by the earlier failure.
    let fine = end_of(&recs, "fine");
    assert_eq!(fine["status"], "success");
    assert!(fine.get("exc_info").is_none(), "{fine}");
}

#[test]
fn a_panic_inside_a_span_ends_it_with_the_panic() {
    if common::is_child("a_panic_inside_a_span_ends_it_with_the_panic") {
        new_context!(user = "u1");
        let r = std::panic::catch_unwind(|| {
            let _span = span!("risky", step = 1);
            let _inner = span!("risky_inner");
            info!("about to panic");
            panic!("kaboom {}", 7);
        });
        assert!(r.is_err());
        info!("after the panic");
        let _ok = span!("later");
        return;
    }
    let (recs, stderr) = run_child("a_panic_inside_a_span_ends_it_with_the_panic");
    let about = one(&recs, "about to panic");
    let (span_id, outer_id) = (&about["span_id"], &about["parent_span_id"]);
    let inner = end_of(&recs, "risky_inner");
    assert_eq!(&inner["span_id"], span_id);
    assert_eq!(inner["status"], "error");
    assert_eq!(inner["exc_info"]["message"], "kaboom 7");
    // The enclosing span unwinds too, and reports the same panic.
    let end = end_of(&recs, "risky");
    assert_eq!(&end["span_id"], outer_id);
    assert_eq!(end["level"], "error");
    assert_eq!(end["status"], "error");
    assert_eq!(end["step"], 1);
    let exc = &end["exc_info"];
    assert_eq!(exc["type"], "panic", "{end}");
    assert_eq!(exc["message"], "kaboom 7");
    assert!(exc["location"].as_str().is_some_and(|l| l.contains("spans.rs")), "{exc}");
    assert!(exc["backtrace"].as_str().is_some_and(|b| !b.trim().is_empty()), "{exc}");

    // The panic itself is an error record in the span's context.
    let panic = one(&recs, "panic");
    assert_eq!(panic["level"], "error");
    assert_eq!(&panic["span_id"], span_id);
    assert_eq!(panic["user"], "u1");
    assert_eq!(panic["exc_info"]["message"], "kaboom 7");

    let after = one(&recs, "after the panic");
    assert!(after.get("span_id").is_none() && after.get("step").is_none(), "stale span: {after}");
    let later = end_of(&recs, "later");
    assert_eq!(later["status"], "success", "a later span inherits the old panic: {later}");
    // The default hook still reported the panic.
    assert!(stderr.contains("kaboom 7"), "{stderr}");
}

#[test]
fn an_uncaught_panic_in_a_thread_is_logged_in_its_context_and_on_disk() {
    if common::is_child("an_uncaught_panic_in_a_thread_is_logged_in_its_context_and_on_disk") {
        new_context!(job = "j1");
        let handle = logkit::thread::spawn(|| {
            let _span = span!("in_thread");
            info!("thread started");
            panic!("thread blew up");
        });
        assert!(handle.join().is_err());
        // Exit at once, without atexit handlers or a flush: the panic hook made it durable.
        // SAFETY: `_exit` ends the process; nothing runs after it.
        unsafe { libc::_exit(0) };
    }
    let (recs, _) = run_child("an_uncaught_panic_in_a_thread_is_logged_in_its_context_and_on_disk");
    let started = one(&recs, "thread started");
    let panic = one(&recs, "panic");
    assert_eq!(panic["level"], "error");
    assert_eq!(panic["job"], "j1", "the thread's context: {panic}");
    assert_eq!(panic["trace_id"], started["trace_id"]);
    assert_eq!(panic["span_id"], started["span_id"]);
    assert_eq!(panic["exc_info"]["message"], "thread blew up");
    assert!(panic["exc_info"]["location"].as_str().is_some_and(|l| l.contains("spans.rs")), "{panic}");
}

#[test]
fn an_application_panic_hook_set_before_logkit_still_runs() {
    if common::is_child("an_application_panic_hook_set_before_logkit_still_runs") {
        std::panic::set_hook(Box::new(|info| eprintln!("APP-HOOK-MARKER: {info}")));
        info!("first record starts logkit");
        let r = std::panic::catch_unwind(|| panic!("hooked"));
        assert!(r.is_err());
        return;
    }
    let (recs, stderr) = run_child("an_application_panic_hook_set_before_logkit_still_runs");
    assert!(stderr.contains("APP-HOOK-MARKER"), "the app's hook did not run: {stderr}");
    assert!(stderr.contains("hooked"), "{stderr}");
    assert_eq!(one(&recs, "panic")["exc_info"]["message"], "hooked");
}

#[test]
fn a_span_ended_by_a_panic_never_reports_an_earlier_panic() {
    if common::is_child("a_span_ended_by_a_panic_never_reports_an_earlier_panic") {
        info!("start");
        assert!(std::panic::catch_unwind(|| panic!("first panic")).is_err());
        // The application replaces the hook after logkit started: logkit no longer sees
        // the details of later panics, but must not pass off the first one as theirs.
        std::panic::set_hook(Box::new(|_| eprintln!("APP-HOOK")));
        let r = std::panic::catch_unwind(|| {
            let _span = span!("later");
            panic!("second panic");
        });
        assert!(r.is_err());
        return;
    }
    let (recs, stderr) = run_child("a_span_ended_by_a_panic_never_reports_an_earlier_panic");
    assert!(stderr.contains("APP-HOOK"), "{stderr}");
    let end = end_of(&recs, "later");
    assert_eq!(end["status"], "error");
    assert_eq!(end["exc_info"]["type"], "panic");
    assert_ne!(end["exc_info"]["message"], "first panic", "a stale panic was reported: {end}");
}

#[test]
fn a_key_bound_again_by_an_inner_span_appears_once_with_the_inner_value() {
    const NAME: &str = "a_key_bound_again_by_an_inner_span_appears_once_with_the_inner_value";
    if common::is_child(NAME) {
        logkit::new_context!(stage = "request", user = "u1");
        let _outer = logkit::span!("outer", stage = "outer");
        {
            let _inner = logkit::span!("inner", stage = "inner");
            logkit::info!("inside inner");
        }
        logkit::info!("back in outer");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    let text = common::log_text(&dir.path().join("run.log"));
    for line in text.lines() {
        let keys = common::key_order(line);
        assert_eq!(keys.iter().filter(|k| *k == "stage").count(), 1, "a key twice in: {line}");
    }
    let recs = common::parse_jsonl(&text);
    assert_eq!(common::events(&recs, "inside inner")[0]["stage"], "inner");
    assert_eq!(common::events(&recs, "back in outer")[0]["stage"], "outer");
    assert_eq!(common::events(&recs, "back in outer")[0]["user"], "u1");
}

#[test]
fn two_thousand_nested_spans_each_binding_a_key_end_with_their_own_value_of_it_once() {
    const NAME: &str = "two_thousand_nested_spans_each_binding_a_key_end_with_their_own_value_of_it_once";
    const DEPTH: u64 = 2_000;
    if common::is_child(NAME) {
        new_context!(user = "u1");
        let mut spans = Vec::new();
        for depth in 0..DEPTH {
            spans.push(span!("level", depth));
        }
        info!("deepest");
        while let Some(s) = spans.pop() {
            drop(s);
        }
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_SPAN_START", "0"));
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.path().join("run.log")).expect("run.log");
    // Each key once per line, also where 2 000 spans bound it (JSON parsers keep only one
    // of a repeated key, so the raw lines are checked).
    for line in text.lines().filter(|l| l.contains(r#""span":"level""#) || l.contains(r#""event":"deepest""#)) {
        assert!(line.matches("\"depth\":").count() <= 1 && line.matches("\"user\":").count() == 1, "{line:.300}");
    }
    let recs = common::parse_jsonl(&text);
    let deepest = one(&recs, "deepest");
    assert_eq!((&deepest["depth"], &deepest["user"]), (&J::from(DEPTH - 1), &J::from("u1")));
    let ends = ends(&recs, "level");
    assert_eq!(ends.len(), DEPTH as usize);
    // Innermost first; each END carries its own depth and its parent is the next one.
    for (i, end) in ends.iter().enumerate() {
        assert_eq!(end["depth"], DEPTH - 1 - i as u64, "{end}");
        if let Some(parent) = ends.get(i + 1) {
            assert_eq!(end["parent_span_id"], parent["span_id"], "{end}");
        }
    }
}
