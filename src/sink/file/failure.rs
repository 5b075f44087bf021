//! Failures: hold, retry, report.
//!
//! A failed write keeps the unwritten remainder, starting at the exact byte where the
//! kernel stopped, in a hold buffer of at most [`HOLD_LIMIT`] bytes; later batches are
//! appended to it while they fit and are otherwise counted as lost (whole batches).
//! `write` and `retry` try again at most every [`RETRY_INTERVAL`]: reopen if needed, the
//! held bytes first, then the new batch. A partly written line is completed in the file
//! that holds its beginning. Failures are reported on stderr, the first at once and then
//! at most every [`REPORT_INTERVAL`]; recovery is reported with the number of records lost.

use std::fmt;
use std::io;
#[cfg(not(test))]
use std::io::Write;
use std::time::{Duration, Instant};

use super::batch::{count_lines, line_end};
use super::FileSink;

/// Most bytes held in memory while the file cannot be written. 8 MiB is a few seconds of
/// a busy service's output and small enough to never matter to its memory budget.
pub(crate) const HOLD_LIMIT: usize = 8 << 20;

/// Least time between two attempts to write after a failure (and to rotate after a
/// failed rotation), so a full disk does not turn the writer into a syscall loop.
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Least time between two stderr reports of the same ongoing problem.
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// "At once, then at most every [`REPORT_INTERVAL`]" for one kind of report.
#[derive(Default)]
pub(super) struct RateLimit(Option<Instant>);

impl RateLimit {
    /// Whether a report may be printed now; if so, remembers that it was.
    #[cold]
    pub(super) fn allow(&mut self, now: Instant) -> bool {
        match self.0 {
            Some(t) if now.saturating_duration_since(t) < REPORT_INTERVAL => false,
            _ => {
                self.0 = Some(now);
                true
            }
        }
    }
}

impl FileSink {
    /// Tries to write what is held: reopen if needed, then the held bytes.
    #[cold]
    pub(super) fn recover(&mut self, now: Instant) {
        self.next_retry = now + RETRY_INTERVAL;
        if let Err(e) = self.follow_path(now) {
            self.fail(&e, now);
            return;
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
    pub(super) fn finish_line_in_old_file(&mut self) {
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
    pub(super) fn hold_rest(&mut self, rest: &[u8], records: u64) {
        let records = if rest.is_empty() { 0 } else { count_lines(rest).min(records) };
        self.hold_batch(rest, records);
    }

    /// Holds `data` if it fits, otherwise counts its records as lost. The rest of a
    /// partly written line is always kept, so the file it started in gets a whole line.
    #[cold]
    pub(super) fn hold_batch(&mut self, data: &[u8], records: u64) {
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

    /// Puts `data` (whole lines, older than anything held) at the front of the hold
    /// buffer, as much of it as fits [`HOLD_LIMIT`] (its oldest lines); the records that
    /// do not fit are counted as lost.
    #[cold]
    pub(super) fn hold_front(&mut self, mut data: Vec<u8>) {
        let room = HOLD_LIMIT.saturating_sub(self.hold.len());
        if data.len() > room {
            let keep = data[..room].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            self.count_lost(count_lines(&data[keep..]));
            data.truncate(keep);
        }
        self.held_records += count_lines(&data);
        data.extend_from_slice(&self.hold);
        self.hold = data;
    }

    /// Counts records neither written nor held.
    #[cold]
    pub(super) fn count_lost(&mut self, n: u64) {
        self.lost += n;
        self.outage_lost += n;
    }

    /// A write or reopen failed: mark unhealthy, schedule a retry, report (rate-limited).
    #[cold]
    pub(super) fn fail(&mut self, e: &io::Error, now: Instant) {
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
    pub(super) fn recovered(&mut self, now: Instant) {
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
    pub(super) fn rotate_failed(&mut self, e: &io::Error, now: Instant) {
        self.rotate_blocked_until = Some(now + RETRY_INTERVAL);
        if self.rotate_reports.allow(now) {
            let path = self.path().display().to_string();
            self.report(format_args!("logkit: cannot rotate {path}: {e}; writing past the size limit"));
        }
    }

    /// `fdatasync` failed: report (rate-limited).
    #[cold]
    pub(super) fn sync_failed(&mut self, e: &io::Error) {
        if self.sync_reports.allow(Instant::now()) {
            let path = self.path().display().to_string();
            self.report(format_args!("logkit: cannot sync {path}: {e}"));
        }
    }

    /// One line on stderr; a failing stderr is ignored (there is nowhere else to tell).
    #[cold]
    pub(super) fn report(&mut self, msg: fmt::Arguments<'_>) {
        #[cfg(test)]
        {
            self.hooks.reports.push(msg.to_string());
            eprintln!("{msg}");
        }
        #[cfg(not(test))]
        {
            let _ = writeln!(io::stderr().lock(), "{msg}");
        }
    }
}
