//! Where records come from and how they are read: the default rotated set, files and
//! globs, stdin, gzip backups; read in chunks cut at line ends and scanned on every
//! core, in constant memory.
//!
//! A reader thread fills fixed-size chunks (each ends at the last `\n` it holds; the
//! rest is carried into the next) and hands them over a bounded channel to one worker
//! per core. Each worker folds lines into its own accumulator; the accumulators are
//! merged at the end. Commands that need time order sort what they selected (a
//! record's timestamp is fixed-width RFC 3339, so its text sorts as its time).

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The default log file, as the engine's `LOG_FILE` default.
pub const DEFAULT_FILE: &str = "run.log";
/// Rotated backups the engine keeps (`run.log.1` newest … `run.log.5`).
const BACKUPS: u32 = 5;
/// Bytes read per chunk: large enough to amortise the hand-over, small enough that a
/// chunk stays in the second-level cache while a worker scans it.
const CHUNK: usize = 1 << 20;
/// Chunks in flight per worker.
const IN_FLIGHT: usize = 2;
/// A read that takes longer shows progress on a terminal.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// One input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".to_owned(),
        }
    }

    /// Whether the source is gzip-compressed (its name ends in `.gz`).
    pub fn is_gzip(&self) -> bool {
        matches!(self, Source::File(p) if p.extension().is_some_and(|e| e == "gz"))
    }

    /// Opens the source; `.gz` files are decompressed.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, String> {
        match self {
            Source::Stdin => Ok(Box::new(io::stdin())),
            Source::File(p) => {
                let f = File::open(p).map_err(|e| format!("cannot open {}: {e}", p.display()))?;
                if self.is_gzip() {
                    Ok(Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(CHUNK, f))))
                } else {
                    Ok(Box::new(f))
                }
            }
        }
    }
}

/// The inputs named on the command line (`-` is stdin, globs are expanded), or the
/// default rotated set in the working directory. Files of one rotated set are read
/// oldest first: `run.log.5` … `run.log.1`, `run.log`.
pub fn resolve(args: &[String]) -> Result<Vec<Source>, String> {
    if args.is_empty() {
        return default_set(Path::new("."));
    }
    let mut files = Vec::new();
    let mut out = Vec::new();
    for a in args {
        if a == "-" {
            out.extend(order(std::mem::take(&mut files)));
            out.push(Source::Stdin);
        } else if a.contains(['*', '?', '[']) {
            let paths = glob::glob(a).map_err(|e| format!("bad glob {a:?}: {e}"))?;
            let before = files.len();
            for p in paths {
                files.push(p.map_err(|e| format!("cannot read {}: {}", e.path().display(), e.error()))?);
            }
            if files.len() == before {
                return Err(format!("no file matches {a:?}"));
            }
        } else {
            let p = PathBuf::from(a);
            if !p.exists() {
                return Err(format!("cannot open {a}: no such file"));
            }
            files.push(p);
        }
    }
    out.extend(order(files));
    Ok(out)
}

/// `run.log` and its backups (plain or `.gz`) in `dir`, oldest first.
pub fn default_set(dir: &Path) -> Result<Vec<Source>, String> {
    let mut files = Vec::new();
    for n in (1..=BACKUPS).rev() {
        for name in [format!("{DEFAULT_FILE}.{n}"), format!("{DEFAULT_FILE}.{n}.gz")] {
            let p = dir.join(name);
            if p.is_file() {
                files.push(p);
            }
        }
    }
    let p = dir.join(DEFAULT_FILE);
    if p.is_file() {
        files.push(p);
    }
    if files.is_empty() {
        return Err(format!(
            "no {DEFAULT_FILE} here ({}): name the files to read, or - for stdin",
            dir.canonicalize().unwrap_or_else(|_| dir.to_owned()).display()
        ));
    }
    Ok(order(files).into_iter().map(|s| if let Source::File(p) = s { Source::File(strip_dot(p)) } else { s }).collect())
}

fn strip_dot(p: PathBuf) -> PathBuf {
    p.strip_prefix(".").map(Path::to_owned).unwrap_or(p)
}

/// Orders files so that each rotated set reads oldest first: by the name without its
/// rotation number (`app.log.3.gz` → `app.log`), then by that number, highest first
/// (the live file counts as 0), then by modification time, oldest first: a plain and a
/// compressed backup of one number (`run.log.1` and `run.log.1.gz`, left by two tools
/// rotating the same file) are two segments, and gzip keeps the original's time.
/// Duplicates are dropped.
fn order(mut files: Vec<PathBuf>) -> Vec<Source> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    files.sort_by(|a, b| {
        let (ba, na) = rotation(a);
        let (bb, nb) = rotation(b);
        ba.cmp(&bb).then(nb.cmp(&na)).then_with(|| modified(a).cmp(&modified(b)))
    });
    files.dedup();
    files.into_iter().map(Source::File).collect()
}

/// `(path without the rotation suffix, rotation number)`.
fn rotation(p: &Path) -> (String, u32) {
    let s = p.to_string_lossy();
    let s = s.strip_suffix(".gz").unwrap_or(&s);
    if let Some((base, n)) = s.rsplit_once('.') {
        if let Ok(n) = n.parse::<u32>() {
            return (base.to_owned(), n);
        }
    }
    (s.to_owned(), 0)
}

/// Bad lines seen, per source, by kind.
#[derive(Debug, Default, Clone)]
pub struct BadLines {
    /// `(source index, not JSON, JSON but not a logkit record)`.
    per_source: Vec<(u64, u64)>,
}

impl BadLines {
    pub fn add(&mut self, source: usize, bad: crate::record::Bad) {
        if self.per_source.len() <= source {
            self.per_source.resize(source + 1, (0, 0));
        }
        match bad {
            crate::record::Bad::NotJson => self.per_source[source].0 += 1,
            crate::record::Bad::NotLogkit => self.per_source[source].1 += 1,
        }
    }

    pub fn merge(&mut self, other: BadLines) {
        if self.per_source.len() < other.per_source.len() {
            self.per_source.resize(other.per_source.len(), (0, 0));
        }
        for (i, (a, b)) in other.per_source.into_iter().enumerate() {
            self.per_source[i].0 += a;
            self.per_source[i].1 += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.per_source.iter().map(|(a, b)| a + b).sum()
    }

    /// `(not JSON, not logkit)` totals.
    pub fn kinds(&self) -> (u64, u64) {
        self.per_source.iter().fold((0, 0), |(x, y), (a, b)| (x + a, y + b))
    }

    /// One line for stderr, or `None` when every line was a record.
    pub fn report(&self, sources: &[Source]) -> Option<String> {
        self.report_as(sources, "")
    }

    /// [`report`](Self::report) of a count that is still running (`tail -f`).
    pub fn report_so_far(&self, sources: &[Source]) -> Option<String> {
        self.report_as(sources, " so far")
    }

    fn report_as(&self, sources: &[Source], so_far: &str) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let parts: Vec<String> = self
            .per_source
            .iter()
            .enumerate()
            .filter(|(_, (a, b))| a + b > 0)
            .map(|(i, (a, b))| {
                let name = sources.get(i).map_or_else(|| "?".to_owned(), Source::name);
                format!("{name}: {a} not JSON, {b} not logkit records")
            })
            .collect();
        Some(format!("logkit: skipped {} bad lines{so_far} ({})", self.total(), parts.join("; ")))
    }
}

/// Where a line is: its source (index into the sources) and its byte offset there.
/// Sorting by it gives stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct At {
    pub source: usize,
    pub offset: u64,
}

/// A command's per-worker state: folds lines, then merges with the other workers'.
pub trait Fold: Default + Send {
    /// One line (without its `\n`).
    fn line(&mut self, at: At, line: &[u8]);
    /// A `logkit.start` record: where one run (one process's start) begins. Not a line
    /// of the run; most commands ignore it.
    fn start(&mut self, _at: At, _line: &[u8]) {}
    fn merge(&mut self, other: Self);
}

/// A chunk of whole lines.
struct Chunk {
    source: usize,
    /// Offset of `data[0]` in the source.
    start: u64,
    data: Vec<u8>,
}

/// Reads every source and folds every line into `F`, on `workers` threads; returns
/// the merged fold. An I/O error stops the read and is returned.
pub fn scan<F: Fold>(sources: &[Source], workers: usize) -> Result<F, String> {
    let workers = workers.max(1);
    std::thread::scope(|s| {
        let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
        let mut txs = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<Chunk>(IN_FLIGHT);
            txs.push(tx);
            let free_tx = free_tx.clone();
            handles.push(s.spawn(move || {
                let mut fold = F::default();
                for chunk in rx {
                    let base = chunk.data.as_ptr() as usize;
                    let at = |l: &[u8]| At {
                        source: chunk.source,
                        offset: chunk.start + (l.as_ptr() as usize - base) as u64,
                    };
                    for_lines_and_starts(
                        &chunk.data,
                        &mut fold,
                        |fold, l| fold.line(at(l), l),
                        |fold, l| fold.start(at(l), l),
                    );
                    let _ = free_tx.send(chunk.data);
                }
                fold
            }));
        }
        drop(free_tx);
        let mut next = 0;
        let read = read_chunks(sources, &free_rx, |chunk| {
            // Round robin: a worker that falls behind blocks the reader, never grows.
            let _ = txs[next].send(chunk);
            next = (next + 1) % workers;
        });
        drop(txs);
        let mut out = F::default();
        for h in handles {
            match h.join() {
                Ok(f) => out.merge(f),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        read.map(|()| out)
    })
}

/// Calls `f` on every line of every source, in stream order, on this thread.
pub fn each_line(sources: &[Source], mut f: impl FnMut(At, &[u8])) -> Result<(), String> {
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    read_chunks(sources, &free_rx, |chunk| {
        let base = chunk.data.as_ptr() as usize;
        for_lines(&chunk.data, |l| {
            f(At { source: chunk.source, offset: chunk.start + (l.as_ptr() as usize - base) as u64 }, l)
        });
        let _ = free_tx.send(chunk.data);
    })
}

/// Calls `f` on every line of `data` (which ends with `\n`, except perhaps the last
/// line of a source), without the `\n` (and a `\r` before it).
#[inline]
pub fn for_lines(data: &[u8], mut f: impl FnMut(&[u8])) {
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        emit(&data[start..nl], &mut f);
        start = nl + 1;
    }
    if start < data.len() {
        emit(&data[start..], &mut f);
    }
}

#[inline]
fn emit(line: &[u8], f: &mut impl FnMut(&[u8])) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.is_empty() && !is_start_record(line) {
        f(line);
    }
}

/// [`for_lines`], with the `logkit.start` records given to `start` instead of being
/// left out; both get `state` (the fold) first.
#[inline]
fn for_lines_and_starts<S>(
    data: &[u8],
    state: &mut S,
    mut line: impl FnMut(&mut S, &[u8]),
    mut start: impl FnMut(&mut S, &[u8]),
) {
    let mut begin = 0;
    let mut one = |l: &[u8], state: &mut S| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.is_empty() {
        } else if is_start_record(l) {
            start(state, l);
        } else {
            line(state, l);
        }
    };
    for nl in memchr::memchr_iter(b'\n', data) {
        one(&data[begin..nl], state);
        begin = nl + 1;
    }
    if begin < data.len() {
        one(&data[begin..], state);
    }
}

/// Whether `line` is the `logkit.start` record the engine writes first in the file
/// each time it starts (pid, exe, configuration): not one of the run's records, so no
/// command counts or shows it as one; `stats` counts the runs by it ([`Fold::start`]).
/// O(1): logkit writes it with a fixed-width timestamp first.
#[inline]
fn is_start_record(line: &[u8]) -> bool {
    const AT: usize = r#"{"timestamp":"2026-11-24T07:02:51.123456Z"#.len();
    line.get(AT..).is_some_and(|rest| rest.starts_with(br#"","level":"info","event":"logkit.start","#))
}

/// Reads the sources in order into chunks of whole lines (a source's last line may
/// lack its `\n`: a torn write), reusing the buffers that come back on `free`.
fn read_chunks(sources: &[Source], free: &mpsc::Receiver<Vec<u8>>, mut send: impl FnMut(Chunk)) -> Result<(), String> {
    let mut progress = Progress::new();
    for (i, src) in sources.iter().enumerate() {
        let mut r = src.open()?;
        let mut carry: Vec<u8> = Vec::new();
        let mut start = 0u64;
        loop {
            let mut buf = free.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK + carry.len()));
            buf.clear();
            buf.extend_from_slice(&carry);
            carry.clear();
            let want = CHUNK.max(buf.len() + CHUNK / 2);
            let filled = match fill(&mut r, &mut buf, want) {
                Ok(n) => n,
                // A damaged or cut-short backup (a crash while it was compressed) is bad
                // input, not an I/O error: what came before the damage is read, its
                // last line is a torn one, and the next source follows.
                Err(e) if src.is_gzip() && is_bad_data(&e) => {
                    progress.clear();
                    let _ = writeln!(
                        io::stderr(),
                        "logkit: {}: the gzip data is damaged or ends early ({e}); read what came before it",
                        src.name()
                    );
                    0
                }
                Err(e) => return Err(format!("cannot read {}: {e}", src.name())),
            };
            progress.add(filled);
            if filled == 0 {
                if !buf.is_empty() {
                    send(Chunk { source: i, start, data: buf });
                }
                break;
            }
            match memchr::memrchr(b'\n', &buf) {
                Some(nl) => {
                    carry.extend_from_slice(&buf[nl + 1..]);
                    buf.truncate(nl + 1);
                    let len = buf.len() as u64;
                    send(Chunk { source: i, start, data: buf });
                    start += len;
                }
                // A line longer than a chunk: keep reading into it.
                None => carry = buf,
            }
        }
    }
    progress.done();
    Ok(())
}

/// What a decoder says about data it cannot decode (as opposed to a failing device).
fn is_bad_data(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof)
}

/// Reads until `buf` holds `want` bytes or the reader ends; returns the bytes read
/// (on an error, `buf` keeps what was read before it).
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let start = buf.len();
    let mut len = start;
    buf.resize(want.max(start), 0);
    while len < buf.len() {
        match r.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
    buf.truncate(len);
    Ok(len - start)
}

/// Bytes read so far, shown on stderr (when it is a terminal) once a read has taken
/// longer than [`PROGRESS_AFTER`].
struct Progress {
    start: Instant,
    bytes: u64,
    shown: bool,
    tty: bool,
    last: Instant,
}

impl Progress {
    fn new() -> Progress {
        let now = Instant::now();
        Progress { start: now, bytes: 0, shown: false, tty: io::stderr().is_terminal(), last: now }
    }

    fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        if !self.tty {
            return;
        }
        let now = Instant::now();
        if now - self.start >= PROGRESS_AFTER && now - self.last >= Duration::from_millis(200) {
            self.last = now;
            self.shown = true;
            let secs = (now - self.start).as_secs_f64();
            let mb = self.bytes as f64 / 1e6;
            let _ = write!(io::stderr(), "\rlogkit: read {mb:.0} MB ({:.0} MB/s)   ", mb / secs);
        }
    }

    fn done(&self) {
        if self.shown {
            let _ = write!(io::stderr(), "\r\x1b[K");
        }
    }

    /// Clears the progress line, if shown, before another line goes to stderr.
    fn clear(&mut self) {
        self.done();
        self.shown = false;
    }
}

/// The number of workers: the machine's cores.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(sources: &[Source]) -> Vec<String> {
        sources.iter().map(Source::name).collect()
    }

    #[test]
    fn a_rotated_set_reads_oldest_first_whatever_order_it_is_given_in() {
        let files = ["run.log", "run.log.1", "run.log.10", "run.log.2.gz", "other.log"].map(PathBuf::from).to_vec();
        assert_eq!(paths(&order(files)), ["other.log", "run.log.10", "run.log.2.gz", "run.log.1", "run.log"]);
    }

    #[test]
    fn the_default_set_is_the_backups_oldest_first_then_the_live_file() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["run.log", "run.log.1", "run.log.3.gz", "unrelated.log"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let set = default_set(dir.path()).unwrap();
        let names: Vec<_> = set.iter().map(|s| s.name().rsplit('/').next().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(names, ["run.log.3.gz", "run.log.1", "run.log"]);
    }

    #[test]
    fn a_plain_and_a_gzip_backup_of_one_number_read_oldest_first_by_modification_time() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, gz) = (dir.path().join("run.log.1"), dir.path().join("run.log.1.gz"));
        let names = |set: Vec<Source>| -> Vec<String> {
            set.iter().map(|s| s.name().rsplit('/').next().unwrap().to_owned()).collect()
        };
        let t0 = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for (older, newer) in [(&gz, &plain), (&plain, &gz)] {
            for (p, t) in [(older, t0), (newer, t0 + Duration::from_secs(60))] {
                std::fs::write(p, b"").unwrap();
                File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
            }
            std::fs::write(dir.path().join("run.log"), b"").unwrap();
            let want = [older, newer].map(|p| p.file_name().unwrap().to_string_lossy().into_owned());
            assert_eq!(names(default_set(dir.path()).unwrap())[..2], want);
            assert_eq!(names(order(vec![plain.clone(), gz.clone()])), want);
            assert_eq!(names(order(vec![gz.clone(), plain.clone()])), want);
        }
    }

    #[test]
    fn no_run_log_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = default_set(dir.path()).unwrap_err();
        assert!(e.starts_with("no run.log here"), "{e}");
    }

    #[test]
    fn lines_are_split_without_newline_or_carriage_return_and_empty_lines_skipped() {
        let mut got = Vec::new();
        for_lines(b"a\r\n\nbc\nlast", |l| got.push(String::from_utf8_lossy(l).into_owned()));
        assert_eq!(got, ["a", "bc", "last"]);
    }

    #[derive(Default)]
    struct Count(Vec<(usize, Vec<u8>)>, Vec<At>);
    impl Fold for Count {
        fn line(&mut self, at: At, line: &[u8]) {
            self.0.push((at.source, line.to_vec()));
            self.1.push(at);
        }
        fn merge(&mut self, other: Self) {
            self.0.extend(other.0);
            self.1.extend(other.1);
        }
    }

    #[test]
    fn every_line_of_every_source_is_folded_once_also_lines_longer_than_a_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(CHUNK * 2 + 7);
        let a = dir.path().join("a.log");
        std::fs::write(&a, format!("1\n{long}\n2\n")).unwrap();
        let b = dir.path().join("b.log");
        std::fs::write(&b, "3\ntorn").unwrap();
        let sources = vec![Source::File(a), Source::File(b)];
        let Count(mut got, mut at) = scan::<Count>(&sources, 3).unwrap();
        got.sort();
        at.sort();
        let offsets: Vec<_> = at.iter().map(|a| (a.source, a.offset)).collect();
        assert_eq!(offsets, [(0, 0), (0, 2), (0, CHUNK as u64 * 2 + 10), (1, 0), (1, 2)]);
        let want: Vec<(usize, Vec<u8>)> = vec![
            (0, b"1".to_vec()),
            (0, b"2".to_vec()),
            (0, long.into_bytes()),
            (1, b"3".to_vec()),
            (1, b"torn".to_vec()),
        ];
        let mut want = want;
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = resolve(&["/nonexistent/run.log".to_owned()]).unwrap_err();
        assert_eq!(e, "cannot open /nonexistent/run.log: no such file");
        let e = resolve(&["/nonexistent/*.log".to_owned()]).unwrap_err();
        assert_eq!(e, "no file matches \"/nonexistent/*.log\"");
    }
}
