//! The quickstart: `cargo run --release --example quickstart`, then read `run.log`
//! (`jq -c . run.log`, or `jq -c 'select(.status=="error")' run.log` for failures).
//! `LOG_PROFILE=prod` prints JSON on the console instead of the pretty lines.

use logkit::{capture, debug, error, info, scoped_context, span, warn};

#[derive(Debug)]
struct Request {
    user: &'static str,
    path: &'static str,
    items: Vec<u32>,
}

#[derive(Debug)]
struct StockError {
    item: u32,
    source: std::io::Error,
}

impl std::fmt::Display for StockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot reserve item {}", self.item)
    }
}

impl std::error::Error for StockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Rule 3 as an attribute: one END record with `dur_ms` and `status`; an `Err`
/// return ends the span with `status="error"` and the error chain in `exc_info`.
#[capture(item)]
fn reserve(item: u32) -> Result<u32, StockError> {
    if item == 4 {
        return Err(StockError { item, source: std::io::Error::other("warehouse offline") });
    }
    debug!(units = item * 10, "reserved");
    Ok(item * 10)
}

fn handle(req: &Request) {
    // Rule 2: once per work unit. Every record until `trace` goes out of scope carries
    // trace_id, user, path; then main's own records are back in main's context.
    let trace = scoped_context!(user = req.user, path = req.path);
    // Rule 3 as a guard: span_id on every record inside, one END record on drop.
    let _span = span!("handle", items = req.items.len());
    info!(req = ?req, "parsed request");
    let mut total = 0;
    for &item in &req.items {
        match reserve(item) {
            Ok(n) => total += n,
            Err(e) => warn!(error = %e, "item skipped"),
        }
    }
    info!(total, "request done (trace {})", *trace);
}

fn main() {
    info!(version = env!("CARGO_PKG_VERSION"), "quickstart starting");
    info!(order_id = 42u64, price = 1.5, symbol = "BTC-USD", ok = true, "order filled");
    handle(&Request { user: "u1", path: "/orders", items: vec![3, 1, 4] });
    warn!(target: "app::db", latency_ms = 250.5, "slow query");
    info!(password = "hunter2", "LOG_REDACT masks this password");
    info!(note = "quotes \" newlines \n and \u{1b}[31mANSI\u{1b}[0m stay inside one line");
    error!(code = 503, "upstream unavailable");
    logkit::flush();
    let file = std::env::var("LOG_FILE").unwrap_or_else(|_| "run.log".into());
    eprintln!("\nwrote {file} — try: jq -c 'select(.status==\"error\")' {file}");
}
