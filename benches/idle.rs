//! What an idle logkit costs: the writer thread's CPU time while nothing is logged.
//!
//! `cargo bench --bench idle` (IDLE_SECS sets the idle period, default 10)

use std::time::{Duration, Instant};

/// Nanoseconds on CPU of the thread named `name` (`/proc/self/task/*/schedstat`).
fn thread_cpu_ns(name: &str) -> Option<u64> {
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            return stat.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let secs: u64 = std::env::var("IDLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1 } else { 10 });
    let dir = tempfile::tempdir().expect("tempdir");
    let _guard =
        logkit::Config::default().file(dir.path().join("run.log")).console(logkit::Console::Off).init().expect("init");
    logkit::info!("one record, then silence");
    logkit::flush();
    let before = thread_cpu_ns("logkit-writer").expect("writer thread");
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let after = thread_cpu_ns("logkit-writer").expect("writer thread");
    let cpu_s = (after - before) as f64 / 1e9;
    let wall = t0.elapsed().as_secs_f64();
    println!("idle writer: {:.1} ms CPU over {:.1} s = {:.3} % of a core", cpu_s * 1e3, wall, 100.0 * cpu_s / wall);
}
