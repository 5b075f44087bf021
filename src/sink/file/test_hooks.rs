//! The file sink's test hooks, in one value: injected faults and what the sink did
//! (reports, writeback kicks, page-cache hand-backs, write lengths). Compiled for
//! tests only; the sink's own tests and other modules' tests (the writer, the file
//! thread) use them.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use super::FileSink;

/// Faults to inject and what the sink did.
#[derive(Default)]
pub(super) struct TestHooks {
    /// Bytes the descriptor still accepts before writes fail with ENOSPC.
    pub(super) fault: Option<usize>,
    /// Every report made.
    pub(super) reports: Vec<String>,
    /// How often writeback was started.
    pub(super) kicks: u32,
    /// How often written pages were handed back.
    pub(super) releases: u32,
    /// The length of every `write(2)` made.
    pub(super) write_lens: Vec<usize>,
    /// The next `write` panics.
    pub(super) panic_next: bool,
    /// The next `write` first waits on this barrier.
    pub(super) gate: Option<Arc<Barrier>>,
}

impl FileSink {
    /// Something was written since the last successful `fdatasync`.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes fail with ENOSPC once `n` more bytes have been accepted.
    pub(crate) fn fail_writes_after(&mut self, n: usize) {
        self.hooks.fault = Some(n);
    }

    /// The next `write` panics (a bug in the sink, as far as its callers can tell).
    pub(crate) fn panic_on_next_write(&mut self) {
        self.hooks.panic_next = true;
    }

    /// The next `write` first waits on `gate` (a write that takes as long as a test
    /// wants).
    pub(crate) fn block_next_write_on(&mut self, gate: Arc<Barrier>) {
        self.hooks.gate = Some(gate);
    }

    /// The disk accepts writes again, and the next `retry` tries at once.
    pub(crate) fn heal(&mut self) {
        self.hooks.fault = None;
        self.next_retry = Instant::now();
        self.next_check = Instant::now();
    }
}
