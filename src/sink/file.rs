//! File sink: appends rendered JSON lines to the log file (`run.log`), rotates it by size,
//! follows the path when the file is moved, deleted or truncated from outside, and
//! survives write failures without panicking, blocking or losing records silently.
//!
//! # How a batch is written
//!
//! The writer thread hands over batches of complete lines. A batch goes out in
//! `write(2)`s of at most [`MAX_WRITE`] bytes on an `O_APPEND` descriptor (EINTR and short
//! writes are retried), split there and where rotation must happen, always at a line
//! boundary. On local Linux filesystems an `O_APPEND` write of one buffer is atomic with
//! respect to other appenders (the inode lock is held for the whole write), so several
//! processes sharing one file never interleave inside a record.
//!
//! # The page cache
//!
//! Every [`WRITEBACK_CHUNK`] written, the kernel is asked to start writing the dirty
//! pages out, and the pages of what was written more than [`KEEP_CACHED`] ago are handed
//! back (`POSIX_FADV_DONTNEED`, which drops those already written back; after an
//! `fdatasync` that is all of them). Nothing waits for the disk. A log is written once
//! and read rarely: this keeps it from crowding the application's pages out of memory,
//! and the next appends reuse the freed pages while they are warm.
//!
//! # Rotation
//!
//! Before a chunk is written, if the file is non-empty and the chunk would take it past
//! `rotate_bytes`, the file is rotated first; a batch is split at line boundaries across
//! files and a line longer than the limit gets a file of its own, so no record is ever
//! split across files. Rotation is safe against other processes rotating the same file
//! (the protocol of multi-process loggers such as `concurrent-log-handler`):
//!
//! 1. `fdatasync` the current file, then `flock(LOCK_EX)` it (bounded wait);
//! 2. `stat` the path: if it is no longer our inode, someone else rotated: just reopen;
//! 3. otherwise shift the chain by name (`path.{n}` removed, `path.{i}` → `path.{i+1}`,
//!    `path` → `path.1`), open a fresh `path`, `fsync` the directory;
//! 4. drop the old descriptor, which releases the lock.
//!
//! The chain lives in the names on disk, so it continues across restarts.
//!
//! # Following the path
//!
//! At most every [`CHECK_INTERVAL`] (and always before rotating) `stat(path)` is compared
//! with the open file (device + inode). A path that is gone or names another file
//! (logrotate's rename-and-create, a deleted file, a removed directory) is reopened,
//! recreating missing directories. The same `stat` refreshes the size, which also picks up
//! `copytruncate` (harmless with `O_APPEND`) and other processes' appends.
//!
//! # Failures
//!
//! A failed write keeps the unwritten remainder, starting at the exact byte where the
//! kernel stopped, in a hold buffer of at most [`HOLD_LIMIT`] bytes; later batches are
//! appended to it while they fit and are otherwise counted as lost (whole batches).
//! `write` and `retry` try again at most every [`RETRY_INTERVAL`]: reopen if needed, the
//! held bytes first, then the new batch. A partly written line is completed in the file
//! that holds its beginning. Failures are reported on stderr, the first at once and then
//! at most every [`REPORT_INTERVAL`]; recovery is reported with the number of records lost.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Most bytes held in memory while the file cannot be written. 8 MiB is a few seconds of
/// a busy service's output and small enough to never matter to its memory budget.
pub(crate) const HOLD_LIMIT: usize = 8 << 20;

/// How often the path is compared with the open file. One `statx` per 100 ms is
/// invisible in a profile, and a moved file is followed within a tenth of a second.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Bytes appended between two writeback kicks. After this much, the sink asks the kernel
/// to start writing the file's dirty pages (`sync_file_range(SYNC_FILE_RANGE_WRITE)`,
/// which does not wait), so the disk works while the writer renders and the next
/// `fdatasync` (interval, flush or exit) finds little left to do. Measured with the peer
/// harness: end to end 3.05 -> 3.98 M records/s, median of alternating runs (PERF.md).
pub(crate) const WRITEBACK_CHUNK: u64 = 1 << 20;

/// Bytes at the end of the file kept in the page cache; the pages of what lies further
/// back are handed back (`posix_fadvise(POSIX_FADV_DONTNEED)`). A log is written once
/// and read rarely, so keeping it cached only crowds out the application's own pages,
/// and the pages freed here are the ones the next writes get back while they are still
/// warm. On the test VM fresh pages cost a host fault each, and appending went from
/// ~0.85 to ~2.4 GB/s (PERF.md, "Making the copy fast"). The last 8 MiB stay cached
/// for `tail -f` and friends.
///
/// Nothing here waits for the disk: `DONTNEED` drops only pages already written back
/// (a dirty page stays), so a slow disk still lets the page cache absorb a burst. Each
/// writeback kick advises the [`RELEASE_SPAN`] behind the kept tail (pages get several
/// chances as their writeback completes), and each successful `fdatasync`, after which
/// every page is clean, sweeps everything older.
pub(crate) const KEEP_CACHED: u64 = 8 << 20;

/// How far behind the kept tail each writeback kick advises `DONTNEED` again.
pub(crate) const RELEASE_SPAN: u64 = 32 << 20;

/// Most bytes handed to one `write(2)`: a larger batch is cut at the last line end
/// before this, so a record is never split between two writes. On the test VM, with
/// the page cache handed back as above, appending in 1 MiB writes ran at ~2.4 GB/s and
/// in 3.3 MB writes (the writer's batches at full speed) at ~0.8 GB/s (PERF.md, "Making
/// the copy fast"); one more syscall per MiB costs nothing measurable.
pub(crate) const MAX_WRITE: usize = 1 << 20;

/// Least time between two attempts to write after a failure (and to rotate after a
/// failed rotation), so a full disk does not turn the writer into a syscall loop.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Least time between two stderr reports of the same ongoing problem.
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Longest wait for another process's rotation lock before rotation is deferred.
/// A rotation holds the lock for two syncs and a few renames; a holder that takes longer
/// is stuck or is not a logkit process, and the writer must not block forever on it.
const LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// Configuration of the file sink.
#[derive(Clone, Debug)]
pub(crate) struct FileConfig {
    /// The log file; missing parent directories are created.
    pub(crate) path: PathBuf,
    /// Rotate before the file would grow past this many bytes; 0 never rotates.
    pub(crate) rotate_bytes: u64,
    /// Rotated files kept: `path.1` (newest) .. `path.{backups}`; 0 removes the old file.
    pub(crate) backups: u32,
    /// Permission bits of a newly created file (the process umask applies as usual).
    pub(crate) mode: u32,
}

/// An open log file and the identity it had when it was opened.
struct Open {
    /// The `O_APPEND` descriptor.
    file: File,
    /// Device of the open file.
    dev: u64,
    /// Inode of the open file.
    ino: u64,
}

impl Open {
    /// Whether `md` (from `stat(path)`) describes this open file.
    #[inline]
    fn is(&self, md: &fs::Metadata) -> bool {
        md.dev() == self.dev && md.ino() == self.ino
    }
}

/// What `stat(path)` says about the open file.
enum PathState {
    /// The path still names the open file, which has this many bytes.
    Ours(u64),
    /// The path is gone or names another file: reopen.
    Changed,
    /// `stat` failed for another reason (e.g. permissions): keep the open file.
    Unknown,
}

/// "At once, then at most every [`REPORT_INTERVAL`]" for one kind of report.
#[derive(Default)]
struct RateLimit(Option<Instant>);

impl RateLimit {
    /// Whether a report may be printed now; if so, remembers that it was.
    #[cold]
    fn allow(&mut self, now: Instant) -> bool {
        match self.0 {
            Some(t) if now.saturating_duration_since(t) < REPORT_INTERVAL => false,
            _ => {
                self.0 = Some(now);
                true
            }
        }
    }
}

/// The JSONL file sink. See the module docs for the algorithm.
pub(crate) struct FileSink {
    /// What was asked for.
    cfg: FileConfig,
    /// The open file; `None` after a failed (re)open.
    out: Option<Open>,
    /// Bytes in the file: what we wrote, refreshed from `stat` at each check.
    size: u64,
    /// Something was written since the last successful `fdatasync`.
    dirty: bool,
    /// Bytes written since writeback was last started (see [`WRITEBACK_CHUNK`]).
    unkicked: u64,
    /// File offset before which every page was handed back after an `fdatasync` (see
    /// [`KEEP_CACHED`]).
    swept: u64,
    /// The last write stopped inside a line; its rest (at the front of `hold`) must go to
    /// the same file before anything else.
    mid_line: bool,
    /// The last write / reopen succeeded (and so nothing is held).
    healthy: bool,
    /// Bytes not yet written because of a failure, at most [`HOLD_LIMIT`] (but see
    /// [`FileSink::hold_batch`]).
    hold: Vec<u8>,
    /// Records (lines) in `hold`, a partly written one included.
    held_records: u64,
    /// Records neither written nor held since the last [`FileSink::take_lost`].
    lost: u64,
    /// Records lost during the current outage, for the recovery report.
    outage_lost: u64,
    /// When the current outage began.
    failing_since: Option<Instant>,
    /// Next time the path is compared with the open file.
    next_check: Instant,
    /// Next time a failed write may be retried.
    next_retry: Instant,
    /// A rotation failed: until then write past the limit instead of rotating.
    rotate_blocked_until: Option<Instant>,
    /// Reports of write failures.
    write_reports: RateLimit,
    /// Reports of failed rotations.
    rotate_reports: RateLimit,
    /// Reports of failed syncs.
    sync_reports: RateLimit,
    /// Test hook: bytes the descriptor still accepts before writes fail with ENOSPC.
    #[cfg(test)]
    fault: Option<usize>,
    /// Test hook: every report made.
    #[cfg(test)]
    reports: Vec<String>,
    /// Test hook: how often writeback was started.
    #[cfg(test)]
    kicks: u32,
    /// Test hook: how often written pages were handed back.
    #[cfg(test)]
    releases: u32,
    /// Test hook: the length of every `write(2)` made.
    #[cfg(test)]
    write_lens: Vec<usize>,
    /// Test hook: the next `write` panics.
    #[cfg(test)]
    panic_next: bool,
    /// Test hook: the next `write` first waits on this barrier.
    #[cfg(test)]
    gate: Option<std::sync::Arc<std::sync::Barrier>>,
}

impl FileSink {
    /// Creates missing parent directories and opens the file for append
    /// (`O_APPEND | O_CREAT | O_CLOEXEC`, permission bits `cfg.mode` if it is created).
    pub(crate) fn open(cfg: FileConfig) -> io::Result<FileSink> {
        let (open, size) = open_path(&cfg)?;
        let now = Instant::now();
        Ok(FileSink {
            cfg,
            out: Some(open),
            size,
            dirty: false,
            unkicked: 0,
            swept: size,
            mid_line: false,
            healthy: true,
            hold: Vec::new(),
            held_records: 0,
            lost: 0,
            outage_lost: 0,
            failing_since: None,
            next_check: now + CHECK_INTERVAL,
            next_retry: now,
            rotate_blocked_until: None,
            write_reports: RateLimit::default(),
            rotate_reports: RateLimit::default(),
            sync_reports: RateLimit::default(),
            #[cfg(test)]
            fault: None,
            #[cfg(test)]
            reports: Vec::new(),
            #[cfg(test)]
            kicks: 0,
            #[cfg(test)]
            releases: 0,
            #[cfg(test)]
            write_lens: Vec::new(),
            #[cfg(test)]
            panic_next: false,
            #[cfg(test)]
            gate: None,
        })
    }

    /// Writes a batch of complete lines; `records` is the number of lines in it.
    ///
    /// Never panics and never blocks for long: on failure the batch is held (or counted
    /// as lost when the hold buffer is full) and written by a later `write` or `retry`.
    pub(crate) fn write(&mut self, batch: &[u8], records: u64) {
        #[cfg(test)]
        if std::mem::take(&mut self.panic_next) {
            panic!("test hook: the file sink panics");
        }
        #[cfg(test)]
        if let Some(gate) = self.gate.take() {
            gate.wait();
        }
        if batch.is_empty() {
            return;
        }
        let now = Instant::now();
        if !self.healthy {
            if now >= self.next_retry {
                self.recover(now);
            }
            if !self.healthy {
                self.hold_batch(batch, records);
                return;
            }
        }
        if now >= self.next_check {
            self.next_check = now + CHECK_INTERVAL;
            if let Err(e) = self.check() {
                self.hold_batch(batch, records);
                self.fail(&e, now);
                return;
            }
        }
        if self.cfg.rotate_bytes > 0 {
            self.refresh_size();
        }
        if let Err((done, e)) = self.emit(batch, now) {
            self.hold_rest(&batch[done..], records);
            self.fail(&e, now);
        }
    }

    /// Other processes may append to the same file: with rotation on, the size that
    /// decides it is the file's, not just what this process wrote (one `fstat` per
    /// batch; without it k processes let the file grow to k times the limit).
    #[inline]
    fn refresh_size(&mut self) {
        if let Some(out) = &self.out {
            if let Ok(md) = out.file.metadata() {
                self.size = md.len();
            }
        }
    }

    /// Retries held data after a failure, at most every [`RETRY_INTERVAL`]; a cheap
    /// no-op when healthy. The writer calls this when idle.
    #[inline]
    pub(crate) fn retry(&mut self) {
        if self.healthy {
            return;
        }
        let now = Instant::now();
        if now >= self.next_retry {
            self.recover(now);
        }
    }

    /// `fdatasync`s the file if anything was written since the last sync. A failure is
    /// reported on stderr (rate-limited) and returned.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let Some(out) = &self.out else { return Ok(()) };
        match datasync(out.file.as_raw_fd()) {
            Ok(()) => {
                self.dirty = false;
                self.unkicked = 0;
                // Everything written is clean now: hand back all but the tail.
                let end = self.cached_end();
                if end > self.swept {
                    self.advise_dontneed(self.swept, end);
                    self.swept = end;
                }
                Ok(())
            }
            Err(e) => {
                self.sync_failed(&e);
                Err(e)
            }
        }
    }

    /// Records that could neither be written nor held, since the previous call.
    #[inline]
    pub(crate) fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    /// Whether the last write / reopen succeeded (and so nothing is held).
    #[inline]
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// The log file's path.
    #[inline]
    pub(crate) fn path(&self) -> &Path {
        &self.cfg.path
    }

    /// Writes `data` (a run of lines, or the rest of a partly written line followed by
    /// lines), rotating where needed. On failure returns how many bytes of `data` are in
    /// a file, and the error.
    fn emit(&mut self, data: &[u8], now: Instant) -> Result<(), (usize, io::Error)> {
        let mut done = 0;
        while done < data.len() {
            let rest = &data[done..];
            match self.chunk_len(rest, now) {
                Some(len) => {
                    self.put(&rest[..len]).map_err(|(n, e)| (done + n, e))?;
                    done += len;
                }
                None => self.rotate(now).map_err(|e| (done, e))?,
            }
        }
        Ok(())
    }

    /// How much of `rest` goes into the current file with one write, or `None` when the
    /// file must be rotated first.
    #[inline]
    fn chunk_len(&self, rest: &[u8], now: Instant) -> Option<usize> {
        if self.mid_line {
            // The rest of a partly written line belongs to the file holding its start.
            return Some(line_end(rest));
        }
        let limit = self.cfg.rotate_bytes;
        if limit == 0 || self.size.saturating_add(rest.len() as u64) <= limit {
            return Some(capped(rest));
        }
        if self.rotate_blocked_until.is_some_and(|t| now < t) {
            return Some(capped(rest));
        }
        let room = usize::try_from(limit.saturating_sub(self.size)).unwrap_or(usize::MAX).min(rest.len());
        match rest[..room].iter().rposition(|&b| b == b'\n') {
            Some(p) => Some(capped(&rest[..p + 1])),
            // Not even one line fits: a fresh file, or this line alone if it is fresh.
            None if self.size > 0 => None,
            None => Some(line_end(rest)),
        }
    }

    /// Writes all of `buf` with as few `write(2)` calls as the kernel allows, retrying
    /// EINTR and short writes. On failure returns how many bytes were written.
    #[inline]
    fn put(&mut self, buf: &[u8]) -> Result<(), (usize, io::Error)> {
        let mut done = 0;
        let res = loop {
            if done == buf.len() {
                break Ok(());
            }
            match self.sys_write(&buf[done..]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if done > 0 {
            self.size += done as u64;
            self.dirty = true;
            self.mid_line = buf[done - 1] != b'\n';
            self.unkicked += done as u64;
            if self.unkicked >= WRITEBACK_CHUNK {
                self.start_writeback();
            }
        }
        res.map_err(|e| (done, e))
    }

    /// One `write(2)` on the open file (`File::write` is exactly that).
    #[inline]
    fn sys_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(out) = &self.out else { return Err(no_file()) };
        #[cfg(test)]
        self.write_lens.push(buf.len());
        #[cfg(test)]
        if let Some(budget) = &mut self.fault {
            if *budget == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = (&out.file).write(&buf[..buf.len().min(*budget)])?;
            *budget -= n;
            return Ok(n);
        }
        (&out.file).write(buf)
    }

    /// Asks the kernel to start writing the file's dirty pages, without waiting for
    /// them. Errors are ignored: the next `fdatasync` reports a failing disk.
    #[inline]
    fn start_writeback(&mut self) {
        self.unkicked = 0;
        #[cfg(test)]
        {
            self.kicks += 1;
        }
        #[cfg(target_os = "linux")]
        if let Some(out) = &self.out {
            // SAFETY: the descriptor is borrowed from a `File` that stays open for the
            // call; offset 0 and length 0 mean "the whole file"; the call reads no memory
            // of ours.
            unsafe { libc::sync_file_range(out.file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        }
        self.release_cached();
    }

    /// After a writeback kick: hands back the pages, already written back, of the
    /// [`RELEASE_SPAN`] behind the cached tail. Never waits for the disk.
    #[inline]
    fn release_cached(&mut self) {
        let end = self.cached_end();
        let from = end.saturating_sub(RELEASE_SPAN).max(self.swept);
        if end > from {
            self.advise_dontneed(from, end);
        }
    }

    /// Where the cached tail ([`KEEP_CACHED`]) begins.
    #[inline]
    fn cached_end(&mut self) -> u64 {
        if self.swept > self.size {
            // The file shrank under us (copytruncate): start again from its start.
            self.swept = 0;
        }
        self.size.saturating_sub(KEEP_CACHED)
    }

    /// `posix_fadvise(POSIX_FADV_DONTNEED)` on `from..end`: the kernel drops the clean
    /// pages of that range and leaves dirty ones. Errors are ignored: this only decides
    /// what stays cached, never what is written.
    #[inline]
    fn advise_dontneed(&mut self, from: u64, end: u64) {
        #[cfg(test)]
        {
            self.releases += 1;
        }
        #[cfg(target_os = "linux")]
        if let Some(out) = &self.out {
            // SAFETY: as in `start_writeback`: a borrowed open descriptor, a byte range of
            // the file, and no memory of ours read or written.
            unsafe {
                libc::posix_fadvise(
                    out.file.as_raw_fd(),
                    from as libc::off64_t,
                    (end - from) as libc::off64_t,
                    libc::POSIX_FADV_DONTNEED,
                )
            };
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (from, end);
    }

    /// What `stat(path)` says about the open file.
    fn path_state(&self) -> PathState {
        let Some(out) = &self.out else { return PathState::Changed };
        match fs::metadata(&self.cfg.path) {
            Ok(md) if out.is(&md) => PathState::Ours(md.size()),
            Ok(_) => PathState::Changed,
            Err(e) if is_gone(&e) => PathState::Changed,
            Err(_) => PathState::Unknown,
        }
    }

    /// The periodic check: follow the path if it changed, refresh the size.
    fn check(&mut self) -> io::Result<()> {
        match self.path_state() {
            PathState::Ours(size) => {
                self.size = size;
                Ok(())
            }
            PathState::Changed => self.reopen(),
            PathState::Unknown => Ok(()),
        }
    }

    /// Opens `path` afresh (recreating directories), after syncing the old file if dirty.
    #[cold]
    fn reopen(&mut self) -> io::Result<()> {
        if let Some(old) = self.out.take() {
            if self.dirty {
                // Best effort: the old file was moved away or deleted; what we wrote
                // there should still be durable if it was moved.
                let _ = datasync(old.file.as_raw_fd());
            }
        }
        self.dirty = false;
        self.mid_line = false;
        let (open, size) = open_path(&self.cfg)?;
        self.out = Some(open);
        self.size = size;
        self.swept = size;
        Ok(())
    }

    /// Rotates the file, or finds that another process did. `Err` means no file is open
    /// any more (the write fails and is held); a rotation that could not be done but left
    /// the file usable is reported, deferred, and returns `Ok`.
    #[cold]
    fn rotate(&mut self, now: Instant) -> io::Result<()> {
        let Some(out) = &self.out else { return Err(no_file()) };
        let fd = out.file.as_raw_fd();
        if datasync(fd).is_ok() {
            self.dirty = false;
        }
        if let Err(e) = lock(fd) {
            self.rotate_failed(&e, now);
            return Ok(());
        }
        match self.path_state() {
            PathState::Ours(_) => {}
            // Another process rotated (or the file was moved): follow the path.
            PathState::Changed => return self.reopen(),
            PathState::Unknown => {
                let e = fs::metadata(&self.cfg.path).err().unwrap_or_else(no_file);
                self.rotate_failed(&e, now);
                return Ok(());
            }
        }
        if let Err(e) = shift_chain(&self.cfg.path, self.cfg.backups) {
            self.rotate_failed(&e, now);
            return Ok(());
        }
        match open_path(&self.cfg) {
            Ok((open, size)) => {
                // Replacing the old descriptor closes it, which releases the lock.
                self.out = Some(open);
                self.size = size;
                self.swept = size;
                self.dirty = false;
                self.rotate_blocked_until = None;
                let _ = sync_dir(&self.cfg.path);
                Ok(())
            }
            Err(e) => {
                self.out = None;
                Err(e)
            }
        }
    }

    /// Tries to write what is held: reopen if needed, then the held bytes.
    #[cold]
    fn recover(&mut self, now: Instant) {
        self.next_retry = now + RETRY_INTERVAL;
        self.next_check = now + CHECK_INTERVAL;
        match self.path_state() {
            PathState::Ours(size) => self.size = size,
            PathState::Unknown => {}
            PathState::Changed => {
                if self.mid_line {
                    self.finish_line_in_old_file();
                }
                if let Err(e) = self.reopen() {
                    self.fail(&e, now);
                    return;
                }
            }
        }
        let mut hold = std::mem::take(&mut self.hold);
        match self.emit(&hold, now) {
            Ok(()) => {
                hold.clear();
                hold.shrink_to(64 << 10);
                self.hold = hold;
                self.held_records = 0;
                self.recovered(now);
            }
            Err((done, e)) => {
                hold.drain(..done);
                self.held_records = count_lines(&hold);
                self.hold = hold;
                self.fail(&e, now);
            }
        }
    }

    /// Before leaving a file that ends inside a line, completes that line there; if that
    /// fails the fragment is dropped (one record lost) so the next file starts clean.
    #[cold]
    fn finish_line_in_old_file(&mut self) {
        let hold = std::mem::take(&mut self.hold);
        let end = line_end(&hold);
        if self.out.is_none() || self.put(&hold[..end]).is_err() {
            self.count_lost(1);
        }
        self.hold = hold;
        self.hold.drain(..end);
        self.held_records = self.held_records.saturating_sub(1);
        self.mid_line = false;
    }

    /// Holds the unwritten rest of a batch whose start went out.
    #[cold]
    fn hold_rest(&mut self, rest: &[u8], records: u64) {
        let records = if rest.is_empty() { 0 } else { count_lines(rest).min(records) };
        self.hold_batch(rest, records);
    }

    /// Holds `data` if it fits, otherwise counts its records as lost. The rest of a
    /// partly written line is always kept, so the file it started in gets a whole line.
    #[cold]
    fn hold_batch(&mut self, data: &[u8], records: u64) {
        if self.hold.len() + data.len() <= HOLD_LIMIT {
            self.hold.extend_from_slice(data);
            self.held_records += records;
        } else if self.hold.is_empty() && self.mid_line {
            let end = line_end(data);
            self.hold.extend_from_slice(&data[..end]);
            self.held_records = 1;
            self.count_lost(records.saturating_sub(1));
        } else {
            self.count_lost(records);
        }
    }

    /// Counts records neither written nor held.
    #[cold]
    fn count_lost(&mut self, n: u64) {
        self.lost += n;
        self.outage_lost += n;
    }

    /// A write or reopen failed: mark unhealthy, schedule a retry, report (rate-limited).
    #[cold]
    fn fail(&mut self, e: &io::Error, now: Instant) {
        self.healthy = false;
        self.next_retry = now + RETRY_INTERVAL;
        if self.failing_since.is_none() {
            self.failing_since = Some(now);
            self.write_reports = RateLimit::default();
        }
        if self.write_reports.allow(now) {
            let (path, held) = (self.path().display().to_string(), self.held_records);
            self.report(format_args!("logkit: cannot write {path}: {e}; holding {held} records, retrying"));
        }
    }

    /// Everything held is written: healthy again; report the outage's end.
    #[cold]
    fn recovered(&mut self, now: Instant) {
        self.healthy = true;
        let Some(since) = self.failing_since.take() else { return };
        let after = now.saturating_duration_since(since);
        let path = self.path().display().to_string();
        let lost = std::mem::take(&mut self.outage_lost);
        if lost > 0 {
            self.report(format_args!("logkit: writing {path} again after {after:.1?}; {lost} records lost"));
        } else {
            self.report(format_args!("logkit: writing {path} again after {after:.1?}"));
        }
        self.write_reports = RateLimit::default();
    }

    /// A rotation could not be done: keep appending past the limit for a while, report.
    #[cold]
    fn rotate_failed(&mut self, e: &io::Error, now: Instant) {
        self.rotate_blocked_until = Some(now + RETRY_INTERVAL);
        if self.rotate_reports.allow(now) {
            let path = self.path().display().to_string();
            self.report(format_args!("logkit: cannot rotate {path}: {e}; writing past the size limit"));
        }
    }

    /// `fdatasync` failed: report (rate-limited).
    #[cold]
    fn sync_failed(&mut self, e: &io::Error) {
        if self.sync_reports.allow(Instant::now()) {
            let path = self.path().display().to_string();
            self.report(format_args!("logkit: cannot sync {path}: {e}"));
        }
    }

    /// One line on stderr; a failing stderr is ignored (there is nowhere else to tell).
    #[cold]
    fn report(&mut self, msg: fmt::Arguments<'_>) {
        #[cfg(test)]
        {
            self.reports.push(msg.to_string());
            eprintln!("{msg}");
        }
        #[cfg(not(test))]
        {
            let _ = writeln!(io::stderr().lock(), "{msg}");
        }
    }
}

impl FileSink {
    /// Last attempt to write what is held, then `fdatasync`; anything still unwritten
    /// is reported on stderr, since no later record can carry the count. Called when
    /// the process exits (the sink itself lives in a static and is never dropped) and
    /// on drop.
    pub(crate) fn finish(&mut self) {
        let now = Instant::now();
        if !self.healthy {
            self.recover(now);
        }
        let unwritten = self.held_records + self.lost;
        if unwritten > 0 {
            let path = self.path().display().to_string();
            self.report(format_args!("logkit: closing {path} with {unwritten} records unwritten"));
            self.lost = 0;
        }
        let _ = self.sync();
    }
}

/// Test hooks for other modules' tests.
#[cfg(test)]
impl FileSink {
    /// Something was written since the last successful `fdatasync`.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes fail with ENOSPC once `n` more bytes have been accepted.
    pub(crate) fn fail_writes_after(&mut self, n: usize) {
        self.fault = Some(n);
    }

    /// The next `write` panics (a bug in the sink, as far as its callers can tell).
    pub(crate) fn panic_on_next_write(&mut self) {
        self.panic_next = true;
    }

    /// The next `write` first waits on `gate` (a write that takes as long as a test
    /// wants).
    pub(crate) fn block_next_write_on(&mut self, gate: std::sync::Arc<std::sync::Barrier>) {
        self.gate = Some(gate);
    }

    /// The disk accepts writes again, and the next `retry` tries at once.
    pub(crate) fn heal(&mut self) {
        self.fault = None;
        self.next_retry = Instant::now();
        self.next_check = Instant::now();
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Opens `cfg.path` for append, creating it (with `cfg.mode`) and missing directories.
/// Returns the file and its size.
fn open_path(cfg: &FileConfig) -> io::Result<(Open, u64)> {
    let mut opts = OpenOptions::new();
    opts.append(true).create(true).mode(cfg.mode).custom_flags(libc::O_CLOEXEC);
    let file = match opts.open(&cfg.path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = parent(&cfg.path) {
                fs::create_dir_all(dir)?;
            }
            opts.open(&cfg.path)?
        }
        r => r?,
    };
    let md = file.metadata()?;
    Ok((Open { file, dev: md.dev(), ino: md.ino() }, md.size()))
}

/// Shifts the rotation chain by name: `path.{backups}` removed, `path.{i}` → `path.{i+1}`,
/// `path` → `path.1`; with no backups `path` is removed.
fn shift_chain(path: &Path, backups: u32) -> io::Result<()> {
    if backups == 0 {
        return fs::remove_file(path).or_else(ignore_gone);
    }
    // Removing first is not needed (rename replaces) but keeps the count exact even if
    // `path.{backups-1}` is missing.
    fs::remove_file(numbered(path, backups)).or_else(ignore_gone)?;
    for i in (1..backups).rev() {
        fs::rename(numbered(path, i), numbered(path, i + 1)).or_else(ignore_gone)?;
    }
    fs::rename(path, numbered(path, 1))
}

/// `path` with `.n` appended to its file name: `run.log.1`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The directory holding `path`, if it names one (`run.log` has none: the cwd).
fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// `fsync`s the directory holding `path`, making a rotation's renames durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path).unwrap_or(Path::new(".")))?.sync_all()
}

/// `fdatasync(fd)`, retrying EINTR.
fn datasync(fd: RawFd) -> io::Result<()> {
    loop {
        // SAFETY: `fd` is borrowed from a `File` the caller keeps open for the call;
        // fdatasync reads no memory of ours.
        if unsafe { libc::fdatasync(fd) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `flock(fd, LOCK_EX)`, waiting at most [`LOCK_TIMEOUT`] (polling, so a stuck holder
/// cannot block the writer forever).
fn lock(fd: RawFd) -> io::Result<()> {
    let start = Instant::now();
    loop {
        // SAFETY: `fd` is borrowed from a `File` the caller keeps open for the call;
        // flock reads no memory of ours.
        if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EWOULDBLOCK) if start.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => return Err(e),
        }
    }
}

/// How much of `lines` (whole lines) goes into one `write(2)`: all of it up to
/// [`MAX_WRITE`], else the lines that end within the first `MAX_WRITE` bytes, else the
/// first line alone (it is longer than `MAX_WRITE`, and is never split).
#[inline]
fn capped(lines: &[u8]) -> usize {
    if lines.len() <= MAX_WRITE {
        return lines.len();
    }
    match lines[..MAX_WRITE].iter().rposition(|&b| b == b'\n') {
        Some(p) => p + 1,
        None => line_end(lines),
    }
}

/// Length of the first line of `data`, its `\n` included (all of `data` if it has none).
#[inline]
fn line_end(data: &[u8]) -> usize {
    data.iter().position(|&b| b == b'\n').map_or(data.len(), |p| p + 1)
}

/// Number of lines (`\n`s) in `data`.
#[cold]
fn count_lines(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether a `stat`/`remove` error means the path (or a directory on it) is gone.
fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// `Ok` for a "path is gone" error, the error otherwise.
fn ignore_gone(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// The error for "no file is open" (after a failed reopen).
#[cold]
fn no_file() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "log file is not open")
}

#[cfg(test)]
mod tests {
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
        assert!(s.reports.is_empty());
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
        assert_eq!(s.kicks, 0, "{written} bytes (< one chunk) started writeback");
        s.write(&b, n);
        assert_eq!(s.kicks, 1);
        // An fdatasync covers what was written: the count starts again.
        s.write(&b, n);
        s.sync().unwrap();
        assert_eq!(s.unkicked, 0);
        // One big write of three chunks: one kick, not three.
        let big =
            vec![b'x'; 3 * WRITEBACK_CHUNK as usize - 1].into_iter().chain(std::iter::once(b'\n')).collect::<Vec<u8>>();
        s.write(&big, 1);
        assert_eq!(s.kicks, 2);
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
        assert!(s.releases > 0, "nothing handed back after {} bytes", s.size);
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
        for (i, &len) in s.write_lens.iter().enumerate() {
            // Full but for the part of a line (at most 40 bytes here) that did not fit.
            let last = i + 1 == s.write_lens.len();
            assert!(len <= MAX_WRITE && (last || len > MAX_WRITE - 40), "write {i} of {len} bytes");
            at += len;
            assert_eq!(b[at - 1], b'\n', "a write ended inside a line");
        }
        // A line longer than MAX_WRITE is written whole, in one write.
        let big: Vec<u8> = vec![b'x'; MAX_WRITE + 10].into_iter().chain(*b"\n").collect();
        s.write_lens.clear();
        s.write(&big, 1);
        assert_eq!(s.write_lens, [big.len()]);
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
        fs::remove_file(&path).unwrap();
        make_due(&mut s);
        s.write(line(1).as_bytes(), 1);
        assert!(s.is_healthy());
        assert_eq!(numbers(&path), vec![1]);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
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
        s.fault = Some(cut);
        s.write(&b, r);
        assert!(!s.is_healthy());
        assert_eq!(fs::metadata(&path).unwrap().len(), cut as u64);
        assert_eq!(s.held_records, 9);
        assert_eq!(s.reports.len(), 1);
        assert!(
            s.reports[0].starts_with(&format!("logkit: cannot write {}: ", path.display()))
                && s.reports[0].ends_with("; holding 9 records, retrying"),
            "{}",
            s.reports[0]
        );
        // Held while failing; a retry that fails again is not reported again.
        let (b, r) = batch(10..20);
        s.write(&b, r);
        make_due(&mut s);
        s.retry();
        assert_eq!(s.reports.len(), 1);
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
        s.fault = None;
        s.retry(); // not due yet
        assert!(!s.is_healthy());
        make_due(&mut s);
        s.retry();
        assert!(s.is_healthy());
        assert_eq!(numbers(&path), (0..30).collect::<Vec<_>>());
        assert_eq!(s.take_lost(), big_records);
        assert_eq!(s.take_lost(), 0);
        let last = s.reports.last().unwrap();
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
            s.fault = Some(cut);
            s.write(&b, r);
            assert!(!s.is_healthy());
            s.fault = None;
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
        s.fault = Some(b.len() / 2);
        s.write(&b, r);
        assert!(s.mid_line);
        fs::rename(&path, &rotated).unwrap();
        s.fault = None;
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
        assert!(s.reports[0].contains("holding 1 records"), "{}", s.reports[0]);
        make_due(&mut s);
        s.write(line(2).as_bytes(), 1);
        assert!(!s.is_healthy());
        assert_eq!(s.reports.len(), 1);
        fs::remove_file(&logs).unwrap();
        make_due(&mut s);
        s.retry();
        assert!(s.is_healthy());
        assert_eq!(numbers(&path), vec![1, 2]);
        assert_eq!(s.take_lost(), 0);
        assert!(!s.reports.last().unwrap().contains("lost"));
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
        assert!(s.reports[0].contains("File too large"), "{}", s.reports[0]);
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
}
