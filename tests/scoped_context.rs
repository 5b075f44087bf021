//! `scoped_context!`: a work unit that ends with its guard and restores the enclosing
//! context (trace, keys, open spans), beside the one-line `new_context!` statement.
mod common;

use logkit::{info, new_context, scoped_context, span};
use serde_json::Value as J;

fn records_of(name: &str) -> Vec<J> {
    common::records_of(name, &[])
}

fn process(job: u32) {
    let _unit = scoped_context!(job);
    let _span = span!("process");
    info!("working");
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _unit = scoped_context!(k = 1);
        info!("inside");
        return;
    }
    let recs = records_of("smoke");
    assert_eq!(common::the(&recs, "inside")["k"], 1);
}

#[test]
fn records_after_a_scoped_unit_are_back_in_the_enclosing_context() {
    const NAME: &str = "records_after_a_scoped_unit_are_back_in_the_enclosing_context";
    if common::is_child(NAME) {
        let main_trace = new_context!(run = "nightly");
        info!(main_trace = %main_trace, "before");
        process(3);
        info!("after");
        return;
    }
    let recs = records_of(NAME);
    let before = common::the(&recs, "before");
    let after = common::the(&recs, "after");
    let working = common::the(&recs, "working");
    assert_eq!(after["trace_id"], before["trace_id"], "{after}");
    assert_eq!(after["run"], "nightly");
    assert!(after.get("job").is_none(), "job 3's key leaked out of its unit: {after}");
    assert_ne!(working["trace_id"], before["trace_id"], "the unit has a trace of its own");
    assert_eq!(working["job"], 3);
    assert!(working.get("run").is_none(), "the unit starts clean, as new_context! does: {working}");
    assert_eq!(common::end_of(&recs, "process")["trace_id"], working["trace_id"]);
}

#[test]
fn the_statement_form_still_binds_until_the_next_new_context() {
    const NAME: &str = "the_statement_form_still_binds_until_the_next_new_context";
    if common::is_child(NAME) {
        {
            new_context!(job = 4);
        }
        info!("after the block");
        return;
    }
    let recs = records_of(NAME);
    assert_eq!(common::the(&recs, "after the block")["job"], 4);
}

#[test]
fn a_scoped_unit_restores_the_spans_open_around_it() {
    const NAME: &str = "a_scoped_unit_restores_the_spans_open_around_it";
    if common::is_child(NAME) {
        new_context!(run = "r");
        let outer = span!("main_loop");
        process(1);
        info!("between jobs");
        drop(outer);
        return;
    }
    let recs = records_of(NAME);
    let outer_end = common::end_of(&recs, "main_loop");
    let between = common::the(&recs, "between jobs");
    assert_eq!(between["span_id"], outer_end["span_id"]);
    assert_eq!(between["trace_id"], outer_end["trace_id"]);
    assert_eq!(outer_end["run"], "r");
    // The job's span is not a child of main_loop: it is the root of the job's trace.
    let process_end = common::end_of(&recs, "process");
    assert!(process_end.get("parent_span_id").is_none(), "{process_end}");
}

#[test]
fn nested_scoped_units_restore_in_order() {
    const NAME: &str = "nested_scoped_units_restore_in_order";
    if common::is_child(NAME) {
        let _a = scoped_context!(unit = "a");
        {
            let _b = scoped_context!(unit = "b");
            {
                let _c = scoped_context!(unit = "c");
                info!("in c");
            }
            info!("in b");
        }
        info!("in a");
        drop(_a);
        info!("outside");
        return;
    }
    let recs = records_of(NAME);
    assert_eq!(common::the(&recs, "in c")["unit"], "c");
    assert_eq!(common::the(&recs, "in b")["unit"], "b");
    assert_eq!(common::the(&recs, "in a")["unit"], "a");
    let outside = common::the(&recs, "outside");
    assert!(outside.get("unit").is_none() && outside.get("trace_id").is_none(), "{outside}");
}

#[test]
fn the_guard_derefs_to_the_units_trace_id_and_continues_a_given_trace() {
    const NAME: &str = "the_guard_derefs_to_the_units_trace_id_and_continues_a_given_trace";
    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    if common::is_child(NAME) {
        let unit = scoped_context!(trace_id = TP, user = "u1");
        let id: logkit::TraceId = *unit;
        assert_eq!(unit.trace_id(), id);
        assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let _s = span!("handle");
        info!(trace = %*unit, "inside");
        return;
    }
    let recs = records_of(NAME);
    let inside = common::the(&recs, "inside");
    assert_eq!(inside["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(inside["trace"], inside["trace_id"]);
    assert_eq!(inside["parent_span_id"], "00f067aa0ba902b7", "a span in the unit is a child of the caller's");
}

#[test]
fn threads_spawned_inside_a_scoped_unit_keep_its_context() {
    const NAME: &str = "threads_spawned_inside_a_scoped_unit_keep_its_context";
    if common::is_child(NAME) {
        let h = {
            let _unit = scoped_context!(job = 9);
            logkit::thread::spawn(|| {
                std::thread::sleep(std::time::Duration::from_millis(5));
                info!("in thread");
            })
        };
        info!("after");
        h.join().unwrap();
        return;
    }
    let recs = records_of(NAME);
    assert_eq!(common::the(&recs, "in thread")["job"], 9);
    assert!(common::the(&recs, "after").get("job").is_none());
}

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

// The only test that starts logkit in this process (the others run in children).
#[test]
fn scoped_units_allocate_nothing_in_steady_state() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = logkit::Config::default()
        .file(dir.path().join("run.log"))
        .console(logkit::Console::Off)
        .buffer(1024)
        .rotate_bytes(0)
        .init()
        .unwrap();
    new_context!(run = "main");
    let unit = |i: u64| {
        let _outer = scoped_context!(job = i, user = "u1");
        info!(i, "in job");
        let _inner = scoped_context!(step = i);
        info!(i, "in step");
    };
    for i in 0..50_000 {
        unit(i);
    }
    logkit::flush();
    let allocs = common::alloc::counted(|| (0..10_000).for_each(unit));
    logkit::flush();
    assert_eq!(allocs, 0, "10 000 nested scoped units allocated {allocs} times");
    info!("back in main");
    logkit::flush();
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(common::the(&recs, "back in main")["run"], "main");
}
