//! A program written against `tracing` (`tracing::info!`, spans, `#[instrument]`),
//! logging through logkit with one line changed: `logkit::tracing::init()` where it
//! had `tracing_subscriber::fmt().init()`.
//!
//! `cargo run --example from_tracing --features tracing`, then read `run.log`
//! (`jq -c 'select(.status=="error")' run.log` for the failed spans).

use tracing::{info, info_span, instrument, warn};

#[derive(Debug)]
struct PaymentError {
    order: u64,
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "card declined for order {}", self.order)
    }
}

impl std::error::Error for PaymentError {}

/// A span per call, its arguments as fields: logkit binds them to every record inside
/// and logs one `END` with `dur_ms` and `status`.
#[instrument]
fn price(order: u64, items: u32) -> f64 {
    let total = f64::from(items) * 9.5;
    info!(total, "priced");
    total
}

/// `err`: an `Err` return is an ERROR event with an `error` field, and logkit ends
/// the span with `status="error"` and the error in `exc_info`.
#[instrument(err)]
fn charge(order: u64, total: f64) -> Result<(), PaymentError> {
    if order == 3 {
        return Err(PaymentError { order });
    }
    info!(amount = total, currency = "EUR", "charged");
    Ok(())
}

fn main() {
    // The one changed line (was: `tracing_subscriber::fmt().init();`).
    logkit::tracing::init().expect("no other global tracing subscriber");

    let batch = info_span!("batch", run = "nightly");
    let _batch = batch.enter();
    for order in 1..=4u64 {
        let total = price(order, order as u32 + 1);
        if charge(order, total).is_err() {
            warn!(order, "order left unpaid");
        }
    }
    tracing::debug!(orders = 4, "batch done");
}
