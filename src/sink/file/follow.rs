//! Following the path.
//!
//! At most every [`CHECK_INTERVAL`] (and always before rotating) `stat(path)` is compared
//! with the open file (device + inode). A path that is gone or names another file
//! (logrotate's rename-and-create, a deleted file, a removed directory) is reopened,
//! recreating missing directories. The same `stat` refreshes the size, which also picks up
//! `copytruncate` (harmless with `O_APPEND`) and other processes' appends. A flush checks
//! too ([`FileSink::follow`]), so what it reports written is in the file the path names.
//!
//! Records written between the last check that saw the path name the open file and the
//! one that found it gone went to a file nobody can reach any more (deleted, or its
//! directory removed). The descriptor still reads it, so those bytes are copied into the
//! new file before anything else ([`FileSink::carry_over`]). A file renamed away keeps
//! its records (that is logrotate's rotation).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use super::batch::{count_lines, MAX_WRITE};
use super::failure::HOLD_LIMIT;
use super::tail::claim;
use super::{datasync, FileConfig, FileSink, Open};

/// How often the path is compared with the open file. One `statx` per 100 ms is
/// invisible in a profile, and a moved file is followed within a tenth of a second.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// What `stat(path)` says about the open file.
pub(super) enum PathState {
    /// The path still names the open file, which has this many bytes.
    Ours(u64),
    /// The path is gone or names another file: reopen.
    Changed,
    /// `stat` failed for another reason (e.g. permissions): keep the open file.
    Unknown,
}

impl FileSink {
    /// Other processes may append to the same file: with rotation on, the size that
    /// decides it is the file's, not just what this process wrote (one `fstat` per
    /// batch; without it k processes let the file grow to k times the limit).
    #[inline]
    pub(super) fn refresh_size(&mut self) {
        if let Some(out) = &self.out {
            if let Ok(md) = out.file.metadata() {
                self.size = md.len();
            }
        }
    }

    /// Before a retry: checks the path now and reopens it if the file there is not
    /// ours any more (its unfinished line ended in the old file first).
    pub(super) fn follow_path(&mut self, now: Instant) -> io::Result<()> {
        self.next_check = now + CHECK_INTERVAL;
        match self.path_state() {
            PathState::Ours(size) => self.seen_at(size),
            PathState::Unknown => {}
            PathState::Changed => {
                if self.mid_line {
                    self.finish_line_in_old_file();
                }
                self.reopen()?;
            }
        }
        Ok(())
    }

    /// What `stat(path)` says about the open file.
    pub(super) fn path_state(&self) -> PathState {
        let Some(out) = &self.out else { return PathState::Changed };
        match fs::metadata(&self.cfg.path) {
            Ok(md) if out.is(&md) => PathState::Ours(md.size()),
            Ok(_) => PathState::Changed,
            Err(e) if is_gone(&e) => PathState::Changed,
            Err(_) => PathState::Unknown,
        }
    }

    /// The periodic check: follow the path if it changed, refresh the size.
    pub(super) fn check(&mut self) -> io::Result<()> {
        match self.path_state() {
            PathState::Ours(size) => {
                self.seen_at(size);
                Ok(())
            }
            PathState::Changed => self.reopen(),
            PathState::Unknown => Ok(()),
        }
    }

    /// `stat(path)` showed the open file with `size` bytes: all of them are reachable.
    #[inline]
    pub(super) fn seen_at(&mut self, size: u64) {
        self.size = size;
        self.verified = size;
    }

    /// A flush's check, whatever the interval: if the path no longer names the open file,
    /// follow it now (carrying over what went into a deleted file), so that what the
    /// flush reports written is in the file the path names. A failure is held and
    /// reported like a failed write. While the sink is failing, the retry does this.
    pub(crate) fn follow(&mut self) {
        if !self.healthy {
            return;
        }
        let now = Instant::now();
        self.next_check = now + CHECK_INTERVAL;
        if let Err(e) = self.check() {
            self.fail(&e, now);
        }
    }

    /// Opens `path` afresh (recreating directories), after syncing the old file if dirty.
    /// If the old file was deleted, what was written to it since the path was last seen
    /// naming it goes first into the new one.
    #[cold]
    pub(super) fn reopen(&mut self) -> io::Result<()> {
        let mut orphaned = None;
        if let Some(old) = self.out.take() {
            let deleted = old.file.metadata().is_ok_and(|md| md.nlink() == 0);
            if deleted {
                orphaned = Some(old);
            } else if self.dirty {
                // Best effort: the old file was moved away; what we wrote there should
                // still be durable.
                let _ = datasync(old.file.as_raw_fd());
            }
        }
        self.dirty = false;
        self.mid_line = false;
        let from = self.verified;
        let (open, size) = open_path(&self.cfg)?;
        self.out = Some(open);
        self.seen_at(size);
        self.swept = size;
        match orphaned {
            Some(old) if old.readable => self.carry_over(&old.file, from),
            _ => Ok(()),
        }
    }

    /// Copies the whole lines of `old` (a deleted file, still open) from offset `from` to
    /// its end into the open file, in writes of at most [`MAX_WRITE`]. What cannot be
    /// written goes to the front of the hold buffer (it is older than anything held), as
    /// much as fits; the rest is counted as lost. A line cut at the end of `old` (a write
    /// that failed there) is not copied: its rest is already gone with that file.
    #[cold]
    pub(super) fn carry_over(&mut self, old: &File, from: u64) -> io::Result<()> {
        let end = old.metadata()?.len();
        let mut at = from;
        let mut chunk = Vec::new();
        let mut size = MAX_WRITE;
        let mut failed: Option<io::Error> = None;
        let mut unwritten = Vec::new();
        while at < end {
            chunk.resize(usize::try_from(end - at).unwrap_or(usize::MAX).min(size), 0);
            let n = match old.read_at(&mut chunk, at) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    failed.get_or_insert(e);
                    break;
                }
            };
            // Whole lines only; a line longer than a chunk is read whole.
            let whole = match chunk[..n].iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None if at + (n as u64) < end => {
                    size = size.saturating_mul(2);
                    continue;
                }
                None => break,
            };
            size = MAX_WRITE;
            at += whole as u64;
            let lines = &chunk[..whole];
            if failed.is_some() {
                if unwritten.len() + lines.len() <= HOLD_LIMIT {
                    unwritten.extend_from_slice(lines);
                } else {
                    self.count_lost(count_lines(lines));
                }
            } else if let Err((done, e)) = self.put(lines) {
                unwritten.extend_from_slice(&lines[done..]);
                failed = Some(e);
            }
        }
        if !unwritten.is_empty() {
            self.hold_front(unwritten);
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Opens `cfg.path` for append, creating it (with `cfg.mode`) and missing directories,
/// and claims it (the shared presence lock; a torn tail ended with `\n` if no other
/// process has the file open: see `tail`). Returns the file and its size. The file is
/// opened for reading too when permitted (see [`FileSink::carry_over`]).
pub(super) fn open_path(cfg: &FileConfig) -> io::Result<(Open, u64)> {
    let (file, readable) = match open_with(cfg, true) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => (open_with(cfg, false)?, false),
        r => (r?, true),
    };
    let md = file.metadata()?;
    let size = md.size() + claim(&file, readable, md.size());
    Ok((Open { file, dev: md.dev(), ino: md.ino(), readable }, size))
}

fn open_with(cfg: &FileConfig, read: bool) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    // `O_NONBLOCK` so that the open itself never waits: opening a FIFO for writing waits
    // in open(2) until a reader comes (see `writable_kind`).
    opts.read(read).append(true).create(true).mode(cfg.mode).custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK);
    let opened = match opts.open(&cfg.path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = parent(&cfg.path) {
                fs::create_dir_all(dir)?;
            }
            opts.open(&cfg.path)
        }
        r => r,
    };
    match opened {
        // A FIFO without a reader, opened write-only and non-blocking.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => Err(not_a_file("a FIFO (named pipe) with no reader")),
        r => writable_kind(r?),
    }
}

/// Keeps a regular file (or a character device such as `/dev/null`) and clears the
/// `O_NONBLOCK` it was opened with. A FIFO or a socket is refused: a pipe nobody reads
/// would stop the writer (and, in block mode, the application) for good, and size,
/// rotation and fsync mean nothing there. For a pipe, `LOG_CONSOLE=stdout` is the way.
fn writable_kind(file: File) -> io::Result<File> {
    let kind = file.metadata()?.file_type();
    if kind.is_fifo() {
        return Err(not_a_file("a FIFO (named pipe)"));
    }
    if kind.is_socket() {
        return Err(not_a_file("a socket"));
    }
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is borrowed from `file`, open for both calls; fcntl reads no memory
    // of ours.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// The error for a log path that names something other than a file.
#[cold]
fn not_a_file(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file; logkit writes only files and devices (for a pipe, use LOG_CONSOLE=stdout)"),
    )
}

/// The directory holding `path`, if it names one (`run.log` has none: the cwd).
pub(super) fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|p| !p.as_os_str().is_empty())
}

/// Whether a `stat`/`remove` error means the path (or a directory on it) is gone.
pub(super) fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// `Ok` for a "path is gone" error, the error otherwise.
pub(super) fn ignore_gone(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}
