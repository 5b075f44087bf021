//! `tracing`'s macro forms that mean something to logkit compile unchanged and do
//! what they say; the others are compile errors in words (tests/compile_fail/).
mod common;

use logkit::{event, info, span, warn, Level};
use serde_json::Value as J;

#[test]
fn smoke() {
    if common::is_child("smoke") {
        event!(Level::INFO, n = 1, "constants");
        return;
    }
    let recs = common::records_of("smoke", &[]);
    assert_eq!(common::the(&recs, "constants")["level"], "info");
}

#[test]
fn events_take_level_constants_target_first_name_and_field_blocks() {
    let name = "events_take_level_constants_target_first_name_and_field_blocks";
    if common::is_child(name) {
        event!(Level::WARN, n = 1, "constant");
        event!(target: "audit", Level::ERROR, user = "u1", "target first");
        event!(Level::DEBUG, { k = 3, ok = true }, "a field block");
        info!({ k = 4 }, "a block in info");
        info!(name: "user.login", user = "u1", "named");
        warn!(target: "audit", name: "user.logout", "named with a target");
        event!(name: "job.done", Level::INFO, "named, tracing's order");
        return;
    }
    let recs = common::records_of(name, &[("LOG_LEVEL", "debug")]);
    assert_eq!(common::the(&recs, "constant")["level"], "warning");
    let t = common::the(&recs, "target first");
    assert_eq!((&t["level"], &t["target"], &t["user"]), (&J::from("error"), &J::from("audit"), &J::from("u1")));
    let b = common::the(&recs, "a field block");
    assert_eq!((&b["level"], &b["k"], &b["ok"]), (&J::from("debug"), &J::from(3), &J::from(true)));
    assert_eq!(common::the(&recs, "a block in info")["k"], 4);
    let n = common::the(&recs, "named");
    assert_eq!((&n["event.name"], &n["user"]), (&J::from("user.login"), &J::from("u1")));
    let nt = common::the(&recs, "named with a target");
    assert_eq!((&nt["event.name"], &nt["target"]), (&J::from("user.logout"), &J::from("audit")));
    assert_eq!(common::the(&recs, "named, tracing's order")["event.name"], "job.done");
}

#[test]
fn spans_take_a_level_first_a_target_and_a_parent() {
    let name = "spans_take_a_level_first_a_target_and_a_parent";
    if common::is_child(name) {
        let outer = span!(Level::INFO, "outer", shard = 3);
        {
            let _inner = span!("inner");
            let _child = span!(parent: &outer, "adopted", k = 1);
        }
        {
            let _db = span!(target: "app::db", Level::DEBUG, "query").entered();
        }
        // TRACE is below the floor: the span does not open, the record has no span of its own.
        let quiet = span!(Level::TRACE, "quiet");
        info!(in_quiet = quiet.id().is_some(), "inside quiet");
        return;
    }
    let recs = common::records_of(name, &[("LOG_LEVEL", "debug")]);
    let outer = common::end_of(&recs, "outer");
    assert_eq!((&outer["level"], &outer["shard"]), (&J::from("info"), &J::from(3)));
    let adopted = common::end_of(&recs, "adopted");
    assert_eq!(adopted["parent_span_id"], outer["span_id"], "{adopted}");
    let db = common::end_of(&recs, "query");
    assert_eq!((&db["level"], &db["target"]), (&J::from("debug"), &J::from("app::db")));
    assert!(common::ends(&recs).iter().all(|r| r["span"] != "quiet"));
    let inside = common::the(&recs, "inside quiet");
    assert_eq!((&inside["in_quiet"], &inside["span_id"]), (&J::from(false), &outer["span_id"]));
}
