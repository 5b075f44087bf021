//! Nested values through serde (feature `serde`): one JSON value in the record,
//! redaction at any depth, unserializable values reported instead of breaking the line.
#![cfg(feature = "serde")]
mod common;

use std::collections::HashMap;

#[derive(serde::Serialize)]
struct Order {
    id: u64,
    symbol: &'static str,
    legs: Vec<Leg>,
    auth: Auth,
}

#[derive(serde::Serialize)]
struct Leg {
    qty: i32,
    price: f64,
}

#[derive(serde::Serialize)]
struct Auth {
    user: &'static str,
    token: &'static str,
}

fn order() -> Order {
    Order {
        id: 7,
        symbol: "BTC-USD",
        legs: vec![Leg { qty: 2, price: 1.5 }, Leg { qty: -1, price: 2.25 }],
        auth: Auth { user: "ann", token: "s3cr3t" },
    }
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!(order = logkit::Serde(&order()), "placed");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    let r = &common::read_jsonl(&dir.path().join("run.log"))[0];
    assert_eq!(r["order"]["id"], 7);
    assert_eq!(r["order"]["legs"][1]["price"], 2.25);
    assert_eq!(r["order"]["auth"]["user"], "ann");
}

#[test]
fn redacted_keys_are_masked_inside_nested_values_in_file_and_console() {
    const NAME: &str = "redacted_keys_are_masked_inside_nested_values_in_file_and_console";
    if common::is_child(NAME) {
        logkit::new_context!(session = logkit::Serde(&HashMap::from([("password", "hunter2"), ("id", "s1")])));
        logkit::info!(order = logkit::Serde(&order()), "placed");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_CONSOLE", "stderr"));
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    assert!(!text.contains("s3cr3t") && !text.contains("hunter2"), "a secret reached the file:\n{text}");
    let r = &common::parse_jsonl(&text)[0];
    assert_eq!(r["order"]["auth"]["token"], "***");
    assert_eq!(r["order"]["auth"]["user"], "ann");
    assert_eq!(r["session"]["password"], "***");
    assert_eq!(r["session"]["id"], "s1");
    let console = String::from_utf8_lossy(&out.stderr);
    assert!(console.contains("placed"), "{console}");
    assert!(!console.contains("s3cr3t") && !console.contains("hunter2"), "a secret reached the console:\n{console}");
}

#[test]
fn an_unserializable_value_is_logged_as_a_string_saying_why() {
    const NAME: &str = "an_unserializable_value_is_logged_as_a_string_saying_why";
    if common::is_child(NAME) {
        // JSON object keys must be strings: a map keyed by tuples cannot be serialized.
        let m: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
        logkit::info!(m = logkit::Serde(&m), after = 1, "still one valid line");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    let r = &common::read_jsonl(&dir.path().join("run.log"))[0];
    assert!(r["m"].as_str().unwrap().starts_with("(not serializable"), "{}", r["m"]);
    assert_eq!(r["after"], 1);
}
