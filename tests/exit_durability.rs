//! Exit without a guard is durable: returning from main, `std::process::exit`, panics
//! (unwinding, and the panic hook alone as with `panic = "abort"`), `flush()` followed by
//! SIGKILL, and several threads all leave every record in `run.log` exactly once, in
//! per-thread order.
mod common;

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Output;

/// Records per scenario: several thread buffers' worth, so some are on the ring, some in a
/// partly filled buffer when the process ends.
const K: u64 = 20_000;

fn log_seqs(thread: u64, range: std::ops::Range<u64>) {
    for seq in range {
        logkit::info!(thread = thread, seq = seq, pad = "some padding to make the record longer", "numbered");
    }
}

/// `(thread, seq)` of every `"numbered"` record in `dir/run.log` and its backups, oldest
/// first.
fn numbered(dir: &Path) -> Vec<(u64, u64)> {
    common::log_chain(dir, "run.log")
        .iter()
        .flat_map(|f| common::read_jsonl(f))
        .filter(|r| r["event"] == "numbered")
        .map(|r| (r["thread"].as_u64().expect("thread"), r["seq"].as_u64().expect("seq")))
        .collect()
}

/// Asserts thread `t`'s records are exactly `0..n[t]` in order, for every thread in `n`,
/// and that there are no records of other threads.
fn assert_complete(recs: &[(u64, u64)], expected: &[(u64, u64)], out: &Output) {
    let mut next: HashMap<u64, u64> = HashMap::new();
    for &(t, seq) in recs {
        let e = next.entry(t).or_insert(0);
        assert_eq!(
            seq,
            *e,
            "thread {t}: seq {seq} where {e} was expected (lost, duplicated or reordered)\n--- child stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        *e += 1;
    }
    for &(t, n) in expected {
        assert_eq!(next.remove(&t).unwrap_or(0), n, "thread {t}: records in run.log");
    }
    assert!(next.is_empty(), "records of unexpected threads: {next:?}");
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        log_seqs(0, 0..10);
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    assert_complete(&numbered(dir.path()), &[(0, 10)], &out);
}

#[test]
fn return_without_flush_or_guard_keeps_every_record() {
    const NAME: &str = "return_without_flush_or_guard_keeps_every_record";
    if common::is_child(NAME) {
        log_seqs(0, 0..K);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert_complete(&numbered(dir.path()), &[(0, K)], &out);
}

#[test]
fn process_exit_keeps_every_record() {
    const NAME: &str = "process_exit_keeps_every_record";
    if common::is_child(NAME) {
        log_seqs(0, 0..K);
        std::process::exit(3);
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert_eq!(out.status.code(), Some(3), "child status: {:?}", out.status);
    assert_complete(&numbered(dir.path()), &[(0, K)], &out);
}

#[test]
fn panic_keeps_the_records_logged_before_it() {
    const NAME: &str = "panic_keeps_the_records_logged_before_it";
    if common::is_child(NAME) {
        log_seqs(0, 0..K);
        panic!("boom after {K} records");
    }
    let dir = common::tempdir();
    // No backtrace: printing one takes long enough for the writer to catch up anyway.
    let out = common::run(common::child(NAME, dir.path()).env("RUST_BACKTRACE", "0"));
    // The test harness reports the panicking test as failed and exits with 101.
    assert_eq!(out.status.code(), Some(101), "child status: {:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stderr).contains("boom after"), "the panic message was lost");
    assert_complete(&numbered(dir.path()), &[(0, K)], &out);
}

#[test]
fn panic_hook_alone_flushes_as_with_panic_abort() {
    const NAME: &str = "panic_hook_alone_flushes_as_with_panic_abort";
    if common::is_child(NAME) {
        log_seqs(0, 0..K);
        // logkit installed its hook with the first record; this one runs it and then
        // aborts like `panic = "abort"`: no unwinding, no exit handlers.
        let logkit_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            logkit_hook(info);
            std::process::abort();
        }));
        panic!("boom after {K} records");
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("RUST_BACKTRACE", "0"));
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "child status: {:?}", out.status);
    assert_complete(&numbered(dir.path()), &[(0, K)], &out);
}

#[test]
fn panic_in_a_joined_thread_loses_nothing() {
    const NAME: &str = "panic_in_a_joined_thread_loses_nothing";
    if common::is_child(NAME) {
        let h = std::thread::spawn(|| {
            log_seqs(1, 0..K);
            panic!("worker failed");
        });
        assert!(h.join().is_err(), "the worker should have panicked");
        log_seqs(0, 0..K);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert_complete(&numbered(dir.path()), &[(0, K), (1, K)], &out);
}

#[test]
fn flush_then_sigkill_keeps_every_record() {
    const NAME: &str = "flush_then_sigkill_keeps_every_record";
    if common::is_child(NAME) {
        log_seqs(0, 0..K);
        logkit::flush();
        // SAFETY: plain libc calls; the process ends here without running any hook.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        loop {
            std::thread::park();
        }
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "child status: {:?}", out.status);
    assert_complete(&numbered(dir.path()), &[(0, K)], &out);
}

#[test]
fn four_threads_then_return_keep_every_record_in_per_thread_order() {
    const NAME: &str = "four_threads_then_return_keep_every_record_in_per_thread_order";
    if common::is_child(NAME) {
        let hs: Vec<_> = (1..=4).map(|t| std::thread::spawn(move || log_seqs(t, 0..K))).collect();
        for h in hs {
            h.join().unwrap();
        }
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert_complete(&numbered(dir.path()), &[(1, K), (2, K), (3, K), (4, K)], &out);
}

#[test]
fn record_of_a_thread_still_running_at_exit_is_written() {
    const NAME: &str = "record_of_a_thread_still_running_at_exit_is_written";
    if common::is_child(NAME) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            log_seqs(1, 0..3);
            tx.send(()).unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap();
        log_seqs(0, 0..3);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert_complete(&numbered(dir.path()), &[(0, 3), (1, 3)], &out);
}
