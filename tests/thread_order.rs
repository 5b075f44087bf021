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
