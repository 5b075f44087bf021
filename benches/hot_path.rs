//! Caller cost of one log call, by kind of call (criterion; mean per call, including
//! the amortised hand-off of full buffers to the writer thread, which runs alongside).
//!
//! `cargo bench --bench hot_path`

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

/// The 4-field record (u64, f64, &str, bool), with a varying id.
fn four_fields(b: &mut criterion::Bencher<'_>) {
    let mut i = 0u64;
    b.iter(|| {
        i += 1;
        logkit::info!(
            order_id = black_box(i),
            price = black_box(1.5f64),
            symbol = black_box("BTC-USD"),
            ok = black_box(true),
            "order filled"
        );
    });
}

fn hot_path(c: &mut Criterion) {
    let (_dir, _guard) = common::setup(logkit::Config::default());
    let mut g = c.benchmark_group("hot_path");

    g.bench_function("disabled_debug", |b| {
        b.iter(|| logkit::debug!(order_id = black_box(42u64), "disabled"));
    });

    g.bench_function("four_fields", four_fields);

    g.bench_function("format_args_message", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            logkit::info!("filled order {} at {} for {}", black_box(i), black_box(1.5f64), black_box("BTC-USD"));
        });
    });

    g.bench_function("display_and_debug_fields", |b| {
        let v = vec![1u32, 2, 3];
        b.iter(|| logkit::info!(user = %black_box("ann"), items = ?black_box(&v), "handled"));
    });
    logkit::flush();

    // Issue 3's comparisons: the same record with a 3-key context inside a span, a
    // span's whole life (with its END record), and starting a work unit.
    {
        let _ = logkit::new_context!(user = "u1", path = "/orders", region = "eu-west-1");
        let _span = logkit::span!("handle");
        g.bench_function("four_fields_ctx3_in_span", four_fields);
    }
    g.bench_function("span_create_drop", |b| {
        b.iter(|| {
            let _s = logkit::span!("unit");
        });
    });
    g.bench_function("new_context_2_keys", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            logkit::new_context!(user = "u1", request = black_box(i))
        });
    });
    logkit::flush();

    logkit::set_sample(0.0).expect("sample");
    g.bench_function("sampled_out_info", |b| {
        b.iter(|| logkit::info!(order_id = black_box(42u64), "sampled out"));
    });
    logkit::set_sample(1.0).expect("sample");
    g.finish();
    logkit::flush();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
