//! Measurement tools: the TSC clock, paced latency sampling, a counting global
//! allocator (producer thread only), percentiles, and checking the files afterwards.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- clock

/// The cycle counter (x86_64), or nanoseconds since first use elsewhere.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn ticks() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86_64; it only reads the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn ticks() -> u64 {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Nanoseconds per tick, measured against `Instant` over 200 ms.
pub fn ns_per_tick() -> f64 {
    let (t0, i0) = (ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, i1) = (ticks(), Instant::now());
    (i1 - i0).as_nanos() as f64 / (t1 - t0) as f64
}

/// Times `calls` calls of `f`, one started per microsecond; returns ticks per call.
/// `first` is the argument of the first call (the record index keeps growing).
pub fn paced(calls: usize, first: u64, f: impl FnMut(u64)) -> Vec<u64> {
    let mut lat = Vec::with_capacity(calls);
    paced_into(&mut lat, calls, first, f);
    lat
}

/// [`paced`] into `lat`, which must have room for `calls` more samples (so that the
/// timed loop itself never allocates).
pub fn paced_into(lat: &mut Vec<u64>, calls: usize, first: u64, mut f: impl FnMut(u64)) {
    assert!(lat.capacity() - lat.len() >= calls, "room for the samples");
    let pace = Duration::from_micros(1);
    let mut next = Instant::now();
    for i in first..first + calls as u64 {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        next += pace;
        let t0 = ticks();
        f(i);
        let t1 = ticks();
        lat.push(t1 - t0);
    }
}

// ---------------------------------------------------------------- percentiles

/// Sorted latencies in nanoseconds.
pub struct Dist {
    ns: Vec<f64>,
}

impl Dist {
    pub fn new(mut ticks: Vec<u64>, ns_per_tick: f64) -> Dist {
        ticks.sort_unstable();
        Dist { ns: ticks.into_iter().map(|t| t as f64 * ns_per_tick).collect() }
    }

    /// The `q` quantile (0..=1), nearest-rank below, as `benches/latency.rs` does.
    pub fn q(&self, q: f64) -> f64 {
        self.ns[((self.ns.len() as f64 - 1.0) * q) as usize]
    }

    pub fn len(&self) -> usize {
        self.ns.len()
    }

    /// Percentile rows for the chart: `nines` = -log10(1 - q) from 0 to log10(n) in
    /// steps of 0.05, plus p50, p90, p99, p99.9, p99.99 exactly, then the maximum.
    pub fn csv(&self) -> String {
        let top = (self.ns.len() as f64).log10();
        let mut qs: Vec<f64> =
            (0..).map(|k| f64::from(k) * 0.05).take_while(|n| *n <= top - 0.05).map(|n| 1.0 - 10f64.powf(-n)).collect();
        qs.extend([0.5f64, 0.9, 0.99, 0.999, 0.9999].into_iter().filter(|q| -(1.0 - q).log10() <= top - 0.05));
        qs.sort_by(f64::total_cmp);
        let mut out = String::from("nines,percentile,ns\n");
        for q in qs {
            out += &format!("{:.4},{:.4},{:.1}\n", -(1.0 - q).log10(), q * 100.0, self.q(q));
        }
        out += &format!("{top:.4},100,{:.1}\n", self.q(1.0));
        out
    }
}

// ---------------------------------------------------------------- allocations

/// `System`, counting the allocations made by threads that switched counting on.
pub struct CountingAlloc;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

#[inline]
fn note(bytes: usize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees hold; counting touches only atomics and a const thread-local.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` was allocated by `System` through this wrapper with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` through this wrapper with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Counts this thread's allocations while `f` runs: (allocations, bytes).
pub fn count_allocs<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let (a0, b0) = (ALLOCS.load(Ordering::Relaxed), ALLOC_BYTES.load(Ordering::Relaxed));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCS.load(Ordering::Relaxed) - a0, ALLOC_BYTES.load(Ordering::Relaxed) - b0)
}

// ---------------------------------------------------------------- files

/// Every regular file under `dir` (rotated files included), sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// `fdatasync`s every file under `dir`.
pub fn sync_all(dir: &Path) {
    for f in files(dir) {
        if let Ok(file) = File::open(&f) {
            let _ = file.sync_data();
        }
    }
}

/// What the files under `dir` hold.
#[derive(Default, Debug)]
pub struct Census {
    /// Lines containing `order filled`.
    pub records: u64,
    /// All lines.
    pub lines: u64,
    /// Lines that are not one JSON object (`{` … `}`).
    pub not_json: u64,
    pub bytes: u64,
    pub files: usize,
    /// The first record line, as a sample of the format.
    pub sample: String,
}

pub fn census(dir: &Path) -> Census {
    let mut c = Census::default();
    for f in files(dir) {
        c.files += 1;
        let Ok(file) = File::open(&f) else { continue };
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut line = Vec::with_capacity(512);
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) => c.bytes += n as u64,
            }
            c.lines += 1;
            let l = line.strip_suffix(b"\n").unwrap_or(&line);
            if !(l.first() == Some(&b'{') && l.last() == Some(&b'}')) {
                c.not_json += 1;
            }
            if l.windows(12).any(|w| w == b"order filled") {
                c.records += 1;
                if c.sample.is_empty() {
                    c.sample = String::from_utf8_lossy(l).into_owned();
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let d = Dist::new((1..=1000).collect(), 1.0);
        assert_eq!(d.q(0.5), 500.0);
        assert_eq!(d.q(1.0), 1000.0);
        assert!(d.csv().lines().last().unwrap().ends_with(",1000.0"));
    }
}
