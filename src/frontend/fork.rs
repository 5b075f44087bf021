//! `fork()` without `exec`: the child gets a frontend of its own.
//!
//! A forked child has only the thread that called `fork`; the writer, the file thread and
//! every other producer stayed in the parent. What it inherited of the frontend cannot be
//! used: the ring and the other threads' slots hold the parent's records (which the
//! parent writes), a lock may have been held by a thread that does not exist here, and
//! nothing drains the ring.
//!
//! So the child handler (`pthread_atfork`, registered by `runtime` when logkit starts)
//! only marks the state, with atomic stores (it runs inside `fork`, where only
//! async-signal-safe work is allowed, e.g. in `std::process::Command`'s child before
//! `exec`): it takes a reference to the calling thread's slot and clears the frontend
//! pointer. The next log call in the child finds no frontend ([`super::get`]'s cold path)
//! and restarts: `runtime`'s hook builds a new frontend, writer and file thread from the
//! configuration logkit started with, the calling thread's slot is emptied (the parent's
//! records in it are the parent's to write) and joins the new frontend, and every other
//! thread's slot is left behind with the old frontend, never read again. The hot path is
//! unchanged: it already loads the frontend pointer and branches on it.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use super::{Frontend, Slot, GLOBAL};

/// No fork to handle (or the child's frontend is built).
const IDLE: u8 = 0;
/// A child of `fork` whose frontend is still the parent's: the next log call restarts.
const NEEDED: u8 = 1;
/// A thread is building the child's frontend; others wait for it.
const RESTARTING: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(IDLE);

/// The forking thread's slot, one strong reference taken by the child handler, for the
/// restart to empty and move into the new frontend.
static FORKED_SLOT: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// Builds and installs the child's frontend (with [`install_after_fork`]) and its writer.
static RESTART: OnceLock<fn()> = OnceLock::new();

thread_local! {
    /// This thread's slot, as a plain pointer the child handler can read: a `const`
    /// thread-local without a destructor is a plain memory access, with nothing to
    /// register or allocate.
    pub(super) static OWN_SLOT: std::cell::Cell<*const Slot> = const { std::cell::Cell::new(ptr::null()) };
}

/// Sets the function the restart calls (`runtime`'s); it must install a frontend with
/// [`install_after_fork`].
pub(crate) fn set_restart(f: fn()) {
    let _ = RESTART.set(f);
}

/// The `pthread_atfork` child handler's work: atomic stores only.
pub(crate) fn mark_forked() {
    let own = OWN_SLOT.with(std::cell::Cell::get);
    if !own.is_null() {
        // SAFETY: `own` came from the `Arc` this thread keeps in its `Local` for as long
        // as the thread lives, and this thread is running: the count is at least 1.
        unsafe { Arc::increment_strong_count(own) };
    }
    // A reference left by an earlier fork whose child never restarted is leaked: one
    // slot, never touched again.
    FORKED_SLOT.store(own.cast_mut(), Ordering::Relaxed);
    GLOBAL.store(ptr::null_mut(), Ordering::Release);
    STATE.store(NEEDED, Ordering::Release);
}

/// Whether this process is a forked child that has not logged yet (so it has nothing
/// of its own to flush).
pub(crate) fn restart_pending() -> bool {
    STATE.load(Ordering::Acquire) == NEEDED
}

/// [`super::get`]'s cold path: before logkit starts, `None`; in a forked child, the
/// child's frontend, built by the first call that gets here while the others wait.
#[cold]
#[inline(never)]
pub(super) fn get_slow() -> Option<&'static Frontend> {
    // Before logkit starts every log call comes here: a load, not a compare-exchange.
    while STATE.load(Ordering::Acquire) != IDLE {
        match STATE.compare_exchange(NEEDED, RESTARTING, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                if let Some(&f) = RESTART.get() {
                    // A panic must not leave the others waiting: the child then logs
                    // nothing.
                    let _ = std::panic::catch_unwind(f);
                }
                STATE.store(IDLE, Ordering::Release);
                break;
            }
            Err(IDLE) => break,
            Err(_) => std::thread::yield_now(),
        }
    }
    let p = GLOBAL.load(Ordering::Acquire);
    // SAFETY: a non-null `GLOBAL` points to a leaked (never freed) `Frontend`.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// A frontend that lives for the rest of the process (a forked child's, built before
/// [`install_after_fork`] publishes it).
pub(crate) fn leak(fe: Frontend) -> &'static Frontend {
    Box::leak(Box::new(fe))
}

/// Publishes the child's frontend, with the forking thread's slot emptied and moved
/// into it. Its writer is started first (by the caller).
pub(crate) fn install_after_fork(fe: &'static Frontend) {
    let own = FORKED_SLOT.swap(ptr::null_mut(), Ordering::Acquire);
    if !own.is_null() {
        // SAFETY: the reference `mark_forked` took, handed over exactly once (the swap).
        let slot = unsafe { Arc::from_raw(own.cast_const()) };
        // SAFETY: in the child only the forking thread uses this slot, and it is not
        // logging now: it is waiting in `get_slow` like every log call, or is the thread
        // running this restart. The writer that may have held it is not in this process.
        unsafe { slot.reset_after_fork() };
        fe.adopt(slot);
    }
    GLOBAL.store(ptr::from_ref(fe).cast_mut(), Ordering::Release);
}

impl Frontend {
    /// A slot that already belongs to a thread (the forking one) joins this frontend.
    fn adopt(&self, slot: Arc<Slot>) {
        match self.slots.lock() {
            Ok(mut s) => s.push(slot),
            Err(p) => p.into_inner().push(slot),
        }
    }
}
