//! Following the path.
//!
//! At most every [`CHECK_INTERVAL`] (and always before rotating) `stat(path)` is compared
//! with the open file (device + inode). A path that is gone or names another file
//! (logrotate's rename-and-create, a deleted file, a removed directory) is reopened,
//! recreating missing directories. The same `stat` refreshes the size, which also picks up
//! `copytruncate` (harmless with `O_APPEND`) and other processes' appends.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

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
                self.size = size;
                Ok(())
            }
            PathState::Changed => self.reopen(),
            PathState::Unknown => Ok(()),
        }
    }

    /// Opens `path` afresh (recreating directories), after syncing the old file if dirty.
    #[cold]
    pub(super) fn reopen(&mut self) -> io::Result<()> {
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
}

/// Opens `cfg.path` for append, creating it (with `cfg.mode`) and missing directories.
/// Returns the file and its size.
pub(super) fn open_path(cfg: &FileConfig) -> io::Result<(Open, u64)> {
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

/// The error for "no file is open" (after a failed reopen).
#[cold]
pub(super) fn no_file() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "log file is not open")
}
