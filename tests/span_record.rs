//! Spans that carry results: `Span::record` (any value, on the `END` record, a later
//! value replacing an earlier), `set_status_error`, `logkit::current_span()` from
//! inside `#[capture]` fns and nested spans, and computed span names.
mod common;

use logkit::{capture, current_span, info, span};
use serde_json::Value as J;

fn records(name: &str) -> Vec<J> {
    common::records_of(name, &[])
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let s = span!("work");
        s.record("answer", 42);
        return;
    }
    let recs = records("smoke");
    assert_eq!(common::end_of(&recs, "work")["answer"], 42);
}

#[test]
fn recorded_values_of_any_type_follow_the_status_on_the_end_record() {
    let name = "recorded_values_of_any_type_follow_the_status_on_the_end_record";
    if common::is_child(name) {
        let s = span!("http.request", route = "/orders");
        info!("inside");
        s.record("http.response.status_code", 500u16);
        s.record("ok", false);
        s.record("ratio", 0.25);
        let user = String::from("ann");
        s.record("user", &user);
        drop(user);
        s.record("addr", logkit::display(&std::net::Ipv4Addr::LOCALHOST));
        return;
    }
    let recs = records(name);
    let end = common::end_of(&recs, "http.request");
    assert_eq!(end["http.response.status_code"], 500, "{end}");
    assert_eq!(
        (&end["ok"], &end["ratio"], &end["user"], &end["addr"]),
        (&false.into(), &0.25.into(), &"ann".into(), &"127.0.0.1".into())
    );
    assert_eq!(end["status"], "success");
    assert_eq!(end["route"], "/orders");
    // Only the END record carries them: the record logged inside does not.
    assert!(common::the(&recs, "inside").get("http.response.status_code").is_none());
}

#[test]
fn a_later_value_for_the_same_key_replaces_the_earlier() {
    let name = "a_later_value_for_the_same_key_replaces_the_earlier";
    if common::is_child(name) {
        let s = span!("retry");
        s.record("attempt", 1);
        s.record("outcome", "pending");
        s.record("attempt", 2);
        s.record("attempt", "third");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(name, dir.path()));
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    let line = text.lines().find(|l| l.contains("\"END\"")).expect("an END line");
    assert_eq!(line.matches("\"attempt\"").count(), 1, "{line}");
    let end: J = serde_json::from_str(line).unwrap();
    assert_eq!((&end["attempt"], &end["outcome"]), (&"third".into(), &"pending".into()));
    let keys = common::key_order(line);
    let at = |k: &str| keys.iter().position(|x| x == k).unwrap_or_else(|| panic!("{k} in {keys:?}"));
    assert!(at("status") < at("attempt") && at("attempt") < at("outcome"), "{keys:?}");
}

#[test]
fn set_status_error_ends_the_span_with_status_error_and_the_message() {
    let name = "set_status_error_ends_the_span_with_status_error_and_the_message";
    if common::is_child(name) {
        let s = span!("handler");
        s.record("http.response.status_code", 503);
        s.set_status_error("service unavailable");
        return;
    }
    let recs = records(name);
    let end = common::end_of(&recs, "handler");
    assert_eq!((&end["status"], &end["level"]), (&"error".into(), &"error".into()), "{end}");
    assert_eq!(end["exc_info"]["message"], "service unavailable");
    assert_eq!(end["http.response.status_code"], 503);
}

#[capture]
fn handle(status: u16) -> u16 {
    info!("handling");
    let span = current_span();
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.set_status_error(format_args!("status {status}"));
    }
    status
}

#[test]
fn current_span_records_on_the_span_of_the_capture_fn_it_runs_in() {
    let name = "current_span_records_on_the_span_of_the_capture_fn_it_runs_in";
    if common::is_child(name) {
        handle(200);
        handle(502);
        return;
    }
    let recs = records(name);
    let ends: Vec<&J> =
        common::events(&recs, "END").into_iter().filter(|r| r["span"] == "span_record::handle").collect();
    assert_eq!(ends.len(), 2, "{recs:#?}");
    assert_eq!((&ends[0]["http.response.status_code"], &ends[0]["status"]), (&200.into(), &"success".into()));
    assert_eq!((&ends[1]["http.response.status_code"], &ends[1]["status"]), (&502.into(), &"error".into()));
    assert_eq!(ends[1]["exc_info"]["message"], "status 502");
    let inside = common::events(&recs, "handling");
    assert_eq!(inside[1]["span_id"], ends[1]["span_id"]);
}

#[capture]
async fn fetch(n: u32) -> u32 {
    tokio::task::yield_now().await;
    current_span().record("items", n);
    tokio::task::yield_now().await;
    current_span().fail(&std::io::Error::other("upstream closed"));
    n
}

#[test]
fn current_span_reaches_the_span_of_a_capture_async_fn_across_awaits() {
    let name = "current_span_reaches_the_span_of_a_capture_async_fn_across_awaits";
    if common::is_child(name) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        assert_eq!(rt.block_on(fetch(7)), 7);
        return;
    }
    let recs = records(name);
    let end = common::end_of(&recs, "span_record::fetch");
    assert_eq!(end["items"], 7, "{end}");
    assert_eq!(end["status"], "error");
    assert_eq!(end["exc_info"]["message"], "upstream closed");
}

#[test]
fn current_span_is_the_innermost_span_when_taken() {
    let name = "current_span_is_the_innermost_span_when_taken";
    if common::is_child(name) {
        let _outer = span!("outer");
        let outer = current_span();
        {
            let _inner = span!("inner");
            current_span().record("who", "inner");
            outer.record("who", "outer");
        }
        // The inner span is closed: a handle on it is ignored, the outer one still works.
        outer.record("late", true);
        return;
    }
    let recs = records(name);
    let (outer, inner) = (common::end_of(&recs, "outer"), common::end_of(&recs, "inner"));
    assert_eq!((&outer["who"], &outer["late"]), (&"outer".into(), &true.into()));
    assert_eq!(inner["who"], "inner");
    assert!(inner.get("late").is_none());
}

#[test]
fn current_span_outside_any_span_is_a_no_op_handle() {
    let name = "current_span_outside_any_span_is_a_no_op_handle";
    if common::is_child(name) {
        let h = current_span();
        assert!(h.is_none() && h.id().is_none());
        h.record("x", 1);
        h.set_status_error("nothing to fail");
        info!("after");
        return;
    }
    let recs = records(name);
    assert!(common::events(&recs, "END").is_empty(), "{recs:#?}");
    assert!(common::the(&recs, "after").get("x").is_none());
}

#[test]
fn span_names_may_be_computed_strings_or_borrowed_strs() {
    let name = "span_names_may_be_computed_strings_or_borrowed_strs";
    if common::is_child(name) {
        let route = String::from("/orders/{id}");
        {
            let _s = span!(name = format!("GET {route}"), method = "GET");
        }
        {
            let borrowed: &str = &route[1..];
            let s = span!(borrowed);
            assert_eq!(s.name(), Some("orders/{id}"));
        }
        {
            let _s = span!(name = &route);
        }
        return;
    }
    let recs = records(name);
    assert_eq!(common::end_of(&recs, "GET /orders/{id}")["method"], "GET");
    common::end_of(&recs, "orders/{id}");
    common::end_of(&recs, "/orders/{id}");
}

#[test]
fn a_recorded_key_that_logkit_writes_itself_is_written_as_field_dot_key() {
    let name = "a_recorded_key_that_logkit_writes_itself_is_written_as_field_dot_key";
    if common::is_child(name) {
        let s = span!("shadow");
        s.record("status", 404);
        s.record("level", "debug");
        return;
    }
    let recs = records(name);
    let end = common::end_of(&recs, "shadow");
    assert_eq!((&end["status"], &end["level"]), (&"success".into(), &"info".into()), "{end}");
    assert_eq!((&end["field.status"], &end["field.level"]), (&404.into(), &"debug".into()));
}
