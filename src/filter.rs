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
use crate::config::ConfigError;
use crate::level::{Directives, Level, LevelFilter};
use crate::pad::CachePadded;

/// What every log call reads, together on cache lines of their own: their neighbours
/// in memory must not be words that another thread writes (see [`crate::pad`]).
struct Gate {
    /// Bits 0..8 = most verbose level enabled anywhere (a `LevelFilter`); bit 8 =
    /// per-target directives exist, so call sites must consult their cache. Starts at
    /// `Trace | TARGETED`: the first call of every call site then reaches its (empty)
    /// cache, whose slow path starts logkit before anything is evaluated.
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

/// The decision a log macro makes before evaluating anything.
#[inline(always)]
pub(crate) fn enabled(cs: &'static Callsite) -> bool {
    let level = cs.level() as u32;
    let f = GATE.filter.load(Ordering::Relaxed);
    if level > (f & 0xff) {
        return false;
    }
    if f & TARGETED != 0 && !cs.interested(GATE.generation.load(Ordering::Relaxed)) {
        return false;
    }
    sampled(cs.level())
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
    store_sample(sample);
    store_directives(d);
}

fn store_directives(d: Directives) {
    let word = d.max_level() as u32 | if d.has_targets() { TARGETED } else { 0 };
    let cell = DIRECTIVES.get_or_init(|| ArcSwap::from_pointee(Directives::new(LevelFilter::Trace)));
    cell.store(Arc::new(d));
    // Bump the generation after publishing the directives so that a call site that
    // sees the new generation recomputes from the new set.
    GATE.generation.fetch_add(1, Ordering::Release);
    GATE.filter.store(word, Ordering::Release);
    #[cfg(feature = "log")]
    crate::log_bridge::set_max_level();
}

fn store_sample(p: f64) {
    let t = if p >= 1.0 {
        u64::MAX
    } else if p <= 0.0 {
        0
    } else {
        (p * u64::MAX as f64) as u64
    };
    GATE.sample.store(t, Ordering::Relaxed);
}

/// Replaces the level directives at run time, e.g. `set_level("info,hyper=warn")`.
///
/// Takes effect at once for every thread; readers never lock. A bare level without
/// directives replaces the default floor and drops the per-target ones.
///
/// # Errors
/// A [`ConfigError`] naming the bad part; the current filter is kept.
pub fn set_level(directives: &str) -> Result<(), ConfigError> {
    crate::runtime::ensure_started();
    let default = directives_default();
    let d = Directives::parse(directives, default).map_err(|e| ConfigError::invalid("set_level", directives, &e.0))?;
    store_directives(d);
    Ok(())
}

fn directives_default() -> LevelFilter {
    directives().default_level()
}

/// Changes the fraction of DEBUG/INFO/TRACE records kept (`0.0..=1.0`) at run time.
/// WARN and ERROR are always kept.
///
/// # Errors
/// A [`ConfigError`] if `fraction` is not a number in `0..=1`; the current rate is kept.
pub fn set_sample(fraction: f64) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(ConfigError::invalid("set_sample", &fraction.to_string(), "expected a number from 0 to 1"));
    }
    crate::runtime::ensure_started();
    store_sample(fraction);
    Ok(())
}
