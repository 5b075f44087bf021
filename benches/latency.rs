//! Caller latency distribution: one producer paced at one call per microsecond, each
//! call timed with the TSC (x86_64) or `Instant` elsewhere; prints percentiles.
//! The timer's own floor (two back-to-back reads) is measured and reported.
//!
//! `cargo bench --bench latency` (set LATENCY_CALLS to change the sample count)

use std::hint::black_box;
use std::time::{Duration, Instant};

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn ticks() -> u64 {
    // SAFETY: `rdtsc` has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn ticks() -> u64 {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Nanoseconds per tick, measured against `Instant` over 200 ms.
fn ns_per_tick() -> f64 {
    let (t0, i0) = (ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, i1) = (ticks(), Instant::now());
    (i1 - i0).as_nanos() as f64 / (t1 - t0) as f64
}

fn percentiles(name: &str, mut v: Vec<u64>, ns_per_tick: f64) {
    v.sort_unstable();
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize] as f64 * ns_per_tick;
    println!(
        "{name:<22} n={:<8} p50={:>6.0} p90={:>6.0} p99={:>6.0} p99.9={:>7.0} p99.99={:>7.0} max={:>8.0} ns",
        v.len(),
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        p(0.9999),
        p(1.0)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would too: keep it quick then.
    let quick = std::env::args().any(|a| a == "--test");
    let calls: usize = std::env::var("LATENCY_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick {
        10_000
    } else {
        2_000_000
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let _guard = logkit::Config::default()
        .file(dir.path().join("run.log"))
        .console(logkit::Console::Off)
        .level("info")
        .init()
        .expect("init");
    let npt = ns_per_tick();

    let mut floor = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = ticks();
        let t1 = ticks();
        floor.push(t1 - t0);
    }
    percentiles("timer_floor", floor, npt);

    let mut lat = Vec::with_capacity(calls);
    let pace = Duration::from_micros(1);
    let mut next = Instant::now();
    for i in 0..calls as u64 {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        next += pace;
        let t0 = ticks();
        logkit::info!(
            order_id = black_box(i),
            price = black_box(1.5 + i as f64),
            symbol = black_box("BTC-USD"),
            ok = black_box(true),
            "order filled"
        );
        let t1 = ticks();
        lat.push(t1 - t0);
    }
    percentiles("logkit_4_fields", lat, npt);
    logkit::flush();
    let lines = std::fs::read_to_string(dir.path().join("run.log")).map(|t| t.lines().count()).unwrap_or(0);
    println!("records written: {lines} (of {calls}, with rotation at 10 MiB keeping the newest)");
}
