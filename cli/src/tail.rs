//! `logkit tail`: records as logkit's `dev` console shows them, filtered by level and
//! by any field (bound context included); `-f` follows the live file across rotation.
//!
//! Several processes appending to one file each write a batch at a time, so the file
//! holds their records in append order, which can step back in time where one batch
//! follows another. `tail` puts them back in time order through a window of
//! [`REORDER_WINDOW`] records: a record is printed once that many later ones have been
//! read (or at the end), earliest first. A record later than that by more than the
//! window is printed where it is met. `-f` prints the live file as it arrives.

use crate::input::{self, At, BadLines, Source};
use crate::pretty;
use crate::record::{as_text, Level, Record};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// What `tail` keeps.
pub struct Filter {
    /// Records at this level or more severe.
    pub level: Option<Level>,
    /// `key=value` pairs every kept record has (a value compares as its text:
    /// a string's contents, anything else as its JSON).
    pub wheres: Vec<(String, String)>,
}

impl Filter {
    /// Parses `--level` and the `--where` values.
    pub fn new(level: Option<String>, wheres: Vec<String>) -> Result<Filter, String> {
        let level = match level {
            Some(l) => Some(Level::parse(&l).ok_or_else(|| {
                format!("unknown level {l:?} for --level (one of error, warning, info, debug, trace)")
            })?),
            None => None,
        };
        let wheres = wheres
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
                _ => Err(format!("--where needs key=value, not {w:?}")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter { level, wheres })
    }

    pub fn keeps(&self, rec: &Record<'_>) -> bool {
        if let (Some(floor), Some(level)) = (self.level, rec.level()) {
            if level > floor {
                return false;
            }
        }
        self.wheres.iter().all(|(k, v)| rec.fields.iter().any(|(key, value)| key == k && as_text(value) == v.as_str()))
    }
}

/// Renders one line (if it is a record the filter keeps) into `out` and returns its
/// time key; counts bad lines.
pub fn one(
    line: &[u8],
    at: At,
    filter: &Filter,
    json: bool,
    color: bool,
    bad: &mut BadLines,
    out: &mut Vec<u8>,
) -> Option<TimeKey> {
    match Record::parse(line) {
        Ok(rec) if filter.keeps(&rec) => {
            if json {
                out.extend_from_slice(line);
                out.push(b'\n');
            } else {
                out.extend_from_slice(pretty::line(&rec, color).as_bytes());
            }
            Some(time_key(&rec.timestamp()))
        }
        Ok(_) => None,
        Err(b) => {
            bad.add(at.source, b);
            None
        }
    }
}

/// Records held back to restore time order across several processes' batches: at
/// 100 000 records a second from each of two processes, a batch written 10 ms after
/// its first record is 2 000 records late; the window holds eight times that, a few
/// MB of rendered lines.
pub const REORDER_WINDOW: usize = 16_384;

/// The bytes of a timestamp that order records: a logkit timestamp's 27, fixed-width,
/// so its text sorts as its time (a longer one is cut, a shorter one padded with 0s).
pub type TimeKey = [u8; 27];

fn time_key(timestamp: &str) -> TimeKey {
    let mut key = [0u8; 27];
    let n = timestamp.len().min(key.len());
    key[..n].copy_from_slice(&timestamp.as_bytes()[..n]);
    key
}

/// A rendered record waiting in the window.
struct Held {
    time: TimeKey,
    out: Vec<u8>,
}

/// Prints every record of `sources` through `emit`, in time order within
/// [`REORDER_WINDOW`] records (stream order among records of the same time).
///
/// The window is a queue kept sorted by time: a record in order (the common case) goes
/// to the back, one that steps back in time is inserted where it belongs, and the
/// front is printed once the queue is full. The emptied buffers are reused, so a run
/// in order costs no allocation per record beyond the rendering.
pub fn run(
    sources: &[Source],
    filter: &Filter,
    json: bool,
    color: bool,
    mut emit: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<BadLines, String> {
    let mut bad = BadLines::default();
    let mut window: VecDeque<Held> = VecDeque::with_capacity(REORDER_WINDOW + 1);
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut err = None;
    input::each_line(sources, |at, line| {
        if err.is_some() {
            return;
        }
        let mut out = spare.pop().unwrap_or_default();
        out.clear();
        let Some(time) = one(line, at, filter, json, color, &mut bad, &mut out) else {
            spare.push(out);
            return;
        };
        // After every held record of the same time or earlier: stream order on ties.
        let held = Held { time, out };
        if window.back().is_none_or(|last| last.time <= time) {
            window.push_back(held);
        } else {
            let i = window.partition_point(|h| h.time <= time);
            window.insert(i, held);
        }
        if window.len() > REORDER_WINDOW {
            if let Some(h) = window.pop_front() {
                buf.extend_from_slice(&h.out);
                spare.push(h.out);
            }
        }
        if buf.len() >= 1 << 15 {
            err = emit(&buf).err();
            buf.clear();
        }
    })?;
    if let Some(e) = err {
        return Err(e);
    }
    while let Some(h) = window.pop_front() {
        buf.extend_from_slice(&h.out);
        if buf.len() >= 1 << 15 {
            emit(&buf)?;
            buf.clear();
        }
    }
    emit(&buf)?;
    Ok(bad)
}

/// How often `-f` looks for new lines.
const POLL: Duration = Duration::from_millis(100);

/// Prints `path` from its start and follows it: new lines are printed as they arrive;
/// when the file is rotated (renamed, a new one created at the path) or truncated, the
/// rest of the old file is read and the new one is followed from its start. Runs until
/// the output is closed.
///
/// Bad lines are counted, never fatal: each time the follower has caught up with the
/// file and the count has grown since it last said so, `report` is given the running
/// count (so a burst of garbage is one report, and a clean file none).
pub fn follow(
    path: &Path,
    source: usize,
    filter: &Filter,
    json: bool,
    color: bool,
    mut emit: impl FnMut(&[u8]) -> Result<(), String>,
    mut report: impl FnMut(&BadLines),
) -> Result<(), String> {
    let open = |p: &Path| File::open(p).map_err(|e| format!("cannot open {}: {e}", p.display()));
    let mut file = open(path)?;
    let mut pos = 0;
    let mut ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
    let mut pending: Vec<u8> = Vec::new();
    let mut bad = BadLines::default();
    let mut reported = 0;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut chunk).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n > 0 {
            pos += n as u64;
            pending.extend_from_slice(&chunk[..n]);
            if let Some(nl) = memchr::memrchr(b'\n', &pending) {
                let mut out = Vec::new();
                let at = At { source, offset: pos };
                input::for_lines(&pending[..nl + 1], |l| {
                    one(l, at, filter, json, color, &mut bad, &mut out);
                });
                pending.drain(..nl + 1);
                emit(&out)?;
            }
            continue;
        }
        // At the end: has the path moved on to a new file, or was this one truncated?
        match std::fs::metadata(path) {
            Ok(m) if m.ino() != ino => {
                // Rotated: the old file is complete (read to its end above).
                file = open(path)?;
                ino = m.ino();
                pos = 0;
                flush_torn(&mut pending, source, filter, json, color, &mut bad, &mut emit)?;
                continue;
            }
            Ok(m) if m.len() < pos => {
                file.seek(SeekFrom::Start(0)).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                pos = 0;
                pending.clear();
                continue;
            }
            _ => {}
        }
        // Caught up: say if more bad lines were skipped, then see whether the reader
        // went away (an empty write) and wait for more.
        if bad.total() > reported {
            reported = bad.total();
            report(&bad);
        }
        emit(b"")?;
        std::thread::sleep(POLL);
    }
}

/// A last line without its `\n` in a rotated-away file: a torn write, shown as is.
fn flush_torn(
    pending: &mut Vec<u8>,
    source: usize,
    filter: &Filter,
    json: bool,
    color: bool,
    bad: &mut BadLines,
    emit: &mut impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut out = Vec::new();
    one(pending, At { source, offset: 0 }, filter, json, color, bad, &mut out);
    pending.clear();
    emit(&out)
}
