//! `#[capture]` on sync fns: one END record per call, named after the fn's path, with
//! its fields bound inside; `Err` returns and panics end it with `status="error"`.
mod common;

use std::error::Error;
use std::fmt;

use common::{disk, ReadError};
use logkit::capture;
use serde_json::Value as J;

fn read_error() -> ReadError {
    ReadError { source: std::io::Error::other("disk gone") }
}

/// Asserts `end` is an error END whose `exc_info` has `message` and `chain`.
fn assert_error_end(end: &J, message: &str, chain: &[&str]) {
    assert_eq!(end["status"], "error", "{end}");
    assert_eq!(end["level"], "error", "{end}");
    assert_eq!(end["exc_info"]["message"], message, "{end}");
    assert_eq!(end["exc_info"]["chain"], serde_json::json!(chain), "{end}");
}

fn assert_success_end(end: &J) {
    assert_eq!(end["status"], "success", "{end}");
    assert_eq!(end["level"], "info", "{end}");
    assert!(end.get("exc_info").is_none(), "{end}");
}

#[capture]
fn ping() -> u32 {
    1
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        assert_eq!(ping(), 1);
        return;
    }
    let recs = common::records_of("smoke", &[]);
    let end = common::end_of(&recs, "capture_sync::ping");
    assert_success_end(end);
}

mod orders {
    use logkit::capture;

    #[derive(Debug)]
    pub struct Qty(pub u32);

    /// Keeps its doc comment and visibility.
    #[capture(order_id = id, sym = %sym, ?qty, "venue.name" = "x", http.status = 200)]
    pub fn place(id: u64, sym: &str, qty: Qty) -> u32 {
        logkit::info!(step = 1, "inside");
        std::thread::sleep(std::time::Duration::from_millis(20));
        if qty.0 == 0 {
            return 0;
        }
        qty.0 * 2
    }
}

#[test]
fn success_logs_one_end_named_after_the_fn_path_with_duration_and_fields() {
    if common::is_child("success_logs_one_end_named_after_the_fn_path_with_duration_and_fields") {
        logkit::info!("before");
        assert_eq!(orders::place(42, "BTC", orders::Qty(3)), 6);
        logkit::info!("after");
        return;
    }
    let recs = common::records_of("success_logs_one_end_named_after_the_fn_path_with_duration_and_fields", &[]);
    assert_eq!(common::ends(&recs).len(), 1, "{recs:#?}");
    let end = common::end_of(&recs, "capture_sync::orders::place");
    assert_success_end(end);
    let dur = end["dur_ms"].as_f64().expect("dur_ms is a number");
    // 19, not 20: the TSC rate is calibrated to ~0.1 % in the first 100 ms of a process.
    assert!(dur >= 19.0, "dur_ms {dur} covers the 20 ms sleep");
    let span_id = end["span_id"].as_str().expect("END has a span_id");
    assert_eq!(span_id.len(), 16);
    assert_eq!(
        (&end["order_id"], &end["sym"], &end["qty"], &end["venue.name"], &end["http.status"]),
        (&42.into(), &"BTC".into(), &"Qty(3)".into(), &"x".into(), &200.into())
    );

    let inside = common::the(&recs, "inside");
    assert_eq!(inside["span_id"], span_id);
    assert_eq!(inside["trace_id"], end["trace_id"]);
    assert_eq!((&inside["order_id"], &inside["sym"], &inside["step"]), (&42.into(), &"BTC".into(), &1.into()));

    for outside in [common::the(&recs, "before"), common::the(&recs, "after")] {
        assert!(outside.get("span_id").is_none(), "{outside}");
        assert!(outside.get("order_id").is_none(), "{outside}");
    }
}

#[capture(depth = 0)]
fn outer() -> u32 {
    logkit::info!("in outer");
    inner() + 1
}

#[capture(leaf = true)]
fn inner() -> u32 {
    logkit::info!("in inner");
    1
}

#[test]
fn nested_captured_fns_are_parent_and_child_spans() {
    if common::is_child("nested_captured_fns_are_parent_and_child_spans") {
        assert_eq!(outer(), 2);
        return;
    }
    let recs = common::records_of("nested_captured_fns_are_parent_and_child_spans", &[]);
    let names: Vec<&J> = common::ends(&recs).iter().map(|r| &r["span"]).collect();
    assert_eq!(names, ["capture_sync::inner", "capture_sync::outer"], "inner ends first");
    let (o, i) = (common::end_of(&recs, "capture_sync::outer"), common::end_of(&recs, "capture_sync::inner"));
    assert!(o.get("parent_span_id").is_none(), "{o}");
    assert_eq!(i["parent_span_id"], o["span_id"]);
    assert_ne!(i["span_id"], o["span_id"]);
    assert_eq!(i["trace_id"], o["trace_id"]);
    assert_eq!((&i["depth"], &i["leaf"]), (&0.into(), &true.into()), "the inner span inherits the outer keys");
    assert!(o.get("leaf").is_none(), "{o}");
    assert_eq!(common::the(&recs, "in inner")["span_id"], i["span_id"]);
    assert_eq!(common::the(&recs, "in inner")["parent_span_id"], o["span_id"]);
    assert_eq!(common::the(&recs, "in outer")["span_id"], o["span_id"]);
}

#[capture]
fn load(fail: bool) -> Result<u32, ReadError> {
    let n = disk(fail)?;
    Ok(n + 1)
}

#[capture]
fn check(n: u32) -> Result<u32, ReadError> {
    if n == 0 {
        return Err(read_error());
    }
    Ok(n)
}

#[capture]
fn dyn_send(s: &str) -> Result<u16, Box<dyn Error + Send + Sync>> {
    if s == "read" {
        return Err(Box::new(read_error()));
    }
    Ok(s.parse::<u16>()?)
}

#[capture]
fn dyn_local(fail: bool) -> Result<(), Box<dyn Error>> {
    load(fail)?;
    Ok(())
}

#[capture]
fn string_err(fail: bool) -> Result<u8, String> {
    if fail {
        Err(format!("no luck x{}", 2))
    } else {
        Ok(1)
    }
}

#[capture]
fn io_alias(fail: bool) -> std::io::Result<u32> {
    disk(fail)
}

#[test]
fn err_via_question_mark_ends_with_error_message_and_chain() {
    if common::is_child("err_via_question_mark_ends_with_error_message_and_chain") {
        assert!(load(true).is_err());
        assert_eq!(load(false).unwrap(), 6);
        return;
    }
    let recs = common::records_of("err_via_question_mark_ends_with_error_message_and_chain", &[]);
    let e = common::ends(&recs);
    assert_eq!(e.len(), 2);
    assert_eq!((&e[0]["span"], &e[1]["span"]), (&"capture_sync::load".into(), &"capture_sync::load".into()));
    assert_error_end(e[0], "read failed", &["disk gone"]);
    assert!(e[0]["exc_info"]["type"].as_str().unwrap().ends_with("ReadError"), "{}", e[0]);
    assert_success_end(e[1]);
}

#[test]
fn early_return_err_ends_with_error() {
    if common::is_child("early_return_err_ends_with_error") {
        assert!(check(0).is_err());
        assert_eq!(check(3).unwrap(), 3);
        return;
    }
    let recs = common::records_of("early_return_err_ends_with_error", &[]);
    let e = common::ends(&recs);
    assert_eq!(e.len(), 2);
    assert_error_end(e[0], "read failed", &["disk gone"]);
    assert_success_end(e[1]);
}

#[test]
fn boxed_dyn_errors_keep_their_message_and_chain() {
    if common::is_child("boxed_dyn_errors_keep_their_message_and_chain") {
        assert!(dyn_send("read").is_err());
        assert!(dyn_send("x").is_err());
        assert_eq!(dyn_send("80").unwrap(), 80);
        assert!(dyn_local(true).is_err());
        return;
    }
    let recs = common::records_of("boxed_dyn_errors_keep_their_message_and_chain", &[]);
    let send: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::dyn_send").collect();
    assert_eq!(send.len(), 3);
    assert_error_end(send[0], "read failed", &["disk gone"]);
    assert_error_end(send[1], "invalid digit found in string", &[]);
    assert_success_end(send[2]);
    // `dyn_local` calls `load`: both fail, the inner one first.
    assert_error_end(common::end_of(&recs, "capture_sync::load"), "read failed", &["disk gone"]);
    assert_error_end(common::end_of(&recs, "capture_sync::dyn_local"), "read failed", &["disk gone"]);
}

#[test]
fn string_and_io_result_errors_end_with_error() {
    if common::is_child("string_and_io_result_errors_end_with_error") {
        assert!(string_err(true).is_err());
        assert!(string_err(false).is_ok());
        assert!(io_alias(true).is_err());
        return;
    }
    let recs = common::records_of("string_and_io_result_errors_end_with_error", &[]);
    let s: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::string_err").collect();
    assert_eq!(s.len(), 2);
    assert_eq!((&s[0]["status"], &s[0]["exc_info"]["message"]), (&"error".into(), &"no luck x2".into()));
    assert_success_end(s[1]);
    assert_error_end(common::end_of(&recs, "capture_sync::io_alias"), "disk gone", &[]);
}

/// An error type that is neither `Error` nor `Display`.
#[derive(Debug)]
struct Opaque;

#[capture]
fn opaque(fail: bool) -> Result<u8, Opaque> {
    if fail {
        Err(Opaque)
    } else {
        Ok(1)
    }
}

#[test]
fn an_err_whose_type_is_not_display_still_ends_with_error() {
    if common::is_child("an_err_whose_type_is_not_display_still_ends_with_error") {
        assert!(opaque(true).is_err());
        assert!(opaque(false).is_ok());
        return;
    }
    let recs = common::records_of("an_err_whose_type_is_not_display_still_ends_with_error", &[]);
    let e: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::opaque").collect();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0]["status"], "error");
    assert!(e[0]["exc_info"]["type"].as_str().unwrap().ends_with("Opaque"), "{}", e[0]);
    assert_success_end(e[1]);
}

#[capture(n = v.len())]
fn evens(v: &[u32]) -> impl Iterator<Item = u32> + '_ {
    v.iter().copied().filter(|x| x % 2 == 0)
}

#[capture]
fn shown(fail: bool) -> Result<impl fmt::Display, ReadError> {
    let n = disk(fail)?;
    Ok(n * 10)
}

#[test]
fn impl_trait_returns_are_captured() {
    if common::is_child("impl_trait_returns_are_captured") {
        assert_eq!(evens(&[1, 2, 3, 4]).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(shown(false).unwrap().to_string(), "50");
        assert!(shown(true).is_err());
        return;
    }
    let recs = common::records_of("impl_trait_returns_are_captured", &[]);
    let ev = common::end_of(&recs, "capture_sync::evens");
    assert_success_end(ev);
    assert_eq!(ev["n"], 4);
    let s: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::shown").collect();
    assert_eq!(s.len(), 2);
    assert_success_end(s[0]);
    assert_error_end(s[1], "read failed", &["disk gone"]);
}

#[capture(kind = std::any::type_name::<T>(), count = items.len())]
fn largest<'a, T>(items: &'a [T]) -> Option<&'a T>
where
    T: PartialOrd,
{
    let mut best = None;
    for x in items {
        if best.is_none_or(|b| x > b) {
            best = Some(x);
        }
    }
    best
}

#[capture]
fn total<I, const N: usize>(groups: [I; N]) -> Result<i64, String>
where
    I: IntoIterator<Item = i64>,
{
    let sum: i64 = groups.into_iter().flatten().sum();
    if sum < 0 {
        return Err(format!("negative total {sum}"));
    }
    Ok(sum)
}

#[capture]
fn first<'a>(v: &'a [u8]) -> &'a u8 {
    &v[0]
}

#[capture]
fn first_mut(v: &mut [u8]) -> &mut u8 {
    &mut v[0]
}

#[capture]
fn lookup<'m>(m: &'m std::collections::HashMap<u8, String>, k: u8) -> Result<&'m str, String> {
    let v = m.get(&k).ok_or_else(|| format!("no key {k}"))?;
    Ok(v.as_str())
}

#[test]
fn generic_fns_and_fns_returning_borrows_of_their_arguments_are_captured() {
    if common::is_child("generic_fns_and_fns_returning_borrows_of_their_arguments_are_captured") {
        assert_eq!(largest(&[3i64, 9, 4]), Some(&9));
        assert_eq!(total([vec![1, 2], vec![3]]), Ok(6));
        assert!(total([vec![-1]]).is_err());
        let mut v = [1u8, 2];
        assert_eq!(*first(&v), 1);
        *first_mut(&mut v) = 7;
        assert_eq!(v, [7, 2]);
        let m = std::collections::HashMap::from([(1u8, "one".to_owned())]);
        assert_eq!(lookup(&m, 1), Ok("one"));
        assert!(lookup(&m, 2).is_err());
        return;
    }
    let recs = common::records_of("generic_fns_and_fns_returning_borrows_of_their_arguments_are_captured", &[]);
    let l = common::end_of(&recs, "capture_sync::largest");
    assert_success_end(l);
    assert_eq!((&l["kind"], &l["count"]), (&"i64".into(), &3.into()));
    let t: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::total").collect();
    assert_eq!(t.len(), 2);
    assert_success_end(t[0]);
    assert_eq!((&t[1]["status"], &t[1]["exc_info"]["message"]), (&"error".into(), &"negative total -1".into()));
    assert_success_end(common::end_of(&recs, "capture_sync::first"));
    assert_success_end(common::end_of(&recs, "capture_sync::first_mut"));
    let lk: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::lookup").collect();
    assert_eq!(lk.len(), 2);
    assert_success_end(lk[0]);
    assert_eq!((&lk[1]["status"], &lk[1]["exc_info"]["message"]), (&"error".into(), &"no key 2".into()));
}

struct Shop {
    stock: u32,
}

impl Shop {
    #[capture]
    fn new(stock: u32) -> Self {
        Shop { stock }
    }

    #[capture]
    fn stock(&self) -> u32 {
        self.stock
    }

    #[capture(item = %item, qty)]
    fn buy(&mut self, item: &str, qty: u32) -> Result<u32, String> {
        logkit::info!("buying");
        self.stock = self.stock.checked_sub(qty).ok_or_else(|| format!("only {} {item} left", self.stock))?;
        Ok(self.stock)
    }

    #[capture]
    fn stock_mut(&mut self) -> &mut u32 {
        &mut self.stock
    }

    #[capture(left = self.stock)]
    fn close(self) -> u32 {
        self.stock
    }
}

trait Inventory {
    fn count(&self) -> u32;
}

impl Inventory for Shop {
    #[capture]
    fn count(&self) -> u32 {
        self.stock
    }
}

/// A generic type with a captured method.
struct Crate<T>(Vec<T>);

impl<T> Crate<T> {
    #[capture]
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[test]
fn methods_taking_self_in_every_form_are_named_type_then_method() {
    if common::is_child("methods_taking_self_in_every_form_are_named_type_then_method") {
        let mut shop = Shop::new(5);
        assert_eq!(shop.stock(), 5);
        assert_eq!(shop.buy("apple", 2), Ok(3));
        assert!(shop.buy("apple", 9).is_err());
        *shop.stock_mut() += 1;
        assert_eq!(shop.count(), 4);
        assert_eq!(shop.close(), 4);
        assert_eq!(Crate(vec![1, 2]).len(), 2);
        return;
    }
    let recs = common::records_of("methods_taking_self_in_every_form_are_named_type_then_method", &[]);
    let names: Vec<&str> = common::ends(&recs).iter().map(|r| r["span"].as_str().unwrap()).collect();
    assert_eq!(
        names[..7],
        [
            "capture_sync::Shop::new",
            "capture_sync::Shop::stock",
            "capture_sync::Shop::buy",
            "capture_sync::Shop::buy",
            "capture_sync::Shop::stock_mut",
            "<capture_sync::Shop as capture_sync::Inventory>::count",
            "capture_sync::Shop::close",
        ]
    );
    // A generic impl's type is named without its (inferred) parameters.
    assert_eq!(names[7], "capture_sync::Crate::len");
    let buys: Vec<&J> = common::ends(&recs).into_iter().filter(|r| r["span"] == "capture_sync::Shop::buy").collect();
    assert_success_end(buys[0]);
    assert_eq!((&buys[0]["item"], &buys[0]["qty"]), (&"apple".into(), &2.into()));
    assert_eq!((&buys[1]["status"], &buys[1]["exc_info"]["message"]), (&"error".into(), &"only 3 apple left".into()));
    let buying = common::events(&recs, "buying");
    assert_eq!(buying.len(), 2);
    assert_eq!(buying[0]["span_id"], buys[0]["span_id"]);
    assert_eq!(buying[1]["span_id"], buys[1]["span_id"]);
    assert_eq!(common::end_of(&recs, "capture_sync::Shop::close")["left"], 4);
}

#[capture(job = 3)]
fn explode(n: u32) -> u32 {
    logkit::info!("about to fail");
    if n > 0 {
        panic!("boom at {n}");
    }
    n
}

#[capture]
fn diverge() -> ! {
    panic!("never returns")
}

#[test]
fn a_panic_ends_the_span_with_the_panic_in_exc_info() {
    if common::is_child("a_panic_ends_the_span_with_the_panic_in_exc_info") {
        assert!(std::panic::catch_unwind(|| explode(3)).is_err());
        assert!(std::panic::catch_unwind(|| diverge()).is_err());
        logkit::info!("after");
        return;
    }
    let recs = common::records_of("a_panic_ends_the_span_with_the_panic_in_exc_info", &[]);
    let end = common::end_of(&recs, "capture_sync::explode");
    assert_eq!((&end["status"], &end["level"], &end["job"]), (&"error".into(), &"error".into(), &3.into()));
    assert_eq!((&end["exc_info"]["type"], &end["exc_info"]["message"]), (&"panic".into(), &"boom at 3".into()));
    assert!(end["exc_info"]["location"].as_str().unwrap().contains("capture_sync.rs"), "{end}");
    assert_eq!(common::the(&recs, "about to fail")["span_id"], end["span_id"]);
    let d = common::end_of(&recs, "capture_sync::diverge");
    assert_eq!((&d["status"], &d["exc_info"]["message"]), (&"error".into(), &"never returns".into()));
    let after = common::the(&recs, "after");
    assert!(after.get("span_id").is_none() && after.get("job").is_none(), "{after}");
}

#[capture]
fn with_local_items(n: u32) -> u32 {
    use std::ops::Add;

    const STEP: u32 = 2;

    #[capture]
    fn helper(n: u32) -> u32 {
        n.add(STEP)
    }

    helper(n)
}

#[test]
fn a_captured_fn_declared_inside_a_captured_fn_is_named_by_its_path() {
    if common::is_child("a_captured_fn_declared_inside_a_captured_fn_is_named_by_its_path") {
        assert_eq!(with_local_items(1), 3);
        return;
    }
    let recs = common::records_of("a_captured_fn_declared_inside_a_captured_fn_is_named_by_its_path", &[]);
    let h = common::end_of(&recs, "capture_sync::with_local_items::helper");
    assert_eq!(h["parent_span_id"], common::end_of(&recs, "capture_sync::with_local_items")["span_id"]);
}

/// An error type with `Debug` only (no `Display`, no `Error`).
#[derive(Debug)]
#[allow(dead_code)]
enum Rejected {
    Quota { used: u32 },
}

#[capture]
fn reserve(n: u32) -> Result<u32, Rejected> {
    Err(Rejected::Quota { used: n })
}

#[test]
fn an_err_that_is_only_debug_ends_the_span_with_its_debug_text() {
    if common::is_child("an_err_that_is_only_debug_ends_the_span_with_its_debug_text") {
        assert!(reserve(9).is_err());
        return;
    }
    let recs = common::records_of("an_err_that_is_only_debug_ends_the_span_with_its_debug_text", &[]);
    let end = common::end_of(&recs, "capture_sync::reserve");
    assert_eq!(end["status"], "error", "{end}");
    assert_eq!(end["exc_info"]["message"], "Quota { used: 9 }", "{end}");
}

#[test]
fn an_error_logged_as_a_dyn_error_field_carries_its_message_and_source_chain() {
    if common::is_child("an_error_logged_as_a_dyn_error_field_carries_its_message_and_source_chain") {
        let e = read_error();
        logkit::error!(error = &e as &dyn Error, "request failed");
        let boxed: Box<dyn Error + Send + Sync> = Box::new(read_error());
        logkit::error!(error = boxed, "boxed");
        return;
    }
    let recs = common::records_of("an_error_logged_as_a_dyn_error_field_carries_its_message_and_source_chain", &[]);
    for event in ["request failed", "boxed"] {
        let r = common::the(&recs, event);
        assert_eq!(r["error"]["message"], read_error().to_string(), "{r}");
        assert_eq!(r["error"]["chain"], serde_json::json!(["disk gone"]), "{r}");
    }
}
