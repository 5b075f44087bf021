//! In steady state a log call allocates nothing: not for the record, not for its
//! `%`/`?` values, not for the hand-off of full buffers.
//!
//! A counting global allocator counts allocations made *by the logging thread* while
//! a flag is set, so the writer thread's own work (off the hot path) does not count.

mod common;

use common::alloc::counted;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

#[derive(Debug)]
struct Order {
    id: u64,
    side: &'static str,
}

fn burst(n: u64) {
    let order = Order { id: 9, side: "buy" };
    let name = "ann";
    for i in 0..n {
        logkit::info!(order_id = i, price = 1.5 + i as f64, symbol = "BTC-USD", ok = true, "order filled");
        logkit::debug!(user = %name, order = ?order, side = order.side, id = order.id, "handled {} items", i);
        logkit::trace!(i, "disabled: not even evaluated");
    }
}

// One test per binary: the allocator counts per thread, and logkit is process-wide.
#[test]
fn steady_state_log_calls_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = logkit::Config::default()
        .file(dir.path().join("run.log"))
        .console(logkit::Console::Off)
        .buffer(1024)
        .rotate_bytes(0)
        .level("debug")
        .init()
        .unwrap();
    // Warm-up: thread registration, and enough full buffers for the pool of recycled
    // buffers to reach its working size.
    burst(200_000);
    logkit::flush();
    let allocs = counted(|| burst(200_000));
    logkit::flush();
    assert_eq!(allocs, 0, "log calls allocated {allocs} times in steady state");
    // The records were really written.
    let text = common::log_text(&dir.path().join("run.log"));
    assert_eq!(text.lines().count(), 800_000);
}
