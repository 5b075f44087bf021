//! The context across boundaries: threads (`logkit::thread::spawn` versus
//! `std::thread::spawn`), futures on a multi-thread tokio runtime
//! (`FutureExt::in_current_context`, `logkit::spawn`; feature `tokio`), and a child
//! process continuing the parent's trace through `TRACEPARENT`.
mod common;

use std::path::Path;

use logkit::{info, new_context, span};
use serde_json::Value as J;

/// The one record with `"event" == event`.
fn one<'a>(recs: &'a [J], event: &str) -> &'a J {
    let found = common::events(recs, event);
    assert_eq!(found.len(), 1, "expected one {event:?} record in {recs:#?}");
    found[0]
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        new_context!(k = 1);
        logkit::thread::spawn(|| info!("in thread")).join().unwrap();
        return;
    }
    let recs = common::records_of("smoke", &[]);
    let r = one(&recs, "in thread");
    assert!(r["trace_id"].is_string(), "{r}");
    assert_eq!(r["k"], 1);
}

#[test]
fn logkit_thread_spawn_carries_trace_span_and_keys() {
    if common::is_child("logkit_thread_spawn_carries_trace_span_and_keys") {
        new_context!(user = "u1");
        let _outer = span!("outer", o = 1);
        info!("parent before");
        logkit::thread::spawn(|| {
            info!("child thread");
            let _s = span!("in_thread", t = 2);
            info!("child thread span");
        })
        .join()
        .unwrap();
        info!("parent after");
        return;
    }
    let recs = common::records_of("logkit_thread_spawn_carries_trace_span_and_keys", &[]);
    let parent = one(&recs, "parent before");
    let child = one(&recs, "child thread");
    assert_eq!(child["trace_id"], parent["trace_id"]);
    assert_eq!(child["span_id"], parent["span_id"], "the open span: {child}");
    assert_eq!(child["user"], "u1");
    assert_eq!(child["o"], 1);
    let nested = one(&recs, "child thread span");
    assert_eq!(nested["parent_span_id"], parent["span_id"], "a span in the thread is a child of the open span");
    assert_eq!(nested["t"], 2);
    let end = recs.iter().find(|r| r["event"] == "END" && r["span"] == "in_thread").expect("the thread's END");
    assert_eq!(end["span_id"], nested["span_id"]);
    assert_eq!(end["trace_id"], parent["trace_id"]);
    // The thread's span did not leak back into the parent thread.
    let after = one(&recs, "parent after");
    assert_eq!(after["span_id"], parent["span_id"]);
    assert!(after.get("t").is_none(), "{after}");
}

#[test]
fn std_thread_spawn_does_not_inherit_the_context() {
    if common::is_child("std_thread_spawn_does_not_inherit_the_context") {
        new_context!(user = "u1");
        let _outer = span!("outer");
        info!("parent");
        std::thread::spawn(|| info!("plain thread")).join().unwrap();
        return;
    }
    let recs = common::records_of("std_thread_spawn_does_not_inherit_the_context", &[]);
    assert!(one(&recs, "parent")["trace_id"].is_string());
    let plain = one(&recs, "plain thread");
    for k in ["trace_id", "span_id", "user"] {
        assert!(plain.get(k).is_none(), "{k} leaked into a plain thread: {plain}");
    }
}

/// The parent (role unset) opens a context and a span, then runs this same test as
/// another process with `TRACEPARENT` (role `downstream`), which continues the trace.
#[test]
fn a_child_process_continues_the_trace_through_traceparent() {
    const NAME: &str = "a_child_process_continues_the_trace_through_traceparent";
    if common::is_child(NAME) {
        if std::env::var("TEST_ROLE").as_deref() == Ok("downstream") {
            new_context!(x = 1);
            info!("downstream");
            let s = span!("downstream_span");
            info!("downstream in span");
            drop(s);
            // Only the first context continues TRACEPARENT.
            new_context!(x = 2);
            info!("second unit");
            return;
        }
        new_context!(svc = "upstream");
        let _s = span!("call_downstream");
        let tp = logkit::traceparent().expect("traceparent in a span");
        info!(tp = tp.as_str(), "calling");
        let here = std::env::current_dir().unwrap();
        let out = common::run(
            common::child(NAME, &here)
                .env("TEST_ROLE", "downstream")
                .env("TRACEPARENT", &tp)
                .env("LOG_FILE", here.join("downstream.log")),
        );
        common::assert_success(&out);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_FILE", dir.path().join("upstream.log")));
    common::assert_success(&out);
    let up = common::read_jsonl(&dir.path().join("upstream.log"));
    let down = common::read_jsonl(&dir.path().join("downstream.log"));
    assert!(!Path::new(&dir.path().join("run.log")).exists(), "each process writes its own LOG_FILE");

    let calling = one(&up, "calling");
    let trace = calling["trace_id"].as_str().unwrap();
    let span = calling["span_id"].as_str().unwrap();
    assert_eq!(calling["tp"], format!("00-{trace}-{span}-01"));
    assert!(common::events(&up, "downstream").is_empty(), "the processes share no file");

    let first = one(&down, "downstream");
    assert_eq!(first["trace_id"], trace, "the child continues the parent's trace: {first}");
    assert_eq!(first["x"], 1);
    let in_span = one(&down, "downstream in span");
    assert_eq!(in_span["trace_id"], trace);
    assert_eq!(in_span["parent_span_id"], span, "the child's span hangs off the parent's span");
    assert_ne!(in_span["span_id"], span);
    let second = one(&down, "second unit");
    assert_ne!(second["trace_id"], trace, "a later unit starts its own trace: {second}");
    assert!(common::events(&down, "logkit.bad_trace_id").is_empty());
}

#[test]
fn a_malformed_traceparent_env_starts_a_fresh_trace_and_is_reported() {
    if common::is_child("a_malformed_traceparent_env_starts_a_fresh_trace_and_is_reported") {
        let t = new_context!(x = 1);
        info!(returned = %t, "unit");
        return;
    }
    let recs = common::records_of(
        "a_malformed_traceparent_env_starts_a_fresh_trace_and_is_reported",
        &[("TRACEPARENT", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")],
    );
    let unit = one(&recs, "unit");
    assert_eq!(unit["trace_id"], unit["returned"]);
    assert_ne!(unit["trace_id"], "00000000000000000000000000000000");
    assert_eq!(one(&recs, "logkit.bad_trace_id")["level"], "warning");
}

#[cfg(feature = "tokio")]
mod with_tokio {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    use logkit::FutureExt;

    const TASKS: usize = 256;
    const STEPS: usize = 6;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap()
    }

    /// One task's work: its own context, then records between yields and sleeps.
    async fn unit(i: usize) {
        let trace = new_context!(task = i);
        for step in 0..STEPS {
            info!(step, tid = %trace, "tick");
            if step % 2 == 0 {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_micros(200 * (i % 5) as u64)).await;
            }
            {
                let _s = span!("step", step);
                info!(tid = %trace, "in step");
            }
        }
    }

    /// Every record of a task carries that task's own trace, and every task's records
    /// are all there.
    fn check_tasks(recs: &[J]) {
        let mut per_task: HashMap<u64, (String, usize)> = HashMap::new();
        for r in recs.iter().filter(|r| r["event"] == "tick" || r["event"] == "in step") {
            let task = r["task"].as_u64().unwrap_or_else(|| panic!("a task record without its task: {r}"));
            let trace = r["trace_id"].as_str().unwrap_or_else(|| panic!("no trace: {r}"));
            assert_eq!(r["tid"], trace, "a record carries another task's trace: {r}");
            let e = per_task.entry(task).or_insert_with(|| (trace.to_owned(), 0));
            assert_eq!(e.0, trace, "task {task} has records in two traces: {r}");
            e.1 += 1;
        }
        assert_eq!(per_task.len(), TASKS, "some tasks' records are missing");
        for (task, (_, n)) in &per_task {
            assert_eq!(*n, 2 * STEPS, "task {task} has {n} records");
        }
        let mut traces: Vec<&String> = per_task.values().map(|(t, _)| t).collect();
        traces.sort();
        traces.dedup();
        assert_eq!(traces.len(), TASKS, "tasks shared a trace");
        for r in recs.iter().filter(|r| r["event"] == "plain task") {
            for k in ["trace_id", "task", "span_id"] {
                assert!(r.get(k).is_none(), "a task's context leaked to a plain task on its worker: {r}");
            }
        }
        let plain = recs.iter().filter(|r| r["event"] == "plain task").count();
        assert_eq!(plain, TASKS / 8);
        assert_eq!(recs.iter().filter(|r| r["event"] == "END" && r["span"] == "step").count(), TASKS * STEPS);
    }

    #[test]
    fn in_current_context_keeps_each_tasks_context_on_a_multi_thread_runtime() {
        const NAME: &str = "with_tokio::in_current_context_keeps_each_tasks_context_on_a_multi_thread_runtime";
        if common::is_child(NAME) {
            let rt = runtime();
            rt.block_on(async {
                let mut handles = Vec::new();
                for i in 0..TASKS {
                    handles.push(tokio::spawn(async move { unit(i).await }.in_current_context()));
                    if i % 8 == 0 {
                        // Unwrapped tasks on the same workers see no task's context.
                        handles.push(tokio::spawn(async {
                            tokio::task::yield_now().await;
                            info!("plain task");
                        }));
                    }
                }
                for h in handles {
                    h.await.unwrap();
                }
            });
            return;
        }
        check_tasks(&common::records_of(NAME, &[]));
    }

    #[test]
    fn logkit_spawn_keeps_each_tasks_context_on_a_multi_thread_runtime() {
        const NAME: &str = "with_tokio::logkit_spawn_keeps_each_tasks_context_on_a_multi_thread_runtime";
        if common::is_child(NAME) {
            let rt = runtime();
            rt.block_on(async {
                // The spawner's own context must not bleed into the tasks' records.
                new_context!(task = 999_999);
                let mut handles = Vec::new();
                for i in 0..TASKS {
                    handles.push(logkit::spawn(unit(i)));
                    if i % 8 == 0 {
                        handles.push(tokio::spawn(async {
                            tokio::task::yield_now().await;
                            info!("plain task");
                        }));
                    }
                }
                for h in handles {
                    h.await.unwrap();
                }
            });
            return;
        }
        check_tasks(&common::records_of(NAME, &[]));
    }

    #[test]
    fn plain_tokio_spawn_tasks_never_carry_another_tasks_context() {
        const NAME: &str = "with_tokio::plain_tokio_spawn_tasks_never_carry_another_tasks_context";
        const PLAIN: u64 = 2_000;
        if common::is_child(NAME) {
            let rt = runtime();
            rt.block_on(async {
                let mut handles = Vec::new();
                for i in 0..PLAIN {
                    handles.push(tokio::spawn(async move {
                        if i % 4 == 0 {
                            // Binds nothing: sees no context, whatever ran on its worker.
                            tokio::task::yield_now().await;
                            info!(i, "unbound");
                            return;
                        }
                        let trace = new_context!(task = i);
                        info!(i, tid = %trace, "bound");
                        tokio::task::yield_now().await;
                        {
                            let _s = span!("step", step = i);
                            info!(i, tid = %trace, "in span");
                        }
                        tokio::time::sleep(Duration::from_micros(100 * (i % 3))).await;
                        info!(i, tid = %trace, "after await");
                    }));
                }
                for h in handles {
                    h.await.unwrap();
                }
            });
            return;
        }
        let recs = common::records_of(NAME, &[]);
        let mine: Vec<&J> = recs.iter().filter(|r| r.get("i").is_some()).collect();
        assert_eq!(mine.len() as u64, PLAIN / 4 + 3 * (PLAIN - PLAIN / 4), "records missing");
        for r in &mine {
            let i = &r["i"];
            // Whatever a record carries is its own task's.
            if let Some(task) = r.get("task") {
                assert_eq!(task, i, "a record carries another task's keys: {r}");
                assert_eq!(r["trace_id"], r["tid"], "a record carries another task's trace: {r}");
            }
            if let Some(step) = r.get("step") {
                assert_eq!(step, i, "a record carries another task's span: {r}");
            }
            match r["event"].as_str() {
                Some("unbound") => {
                    for k in ["trace_id", "span_id", "task", "step"] {
                        assert!(r.get(k).is_none(), "a task that bound nothing carries a context: {r}");
                    }
                }
                // Logged in the poll that bound it: the task's own context, whole.
                Some("bound") => assert_eq!((&r["task"], &r["trace_id"]), (i, &r["tid"]), "{r}"),
                _ => {}
            }
        }
        for end in common::ends(&recs) {
            assert!(end.get("task").is_none_or(|t| *t == end["step"]), "an END carries another task's keys: {end}");
        }
        // Said once, with the way to make the context follow the task.
        let warned = common::the(&recs, "logkit.context_in_plain_task");
        assert_eq!(warned["level"], "warning");
        let hint = warned["hint"].as_str().unwrap_or_default();
        assert!(hint.contains("logkit::spawn") && hint.contains("in_current_context"), "{warned}");
    }

    #[test]
    fn logkit_spawn_inherits_the_spawners_context() {
        const NAME: &str = "with_tokio::logkit_spawn_inherits_the_spawners_context";
        if common::is_child(NAME) {
            let rt = runtime();
            rt.block_on(async {
                new_context!(req = "r1");
                let _s = span!("handler");
                info!("spawner");
                logkit::spawn(async {
                    tokio::task::yield_now().await;
                    info!("spawned task");
                })
                .await
                .unwrap();
            });
            return;
        }
        let recs = common::records_of(NAME, &[]);
        let spawner = one(&recs, "spawner");
        let task = one(&recs, "spawned task");
        assert_eq!(task["trace_id"], spawner["trace_id"]);
        assert_eq!(task["span_id"], spawner["span_id"]);
        assert_eq!(task["req"], "r1");
    }

    #[test]
    fn logkit_spawn_blocking_runs_in_the_callers_context_and_leaves_none_behind() {
        const NAME: &str = "with_tokio::logkit_spawn_blocking_runs_in_the_callers_context_and_leaves_none_behind";
        if common::is_child(NAME) {
            // One blocking thread, so the plain `spawn_blocking` after it runs on the
            // same pool thread.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                new_context!(req = "r2");
                let _s = span!("handler");
                info!("caller");
                let n = logkit::spawn_blocking(|| {
                    info!("blocking work");
                    7
                })
                .await
                .unwrap();
                assert_eq!(n, 7);
                tokio::task::spawn_blocking(|| info!("plain blocking")).await.unwrap();
            });
            return;
        }
        let recs = common::records_of(NAME, &[]);
        let caller = one(&recs, "caller");
        let work = one(&recs, "blocking work");
        assert_eq!(work["trace_id"], caller["trace_id"]);
        assert_eq!(work["span_id"], caller["span_id"]);
        assert_eq!(work["req"], "r2");
        let plain = one(&recs, "plain blocking");
        assert!(plain.get("req").is_none() && plain.get("span_id").is_none(), "{plain}");
        assert_ne!(plain["trace_id"], caller["trace_id"], "{plain}");
    }
}
