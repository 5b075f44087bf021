//! Cache-line padding for state that one thread writes while another reads its
//! neighbours.
//!
//! A log call reads a handful of words (the gate, the runtime's ring and batch size, its
//! slot). When the writer thread stores to a word on the same cache line (a mutex it
//! locks, a counter it swaps, an `Arc` count it bumps), the line moves to the writer's
//! core and the caller's next read misses: ~100 ns on the 2-core VM PERF.md describes,
//! once per writer pass, which is the p99.9 of a thread that logs once per µs. Each
//! such word therefore sits on lines of its own: in a [`CachePadded`], or, for a
//! thread's `Slot`, by the struct's own alignment (its `Arc` counts come before it).

use std::ops::Deref;

/// `T` alone on its cache lines. 128 bytes: x86_64 fetches lines in adjacent pairs
/// (the spatial prefetcher), so two 64-byte lines still interfere.
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}
