//! In steady state a log call allocates nothing: not for the record, not for its
//! `%`/`?` values, not for the hand-off of full buffers.
//!
//! A counting global allocator counts allocations made *by the logging thread* while
//! a flag is set, so the writer thread's own work (off the hot path) does not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: delegates every call to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<F: FnMut()>(mut f: F) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.load(Ordering::Relaxed) - before
}

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
    let text = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
    assert_eq!(text.lines().count(), 800_000);
}
