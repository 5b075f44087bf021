//! Records of one thread appear in the order logged, also on the two paths that cannot
//! use the thread's buffer directly: logging from inside a `Display` impl of a record
//! being logged, and logging from a thread-local destructor while the thread exits.
mod common;

struct LogsOnDrop;

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        logkit::info!(seq = 1u64, "late");
    }
}

thread_local! {
    static LATE: LogsOnDrop = const { LogsOnDrop };
}

struct Nested;

impl std::fmt::Display for Nested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        logkit::info!(seq = 2u64, "inner");
        f.write_str("nested")
    }
}

fn seqs(dir: &std::path::Path) -> Vec<u64> {
    common::read_jsonl(&dir.join("run.log")).iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        for seq in 0..3u64 {
            logkit::info!(seq, "in order");
        }
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child("smoke", dir.path())));
    assert_eq!(seqs(dir.path()), [0, 1, 2]);
}

#[test]
fn a_record_logged_by_a_thread_local_destructor_follows_the_threads_earlier_records() {
    const NAME: &str = "a_record_logged_by_a_thread_local_destructor_follows_the_threads_earlier_records";
    if common::is_child(NAME) {
        std::thread::spawn(|| {
            // Registered before logkit's own thread-local: destroyed after it, so the
            // late record cannot use the thread's buffer any more.
            LATE.with(|_| {});
            logkit::info!(seq = 0u64, "early");
        })
        .join()
        .unwrap();
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child(NAME, dir.path())));
    assert_eq!(seqs(dir.path()), [0, 1]);
}

#[test]
fn records_logged_from_a_display_impl_follow_the_record_being_logged() {
    const NAME: &str = "records_logged_from_a_display_impl_follow_the_record_being_logged";
    if common::is_child(NAME) {
        logkit::info!(seq = 0u64, "first");
        logkit::info!(seq = 1u64, v = %Nested, "outer");
        logkit::info!(seq = 3u64, "last");
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child(NAME, dir.path())));
    assert_eq!(seqs(dir.path()), [0, 1, 2, 3]);
}

struct Boom;

impl std::fmt::Display for Boom {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("boom in a nested record's display")
    }
}

/// A `Display` that logs a record whose own value panics, catches that panic, then logs
/// a whole record.
struct CatchesNestedPanic;

impl std::fmt::Display for CatchesNestedPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = std::panic::catch_unwind(|| logkit::info!(seq = 99u64, v = %Boom, "never"));
        assert!(r.is_err());
        logkit::info!(seq = 2u64, "inner after the caught panic");
        f.write_str("caught")
    }
}

#[test]
fn a_caught_panic_inside_a_nested_record_keeps_every_later_record() {
    const NAME: &str = "a_caught_panic_inside_a_nested_record_keeps_every_later_record";
    if common::is_child(NAME) {
        logkit::info!(seq = 0u64, "first");
        logkit::info!(seq = 1u64, v = %CatchesNestedPanic, "outer");
        for seq in 3..10u64 {
            logkit::info!(seq, "later");
        }
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child(NAME, dir.path())));
    assert_eq!(seqs(dir.path()), (0..10).collect::<Vec<u64>>());
}

/// Logs a nested record, then panics: the whole nested record stays, the outer one is
/// rolled back.
struct LogsThenPanics;

impl std::fmt::Display for LogsThenPanics {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        logkit::info!(seq = 1u64, "whole nested record");
        panic!("outer display panics after logging")
    }
}

#[test]
fn a_record_whose_display_panics_after_logging_keeps_the_whole_nested_record() {
    const NAME: &str = "a_record_whose_display_panics_after_logging_keeps_the_whole_nested_record";
    if common::is_child(NAME) {
        logkit::info!(seq = 0u64, "first");
        let r = std::panic::catch_unwind(|| logkit::info!(seq = 99u64, v = %LogsThenPanics, "never"));
        assert!(r.is_err());
        logkit::info!(seq = 2u64, "after");
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child(NAME, dir.path())));
    assert_eq!(seqs(dir.path()), [0, 1, 2]);
}

/// `Level(n)` logs a record with `seq = base + n` whose value is `Level(n - 1)`, down to 0:
/// records nested `n` deep.
struct Level(u64, u64);

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Level(base, n) = *self;
        if n > 0 {
            logkit::info!(seq = base + 1, v = %Level(base + 1, n - 1), "nested");
        }
        write!(f, "level {n}")
    }
}

#[test]
fn records_nested_three_and_more_levels_deep_follow_the_record_being_logged() {
    const NAME: &str = "records_nested_three_and_more_levels_deep_follow_the_record_being_logged";
    if common::is_child(NAME) {
        logkit::info!(seq = 0u64, "first");
        // X (1) logs Y (2), whose Display logs Z (3).
        logkit::info!(seq = 1u64, v = %Level(1, 2), "x");
        // Twelve levels deep.
        logkit::info!(seq = 4u64, v = %Level(4, 11), "deep");
        logkit::info!(seq = 16u64, "last");
        return;
    }
    let dir = common::tempdir();
    common::assert_success(&common::run(common::child(NAME, dir.path())));
    assert_eq!(seqs(dir.path()), (0..=16).collect::<Vec<u64>>());
}
