//! The writer's half of the slot protocol: drain the ring, steal partly filled
//! buffers from the slots, take every slot for a flush, and recycle emptied buffers.
//!
//! Every buffer of a thread reaches [`Collector::batches`] in the order it was filled:
//! the ring is drained *after* a slot is locked and *before* its buffer is taken (see
//! the protocol in `frontend/mod.rs`; `loom.rs` checks it). Owned by the writer thread.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::{touched_buffer, Frontend, Slot, SlotGuard, WriterEnds, BUFFER_CAPACITY};

/// How often partly filled producer buffers are stolen while logging is active.
const STEAL_INTERVAL: Duration = Duration::from_millis(1);
/// The longest a record waits in a busy thread's buffer before the writer steals it
/// (an idle thread's buffer is stolen at the next tick).
const MAX_PENDING_MS: u64 = 10;
/// How long a new flush waits, draining the ring, for a producer that holds its slot
/// lock before it goes on with the other slots. A record takes well under a
/// microsecond; an owner still holding its lock after this is in a slow `Display` impl,
/// and the flush stays pending, retried on every pass, until the owner lets go (the
/// caller of `flush()` waits for it at most its own timeout).
const FLUSH_SLOT_WAIT: Duration = Duration::from_millis(2);

/// What the writer has collected, and how it collects.
pub(crate) struct Collector {
    frontend: &'static Frontend,
    ring_rx: Receiver<Vec<u8>>,
    /// Collected buffers, oldest first: the writer renders them in this order.
    pub(crate) batches: Vec<Vec<u8>>,
    slots: Vec<Arc<Slot>>,
    /// Slots the pending flush still has to take.
    flush_wait: Vec<Arc<Slot>>,
    /// Emptied buffers kept for the next steals.
    spare: Vec<Vec<u8>>,
    last_steal: Instant,
    started: Instant,
}

impl Collector {
    pub(crate) fn new(frontend: &'static Frontend, ends: WriterEnds) -> Collector {
        let now = Instant::now();
        Collector {
            frontend,
            ring_rx: ends.ring_rx,
            batches: Vec::new(),
            slots: Vec::new(),
            flush_wait: Vec::new(),
            spare: Vec::new(),
            last_steal: now,
            started: now,
        }
    }

    /// The writer's step 1: drain the ring, and steal from the slots every
    /// [`STEAL_INTERVAL`] (at `now`). A new flush (`new_flush`) takes every slot; one
    /// whose owner is inside a log call and holds records is kept in `flush_wait` and
    /// tried again on every pass until it is taken.
    pub(crate) fn collect(&mut self, now: Instant, new_flush: bool) {
        let steal = new_flush || now.duration_since(self.last_steal) >= STEAL_INTERVAL;
        if steal {
            self.last_steal = now;
        }
        self.drain_ring();
        if new_flush {
            self.flush_wait.clear();
        } else if !self.flush_wait.is_empty() {
            let mut waiting = std::mem::take(&mut self.flush_wait);
            waiting.retain(|slot| !self.take_for_flush(slot));
            self.flush_wait = waiting;
        }
        if steal {
            self.frontend.slots(&mut self.slots);
            for i in 0..self.slots.len() {
                let slot = self.slots[i].clone();
                if new_flush {
                    if !self.take_for_flush(&slot) {
                        self.flush_wait.push(slot);
                    }
                    continue;
                }
                if !slot.should_steal(self.ms_since_start(), MAX_PENDING_MS) {
                    continue;
                }
                let guard = slot.try_lock();
                if let Some(guard) = guard {
                    self.steal(&slot, guard);
                }
            }
            self.slots.clear();
        }
    }

    /// Slots the pending flush still has to collect: their owners were inside a log
    /// call when it came (see [`FLUSH_SLOT_WAIT`]).
    pub(crate) fn flush_waiting_for(&self) -> usize {
        self.flush_wait.len()
    }

    /// For a flush: takes the slot's buffer, waiting a little for its owner. Returns
    /// `false` if the owner still holds the lock and has records appended (`dirty`); a
    /// locked slot that is not dirty holds only the record being logged, which is not
    /// "logged before the flush".
    fn take_for_flush(&mut self, slot: &Arc<Slot>) -> bool {
        match self.lock_for_flush(slot) {
            Some(guard) => {
                self.steal(slot, guard);
                true
            }
            None => !slot.is_dirty(),
        }
    }

    /// Moves what a locked slot holds into the batches.
    fn steal(&mut self, slot: &Slot, mut guard: SlotGuard<'_>) {
        // Anything this thread handed to the ring before we took its lock must be
        // written before what is still in its buffer.
        self.drain_ring();
        let inner = guard.inner();
        if !inner.buf.is_empty() {
            let fresh = self.spare.pop().unwrap_or_else(touched_buffer);
            let full = std::mem::replace(&mut inner.buf, fresh);
            inner.records = 0;
            self.batches.push(full);
        }
        guard.clear_dirty();
        slot.stolen();
    }

    fn ms_since_start(&self) -> u64 {
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// Takes what the ring holds, topping the producers' pool up after each buffer
    /// taken for the hand-offs that can come before the next one ([`Frontend::top_up_pool`]):
    /// producers refill the ring while this loop runs, so once per drain is not enough.
    fn drain_ring(&mut self) {
        while let Ok(b) = self.ring_rx.try_recv() {
            self.batches.push(b);
            self.frontend.top_up_pool();
        }
    }

    /// Waits (bounded) for a producer to release its slot, draining the ring
    /// meanwhile so that a producer blocked on a full ring can finish.
    fn lock_for_flush<'s>(&mut self, slot: &'s Slot) -> Option<SlotGuard<'s>> {
        let deadline = Instant::now() + FLUSH_SLOT_WAIT;
        loop {
            if let Some(g) = slot.try_lock() {
                return Some(g);
            }
            self.drain_ring();
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::yield_now();
        }
    }

    /// Returns a rendered buffer: kept for the next steals (up to 4), else to the
    /// producers' pool.
    pub(crate) fn recycle(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if buf.capacity() > 4 * BUFFER_CAPACITY {
            buf = touched_buffer();
        }
        if self.spare.len() < 4 {
            self.spare.push(buf);
        } else {
            self.frontend.recycle(buf);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    //! The writer's half against a frontend of its own (not the process's: nothing
    //! starts logkit). Each record is one byte, so a batch's bytes are its records.
    use super::*;
    use crate::config::Overflow;

    /// A frontend with 2 records per batch (`LOG_BUFFER=32`), and its collector.
    fn pipeline() -> (&'static Frontend, Collector) {
        let (fe, ends) = Frontend::new(32, Overflow::Block);
        let fe: &'static Frontend = Box::leak(Box::new(fe));
        (fe, Collector::new(fe, ends))
    }

    /// Logs `records` from a thread of its own, which then exits (without a started
    /// logkit an exiting thread leaves its slot as it is).
    fn log_from_a_thread(fe: &'static Frontend, records: std::ops::Range<u8>) {
        std::thread::spawn(move || {
            for r in records {
                fe.write(&mut |buf| buf.push(r));
            }
        })
        .join()
        .unwrap();
    }

    fn collected(c: &Collector) -> Vec<u8> {
        c.batches.concat()
    }

    fn pool_len(fe: &Frontend) -> usize {
        fe.pool.lock().unwrap().bufs.len()
    }

    #[test]
    fn a_flush_collects_handed_off_buffers_then_the_slots_rest_in_the_order_logged() {
        let (fe, mut c) = pipeline();
        log_from_a_thread(fe, 0..5); // two full batches on the ring, one record in the slot
        c.collect(Instant::now(), true);
        assert_eq!(collected(&c), [0, 1, 2, 3, 4]);
        assert_eq!(c.flush_waiting_for(), 0);
        // Collected once: the slot is empty now.
        c.batches.clear();
        c.collect(Instant::now(), true);
        assert_eq!(collected(&c), [] as [u8; 0]);
    }

    #[test]
    fn every_threads_records_are_collected_and_each_threads_stay_in_order() {
        let (fe, mut c) = pipeline();
        log_from_a_thread(fe, 0..7);
        log_from_a_thread(fe, 100..103);
        c.collect(Instant::now(), true);
        let got = collected(&c);
        let a: Vec<u8> = got.iter().copied().filter(|&r| r < 100).collect();
        let b: Vec<u8> = got.iter().copied().filter(|&r| r >= 100).collect();
        assert_eq!((a, b), ((0..7).collect(), (100..103).collect()));
    }

    #[test]
    fn a_flush_waits_for_a_slot_whose_owner_holds_records_and_takes_it_once_released() {
        let (fe, mut c) = pipeline();
        log_from_a_thread(fe, 0..1);
        let mut slots = Vec::new();
        fe.slots(&mut slots);
        // The owner is inside its next log call: its slot is locked, with a record
        // logged before the flush.
        let held = slots[0].try_lock().expect("unlocked");
        c.collect(Instant::now(), true);
        assert_eq!((c.flush_waiting_for(), c.batches.len()), (1, 0));
        drop(held);
        c.collect(Instant::now(), false);
        assert_eq!(c.flush_waiting_for(), 0);
        assert_eq!(collected(&c), [0]);
    }

    #[test]
    fn a_flush_does_not_wait_for_a_locked_slot_that_holds_nothing_logged_before_it() {
        let (fe, mut c) = pipeline();
        log_from_a_thread(fe, 0..2); // one full batch, handed off: the slot is empty
        let mut slots = Vec::new();
        fe.slots(&mut slots);
        let held = slots[0].try_lock().expect("unlocked");
        held.clear_dirty();
        c.collect(Instant::now(), true);
        assert_eq!(c.flush_waiting_for(), 0, "the record being logged is not before the flush");
        assert_eq!(collected(&c), [0, 1]);
        drop(held);
    }

    #[test]
    fn recycled_buffers_go_to_four_spares_then_back_to_the_pool_and_an_oversized_one_is_replaced() {
        let (fe, mut c) = pipeline();
        let before = pool_len(fe);
        for _ in 0..6 {
            c.recycle(vec![1; 10]);
        }
        assert_eq!((c.spare.len(), pool_len(fe)), (4, before + 2));
        assert!(c.spare.iter().all(Vec::is_empty), "recycled buffers are emptied");
        c.spare.clear();
        c.recycle(Vec::with_capacity(5 * BUFFER_CAPACITY));
        assert_eq!(c.spare[0].capacity(), BUFFER_CAPACITY, "a grown buffer is not kept");
    }

    #[test]
    fn a_writer_that_keeps_what_it_drained_never_leaves_a_hand_off_without_a_pooled_buffer() {
        // The writer drains the ring again and again without handing anything back (a
        // writer preempted between drains on a loaded machine, or a slow render): the
        // producers' hand-offs still each find a buffer in the pool.
        let (fe, mut c) = pipeline();
        let ring = fe.ring_tx.capacity().unwrap();
        for round in 0..10u8 {
            // Fills the ring: `ring` hand-offs of 2 records each.
            log_from_a_thread(fe, 0..(2 * ring) as u8);
            c.drain_ring();
            assert_eq!(c.batches.len(), ring * (round as usize + 1), "nothing handed back");
        }
        assert_eq!(fe.empty_pool.load(std::sync::atomic::Ordering::Relaxed), 0, "a hand-off allocated");
    }
}
