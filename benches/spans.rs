//! What trace sampling, `START` records and the open-span registry cost the caller
//! (criterion; mean per call, the writer thread running alongside). PERF.md, "Trace
//! sampling, START records and the open-span registry", has the figures and commands.
//!
//! `cargo bench --bench spans -- --warm-up-time 1 --measurement-time 3`, once with
//! `LOG_SPAN_START=1` (the default) and once with `LOG_SPAN_START=0`: the span
//! benches are named after the setting.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

fn spans(c: &mut Criterion) {
    // From the environment: `LOG_SPAN_START` decides the span benches' START records.
    let (_dir, _guard) = common::setup(logkit::Config::from_env().expect("LOG_* knobs"));
    let start = std::env::var("LOG_SPAN_START").unwrap_or_else(|_| "1".to_owned());

    // The gate: a record left out by its level, by per-record sampling (no trace), and
    // by its trace's sampling decision (inside a unit whose trace is dropped).
    let mut g = c.benchmark_group("sampling");
    g.bench_function("disabled_debug", |b| {
        b.iter(|| logkit::debug!(order_id = black_box(42u64), "disabled"));
    });
    logkit::set_sample(0.0).expect("sample");
    g.bench_function("sampled_out_no_trace", |b| {
        b.iter(|| logkit::info!(order_id = black_box(42u64), "sampled out"));
    });
    {
        let _unit = logkit::scoped_context!(user = "u1");
        g.bench_function("sampled_out_in_trace", |b| {
            b.iter(|| logkit::info!(order_id = black_box(42u64), "sampled out"));
        });
        g.bench_function("span_create_drop_sampled_out", |b| {
            b.iter(|| {
                let _s = logkit::span!("unit");
            });
        });
    }
    logkit::set_sample(1.0).expect("sample");
    {
        let _unit = logkit::scoped_context!(user = "u1");
        g.bench_function("kept_in_trace", |b| {
            b.iter(|| logkit::info!(order_id = black_box(42u64), "kept"));
        });
    }
    g.finish();
    logkit::flush();

    // A span's whole life: id, context frame, open-span registry, START (when on) and
    // END records.
    let mut g = c.benchmark_group("span");
    g.bench_function(format!("create_drop_start_{start}"), |b| {
        b.iter(|| {
            let _s = logkit::span!("unit");
        });
    });
    g.bench_function(format!("create_drop_nested_in_span_start_{start}"), |b| {
        let _outer = logkit::span!("outer");
        b.iter(|| {
            let _s = logkit::span!("unit", n = black_box(1u64));
        });
    });
    g.finish();
    logkit::flush();
}

criterion_group!(benches, spans);
criterion_main!(benches);
