//! The call-site clock: a raw monotonic reading taken on the hot path, converted to
//! wall time by the writer thread.
//!
//! On x86_64 with an invariant TSC (CPUID 0x8000_0007 EDX bit 8), a reading is one
//! `rdtsc` (~7 ns, against ~20 ns for `clock_gettime` through the vDSO); elsewhere it
//! is `CLOCK_MONOTONIC` in nanoseconds. Either way the writer maps readings to Unix
//! nanoseconds with a [`Calibration`]: pairs of (raw, `CLOCK_REALTIME`) samples taken
//! when logkit starts and refreshed by the writer, anchored at the newest sample, so
//! the mapping follows the wall clock (NTP slews and steps) and a TSC rate estimate
//! error only applies to the time since the last sample.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether raw readings are TSC ticks (set once, before any record exists).
static TSC: AtomicBool = AtomicBool::new(false);
/// Nanoseconds per raw tick as `f64` bits, published by the writer for span
/// durations measured on the hot path.
static NS_PER_TICK: AtomicU64 = AtomicU64::new(0x3FF0_0000_0000_0000); // 1.0

/// A raw monotonic reading: TSC ticks or monotonic nanoseconds.
#[inline]
pub(crate) fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if TSC.load(Ordering::Relaxed) {
        // SAFETY: `rdtsc` has no preconditions on x86_64; `TSC` is only set after
        // CPUID reported an invariant TSC.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    monotonic_ns()
}

/// Nanoseconds between two raw readings.
#[inline]
pub(crate) fn elapsed_ns(start: u64, end: u64) -> u64 {
    let ticks = end.saturating_sub(start);
    (ticks as f64 * f64::from_bits(NS_PER_TICK.load(Ordering::Relaxed))) as u64
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn realtime_ns() -> u64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as u64,
        Err(_) => 0,
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // `__cpuid` became safe to call in Rust 1.87; the MSRV is older
fn invariant_tsc() -> bool {
    use core::arch::x86_64::__cpuid;
    // SAFETY: CPUID is available on every x86_64 CPU.
    let max_ext = unsafe { __cpuid(0x8000_0000) }.eax;
    if max_ext < 0x8000_0007 {
        return false;
    }
    // SAFETY: as above; leaf 0x8000_0007 exists (checked).
    let edx = unsafe { __cpuid(0x8000_0007) }.edx;
    edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

/// One (raw, realtime) pair, read as close together as the machine allows.
#[derive(Clone, Copy, Debug)]
struct Sample {
    raw: u64,
    unix_ns: u64,
}

fn sample() -> Sample {
    // Bracket the realtime read with two raw reads; keep the tightest of a few tries
    // (a preemption between the reads would skew one try).
    let mut best: Option<(u64, Sample)> = None;
    for _ in 0..5 {
        let a = now();
        let unix_ns = realtime_ns();
        let b = now();
        let gap = b.saturating_sub(a);
        if best.is_none_or(|(g, _)| gap < g) {
            best = Some((gap, Sample { raw: a + gap / 2, unix_ns }));
        }
    }
    best.map_or(Sample { raw: now(), unix_ns: realtime_ns() }, |(_, s)| s)
}

/// The writer's mapping from raw readings to Unix nanoseconds.
#[derive(Debug)]
pub(crate) struct Calibration {
    first: Sample,
    last: Sample,
    ns_per_tick: f64,
    last_refresh: Instant,
}

impl Calibration {
    /// Chooses the clock (once per process) and takes the first samples. With a TSC,
    /// spends ~1 ms measuring its rate; the writer refines it from then on.
    pub(crate) fn start() -> Calibration {
        if invariant_tsc() && std::env::var_os("LOGKIT_NO_TSC").is_none() {
            TSC.store(true, Ordering::Relaxed);
        }
        let first = sample();
        let mut c = Calibration { first, last: first, ns_per_tick: 1.0, last_refresh: Instant::now() };
        if TSC.load(Ordering::Relaxed) {
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(1) {
                std::hint::spin_loop();
            }
            c.refresh_now();
        }
        c
    }

    /// The raw reading taken when logkit started: before any record of the process
    /// read the clock.
    pub(crate) fn started_raw(&self) -> u64 {
        self.first.raw
    }

    /// Re-samples: every 100 ms for the first 2 s, then every second.
    pub(crate) fn maybe_refresh(&mut self) {
        let age = self.last_refresh.elapsed();
        let since_start = self.last.unix_ns.saturating_sub(self.first.unix_ns);
        let every = if since_start < 2_000_000_000 { Duration::from_millis(100) } else { Duration::from_secs(1) };
        if age >= every {
            self.refresh_now();
        }
    }

    fn refresh_now(&mut self) {
        let s = sample();
        if TSC.load(Ordering::Relaxed) && s.raw > self.first.raw && s.unix_ns > self.first.unix_ns {
            // The rate over the longest baseline: the error of one sample is spread
            // over all the time since the first.
            self.ns_per_tick = (s.unix_ns - self.first.unix_ns) as f64 / (s.raw - self.first.raw) as f64;
            NS_PER_TICK.store(self.ns_per_tick.to_bits(), Ordering::Relaxed);
        }
        self.last = s;
        self.last_refresh = Instant::now();
    }

    /// The calibration as a JSON object, for the `logkit.start` record: the clock
    /// (`"tsc"` or `"monotonic"`), its rate, and the newest (raw, Unix ns) pair, so a
    /// reader can map a raw reading (or judge a timestamp) as the writer does.
    pub(crate) fn describe(&self) -> String {
        let source = if TSC.load(Ordering::Relaxed) { "tsc" } else { "monotonic" };
        let mut rate = ryu::Buffer::new();
        format!(
            "{{\"source\":\"{source}\",\"ns_per_tick\":{},\"raw\":{},\"unix_ns\":{}}}",
            rate.format_finite(if self.ns_per_tick.is_finite() { self.ns_per_tick } else { 1.0 }),
            self.last.raw,
            self.last.unix_ns
        )
    }

    /// Unix nanoseconds of a raw reading.
    #[inline]
    pub(crate) fn unix_ns(&self, raw: u64) -> u64 {
        // In i64, not i128: i128 <-> f64 conversions are library calls (`__floattidf`,
        // `__fixdfti`), ~100 instructions per record on the writer. A tick difference
        // (two's complement, so a reading older than `last` is negative) fits in i64
        // for 97 years at 3 GHz, and Unix nanoseconds until 2262.
        let delta = raw.wrapping_sub(self.last.raw) as i64;
        let offset = (delta as f64 * self.ns_per_tick) as i64; // `as` saturates
        let base = i64::try_from(self.last.unix_ns).unwrap_or(i64::MAX);
        base.saturating_add(offset).max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_before_and_after_the_last_sample_map_linearly_and_never_wrap() {
        let last = Sample { raw: 1_000_000, unix_ns: 1_700_000_000_000_000_000 };
        let c = Calibration { first: last, last, ns_per_tick: 0.5, last_refresh: Instant::now() };
        assert_eq!(c.unix_ns(1_000_000), last.unix_ns);
        assert_eq!(c.unix_ns(1_000_200), last.unix_ns + 100);
        // A record stamped before the writer's last sample (another core's reading).
        assert_eq!(c.unix_ns(999_800), last.unix_ns - 100);
        // Nonsense readings saturate instead of wrapping.
        let early = Calibration { last: Sample { raw: u64::MAX / 2, unix_ns: 10 }, ..c };
        assert_eq!(early.unix_ns(0), 0);
        let late = Calibration { last: Sample { raw: 0, unix_ns: u64::MAX - 10 }, ns_per_tick: 1e9, ..c };
        assert_eq!(late.unix_ns(u64::MAX / 4), i64::MAX as u64);
    }

    #[test]
    fn raw_readings_map_to_the_wall_clock() {
        let mut c = Calibration::start();
        std::thread::sleep(Duration::from_millis(120));
        c.maybe_refresh();
        let raw = now();
        let wall = realtime_ns();
        let mapped = c.unix_ns(raw);
        let err = mapped.abs_diff(wall);
        assert!(err < 2_000_000, "mapped {mapped} vs wall {wall}: off by {err} ns");
        let a = now();
        std::thread::sleep(Duration::from_millis(20));
        let b = now();
        let ns = elapsed_ns(a, b);
        assert!((20_000_000..1_000_000_000).contains(&ns), "20 ms sleep measured as {ns} ns");
    }
}
