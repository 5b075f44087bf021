//! `#[capture]`'s options, as `#[instrument]` users write them: `skip`, `skip_all`,
//! `fields(..)`, `name`, `target`, `level`, `ret`, `err`, `parent`. Arguments are
//! recorded only when asked.
mod common;

use logkit::capture;
use serde_json::Value as J;

#[derive(Debug)]
struct Secret(#[allow(dead_code)] &'static str);

/// Arguments are not recorded unless named: `password` never appears.
#[capture]
fn login(user: &str, password: Secret) -> usize {
    let _ = password;
    user.len()
}

#[capture(skip(password), fields(user = %user, attempt = 1))]
fn login_skip(user: &str, password: Secret) -> usize {
    let _ = password;
    user.len()
}

#[capture(skip_all, fields(n = items.len()))]
fn count(items: &[u8], _key: Secret) -> usize {
    items.len()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        assert_eq!(login("ann", Secret("hunter2")), 3);
        return;
    }
    let recs = common::records_of("smoke", &[]);
    let end = common::end_of(&recs, "capture_options::login");
    assert_eq!(end["status"], "success");
}

#[test]
fn arguments_are_recorded_only_when_asked_and_skip_checks_the_names() {
    let name = "arguments_are_recorded_only_when_asked_and_skip_checks_the_names";
    if common::is_child(name) {
        login("ann", Secret("hunter2"));
        login_skip("bob", Secret("hunter2"));
        count(&[1, 2, 3], Secret("k"));
        return;
    }
    let recs = common::records_of(name, &[]);
    for r in &recs {
        assert!(!r.to_string().contains("hunter2"), "an argument was recorded: {r}");
    }
    let plain = common::end_of(&recs, "capture_options::login");
    assert!(plain.get("user").is_none() && plain.get("password").is_none(), "{plain}");
    let skip = common::end_of(&recs, "capture_options::login_skip");
    assert_eq!((&skip["user"], &skip["attempt"]), (&J::from("bob"), &J::from(1)), "{skip}");
    assert!(skip.get("password").is_none(), "{skip}");
    assert_eq!(common::end_of(&recs, "capture_options::count")["n"], 3);
}

#[derive(Debug)]
struct Req {
    #[allow(dead_code)]
    id: u32,
}

#[capture(fields(route = "/orders", id = %id, req = ?req, status_code = tracing::field::Empty))]
fn handle(id: u32, req: &Req) -> u16 {
    logkit::info!("inside");
    logkit::current_span().record("status_code", 503u16);
    503
}

#[test]
fn fields_bind_values_display_debug_and_empty_ones_are_recorded_later() {
    let name = "fields_bind_values_display_debug_and_empty_ones_are_recorded_later";
    if common::is_child(name) {
        handle(7, &Req { id: 7 });
        return;
    }
    let recs = common::records_of(name, &[]);
    let inside = common::the(&recs, "inside");
    assert_eq!(
        (&inside["route"], &inside["id"], &inside["req"]),
        (&J::from("/orders"), &J::from("7"), &J::from("Req { id: 7 }"))
    );
    assert!(inside.get("status_code").is_none(), "an Empty field is not bound: {inside}");
    let end = common::end_of(&recs, "capture_options::handle");
    assert_eq!(end["status_code"], 503, "{end}");
}

#[capture(name = "orders.place", target = "app::orders")]
fn named() {}

#[test]
fn name_and_target_replace_the_fn_path_and_module() {
    let name = "name_and_target_replace_the_fn_path_and_module";
    if common::is_child(name) {
        named();
        return;
    }
    let recs = common::records_of(name, &[]);
    let end = common::end_of(&recs, "orders.place");
    assert_eq!(end["target"], "app::orders", "{end}");
}

#[capture(level = "debug")]
fn chatty() {
    logkit::warn!("inside chatty");
}

#[capture(level = "debug")]
fn chatty_fails() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("nope"))
}

#[test]
fn level_sets_the_ends_level_and_a_disabled_level_opens_no_span() {
    let name = "level_sets_the_ends_level_and_a_disabled_level_opens_no_span";
    if common::is_child(name) {
        chatty();
        let _ = chatty_fails();
        logkit::flush();
        logkit::set_level("info").expect("a level");
        chatty();
        let _ = chatty_fails();
        return;
    }
    let recs = common::records_of(name, &[("LOG_LEVEL", "debug")]);
    let ends: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_options::chatty").collect();
    assert_eq!(ends.len(), 1, "only the span opened at debug: {recs:#?}");
    assert_eq!(ends[0]["level"], "debug", "{}", ends[0]);
    let starts: Vec<&J> = common::events(&recs, "START");
    assert!(starts.iter().all(|s| s["level"] == "debug"), "{starts:?}");
    let inside = common::events(&recs, "inside chatty");
    assert_eq!(inside.len(), 2);
    assert_eq!(inside[0]["span_id"], ends[0]["span_id"], "inside the span at debug");
    assert!(inside[1].get("span_id").is_none(), "no span at info: {}", inside[1]);
    let fails: Vec<&J> =
        common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_options::chatty_fails").collect();
    assert_eq!(fails.len(), 1, "{recs:#?}");
    assert_eq!((&fails[0]["level"], &fails[0]["status"]), (&J::from("error"), &J::from("error")));
}

#[derive(Debug)]
struct Total(u32);
impl std::fmt::Display for Total {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} items", self.0)
    }
}

#[capture(ret)]
fn total_debug() -> Total {
    Total(3)
}

#[capture(ret(%))]
fn total_display() -> Total {
    Total(4)
}

#[capture(ret(Debug), err)]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[capture(err(Display))]
fn parse_err(s: &str) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

#[test]
fn ret_records_the_return_value_on_the_end_and_err_is_accepted() {
    let name = "ret_records_the_return_value_on_the_end_and_err_is_accepted";
    if common::is_child(name) {
        total_debug();
        total_display();
        let _ = parse("12");
        let _ = parse_err("x");
        return;
    }
    let recs = common::records_of(name, &[]);
    assert_eq!(common::end_of(&recs, "capture_options::total_debug")["return"], "Total(3)");
    assert_eq!(common::end_of(&recs, "capture_options::total_display")["return"], "4 items");
    assert_eq!(common::end_of(&recs, "capture_options::parse")["return"], "Ok(12)");
    let err = common::end_of(&recs, "capture_options::parse_err");
    assert_eq!(err["status"], "error", "{err}");
    assert!(err.get("return").is_none(), "{err}");
}

#[capture(parent = None)]
fn detached() {}

#[capture(parent = outer)]
fn adopted(outer: &logkit::Span) {
    let _ = outer;
}

#[test]
fn parent_none_makes_a_root_and_parent_span_makes_a_child_of_it() {
    let name = "parent_none_makes_a_root_and_parent_span_makes_a_child_of_it";
    if common::is_child(name) {
        let outer = logkit::span!("outer");
        {
            let _inner = logkit::span!("inner");
            detached();
            adopted(&outer);
        }
        return;
    }
    let recs = common::records_of(name, &[]);
    let outer = common::end_of(&recs, "outer");
    let inner = common::end_of(&recs, "inner");
    let detached = common::end_of(&recs, "capture_options::detached");
    assert!(detached.get("parent_span_id").is_none(), "{detached}");
    assert_eq!(detached["trace_id"], outer["trace_id"], "a root of the same trace");
    let adopted = common::end_of(&recs, "capture_options::adopted");
    assert_eq!(adopted["parent_span_id"], outer["span_id"], "not the inner span {}", inner["span_id"]);
}

#[cfg(feature = "tokio")]
mod async_fns {
    use super::*;

    #[capture(ret, level = "debug", fields(shard))]
    async fn reindex(shard: u32) -> u32 {
        tokio::task::yield_now().await;
        shard * 2
    }

    #[capture(level = "trace")]
    async fn quiet() {
        logkit::info!("inside quiet");
    }

    #[test]
    fn async_fns_take_the_same_options() {
        let name = "async_fns::async_fns_take_the_same_options";
        if common::is_child(name) {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let _outer = logkit::span!("outer");
            assert_eq!(rt.block_on(reindex(4)), 8);
            rt.block_on(quiet());
            return;
        }
        let recs = common::records_of(name, &[("LOG_LEVEL", "debug")]);
        let end = common::end_of(&recs, "capture_options::async_fns::reindex");
        assert_eq!((&end["return"], &end["level"], &end["shard"]), (&J::from("8"), &J::from("debug"), &J::from(4)));
        assert!(common::ends(&recs).iter().all(|r| r["span"] != "capture_options::async_fns::quiet"));
        let outer = common::end_of(&recs, "outer");
        let inside = common::the(&recs, "inside quiet");
        assert_eq!(inside["span_id"], outer["span_id"], "a disabled span leaves the caller's span current");
        assert!(outer.get("return").is_none(), "ret went to the caller's span: {outer}");
    }
}
