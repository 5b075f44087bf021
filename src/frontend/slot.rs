//! A thread's slot: its buffer behind a one-word spin lock, the owner's progress
//! counters, and the writer's decision when to steal a partly filled buffer
//! ([`Slot::should_steal`]). The protocol both sides follow is in `frontend/mod.rs`'s
//! docs; the owner's half is `Frontend::write`, the writer's `collect.rs`, and
//! `loom.rs` model-checks the two together.

use std::sync::atomic::Ordering;

use crate::pad::CachePadded;

/// The atomics and the cell behind [`Slot`]: std's, or loom's when the slot protocol is
/// model-checked (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`; see
/// `frontend/loom.rs`). Only the lib's own unit tests switch (loom is
/// a dev-dependency), so anything else built with `--cfg loom` still uses std.
pub(super) mod sync {
    #[cfg(all(test, loom))]
    pub(crate) use loom::{
        cell::UnsafeCell,
        hint::spin_loop,
        sync::atomic::{AtomicBool, AtomicU64},
        thread::yield_now,
    };
    #[cfg(not(all(test, loom)))]
    pub(crate) use std::{
        cell::UnsafeCell,
        hint::spin_loop,
        sync::atomic::{AtomicBool, AtomicU64},
        thread::yield_now,
    };
}

/// One thread's buffer, shared with the writer.
///
/// Aligned so that, inside its `Arc`, the owner's fields do not share a cache line
/// with the reference counts, which the writer bumps when it lists the slots.
#[repr(align(128))]
pub(crate) struct Slot {
    /// `true` while the owner appends or the writer steals.
    locked: sync::AtomicBool,
    /// Set by the owner after appending, cleared by the writer when it steals: lets the
    /// writer skip idle threads without touching their lock.
    pub(super) dirty: sync::AtomicBool,
    /// Records appended so far (written by the owner only, read by the writer to see
    /// whether the thread is still logging).
    pub(super) appended: sync::AtomicU64,
    /// Buffers the owner handed to the ring (written by the owner only, read by the
    /// writer: what waits in a slot that handed off since the last look is younger
    /// than that look).
    handoffs: sync::AtomicU64,
    pub(super) inner: sync::UnsafeCell<SlotInner>,
    /// The writer's bookkeeping, on cache lines of its own: the owner writes the fields
    /// above on every record, and a writer's store next to them would take the line
    /// away from the owner (a cross-core miss on its next record).
    watch: CachePadded<Watch>,
}

/// What the writer remembers of a slot between its looks (written by the writer only).
/// All times are ms on the writer's clock.
struct Watch {
    /// `appended` and `handoffs` at the last look, and when that look was.
    seen: sync::AtomicU64,
    seen_handoffs: sync::AtomicU64,
    looked_ms: sync::AtomicU64,
    /// No record waiting in the slot is older than this (0 = none known).
    pending_since_ms: sync::AtomicU64,
    /// The next look, and the current interval between looks.
    next_look_ms: sync::AtomicU64,
    interval_ms: sync::AtomicU64,
}

pub(crate) struct SlotInner {
    pub(crate) buf: Vec<u8>,
    pub(crate) records: u32,
}

// SAFETY: `inner` is only accessed by the thread that holds `locked` (acquired with an
// `Acquire` compare-exchange, released with a `Release` store), so accesses to it never
// overlap and each one sees the previous holder's writes. Everything else is atomic.
unsafe impl Sync for Slot {}
// SAFETY: `SlotInner` is plain owned data (`Vec<u8>`, `u32`), which is `Send`.
unsafe impl Send for Slot {}

impl Slot {
    pub(super) fn new(buf: Vec<u8>) -> Slot {
        Slot {
            locked: sync::AtomicBool::new(false),
            dirty: sync::AtomicBool::new(false),
            appended: sync::AtomicU64::new(0),
            handoffs: sync::AtomicU64::new(0),
            inner: sync::UnsafeCell::new(SlotInner { buf, records: 0 }),
            watch: CachePadded(Watch {
                seen: sync::AtomicU64::new(0),
                seen_handoffs: sync::AtomicU64::new(0),
                looked_ms: sync::AtomicU64::new(0),
                pending_since_ms: sync::AtomicU64::new(0),
                next_look_ms: sync::AtomicU64::new(0),
                interval_ms: sync::AtomicU64::new(1),
            }),
        }
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> Option<SlotGuard<'_>> {
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            Some(SlotGuard {
                slot: self,
                // Loom tracks the access to `inner` from here until the guard drops, so
                // an access that overlaps another holder's is reported by the model.
                #[cfg(all(test, loom))]
                access: Some(self.inner.get_mut()),
            })
        } else {
            None
        }
    }

    /// The owner's lock: contended only by a steal, which holds it for a pointer swap.
    #[inline]
    pub(super) fn lock(&self) -> SlotGuard<'_> {
        if let Some(g) = self.try_lock() {
            return g;
        }
        self.lock_slow()
    }

    #[cold]
    fn lock_slow(&self) -> SlotGuard<'_> {
        let mut spins = 0u32;
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            spins += 1;
            if spins < 64 {
                sync::spin_loop();
            } else {
                sync::yield_now();
            }
        }
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    /// The writer's periodic decision: steal this slot's partly filled buffer now?
    ///
    /// Not while its thread is still logging: a steal makes the owner's next record
    /// miss the cache on the lock and on a fresh buffer (~1 µs, the p99.9 of a thread
    /// logging once per µs), and a busy thread hands full buffers over by itself. So
    /// the writer steals when the thread made no progress since the last look, or when
    /// a record has waited `max_wait_ms`, which bounds how late a record is written. A
    /// hand-off since the last look restarts that wait: what the slot holds now was
    /// appended after it. A thread seen logging is looked at less and less often: each
    /// look makes the owner's next record take its slot's cache line back from the
    /// writer's core. The interval doubles up to half the wait bound, so a record
    /// appended just after a look is still stolen in time; between looks the writer
    /// does not touch the slot at all.
    pub(crate) fn should_steal(&self, now_ms: u64, max_wait_ms: u64) -> bool {
        let w = &self.watch;
        if now_ms < w.next_look_ms.load(Ordering::Relaxed) {
            return false;
        }
        let last_look = w.looked_ms.swap(now_ms, Ordering::Relaxed);
        if !self.is_dirty() {
            self.stolen();
            return false;
        }
        let appended = self.appended.load(Ordering::Relaxed);
        let handoffs = self.handoffs.load(Ordering::Relaxed);
        let progressed = w.seen.swap(appended, Ordering::Relaxed) != appended;
        let handed_off = w.seen_handoffs.swap(handoffs, Ordering::Relaxed) != handoffs;
        let mut since = w.pending_since_ms.load(Ordering::Relaxed);
        if since == 0 || handed_off {
            // What waits now was appended after the last look (or, on the first look,
            // counts from now).
            since = if last_look == 0 { now_ms } else { last_look }.max(1);
            w.pending_since_ms.store(since, Ordering::Relaxed);
        }
        if !progressed || now_ms.saturating_sub(since) >= max_wait_ms {
            return true;
        }
        let interval = (w.interval_ms.load(Ordering::Relaxed) * 2).min(max_wait_ms / 2).max(1);
        w.interval_ms.store(interval, Ordering::Relaxed);
        w.next_look_ms.store((now_ms + interval).min(since + max_wait_ms), Ordering::Relaxed);
        false
    }

    /// After a steal (or a look at an idle slot): nothing pending; look again at the
    /// next tick.
    pub(crate) fn stolen(&self) {
        let w = &self.watch;
        w.pending_since_ms.store(0, Ordering::Relaxed);
        w.interval_ms.store(1, Ordering::Relaxed);
        w.next_look_ms.store(0, Ordering::Relaxed);
    }

    /// Empties the slot as a forked child inherited it (see `frontend::fork`): the records
    /// in it are the parent's, which the parent writes; its lock may be held by a thread
    /// that is not in the child (the parent's writer, stealing); and the writer's
    /// bookkeeping is a writer's on another clock.
    ///
    /// # Safety
    /// No other thread uses the slot during the call, and any holder of its lock is gone:
    /// only in a forked child, before the slot joins the child's frontend.
    pub(super) unsafe fn reset_after_fork(&self) {
        let was_locked = self.locked.swap(false, Ordering::Acquire);
        let Some(mut guard) = self.try_lock() else { return };
        let inner = guard.inner();
        if was_locked {
            // A steal may have been in the middle of swapping the buffer, so its three
            // words may not belong together: leave it unread (a leak, once per fork).
            std::mem::forget(std::mem::replace(&mut inner.buf, super::touched_buffer()));
        } else {
            inner.buf.clear();
        }
        inner.records = 0;
        guard.clear_dirty();
        let w = &self.watch;
        w.seen.store(self.appended.load(Ordering::Relaxed), Ordering::Relaxed);
        w.seen_handoffs.store(self.handoffs.load(Ordering::Relaxed), Ordering::Relaxed);
        w.looked_ms.store(0, Ordering::Relaxed);
        self.stolen();
    }

    /// The owner handed its buffer to the ring (called under the slot's lock).
    #[inline]
    pub(super) fn handed_off(&self) {
        // Only the owner writes `handoffs`: a load and a store, no RMW.
        self.handoffs.store(self.handoffs.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
}

/// Holds a slot's lock; releases it on drop (also when a `Display` impl panics).
pub(crate) struct SlotGuard<'a> {
    pub(super) slot: &'a Slot,
    #[cfg(all(test, loom))]
    pub(super) access: Option<loom::cell::MutPtr<SlotInner>>,
}

impl SlotGuard<'_> {
    #[cfg(not(all(test, loom)))]
    #[inline]
    pub(crate) fn inner(&mut self) -> &mut SlotInner {
        // SAFETY: this guard holds `locked`, so no other reference to `inner` exists
        // (see the `Sync` impl), and `&mut self` makes this one unique.
        unsafe { &mut *self.slot.inner.get() }
    }

    /// Under loom: the same, through the access registered when the lock was taken.
    #[cfg(all(test, loom))]
    pub(crate) fn inner(&mut self) -> &mut SlotInner {
        // SAFETY: as in the std version; the pointer is the access loom tracks from
        // `try_lock` until this guard drops, and `&mut self` makes this borrow unique.
        unsafe { self.access.as_ref().expect("access lives as long as the guard").deref() }
    }

    pub(crate) fn clear_dirty(&self) {
        self.slot.dirty.store(false, Ordering::Relaxed);
    }
}

impl Drop for SlotGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // End loom's record of the access before the lock is released.
        #[cfg(all(test, loom))]
        drop(self.access.take());
        self.slot.locked.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod steal_tests {
    use super::*;

    /// The owner's side of a slot, as `Frontend::write` leaves it: `n` more records,
    /// and a hand-off when `handed_off`.
    fn log(slot: &Slot, n: u64, handed_off: bool) {
        slot.dirty.store(true, Ordering::Relaxed);
        slot.appended.store(slot.appended.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        if handed_off {
            slot.handed_off();
        }
    }

    /// Runs the writer's tick (every ms) from `from` to `to` ms; returns the ms of each
    /// steal and the number of ticks that read the owner's fields.
    fn ticks(slot: &Slot, from: u64, to: u64, mut owner: impl FnMut(u64)) -> (Vec<u64>, usize) {
        let (mut steals, mut looks) = (Vec::new(), 0);
        for now in from..to {
            owner(now);
            let before = slot.watch.looked_ms.load(Ordering::Relaxed);
            if slot.should_steal(now, 10) {
                steals.push(now);
                slot.dirty.store(false, Ordering::Relaxed);
                slot.stolen();
            }
            looks += usize::from(slot.watch.looked_ms.load(Ordering::Relaxed) != before);
        }
        (steals, looks)
    }

    #[test]
    fn a_thread_that_hands_off_by_itself_is_never_stolen_and_rarely_looked_at() {
        let slot = Slot::new(Vec::new());
        // ~1 000 records and one full buffer handed off per ms, for 1 s.
        let (steals, looks) = ticks(&slot, 1, 1001, |_| log(&slot, 1000, true));
        assert_eq!(steals, Vec::<u64>::new());
        // After 1, 2 and 4 ms, every 5 ms (half the 10 ms wait bound).
        assert!(looks <= 1000 / 5 + 3, "{looks} looks in 1 000 ticks");
    }

    #[test]
    fn a_thread_that_stops_logging_is_stolen_within_the_wait_bound() {
        let slot = Slot::new(Vec::new());
        let (steals, _) = ticks(&slot, 1, 300, |now| {
            if now <= 200 {
                log(&slot, 1000, now % 2 == 0);
            }
        });
        assert_eq!(steals.len(), 1, "{steals:?}");
        // Its last records (at 200 ms) waited at most the 10 ms bound.
        assert!((201..=210).contains(&steals[0]), "stolen at {}", steals[0]);
    }

    #[test]
    fn a_record_in_a_thread_that_never_fills_its_buffer_waits_at_most_the_bound() {
        let slot = Slot::new(Vec::new());
        // One record per ms, never a hand-off: every steal comes from the wait bound,
        // and the oldest record waiting at a steal was appended after the previous one.
        let (steals, _) = ticks(&slot, 1, 200, |_| log(&slot, 1, false));
        assert!(steals.len() >= 15, "{steals:?}");
        let mut last = 0;
        for &s in &steals {
            assert!(s - last <= 11, "records waited {} ms: {steals:?}", s - last);
            last = s;
        }
    }

    #[test]
    fn a_lone_record_is_stolen_within_a_few_ticks_and_an_idle_slot_never() {
        let slot = Slot::new(Vec::new());
        let (steals, _) = ticks(&slot, 1, 50, |now| {
            if now == 20 {
                log(&slot, 1, false);
            }
        });
        assert_eq!(steals.len(), 1, "{steals:?}");
        assert!((20..=23).contains(&steals[0]), "stolen at {}", steals[0]);
    }
}
