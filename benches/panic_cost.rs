//! What a panic costs: the wall time of a caught panic 10 frames deep, with logkit's
//! hook (`MODE=logkit`: logkit started, console off, file in a temporary directory)
//! and without logkit (`MODE=none`), and of one `Backtrace::force_capture` and its
//! rendering alone (`MODE=capture`). Prints the first call and the median of `N`
//! (default 20). Run it with `RUST_BACKTRACE` unset, `1` and `full` (PERF.md, "What a
//! panic costs"); Rust's own hook writes to stderr, so send that to `/dev/null`:
//!
//! ```text
//! cargo bench --bench panic_cost --no-run
//! MODE=logkit target/release/deps/panic_cost-* 2>/dev/null
//! ```
use std::hint::black_box;
use std::time::Instant;

#[inline(never)]
fn deep(n: u32) -> u32 {
    if n == 0 {
        panic!("index out of date");
    }
    black_box(deep(n - 1)) + 1
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(20).max(1);
    let mode = std::env::var("MODE").unwrap_or_else(|_| "logkit".into());
    let bt = std::env::var("RUST_BACKTRACE").unwrap_or_default();
    if mode == "capture" {
        let (mut cap, mut render) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let t0 = Instant::now();
            let b = std::backtrace::Backtrace::force_capture();
            let t1 = Instant::now();
            black_box(b.to_string().len());
            cap.push((t1 - t0).as_secs_f64() * 1e3);
            render.push(t1.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "capture: force_capture median {:.3} ms; rendering first {:.3} ms, median {:.3} ms",
            median(cap),
            render[0],
            median(render.clone())
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let _guard = (mode == "logkit").then(|| {
        logkit::Config::default().file(dir.path().join("run.log")).console(logkit::Console::Off).init().expect("init")
    });
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let s = Instant::now();
        let _ = std::panic::catch_unwind(|| deep(10));
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    println!("{mode} RUST_BACKTRACE={bt:?}: first {:.3} ms, median {:.3} ms", t[0], median(t.clone()));
}
