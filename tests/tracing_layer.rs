//! The `tracing` layer: `tracing` events and spans flow into run.log as logkit records
//! and spans, through logkit's filters. Each test runs in a child process (a global
//! subscriber and logkit itself are process-wide).
#![cfg(feature = "tracing")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value as J;
use tracing_subscriber::layer::SubscriberExt;

fn install() {
    logkit::tracing::init().expect("no other subscriber");
}

fn events(recs: &[J]) -> Vec<&str> {
    recs.iter().map(|r| r["event"].as_str().expect("event")).collect()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        install();
        tracing::info!(order_id = 42, "order filled");
        return;
    }
    let recs = common::records_of("smoke", &[]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["event"], "order filled");
    assert_eq!(recs[0]["order_id"], 42);
    assert_eq!(recs[0]["level"], "info");
    assert_eq!(recs[0]["target"], "tracing_layer");
}

#[derive(Debug)]
struct Order {
    #[expect(dead_code, reason = "read through Debug")]
    id: u32,
}

#[test]
fn event_fields_keep_their_types_and_call_order() {
    const NAME: &str = "event_fields_keep_their_types_and_call_order";
    if common::is_child(NAME) {
        install();
        let name = "ann";
        let order = Order { id: 7 };
        let err = std::io::Error::other("disk gone");
        tracing::info!(
            target: "app::orders",
            u = 42u64,
            i = -7i64,
            big = u128::MAX,
            neg = i128::MIN,
            price = 1.5,
            ok = true,
            symbol = "BTC",
            user = %name,
            order = ?order,
            cause = &err as &(dyn std::error::Error + 'static),
            level = 3,
            "handled {} items",
            2
        );
        // The message need not come first.
        tracing::warn!(a = 1, message = "late message", b = 2);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.path().join("run.log")).expect("run.log");
    // 128-bit integers are JSON numbers (serde_json reads them back as floats).
    assert!(text.contains(&format!("\"big\":{}", u128::MAX)), "{text}");
    assert!(text.contains(&format!("\"neg\":{}", i128::MIN)), "{text}");
    let recs = common::parse_jsonl(&text);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["event"], "handled 2 items");
    assert_eq!(r["target"], "app::orders");
    assert_eq!(r["u"], 42);
    assert_eq!(r["i"], -7);
    assert_eq!(r["price"], 1.5);
    assert_eq!(r["ok"], true);
    assert_eq!(r["symbol"], "BTC");
    assert_eq!(r["user"], "ann");
    assert_eq!(r["order"], "Order { id: 7 }");
    assert_eq!(r["cause"], "disk gone");
    // A field named after a key logkit writes itself is renamed.
    assert_eq!(r["level"], "info");
    assert_eq!(r["field.level"], 3);
    assert_eq!(recs[1]["event"], "late message");
    assert_eq!((recs[1]["a"].clone(), recs[1]["b"].clone()), (J::from(1), J::from(2)));
}

#[test]
fn event_fields_are_written_in_call_order() {
    const NAME: &str = "event_fields_are_written_in_call_order";
    if common::is_child(NAME) {
        install();
        tracing::info!(zeta = 1, alpha = "x", mid = true, "ordered");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    let text = common::log_text(&dir.path().join("run.log"));
    let keys = common::key_order(text.lines().next().expect("a line"));
    assert_eq!(keys, ["timestamp", "level", "event", "zeta", "alpha", "mid", "target"]);
}

#[test]
fn tracing_levels_map_to_record_levels() {
    const NAME: &str = "tracing_levels_map_to_record_levels";
    if common::is_child(NAME) {
        install();
        tracing::error!("e");
        tracing::warn!("w");
        tracing::info!("i");
        tracing::debug!("d");
        tracing::trace!("t");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "trace")]);
    let got: Vec<(&str, &str)> =
        recs.iter().map(|r| (r["event"].as_str().unwrap(), r["level"].as_str().unwrap())).collect();
    assert_eq!(got, [("e", "error"), ("w", "warning"), ("i", "info"), ("d", "debug"), ("t", "trace")]);
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn costly() -> u32 {
    EVALUATED.fetch_add(1, Ordering::Relaxed);
    1
}

#[test]
fn log_level_directives_decide_tracing_events_and_disabled_ones_evaluate_nothing() {
    const NAME: &str = "log_level_directives_decide_tracing_events_and_disabled_ones_evaluate_nothing";
    if common::is_child(NAME) {
        install();
        tracing::debug!(x = costly(), "app debug");
        tracing::info!(target: "noisy::db", x = costly(), "noisy info");
        tracing::warn!(target: "noisy::db", "noisy warn");
        tracing::debug!(target: "app::db", "db debug");
        tracing::info!("app info");
        assert_eq!(EVALUATED.load(Ordering::Relaxed), 0, "a disabled event evaluated its fields");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "info,noisy=warn,app::db=debug")]);
    assert_eq!(events(&recs), ["noisy warn", "db debug", "app info"]);
}

#[test]
fn set_level_at_run_time_refreshes_tracing_call_sites() {
    const NAME: &str = "set_level_at_run_time_refreshes_tracing_call_sites";
    if common::is_child(NAME) {
        install();
        for i in 0..2 {
            tracing::debug!(i, "debug");
            tracing::info!(i, "info");
            logkit::set_level(if i == 0 { "debug" } else { "info" }).expect("set_level");
        }
        tracing::debug!("debug after");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "info")]);
    let got: Vec<(&str, i64)> = recs.iter().map(|r| (r["event"].as_str().unwrap(), r["i"].as_i64().unwrap())).collect();
    assert_eq!(got, [("info", 0), ("debug", 1), ("info", 1)]);
}

#[test]
fn log_sample_applies_to_tracing_events_and_keeps_warnings() {
    const NAME: &str = "log_sample_applies_to_tracing_events_and_keeps_warnings";
    if common::is_child(NAME) {
        install();
        for _ in 0..100 {
            tracing::info!(x = costly(), "sampled out");
        }
        tracing::warn!("kept");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_SAMPLE", "0")]);
    assert_eq!(events(&recs), ["kept"]);
}

#[test]
fn spans_become_logkit_spans_with_ids_bound_fields_and_end() {
    const NAME: &str = "spans_become_logkit_spans_with_ids_bound_fields_and_end";
    if common::is_child(NAME) {
        install();
        let outer = tracing::info_span!("outer", user = "u1", n = 3);
        let _o = outer.enter();
        tracing::info!("in outer");
        {
            let inner = tracing::info_span!("inner", shard = 2u32);
            let _i = inner.enter();
            tracing::info!("in inner");
            logkit::info!(via = "logkit", "logkit in inner");
            let _s = logkit::span!("logkit.child");
            logkit::info!("in logkit child");
        }
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let in_outer = common::the(&recs, "in outer");
    let in_inner = common::the(&recs, "in inner");
    let via_logkit = common::the(&recs, "logkit in inner");
    let in_child = common::the(&recs, "in logkit child");
    let outer_end = common::end_of(&recs, "outer");
    let inner_end = common::end_of(&recs, "inner");
    let child_end = common::end_of(&recs, "logkit.child");

    let trace = in_outer["trace_id"].as_str().expect("a trace id inside a root span");
    assert_eq!(trace.len(), 32);
    for r in [in_inner, via_logkit, in_child, outer_end, inner_end, child_end] {
        assert_eq!(r["trace_id"], trace, "{r}");
    }
    // Ids and parents.
    assert_eq!(in_outer["span_id"], outer_end["span_id"]);
    assert!(outer_end.get("parent_span_id").is_none(), "{outer_end}");
    assert_eq!(in_inner["span_id"], inner_end["span_id"]);
    assert_eq!(in_inner["parent_span_id"], outer_end["span_id"]);
    assert_eq!(via_logkit["span_id"], inner_end["span_id"]);
    assert_eq!(child_end["parent_span_id"], inner_end["span_id"]);
    // Bound fields.
    assert_eq!((in_outer["user"].clone(), in_outer["n"].clone()), (J::from("u1"), J::from(3)));
    assert_eq!((in_inner["user"].clone(), in_inner["shard"].clone()), (J::from("u1"), J::from(2)));
    assert_eq!(via_logkit["shard"], 2);
    assert!(in_outer.get("shard").is_none());
    // END records.
    for e in [outer_end, inner_end] {
        assert_eq!(e["status"], "success");
        assert!(e["dur_ms"].as_f64().expect("dur_ms") >= 0.0);
    }
    assert_eq!(inner_end["target"], "tracing_layer");
    // Inner closes before outer.
    let pos = |n: &str| recs.iter().position(|r| r["event"] == "END" && r["span"] == n).unwrap();
    assert!(pos("logkit.child") < pos("inner") && pos("inner") < pos("outer"));
}

#[test]
fn an_explicit_parent_gives_parent_span_id() {
    const NAME: &str = "an_explicit_parent_gives_parent_span_id";
    if common::is_child(NAME) {
        install();
        let parent = tracing::info_span!("parent", job = "j1");
        let child = tracing::info_span!(parent: &parent, "child");
        child.in_scope(|| tracing::info!("in child"));
        drop(child);
        drop(parent);
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let parent = common::end_of(&recs, "parent");
    let child = common::end_of(&recs, "child");
    let ev = common::the(&recs, "in child");
    assert_eq!(child["parent_span_id"], parent["span_id"]);
    assert_eq!(ev["span_id"], child["span_id"]);
    assert_eq!(ev["job"], "j1");
    assert_eq!(ev["trace_id"], parent["trace_id"]);
}

#[test]
fn a_root_span_joins_the_logkit_context_and_one_outside_starts_a_trace() {
    const NAME: &str = "a_root_span_joins_the_logkit_context_and_one_outside_starts_a_trace";
    if common::is_child(NAME) {
        install();
        tracing::info_span!("lonely").in_scope(|| tracing::info!("no context"));
        let trace = logkit::new_context!(user = "u9");
        let _s = logkit::span!("handle");
        tracing::info_span!("db.query").in_scope(|| tracing::info!(joined = %trace, "in context"));
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let lonely = common::the(&recs, "no context");
    let joined = common::the(&recs, "in context");
    let handle = common::end_of(&recs, "handle");
    let query = common::end_of(&recs, "db.query");
    assert_eq!(lonely["trace_id"].as_str().map(str::len), Some(32));
    assert_ne!(lonely["trace_id"], joined["trace_id"]);
    assert_eq!(joined["trace_id"], joined["joined"]);
    assert_eq!(joined["user"], "u9");
    assert_eq!(query["parent_span_id"], handle["span_id"]);
}

#[tracing::instrument]
fn place(order_id: u64) -> u64 {
    tracing::info!("placing");
    inner_capture()
}

#[logkit::capture]
fn inner_capture() -> u64 {
    logkit::info!("captured");
    5
}

#[derive(Debug)]
struct DbError;

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("query failed")
    }
}

impl std::error::Error for DbError {}

#[tracing::instrument(err)]
fn query(fail: bool) -> Result<u32, DbError> {
    if fail {
        Err(DbError)
    } else {
        Ok(1)
    }
}

#[test]
fn instrument_spans_and_instrument_err_failures() {
    const NAME: &str = "instrument_spans_and_instrument_err_failures";
    if common::is_child(NAME) {
        install();
        assert_eq!(place(42), 5);
        let _ = query(false);
        let _ = query(true);
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let place = common::end_of(&recs, "place");
    assert_eq!(place["status"], "success");
    let placing = common::the(&recs, "placing");
    assert_eq!(placing["order_id"], 42);
    assert_eq!(placing["span_id"], place["span_id"]);
    let captured = common::end_of(&recs, "tracing_layer::inner_capture");
    assert_eq!(captured["parent_span_id"], place["span_id"]);
    assert_eq!(captured["order_id"], 42);

    let ends: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "query").collect();
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0]["status"], "success");
    assert_eq!(ends[1]["status"], "error");
    assert_eq!(ends[1]["level"], "error");
    assert_eq!(ends[1]["exc_info"]["message"], "query failed");
    assert_eq!(ends[1]["fail"], true);
}

#[test]
fn a_span_closed_by_a_panic_ends_with_error() {
    const NAME: &str = "a_span_closed_by_a_panic_ends_with_error";
    if common::is_child(NAME) {
        install();
        let r = std::panic::catch_unwind(|| {
            let _s = tracing::info_span!("doomed").entered();
            panic!("boom");
        });
        assert!(r.is_err());
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let end = common::end_of(&recs, "doomed");
    assert_eq!(end["status"], "error");
    assert_eq!(end["exc_info"]["type"], "panic");
    assert_eq!(end["exc_info"]["message"], "boom");
}

#[test]
fn fields_recorded_on_a_span_go_into_its_end() {
    const NAME: &str = "fields_recorded_on_a_span_go_into_its_end";
    if common::is_child(NAME) {
        install();
        let s = tracing::info_span!("http", status = tracing::field::Empty);
        s.record("status", 200u16);
        s.record("status", 503u16);
        drop(s);
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let end = common::end_of(&recs, "http");
    assert_eq!(end["status"], "success");
    assert_eq!(end["field.status"], 503);
}

#[test]
fn an_instrumented_future_keeps_its_span_across_worker_threads() {
    const NAME: &str = "an_instrumented_future_keeps_its_span_across_worker_threads";
    if common::is_child(NAME) {
        use tracing::Instrument;
        install();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for job in 0..8u32 {
                tasks.push(tokio::spawn(
                    async move {
                        for step in 0..3u32 {
                            tokio::task::yield_now().await;
                            tracing::info!(job_seen = job, step, "step");
                        }
                    }
                    .instrument(tracing::info_span!("job", job)),
                ));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let steps = common::events(&recs, "step");
    assert_eq!(steps.len(), 24);
    let ends = common::ends(&recs);
    assert_eq!(ends.len(), 8);
    for s in steps {
        assert_eq!(s["job"], s["job_seen"], "{s}");
        let end = ends.iter().find(|e| e["job"] == s["job"]).expect("its END");
        assert_eq!(s["span_id"], end["span_id"]);
        assert_eq!(s["trace_id"], end["trace_id"]);
    }
}

#[test]
fn a_per_layer_filter_and_an_env_filter_still_narrow_the_layer() {
    const NAME: &str = "a_per_layer_filter_and_an_env_filter_still_narrow_the_layer";
    if common::is_child(NAME) {
        use tracing_subscriber::Layer as _;
        let sub = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info,quiet=error"))
            .with(logkit::tracing::layer().with_filter(tracing_subscriber::filter::LevelFilter::WARN));
        tracing::subscriber::set_global_default(sub).expect("set");
        tracing::info!("info dropped by the per-layer filter");
        tracing::warn!("warn kept");
        tracing::warn!(target: "quiet", "warn dropped by the env filter");
        tracing::error!(target: "quiet", "error kept");
        return;
    }
    let recs = common::records_of(NAME, &[]);
    assert_eq!(events(&recs), ["warn kept", "error kept"]);
}

#[test]
fn init_reports_an_already_set_subscriber() {
    const NAME: &str = "init_reports_an_already_set_subscriber";
    if common::is_child(NAME) {
        install();
        let err = logkit::tracing::init().expect_err("second init");
        assert!(err.to_string().contains("already set"), "{err}");
        return;
    }
    let _ = common::records_of(NAME, &[]);
}

#[test]
fn tracing_and_logkit_records_share_one_context() {
    const NAME: &str = "tracing_and_logkit_records_share_one_context";
    if common::is_child(NAME) {
        install();
        let trace = logkit::new_context!(user = "u1");
        tracing::info!(n = 1, "tracing first");
        logkit::info!(n = 2, "logkit second");
        let _s = tracing::info_span!("work", job = "j7").entered();
        logkit::info!(n = 3, "logkit in span");
        tracing::info!(n = 4, trace = %trace, "tracing in span");
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let got: Vec<&J> = recs.iter().filter(|r| r["n"].is_i64()).collect();
    let order: Vec<i64> = got.iter().map(|r| r["n"].as_i64().unwrap()).collect();
    assert_eq!(order, [1, 2, 3, 4]);
    let trace = &got[3]["trace"];
    for r in &got {
        assert_eq!(&r["trace_id"], trace, "{r}");
        assert_eq!(r["user"], "u1", "{r}");
    }
    let work = common::end_of(&recs, "work");
    assert!(got[0].get("span_id").is_none() && got[1].get("span_id").is_none());
    for r in &got[2..] {
        assert_eq!(r["span_id"], work["span_id"], "{r}");
        assert_eq!(r["job"], "j7", "{r}");
    }
}

#[test]
fn log_level_directives_decide_tracing_spans() {
    const NAME: &str = "log_level_directives_decide_tracing_spans";
    if common::is_child(NAME) {
        install();
        let _outer = tracing::info_span!("outer").entered();
        let _quiet = tracing::debug_span!("quiet", hidden = 1).entered();
        tracing::info!("inside the quiet span");
        return;
    }
    let recs = common::records_of(NAME, &[("LOG_LEVEL", "info")]);
    let outer = common::end_of(&recs, "outer");
    assert!(common::ends(&recs).iter().all(|e| e["span"] != "quiet"), "{recs:?}");
    let ev = common::the(&recs, "inside the quiet span");
    assert_eq!(ev["span_id"], outer["span_id"]);
    assert!(ev.get("hidden").is_none(), "{ev}");
}

#[test]
fn a_tracing_span_logs_start_like_a_logkit_span() {
    const NAME: &str = "a_tracing_span_logs_start_like_a_logkit_span";
    if common::is_child(NAME) {
        install();
        tracing::info_span!("job", id = 4).in_scope(|| tracing::info!("working"));
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let start = common::the(&recs, "START");
    let end = common::end_of(&recs, "job");
    assert_eq!(start["span"], "job");
    assert_eq!(start["span_id"], end["span_id"]);
    assert_eq!(start["id"], 4);
    assert!(common::records_of(NAME, &[("LOG_SPAN_START", "0")]).iter().all(|r| r["event"] != "START"));
}

#[test]
fn an_event_without_a_message_keeps_its_fields_and_context() {
    const NAME: &str = "an_event_without_a_message_keeps_its_fields_and_context";
    if common::is_child(NAME) {
        install();
        logkit::new_context!(user = "u3");
        tracing::info!(only = 1, also = "x");
        logkit::info!(only = 2);
        return;
    }
    let recs = common::records_of(NAME, &[]);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let (t, l) = (&recs[0], &recs[1]);
    assert_eq!((t["only"].as_i64(), t["also"].as_str(), t["user"].as_str()), (Some(1), Some("x"), Some("u3")));
    assert_eq!(t["trace_id"], l["trace_id"]);
    // Without a message, a tracing event is written as logkit's macros write one.
    assert_eq!(t.get("event"), l.get("event"), "{t} vs {l}");
}

#[test]
fn a_child_opened_on_another_thread_while_its_parent_is_entered_follows_the_parents_new_context() {
    const NAME: &str = "a_child_opened_on_another_thread_while_its_parent_is_entered_follows_the_parents_new_context";
    if common::is_child(NAME) {
        install();
        let request = tracing::info_span!("request");
        let _entered = request.enter();
        // Re-homes `request` (entered here) into the new trace.
        let trace = logkit::new_context!(user = "u1");
        let parent = request.clone();
        std::thread::spawn(move || {
            let work = tracing::info_span!(parent: &parent, "work");
            let _in = work.enter();
            tracing::info!("on another thread");
        })
        .join()
        .expect("thread");
        tracing::info!(trace = %trace, "after");
        return;
    }
    let recs = common::records_of(NAME, &[]);
    let request = common::end_of(&recs, "request");
    let trace = &common::the(&recs, "after")["trace"];
    assert_eq!(&request["trace_id"], trace, "{request}");
    let work = common::end_of(&recs, "work");
    assert_eq!(&work["trace_id"], trace, "the child is in its parent's new trace: {work}");
    assert_eq!(work["parent_span_id"], request["span_id"], "{work}");
    assert_eq!(&common::the(&recs, "on another thread")["trace_id"], trace);
}
