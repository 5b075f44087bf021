//! In steady state a `tracing` event through logkit's layer allocates nothing when its
//! fields are primitives and strings, inside a span as outside one.
//!
//! A counting global allocator counts allocations made by the logging thread only (see
//! `common::alloc`); one test per binary, since logkit and the global subscriber are
//! process-wide.
#![cfg(feature = "tracing")]

mod common;

use common::alloc::counted;

#[global_allocator]
static GLOBAL: common::alloc::Counting = common::alloc::Counting;

fn burst(n: u64) {
    let name = "ann";
    for i in 0..n {
        tracing::info!(order_id = i, price = 1.5, symbol = "BTC-USD", ok = true, "order filled");
        tracing::debug!(user = %name, delta = -3i64, big = u128::MAX, "handled {} items", i);
        tracing::trace!(i, "disabled: not even evaluated");
    }
}

#[test]
fn steady_state_tracing_events_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = logkit::Config::default()
        .file(dir.path().join("run.log"))
        .console(logkit::Console::Off)
        .buffer(1024)
        .rotate_bytes(0)
        .level("debug")
        .init()
        .unwrap();
    logkit::tracing::init().expect("no other subscriber");
    let span = tracing::info_span!("batch", shard = 3u32);
    // Warm-up: call-site registration, thread registration, and enough full buffers
    // for the pool of recycled buffers to reach its working size.
    burst(100_000);
    span.in_scope(|| burst(100_000));
    logkit::flush();
    let outside = counted(|| burst(100_000));
    let inside = counted(|| {
        let _entered = span.enter();
        burst(100_000);
    });
    logkit::flush();
    assert_eq!((outside, inside), (0, 0), "tracing events allocated in steady state (outside, inside a span)");
    drop(span);
    logkit::flush();
    let text = common::log_text(&dir.path().join("run.log"));
    // 2 records per iteration, 4 bursts, and the span's START and END.
    assert_eq!(text.lines().count(), 800_002);
    assert_eq!(text.lines().filter(|l| l.contains("\"shard\":3")).count(), 400_002);
}
