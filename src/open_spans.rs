//! The registry of open spans: what `logkit.open_spans` reports at exit, at SIGTERM
//! and at a panic that aborts, so a span that never ended is named with how long it
//! had been open.
//!
//! Sharded slabs: a thread registers its spans in one of [`SHARDS`] slabs, picked
//! once per thread round robin, each behind a spin lock, so opening and closing a span
//! take a lock that no other thread normally touches (uncontended: one
//! compare-exchange to lock, one store to unlock). A span that closes on another thread than the one it
//! opened on (a task that moved) removes itself from its opener's shard. Slots are
//! reused through a free list, so in steady state registering allocates nothing
//! (beyond copying a computed span name, which a literal never needs).
//!
//! Locking is bounded: a shard whose lock cannot be had after [`TRIES`] attempts (a
//! `fork` child whose parent had another thread inside a shard at the fork) is skipped,
//! so a span is then left out of the registry (or left in it, reported open), but no
//! thread ever waits forever here.

use std::borrow::Cow;
use std::cell::{Cell, UnsafeCell};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::id::{SpanId, TraceId};
use crate::pad::CachePadded;

/// Shards: more than the threads that usually hold spans at once, few enough to read
/// them all at exit in microseconds.
const SHARDS: usize = 16;
/// Attempts at a shard's lock before giving up: the first spins, later ones yield.
const TRIES: u32 = 10_000;

/// One open span.
#[derive(Clone, Debug)]
pub(crate) struct OpenEntry {
    pub(crate) name: Cow<'static, str>,
    /// The trace it opened in.
    pub(crate) trace: TraceId,
    pub(crate) id: SpanId,
    pub(crate) parent: Option<SpanId>,
    /// Raw clock reading at its start (see `clock`).
    pub(crate) start: u64,
}

struct Shard {
    slots: Vec<Option<OpenEntry>>,
    free: Vec<u32>,
}

/// A shard and its lock: a flag, not a `Mutex`, because every critical section here is
/// a few loads and stores that never panic or block, so neither poisoning nor parking
/// is needed (a `std::sync::Mutex` cost 58 more instructions per span created and
/// dropped, counted by callgrind: its poison check and its waiter check).
struct Locked {
    locked: AtomicBool,
    shard: UnsafeCell<Shard>,
}

// SAFETY: `shard` is only reached through a `Guard`, which exists only while this
// thread holds `locked` (set by a successful compare-exchange with Acquire, cleared
// with Release when the guard drops), so no two threads touch a shard at once, and
// each sees the other's writes. `OpenEntry` is `Send`.
unsafe impl Sync for Locked {}

static REGISTRY: [CachePadded<Locked>; SHARDS] = [const {
    CachePadded(Locked {
        locked: AtomicBool::new(false),
        shard: UnsafeCell::new(Shard { slots: Vec::new(), free: Vec::new() }),
    })
}; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard; `u8::MAX` until its first span.
    static MY_SHARD: Cell<u8> = const { Cell::new(u8::MAX) };
}

/// A locked shard.
struct Guard(&'static Locked);

impl Deref for Guard {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        // SAFETY: this guard holds the shard's lock (see `Locked`).
        unsafe { &*self.0.shard.get() }
    }
}

impl DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Shard {
        // SAFETY: this guard holds the shard's lock, and `&mut self` makes this the
        // only reference through it.
        unsafe { &mut *self.0.shard.get() }
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
    }
}

/// The shard's lock, or `None` after [`TRIES`] attempts.
#[inline]
fn lock(i: usize) -> Option<Guard> {
    let l = &REGISTRY[i].0;
    if l.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
        return Some(Guard(l));
    }
    lock_slow(l)
}

#[cold]
fn lock_slow(l: &'static Locked) -> Option<Guard> {
    for attempt in 0..TRIES {
        if attempt < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
        if !l.locked.load(Ordering::Relaxed)
            && l.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
        {
            return Some(Guard(l));
        }
    }
    None
}

#[inline]
fn my_shard() -> usize {
    MY_SHARD
        .try_with(|s| {
            let v = s.get();
            if v != u8::MAX {
                return v as usize;
            }
            let n = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            s.set(n as u8);
            n
        })
        .unwrap_or(0)
}

/// An open span's place in the registry; dropping it removes the span.
#[derive(Debug)]
pub(crate) struct Registration {
    shard: u8,
    /// `u32::MAX`: not registered (its shard could not be locked).
    slot: u32,
}

/// Registers an open span until the returned [`Registration`] is dropped.
#[inline]
pub(crate) fn register(entry: OpenEntry) -> Registration {
    let shard = my_shard();
    let Some(mut s) = lock(shard) else { return Registration { shard: shard as u8, slot: u32::MAX } };
    let slot = match s.free.pop() {
        Some(i) => {
            s.slots[i as usize] = Some(entry);
            i
        }
        None => {
            s.slots.push(Some(entry));
            (s.slots.len() - 1) as u32
        }
    };
    Registration { shard: shard as u8, slot }
}

impl Drop for Registration {
    #[inline]
    fn drop(&mut self) {
        if self.slot == u32::MAX {
            return;
        }
        let Some(mut s) = lock(self.shard as usize) else { return };
        let old = s.slots.get_mut(self.slot as usize).and_then(Option::take);
        if old.is_some() {
            s.free.push(self.slot);
        }
        drop(s);
        // A computed name is freed outside the lock.
        drop(old);
    }
}

/// Every span open now, oldest first.
pub(crate) fn snapshot() -> Vec<OpenEntry> {
    let mut all = Vec::new();
    for i in 0..SHARDS {
        if let Some(s) = lock(i) {
            all.extend(s.slots.iter().flatten().cloned());
        }
    }
    all.sort_by_key(|e| e.start);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &'static str, id: u64, start: u64) -> OpenEntry {
        let (trace, id) = (TraceId::from_u128(1).unwrap(), SpanId::from_u64(id).unwrap());
        OpenEntry { name: Cow::Borrowed(name), trace, id, parent: None, start }
    }

    fn mine(ids: &[u64]) -> Vec<u64> {
        let all: Vec<u64> = snapshot().iter().map(|e| e.id.to_u64()).collect();
        all.into_iter().filter(|i| ids.contains(i)).collect()
    }

    #[test]
    fn a_registered_span_is_in_the_snapshot_until_its_registration_drops_and_slots_are_reused() {
        let a = register(entry("a", 0xa1, 10));
        let b = register(entry("b", 0xa2, 5));
        assert_eq!(mine(&[0xa1, 0xa2]), [0xa2, 0xa1], "oldest first");
        drop(a);
        assert_eq!(mine(&[0xa1, 0xa2]), [0xa2]);
        let c = register(entry("c", 0xa3, 20));
        assert_eq!(mine(&[0xa1, 0xa2, 0xa3]), [0xa2, 0xa3]);
        drop((b, c));
        assert!(mine(&[0xa1, 0xa2, 0xa3]).is_empty());
    }

    #[test]
    fn a_span_closed_on_another_thread_leaves_the_registry() {
        let r = register(entry("moved", 0xb1, 1));
        std::thread::spawn(move || drop(r)).join().unwrap();
        assert!(mine(&[0xb1]).is_empty());
    }
}
