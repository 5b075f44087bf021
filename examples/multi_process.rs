//! A parent process hands its trace to child processes through `TRACEPARENT`: each
//! child's first `new_context!` continues the parent's trace, so one `trace_id`
//! follows the work across processes (all of them append to the same `run.log`).
//!
//! `cargo run --example multi_process`, then `jq -c 'select(.trace_id=="<id>")' run.log`
//! with the id it prints.

use logkit::{info, new_context, span};

fn child(part: &str) {
    // Continues the trace in `TRACEPARENT`; its spans are children of the parent's.
    new_context!(role = "child", part = part);
    let _s = span!("child.work");
    info!(pid = std::process::id(), "child working");
}

fn main() {
    if let Some(part) = std::env::args().nth(1) {
        child(&part);
        return;
    }
    let trace = new_context!(role = "parent");
    let _s = span!("parent.dispatch");
    info!(children = 3, "dispatching");
    let exe = std::env::current_exe().expect("own executable");
    for part in ["a", "b", "c"] {
        let tp = logkit::traceparent().expect("inside a trace");
        match std::process::Command::new(&exe).arg(part).env("TRACEPARENT", &tp).status() {
            Ok(s) if s.success() => info!(part, "child done"),
            Ok(s) => logkit::error!(part, exit_status = %s, "child failed"),
            Err(e) => logkit::error!(part, error = %e, "could not start child"),
        }
    }
    println!("trace {trace}: jq -c 'select(.trace_id==\"{trace}\")' run.log");
}
