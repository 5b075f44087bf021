//! `new_context!` inside an open span: the span is re-homed into the new trace as one
//! of its roots, so its `END` is in the trace of the records logged inside it, with the
//! new unit's keys — never in the previous unit's trace. Both orderings: `new_context!`
//! as the first line of a `#[capture]` fn (sync and async), and a `span!` guard taken
//! before `new_context!`.
mod common;

use logkit::{capture, info, new_context, span};
use serde_json::Value as J;

fn records(name: &str) -> Vec<J> {
    common::records_of(name, &[])
}

/// The END of `span` is in the same trace as `inside`, carries the new unit's keys
/// and not the previous unit's, and names the same span.
fn assert_end_in_the_new_unit(recs: &[J], span: &str, inside: &str, previous: &str) {
    let end = common::end_of(recs, span);
    let inside = common::the(recs, inside);
    let previous = common::the(recs, previous);
    assert_eq!(end["trace_id"], inside["trace_id"], "END in another trace than its records: {end}\n{inside}");
    assert_ne!(end["trace_id"], previous["trace_id"], "END in the previous unit's trace: {end}");
    assert_eq!(end["span_id"], inside["span_id"], "{end}\n{inside}");
    assert_eq!(end["req"], 2, "END lost the unit's keys: {end}");
    assert!(end.get("parent_span_id").is_none(), "a re-homed span is a root of the new trace: {end}");
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _s = span!("work");
        new_context!(req = 2);
        info!("inside");
        return;
    }
    let recs = records("smoke");
    assert_eq!(common::end_of(&recs, "work")["trace_id"], common::the(&recs, "inside")["trace_id"]);
}

#[capture]
fn handle() {
    new_context!(req = 2);
    info!("inside");
}

#[test]
fn new_context_first_in_a_capture_fn_puts_its_end_in_the_new_trace() {
    let name = "new_context_first_in_a_capture_fn_puts_its_end_in_the_new_trace";
    if common::is_child(name) {
        new_context!(req = 1);
        info!("previous");
        handle();
        return;
    }
    let recs = records(name);
    assert_end_in_the_new_unit(&recs, "context_in_span::handle", "inside", "previous");
}

#[capture]
async fn handle_async() -> Result<(), std::io::Error> {
    new_context!(req = 2);
    info!("inside");
    tokio::task::yield_now().await;
    Ok(())
}

#[test]
fn new_context_first_in_a_capture_async_fn_puts_its_end_in_the_new_trace() {
    let name = "new_context_first_in_a_capture_async_fn_puts_its_end_in_the_new_trace";
    if common::is_child(name) {
        new_context!(req = 1);
        info!("previous");
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(handle_async()).unwrap();
        return;
    }
    let recs = records(name);
    assert_end_in_the_new_unit(&recs, "context_in_span::handle_async", "inside", "previous");
}

#[test]
fn new_context_after_a_span_guard_puts_its_end_in_the_new_trace() {
    let name = "new_context_after_a_span_guard_puts_its_end_in_the_new_trace";
    if common::is_child(name) {
        new_context!(req = 1);
        info!("previous");
        let s = span!("handle");
        new_context!(req = 2);
        info!("inside");
        assert_eq!(s.trace_id(), logkit::current_trace_id(), "the guard reports its new trace");
        drop(s);
        info!("after");
        return;
    }
    let recs = records(name);
    assert_end_in_the_new_unit(&recs, "handle", "inside", "previous");
    let after = common::the(&recs, "after");
    assert!(after.get("span_id").is_none(), "the span closed: {after}");
    assert_eq!(after["trace_id"], common::the(&recs, "inside")["trace_id"]);
}

#[test]
fn nested_open_spans_move_together_and_keep_their_parent_link() {
    let name = "nested_open_spans_move_together_and_keep_their_parent_link";
    if common::is_child(name) {
        new_context!(req = 1);
        info!("previous");
        let outer = span!("outer", o = 1);
        let inner = span!("inner", i = 2);
        new_context!(req = 2);
        info!("inside");
        drop(inner);
        drop(outer);
        return;
    }
    let recs = records(name);
    let (outer, inner, inside) =
        (common::end_of(&recs, "outer"), common::end_of(&recs, "inner"), common::the(&recs, "inside"));
    for end in [outer, inner] {
        assert_eq!(end["trace_id"], inside["trace_id"], "{end}");
        assert_eq!(end["req"], 2, "{end}");
    }
    assert_eq!(inner["parent_span_id"], outer["span_id"], "{inner}");
    assert_eq!((&inner["o"], &inner["i"]), (&1.into(), &2.into()), "the spans' own keys stay: {inner}");
    assert!(outer.get("parent_span_id").is_none(), "{outer}");
}

#[test]
fn a_span_rehomed_into_a_continued_trace_is_a_child_of_the_callers_span() {
    let name = "a_span_rehomed_into_a_continued_trace_is_a_child_of_the_callers_span";
    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    if common::is_child(name) {
        let _s = span!("handle");
        new_context!(trace_id = CALLER, req = 2);
        return;
    }
    let recs = records(name);
    let end = common::end_of(&recs, "handle");
    assert_eq!(
        (&end["trace_id"], &end["parent_span_id"]),
        (&"4bf92f3577b34da6a3ce929d0e0e4736".into(), &"00f067aa0ba902b7".into()),
        "{end}"
    );
}
