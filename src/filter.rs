//! The run-time gate: level floor, per-target directives and sampling.
//!
//! Readers (every log call) only load atomics; `set_level` and `set_sample` publish a
//! new state with stores, and the directive set behind an `ArcSwap`. A call site
//! caches its per-target decision tagged with a generation number, so a `set_level`
//! invalidates every cache with one increment.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use std::sync::OnceLock;

use crate::callsite::Callsite;
use crate::level::{Directives, Level, LevelFilter};
use crate::pad::CachePadded;

/// What every log call reads, together on cache lines of their own: their neighbours
/// in memory must not be words that another thread writes (see [`crate::pad`]).
struct Gate {
    /// Bits 0..8 = most verbose level enabled anywhere (a `LevelFilter`); bit 8 =
    /// per-target directives exist, so call sites must consult their cache. Starts at
    /// `Trace | TARGETED`: the first call of every call site then finds its cache
    /// empty ([`enabled_cached`] returns `None`), and the macros' cold path starts
    /// logkit before anything is evaluated.
    filter: AtomicU32,
    /// Bumped by every `set_level`; call-site caches from an older generation miss.
    generation: AtomicU32,
    /// Keep a DEBUG/INFO/TRACE record when `rand_u64 < sample`; `u64::MAX` keeps all.
    sample: AtomicU64,
}

static GATE: CachePadded<Gate> = CachePadded(Gate {
    filter: AtomicU32::new(LevelFilter::Trace as u32 | TARGETED),
    generation: AtomicU32::new(1),
    sample: AtomicU64::new(u64::MAX),
});
const TARGETED: u32 = 1 << 8;

static DIRECTIVES: OnceLock<ArcSwap<Directives>> = OnceLock::new();

/// The gate as far as cached state decides it: `Some(keep)`, or `None` when the call
/// site's per-target decision is missing or stale (its first call, its first after a
/// `set_level`, and every call before logkit starts, when the gate sends every call
/// site here). The caller then decides with [`enabled_uncached`], on its cold path
/// (`__private::enabled`, which first starts logkit).
#[inline(always)]
pub(crate) fn enabled_cached(cs: &Callsite) -> Option<bool> {
    let level = cs.level() as u32;
    let f = GATE.filter.load(Ordering::Relaxed);
    if level > (f & 0xff) {
        return Some(false);
    }
    if f & TARGETED != 0 {
        match cs.cached_interest(GATE.generation.load(Ordering::Relaxed)) {
            Some(true) => {}
            Some(false) => return Some(false),
            None => return None,
        }
    }
    Some(sampled(cs.level()))
}

/// The gate's slow path: decides from the directives, caches the per-target part in
/// the call site (tagged with the generation), then samples.
#[cold]
#[inline(never)]
pub(crate) fn enabled_uncached(cs: &Callsite) -> bool {
    let generation = generation();
    let on = max_level().allows(cs.level()) && directives().level_for(cs.target()).allows(cs.level());
    cs.cache_interest(generation, on);
    on && sampled(cs.level())
}

/// The whole gate, for a caller that has no cold path of its own.
#[inline]
pub(crate) fn enabled(cs: &Callsite) -> bool {
    match enabled_cached(cs) {
        Some(keep) => keep,
        None => enabled_uncached(cs),
    }
}

/// Level and target check for records without a static call site (the `log` bridge).
pub(crate) fn enabled_dynamic(level: Level, target: &str) -> bool {
    let f = GATE.filter.load(Ordering::Relaxed);
    if level as u32 > (f & 0xff) {
        return false;
    }
    if f & TARGETED != 0 && !directives().level_for(target).allows(level) {
        return false;
    }
    true
}

/// Sampling: WARN and ERROR are always kept.
#[inline(always)]
pub(crate) fn sampled(level: Level) -> bool {
    if level <= Level::Warn {
        return true;
    }
    let t = GATE.sample.load(Ordering::Relaxed);
    t == u64::MAX || fastrand::u64(..) < t
}

pub(crate) fn generation() -> u32 {
    GATE.generation.load(Ordering::Acquire)
}

pub(crate) fn directives() -> arc_swap::Guard<Arc<Directives>> {
    DIRECTIVES.get_or_init(|| ArcSwap::from_pointee(Directives::new(LevelFilter::Trace))).load()
}

/// The most verbose level enabled for any target.
pub(crate) fn max_level() -> LevelFilter {
    LevelFilter::from_u8((GATE.filter.load(Ordering::Relaxed) & 0xff) as u8)
}

pub(crate) fn install(d: Directives, sample: f64) {
    set_sample(sample);
    set_directives(d);
}

/// Replaces the directives (at start and by `set_level`).
pub(crate) fn set_directives(d: Directives) {
    let word = d.max_level() as u32 | if d.has_targets() { TARGETED } else { 0 };
    let cell = DIRECTIVES.get_or_init(|| ArcSwap::from_pointee(Directives::new(LevelFilter::Trace)));
    cell.store(Arc::new(d));
    // Bump the generation after publishing the directives so that a call site that
    // sees the new generation recomputes from the new set.
    GATE.generation.fetch_add(1, Ordering::Release);
    GATE.filter.store(word, Ordering::Release);
}

/// Replaces the sampling rate (at start and by `set_sample`; `p` in `0..=1`).
pub(crate) fn set_sample(p: f64) {
    let t = if p >= 1.0 {
        u64::MAX
    } else if p <= 0.0 {
        0
    } else {
        (p * u64::MAX as f64) as u64
    };
    GATE.sample.store(t, Ordering::Relaxed);
}

/// The default floor of the current directives (what a bare `set_level` target-less
/// part replaces).
pub(crate) fn default_level() -> LevelFilter {
    directives().default_level()
}
