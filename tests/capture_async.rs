//! `#[capture]` on async fns: the span follows the future across `.await`s, worker
//! threads and interleaved tasks; `Err`, panics and cancellation end it with
//! `status="error"`. Run with `--features tokio` (for `logkit::spawn`).
#![cfg(feature = "tokio")]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{disk, ReadError};
use logkit::capture;
use serde_json::Value as J;

/// A multi-thread runtime with 4 workers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime")
}

/// The END records of the span `name`, in order.
fn ends_of<'a>(recs: &'a [J], name: &str) -> Vec<&'a J> {
    common::events(recs, "END").into_iter().filter(|r| r["span"] == name).collect()
}

fn assert_success_end(end: &J) {
    assert_eq!(end["status"], "success", "{end}");
    assert_eq!(end["level"], "info", "{end}");
    assert!(end.get("exc_info").is_none(), "{end}");
    assert!(end["dur_ms"].as_f64().is_some_and(|d| d >= 0.0), "{end}");
}

/// Returns `Pending` once (waking itself), then `Ready`: a suspension point that needs
/// no runtime.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[capture]
async fn ping() -> u32 {
    tokio::task::yield_now().await;
    1
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        assert_eq!(runtime().block_on(ping()), 1);
        return;
    }
    let recs = common::records_of("smoke", &[]);
    assert_success_end(common::end_of(&recs, "capture_async::ping"));
}

#[capture(job = id, user = %user, n = items.len())]
async fn polled_twice(id: u32, user: &str, items: Vec<u8>) -> usize {
    logkit::info!(step = 0, "step");
    YieldOnce(false).await;
    logkit::info!(step = 1, "step");
    items.len()
}

#[test]
fn a_captured_future_keeps_its_span_when_polled_on_another_thread() {
    if common::is_child("a_captured_future_keeps_its_span_when_polled_on_another_thread") {
        let user = String::from("ann");
        let mut fut = Box::pin(polled_twice(7, &user, vec![1, 2, 3]));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        logkit::info!("between polls");
        let done = std::thread::scope(|s| {
            s.spawn(move || {
                let mut cx = Context::from_waker(std::task::Waker::noop());
                fut.as_mut().poll(&mut cx)
            })
            .join()
            .unwrap()
        });
        assert_eq!(done, Poll::Ready(3));
        return;
    }
    let recs = common::records_of("a_captured_future_keeps_its_span_when_polled_on_another_thread", &[]);
    let end = common::end_of(&recs, "capture_async::polled_twice");
    assert_success_end(end);
    assert_eq!((&end["job"], &end["user"], &end["n"]), (&7.into(), &"ann".into(), &3.into()));
    let steps = common::events(&recs, "step");
    assert_eq!(steps.len(), 2);
    for s in &steps {
        assert_eq!((&s["span_id"], &s["trace_id"]), (&end["span_id"], &end["trace_id"]), "{s}");
        assert_eq!((&s["job"], &s["user"]), (&7.into(), &"ann".into()), "{s}");
    }
    let between = common::the(&recs, "between polls");
    assert!(between.get("span_id").is_none() && between.get("job").is_none(), "{between}");
}

#[capture(job = id)]
async fn hop(id: u32) -> u32 {
    for step in 0..10 {
        logkit::info!(step, "hop");
        if step % 2 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    id
}

#[test]
fn span_id_survives_sleeps_and_yields_on_a_multi_thread_runtime() {
    if common::is_child("span_id_survives_sleeps_and_yields_on_a_multi_thread_runtime") {
        runtime().block_on(async {
            let handles: Vec<_> = (0..8).map(|id| tokio::spawn(hop(id))).collect();
            for (id, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap(), id as u32);
            }
        });
        return;
    }
    let recs = common::records_of("span_id_survives_sleeps_and_yields_on_a_multi_thread_runtime", &[]);
    let ends = ends_of(&recs, "capture_async::hop");
    assert_eq!(ends.len(), 8);
    let end_of_job: BTreeMap<u64, &J> = ends.iter().map(|e| (e["job"].as_u64().unwrap(), *e)).collect();
    let span_of: BTreeMap<u64, &J> = end_of_job.iter().map(|(job, e)| (*job, &e["span_id"])).collect();
    assert_eq!(span_of.len(), 8, "one span per job");
    assert_eq!(span_of.values().collect::<HashSet<_>>().len(), 8, "distinct span ids");
    let hops = common::events(&recs, "hop");
    assert_eq!(hops.len(), 80);
    for h in hops {
        let job = h["job"].as_u64().expect("every hop carries its job");
        assert_eq!(&h["span_id"], span_of[&job], "{h}");
        assert_eq!(h["trace_id"], end_of_job[&job]["trace_id"], "{h}");
    }
}

#[capture(req = id)]
async fn handle(id: u32) -> Result<u32, String> {
    for step in 0..3 {
        logkit::info!(id, step, "step");
        if (id + step) % 3 == 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    if id % 10 == 0 {
        return Err(format!("request {id} rejected"));
    }
    Ok(id)
}

const TASKS: u32 = 256;

#[test]
fn interleaved_tasks_never_see_each_others_trace_span_or_fields() {
    if common::is_child("interleaved_tasks_never_see_each_others_trace_span_or_fields") {
        runtime().block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|i| {
                    logkit::spawn(async move {
                        let trace = logkit::new_context!(task = i);
                        logkit::info!(task_trace = %trace, "begin");
                        let r = handle(i).await;
                        logkit::info!(ok = r.is_ok(), "done");
                        r
                    })
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.await.unwrap().is_ok(), i % 10 != 0);
            }
        });
        return;
    }
    let recs = common::records_of("interleaved_tasks_never_see_each_others_trace_span_or_fields", &[]);
    assert_eq!(recs.len(), TASKS as usize * 7, "begin, START, 3 steps, END, done per task");
    let mut by_task: BTreeMap<u64, Vec<&J>> = BTreeMap::new();
    for r in &recs {
        let task = r["task"].as_u64().unwrap_or_else(|| panic!("record without its task: {r}"));
        by_task.entry(task).or_default().push(r);
    }
    assert_eq!(by_task.len(), TASKS as usize);
    let mut traces = HashSet::new();
    for (task, rs) in &by_task {
        let begin = rs.iter().find(|r| r["event"] == "begin").expect("begin");
        let trace = &begin["trace_id"];
        assert_eq!(&begin["task_trace"], trace);
        assert!(traces.insert(trace.as_str().unwrap()), "trace {trace} shared by two tasks");
        let ends: Vec<&&J> = rs.iter().filter(|r| r["event"] == "END").collect();
        assert_eq!(ends.len(), 1, "task {task}: {rs:?}");
        let end = ends[0];
        assert_eq!((&end["span"], &end["req"]), (&"capture_async::handle".into(), &(*task).into()));
        assert!(end.get("parent_span_id").is_none(), "{end}");
        let failed = task % 10 == 0;
        assert_eq!(end["status"], if failed { "error" } else { "success" }, "{end}");
        if failed {
            assert_eq!(end["exc_info"]["message"], format!("request {task} rejected"));
        }
        let steps: Vec<&&J> = rs.iter().filter(|r| r["event"] == "step").collect();
        assert_eq!(steps.len(), 3);
        for r in rs {
            assert_eq!(&r["trace_id"], trace, "{r}");
        }
        for s in steps {
            assert_eq!(
                (&s["id"], &s["req"], &s["span_id"]),
                (&(*task).into(), &(*task).into(), &end["span_id"]),
                "{s}"
            );
        }
        let done = rs.iter().find(|r| r["event"] == "done").expect("done");
        assert!(done.get("span_id").is_none() && done.get("req").is_none(), "{done}");
    }
}

#[capture]
async fn fetch(fail: bool, early: bool) -> Result<u32, ReadError> {
    tokio::task::yield_now().await;
    if early {
        return Err(ReadError { source: std::io::Error::other("early") });
    }
    let n = disk(fail)?;
    Ok(n)
}

#[capture]
async fn fetch_dyn(s: &str) -> Result<u16, Box<dyn Error + Send + Sync>> {
    tokio::task::yield_now().await;
    Ok(s.parse::<u16>()?)
}

#[test]
fn an_async_fn_returning_err_ends_with_error_and_chain() {
    if common::is_child("an_async_fn_returning_err_ends_with_error_and_chain") {
        runtime().block_on(async {
            assert!(fetch(true, false).await.is_err());
            assert!(fetch(false, true).await.is_err());
            assert_eq!(fetch(false, false).await.unwrap(), 5);
            assert!(tokio::spawn(fetch_dyn("x")).await.unwrap().is_err());
        });
        return;
    }
    let recs = common::records_of("an_async_fn_returning_err_ends_with_error_and_chain", &[]);
    let f = ends_of(&recs, "capture_async::fetch");
    assert_eq!(f.len(), 3);
    for (end, chain) in [(f[0], "disk gone"), (f[1], "early")] {
        assert_eq!((&end["status"], &end["level"]), (&"error".into(), &"error".into()), "{end}");
        assert_eq!(end["exc_info"]["message"], "read failed");
        assert_eq!(end["exc_info"]["chain"], serde_json::json!([chain]));
    }
    assert_success_end(f[2]);
    let d = common::end_of(&recs, "capture_async::fetch_dyn");
    assert_eq!((&d["status"], &d["exc_info"]["message"]), (&"error".into(), &"invalid digit found in string".into()));
}

#[capture(job = "slow")]
async fn slow() -> u32 {
    logkit::info!("started");
    tokio::time::sleep(Duration::from_secs(30)).await;
    1
}

#[test]
fn a_captured_future_dropped_before_completing_ends_cancelled() {
    if common::is_child("a_captured_future_dropped_before_completing_ends_cancelled") {
        runtime().block_on(async {
            assert!(tokio::time::timeout(Duration::from_millis(20), slow()).await.is_err());
            drop(slow()); // never polled: its span never opened
            logkit::info!("after");
        });
        return;
    }
    let recs = common::records_of("a_captured_future_dropped_before_completing_ends_cancelled", &[]);
    let end = common::end_of(&recs, "capture_async::slow");
    assert_eq!((&end["status"], &end["level"], &end["job"]), (&"error".into(), &"error".into(), &"slow".into()));
    assert_eq!(end["exc_info"]["type"], "cancelled");
    // Timed from the first poll to the drop: not the 30 s sleep. (No lower bound: on a
    // loaded machine the first poll can come late, close to the timeout's deadline.)
    let dur = end["dur_ms"].as_f64().unwrap();
    assert!((0.0..30_000.0).contains(&dur), "{end}");
    assert_eq!(common::the(&recs, "started")["span_id"], end["span_id"]);
    let after = common::the(&recs, "after");
    assert!(after.get("span_id").is_none() && after.get("job").is_none(), "{after}");
}

#[capture(job = n)]
async fn crash(n: u32) -> u32 {
    tokio::task::yield_now().await;
    if n > 0 {
        panic!("async boom {n}");
    }
    n
}

#[test]
fn a_panic_in_a_captured_future_ends_with_the_panic() {
    if common::is_child("a_panic_in_a_captured_future_ends_with_the_panic") {
        let rt = runtime();
        // On the caller's thread: the future unwinds out of `block_on`.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(crash(1))));
        assert!(caught.is_err());
        // In a task: tokio catches the panic and drops the future afterwards.
        rt.block_on(async { assert!(tokio::spawn(crash(2)).await.unwrap_err().is_panic()) });
        return;
    }
    let recs = common::records_of("a_panic_in_a_captured_future_ends_with_the_panic", &[]);
    let ends = ends_of(&recs, "capture_async::crash");
    assert_eq!(ends.len(), 2);
    for (end, n) in ends.iter().zip([1, 2]) {
        assert_eq!((&end["status"], &end["job"]), (&"error".into(), &n.into()), "{end}");
        assert_eq!(
            (&end["exc_info"]["type"], &end["exc_info"]["message"]),
            (&"panic".into(), &format!("async boom {n}").into()),
            "{end}"
        );
    }
}

#[capture(role = "outer")]
async fn parent_job() -> u32 {
    let a = child_job().await;
    a + sync_step()
}

#[capture(step = "inner")]
async fn child_job() -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    logkit::info!("in child");
    1
}

#[capture]
fn sync_step() -> u32 {
    2
}

#[test]
fn nested_captured_async_fns_are_parent_and_child_spans() {
    if common::is_child("nested_captured_async_fns_are_parent_and_child_spans") {
        assert_eq!(runtime().block_on(async { tokio::spawn(parent_job()).await.unwrap() }), 3);
        return;
    }
    let recs = common::records_of("nested_captured_async_fns_are_parent_and_child_spans", &[]);
    let p = common::end_of(&recs, "capture_async::parent_job");
    let c = common::end_of(&recs, "capture_async::child_job");
    let s = common::end_of(&recs, "capture_async::sync_step");
    assert_eq!((&c["parent_span_id"], &s["parent_span_id"]), (&p["span_id"], &p["span_id"]));
    assert_eq!((&c["trace_id"], &s["trace_id"]), (&p["trace_id"], &p["trace_id"]));
    assert_eq!((&c["role"], &c["step"]), (&"outer".into(), &"inner".into()), "the child span inherits the keys");
    assert!(p.get("step").is_none(), "{p}");
    let in_child = common::the(&recs, "in child");
    assert_eq!((&in_child["span_id"], &in_child["parent_span_id"]), (&c["span_id"], &p["span_id"]));
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[capture(k)]
    async fn get(&self, k: usize) -> Option<&str> {
        tokio::task::yield_now().await;
        self.items.get(k).map(String::as_str)
    }

    #[capture(item = %item)]
    async fn put(&mut self, item: &str) -> &mut String {
        tokio::task::yield_now().await;
        self.items.push(item.to_owned());
        self.items.last_mut().unwrap()
    }

    #[capture]
    async fn into_len(self) -> usize {
        tokio::task::yield_now().await;
        self.items.len()
    }
}

#[capture]
async fn first<'a>(v: &'a [u8]) -> &'a u8 {
    tokio::task::yield_now().await;
    &v[0]
}

#[capture]
async fn numbers(n: u32) -> impl Iterator<Item = u32> {
    tokio::task::yield_now().await;
    0..n
}

#[test]
fn async_methods_borrowing_fns_and_impl_trait_returns_are_captured() {
    if common::is_child("async_methods_borrowing_fns_and_impl_trait_returns_are_captured") {
        runtime().block_on(async {
            let mut store = Store { items: vec!["a".into()] };
            assert_eq!(store.get(0).await, Some("a"));
            store.put("b").await.push('!');
            assert_eq!(store.get(1).await, Some("b!"));
            assert_eq!(store.into_len().await, 2);
            assert_eq!(*first(&[4, 5]).await, 4);
            assert_eq!(numbers(3).await.sum::<u32>(), 3);
        });
        return;
    }
    let recs = common::records_of("async_methods_borrowing_fns_and_impl_trait_returns_are_captured", &[]);
    let names: Vec<&str> = common::events(&recs, "END").iter().map(|r| r["span"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "capture_async::Store::get",
            "capture_async::Store::put",
            "capture_async::Store::get",
            "capture_async::Store::into_len",
            "capture_async::first",
            "capture_async::numbers",
        ]
    );
    let gets = ends_of(&recs, "capture_async::Store::get");
    assert_eq!((&gets[0]["k"], &gets[1]["k"]), (&0.into(), &1.into()));
    assert_eq!(common::end_of(&recs, "capture_async::Store::put")["item"], "b");
}
