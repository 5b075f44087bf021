//! File sink: appends rendered JSON lines to the log file (`run.log`), rotates it by size,
//! follows the path when the file is moved, deleted or truncated from outside, and
//! survives write failures without panicking, blocking or losing records silently.
//!
//! One concern per file:
//! - `batch`: how a batch is cut into `write(2)`s of whole lines, at most
//!   [`MAX_WRITE`] bytes each, and where rotation must happen;
//! - `page_cache`: writeback kicks and handing written pages back to the kernel;
//! - `follow`: following the path when the file is moved, deleted or truncated;
//! - `rotate`: rotation by size, safe against other processes rotating the same file;
//! - `tail`: the shared presence lock, and a torn last line ended at open when no other
//!   process has the file;
//! - `failure`: what a failed write keeps, when it is retried, and how it is reported.
//!
//! This file holds the sink itself, its public operations (`open`, `write`, `retry`,
//! `sync`, `finish`) and the `fdatasync` they share.

mod batch;
mod failure;
mod follow;
mod page_cache;
mod rotate;
mod tail;
#[cfg(test)]
mod test_hooks;
#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use self::failure::RateLimit;
#[cfg(any(test, doc))]
pub(crate) use self::failure::HOLD_LIMIT;
use self::follow::{open_path, CHECK_INTERVAL};
#[cfg(test)]
use self::test_hooks::TestHooks;
#[cfg(doc)]
use self::{
    batch::MAX_WRITE,
    failure::RETRY_INTERVAL,
    page_cache::{KEEP_CACHED, WRITEBACK_CHUNK},
};

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
pub(super) struct Open {
    /// The `O_APPEND` descriptor.
    file: File,
    /// Device of the open file.
    dev: u64,
    /// Inode of the open file.
    ino: u64,
    /// Opened for reading too (see [`FileSink::carry_over`]).
    readable: bool,
}

impl Open {
    /// Whether `md` (from `stat(path)`) describes this open file.
    #[inline]
    fn is(&self, md: &fs::Metadata) -> bool {
        md.dev() == self.dev && md.ino() == self.ino
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
    /// The file's size when `stat(path)` last showed the path naming it: bytes after this
    /// offset may have gone to a deleted file (see [`FileSink::carry_over`]).
    verified: u64,
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
    /// Test hooks: faults to inject, and what the sink did.
    #[cfg(test)]
    hooks: TestHooks,
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
            verified: size,
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
            hooks: TestHooks::default(),
        })
    }

    /// Writes a batch of complete lines; `records` is the number of lines in it.
    ///
    /// Never panics and never blocks for long: on failure the batch is held (or counted
    /// as lost when the hold buffer is full) and written by a later `write` or `retry`.
    pub(crate) fn write(&mut self, batch: &[u8], records: u64) {
        #[cfg(test)]
        if std::mem::take(&mut self.hooks.panic_next) {
            panic!("test hook: the file sink panics");
        }
        #[cfg(test)]
        if let Some(gate) = self.hooks.gate.take() {
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
}

impl FileSink {
    /// Last attempt to write what is held, then `fdatasync`; anything still unwritten
    /// is reported on stderr, since no later record can carry the count. Called when
    /// the process exits (the sink itself lives in a static and is never dropped) and
    /// on drop.
    pub(crate) fn finish(&mut self) {
        let now = Instant::now();
        if self.healthy {
            self.follow();
        } else {
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

impl Drop for FileSink {
    fn drop(&mut self) {
        self.finish();
    }
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
