//! Measurement probes for PERF.md, not a tutorial (see `quickstart` for that).
//!
//! - `probe log N`: N `info!` records of the 4-field kind (u64, f64, &str, bool) inside a
//!   2-key context and a span with one key. For callgrind:
//!   `valgrind --tool=callgrind --toggle-collect='logkit::__private::log' probe log N`
//!   counts the instructions spent inside the log call; the difference between two N
//!   divided by their difference is the cost per call.
//! - `probe task N` (feature `tokio`): the `log` loop inside a task started with plain
//!   `tokio::spawn` on a current-thread runtime, where the context is the task's own
//!   (the record checks the running task's id).
//! - `probe deep N`: N nested spans, each binding a key, then `flush()`; prints the
//!   wall time the application spent from the first span to the return of `flush()`.
//!
//! Run it with `LOG_CONSOLE=off` (and `LOG_FILE=/dev/null` for `log`).

use std::time::Instant;

use logkit::{info, new_context, span, Span};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("log");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    match mode {
        "log" => {
            new_context!(user = "u1", path = "/orders");
            let _span = span!("probe", shard = 3u32);
            for i in 0..n {
                info!(order_id = i, price = 1.5, symbol = "BTC", ok = true, "order filled");
            }
        }
        #[cfg(feature = "tokio")]
        "task" => {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            rt.block_on(async move {
                tokio::spawn(async move {
                    new_context!(user = "u1", path = "/orders");
                    let _span = span!("probe", shard = 3u32);
                    for i in 0..n {
                        info!(order_id = i, price = 1.5, symbol = "BTC", ok = true, "order filled");
                    }
                })
                .await
                .expect("task");
            });
        }
        "deep" => {
            new_context!(user = "u1");
            let start = Instant::now();
            let mut spans: Vec<Span> = Vec::with_capacity(n as usize);
            for depth in 0..n {
                spans.push(span!("level", depth));
            }
            while let Some(s) = spans.pop() {
                drop(s);
            }
            logkit::flush();
            println!("deep {n}: {:.3} s", start.elapsed().as_secs_f64());
        }
        other => eprintln!("unknown mode {other}: log | task | deep"),
    }
    logkit::flush();
}
