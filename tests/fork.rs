//! `fork()` without `exec` (daemonising, prefork servers): the child logs through a
//! writer of its own, started afresh; nothing of the parent's is written twice; the
//! parent goes on as before.
#![cfg(target_os = "linux")]

mod common;

use common::is_child;

/// `fork()`; in the child runs `body` and exits through `exit` (so logkit's exit hook
/// runs, as it does when a real child returns from its work), in the parent returns the
/// child's pid.
fn fork_child(body: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child runs `body` and then exits without returning into the test
    // harness; the harness's other threads do not exist in the child, and `body` uses
    // only logkit and std, which do not wait for them.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_ok();
        std::process::exit(if ok { 0 } else { 101 });
    }
    pid
}

/// Waits for `pid` and asserts it exited with status 0.
fn wait_ok(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer for the call; `pid` is our child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the forked child failed: status {status:#x}");
}

/// The `seq` of the records with `"event" == event`, in file order.
fn seqs(recs: &[serde_json::Value], event: &str) -> Vec<u64> {
    recs.iter().filter(|r| r["event"] == event).map(|r| r["seq"].as_u64().expect("seq")).collect()
}

/// The scenario: the parent logs `before` records (some still in its buffers at the
/// fork, in this thread and in another that is still alive), forks, the child logs
/// `in_child` records and exits; the parent logs 100 more and waits for it.
fn fork_scenario(before: u64, in_child: u64) {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        for seq in 0..before {
            logkit::info!(seq, "other thread before fork");
        }
        let _ = rx.recv();
    });
    for seq in 0..before {
        logkit::info!(seq, "before fork");
    }
    let pid = fork_child(|| {
        for seq in 0..in_child {
            logkit::info!(seq, "in child");
        }
        logkit::flush();
    });
    for seq in 0..100 {
        logkit::info!(seq, "parent after fork");
    }
    wait_ok(pid);
    let _ = tx.send(());
    other.join().unwrap();
    logkit::flush();
}

fn check(recs: &[serde_json::Value], stderr: &str, before: u64, in_child: u64) {
    let all = |n: u64| (0..n).collect::<Vec<_>>();
    assert_eq!(seqs(recs, "before fork"), all(before), "the parent's records, each once");
    let mut other = seqs(recs, "other thread before fork");
    other.sort_unstable();
    assert_eq!(other, all(before), "another parent thread's records, each once");
    assert_eq!(seqs(recs, "in child"), all(in_child), "the child's records, all, in order");
    assert_eq!(seqs(recs, "parent after fork"), all(100), "the parent goes on");
    assert!(!stderr.contains("did not complete"), "a flush waited for a writer that is not there:\n{stderr}");
}

#[test]
fn smoke() {
    if is_child("smoke") {
        let pid = fork_child(|| logkit::info!(seq = 0, "in child"));
        wait_ok(pid);
        return;
    }
    let (recs, _) = common::records_and_stderr_of("smoke", &[]);
    assert_eq!(seqs(&recs, "in child"), [0]);
}

#[test]
fn a_forked_child_writes_its_100_records_through_a_writer_of_its_own_and_nothing_of_the_parent_twice() {
    const NAME: &str =
        "a_forked_child_writes_its_100_records_through_a_writer_of_its_own_and_nothing_of_the_parent_twice";
    if is_child(NAME) {
        fork_scenario(50, 100);
        return;
    }
    let (recs, stderr) = common::records_and_stderr_of(NAME, &[]);
    check(&recs, &stderr, 50, 100);
}

#[test]
fn a_forked_child_logging_100k_records_through_a_small_ring_is_not_blocked() {
    const NAME: &str = "a_forked_child_logging_100k_records_through_a_small_ring_is_not_blocked";
    if is_child(NAME) {
        fork_scenario(50, 100_000);
        return;
    }
    let (recs, stderr) = common::records_and_stderr_of(NAME, &[("LOG_BUFFER", "64"), ("LOG_ROTATE_MB", "0")]);
    check(&recs, &stderr, 50, 100_000);
}

#[test]
fn a_forked_child_that_logs_nothing_exits_without_waiting_and_a_grandchild_logs_too() {
    const NAME: &str = "a_forked_child_that_logs_nothing_exits_without_waiting_and_a_grandchild_logs_too";
    if is_child(NAME) {
        logkit::info!(seq = 0, "before fork");
        let quiet = fork_child(|| {});
        wait_ok(quiet);
        let pid = fork_child(|| {
            logkit::info!(seq = 0, "in child");
            let grandchild = fork_child(|| logkit::info!(seq = 0, "in grandchild"));
            wait_ok(grandchild);
            logkit::info!(seq = 1, "in child");
        });
        wait_ok(pid);
        return;
    }
    let (recs, stderr) = common::records_and_stderr_of(NAME, &[]);
    assert_eq!(seqs(&recs, "before fork"), [0]);
    assert_eq!(seqs(&recs, "in child"), [0, 1]);
    assert_eq!(seqs(&recs, "in grandchild"), [0]);
    assert!(!stderr.contains("did not complete"), "{stderr}");
}
