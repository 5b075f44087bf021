//! A flush (and the exit's flush) waits for a thread that is inside a log call — here a
//! `Display` impl that takes a while — and writes the records that thread logged before
//! it; a flush whose bound runs out says so on stderr, with the number of threads it
//! waited for, instead of reporting success.
mod common;

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records logged by the busy thread before its slow record.
const EARLIER: u64 = 100;

/// A value whose `Display` says it started, then waits on `hold` (or sleeps `sleep`).
struct Slow {
    started: Mutex<Option<Sender<()>>>,
    hold: Option<Arc<Mutex<()>>>,
    sleep: Duration,
}

impl fmt::Display for Slow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(tx) = self.started.lock().unwrap().take() {
            tx.send(()).unwrap();
        }
        if let Some(m) = &self.hold {
            drop(m.lock().unwrap());
        }
        std::thread::sleep(self.sleep);
        f.write_str("slow value")
    }
}

/// Starts a thread that logs [`EARLIER`] records, then one whose value is `slow`;
/// returns once that thread is inside the slow value's `Display`.
fn busy_thread(hold: Option<Arc<Mutex<()>>>, sleep: Duration) -> std::thread::JoinHandle<()> {
    let (tx, rx) = channel();
    let slow = Slow { started: Mutex::new(Some(tx)), hold, sleep };
    let h = std::thread::spawn(move || {
        for seq in 0..EARLIER {
            logkit::info!(seq = seq, "earlier");
        }
        logkit::info!(v = %slow, "slow");
    });
    rx.recv().unwrap();
    h
}

fn earlier(dir: &std::path::Path) -> Vec<u64> {
    let recs = common::read_jsonl(&dir.join("run.log"));
    common::events(&recs, "earlier").iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        busy_thread(None, Duration::ZERO).join().unwrap();
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    assert_eq!(earlier(dir.path()), (0..EARLIER).collect::<Vec<_>>());
}

#[test]
fn flush_waits_for_a_thread_inside_a_slow_display_and_writes_its_earlier_records() {
    const NAME: &str = "flush_waits_for_a_thread_inside_a_slow_display_and_writes_its_earlier_records";
    if common::is_child(NAME) {
        // Longer than a flush used to wait for a locked buffer (200 ms), well within
        // its bound.
        let _busy = busy_thread(None, Duration::from_millis(1500));
        logkit::flush();
        // SAFETY: plain libc calls; nothing after the flush may help.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        loop {
            std::thread::park();
        }
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "child status: {:?}\n{}", out.status, stderr_of(&out));
    assert_eq!(earlier(dir.path()), (0..EARLIER).collect::<Vec<_>>(), "{}", stderr_of(&out));
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(common::events(&recs, "slow").len(), 1, "the slow record itself, done before the flush returned");
}

#[test]
fn return_from_main_waits_for_a_thread_inside_a_slow_display() {
    const NAME: &str = "return_from_main_waits_for_a_thread_inside_a_slow_display";
    if common::is_child(NAME) {
        let _busy = busy_thread(None, Duration::from_millis(1500));
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert_eq!(earlier(dir.path()), (0..EARLIER).collect::<Vec<_>>(), "{}", stderr_of(&out));
}

#[test]
fn flush_that_cannot_finish_within_its_bound_says_so_and_the_records_follow_later() {
    const NAME: &str = "flush_that_cannot_finish_within_its_bound_says_so_and_the_records_follow_later";
    if common::is_child(NAME) {
        // The busy thread's Display waits for a lock the flushing thread holds: the
        // flush cannot finish until its bound runs out.
        let m = Arc::new(Mutex::new(()));
        let held = m.lock().unwrap();
        let busy = busy_thread(Some(m.clone()), Duration::ZERO);
        logkit::flush();
        println!("FIRST FLUSH RETURNED");
        drop(held);
        busy.join().unwrap();
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("FIRST FLUSH RETURNED"));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("flush did not complete") && stderr.contains("1 thread(s) still inside a log call"),
        "no report of the incomplete flush and the thread it waited for:\n{stderr}"
    );
    assert_eq!(earlier(dir.path()), (0..EARLIER).collect::<Vec<_>>(), "{stderr}");
}
