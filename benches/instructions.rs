//! The program whose instructions `benches/callgrind.sh` counts: `RECORDS` records of
//! the 4-field kind (u64, f64, &str, bool), logged on the main thread to `/dev/null`
//! (console off, rotation off), then `flush()`. Run under callgrind twice, with
//! 100 k and 300 k records, the difference divided by 200 k is the cost of one record
//! with start-up and exit cancelled out; the main thread's share is the caller's.
//!
//! `KIND=span` logs spans instead: each a `span!` with one field, created and dropped
//! (its `START` and `END` records).
//!
//! Alone (`cargo bench --bench instructions`) it only logs; the script builds this
//! file against any commit, so one program measures before and after.

fn main() {
    let records: u64 = std::env::var("RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let _guard = logkit::Config::default()
        .file("/dev/null")
        .console(logkit::Console::Off)
        .rotate_bytes(0)
        .init()
        .expect("logkit init");
    if std::env::var("KIND").is_ok_and(|k| k == "span") {
        for i in 0..records {
            let _span = logkit::span!("work", item = i);
        }
    } else {
        for i in 0..records {
            logkit::info!(order_id = i, price = 1.5f64, symbol = "BTC-USD", ok = true, "order filled");
        }
    }
    logkit::flush();
}
