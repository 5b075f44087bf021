//! The producer side: per-thread record buffers and their hand-off to the writer.
//!
//! Each thread appends records to its own preallocated buffer (a [`Slot`]). A buffer
//! goes onto the bounded ring (a crossbeam `array` channel) when it holds a batch's
//! worth of records or bytes; the writer thread also *steals* a partly filled buffer
//! once its thread pauses (or after 10 ms), so a thread that logs once and then sleeps
//! is written promptly. Emptied buffers come back through a last-in-first-out pool of
//! pre-faulted buffers, so in steady state nothing allocates.
//!
//! A producer never enters the kernel while the ring has room: it does not wake the
//! writer per record (the writer polls on a timer); only a full ring (block mode) or
//! `flush()` unparks it.
//!
//! ## The slot lock and per-thread order
//! A slot's buffer is guarded by a one-word spin lock taken by its owner for each
//! record and by the writer to steal. The owner hands a full buffer to the ring while
//! still holding the lock, and the writer drains the ring *after* locking a slot and
//! *before* taking its buffer, so every buffer of a thread reaches the writer in the
//! order it was filled. The writer only `try_lock`s during periodic steals, so an
//! owner blocked on a full ring (holding its lock) never deadlocks the writer.

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::config::Overflow;
use crate::pad::CachePadded;

/// The atomics and the cell behind [`Slot`]: std's, or loom's when the slot protocol is
/// model-checked (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`; see
/// `loom_tests` at the end of this file). Only the lib's own unit tests switch (loom is
/// a dev-dependency), so anything else built with `--cfg loom` still uses std.
mod sync {
    #[cfg(all(test, loom))]
    pub(super) use loom::{
        cell::UnsafeCell,
        hint::spin_loop,
        sync::atomic::{AtomicBool, AtomicU64},
        thread::yield_now,
    };
    #[cfg(not(all(test, loom)))]
    pub(super) use std::{
        cell::UnsafeCell,
        hint::spin_loop,
        sync::atomic::{AtomicBool, AtomicU64},
        thread::yield_now,
    };
}

/// Bytes after which a thread's buffer is handed off.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;
/// Headroom so a typical record never makes a full-size buffer reallocate.
pub(crate) const BUFFER_SLACK: usize = 4 * 1024;
/// Capacity of a fresh buffer.
pub(crate) const BUFFER_CAPACITY: usize = BATCH_BYTES + BUFFER_SLACK;
/// Buffers pre-faulted when logkit starts.
const PREFILLED_BUFFERS: usize = 8;

/// A buffer of [`BUFFER_CAPACITY`] whose pages are already faulted in, so the thread
/// that first writes into it does not take a page fault per 4 KiB (~1 µs each on this
/// VM: they were the p99.9 of a log call).
// Not `vec![0; n]`: that is `calloc`, whose fresh pages stay untouched until written.
#[allow(clippy::slow_vector_initialization)]
pub(crate) fn touched_buffer() -> Vec<u8> {
    let mut v = Vec::with_capacity(BUFFER_CAPACITY);
    v.resize(BUFFER_CAPACITY, 0);
    v.clear();
    v
}

/// Writes a byte into each of a buffer's first four cache lines: a buffer from the pool
/// was last read by the writer on the other core, so its lines are not in this core's
/// cache, and the record after a hand-off paid for fetching them. Written here, in the
/// call that hands off (the core retires the stores in the background), they are warm
/// for it: in the tail probe (8 alternating runs, PERF.md "The tail"), the median share
/// of those records taking over 150 ns fell from 4.5 % to 1.7 %.
#[inline]
fn warm_first_lines(buf: &mut Vec<u8>) {
    for line in buf.spare_capacity_mut().chunks_mut(64).take(4) {
        line[0].write(0);
    }
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
    dirty: sync::AtomicBool,
    /// Records appended so far (written by the owner only, read by the writer to see
    /// whether the thread is still logging).
    appended: sync::AtomicU64,
    /// Buffers the owner handed to the ring (written by the owner only, read by the
    /// writer: what waits in a slot that handed off since the last look is younger
    /// than that look).
    handoffs: sync::AtomicU64,
    inner: sync::UnsafeCell<SlotInner>,
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
    fn new(buf: Vec<u8>) -> Slot {
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
    fn lock(&self) -> SlotGuard<'_> {
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

    /// The owner handed its buffer to the ring (called under the slot's lock).
    #[inline]
    fn handed_off(&self) {
        // Only the owner writes `handoffs`: a load and a store, no RMW.
        self.handoffs.store(self.handoffs.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
}

/// Holds a slot's lock; releases it on drop (also when a `Display` impl panics).
pub(crate) struct SlotGuard<'a> {
    slot: &'a Slot,
    #[cfg(all(test, loom))]
    access: Option<loom::cell::MutPtr<SlotInner>>,
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

/// What producers share with the writer.
pub(crate) struct Frontend {
    ring_tx: Sender<Vec<u8>>,
    /// Emptied buffers, last in first out: the next hand-off gets the buffer that was
    /// returned last, whose pages and TLB entries are the most likely to be warm. (A
    /// FIFO cycles a thread through every buffer in the pool, and on this VM a TLB miss
    /// on each new page was a visible share of the tail.) Hand-offs are rare (one per
    /// batch), so the uncontended lock costs nothing measurable.
    ///
    /// What the writer locks or swaps is padded ([`CachePadded`]): the fields a log call
    /// reads (`batch_records`, `overflow`, `ring_tx`) must not share a line with them.
    pool: CachePadded<Mutex<Pool>>,
    pool_limit: usize,
    slots: CachePadded<Mutex<Vec<Arc<Slot>>>>,
    overflow: Overflow,
    batch_records: u32,
    /// Records dropped under `LOG_OVERFLOW=drop` since the writer last reported.
    pub(crate) dropped: CachePadded<AtomicU64>,
    /// Records that could not be handed off because the writer is gone.
    pub(crate) orphaned: CachePadded<AtomicU64>,
    writer: OnceLock<Thread>,
}

/// The stack of emptied buffers. Its bottom `untouched` buffers were allocated but never
/// written: their pages are not mapped yet. The writer pre-faults them in the background
/// ([`Frontend::prefault_one`]) so that a producer reaching deep into the pool during a
/// burst does not take a page fault per 4 KiB (1–7 µs each on this VM).
struct Pool {
    bufs: Vec<Vec<u8>>,
    untouched: usize,
}

/// The writer's end of the ring.
pub(crate) struct WriterEnds {
    pub(crate) ring_rx: Receiver<Vec<u8>>,
}

/// The process's frontend: installed once, when logkit starts (by `runtime`, the one
/// module that starts it). Log calls, spans and the bridges write through it.
static GLOBAL: OnceLock<Frontend> = OnceLock::new();

/// The process's frontend; `None` until logkit starts.
#[inline]
pub(crate) fn get() -> Option<&'static Frontend> {
    GLOBAL.get()
}

/// Installs the process's frontend and returns it; a second call keeps the first.
pub(crate) fn install(fe: Frontend) -> &'static Frontend {
    GLOBAL.get_or_init(|| fe)
}

/// Splits a capacity in records into (records per batch, batches in the ring).
pub(crate) fn geometry(buffer_records: usize) -> (u32, usize) {
    let per_batch = (buffer_records / 16).clamp(1, 512);
    let batches = (buffer_records / per_batch).max(1);
    (per_batch as u32, batches)
}

impl Frontend {
    pub(crate) fn new(buffer_records: usize, overflow: Overflow) -> (Frontend, WriterEnds) {
        let (batch_records, batches) = geometry(buffer_records);
        let (ring_tx, ring_rx) = crossbeam_channel::bounded(batches);
        // Buffers in flight at the peak: a full ring, as many again being rendered by
        // the writer, and one per thread. The pool keeps every buffer that ever
        // existed (up to a bound), so once a burst has been seen no later hand-off
        // allocates.
        // The top of the stack (the end) is pre-faulted now: those are the buffers a
        // steady logger cycles through. The writer pre-faults the rest soon after start.
        let total = 2 * batches + 8;
        let touched = PREFILLED_BUFFERS.min(total);
        let bufs: Vec<Vec<u8>> = (0..total)
            .map(|i| if i + touched >= total { touched_buffer() } else { Vec::with_capacity(BUFFER_CAPACITY) })
            .collect();
        let fe = Frontend {
            ring_tx,
            pool: CachePadded(Mutex::new(Pool { bufs, untouched: total - touched })),
            pool_limit: 4 * batches + 64,
            slots: CachePadded(Mutex::new(Vec::new())),
            overflow,
            batch_records,
            dropped: CachePadded(AtomicU64::new(0)),
            orphaned: CachePadded(AtomicU64::new(0)),
            writer: OnceLock::new(),
        };
        (fe, WriterEnds { ring_rx })
    }

    pub(crate) fn set_writer(&self, t: Thread) {
        let _ = self.writer.set(t);
    }

    #[inline]
    pub(crate) fn wake_writer(&self) {
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
    }

    /// A snapshot of the registered slots, pruning those whose thread has exited and
    /// whose buffer is empty.
    pub(crate) fn slots(&self, out: &mut Vec<Arc<Slot>>) {
        out.clear();
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        // `strong_count` is a relaxed load: the fence orders the `dirty` load after
        // it, pairing with the release decrement of the exiting thread's `Arc`, so a
        // slot is never pruned with records its thread wrote just before exiting.
        slots.retain(|s| {
            Arc::strong_count(s) > 1 || {
                std::sync::atomic::fence(Ordering::Acquire);
                s.is_dirty()
            }
        });
        out.extend(slots.iter().cloned());
    }

    #[cold]
    fn register(&self) -> Arc<Slot> {
        let slot = Arc::new(Slot::new(touched_buffer()));
        match self.slots.lock() {
            Ok(mut s) => s.push(slot.clone()),
            Err(p) => p.into_inner().push(slot.clone()),
        }
        slot
    }

    #[inline]
    fn fresh_buffer(&self) -> Vec<u8> {
        let mut pool = match self.pool.lock() {
            Ok(p) => p,
            Err(p) => p.into_inner(),
        };
        let recycled = pool.bufs.pop();
        pool.untouched = pool.untouched.min(pool.bufs.len());
        drop(pool);
        recycled.unwrap_or_else(|| Vec::with_capacity(BUFFER_CAPACITY))
    }

    /// Replaces one never-written buffer at the bottom of the pool by a pre-faulted one.
    /// The pages are touched outside the lock. Returns whether any untouched buffer is
    /// left. Called by the writer when it has nothing else to do.
    #[cold]
    pub(crate) fn prefault_one(&self) -> bool {
        let lock = || match self.pool.lock() {
            Ok(p) => p,
            Err(p) => p.into_inner(),
        };
        if lock().untouched == 0 {
            return false;
        }
        let fresh = touched_buffer();
        let mut pool = lock();
        let Some(i) = pool.untouched.checked_sub(1) else { return false };
        pool.untouched = i;
        let old = std::mem::replace(&mut pool.bufs[i], fresh);
        let more = i > 0;
        drop(pool);
        drop(old);
        more
    }

    /// The writer returns an emptied buffer.
    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        let mut pool = match self.pool.lock() {
            Ok(p) => p,
            Err(p) => p.into_inner(),
        };
        if pool.bufs.len() < self.pool_limit {
            pool.bufs.push(buf);
        }
    }

    #[inline]
    fn is_full(&self, inner: &SlotInner) -> bool {
        inner.buf.len() >= BATCH_BYTES || inner.records >= self.batch_records
    }

    /// Appends one record to the calling thread's buffer. `encode` appends exactly one
    /// record to the buffer it is given.
    #[inline]
    pub(crate) fn write(&'static self, encode: &mut dyn FnMut(&mut Vec<u8>)) {
        let done = LOCAL.try_with(|local| {
            if local.busy.get() {
                // Re-entered from a `Display` impl of this thread's record: the record
                // goes to the side buffer, which follows the outer record into the
                // thread's buffer, so the thread's order is kept (outer, then inner).
                return match local.side.try_borrow_mut() {
                    Ok(mut side) => {
                        encode(&mut side);
                        local.side_records.set(local.side_records.get() + 1);
                        true
                    }
                    Err(_) => false, // deeper re-entrancy: a buffer of its own
                };
            }
            let slot = local.slot.get_or_init(|| self.register());
            local.busy.set(true);
            let _busy = BusyReset(&local.busy);
            local.clear_side(); // leftovers of an outer record that panicked
            let mut guard = slot.lock();
            let inner = guard.inner();
            if self.is_full(inner) {
                if !self.hand_off(inner) {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                slot.handed_off();
            }
            let start = inner.buf.len();
            let mut undo = Truncate { buf: &mut inner.buf, to: start };
            encode(undo.buf);
            undo.to = usize::MAX; // committed
            drop(undo);
            inner.records += 1;
            let mut added = 1;
            if local.side_records.get() > 0 {
                added += self.append_side(local, inner);
            }
            slot.dirty.store(true, Ordering::Relaxed);
            // Only this thread writes `appended`: a load and a store, no RMW.
            slot.appended.store(slot.appended.load(Ordering::Relaxed).wrapping_add(added), Ordering::Relaxed);
            // Block mode never fails; drop mode keeps the full buffer and retries at
            // the next record.
            if self.is_full(inner) && self.hand_off(inner) {
                slot.handed_off();
            }
            true
        });
        if !matches!(done, Ok(true)) {
            self.write_unbuffered(encode);
        }
    }

    /// Moves a full buffer onto the ring and gives the slot a fresh one. Returns
    /// `false` when the ring is full in drop mode (the buffer stays in the slot).
    fn hand_off(&self, inner: &mut SlotInner) -> bool {
        let full = std::mem::take(&mut inner.buf);
        let records = inner.records;
        match self.ring_tx.try_send(full) {
            Ok(()) => {}
            Err(TrySendError::Full(full)) => match self.overflow {
                Overflow::Drop => {
                    inner.buf = full;
                    return false;
                }
                Overflow::Block => {
                    self.wake_writer();
                    if self.ring_tx.send(full).is_err() {
                        self.orphaned.fetch_add(records as u64, Ordering::Relaxed);
                    }
                }
            },
            Err(TrySendError::Disconnected(_)) => {
                self.orphaned.fetch_add(records as u64, Ordering::Relaxed);
            }
        }
        inner.buf = self.fresh_buffer();
        warm_first_lines(&mut inner.buf);
        inner.records = 0;
        true
    }

    /// Moves the records logged from inside the record just written (its `Display`
    /// impls logged) after it. Returns how many.
    #[cold]
    fn append_side(&self, local: &Local, inner: &mut SlotInner) -> u64 {
        let n = local.side_records.replace(0);
        if let Ok(mut side) = local.side.try_borrow_mut() {
            inner.buf.extend_from_slice(&side);
            inner.records += n;
            side.clear();
            if side.capacity() > BUFFER_CAPACITY {
                side.shrink_to(BUFFER_SLACK);
            }
        }
        u64::from(n)
    }

    /// A thread is exiting: what its buffer holds goes to the ring now, before any
    /// record that a later thread-local destructor logs (which can no longer use the
    /// slot), so the thread's order is kept.
    fn retire(&self, slot: &Slot) {
        let mut guard = slot.lock();
        let inner = guard.inner();
        if inner.buf.is_empty() {
            return;
        }
        let full = std::mem::take(&mut inner.buf);
        let records = std::mem::take(&mut inner.records);
        guard.clear_dirty();
        drop(guard);
        let sent = match self.overflow {
            Overflow::Block => self.ring_tx.send(full).is_ok(),
            Overflow::Drop => match self.ring_tx.try_send(full) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(u64::from(records), Ordering::Relaxed);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if !sent {
            self.orphaned.fetch_add(u64::from(records), Ordering::Relaxed);
        }
    }

    /// For records that cannot use the thread's slot (logging from a thread-local
    /// destructor after the slot is gone, deeply re-entrant logging): a buffer of their
    /// own.
    #[cold]
    #[inline(never)]
    fn write_unbuffered(&self, encode: &mut dyn FnMut(&mut Vec<u8>)) {
        let mut buf = Vec::new();
        encode(&mut buf);
        let sent = match self.overflow {
            Overflow::Block => {
                self.wake_writer();
                self.ring_tx.send(buf).is_ok()
            }
            Overflow::Drop => match self.ring_tx.try_send(buf) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if !sent {
            self.orphaned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Truncates a buffer back to `to` on drop unless committed (`to == usize::MAX`), so
/// a panicking `Display` impl leaves no half-written record behind.
struct Truncate<'a> {
    buf: &'a mut Vec<u8>,
    to: usize,
}

impl Drop for Truncate<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.to != usize::MAX {
            self.buf.truncate(self.to);
        }
    }
}

struct BusyReset<'a>(&'a Cell<bool>);

impl Drop for BusyReset<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.set(false);
    }
}

struct Local {
    slot: OnceCell<Arc<Slot>>,
    /// Set while this thread encodes a record (detects re-entrant logging).
    busy: Cell<bool>,
    /// Records logged while encoding another (from its `Display` impls).
    side: RefCell<Vec<u8>>,
    side_records: Cell<u32>,
}

impl Local {
    fn clear_side(&self) {
        if self.side_records.replace(0) > 0 {
            if let Ok(mut side) = self.side.try_borrow_mut() {
                side.clear();
            }
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let (Some(slot), Some(fe)) = (self.slot.get(), get()) {
            fe.retire(slot);
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local { slot: OnceCell::new(), busy: Cell::new(false), side: RefCell::new(Vec::new()), side_records: Cell::new(0) }
    };
}

/// Whether the calling thread is in the middle of encoding a record (its slot is
/// locked by itself): a flush from a panic hook must not wait for that slot.
pub(crate) fn in_record() -> bool {
    LOCAL.try_with(|l| l.busy.get()).unwrap_or(false)
}

/// Loom models of the slot protocol: the owner's append and hand-off of a full buffer,
/// the writer's steal of a partly filled one, and the recycling of emptied buffers.
///
/// Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom` (the models take
/// ~25 s on a 2-core machine, after a ~1 min build; `CARGO_TARGET_DIR=target/loom`
/// keeps that build from replacing the normal release one; `LOOM_MAX_PREEMPTIONS=N`
/// overrides the preemption bound each model sets — 3 for the two-owner model takes
/// over 8 minutes). The models use the real [`Slot`] (its lock, `dirty`, `appended`,
/// `should_steal`) with loom's atomics and a loom-checked cell, and mirror, step for
/// step, `Frontend::write` / `Frontend::hand_off` on the owner's side and
/// `Writer::collect` / `Writer::recycle` on the writer's. Loom cannot see inside
/// crossbeam's channel (its std atomics are invisible to the model, and a blocking
/// send would park outside loom's scheduler), so the ring is a bounded `VecDeque`
/// behind a loom `Mutex`: the same contract logkit relies on (FIFO, bounded, a full
/// ring refuses `try_send`, a send happens-before the receive that returns it).
///
/// Each record is one byte, `owner << 4 | seq`. Checked in every interleaving: no
/// record lost or duplicated, each owner's records in order, and the slot's buffer
/// never touched by two threads at once (loom's cell tracking fails the model on an
/// overlapping or unsynchronised access — `unlocked_access_is_caught` shows it does).
#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::VecDeque;
    use std::sync::atomic::Ordering;

    use loom::sync::atomic::AtomicU64;
    use loom::sync::{Arc, Condvar, Mutex};

    use super::{Slot, SlotGuard, SlotInner};

    /// Emptied buffers the writer keeps for its steals (`Writer::recycle` keeps 4; one
    /// makes the model use both the spare and the pool).
    const SPARE: usize = 1;

    /// The ring stand-in (see the module doc).
    struct Ring {
        q: Mutex<VecDeque<Vec<u8>>>,
        room: Condvar,
        cap: usize,
    }

    impl Ring {
        fn new(cap: usize) -> Ring {
            Ring { q: Mutex::new(VecDeque::new()), room: Condvar::new(), cap }
        }

        fn try_send(&self, b: Vec<u8>) -> Result<(), Vec<u8>> {
            let mut q = self.q.lock().unwrap();
            if q.len() < self.cap {
                q.push_back(b);
                Ok(())
            } else {
                Err(b)
            }
        }

        /// Block mode: waits until the writer makes room (crossbeam parks the thread; a
        /// condvar is loom's way to block without spinning).
        fn send(&self, b: Vec<u8>) {
            let mut q = self.q.lock().unwrap();
            while q.len() >= self.cap {
                q = self.room.wait(q).unwrap();
            }
            q.push_back(b);
        }

        fn drain(&self, out: &mut Vec<Vec<u8>>) {
            let mut q = self.q.lock().unwrap();
            if !q.is_empty() {
                out.extend(q.drain(..));
                self.room.notify_all();
            }
        }
    }

    /// What producers and the writer share in a model.
    struct Model {
        slots: Vec<Arc<Slot>>,
        ring: Ring,
        /// The LIFO pool of emptied buffers.
        pool: Mutex<Vec<Vec<u8>>>,
        batch_records: u32,
        block: bool,
        dropped: AtomicU64,
        /// Owners that logged their last record.
        finished: AtomicU64,
    }

    impl Model {
        fn new(owners: usize, ring_cap: usize, batch_records: u32, block: bool) -> Arc<Model> {
            Arc::new(Model {
                slots: (0..owners).map(|_| Arc::new(Slot::new(Vec::new()))).collect(),
                ring: Ring::new(ring_cap),
                pool: Mutex::new(Vec::new()),
                batch_records,
                block,
                dropped: AtomicU64::new(0),
                finished: AtomicU64::new(0),
            })
        }

        fn is_full(&self, inner: &SlotInner) -> bool {
            inner.records >= self.batch_records
        }

        /// `Frontend::hand_off`.
        fn hand_off(&self, inner: &mut SlotInner) -> bool {
            let full = std::mem::take(&mut inner.buf);
            if self.block {
                self.ring.send(full);
            } else if let Err(full) = self.ring.try_send(full) {
                inner.buf = full;
                return false;
            }
            inner.buf = self.pool.lock().unwrap().pop().unwrap_or_default();
            inner.records = 0;
            true
        }

        /// `Frontend::write` for owner `owner`'s record `seq`.
        fn write(&self, owner: usize, seq: u8) {
            let slot = &self.slots[owner];
            let mut guard = slot.lock();
            let inner = guard.inner();
            if self.is_full(inner) {
                if !self.hand_off(inner) {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                slot.handed_off();
            }
            inner.buf.push(((owner as u8) << 4) | seq);
            inner.records += 1;
            slot.dirty.store(true, Ordering::Relaxed);
            slot.appended.store(slot.appended.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
            if self.is_full(inner) && self.hand_off(inner) {
                slot.handed_off();
            }
        }
    }

    /// The writer's side: `Writer::collect`, `process` and `recycle`.
    struct Collector {
        model: Arc<Model>,
        batches: Vec<Vec<u8>>,
        spare: Vec<Vec<u8>>,
        /// The next expected `seq` of each owner.
        next: Vec<u8>,
        written: u64,
        now_ms: u64,
    }

    impl Collector {
        fn new(model: Arc<Model>) -> Collector {
            let owners = model.slots.len();
            Collector { model, batches: Vec::new(), spare: Vec::new(), next: vec![0; owners], written: 0, now_ms: 1 }
        }

        /// One pass: drain the ring, steal from the slots `should_steal` picks (all of
        /// them, waiting for each lock, when `flushing`), render and recycle. Returns
        /// whether anything was collected.
        fn pass(&mut self, flushing: bool) -> bool {
            self.now_ms += 1;
            self.model.ring.drain(&mut self.batches);
            let model = self.model.clone();
            for slot in &model.slots {
                if !flushing && !slot.should_steal(self.now_ms, 10) {
                    continue;
                }
                let guard = if flushing { Some(self.lock_for_flush(slot)) } else { slot.try_lock() };
                let Some(mut guard) = guard else { continue };
                // What the owner handed off before we took its lock comes first.
                self.model.ring.drain(&mut self.batches);
                let inner = guard.inner();
                if !inner.buf.is_empty() {
                    let fresh = self.spare.pop().unwrap_or_default();
                    let full = std::mem::replace(&mut inner.buf, fresh);
                    inner.records = 0;
                    self.batches.push(full);
                }
                guard.clear_dirty();
                slot.stolen();
            }
            let busy = !self.batches.is_empty();
            for mut buf in std::mem::take(&mut self.batches) {
                for &rec in &buf {
                    let (owner, seq) = (usize::from(rec >> 4), rec & 0xf);
                    assert_eq!(seq, self.next[owner], "owner {owner}: record {seq} out of order, lost or duplicated");
                    self.next[owner] += 1;
                    self.written += 1;
                }
                buf.clear();
                if self.spare.len() < SPARE {
                    self.spare.push(buf);
                } else {
                    self.model.pool.lock().unwrap().push(buf);
                }
            }
            busy
        }

        /// `Writer::lock_for_flush`, without the deadline: drains the ring while an
        /// owner blocked on it holds its lock.
        fn lock_for_flush<'s>(&mut self, slot: &'s Slot) -> SlotGuard<'s> {
            loop {
                if let Some(g) = slot.try_lock() {
                    return g;
                }
                self.model.ring.drain(&mut self.batches);
                loom::thread::yield_now();
            }
        }

        /// After every owner finished: a flush collects what is left; then each
        /// record logged is written exactly once or counted as dropped.
        /// Collects while any owner is still logging (in block mode it may be waiting
        /// for the ring to drain).
        fn run_until_owners_finish(&mut self) {
            while self.model.finished.load(Ordering::Acquire) < self.model.slots.len() as u64 {
                if !self.pass(false) {
                    loom::thread::yield_now();
                }
            }
        }

        fn finish(mut self, per_owner: u8) {
            self.pass(true);
            let dropped = self.model.dropped.load(Ordering::Relaxed);
            let logged = (self.model.slots.len() * usize::from(per_owner)) as u64;
            assert_eq!(self.written + dropped, logged, "written {} + dropped {dropped}", self.written);
            if self.model.block {
                assert_eq!(dropped, 0);
                assert!(self.next.iter().all(|&n| n == per_owner), "{:?}", self.next);
            }
            for slot in &self.model.slots {
                assert!(slot.try_lock().expect("lock released").inner().buf.is_empty());
            }
        }
    }

    fn builder(preemptions: usize) -> loom::model::Builder {
        let mut b = loom::model::Builder::new();
        if b.preemption_bound.is_none() {
            b.preemption_bound = Some(preemptions);
        }
        b
    }

    fn owner(model: &Arc<Model>, owner: usize, records: u8) -> loom::thread::JoinHandle<()> {
        let model = model.clone();
        loom::thread::spawn(move || {
            for seq in 0..records {
                model.write(owner, seq);
            }
            model.finished.fetch_add(1, Ordering::Release);
        })
    }

    /// Block mode, one owner, 3 records in batches of 2 through a ring of 1: a full
    /// buffer handed off under the lock, a partly filled one stolen, the buffer the
    /// writer recycles taken back by the owner; the writer never waits for a lock.
    #[test]
    fn loom_block_handoff_steal_and_recycle() {
        builder(3).check(|| {
            let model = Model::new(1, 1, 2, true);
            let o = owner(&model, 0, 3);
            let mut c = Collector::new(model.clone());
            c.run_until_owners_finish();
            o.join().unwrap();
            c.finish(3);
        });
    }

    /// Block mode, two owners sharing the ring and the pool, one record per batch (every
    /// record is a hand-off, as with `LOG_BUFFER=16`).
    #[test]
    fn loom_block_two_owners_share_ring_and_pool() {
        builder(2).check(|| {
            let model = Model::new(2, 1, 1, true);
            let a = owner(&model, 0, 2);
            let b = owner(&model, 1, 2);
            let mut c = Collector::new(model.clone());
            c.run_until_owners_finish();
            a.join().unwrap();
            b.join().unwrap();
            c.finish(2);
        });
    }

    /// Drop mode: a full ring keeps the full buffer in the slot and drops the record;
    /// written + dropped = logged, and what is written is in order.
    #[test]
    fn loom_drop_mode_counts_every_record() {
        builder(3).check(|| {
            let model = Model::new(1, 1, 1, false);
            let o = owner(&model, 0, 3);
            let mut c = Collector::new(model.clone());
            c.pass(false);
            o.join().unwrap();
            c.finish(3);
        });
    }

    /// The model has teeth: touching a slot's buffer without its lock while the owner
    /// appends is reported by loom.
    #[test]
    #[should_panic]
    fn loom_unlocked_access_is_caught() {
        builder(2).check(|| {
            let model = Model::new(1, 4, 8, true);
            let o = owner(&model, 0, 1);
            let slot = &model.slots[0];
            // A guard that skips the lock.
            let mut g = SlotGuard { slot, access: Some(slot.inner.get_mut()) };
            g.inner().buf.clear();
            drop(g);
            o.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod pool_tests {
    use super::*;

    fn untouched(fe: &Frontend) -> (usize, usize) {
        let p = fe.pool.lock().unwrap();
        (p.untouched, p.bufs.len())
    }

    #[test]
    fn the_writer_prefaults_every_untouched_buffer_once_and_keeps_the_pool_whole() {
        let (fe, _ends) = Frontend::new(16_384, Overflow::Block);
        let (before, len) = untouched(&fe);
        assert!(before > 0, "only the top of the pool is pre-faulted at start");
        let mut calls = 0;
        while fe.prefault_one() {
            calls += 1;
            assert!(calls <= before, "more pre-faults than untouched buffers");
        }
        assert_eq!(calls + 1, before, "one buffer per call");
        assert_eq!(untouched(&fe), (0, len));
        assert!(!fe.prefault_one(), "nothing left to do");
        let p = fe.pool.lock().unwrap();
        assert!(p.bufs.iter().all(|b| b.is_empty() && b.capacity() >= BUFFER_CAPACITY));
    }

    #[test]
    fn a_burst_that_takes_untouched_buffers_leaves_none_counted_twice() {
        let (fe, _ends) = Frontend::new(16_384, Overflow::Block);
        let (before, len) = untouched(&fe);
        // Producers take everything above the untouched part, and 3 untouched ones.
        let taken: Vec<Vec<u8>> = (0..len - before + 3).map(|_| fe.fresh_buffer()).collect();
        assert_eq!(untouched(&fe), (before - 3, before - 3));
        // They come back written (touched) and go on top.
        for b in taken {
            fe.recycle(b);
        }
        assert_eq!(untouched(&fe), (before - 3, len));
        let mut n = 0;
        while fe.prefault_one() {
            n += 1;
        }
        assert_eq!(n + 1, before - 3);
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
