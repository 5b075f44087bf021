//! The file sink's tests: batches, the page cache, rotation, following the path,
//! failures, and two processes sharing one file (re-executed test binaries).

use std::fs::OpenOptions;
use std::io::Write as _;

use super::batch::{line_end, MAX_WRITE};
use super::page_cache::{KEEP_CACHED, WRITEBACK_CHUNK};
use super::rotate::numbered;
use super::*;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// Environment variable telling a re-executed test binary which child role to play.
const CHILD_ENV: &str = "LOGKIT_FILESINK_CHILD";

fn cfg(path: &Path, rotate_bytes: u64, backups: u32) -> FileConfig {
    FileConfig { path: path.to_path_buf(), rotate_bytes, backups, mode: 0o600 }
}

/// A sink on `run.log` in a new temporary directory (kept alive by the first
/// element), rotation off.
fn fresh_sink() -> (tempfile::TempDir, PathBuf, FileSink) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    (dir, path, s)
}

/// `{"n":N,"pad":"xxx"}\n` with a pad length varying with `n`.
fn line(n: u64) -> String {
    format!("{{\"n\":{n},\"pad\":\"{}\"}}\n", "x".repeat((n * 7 % 23) as usize))
}

/// Parses a line made by [`line`], checking it is intact.
fn parse(l: &str) -> u64 {
    let n: u64 = l
        .strip_prefix("{\"n\":")
        .and_then(|r| r.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("broken line {l:?}"));
    assert_eq!(l, line(n).trim_end(), "broken line");
    n
}

fn batch(range: std::ops::Range<u64>) -> (Vec<u8>, u64) {
    let mut b = Vec::new();
    for n in range.clone() {
        b.extend_from_slice(line(n).as_bytes());
    }
    (b, range.end - range.start)
}

/// The numbers in a file, oldest first, checking every line and the final `\n`.
fn numbers(path: &Path) -> Vec<u64> {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{} does not end with a newline", path.display());
    text.lines().map(parse).collect()
}

/// The whole chain, oldest backup first, and the number of backups found.
fn chain(path: &Path, max: u32) -> (Vec<u64>, u32) {
    let mut all = Vec::new();
    let mut found = 0;
    for i in (1..=max).rev() {
        let p = numbered(path, i);
        if p.exists() {
            found += 1;
            all.extend(numbers(&p));
        }
    }
    all.extend(numbers(path));
    (all, found)
}

fn make_due(s: &mut FileSink) {
    let now = Instant::now();
    s.next_retry = now;
    s.next_check = now;
}

#[test]
fn appends_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    fs::write(&path, line(0)).unwrap();
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    assert_eq!(s.size, line(0).len() as u64);
    for i in 0..100 {
        let (b, n) = batch(1 + i * 10..11 + i * 10);
        s.write(&b, n);
    }
    assert!(s.is_healthy());
    assert_eq!(s.take_lost(), 0);
    assert_eq!(numbers(&path), (0..1001).collect::<Vec<_>>());
    assert_eq!(s.size, fs::metadata(&path).unwrap().len());
    assert_eq!(s.path(), path);
    assert!(s.dirty);
    s.sync().unwrap();
    assert!(!s.dirty);
    s.sync().unwrap();
    assert!(s.hooks.reports.is_empty());
}

#[test]
fn starts_writeback_once_per_chunk_written_not_per_write() {
    let (_dir, path, mut s) = fresh_sink();
    // Small writes: no kick until a whole chunk has gone out.
    let (b, n) = batch(0..100);
    let per_batch = b.len() as u64;
    let mut written = 0;
    while written + per_batch < WRITEBACK_CHUNK {
        s.write(&b, n);
        written += per_batch;
    }
    assert_eq!(s.hooks.kicks, 0, "{written} bytes (< one chunk) started writeback");
    s.write(&b, n);
    assert_eq!(s.hooks.kicks, 1);
    // An fdatasync covers what was written: the count starts again.
    s.write(&b, n);
    s.sync().unwrap();
    assert_eq!(s.unkicked, 0);
    // One big write of three chunks: one kick, not three.
    let big =
        vec![b'x'; 3 * WRITEBACK_CHUNK as usize - 1].into_iter().chain(std::iter::once(b'\n')).collect::<Vec<u8>>();
    s.write(&big, 1);
    assert_eq!(s.hooks.kicks, 2);
    assert_eq!(fs::metadata(&path).unwrap().len(), s.size);
}

/// Which of the file's pages are in the page cache (`mincore` on a shared mapping),
/// or `None` where handing pages back cannot show there (tmpfs, ZFS).
#[cfg(target_os = "linux")]
fn resident_pages(path: &Path) -> Option<Vec<bool>> {
    // tmpfs keeps no separate cache, and ZFS caches in its own ARC (DONTNEED is a no-op).
    const ZFS_MAGIC: libc::c_long = 0x2fc1_2fc1;
    let file = File::open(path).unwrap();
    // SAFETY: `statfs` is plain old data, for which all-zero bytes are a valid value.
    let mut fs_info: libc::statfs = unsafe { std::mem::zeroed() };
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated string and `fs_info` a struct we own,
    // which `statfs` only writes into.
    if unsafe { libc::statfs(c_path.as_ptr(), &mut fs_info) } != 0
        || fs_info.f_type == libc::TMPFS_MAGIC
        || fs_info.f_type == ZFS_MAGIC
    {
        return None;
    }
    let len = file.metadata().unwrap().len() as usize;
    let page = 4096;
    // SAFETY: a read-only shared mapping of an open file of `len` bytes; only
    // `mincore` looks at it (no byte is read), and it is unmapped before returning.
    unsafe {
        let addr = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0);
        assert_ne!(addr, libc::MAP_FAILED);
        let mut vec = vec![0u8; len.div_ceil(page)];
        let rc = libc::mincore(addr, len, vec.as_mut_ptr());
        libc::munmap(addr, len);
        assert_eq!(rc, 0);
        Some(vec.into_iter().map(|b| b & 1 == 1).collect())
    }
}

#[test]
fn hands_back_the_page_cache_of_all_but_the_last_mebibytes() {
    let (_dir, path, mut s) = fresh_sink();
    let mut next = 0;
    while s.size < KEEP_CACHED + 8 * WRITEBACK_CHUNK {
        let (b, n) = batch(next..next + 2000);
        s.write(&b, n);
        next += n;
    }
    // Every writeback kick past the first 8 MiB advised the range behind the tail.
    assert!(s.hooks.releases > 0, "nothing handed back after {} bytes", s.size);
    // After an fdatasync every page is clean: all but the tail is swept.
    s.sync().unwrap();
    assert_eq!(s.swept, s.size - KEEP_CACHED);
    #[cfg(target_os = "linux")]
    if let Some(pages) = resident_pages(&path) {
        let released = (s.swept / 4096) as usize;
        let still = pages[..released].iter().filter(|&&r| r).count();
        assert!(still * 10 < released, "{still} of {released} handed-back pages still cached");
        let tail = &pages[pages.len() - (KEEP_CACHED / 4096) as usize..];
        assert!(tail.iter().all(|&r| r), "the last {KEEP_CACHED} bytes left the cache");
    }
    // Every line is there, in order: the page cache is only a cache.
    assert_eq!(numbers(&path), (0..next).collect::<Vec<_>>());
    // A file that shrank under us (copytruncate) is swept from its start again.
    File::options().write(true).open(&path).unwrap().set_len(0).unwrap();
    s.size = 0;
    let (b, n) = batch(0..10);
    s.write(&b, n);
    s.sync().unwrap();
    assert_eq!(s.swept, 0, "the sweep mark follows a truncated file");
}

#[test]
fn cuts_a_big_batch_into_writes_of_whole_lines_at_most_max_write_long() {
    let (_dir, path, mut s) = fresh_sink();
    let (b, n) = batch(0..120_000);
    assert!(b.len() > 3 * MAX_WRITE, "batch of {} bytes", b.len());
    s.write(&b, n);
    let mut at = 0;
    for (i, &len) in s.hooks.write_lens.iter().enumerate() {
        // Full but for the part of a line (at most 40 bytes here) that did not fit.
        let last = i + 1 == s.hooks.write_lens.len();
        assert!(len <= MAX_WRITE && (last || len > MAX_WRITE - 40), "write {i} of {len} bytes");
        at += len;
        assert_eq!(b[at - 1], b'\n', "a write ended inside a line");
    }
    // A line longer than MAX_WRITE is written whole, in one write.
    let big: Vec<u8> = vec![b'x'; MAX_WRITE + 10].into_iter().chain(*b"\n").collect();
    s.hooks.write_lens.clear();
    s.write(&big, 1);
    assert_eq!(s.hooks.write_lens, [big.len()]);
    let text = fs::read(&path).unwrap();
    assert_eq!(text.len(), b.len() + big.len());
    assert!(text.starts_with(&b) && text.ends_with(&big));
}

#[test]
fn creates_directories_and_sets_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/run.log");
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    s.write(b"{}\n", 1);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    let existing = dir.path().join("existing.log");
    fs::write(&existing, b"").unwrap();
    fs::set_permissions(&existing, fs::Permissions::from_mode(0o644)).unwrap();
    let mut s = FileSink::open(cfg(&existing, 0, 5)).unwrap();
    s.write(b"{}\n", 1);
    assert_eq!(fs::metadata(&existing).unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn rotation_keeps_backups_bounded_and_lines_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let limit = 4096;
    let mut s = FileSink::open(cfg(&path, limit, 5)).unwrap();
    let mut n = 0;
    let mut k = 1;
    while n < 10_000 {
        let end = (n + k).min(10_000);
        let (b, r) = batch(n..end);
        s.write(&b, r);
        n = end;
        k = k % 97 + 1;
    }
    drop(s);
    let (all, found) = chain(&path, 10);
    assert_eq!(found, 5);
    assert!(!numbered(&path, 6).exists());
    for i in 1..=5 {
        assert!(fs::metadata(numbered(&path, i)).unwrap().len() <= limit);
    }
    assert!(fs::metadata(&path).unwrap().len() <= limit);
    // The newest lines, each once, in order.
    let first = all[0];
    assert_eq!(all, (first..10_000).collect::<Vec<_>>());
    assert!(all.len() > 5 * 4096 / 40, "backups are mostly full");
}

#[test]
fn rotation_loses_nothing_with_enough_backups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let limit = 4096;
    let mut s = FileSink::open(cfg(&path, limit, 200)).unwrap();
    let mut n = 0;
    let mut k = 1;
    while n < 10_000 {
        let end = (n + k).min(10_000);
        let (b, r) = batch(n..end);
        s.write(&b, r);
        n = end;
        k = k % 300 + 1;
    }
    drop(s);
    let (all, found) = chain(&path, 200);
    assert!(found > 40 && found < 200, "{found} backups");
    assert_eq!(all, (0..10_000).collect::<Vec<_>>());
    for i in 1..=found {
        let len = fs::metadata(numbered(&path, i)).unwrap().len();
        assert!(len <= limit && len > limit - 64, "backup {i} has {len} bytes");
    }
}

#[test]
fn rotation_continues_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut next = 0;
    for _run in 0..4 {
        let mut s = FileSink::open(cfg(&path, 1000, 3)).unwrap();
        for _ in 0..30 {
            let (b, r) = batch(next..next + 3);
            s.write(&b, r);
            next += 3;
        }
    }
    let (all, found) = chain(&path, 10);
    assert_eq!(found, 3);
    assert_eq!(*all.last().unwrap(), next - 1);
    assert_eq!(all, (all[0]..next).collect::<Vec<_>>());
}

#[test]
fn oversized_line_gets_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut s = FileSink::open(cfg(&path, 100, 5)).unwrap();
    let big = format!("{{\"big\":\"{}\"}}\n", "y".repeat(300));
    let mut b = b"{\"a\":1}\n".to_vec();
    b.extend_from_slice(big.as_bytes());
    b.extend_from_slice(b"{\"b\":2}\n");
    s.write(&b, 3);
    s.write(big.as_bytes(), 1);
    drop(s);
    assert_eq!(fs::read_to_string(numbered(&path, 3)).unwrap(), "{\"a\":1}\n");
    assert_eq!(fs::read_to_string(numbered(&path, 2)).unwrap(), big);
    assert_eq!(fs::read_to_string(numbered(&path, 1)).unwrap(), "{\"b\":2}\n");
    assert_eq!(fs::read_to_string(&path).unwrap(), big);
}

#[test]
fn no_backups_removes_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut s = FileSink::open(cfg(&path, 100, 0)).unwrap();
    let (b, r) = batch(0..20);
    s.write(&b, r);
    drop(s);
    assert!(!numbered(&path, 1).exists());
    let kept = numbers(&path);
    assert_eq!(*kept.last().unwrap(), 19);
    assert!(fs::metadata(&path).unwrap().len() <= 100);
}

#[test]
fn deleted_file_is_recreated() {
    let (_dir, path, mut s) = fresh_sink();
    s.write(line(0).as_bytes(), 1);
    make_due(&mut s);
    s.write(line(1).as_bytes(), 1); // the check before it sees the path name the file
    fs::remove_file(&path).unwrap();
    make_due(&mut s);
    s.write(line(2).as_bytes(), 1);
    assert!(s.is_healthy());
    // Line 1 went out after the last check that saw the file: it is carried over.
    assert_eq!(numbers(&path), vec![1, 2]);
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn lines_written_to_a_deleted_file_since_the_last_check_are_carried_into_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/run.log");
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    let (b, r) = batch(0..10);
    s.write(&b, r);
    s.follow(); // a flush: the path names the file; 0..10 are where it says
    fs::remove_dir_all(dir.path().join("logs")).unwrap();
    // Before the next periodic check: these go to the deleted file.
    let big = "y".repeat(3 * MAX_WRITE);
    let (b, r) = batch(10..5_000);
    s.write(&b, r);
    s.write(format!("{{\"n\":\"{big}\"}}\n").as_bytes(), 1);
    let (b, r) = batch(5_000..6_000);
    s.write(&b, r);
    s.follow();
    assert!(s.is_healthy());
    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let before: Vec<u64> = lines.by_ref().take(4_990).map(parse).collect();
    assert_eq!(before, (10..5_000).collect::<Vec<_>>());
    assert_eq!(lines.next().map(str::len), Some(big.len() + 8), "the long line, whole");
    assert_eq!(lines.map(parse).collect::<Vec<_>>(), (5_000..6_000).collect::<Vec<_>>());
    // Once followed, the next lines go straight to the new file, once.
    s.write(line(6_000).as_bytes(), 1);
    s.follow();
    assert_eq!(fs::read_to_string(&path).unwrap().lines().last().map(parse), Some(6_000));
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 5_992);
}

#[test]
fn renamed_file_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let moved = dir.path().join("run.log-20260101");
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    let (b, r) = batch(0..10);
    s.write(&b, r);
    fs::rename(&path, &moved).unwrap();
    make_due(&mut s);
    let (b, r) = batch(10..20);
    s.write(&b, r);
    assert_eq!(numbers(&moved), (0..10).collect::<Vec<_>>());
    assert_eq!(numbers(&path), (10..20).collect::<Vec<_>>());
}

#[test]
fn truncated_file_is_appended_from_its_new_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut s = FileSink::open(cfg(&path, 10_000, 5)).unwrap();
    let (b, r) = batch(0..100);
    s.write(&b, r);
    // copytruncate
    OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    make_due(&mut s);
    let (b, r) = batch(100..110);
    s.write(&b, r);
    assert_eq!(numbers(&path), (100..110).collect::<Vec<_>>());
    assert_eq!(s.size, fs::metadata(&path).unwrap().len());
    assert!(!numbered(&path, 1).exists(), "size refreshed, no early rotation");
}

#[test]
fn removed_directory_is_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/run.log");
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    s.write(line(0).as_bytes(), 1);
    s.follow();
    fs::remove_dir_all(dir.path().join("logs")).unwrap();
    make_due(&mut s);
    s.write(line(1).as_bytes(), 1);
    assert!(s.is_healthy());
    assert_eq!(numbers(&path), vec![1]);
}

#[test]
fn failed_write_holds_resumes_and_counts_lost() {
    let (_dir, path, mut s) = fresh_sink();
    let (b, r) = batch(0..10);
    let cut = line_end(&b) + 5; // inside the second line
    s.hooks.fault = Some(cut);
    s.write(&b, r);
    assert!(!s.is_healthy());
    assert_eq!(fs::metadata(&path).unwrap().len(), cut as u64);
    assert_eq!(s.held_records, 9);
    assert_eq!(s.hooks.reports.len(), 1);
    assert!(
        s.hooks.reports[0].starts_with(&format!("logkit: cannot write {}: ", path.display()))
            && s.hooks.reports[0].ends_with("; holding 9 records, retrying"),
        "{}",
        s.hooks.reports[0]
    );
    // Held while failing; a retry that fails again is not reported again.
    let (b, r) = batch(10..20);
    s.write(&b, r);
    make_due(&mut s);
    s.retry();
    assert_eq!(s.hooks.reports.len(), 1);
    assert_eq!(s.held_records, 19);
    // A batch that does not fit is lost, whole.
    let mut big = Vec::new();
    let mut big_records = 0;
    let mut n = 1_000_000;
    while big.len() < HOLD_LIMIT {
        big.extend_from_slice(line(n).as_bytes());
        n += 1;
        big_records += 1;
    }
    s.write(&big, big_records);
    let (b, r) = batch(20..30);
    s.write(&b, r);
    assert_eq!(s.held_records, 29);
    // Recovery: the partial line is completed, then everything else, in order.
    s.hooks.fault = None;
    s.retry(); // not due yet
    assert!(!s.is_healthy());
    make_due(&mut s);
    s.retry();
    assert!(s.is_healthy());
    assert_eq!(numbers(&path), (0..30).collect::<Vec<_>>());
    assert_eq!(s.take_lost(), big_records);
    assert_eq!(s.take_lost(), 0);
    let last = s.hooks.reports.last().unwrap();
    assert!(last.starts_with(&format!("logkit: writing {} again after ", path.display())), "{last}");
    assert!(last.ends_with(&format!("; {big_records} records lost")), "{last}");
    s.write(line(30).as_bytes(), 1);
    assert_eq!(numbers(&path).len(), 31);
}

#[test]
fn partial_line_is_completed_in_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    // With rotation: the line is completed in the file holding its start.
    let mut s = FileSink::open(cfg(&path, 200, 20)).unwrap();
    for (i, cut) in [(0, 7), (1, 30), (2, 95), (3, 150)] {
        let (b, r) = batch(i * 10..i * 10 + 10);
        s.hooks.fault = Some(cut);
        s.write(&b, r);
        assert!(!s.is_healthy());
        s.hooks.fault = None;
        make_due(&mut s);
        s.retry();
        assert!(s.is_healthy());
    }
    drop(s);
    let (all, found) = chain(&path, 20);
    assert!(found >= 2);
    assert_eq!(all, (0..40).collect::<Vec<_>>());

    // Moved while mid-line: the line is completed in the moved file.
    let path = dir.path().join("moved.log");
    let rotated = dir.path().join("moved.log.old");
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    let (b, r) = batch(0..10);
    s.hooks.fault = Some(b.len() / 2);
    s.write(&b, r);
    assert!(s.mid_line);
    fs::rename(&path, &rotated).unwrap();
    s.hooks.fault = None;
    make_due(&mut s);
    s.retry();
    assert!(s.is_healthy());
    let mut all = numbers(&rotated);
    let split = all.len();
    all.extend(numbers(&path));
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert!(split > 0 && split < 10);
}

#[test]
fn failed_reopen_holds_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let path = logs.join("run.log");
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    s.write(line(0).as_bytes(), 1);
    // The directory is replaced by a file: reopening fails (even as root).
    fs::remove_dir_all(&logs).unwrap();
    fs::write(&logs, b"not a directory").unwrap();
    make_due(&mut s);
    s.write(line(1).as_bytes(), 1);
    assert!(!s.is_healthy());
    assert!(s.hooks.reports[0].contains("holding 1 records"), "{}", s.hooks.reports[0]);
    make_due(&mut s);
    s.write(line(2).as_bytes(), 1);
    assert!(!s.is_healthy());
    assert_eq!(s.hooks.reports.len(), 1);
    fs::remove_file(&logs).unwrap();
    make_due(&mut s);
    s.retry();
    assert!(s.is_healthy());
    assert_eq!(numbers(&path), vec![1, 2]);
    assert_eq!(s.take_lost(), 0);
    assert!(!s.hooks.reports.last().unwrap().contains("lost"));
}

/// The name under which the test harness knows a test of this module.
fn test_name(name: &str) -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{name}")
}

/// Re-executes this test binary to run the child test `name`.
fn spawn_child(name: &str, path: &Path, arg: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test_name(name).as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .env("LOGKIT_FILESINK_PATH", path)
        .env("LOGKIT_FILESINK_ARG", arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_child(child: std::process::Child) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child role `name`'s path and argument, or `None` when not running as it.
fn child_args(name: &str) -> Option<(PathBuf, String)> {
    if std::env::var(CHILD_ENV).ok()? != name {
        return None;
    }
    Some((std::env::var_os("LOGKIT_FILESINK_PATH")?.into(), std::env::var("LOGKIT_FILESINK_ARG").ok()?))
}

/// `{"p":P,"n":N,"pad":"..."}\n`.
fn proc_line(p: u64, n: u64) -> String {
    format!("{{\"p\":{p},\"n\":{n},\"pad\":\"{}\"}}\n", "z".repeat(((n * 13 + p) % 61) as usize))
}

/// Child: appends 10k lines as process `p` (arg `p,rotate_bytes`).
#[test]
fn child_append() {
    let Some((path, arg)) = child_args("child_append") else { return };
    let (p, limit) = arg.split_once(',').unwrap();
    let (p, limit): (u64, u64) = (p.parse().unwrap(), limit.parse().unwrap());
    let mut s = FileSink::open(cfg(&path, limit, 1000)).unwrap();
    let mut n = 0;
    let mut k = 1;
    while n < 10_000 {
        let end = (n + k).min(10_000);
        let mut b = Vec::new();
        for i in n..end {
            b.extend_from_slice(proc_line(p, i).as_bytes());
        }
        s.write(&b, end - n);
        n = end;
        k = k % 50 + 1;
    }
    s.sync().unwrap();
    assert!(s.is_healthy());
}

/// Checks the lines of two appending processes across `files` (oldest first).
fn check_two_processes(files: &[PathBuf]) {
    let mut next = [0u64; 2];
    for f in files {
        let text = fs::read_to_string(f).unwrap();
        assert!(text.ends_with('\n'));
        for l in text.lines() {
            let rest = l.strip_prefix("{\"p\":").unwrap_or_else(|| panic!("broken line {l:?}"));
            let mut it = rest.splitn(2, ",\"n\":");
            let p: u64 = it.next().unwrap().parse().unwrap();
            let n: u64 = it.next().unwrap().split(',').next().unwrap().parse().unwrap();
            assert_eq!(format!("{l}\n"), proc_line(p, n), "broken line");
            assert_eq!(n, next[p as usize], "process {p} out of order");
            next[p as usize] += 1;
        }
    }
    assert_eq!(next, [10_000, 10_000]);
}

#[test]
fn two_processes_append_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let a = spawn_child("child_append", &path, "0,0");
    let b = spawn_child("child_append", &path, "1,0");
    wait_child(a);
    wait_child(b);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 20_000);
    check_two_processes(&[path]);
}

#[test]
fn two_processes_rotate_without_losing_or_splitting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let a = spawn_child("child_append", &path, "0,32768");
    let b = spawn_child("child_append", &path, "1,32768");
    wait_child(a);
    wait_child(b);
    let mut files: Vec<PathBuf> = (1..=1000).rev().map(|i| numbered(&path, i)).filter(|p| p.exists()).collect();
    assert!(files.len() > 10, "{} backups", files.len());
    files.push(path);
    check_two_processes(&files);
}

/// Child: a real EFBIG (RLIMIT_FSIZE) in the middle of a line, then recovery.
#[test]
fn child_file_size_limit() {
    let Some((path, _)) = child_args("child_file_size_limit") else { return };
    // SAFETY: setting a signal disposition to SIG_IGN installs no handler code; this
    // child process does nothing else concurrently that depends on SIGXFSZ.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a valid, writable rlimit for the call.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim) }, 0);
    let orig = lim;
    lim.rlim_cur = 2050;
    // SAFETY: `lim` is a valid rlimit; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &lim) }, 0);

    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    let line = |n: u64| format!("{{\"n\":{n:04},\"pad\":\"{}\"}}\n", "w".repeat(78)); // 100 bytes
    for chunk in 0..5 {
        let b: String = (chunk * 10..chunk * 10 + 10).map(line).collect();
        s.write(b.as_bytes(), 10);
    }
    assert!(!s.is_healthy());
    assert_eq!(fs::metadata(&path).unwrap().len(), 2050);
    assert!(s.hooks.reports[0].contains("File too large"), "{}", s.hooks.reports[0]);
    assert_eq!(s.held_records, 30);

    // SAFETY: `orig` is the rlimit read above; raising the soft limit back up to
    // the unchanged hard limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &orig) }, 0);
    make_due(&mut s);
    s.retry();
    assert!(s.is_healthy());
    let text = fs::read_to_string(&path).unwrap();
    let expected: String = (0..50).map(line).collect();
    assert_eq!(text, expected);
}

#[test]
fn file_size_limit_holds_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    wait_child(spawn_child("child_file_size_limit", &path, ""));
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 50);
}

/// What an earlier run left when its last write was torn: two whole lines and the start
/// of a third.
fn torn_file(path: &Path) -> String {
    let torn = format!("{}{}{{\"n\":99,\"pa", line(0), line(1));
    fs::write(path, &torn).unwrap();
    torn
}

/// Another process that has `path` open: a descriptor of its own holding the shared
/// presence lock (`flock` locks of two open file descriptions conflict as between two
/// processes).
fn other_process_holding(path: &Path) -> File {
    let f = OpenOptions::new().append(true).open(path).unwrap();
    // SAFETY: `f` is open for the call; flock reads no memory of ours.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) }, 0);
    f
}

#[test]
fn a_torn_last_line_no_other_process_holds_is_ended_at_open_so_the_next_record_starts_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let torn = torn_file(&path);
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    let (b, n) = batch(2..5);
    s.write(&b, n);
    let text = fs::read_to_string(&path).unwrap();
    let rest = text.strip_prefix(torn.as_str()).expect("the earlier bytes are kept as they were");
    let rest = rest.strip_prefix('\n').unwrap_or_else(|| panic!("appended to the fragment: {text:?}"));
    assert_eq!(rest.lines().map(parse).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(s.size, text.len() as u64, "the newline is counted in the size");
}

#[test]
fn a_file_ending_in_a_newline_gets_no_blank_line_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    fs::write(&path, line(0)).unwrap();
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    let (b, n) = batch(1..3);
    s.write(&b, n);
    assert_eq!(numbers(&path), [0, 1, 2]);
}

#[test]
fn a_line_another_process_is_still_appending_is_left_alone_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let torn = torn_file(&path);
    // The other process is in the middle of its record (a write its full disk cut short).
    let mut other = other_process_holding(&path);
    let mut s = FileSink::open(cfg(&path, 0, 5)).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), torn, "the open wrote into the other's record");
    // The other process completes its line; ours follow, every line whole.
    other.write_all(format!("{}\n", &line(99)["{\"n\":99,\"pa".len()..].trim_end()).as_bytes()).unwrap();
    let (b, n) = batch(2..4);
    s.write(&b, n);
    assert_eq!(numbers(&path), [0, 1, 99, 2, 3]);
}

#[test]
fn a_torn_line_found_at_a_reopen_gets_a_newline_before_the_next_line() {
    let (_dir, path, mut s) = fresh_sink();
    let (b, n) = batch(0..3);
    s.write(&b, n);
    // The file is replaced by one an earlier writer tore (a full disk, a power cut).
    fs::remove_file(&path).unwrap();
    fs::write(&path, "{\"n\":99,\"pa").unwrap();
    make_due(&mut s);
    let (b, n) = batch(3..5);
    s.write(&b, n);
    s.sync().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let (fragment, rest) = text.split_once('\n').unwrap();
    assert_eq!(fragment, "{\"n\":99,\"pa", "the fragment stays a line of its own");
    // The lines written to the deleted file before the check come first, then the batch.
    let ns: Vec<u64> = rest.lines().map(parse).collect();
    assert_eq!(ns, [0, 1, 2, 3, 4]);
}

#[test]
fn rotation_is_not_held_up_by_another_process_having_the_file_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    let mut s = FileSink::open(cfg(&path, 4096, 5)).unwrap();
    let _other = other_process_holding(&path);
    let mut n = 0;
    while n < 1500 {
        let (b, k) = batch(n..n + 10);
        s.write(&b, k);
        n += 10;
    }
    assert!(s.hooks.reports.iter().all(|r| !r.contains("cannot rotate")), "{:?}", s.hooks.reports);
    let (all, backups) = chain(&path, 5);
    assert_eq!(backups, 5, "the file rotated");
    assert_eq!(all.last(), Some(&1499));
}

#[test]
fn a_character_device_such_as_dev_null_is_still_accepted_as_the_log_file() {
    let mut s = FileSink::open(cfg(Path::new("/dev/null"), 0, 5)).expect("/dev/null is a log file");
    let (b, n) = batch(0..10);
    s.write(&b, n);
    assert!(s.is_healthy());
}

#[test]
fn a_fifo_is_refused_at_open_without_waiting_for_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.fifo");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = FileSink::open(cfg(&path, 0, 5)).err().expect("a FIFO is refused");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("FIFO"), "{e}");
}
