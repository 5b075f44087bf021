//! The quickstart: run with `cargo run --release --example quickstart`, then read
//! `run.log` (e.g. `jq -c . run.log`). Try `LOG_PROFILE=prod` for JSON on the console.

use logkit::{debug, error, info, warn};

#[derive(Debug)]
struct Request {
    user: &'static str,
    items: Vec<u32>,
}

fn main() {
    let req = Request { user: "u1", items: vec![3, 1, 4] };
    info!(version = env!("CARGO_PKG_VERSION"), "quickstart starting");
    info!(order_id = 42u64, price = 1.5, symbol = "BTC-USD", ok = true, "order filled");
    debug!(user = %req.user, req = ?req, "handled {} items", req.items.len());
    let n = req.items.len();
    info!(n, "shorthand field");
    warn!(target: "app::db", latency_ms = 250.5, "slow query");
    info!(password = "hunter2", "redacted by LOG_REDACT");
    info!(note = "quotes \" and newlines \n and \u{1b}[31mANSI\u{1b}[0m stay inside one line");
    error!(code = 503, "upstream unavailable");
    logkit::flush();
    eprintln!("\nwrote {} — try: jq -c . run.log", std::env::var("LOG_FILE").unwrap_or_else(|_| "run.log".into()));
}
