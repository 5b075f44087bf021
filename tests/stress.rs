//! Stress: 8 threads × 1 000 000 records, as fast as they can, through a ring of 16
//! records (`LOG_BUFFER=16`: one record per batch, so every record is a hand-off to the
//! writer thread and the producers spend most of their time waiting for room).
//!
//! - block mode (the default): every record is written exactly once, in per-thread order,
//!   and nothing is reported dropped;
//! - drop mode: records written + the sum of the `dropped` counts of the `logkit.dropped`
//!   reports = records logged, exactly, and what is written is in per-thread order.
//!
//! Each scenario runs in a child process (logkit is a process-wide singleton), with
//! rotation off so that the whole run is in one `run.log`. The log (8 M lines, ~0.7 GB in
//! block mode) is read line by line; the two integer fields are picked out without a JSON
//! parser, and every 9 973rd line, as well as every line that is not a `stress` record, is
//! parsed in full with serde_json.
//!
//! Both together take 35–50 s in a debug build on a 2-core machine (the block-mode child
//! ~22–34 s, reading its log ~13 s) and ~11 s with `cargo test --release --test stress`.
//! `LOGKIT_STRESS_PER_THREAD=100000 cargo test --test stress` runs a 10× smaller
//! version (~4 s).
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

const THREADS: u64 = 8;
/// Records per thread unless `LOGKIT_STRESS_PER_THREAD` says otherwise.
const PER_THREAD: u64 = 1_000_000;
/// One line in this many is checked with a full JSON parse.
const SAMPLE_EVERY: u64 = 9_973;

/// `LOGKIT_STRESS_PER_THREAD`, or [`PER_THREAD`] (the child inherits the variable).
fn per_thread() -> u64 {
    match std::env::var("LOGKIT_STRESS_PER_THREAD") {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("LOGKIT_STRESS_PER_THREAD={v:?} is not a count")),
        Err(_) => PER_THREAD,
    }
}

/// The child body: `THREADS` × `per_thread` records, started together, then a flush.
fn produce(per_thread: u64) {
    let start = Instant::now();
    let gate = std::sync::Arc::new(std::sync::Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let gate = gate.clone();
            std::thread::spawn(move || {
                gate.wait();
                for i in 0..per_thread {
                    logkit::info!(t, i, "stress");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer");
    }
    let logged = start.elapsed();
    logkit::flush();
    eprintln!("STRESS-TIMING: logged in {logged:?}, flushed after {:?}", start.elapsed());
}

/// What the log says.
#[derive(Debug, Default)]
struct Tally {
    written: u64,
    dropped: u64,
    drop_reports: u64,
    lines: u64,
}

/// The unsigned integer right after `key` (e.g. `,"t":`) in `line`.
fn int_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Reads the log and checks per-thread order (`strict`: and no gap, i.e. nothing lost).
fn tally(path: &Path, per_thread: u64, strict: bool) -> Tally {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut next = vec![0u64; THREADS as usize];
    let mut tally = Tally::default();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).expect("read log") == 0 {
            break;
        }
        tally.lines += 1;
        let n = tally.lines;
        let l = line.strip_suffix('\n').unwrap_or_else(|| panic!("line {n} has no newline: {line:?}"));
        let fast = l.contains(r#","event":"stress","#);
        if !fast || n % SAMPLE_EVERY == 1 {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line {n} is not JSON ({e}): {l:?}"));
            match v["event"].as_str() {
                Some("stress") => {
                    assert!(fast, "line {n}: unexpected layout {l}");
                    assert_eq!(v["level"], "info", "line {n}: {l}");
                    assert_eq!(v["t"].as_u64(), int_after(l, r#","t":"#), "line {n}: {l}");
                    assert_eq!(v["i"].as_u64(), int_after(l, r#","i":"#), "line {n}: {l}");
                }
                // Written first by the process: not one of the test's records.
                Some("logkit.start") if n == 1 => {
                    tally.lines -= 1;
                    continue;
                }
                Some("logkit.dropped") => {
                    assert_eq!(v["level"], "warning", "line {n}: {l}");
                    let d = v["dropped"].as_u64().unwrap_or_else(|| panic!("line {n}: no count: {l}"));
                    assert!(d > 0, "line {n}: a report of 0 drops");
                    tally.dropped += d;
                    tally.drop_reports += 1;
                    continue;
                }
                _ => panic!("line {n}: unexpected record {l}"),
            }
        }
        let t = int_after(l, r#","t":"#).unwrap_or_else(|| panic!("line {n}: no t: {l}"));
        let i = int_after(l, r#","i":"#).unwrap_or_else(|| panic!("line {n}: no i: {l}"));
        assert!(t < THREADS && i < per_thread, "line {n}: out of range: {l}");
        let expected = &mut next[t as usize];
        if strict {
            assert_eq!(
                i, *expected,
                "line {n}: thread {t} record {i}, expected {expected} (lost, duplicated or reordered)"
            );
        } else {
            assert!(
                i >= *expected,
                "line {n}: thread {t} record {i} after {} (duplicated or reordered)",
                *expected - 1
            );
        }
        *expected = i + 1;
        tally.written += 1;
    }
    if strict {
        for (t, n) in next.iter().enumerate() {
            assert_eq!(*n, per_thread, "thread {t}: only {n} records");
        }
    }
    tally
}

/// Runs the child `name` with `env`, then checks its log.
fn scenario(name: &str, per_thread: u64, drop_mode: bool) {
    let dir = common::tempdir();
    let mut cmd = common::child(name, dir.path());
    cmd.env("LOG_BUFFER", "16").env("LOG_ROTATE_MB", "0").env("LOG_FSYNC", "never");
    if drop_mode {
        cmd.env("LOG_OVERFLOW", "drop");
    }
    let start = Instant::now();
    let out = common::run(cmd);
    let ran = start.elapsed();
    common::assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let timing = stderr.lines().find(|l| l.starts_with("STRESS-TIMING")).unwrap_or("(no timing)").to_owned();
    let start = Instant::now();
    let tally = tally(&dir.path().join("run.log"), per_thread, !drop_mode);
    let logged = THREADS * per_thread;
    println!("{name}: child {ran:?} ({timing}); checked {} lines in {:?}; {tally:?}", tally.lines, start.elapsed());
    if drop_mode {
        assert_eq!(
            tally.written + tally.dropped,
            logged,
            "written {} + dropped {} (in {} reports) != logged {logged}",
            tally.written,
            tally.dropped,
            tally.drop_reports
        );
    } else {
        assert_eq!(tally.drop_reports, 0, "block mode reported drops");
        assert_eq!(tally.written, logged);
    }
}

#[test]
fn block_mode_8_threads_through_a_ring_of_16_is_complete_and_ordered() {
    const NAME: &str = "block_mode_8_threads_through_a_ring_of_16_is_complete_and_ordered";
    if common::is_child(NAME) {
        produce(per_thread());
        return;
    }
    scenario(NAME, per_thread(), false);
}

#[test]
fn drop_mode_8_threads_through_a_ring_of_16_writes_or_reports_every_record() {
    const NAME: &str = "drop_mode_8_threads_through_a_ring_of_16_writes_or_reports_every_record";
    if common::is_child(NAME) {
        produce(per_thread());
        return;
    }
    scenario(NAME, per_thread(), true);
}
