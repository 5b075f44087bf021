//! A torn tail, told apart from another process's append in progress.
//!
//! A disk still full at exit, or a power cut, can leave the log file ending inside a
//! record. The next run must start on a fresh line, or its first record and that
//! fragment become one corrupt line. But a file that ends inside a line may also be one
//! that another live process is appending to at this very moment (a `write(2)` the
//! kernel has copied only partly, or the rest of a line its full disk cut short, still
//! held and retried): a newline written then splits that process's record in two.
//!
//! The rule, shared by every logkit process writing the file: each holds a shared
//! `flock` on the file for as long as it has it open ("someone is appending"). On
//! opening (at start, on reopen after the file was moved or deleted, and on rotation)
//! a process first tries `LOCK_EX | LOCK_NB`:
//! - it succeeds: no other process has the file open, so nothing is being appended and a
//!   missing final newline is a real torn tail. The `\n` is written at once, still under
//!   the exclusive lock, and the lock is downgraded to `LOCK_SH`;
//! - it fails: another process holds the file; its tail is not ours to judge and is left
//!   alone. `LOCK_SH` is taken (another opener holds `LOCK_EX` for a few system calls at
//!   most; the wait is bounded by [`LOCK_TIMEOUT`]).
//!
//! Rotation locks the file against other rotations with an open-file-description
//! (`F_OFD_SETLK`) write lock instead (see `rotate`): on Linux `flock` and `fcntl` locks
//! do not conflict, so the shared presence locks never hold a rotation up.
//!
//! Limits (RELIABILITY.md): a writer that does not take the shared lock (another
//! program, an old logkit) can still be mid-line when a logkit process opens the file
//! alone; on NFS, `flock` is emulated with `fcntl` locks, which then conflict with the
//! rotation lock; a file this process may write but not read (mode `0200`) is not
//! checked.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// Longest wait for a shared lock that another opener's exclusive probe holds. The probe
/// holds it for a `pread` and at most a one-byte `write`; a holder that takes longer is
/// not a logkit process, and the file is then used without the shared lock.
pub(super) const LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// Claims `file` (just opened, `size` bytes) for appending: takes the shared presence
/// lock, and if no other process has the file open and it ends inside a line (and
/// `readable`), ends that line first. Returns the bytes written (0 or 1).
pub(super) fn claim(file: &File, readable: bool, size: u64) -> u64 {
    let fd = file.as_raw_fd();
    let alone = try_flock(fd, libc::LOCK_EX);
    let wrote = alone && readable && ends_inside_a_line(file, size) && write_newline(file).is_ok();
    // After the probe (a downgrade from `LOCK_EX` never conflicts with other holders).
    shared(fd);
    u64::from(wrote)
}

/// Whether the `size` bytes of `file` end with something other than `\n` (a read error
/// counts as no: nothing is written on a guess).
fn ends_inside_a_line(file: &File, size: u64) -> bool {
    let mut last = [b'\n'];
    size > 0 && file.read_at(&mut last, size - 1).is_ok_and(|n| n == 1) && last[0] != b'\n'
}

/// One `\n` at the end of the (`O_APPEND`) file.
fn write_newline(mut file: &File) -> io::Result<()> {
    file.write_all(b"\n")
}

/// Takes `LOCK_SH`, waiting at most [`LOCK_TIMEOUT`] for an exclusive holder; on
/// timeout the file is used without it.
fn shared(fd: i32) {
    let start = Instant::now();
    while !try_flock(fd, libc::LOCK_SH) {
        if start.elapsed() >= LOCK_TIMEOUT {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `flock(fd, op | LOCK_NB)`, retrying `EINTR`. Whether the lock was taken.
fn try_flock(fd: i32, op: libc::c_int) -> bool {
    loop {
        // SAFETY: `fd` is borrowed from a `File` the caller keeps open for the call;
        // flock reads no memory of ours.
        if unsafe { libc::flock(fd, op | libc::LOCK_NB) } == 0 {
            return true;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}
