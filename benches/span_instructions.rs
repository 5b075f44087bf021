//! The program PERF.md's "Trace sampling, START records and the open-span registry"
//! counts instructions of under callgrind: `N` calls of one kind (`MODE`) on the main
//! thread, then `flush()`. Run twice (N = 20 000 and 60 000), the difference of the main
//! thread's instructions divided by 40 000 is one call's cost on the calling thread,
//! start-up and exit cancelled out.
//!
//! `MODE`: `span` (a span created and dropped; `LOG_SPAN_START` decides its START
//! record), `disabled` (a DEBUG record below the INFO floor), `sampled` (an INFO record
//! sampled out per record, outside any trace: `set_sample(0.0)`), `sampled_trace` (the
//! same inside a work unit, whose trace decides).
//!
//! ```text
//! cargo bench --bench span_instructions --no-run
//! for n in 20000 60000; do N=$n MODE=span LOG_SPAN_START=1 valgrind --tool=callgrind \
//!     --separate-threads=yes --callgrind-out-file=cg-$n target/release/deps/span_instructions-*; done
//! ```
use std::hint::black_box;

fn main() {
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let mode = std::env::var("MODE").unwrap_or_else(|_| "span".into());
    let _guard = logkit::Config::from_env()
        .expect("LOG_* knobs")
        .file("/dev/null")
        .console(logkit::Console::Off)
        .rotate_bytes(0)
        .level("info")
        .init()
        .expect("logkit init");
    match mode.as_str() {
        "span" => {
            for _ in 0..n {
                let _s = logkit::span!("unit");
            }
        }
        "disabled" => {
            for i in 0..n {
                logkit::debug!(order_id = black_box(i), "disabled");
            }
        }
        "sampled" => {
            logkit::set_sample(0.0).expect("sample");
            for i in 0..n {
                logkit::info!(order_id = black_box(i), "sampled out");
            }
        }
        "sampled_trace" => {
            logkit::set_sample(0.0).expect("sample");
            let _unit = logkit::scoped_context!(user = "u1");
            for i in 0..n {
                logkit::info!(order_id = black_box(i), "sampled out");
            }
        }
        other => panic!("MODE={other}: expected span, disabled, sampled or sampled_trace"),
    }
    logkit::flush();
}
