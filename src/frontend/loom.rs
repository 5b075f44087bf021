//! Loom models of the slot protocol: the owner's append and hand-off of a full buffer,
//! the writer's steal of a partly filled one, and the recycling of emptied buffers.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom` (the models take
//! ~25 s on a 2-core machine, after a ~1 min build; `CARGO_TARGET_DIR=target/loom`
//! keeps that build from replacing the normal release one; `LOOM_MAX_PREEMPTIONS=N`
//! overrides the preemption bound each model sets — 3 for the two-owner model takes
//! over 8 minutes). The models use the real [`Slot`] (its lock, `dirty`, `appended`,
//! `should_steal`) with loom's atomics and a loom-checked cell, and mirror, step for
//! step, `Frontend::write` / `Frontend::hand_off` on the owner's side and
//! `Collector::collect` / `Collector::recycle` (`collect.rs`) on the writer's. Loom cannot see inside
//! crossbeam's channel (its std atomics are invisible to the model, and a blocking
//! send would park outside loom's scheduler), so the ring is a bounded `VecDeque`
//! behind a loom `Mutex`: the same contract logkit relies on (FIFO, bounded, a full
//! ring refuses `try_send`, a send happens-before the receive that returns it).
//!
//! Each record is one byte, `owner << 4 | seq`. Checked in every interleaving: no
//! record lost or duplicated, each owner's records in order, and the slot's buffer
//! never touched by two threads at once (loom's cell tracking fails the model on an
//! overlapping or unsynchronised access — `unlocked_access_is_caught` shows it does).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use loom::sync::atomic::AtomicU64;
use loom::sync::{Arc, Condvar, Mutex};

use super::slot::{Slot, SlotGuard, SlotInner};

/// Emptied buffers the writer keeps for its steals (`Collector::recycle` keeps 4; one
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

/// The writer's side: `Collector::collect`, the writer's `process`, and
/// `Collector::recycle`.
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

    /// `Collector::lock_for_flush`, without the deadline: drains the ring while an
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
