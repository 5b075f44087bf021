//! Size-based rotation of `run.log`: `LOG_ROTATE_MB` (or `Config::rotate_bytes`), five
//! backups `run.log.1` (newest) … `run.log.5`, a record never split across files, every
//! file ending with a newline, and the chain continuing across runs.
mod common;

use std::path::{Path, PathBuf};

/// ~100 bytes of padding, so a record is ~200 bytes and a 0.05 MiB file holds ~250.
const PAD: &str =
    "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp";
/// `LOG_ROTATE_MB=0.05`, in bytes (0.05 × 1 MiB, rounded).
const LIMIT_MB: &str = "0.05";
const LIMIT: u64 = 52_429;

fn log_numbered(run: u64, n: u64) {
    for seq in 0..n {
        logkit::info!(run = run, seq = seq, pad = PAD, "numbered");
    }
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set")).parse().unwrap()
}

/// The longest line (with its newline) over `files`.
fn longest_line(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(|l| l.len() as u64 + 1).collect::<Vec<_>>())
        .max()
        .unwrap_or(0)
}

/// Checks the chain in `dir` is exactly `run.log.5 … run.log.1, run.log`, that every file
/// parses as JSONL ending with a newline, that no file exceeds `limit` by more than one
/// record and that no backup was rotated away long before reaching `limit`; returns the
/// records oldest first.
fn check_full_chain(dir: &Path, limit: u64) -> Vec<serde_json::Value> {
    let files = common::log_chain(dir, "run.log");
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["run.log.5", "run.log.4", "run.log.3", "run.log.2", "run.log.1", "run.log"], "the log chain");
    let max_line = longest_line(&files);
    let mut all = Vec::new();
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(
            size <= limit + max_line,
            "{} is {size} bytes: more than the limit {limit} plus one record ({max_line})",
            f.display()
        );
        let recs = common::read_jsonl(f);
        assert!(!recs.is_empty(), "{} is empty", f.display());
        if f.extension().is_some_and(|e| e != "log") {
            assert!(size >= limit / 2, "backup {} rotated at {size} bytes, far below the limit {limit}", f.display());
        }
        all.extend(recs);
    }
    all
}

/// The `seq` values of the records with `"event":"numbered"`, in file order.
fn seqs(recs: &[serde_json::Value]) -> Vec<u64> {
    recs.iter().filter(|r| r["event"] == "numbered").map(|r| r["seq"].as_u64().expect("seq")).collect()
}

/// Asserts `s` is `first..=last` without gaps, duplicates or reordering.
fn assert_contiguous(s: &[u64], what: &str) {
    for w in s.windows(2) {
        assert_eq!(w[1], w[0] + 1, "{what}: seq {} follows {} (lost, duplicated or reordered)", w[1], w[0]);
    }
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        log_numbered(1, 10);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    assert_eq!(common::log_chain(dir.path(), "run.log"), [dir.path().join("run.log")]);
    assert_eq!(seqs(&common::read_jsonl(&dir.path().join("run.log"))), (0..10).collect::<Vec<_>>());
}

#[test]
fn rotation_keeps_exactly_five_backups_with_the_newest_records_in_order() {
    const NAME: &str = "rotation_keeps_exactly_five_backups_with_the_newest_records_in_order";
    const N: u64 = 6_000; // ~1.2 MB: ~23 rotations at 0.05 MiB
    if common::is_child(NAME) {
        log_numbered(1, N);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_ROTATE_MB", LIMIT_MB));
    common::assert_success(&out);
    let recs = check_full_chain(dir.path(), LIMIT);
    let s = seqs(&recs);
    assert_contiguous(&s, "run.log.5 … run.log");
    assert_eq!(s.last(), Some(&(N - 1)), "the newest record is missing");
    assert!(s[0] > 0, "nothing was rotated away: {} records kept of {N}", s.len());
}

#[test]
fn rotation_limit_set_by_config_builder() {
    const NAME: &str = "rotation_limit_set_by_config_builder";
    const N: u64 = 3_000; // ~600 KB: ~30 rotations at 20 kB
    const BYTES: u64 = 20_000;
    if common::is_child(NAME) {
        let _guard = logkit::Config::from_env().unwrap().rotate_bytes(BYTES).init().unwrap();
        log_numbered(1, N);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    let s = seqs(&check_full_chain(dir.path(), BYTES));
    assert_contiguous(&s, "run.log.5 … run.log");
    assert_eq!(s.last(), Some(&(N - 1)), "the newest record is missing");
    assert!(s[0] > 0, "nothing was rotated away");
}

#[test]
fn second_run_in_the_same_directory_continues_the_chain() {
    const NAME: &str = "second_run_in_the_same_directory_continues_the_chain";
    const N1: u64 = 6_000;
    const N2: u64 = 600; // ~120 kB: rotates at least twice, keeps the newest of run 1
    if common::is_child(NAME) {
        log_numbered(env_u64("ROTATION_RUN"), env_u64("ROTATION_COUNT"));
        return;
    }
    let dir = common::tempdir();
    for (run, n) in [(1, N1), (2, N2)] {
        let out = common::run(
            common::child(NAME, dir.path())
                .env("LOG_ROTATE_MB", LIMIT_MB)
                .env("ROTATION_RUN", run.to_string())
                .env("ROTATION_COUNT", n.to_string()),
        );
        common::assert_success(&out);
    }
    let recs = check_full_chain(dir.path(), LIMIT);
    let runs: Vec<(u64, u64)> = recs
        .iter()
        .filter(|r| r["event"] == "numbered")
        .map(|r| (r["run"].as_u64().unwrap(), r["seq"].as_u64().unwrap()))
        .collect();
    let split = runs.iter().position(|&(run, _)| run == 2).expect("no record of run 2");
    let (first, second) = runs.split_at(split);
    assert!(first.iter().all(|&(run, _)| run == 1), "records of run 1 after run 2's");
    assert!(second.iter().all(|&(run, _)| run == 2), "records of run 1 after run 2's");
    assert!(!first.is_empty(), "run 2 rotated all of run 1 away (it wrote ~2 files' worth)");
    let s1: Vec<u64> = first.iter().map(|&(_, s)| s).collect();
    assert_contiguous(&s1, "run 1");
    assert_eq!(s1.last(), Some(&(N1 - 1)), "run 1's newest record is missing");
    let s2: Vec<u64> = second.iter().map(|&(_, s)| s).collect();
    assert_eq!(s2, (0..N2).collect::<Vec<_>>(), "run 2's records");
    let live_runs: Vec<u64> = common::read_jsonl(&dir.path().join("run.log"))
        .iter()
        .filter(|r| r["event"] == "numbered")
        .map(|r| r["run"].as_u64().unwrap())
        .collect();
    assert!(!live_runs.is_empty(), "run.log is empty");
    assert!(
        live_runs.iter().all(|&r| r == 2),
        "run.log still holds run 1's records: they were not moved to the backups"
    );
}

#[test]
fn rotate_mb_zero_never_rotates() {
    const NAME: &str = "rotate_mb_zero_never_rotates";
    const N: u64 = 12_000; // ~2.4 MB
    if common::is_child(NAME) {
        log_numbered(1, N);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_ROTATE_MB", "0"));
    common::assert_success(&out);
    assert_eq!(common::log_chain(dir.path(), "run.log"), [dir.path().join("run.log")], "LOG_ROTATE_MB=0 rotated");
    assert_eq!(seqs(&common::read_jsonl(&dir.path().join("run.log"))), (0..N).collect::<Vec<_>>());
}

#[test]
fn record_bigger_than_the_limit_is_intact_in_its_own_file() {
    const NAME: &str = "record_bigger_than_the_limit_is_intact_in_its_own_file";
    const BIG: usize = 100_000; // about twice the 0.05 MiB limit
    if common::is_child(NAME) {
        for seq in 0..10u64 {
            logkit::info!(seq = seq, pad = PAD, "numbered");
        }
        let blob = "b".repeat(BIG);
        logkit::info!(seq = 10u64, blob = blob.as_str(), "numbered");
        for seq in 11..21u64 {
            logkit::info!(seq = seq, pad = PAD, "numbered");
        }
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_ROTATE_MB", LIMIT_MB));
    common::assert_success(&out);
    let files = common::log_chain(dir.path(), "run.log");
    let mut all = Vec::new();
    let mut big_file = None;
    for f in &files {
        let recs = common::read_jsonl(f);
        if let Some(big) = recs.iter().find(|r| r["seq"] == 10) {
            assert_eq!(big["blob"].as_str().map(str::len), Some(BIG), "the big record's value was cut");
            assert_eq!(recs.len(), 1, "{} holds the big record and {} others", f.display(), recs.len() - 1);
            big_file = Some(f.clone());
        } else {
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size <= LIMIT, "{} is {size} bytes without the big record", f.display());
        }
        all.extend(recs);
    }
    assert!(big_file.is_some(), "the big record is in no file: {files:?}");
    assert_eq!(seqs(&all), (0..21).collect::<Vec<_>>(), "records around the big one");
}
