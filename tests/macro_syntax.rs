//! Every field form of tracing's event syntax compiles and lands in the record.
mod common;

#[derive(Debug)]
struct Req {
    #[allow(dead_code)] // read through Debug
    id: u32,
}

struct Name(&'static str);
impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

struct Conn {
    peer: &'static str,
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!("plain message");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(recs[0]["event"], "plain message");
}

#[test]
fn all_field_forms_are_recorded() {
    if common::is_child("all_field_forms_are_recorded") {
        let name = Name("ann");
        let req = Req { id: 7 };
        let n = 3usize;
        let conn = Conn { peer: "10.0.0.1" };
        let owned = String::from("owned");
        logkit::info!(user = %name, req = ?req, "handled {} items", n);
        logkit::info!(n, "shorthand");
        logkit::info!(%name, ?req, "shorthand display and debug");
        logkit::info!(conn.peer, "dotted shorthand");
        logkit::info!(http.status = 200, "dotted key");
        logkit::info!("quoted key" = 1, "string key");
        logkit::info!(target: "custom", k = 1, "with target");
        logkit::info!(a = 1, b = owned, c = &owned[..2], "trailing comma",);
        logkit::info!("inline capture {n}");
        logkit::info!(expr = n * 2 + 1, call = owned.len(), "expressions");
        logkit::info!(named = 1, "named args {x} {y}", x = 1, y = "two");
        logkit::warn!(k = 1);
        logkit::event!(logkit::Level::Error, target: "ev", k = 2, "event macro");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("all_field_forms_are_recorded", dir.path()));
    common::assert_success(&out);
    let r = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(r.len(), 13);
    assert_eq!(
        (&r[0]["event"], &r[0]["user"], &r[0]["req"]),
        (&"handled 3 items".into(), &"<ann>".into(), &"Req { id: 7 }".into())
    );
    assert_eq!(r[1]["n"], 3);
    assert_eq!((&r[2]["name"], &r[2]["req"]), (&"<ann>".into(), &"Req { id: 7 }".into()));
    assert_eq!(r[3]["conn.peer"], "10.0.0.1");
    assert_eq!(r[4]["http.status"], 200);
    assert_eq!(r[5]["quoted key"], 1);
    assert_eq!(r[6]["target"], "custom");
    assert_eq!((&r[7]["a"], &r[7]["b"], &r[7]["c"]), (&1.into(), &"owned".into(), &"ow".into()));
    assert_eq!(r[8]["event"], "inline capture 3");
    assert_eq!((&r[9]["expr"], &r[9]["call"]), (&7.into(), &5.into()));
    assert_eq!(r[10]["event"], "named args 1 two");
    assert_eq!((&r[11]["level"], &r[11]["event"], &r[11]["k"]), (&"warning".into(), &"".into(), &1.into()));
    assert_eq!((&r[12]["level"], &r[12]["target"], &r[12]["k"]), (&"error".into(), &"ev".into(), &2.into()));
}

#[test]
fn disabled_call_evaluates_nothing() {
    if common::is_child("disabled_call_evaluates_nothing") {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn costly() -> u32 {
            CALLS.fetch_add(1, Ordering::SeqCst);
            1
        }
        for _ in 0..100 {
            logkit::debug!(v = costly(), "off at info: {}", costly());
            logkit::trace!(v = costly());
        }
        logkit::info!(calls = CALLS.load(Ordering::SeqCst), "done");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("disabled_call_evaluates_nothing", dir.path()).env("LOG_LEVEL", "info"));
    common::assert_success(&out);
    let r = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["calls"], 0);
}

#[test]
fn logging_from_a_display_impl_does_not_deadlock() {
    if common::is_child("logging_from_a_display_impl_does_not_deadlock") {
        struct Chatty;
        impl std::fmt::Display for Chatty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                logkit::info!("inner");
                f.write_str("chatty")
            }
        }
        logkit::info!(v = %Chatty, "outer");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("logging_from_a_display_impl_does_not_deadlock", dir.path()));
    common::assert_success(&out);
    let r = common::read_jsonl(&dir.path().join("run.log"));
    let events: Vec<_> = r.iter().map(|r| r["event"].as_str().unwrap()).collect();
    // The outer record was logged first; the inner one follows it.
    assert_eq!(events, ["outer", "inner"]);
    assert_eq!(r[0]["v"], "chatty");
}

#[test]
fn a_panicking_display_impl_leaves_no_partial_record() {
    if common::is_child("a_panicking_display_impl_leaves_no_partial_record") {
        struct Boom;
        impl std::fmt::Display for Boom {
            fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                panic!("boom in display")
            }
        }
        logkit::info!("before");
        let r = std::panic::catch_unwind(|| logkit::info!(v = %Boom, "never"));
        assert!(r.is_err());
        logkit::info!("after");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("a_panicking_display_impl_leaves_no_partial_record", dir.path()));
    common::assert_success(&out);
    let r = common::read_jsonl(&dir.path().join("run.log"));
    let events: Vec<_> = r.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["before", "after"]);
}
