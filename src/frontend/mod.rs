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
//!
//! The protocol lives in this directory: the slot and its lock in `slot.rs`, the
//! owner's half (`Frontend::write`, `hand_off`, `retire`) here, the writer's half
//! (drain, steal, flush, recycle) in `collect.rs`, and the loom model of both in
//! `loom.rs`.

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::config::Overflow;
use crate::pad::CachePadded;

pub(crate) mod collect;
pub(crate) mod fork;
#[cfg(all(test, loom))]
mod loom;
mod slot;

pub(crate) use self::slot::{Slot, SlotGuard, SlotInner};

/// Bytes after which a thread's buffer is handed off.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;
/// Headroom so a typical record never makes a full-size buffer reallocate.
pub(crate) const BUFFER_SLACK: usize = 4 * 1024;
/// Capacity of a fresh buffer.
pub(crate) const BUFFER_CAPACITY: usize = BATCH_BYTES + BUFFER_SLACK;
/// Buffers pre-faulted when logkit starts.
const PREFILLED_BUFFERS: usize = 8;

/// A buffer of [`BUFFER_CAPACITY`] whose pages are already faulted in, so the thread
/// that first writes into it does not take a page fault per 4 KiB (about a microsecond
/// each under virtualisation, enough to be the p99.9 of a log call).
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
/// for it (PERF.md, "The tail").
#[inline]
fn warm_first_lines(buf: &mut Vec<u8>) {
    for line in buf.spare_capacity_mut().chunks_mut(64).take(4) {
        line[0].write(0);
    }
}

/// What producers share with the writer.
pub(crate) struct Frontend {
    ring_tx: Sender<Vec<u8>>,
    /// Emptied buffers, last in first out: the next hand-off gets the buffer that was
    /// returned last, whose pages and TLB entries are the most likely to be warm. (A
    /// FIFO cycles a thread through every buffer in the pool, a TLB miss on each new
    /// page.) Hand-offs are rare (one per batch), so the uncontended lock costs nothing
    /// measurable.
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
    /// Hand-offs that found the pool empty and allocated (a test's witness).
    #[cfg(test)]
    pub(crate) empty_pool: AtomicU64,
}

/// The stack of emptied buffers. Its bottom `untouched` buffers were allocated but never
/// written: their pages are not mapped yet. The writer pre-faults them in the background
/// ([`Frontend::prefault_one`]) so that a producer reaching deep into the pool during a
/// burst does not take a page fault per 4 KiB.
struct Pool {
    bufs: Vec<Vec<u8>>,
    untouched: usize,
}

/// The writer's end of the ring.
pub(crate) struct WriterEnds {
    pub(crate) ring_rx: Receiver<Vec<u8>>,
}

/// The process's frontend: installed once, when logkit starts (by `runtime`, the one
/// module that starts it), and again in a forked child (`fork`). Log calls, spans and
/// the bridges write through it. Points to a leaked `Frontend`, never freed.
static GLOBAL: AtomicPtr<Frontend> = AtomicPtr::new(std::ptr::null_mut());

/// The process's frontend; `None` until logkit starts. In a forked child the first
/// call builds the child's own (see `fork`). One load and a branch, as a
/// `OnceLock::get` was.
#[inline]
pub(crate) fn get() -> Option<&'static Frontend> {
    let p = GLOBAL.load(Ordering::Acquire);
    if p.is_null() {
        return fork::get_slow();
    }
    // SAFETY: a non-null `GLOBAL` points to a leaked `Frontend`, which is never freed;
    // the `Acquire` load pairs with the `Release` store that published it.
    Some(unsafe { &*p })
}

/// Installs the process's frontend and returns it; a second call keeps the first.
pub(crate) fn install(fe: Frontend) -> &'static Frontend {
    let fresh = Box::into_raw(Box::new(fe));
    match GLOBAL.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: `fresh` is the leaked box just published.
        Ok(_) => unsafe { &*fresh },
        Err(first) => {
            // SAFETY: `fresh` was not published: this is its only owner.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as in `get`.
            unsafe { &*first }
        }
    }
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
            #[cfg(test)]
            empty_pool: AtomicU64::new(0),
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
        // For the child handler of a `fork` from this thread (see `fork`).
        fork::OWN_SLOT.with(|own| own.set(Arc::as_ptr(&slot)));
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
        recycled.unwrap_or_else(|| {
            #[cfg(test)]
            self.empty_pool.fetch_add(1, Ordering::Relaxed);
            Vec::with_capacity(BUFFER_CAPACITY)
        })
    }

    /// The writer's top-up, after each buffer it takes from the ring: the pool gets (by
    /// allocating here, on the writer) at least one buffer per ring slot and one per
    /// registered thread, plus one, up to `pool_limit`. Every buffer a producer takes
    /// from the pool follows a hand-off onto the ring; until the writer takes the next
    /// buffer off the ring (and tops up again), those are at most the ring's capacity
    /// (the hand-offs in it and the room left), one per thread (a hand-off already taken
    /// whose thread has not got its fresh buffer yet), and the one slot that next take
    /// frees. So a hand-off never finds the pool empty, however
    /// long the writer keeps what it drained before handing it back (a writer preempted
    /// on a loaded machine, a slow render): the producer never allocates.
    pub(crate) fn top_up_pool(&self) {
        let threads = match self.slots.lock() {
            Ok(s) => s.len(),
            Err(p) => p.into_inner().len(),
        };
        let want = (self.ring_tx.capacity().unwrap_or(0) + threads + 1).min(self.pool_limit);
        let short = want.saturating_sub(self.lock_pool().bufs.len());
        if short > 0 {
            self.top_up_slow(want, short);
        }
    }

    /// Allocates and pre-faults the missing buffers outside the lock.
    #[cold]
    #[inline(never)]
    fn top_up_slow(&self, want: usize, short: usize) {
        let fresh: Vec<Vec<u8>> = (0..short).map(|_| touched_buffer()).collect();
        let mut pool = self.lock_pool();
        for b in fresh {
            if pool.bufs.len() >= want {
                break;
            }
            pool.bufs.push(b);
        }
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        match self.pool.lock() {
            Ok(p) => p,
            Err(p) => p.into_inner(),
        }
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
    ///
    /// A record logged while this thread encodes another (from one of its `Display`
    /// impls) is nested: it goes to the side buffer of its depth and, once the record it
    /// was logged from is whole, follows it, so the thread's order is outer first, then
    /// each nested record after the one it was logged from, at any depth. A panic while
    /// encoding (a `Display` impl) rolls that record back to the last whole one; the
    /// whole records it logged before panicking are kept.
    #[inline]
    pub(crate) fn write(&'static self, encode: &mut dyn FnMut(&mut Vec<u8>)) {
        let done = LOCAL.try_with(|local| {
            let depth = local.depth.get();
            if depth > 0 {
                return self.write_nested(local, depth, encode);
            }
            let slot = local.slot.get_or_init(|| self.register());
            local.depth.set(1);
            // Declared before the slot's guard: the depth is reset after the lock is
            // released, also on unwind.
            let _depth = DepthReset(&local.depth);
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
            let mut undo = Unwind { inner, start };
            encode(&mut undo.inner.buf);
            undo.start = usize::MAX; // committed
            drop(undo);
            let inner = guard.inner();
            inner.records += 1;
            let mut added = 1;
            // Every nested frame has ended by now: what they logged waits in side buffer 0.
            if local.pending.get() {
                added += Self::append_pending(local, inner);
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

    /// A record logged from inside the record this thread is encoding at `depth`
    /// (`depth >= 1`): encoded into the side buffer of its depth, followed by the
    /// records nested in it. `false` past [`MAX_NESTING`] (a buffer of its own then).
    #[cold]
    #[inline(never)]
    fn write_nested(&self, local: &Local, depth: usize, encode: &mut dyn FnMut(&mut Vec<u8>)) -> bool {
        if depth > MAX_NESTING {
            return false;
        }
        let side = local.take_side(depth - 1);
        let start = side.buf.len();
        local.depth.set(depth + 1);
        let mut frame = NestedFrame { local, depth, side, start, committed: false };
        encode(&mut frame.side.buf);
        frame.committed = true;
        true
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

    /// Moves the records logged from inside the record just written (at any depth;
    /// they wait in side buffer 0) after it. Returns how many.
    #[cold]
    fn append_pending(local: &Local, inner: &mut SlotInner) -> u64 {
        local.pending.set(false);
        let n = local.append_nested(0, &mut inner.buf);
        inner.records += n;
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

/// Deepest nesting of records logged from `Display` impls that keeps the thread's order
/// (a record logged from inside a record logged from inside ... `MAX_NESTING` deep);
/// deeper ones get a buffer of their own and may be written before the records they
/// were logged from.
pub(crate) const MAX_NESTING: usize = 32;

/// Unwinding out of the encoding of a record at depth 1 (a `Display` impl panicked):
/// the half-written record is rolled back to `start`, the last whole record, and the
/// whole records logged from inside it before the panic are kept, after the thread's
/// earlier ones. Committed (`start == usize::MAX`), it does nothing: the success path
/// accounts for itself. Two words, like the plain truncation guard it replaced, so the
/// hot path pays nothing for the rest.
struct Unwind<'a> {
    inner: &'a mut SlotInner,
    start: usize,
}

impl Drop for Unwind<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.start != usize::MAX {
            // By value, not `&mut self`: the guard then lives in registers.
            Unwind::rolled_back(self.inner, self.start);
        }
    }
}

impl Unwind<'_> {
    #[cold]
    #[inline(never)]
    fn rolled_back(inner: &mut SlotInner, start: usize) {
        inner.buf.truncate(start);
        let _ = LOCAL.try_with(|local| {
            if !local.pending.get() {
                return;
            }
            let added = Frontend::append_pending(local, inner);
            if let (true, Some(slot)) = (added > 0, local.slot.get()) {
                slot.dirty.store(true, Ordering::Relaxed);
                slot.appended.store(slot.appended.load(Ordering::Relaxed).wrapping_add(added), Ordering::Relaxed);
            }
        });
    }
}

/// A nested record being encoded at `depth + 1` into `side` (the side buffer of that
/// depth, taken out of [`Local::nested`] while it is written). On drop, also on unwind:
/// rolls the record back unless committed, appends the records nested in it, puts the
/// side buffer back and restores the thread's depth.
struct NestedFrame<'a> {
    local: &'a Local,
    depth: usize,
    side: Side,
    start: usize,
    committed: bool,
}

impl Drop for NestedFrame<'_> {
    fn drop(&mut self) {
        if self.committed {
            self.side.records += 1;
        } else {
            self.side.buf.truncate(self.start);
        }
        if self.local.has_nested(self.depth) {
            self.side.records += self.local.append_nested(self.depth, &mut self.side.buf);
        }
        self.local.pending.set(true);
        self.local.put_side(self.depth - 1, std::mem::take(&mut self.side));
        self.local.depth.set(self.depth);
    }
}

/// Back outside any log call (depth 0) on drop, also on unwind.
struct DepthReset<'a>(&'a Cell<usize>);

impl Drop for DepthReset<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.set(0);
    }
}

/// Whole records logged from inside a record of the depth above, waiting to follow it.
#[derive(Default)]
struct Side {
    buf: Vec<u8>,
    records: u32,
}

struct Local {
    slot: OnceCell<Arc<Slot>>,
    /// How deep this thread is in log calls: 0 outside any, 1 while it encodes a
    /// record, 2 while it encodes a record logged from a `Display` impl of that one, ...
    depth: Cell<usize>,
    /// `nested[d]`: the records logged at depth `d + 2` (from inside the record being
    /// encoded at depth `d + 1`), waiting to follow it. A side buffer is taken out while
    /// a record is encoded into it, so the borrow is never held across a `Display`.
    nested: RefCell<Vec<Side>>,
    /// Set when a nested record ends: the record at depth 1 has records to append (a
    /// load on the common path, where nothing is nested).
    pending: Cell<bool>,
}

impl Local {
    /// Whether records wait to follow the record at depth `d + 1`.
    #[inline]
    fn has_nested(&self, d: usize) -> bool {
        self.nested.try_borrow().is_ok_and(|n| n.get(d).is_some_and(|s| s.records > 0 || !s.buf.is_empty()))
    }

    /// Takes the side buffer `d` (with the records already in it) to write into.
    fn take_side(&self, d: usize) -> Side {
        match self.nested.try_borrow_mut() {
            Ok(mut n) => n.get_mut(d).map(std::mem::take).unwrap_or_default(),
            Err(_) => Side::default(),
        }
    }

    /// Puts the side buffer `d` back.
    fn put_side(&self, d: usize, side: Side) {
        if let Ok(mut n) = self.nested.try_borrow_mut() {
            if n.len() <= d {
                n.resize_with(d + 1, Side::default);
            }
            n[d] = side;
        }
    }

    /// Moves the records of side buffer `d` to the end of `out`; returns how many. The
    /// side buffer keeps its capacity (bounded).
    #[cold]
    fn append_nested(&self, d: usize, out: &mut Vec<u8>) -> u32 {
        let Ok(mut n) = self.nested.try_borrow_mut() else { return 0 };
        let Some(side) = n.get_mut(d) else { return 0 };
        out.extend_from_slice(&side.buf);
        side.buf.clear();
        if side.buf.capacity() > BUFFER_CAPACITY {
            side.buf.shrink_to(BUFFER_SLACK);
        }
        std::mem::take(&mut side.records)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        fork::OWN_SLOT.with(|own| own.set(std::ptr::null()));
        if let (Some(slot), Some(fe)) = (self.slot.get(), get()) {
            fe.retire(slot);
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local { slot: OnceCell::new(), depth: Cell::new(0), nested: RefCell::new(Vec::new()), pending: Cell::new(false) }
    };
}

/// Whether the calling thread is in the middle of encoding a record (its slot is
/// locked by itself): a flush from a panic hook must not wait for that slot.
pub(crate) fn in_record() -> bool {
    LOCAL.try_with(|l| l.depth.get() > 0).unwrap_or(false)
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
