//! The page cache.
//!
//! Every [`WRITEBACK_CHUNK`] written, the kernel is asked to start writing the dirty
//! pages out, and the pages of what was written more than [`KEEP_CACHED`] ago are handed
//! back (`POSIX_FADV_DONTNEED`, which drops those already written back; after an
//! `fdatasync` that is all of them). Nothing waits for the disk. A log is written once
//! and read rarely: this keeps it from crowding the application's pages out of memory,
//! and the next appends reuse the freed pages while they are warm.

#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;

use super::FileSink;

/// Bytes appended between two writeback kicks. After this much, the sink asks the kernel
/// to start writing the file's dirty pages (`sync_file_range(SYNC_FILE_RANGE_WRITE)`,
/// which does not wait), so the disk works while the writer renders and the next
/// `fdatasync` (interval, flush or exit) finds little left to do (PERF.md, "The file
/// path").
pub(crate) const WRITEBACK_CHUNK: u64 = 1 << 20;

/// Bytes at the end of the file kept in the page cache; the pages of what lies further
/// back are handed back (`posix_fadvise(POSIX_FADV_DONTNEED)`). A log is written once
/// and read rarely, so keeping it cached only crowds out the application's own pages,
/// and the pages freed here are the ones the next writes get back while they are still
/// warm: on a VM that returns freed memory to its host, a fresh page costs a host fault
/// (PERF.md, "The file path"). The last 8 MiB stay cached for `tail -f` and friends.
///
/// Nothing here waits for the disk: `DONTNEED` drops only pages already written back
/// (a dirty page stays), so a slow disk still lets the page cache absorb a burst. Each
/// writeback kick advises the [`RELEASE_SPAN`] behind the kept tail (pages get several
/// chances as their writeback completes), and each successful `fdatasync`, after which
/// every page is clean, sweeps everything older.
pub(crate) const KEEP_CACHED: u64 = 8 << 20;

/// How far behind the kept tail each writeback kick advises `DONTNEED` again.
pub(crate) const RELEASE_SPAN: u64 = 32 << 20;

impl FileSink {
    /// Asks the kernel to start writing the file's dirty pages, without waiting for
    /// them. Errors are ignored: the next `fdatasync` reports a failing disk.
    #[inline]
    pub(super) fn start_writeback(&mut self) {
        self.unkicked = 0;
        #[cfg(test)]
        {
            self.hooks.kicks += 1;
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
    pub(super) fn release_cached(&mut self) {
        let end = self.cached_end();
        let from = end.saturating_sub(RELEASE_SPAN).max(self.swept);
        if end > from {
            self.advise_dontneed(from, end);
        }
    }

    /// Where the cached tail ([`KEEP_CACHED`]) begins.
    #[inline]
    pub(super) fn cached_end(&mut self) -> u64 {
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
    pub(super) fn advise_dontneed(&mut self, from: u64, end: u64) {
        #[cfg(test)]
        {
            self.hooks.releases += 1;
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
}
