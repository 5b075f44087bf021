//! Soak: several minutes of mixed logging, with memory flat and every record accounted
//! for. Ignored by default (it takes minutes); run it with
//!
//! ```text
//! cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! Knobs (environment): `LOGKIT_SOAK_SECS` — how long the workload runs (default 300);
//! `LOGKIT_SOAK_ROTATE_MB` — `LOG_ROTATE_MB` of the run (default 100: with the 5 backups
//! that keeps ~600 MB, all of a default run at ~1 MB/s, so that every record can be
//! checked; give more for much longer runs).
//!
//! The workload, in a child process (logkit is a process-wide singleton), in block mode
//! with a ring of 1 024 records:
//! - 4 long-lived workers, each in a loop of work units: `new_context!` per unit, a
//!   `span!` around it (sometimes a nested one), a burst of 1–60 records, then a pause of
//!   0–100 ms; every 400th unit a burst of 10 000 records that fills the ring; now and
//!   then a record with a 100 KB field, or a 300 KB one that makes a buffer grow past what
//!   the writer keeps; every 100th unit a `flush()`;
//! - thread churn: every 50 ms a short-lived thread (`logkit::thread::spawn`, so it starts
//!   in its parent's context) logs 50 records and exits, so slots are registered and
//!   pruned all the time;
//! - a sampler reads the process's RSS from `/proc/self/statm` once a second.
//!
//! Checks:
//! - memory is flat: the largest RSS of the last stretch (the last minute, or the last
//!   third of a shorter run) is at most the largest RSS of the warm-up (the first minute,
//!   or first third) plus 8 MiB;
//! - every record is accounted for: each worker's and each churn thread's records are all
//!   in the log, once each and in order; there is one `END` record per span opened; no
//!   `logkit.dropped` or `logkit.lost` record;
//! - the RSS curve (every 10 s) and the totals are printed.
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logkit::{info, new_context, span, warn};

const WORKERS: u64 = 4;
const CHURN_RECORDS: u64 = 50;
const CHURN_EVERY: Duration = Duration::from_millis(50);
const MARGIN_KIB: u64 = 8 * 1024;

fn secs() -> u64 {
    std::env::var("LOGKIT_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("statm resident");
    // SAFETY: `sysconf` only reads a configuration value; `_SC_PAGESIZE` is always valid.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page as u64 / 1024
}

/// What a worker did, reported by the child at the end.
#[derive(Default)]
struct WorkerCount {
    records: u64,
    spans: u64,
}

fn worker(w: u64, deadline: Instant) -> WorkerCount {
    let mut count = WorkerCount::default();
    let mut rng = fastrand::Rng::with_seed(w);
    let big = "b".repeat(100 * 1024);
    let huge = "h".repeat(300 * 1024);
    let mut unit = 0u64;
    while Instant::now() < deadline {
        new_context!(worker = w, unit = unit);
        let _span = span!("unit", kind = "work");
        count.spans += 1;
        let burst = if unit % 400 == 1 { 10_000 } else { rng.u64(1..=60) };
        for _ in 0..burst {
            let n = count.records;
            match n % 10_007 {
                0 => info!(s = w, n, big = big.as_str(), "soak"),
                5_000 => warn!(s = w, n, huge = huge.as_str(), "soak"),
                _ => info!(s = w, n, unit, text = "some payload to make the record typical", "soak"),
            }
            count.records += 1;
        }
        if rng.u8(0..10) == 0 {
            let _inner = span!("inner");
            count.spans += 1;
            let n = count.records;
            info!(s = w, n, "soak");
            count.records += 1;
        }
        if unit % 100 == 99 {
            logkit::flush();
        }
        drop(_span);
        std::thread::sleep(Duration::from_millis(rng.u64(0..=100)));
        unit += 1;
    }
    count
}

/// The child: runs the workload, samples RSS, prints what it did.
fn child() {
    let run = Duration::from_secs(secs());
    let start = Instant::now();
    let deadline = start + run;
    let workers: Vec<_> = (0..WORKERS).map(|w| std::thread::spawn(move || worker(w, deadline))).collect();
    let churned = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let churner = {
        let (churned, stop) = (churned.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let c = churned.fetch_add(1, Ordering::Relaxed);
                new_context!(churn = c);
                let t = logkit::thread::spawn(move || {
                    for k in 0..CHURN_RECORDS {
                        info!(c, k, "churn");
                    }
                });
                t.join().expect("churn thread");
                std::thread::sleep(CHURN_EVERY);
            }
        })
    };
    let mut next_sample = start;
    while Instant::now() < deadline {
        println!("SOAK-RSS {} {}", start.elapsed().as_secs(), rss_kib());
        next_sample += Duration::from_secs(1);
        std::thread::sleep(next_sample.saturating_duration_since(Instant::now()));
    }
    println!("SOAK-RSS {} {}", start.elapsed().as_secs(), rss_kib());
    for (w, h) in workers.into_iter().enumerate() {
        let c = h.join().expect("worker");
        println!("SOAK-WORKER {w} {} {}", c.records, c.spans);
    }
    stop.store(true, Ordering::Relaxed);
    churner.join().expect("churner");
    println!("SOAK-CHURN {}", churned.load(Ordering::Relaxed));
    logkit::flush();
    println!("SOAK-RSS-END {}", rss_kib());
}

/// What the child printed.
#[derive(Default, Debug)]
struct Report {
    rss: Vec<(u64, u64)>,
    workers: HashMap<u64, (u64, u64)>,
    churn: u64,
}

fn parse_report(stdout: &str) -> Report {
    let mut r = Report::default();
    for line in stdout.lines() {
        // With `--nocapture` the harness's `test … ` may precede the first line.
        let Some(at) = line.find("SOAK-") else { continue };
        let line = &line[at..];
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f[i].parse::<u64>().unwrap_or_else(|_| panic!("bad report line {line:?}"));
        match f.first().copied() {
            Some("SOAK-RSS") => r.rss.push((num(1), num(2))),
            Some("SOAK-WORKER") => {
                r.workers.insert(num(1), (num(2), num(3)));
            }
            Some("SOAK-CHURN") => r.churn = num(1),
            _ => {}
        }
    }
    r
}

/// Checks every line of the log chain against what the child says it logged.
fn check_log(dir: &Path, report: &Report) -> u64 {
    let chain = common::log_chain(dir, "run.log");
    assert!(!chain.is_empty(), "no run.log");
    let mut next_worker: HashMap<u64, u64> = HashMap::new();
    let mut next_churn: HashMap<u64, u64> = HashMap::new();
    let mut ends: HashMap<u64, u64> = HashMap::new();
    let mut lines = 0u64;
    for path in &chain {
        let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(path).expect("open log"));
        for line in reader.lines() {
            let line = line.expect("read log");
            lines += 1;
            let v: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{}: line is not JSON ({e}): {line:.200}", path.display()));
            let num = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k}: {line:.300}"));
            match v["event"].as_str() {
                Some("soak") => {
                    let (w, n) = (num("s"), num("n"));
                    assert_eq!(num("worker"), w, "context of worker {w} on another's record: {line:.300}");
                    let next = next_worker.entry(w).or_insert(0);
                    assert_eq!(n, *next, "worker {w}: record {n}, expected {next} (lost, duplicated or reordered)");
                    *next += 1;
                }
                Some("churn") => {
                    let (c, k) = (num("c"), num("k"));
                    assert_eq!(num("churn"), c, "a churn thread did not start in its parent's context: {line:.300}");
                    let next = next_churn.entry(c).or_insert(0);
                    assert_eq!(k, *next, "churn thread {c}: record {k}, expected {next}");
                    *next += 1;
                }
                Some("END") => {
                    assert_eq!(v["status"], "success", "{line:.300}");
                    *ends.entry(num("worker")).or_insert(0) += 1;
                }
                _ => panic!("unexpected record: {line:.300}"),
            }
        }
    }
    assert_eq!(report.workers.len() as u64, WORKERS, "child report: {report:?}");
    for (w, (records, spans)) in &report.workers {
        let written = next_worker.get(w).copied().unwrap_or(0);
        assert_eq!(
            written, *records,
            "worker {w}: {written} of {records} records in the log (rotated away? raise LOGKIT_SOAK_ROTATE_MB)"
        );
        assert_eq!(ends.get(w).copied().unwrap_or(0), *spans, "worker {w}: END records");
    }
    assert_eq!(next_churn.len() as u64, report.churn, "churn threads with records");
    for (c, n) in &next_churn {
        assert_eq!(*n, CHURN_RECORDS, "churn thread {c}");
    }
    lines
}

#[test]
#[ignore = "minutes: cargo test --release --test soak -- --ignored --nocapture (LOGKIT_SOAK_SECS=300)"]
fn soak_memory_stays_flat_and_every_record_is_accounted_for() {
    const NAME: &str = "soak_memory_stays_flat_and_every_record_is_accounted_for";
    if common::is_child(NAME) {
        child();
        return;
    }
    let dir = common::tempdir();
    let rotate = std::env::var("LOGKIT_SOAK_ROTATE_MB").unwrap_or_else(|_| "100".into());
    let mut cmd = common::child(NAME, dir.path());
    cmd.arg("--include-ignored").env("LOG_BUFFER", "1024").env("LOG_ROTATE_MB", rotate);
    let start = Instant::now();
    let out = common::run(cmd);
    common::assert_success(&out);
    let ran = start.elapsed();
    let report = parse_report(&String::from_utf8_lossy(&out.stdout));
    let start = Instant::now();
    let lines = check_log(dir.path(), &report);
    let records: u64 = report.workers.values().map(|(r, _)| r).sum::<u64>() + report.churn * CHURN_RECORDS;
    println!(
        "soak: child ran {ran:?}; {lines} lines ({records} records from {WORKERS} workers and {} churn threads) checked in {:?}",
        report.churn,
        start.elapsed()
    );

    // Memory: the last stretch against the warm-up.
    let total = report.rss.last().map(|s| s.0).unwrap_or(0);
    let stretch = (total / 3).min(60);
    assert!(stretch > 0 && report.rss.len() > 3, "too few RSS samples: {:?}", report.rss);
    let max_in = |from: u64, to: u64| report.rss.iter().filter(|s| s.0 >= from && s.0 <= to).map(|s| s.1).max();
    let warm = max_in(0, stretch).expect("warm-up samples");
    let last = max_in(total - stretch, total).expect("last samples");
    let curve: Vec<String> =
        report.rss.iter().filter(|s| s.0 % 10 == 0).map(|s| format!("{}s:{}", s.0, s.1 / 1024)).collect();
    println!("soak: RSS MiB every 10 s: {}", curve.join(" "));
    println!("soak: warm-up (0–{stretch} s) max {warm} KiB; last {stretch} s max {last} KiB");
    assert!(
        last <= warm + MARGIN_KIB,
        "RSS grew: last {stretch} s max {last} KiB > warm-up max {warm} KiB + {MARGIN_KIB} KiB"
    );
}
