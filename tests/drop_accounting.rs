//! Overflow accounting: under `LOG_OVERFLOW=drop` every record is either written or
//! counted in a `logkit.dropped` record; under the default `block` policy nothing is
//! dropped, even with a tiny ring.
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Output, Stdio};

use serde_json::Value as J;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 50_000;
/// Printed on stderr by a child once its producers are done.
const PRODUCERS_DONE: &str = "LOGKIT-TEST: producers done";

/// The child body: `threads` × `per_thread` INFO records as fast as possible, then a
/// marker on stderr, then a flush.
fn burst(threads: u64, per_thread: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    logkit::info!(t, i, "burst");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("producer");
    }
    eprintln!("{PRODUCERS_DONE}");
    logkit::flush();
}

fn child_with(name: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> Command {
    let mut c = common::child(name, dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// What a run.log says about a burst.
struct Accounting {
    written: u64,
    dropped: u64,
    dropped_records: usize,
}

/// Counts written `burst` records and reported drops, checking that every report is a
/// well-formed WARN record and that each thread's records are in the order logged.
fn account(recs: &[J]) -> Accounting {
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    let mut acc = Accounting { written: 0, dropped: 0, dropped_records: 0 };
    for r in recs {
        match r["event"].as_str() {
            Some("burst") => {
                let (t, i) = (r["t"].as_u64().expect("t"), r["i"].as_u64().expect("i"));
                if let Some(prev) = last.insert(t, i) {
                    assert!(i > prev, "thread {t}: record {i} written after {prev}");
                }
                acc.written += 1;
            }
            Some("logkit.dropped") => {
                assert_eq!(r["level"], "warning", "{r}");
                let n = r["dropped"].as_u64().unwrap_or_else(|| panic!("`dropped` is not a count: {r}"));
                assert!(n > 0, "a drop report of 0: {r}");
                acc.dropped += n;
                acc.dropped_records += 1;
            }
            other => panic!("unexpected record {other:?}: {r}"),
        }
    }
    acc
}

/// Every record of run.log and its rotated backups, oldest first (200k records are
/// past the default 10 MiB rotation size).
fn all_records(dir: &std::path::Path) -> Vec<J> {
    let chain = common::log_chain(dir, "run.log");
    assert!(!chain.is_empty(), "no run.log");
    chain.iter().flat_map(|p| common::read_jsonl(p)).collect()
}

fn show(out: &Output) -> String {
    format!("status {:?}\n--- stderr\n{}", out.status, String::from_utf8_lossy(&out.stderr))
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        burst(1, 1_000);
        return;
    }
    let dir = common::tempdir();
    let env = [("LOG_OVERFLOW", "drop"), ("LOG_BUFFER", "16")];
    let out = common::run(child_with("smoke", dir.path(), &env));
    common::assert_success(&out);
    let acc = account(&all_records(dir.path()));
    assert_eq!(acc.written + acc.dropped, 1_000, "written {} + dropped {}", acc.written, acc.dropped);
}

#[test]
fn drop_mode_writes_or_counts_every_record() {
    const NAME: &str = "drop_mode_writes_or_counts_every_record";
    if common::is_child(NAME) {
        burst(THREADS, PER_THREAD);
        return;
    }
    let dir = common::tempdir();
    let env = [("LOG_OVERFLOW", "drop"), ("LOG_BUFFER", "16")];
    let out = common::run(child_with(NAME, dir.path(), &env));
    common::assert_success(&out);
    let acc = account(&all_records(dir.path()));
    assert_eq!(
        acc.written + acc.dropped,
        THREADS * PER_THREAD,
        "written {} + dropped {} (in {} reports)",
        acc.written,
        acc.dropped,
        acc.dropped_records
    );
    // Whether anything was dropped depends on this machine's speed; the sum may not.
    println!("written {}, dropped {} in {} reports", acc.written, acc.dropped, acc.dropped_records);
}

/// Runs `name` with its console on a stdout pipe that nobody reads until the child
/// prints [`PRODUCERS_DONE`] on stderr (no timing involved); then drains both pipes
/// and waits. A child that never gets there is killed after two minutes, so a hang
/// fails the test instead of stalling it.
fn run_with_unread_console(name: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut child =
        child_with(name, dir, env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn child");
    let pid = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(std::time::Duration::from_secs(120)).is_err() {
            // SAFETY: `kill` on our own child's pid; at worst the process is gone.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    });
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut stderr = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).expect("read stderr") > 0 {
        stderr.push_str(&line);
        if line.trim_end() == PRODUCERS_DONE {
            break;
        }
        line.clear();
    }
    let _ = done_tx.send(());
    watchdog.join().expect("watchdog");
    // Now unblock the writer.
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stdout.read_to_end(&mut buf).expect("read stdout");
        buf
    });
    err.read_to_string(&mut stderr).expect("read stderr");
    let status = child.wait().expect("wait");
    let stdout = reader.join().expect("stdout reader");
    Output { status, stdout, stderr: stderr.into_bytes() }
}

#[test]
fn drop_mode_behind_a_stalled_console_drops_and_reports_the_count() {
    const NAME: &str = "drop_mode_behind_a_stalled_console_drops_and_reports_the_count";
    if common::is_child(NAME) {
        burst(THREADS, PER_THREAD);
        return;
    }
    // The console is the child's stdout, a pipe nobody reads until the producers are
    // done: the writer stalls on it once the pipe is full, so the ring fills and
    // records must be dropped. No timing involved: the stderr marker says when to read.
    let dir = common::tempdir();
    let env = [("LOG_OVERFLOW", "drop"), ("LOG_BUFFER", "16"), ("LOG_CONSOLE", "stdout"), ("LOG_PROFILE", "prod")];
    let out = run_with_unread_console(NAME, dir.path(), &env);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(PRODUCERS_DONE), "{}", show(&out));

    let acc = account(&all_records(dir.path()));
    assert_eq!(
        acc.written + acc.dropped,
        THREADS * PER_THREAD,
        "written {} + dropped {} (in {} reports)",
        acc.written,
        acc.dropped,
        acc.dropped_records
    );
    assert!(acc.dropped > 0, "nothing dropped behind a stalled console ({} written)", acc.written);
    assert!(acc.dropped_records > 0);
}

#[test]
fn block_mode_with_a_tiny_ring_drops_nothing() {
    const NAME: &str = "block_mode_with_a_tiny_ring_drops_nothing";
    if common::is_child(NAME) {
        burst(THREADS, PER_THREAD);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_BUFFER", "16")]));
    common::assert_success(&out);
    let acc = account(&all_records(dir.path()));
    assert_eq!(acc.dropped_records, 0, "a logkit.dropped record in block mode");
    assert_eq!(acc.written, THREADS * PER_THREAD);
}

#[test]
fn block_mode_behind_a_stalled_console_neither_hangs_nor_loses_a_record() {
    const NAME: &str = "block_mode_behind_a_stalled_console_neither_hangs_nor_loses_a_record";
    if common::is_child(NAME) {
        burst(THREADS, PER_THREAD);
        return;
    }
    // As above, but lossless: the console pipe is not read until the producers are
    // done. A console that waited on its reader would stop the writer, fill the ring
    // and block the producers for ever; the console gives up on a stalled reader
    // after a bounded wait instead, and the file keeps every record.
    let dir = common::tempdir();
    let env = [("LOG_BUFFER", "16"), ("LOG_CONSOLE", "stdout"), ("LOG_PROFILE", "prod")];
    let out = run_with_unread_console(NAME, dir.path(), &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(PRODUCERS_DONE), "the producers hung behind the stalled console:\n{stderr}");
    assert!(out.status.success(), "{}", show(&out));
    let acc = account(&all_records(dir.path()));
    assert_eq!((acc.written, acc.dropped), (THREADS * PER_THREAD, 0), "block mode lost records");
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(console.contains("the console reader stalled"), "no note about the skipped console lines");
}
