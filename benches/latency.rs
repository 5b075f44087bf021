//! Caller latency distribution per kind of call: one producer paced at one call per
//! microsecond (so the writer keeps up and we measure the caller, not back-pressure),
//! each call timed with the TSC (x86_64) or `Instant` elsewhere; prints percentiles.
//! The timer's own floor (two back-to-back reads) is measured and reported.
//!
//! `cargo bench --bench latency` (LATENCY_CALLS sets the calls per scenario)

mod common;

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

fn report(name: &str, mut v: Vec<u64>, ns_per_tick: f64) {
    v.sort_unstable();
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize] as f64 * ns_per_tick;
    println!(
        "{name:<28} n={:<8} p50={:>6.0} p90={:>6.0} p99={:>6.0} p99.9={:>7.0} p99.99={:>7.0} max={:>8.0} ns",
        v.len(),
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        p(0.9999),
        p(1.0)
    );
}

/// Times `calls` calls of `f`, one per microsecond.
fn paced(calls: usize, mut f: impl FnMut(u64)) -> Vec<u64> {
    let mut lat = Vec::with_capacity(calls);
    let pace = Duration::from_micros(1);
    let mut next = Instant::now();
    for i in 0..calls as u64 {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        next += pace;
        let t0 = ticks();
        f(i);
        let t1 = ticks();
        lat.push(t1 - t0);
    }
    lat
}

#[inline(always)]
fn four_fields(i: u64) {
    logkit::info!(
        order_id = black_box(i),
        price = black_box(1.5 + i as f64),
        symbol = black_box("BTC-USD"),
        ok = black_box(true),
        "order filled"
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let calls: usize = std::env::var("LATENCY_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick {
        10_000
    } else {
        1_000_000
    });
    let (_dir, _guard) = common::setup(logkit::Config::default());
    let npt = ns_per_tick();

    report("timer_floor", paced(calls, |_| {}), npt);
    report("disabled_debug", paced(calls, |i| logkit::debug!(i = black_box(i), "off")), npt);
    report("four_fields", paced(calls, four_fields), npt);
    logkit::flush();

    // Two producers, each paced at one call per µs: the second thread's percentiles.
    // (On 2 cores, two spinning producers and the writer share the machine.)
    {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let other = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut next = Instant::now();
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    while Instant::now() < next {
                        std::hint::spin_loop();
                    }
                    next += Duration::from_micros(1);
                    four_fields(i);
                    i += 1;
                }
            })
        };
        report("four_fields_2_producers", paced(calls, four_fields), npt);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        other.join().expect("second producer");
        logkit::flush();
    }

    // How the caller's cost grows with the number of fields and the record's size.
    report("message_only", paced(calls, |_| logkit::info!("order filled")), npt);
    logkit::flush();
    report(
        "eight_fields",
        paced(calls, |i| {
            logkit::info!(
                a = black_box(i),
                b = black_box(2.5f64),
                c = black_box("BTC-USD"),
                d = black_box(true),
                e = black_box(i + 1),
                f = black_box(-3i64),
                g = black_box("venue-7"),
                h = black_box(false),
                "order filled"
            )
        }),
        npt,
    );
    logkit::flush();
    let s64 = "x".repeat(64);
    let s1k = "x".repeat(1024);
    report("one_str_64_bytes", paced(calls, |_| logkit::info!(s = black_box(s64.as_str()), "sized")), npt);
    logkit::flush();
    report("one_str_1_kib", paced(calls / 4, |_| logkit::info!(s = black_box(s1k.as_str()), "sized")), npt);
    logkit::flush();
    report(
        "display_and_debug",
        paced(calls, |i| logkit::info!(user = %black_box("ann"), req = ?black_box((i, "x")), "handled")),
        npt,
    );
    logkit::flush();

    // The same record with a 3-key bound context, inside a span.
    let _ = logkit::new_context!(user = "u1", path = "/orders", region = "eu-west-1");
    let span = logkit::span!("handle");
    report("four_fields_ctx3_in_span", paced(calls, four_fields), npt);
    drop(span);
    logkit::flush();

    report(
        "span_create_drop",
        paced(calls, |_| {
            let _s = logkit::span!("unit");
        }),
        npt,
    );
    logkit::flush();
    report(
        "new_context_2_keys",
        paced(calls, |i| {
            let _ = logkit::new_context!(user = "u1", request = black_box(i));
        }),
        npt,
    );
    logkit::flush();
}
