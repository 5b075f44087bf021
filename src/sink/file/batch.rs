//! How a batch is written.
//!
//! The writer thread hands over batches of complete lines. A batch goes out in
//! `write(2)`s of at most [`MAX_WRITE`] bytes on an `O_APPEND` descriptor (EINTR and short
//! writes are retried), split there and where rotation must happen, always at a line
//! boundary. On local Linux filesystems an `O_APPEND` write of one buffer is atomic with
//! respect to other appenders (the inode lock is held for the whole write), so several
//! processes sharing one file never interleave inside a record.

use std::io::{self, Write};
use std::time::Instant;

use super::page_cache::WRITEBACK_CHUNK;
use super::FileSink;

/// Most bytes handed to one `write(2)`: a larger batch is cut at the last line end
/// before this, so a record is never split between two writes. With the page cache
/// handed back (`page_cache`), writes of this size copy into the page cache several
/// times faster than the multi-MiB batches the writer renders at full speed (PERF.md,
/// "The file path"); one more syscall per MiB costs nothing measurable.
pub(crate) const MAX_WRITE: usize = 1 << 20;

impl FileSink {
    /// Writes `data` (a run of lines, or the rest of a partly written line followed by
    /// lines), rotating where needed. On failure returns how many bytes of `data` are in
    /// a file, and the error.
    pub(super) fn emit(&mut self, data: &[u8], now: Instant) -> Result<(), (usize, io::Error)> {
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
    pub(super) fn chunk_len(&self, rest: &[u8], now: Instant) -> Option<usize> {
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
    pub(super) fn put(&mut self, buf: &[u8]) -> Result<(), (usize, io::Error)> {
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
    pub(super) fn sys_write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(out) = &self.out else { return Err(no_file()) };
        #[cfg(test)]
        self.hooks.write_lens.push(buf.len());
        #[cfg(test)]
        if let Some(budget) = &mut self.hooks.fault {
            if *budget == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = (&out.file).write(&buf[..buf.len().min(*budget)])?;
            *budget -= n;
            return Ok(n);
        }
        (&out.file).write(buf)
    }
}

/// How much of `lines` (whole lines) goes into one `write(2)`: all of it up to
/// [`MAX_WRITE`], else the lines that end within the first `MAX_WRITE` bytes, else the
/// first line alone (it is longer than `MAX_WRITE`, and is never split).
#[inline]
pub(super) fn capped(lines: &[u8]) -> usize {
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
pub(super) fn line_end(data: &[u8]) -> usize {
    data.iter().position(|&b| b == b'\n').map_or(data.len(), |p| p + 1)
}

/// Number of lines (`\n`s) in `data`.
#[cold]
pub(super) fn count_lines(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The error for "no file is open" (after a failed reopen).
#[cold]
pub(super) fn no_file() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "log file is not open")
}
