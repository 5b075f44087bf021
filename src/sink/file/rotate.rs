//! Rotation.
//!
//! Before a chunk is written, if the file is non-empty and the chunk would take it past
//! `rotate_bytes`, the file is rotated first; a batch is split at line boundaries across
//! files and a line longer than the limit gets a file of its own, so no record is ever
//! split across files. Rotation is safe against other processes rotating the same file
//! (the protocol of multi-process loggers such as `concurrent-log-handler`):
//!
//! 1. `fdatasync` the current file, then lock it with an exclusive open-file-description
//!    lock (`F_OFD_SETLK`, bounded wait; not `flock`, which every process holds shared
//!    while it has the file open: see `tail`);
//! 2. `stat` the path: if it is no longer our inode, someone else rotated: just reopen;
//! 3. otherwise shift the chain by name (`path.{n}` removed, `path.{i}` → `path.{i+1}`,
//!    `path` → `path.1`), open a fresh `path`, `fsync` the directory;
//! 4. drop the old descriptor, which releases the lock.
//!
//! The chain lives in the names on disk, so it continues across restarts.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::batch::no_file;
use super::follow::{ignore_gone, open_path, parent, PathState};
use super::{datasync, FileSink};

/// Longest wait for another process's rotation lock before rotation is deferred.
/// A rotation holds the lock for two syncs and a few renames; a holder that takes longer
/// is stuck or is not a logkit process, and the writer must not block forever on it.
const LOCK_TIMEOUT: Duration = Duration::from_secs(1);

impl FileSink {
    /// Rotates the file, or finds that another process did. `Err` means no file is open
    /// any more (the write fails and is held); a rotation that could not be done but left
    /// the file usable is reported, deferred, and returns `Ok`.
    #[cold]
    pub(super) fn rotate(&mut self, now: Instant) -> io::Result<()> {
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
                self.seen_at(size);
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
}

/// Shifts the rotation chain by name: `path.{backups}` removed, `path.{i}` → `path.{i+1}`,
/// `path` → `path.1`; with no backups `path` is removed.
pub(super) fn shift_chain(path: &Path, backups: u32) -> io::Result<()> {
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
pub(super) fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// `fsync`s the directory holding `path`, making a rotation's renames durable.
pub(super) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path).unwrap_or(Path::new(".")))?.sync_all()
}

/// An exclusive rotation lock on `fd`'s open file description, waiting at most
/// [`LOCK_TIMEOUT`] (polling, so a stuck holder cannot block the writer forever). It is
/// released when the descriptor is closed.
pub(super) fn lock(fd: RawFd) -> io::Result<()> {
    let start = Instant::now();
    loop {
        match try_lock(fd) {
            Ok(()) => return Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) => {}
                Some(libc::EAGAIN | libc::EACCES) if start.elapsed() < LOCK_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                _ => return Err(e),
            },
        }
    }
}

/// One attempt at the rotation lock: a write lock on the whole file, owned by the open
/// file description (Linux), so it neither conflicts with the `flock`s of `tail` nor is
/// dropped when another descriptor of this process on the same file is closed.
fn try_lock(fd: RawFd) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const SETLK: libc::c_int = libc::F_OFD_SETLK;
    // Elsewhere a process-owned lock: it still excludes other processes' rotations.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const SETLK: libc::c_int = libc::F_SETLK;
    // SAFETY: `flock` is a plain C struct for which all-zero bytes are a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    // `l_start` and `l_len` 0: the whole file, however long it grows; `l_pid` 0, as
    // OFD locks require.
    // SAFETY: `fd` is borrowed from a `File` the caller keeps open for the call, and
    // `fl` is a valid `flock` that lives across it.
    if unsafe { libc::fcntl(fd, SETLK, &fl) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
