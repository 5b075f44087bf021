//! End-to-end throughput: N producer threads log a burst, then `flush()` waits until
//! every record is written (and fsynced) to the file. Records/s = all records / time.
//!
//! `cargo bench --bench throughput`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const PER_THREAD: u64 = 100_000;

fn burst(threads: u64) -> Duration {
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    logkit::info!(
                        order_id = black_box(i),
                        price = black_box(1.5f64),
                        symbol = "BTC-USD",
                        ok = true,
                        thread = t,
                        "order filled"
                    );
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("producer");
    }
    logkit::flush();
    start.elapsed()
}

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let _guard = logkit::Config::default()
        // BENCH_FILE=/dev/null isolates the writer's rendering from the disk.
        .file(std::env::var_os("BENCH_FILE").map_or_else(|| dir.path().join("run.log"), Into::into))
        .console(logkit::Console::Off)
        .rotate_bytes(std::env::var("BENCH_ROTATE_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(0))
        .level("info")
        .init()
        .expect("init");
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10);
    for threads in [1u64, 2] {
        g.throughput(Throughput::Elements(threads * PER_THREAD));
        g.bench_function(format!("{threads}_producer"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| burst(threads)).sum());
        });
    }
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
