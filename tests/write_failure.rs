//! A failing log file never panics, blocks or silently loses: a full disk (simulated with
//! `RLIMIT_FSIZE`) is reported and the application goes on; a removed directory, a deleted
//! file and a file renamed away are followed; a file that recovers gets the held records
//! back, and what could not be held is counted in a `logkit.lost` record.
#![cfg(target_os = "linux")]

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// ~180 bytes of padding: a record is ~300 bytes.
const PAD: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
/// The file-size limit of the full-disk scenarios.
const FSIZE: u64 = 64 * 1024;
/// More than the limit plus the 8 MiB hold buffer: ~18 MB.
const MANY: u64 = 60_000;
/// How long a child may take before it counts as hung.
const HANG: Duration = Duration::from_secs(90);
/// Longer than the sink's path check (~100 ms) with a wide margin for a loaded machine.
const FOLLOW_WAIT: Duration = Duration::from_millis(600);

fn log_seqs(range: std::ops::Range<u64>) {
    for seq in range {
        logkit::info!(seq = seq, pad = PAD, "numbered");
    }
}

/// Runs `c`, killing it and failing the test if it has not ended after [`HANG`].
fn run_bounded(c: &mut Command) -> Output {
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn child");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + HANG;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = t_err.join().unwrap();
            panic!("child hung (killed after {HANG:?})\n--- stderr\n{}", String::from_utf8_lossy(&err));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: t_out.join().unwrap(), stderr: t_err.join().unwrap() }
}

/// Child side: makes writes to regular files past `bytes` fail with `EFBIG` instead of
/// killing the process (`SIGXFSZ` ignored): a full disk for this process only.
fn limit_file_size(bytes: u64) {
    // SAFETY: plain libc calls on a local `rlimit`.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = bytes;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

/// Child side: lifts the limit set by [`limit_file_size`]: the disk has room again.
fn unlimit_file_size() {
    // SAFETY: plain libc calls on a local `rlimit`.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

/// The `seq` values of the `"numbered"` records, in file order.
fn seqs(recs: &[serde_json::Value]) -> Vec<u64> {
    recs.iter().filter(|r| r["event"] == "numbered").map(|r| r["seq"].as_u64().expect("seq")).collect()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        log_seqs(0..10);
        return;
    }
    let dir = common::tempdir();
    let out = run_bounded(&mut common::child("smoke", dir.path()));
    common::assert_success(&out);
    assert_eq!(seqs(&common::read_jsonl(&dir.path().join("run.log"))), (0..10).collect::<Vec<_>>());
}

#[test]
fn full_disk_is_reported_and_never_panics_or_blocks_the_app() {
    const NAME: &str = "full_disk_is_reported_and_never_panics_or_blocks_the_app";
    if common::is_child(NAME) {
        limit_file_size(FSIZE);
        log_seqs(0..MANY);
        logkit::flush();
        log_seqs(MANY..MANY + 10);
        println!("APP STILL RUNNING after {MANY} records");
        return;
    }
    let dir = common::tempdir();
    let log = dir.path().join("full.log");
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", &log));
    common::assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("APP STILL RUNNING"), "the app's own code did not finish\n{stdout}");
    let stderr = stderr_of(&out);
    assert!(stderr.contains("full.log"), "no report naming the file on stderr:\n{stderr}");
    assert!(stderr.lines().count() < 100, "failure reports are not rate-limited: {} lines", stderr.lines().count());
    // The disk never recovered: the exit says how much was never written.
    assert!(stderr.contains("records unwritten"), "no final count of unwritten records at exit:\n{stderr}");
    // What made it into the file before the disk filled up: whole records, oldest first
    // (a last, partly written line is allowed: its end is still held).
    let text = std::fs::read_to_string(&log).unwrap();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let s = seqs(&common::parse_jsonl(complete));
    assert!(!s.is_empty(), "nothing was written before the disk filled up");
    assert_eq!(s, (0..s.len() as u64).collect::<Vec<_>>(), "the records written before the failure");
}

/// Child side of the scenarios that move the file away: logs `0..1000`, flushes, lets
/// `disturb` remove or move things, waits for the sink to notice, logs `1000..2000`.
fn log_around(disturb: impl FnOnce()) {
    log_seqs(0..1000);
    logkit::flush();
    disturb();
    std::thread::sleep(FOLLOW_WAIT);
    log_seqs(1000..2000);
    logkit::flush();
}

#[test]
fn removed_log_directory_is_recreated_with_the_later_records() {
    const NAME: &str = "removed_log_directory_is_recreated_with_the_later_records";
    if common::is_child(NAME) {
        log_around(|| std::fs::remove_dir_all("logs").unwrap());
        return;
    }
    let dir = common::tempdir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", logs.join("app.log")));
    common::assert_success(&out);
    let log = logs.join("app.log");
    assert!(log.exists(), "the directory and file were not recreated\n{}", stderr_of(&out));
    assert_eq!(seqs(&common::read_jsonl(&log)), (1000..2000).collect::<Vec<_>>(), "records after the removal");
}

#[test]
fn flush_after_the_log_directory_is_removed_leaves_every_record_in_the_recreated_file() {
    const NAME: &str = "flush_after_the_log_directory_is_removed_leaves_every_record_in_the_recreated_file";
    if common::is_child(NAME) {
        log_seqs(0..1000);
        logkit::flush();
        std::fs::remove_dir_all("logs").unwrap();
        // At once, well within the sink's 100 ms path check.
        log_seqs(1000..11_000);
        logkit::flush();
        // Nothing after the flush may help: no exit hook, no later check.
        // SAFETY: plain libc calls; the process ends here.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        loop {
            std::thread::park();
        }
    }
    let dir = common::tempdir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", logs.join("app.log")));
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(libc::SIGKILL), "{out:?}");
    let log = logs.join("app.log");
    assert!(log.exists(), "the directory and file were not recreated by the flush\n{}", stderr_of(&out));
    assert_eq!(
        seqs(&common::read_jsonl(&log)),
        (1000..11_000).collect::<Vec<_>>(),
        "records logged before the flush, in the file the path names\n{}",
        stderr_of(&out)
    );
}

#[test]
fn deleted_log_file_is_recreated_with_the_later_records() {
    const NAME: &str = "deleted_log_file_is_recreated_with_the_later_records";
    if common::is_child(NAME) {
        log_around(|| std::fs::remove_file("app.log").unwrap());
        return;
    }
    let dir = common::tempdir();
    let log = dir.path().join("app.log");
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", &log));
    common::assert_success(&out);
    assert!(log.exists(), "the file was not recreated\n{}", stderr_of(&out));
    assert_eq!(seqs(&common::read_jsonl(&log)), (1000..2000).collect::<Vec<_>>(), "records after the deletion");
}

#[test]
fn file_renamed_away_keeps_old_records_and_new_ones_go_to_a_new_file() {
    const NAME: &str = "file_renamed_away_keeps_old_records_and_new_ones_go_to_a_new_file";
    if common::is_child(NAME) {
        log_around(|| std::fs::rename("app.log", "app.log-rotated").unwrap());
        return;
    }
    let dir = common::tempdir();
    let log = dir.path().join("app.log");
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", &log));
    common::assert_success(&out);
    let moved = dir.path().join("app.log-rotated");
    assert_eq!(seqs(&common::read_jsonl(&moved)), (0..1000).collect::<Vec<_>>(), "records in the renamed file");
    assert!(log.exists(), "no new file at the path\n{}", stderr_of(&out));
    assert_eq!(seqs(&common::read_jsonl(&log)), (1000..2000).collect::<Vec<_>>(), "records in the new file");
}

/// Child side of the recovery scenarios: logs `n` records against a full disk, gives
/// the disk room again, logs a marker and waits (bounded) until the file shows it and,
/// if `expect_lost`, a `logkit.lost` record.
fn log_through_an_outage(n: u64, expect_lost: bool) {
    limit_file_size(FSIZE);
    log_seqs(0..n);
    // Every record has met the full disk: written, held or lost.
    logkit::flush();
    unlimit_file_size();
    logkit::info!("disk has room again");
    let log = std::env::var("LOG_FILE").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        logkit::flush();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("disk has room again") && (!expect_lost || text.contains("logkit.lost")) {
            break;
        }
        if Instant::now() >= deadline {
            eprintln!("gave up waiting for the records held during the outage");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn file_that_recovers_gets_every_held_record_once() {
    const NAME: &str = "file_that_recovers_gets_every_held_record_once";
    const N: u64 = 20_000; // ~6 MB: fits the 8 MiB hold buffer
    if common::is_child(NAME) {
        log_through_an_outage(N, false);
        return;
    }
    let dir = common::tempdir();
    let log = dir.path().join("app.log");
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", &log).env("LOG_ROTATE_MB", "0"));
    common::assert_success(&out);
    let stderr = stderr_of(&out);
    assert!(stderr.contains("app.log"), "the outage was not reported on stderr:\n{stderr}");
    let recs = common::read_jsonl(&log);
    assert_eq!(seqs(&recs), (0..N).collect::<Vec<_>>(), "records held during the outage\n{stderr}");
    assert_eq!(common::events(&recs, "disk has room again").len(), 1, "the record logged after recovery");
    assert!(common::events(&recs, "logkit.lost").is_empty(), "records reported lost though all fit the hold buffer");
}

#[test]
fn file_that_recovers_gets_held_records_and_a_count_of_the_lost_ones() {
    const NAME: &str = "file_that_recovers_gets_held_records_and_a_count_of_the_lost_ones";
    if common::is_child(NAME) {
        log_through_an_outage(MANY, true);
        return;
    }
    let dir = common::tempdir();
    let log = dir.path().join("app.log");
    let out = run_bounded(common::child(NAME, dir.path()).env("LOG_FILE", &log).env("LOG_ROTATE_MB", "0"));
    common::assert_success(&out);
    let stderr = stderr_of(&out);
    // Every line whole: the record cut at the limit was completed after recovery.
    let recs = common::read_jsonl(&log);
    let s = seqs(&recs);
    for w in s.windows(2) {
        assert!(w[0] < w[1], "seq {} after {}: duplicated or reordered", w[1], w[0]);
    }
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size > 4 << 20, "the held records were not written after recovery: {size} bytes\n{stderr}");
    assert_eq!(common::events(&recs, "disk has room again").len(), 1, "the record logged after recovery\n{stderr}");
    let lost_recs = common::events(&recs, "logkit.lost");
    assert!(!lost_recs.is_empty(), "~18 MB through an 8 MiB hold buffer, but no logkit.lost record\n{stderr}");
    for r in &lost_recs {
        assert_eq!(r["level"], "warning", "{r}");
    }
    let lost: u64 = lost_recs.iter().map(|r| r["lost"].as_u64().expect("lost")).sum();
    assert!(lost > 0, "logkit.lost reports 0 records");
    assert_eq!(s.len() as u64 + lost, MANY, "written ({}) + lost ({lost}) != logged ({MANY})", s.len());
}

#[test]
fn copytruncate_leaves_a_valid_file_with_only_the_later_records() {
    const NAME: &str = "copytruncate_leaves_a_valid_file_with_only_the_later_records";
    if common::is_child(NAME) {
        log_around(|| {
            // logrotate's copytruncate: copy the file away, then truncate it in place.
            std::fs::copy("run.log", "run.log.copy").unwrap();
            std::fs::OpenOptions::new().write(true).open("run.log").unwrap().set_len(0).unwrap();
        });
        return;
    }
    let dir = common::tempdir();
    let out = run_bounded(&mut common::child(NAME, dir.path()));
    common::assert_success(&out);
    let bytes = std::fs::read(dir.path().join("run.log")).unwrap();
    assert!(!bytes.contains(&0), "the truncated file has a hole of NUL bytes (writes past the old end)");
    assert_eq!(seqs(&common::read_jsonl(&dir.path().join("run.log"))), (1000..2000).collect::<Vec<_>>());
    assert_eq!(seqs(&common::read_jsonl(&dir.path().join("run.log.copy"))), (0..1000).collect::<Vec<_>>());
}

/// `chattr +i`: even root cannot write to an immutable file (EPERM), which is how this
/// test makes the open log file unwritable. Needs chattr and a filesystem that supports
/// the flag (ext4, xfs, btrfs); the test says so and checks nothing when it cannot.
fn set_immutable(path: &std::path::Path, on: bool) -> bool {
    Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_file_made_unwritable_holds_records_and_resumes_when_writable_again() {
    const NAME: &str = "a_file_made_unwritable_holds_records_and_resumes_when_writable_again";
    if common::is_child(NAME) {
        let log = std::path::Path::new("run.log");
        log_seqs(0..1000);
        logkit::flush();
        if !set_immutable(log, true) {
            println!("SKIP: chattr +i is not available here");
            return;
        }
        log_seqs(1000..2000); // these writes fail with EPERM: held in memory
        logkit::flush();
        std::thread::sleep(Duration::from_millis(300));
        println!("APP STILL RUNNING");
        assert!(set_immutable(log, false), "chattr -i failed");
        std::thread::sleep(FOLLOW_WAIT); // the sink retries ~every 200 ms
        log_seqs(2000..2100);
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = run_bounded(&mut common::child(NAME, dir.path()));
    let log = dir.path().join("run.log");
    set_immutable(&log, false); // never leave an undeletable file behind
    common::assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.contains("SKIP:") {
        eprintln!("skipped: chattr +i is not available on this machine");
        return;
    }
    assert!(stdout.contains("APP STILL RUNNING"), "{stdout}");
    let stderr = stderr_of(&out);
    assert!(stderr.contains("run.log"), "the failure was not reported on stderr:\n{stderr}");
    assert_eq!(
        seqs(&common::read_jsonl(&log)),
        (0..2100).collect::<Vec<_>>(),
        "held records lost or reordered\n{stderr}"
    );
}
