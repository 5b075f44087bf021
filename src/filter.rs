//! The run-time gate: level floor, per-target directives and sampling.
//!
//! Readers (every log call) only load atomics; `set_level` and `set_sample` publish a
//! new state with stores, and the directive set behind an `ArcSwap`. A call site
//! caches its per-target decision tagged with a generation number, so a `set_level`
//! invalidates every cache with one increment.
//!
//! Sampling keeps or drops whole traces. Inside a trace the decision is a function of
//! the trace id alone — OpenTelemetry's `TraceIdRatioBased` rule: the trace id's low 8
//! bytes (big-endian), shifted right by one, are kept when below `ratio * 2^63` — so
//! every record, `START` and `END` of a trace, on every thread and in every process
//! that continues it with the same `LOG_SAMPLE`, gets the same answer. The current
//! trace's shifted low bits live in a thread-local word (kept in step by `context`),
//! so the in-trace decision is one TLS load and a compare, no RNG. A record outside
//! any trace draws a random 63-bit number instead. WARN and ERROR are always kept.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use std::sync::OnceLock;

use crate::callsite::Callsite;
use crate::id::TraceId;
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
    /// Keep a DEBUG/INFO/TRACE record when its 63-bit sampling key (the trace's, or a
    /// random one outside a trace) is below this; [`KEEP_ALL`] keeps all.
    sample: AtomicU64,
}

static GATE: CachePadded<Gate> = CachePadded(Gate {
    filter: AtomicU32::new(LevelFilter::Trace as u32 | TARGETED),
    generation: AtomicU32::new(1),
    sample: AtomicU64::new(KEEP_ALL),
});
const TARGETED: u32 = 1 << 8;

/// `GATE.sample` when every record is kept (`LOG_SAMPLE=1`): above every 63-bit key.
const KEEP_ALL: u64 = u64::MAX;
/// `TRACE_KEY` outside any trace: no 63-bit key has this value.
const NO_TRACE: u64 = u64::MAX;

thread_local! {
    /// The sampling key of this thread's current trace ([`trace_key`]), or
    /// [`NO_TRACE`]. Written by `context` whenever the thread's current trace changes
    /// (`new_context!`, a span opening the first trace, a task or thread installing its
    /// context), read by every sampled call.
    static TRACE_KEY: Cell<u64> = const { Cell::new(NO_TRACE) };
}

/// The 63-bit sampling key of a trace: its low 8 bytes (big-endian, as in the hex
/// form), shifted right by one — OpenTelemetry's `TraceIdRatioBased` input.
#[inline]
pub(crate) fn trace_key(trace: TraceId) -> u64 {
    (trace.to_u128() as u64) >> 1
}

/// Tells the gate which trace this thread is in now (`None`: outside any trace).
#[inline]
pub(crate) fn set_current_trace(trace: Option<TraceId>) {
    let key = trace.map_or(NO_TRACE, trace_key);
    let _ = TRACE_KEY.try_with(|k| k.set(key));
}

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

/// Sampling of a record logged on this thread: by its current trace, else per record.
/// WARN and ERROR are always kept.
#[inline(always)]
pub(crate) fn sampled(level: Level) -> bool {
    if level <= Level::Warn {
        return true;
    }
    let t = GATE.sample.load(Ordering::Relaxed);
    if t == KEEP_ALL {
        return true;
    }
    // Outside a trace (and during thread-local teardown) the key is a fresh random one.
    let key = TRACE_KEY.try_with(Cell::get).unwrap_or(NO_TRACE);
    let key = if key == NO_TRACE { fastrand::u64(..) >> 1 } else { key };
    key < t
}

/// Sampling of a record of a given trace (a span's `START` and `END`, written with the
/// span's own trace whatever the thread's current one is). WARN and ERROR are always kept.
#[inline]
pub(crate) fn sampled_in(level: Level, trace: TraceId) -> bool {
    level <= Level::Warn || trace_kept(trace)
}

/// Whether the sampling rate keeps the DEBUG/INFO/TRACE records of `trace`.
#[inline]
pub(crate) fn trace_kept(trace: TraceId) -> bool {
    let t = GATE.sample.load(Ordering::Relaxed);
    t == KEEP_ALL || trace_key(trace) < t
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
    GATE.sample.store(threshold(p), Ordering::Relaxed);
}

/// `ratio * 2^63`, the bound below which a 63-bit key is kept ([`KEEP_ALL`] for 1).
fn threshold(p: f64) -> u64 {
    if p >= 1.0 {
        KEEP_ALL
    } else if p <= 0.0 {
        0
    } else {
        (p * (1u64 << 63) as f64) as u64
    }
}

/// The default floor of the current directives (what a bare `set_level` target-less
/// part replaces).
pub(crate) fn default_level() -> LevelFilter {
    directives().default_level()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Mutex, MutexGuard};

    /// The gate is process-wide: its tests take turns, and each puts back the state it
    /// found (the state before logkit starts), so no other test sees their settings.
    struct Restore {
        filter: u32,
        sample: u64,
        directives: Arc<Directives>,
        _turn: MutexGuard<'static, ()>,
    }

    fn gate_to_myself() -> Restore {
        static TURN: Mutex<()> = Mutex::new(());
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        Restore {
            filter: GATE.filter.load(Ordering::Relaxed),
            sample: GATE.sample.load(Ordering::Relaxed),
            directives: directives().clone(),
            _turn: turn,
        }
    }

    impl Drop for Restore {
        fn drop(&mut self) {
            set_directives((*self.directives).clone());
            GATE.filter.store(self.filter, Ordering::Release);
            GATE.sample.store(self.sample, Ordering::Relaxed);
            set_current_trace(None);
        }
    }

    fn directives_of(s: &str) -> Directives {
        Directives::parse(s, LevelFilter::Info).expect("valid directives")
    }

    fn site(level: Level, target: &'static str) -> &'static Callsite {
        Box::leak(Box::new(Callsite::new(level, target, "f.rs", 1, &[])))
    }

    #[test]
    fn before_logkit_starts_every_call_site_is_sent_to_the_cold_path() {
        let _g = gate_to_myself();
        // `__private::enabled` starts logkit on that path, before any argument is
        // evaluated, so the environment's filters decide the first record too.
        assert_eq!(enabled_cached(site(Level::Error, "app")), None);
        assert_eq!(enabled_cached(site(Level::Trace, "app")), None);
    }

    #[test]
    fn a_level_above_the_floor_is_refused_without_reading_the_call_sites_cache() {
        let _g = gate_to_myself();
        set_directives(directives_of("warn"));
        assert_eq!(enabled_cached(site(Level::Info, "app")), Some(false));
        assert_eq!(enabled_cached(site(Level::Error, "app")), Some(true));
        assert_eq!(max_level(), LevelFilter::Warn);
    }

    #[test]
    fn a_targets_decision_is_made_once_per_call_site_and_again_after_set_level() {
        let _g = gate_to_myself();
        set_directives(directives_of("warn,app::db=info"));
        let (db, web) = (site(Level::Info, "app::db"), site(Level::Info, "app::web"));
        assert_eq!(enabled_cached(db), None, "first call: no decision cached");
        assert!(enabled_uncached(db));
        assert_eq!(enabled_cached(db), Some(true), "now cached");
        assert!(!enabled(web));
        assert_eq!(enabled_cached(web), Some(false));
        // `set_level` bumps the generation: every cached decision is stale.
        set_directives(directives_of("info,app::db=warn"));
        assert_eq!(enabled_cached(db), None);
        assert!(!enabled_uncached(db));
        assert!(enabled(web));
    }

    #[test]
    fn records_without_a_call_site_are_filtered_by_level_and_target() {
        let _g = gate_to_myself();
        set_directives(directives_of("info,noisy=error"));
        assert!(!enabled_dynamic(Level::Warn, "noisy"));
        assert!(enabled_dynamic(Level::Error, "noisy::inner"));
        assert!(enabled_dynamic(Level::Info, "app"));
        assert!(!enabled_dynamic(Level::Debug, "app"));
    }

    #[test]
    fn sampling_keeps_or_drops_a_whole_trace_and_always_keeps_warn_and_error() {
        let _g = gate_to_myself();
        set_sample(0.5);
        let kept = TraceId::parse("4bf92f3577b34da60000000000000001").unwrap();
        let dropped = TraceId::parse("4bf92f3577b34da6ffffffffffffffff").unwrap();
        assert!(trace_kept(kept) && !trace_kept(dropped));
        set_current_trace(Some(kept));
        assert!((0..100).all(|_| sampled(Level::Info) && sampled(Level::Trace)));
        set_current_trace(Some(dropped));
        assert!((0..100).all(|_| !sampled(Level::Info) && !sampled(Level::Debug)));
        assert!(sampled(Level::Warn) && sampled(Level::Error));
        // A span's own trace decides its START and END, whatever the thread's is.
        assert!(sampled_in(Level::Info, kept));
        assert!(!sampled_in(Level::Info, dropped) && sampled_in(Level::Error, dropped));
        set_sample(0.0);
        assert!(!sampled_in(Level::Info, kept));
        set_sample(1.0);
        assert!(sampled(Level::Info), "1 keeps everything, the dropped trace too");
    }

    #[test]
    fn trace_key_is_the_low_eight_bytes_shifted_right_by_one() {
        let t = TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(trace_key(t), 0xa3ce_929d_0e0e_4736 >> 1);
        // The high bytes play no part.
        let u = TraceId::parse("ffffffffffffffffa3ce929d0e0e4736").unwrap();
        assert_eq!(trace_key(u), trace_key(t));
    }

    #[test]
    fn ratio_threshold_follows_trace_id_ratio_based() {
        assert_eq!(threshold(1.0), KEEP_ALL);
        assert_eq!(threshold(0.0), 0);
        assert_eq!(threshold(0.5), 1 << 62);
        // Every key is below KEEP_ALL; none is below 0.
        assert!(u64::MAX >> 1 < threshold(1.0));
    }
}
