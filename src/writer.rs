//! The writer thread: collect batches, render them, write the sinks, report.
//!
//! One loop of named steps (after Quill's backend):
//! 1. **collect**: drain the ring; every tick (or when a flush is asked for) steal
//!    partly filled buffers from the producers' slots (the slot protocol's writer
//!    half, [`Collector`]);
//! 2. **process**: render each record as a JSON line for the file (and the `prod`
//!    console) or a pretty line for the `dev` console, then write each sink once (the
//!    file's write, and the `LOG_FSYNC` policy's sync, go to the file thread:
//!    [`FileThread`]);
//! 3. **report**: drops and lost records become `logkit.dropped` / `logkit.lost`
//!    records in the log itself;
//! 4. **sync**: on a flush, wait for the file thread, fsync, answer the request;
//! 5. **wait**: when there was nothing to do, park for a bounded time. Producers do
//!    not wake the writer per record, so an idle writer costs a few wake-ups a second
//!    and a busy one never makes a producer enter the kernel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::callsite::Callsite;
use crate::clock;
use crate::config::{Console, Fsync, Profile};
use crate::frontend::collect::Collector;
use crate::frontend::{Frontend, WriterEnds};
use crate::level::Level;
use crate::record::{view, Encoder};
use crate::render::time::TimestampCache;
use crate::render::{json, pretty, Redactor};
use crate::sink::console::{ConsoleSink, Stream};
use crate::sink::file::FileSink;
use crate::sink::file_thread::FileThread;

/// Park time right after activity.
const ACTIVE_WAIT: Duration = Duration::from_millis(1);
/// Park time once idle for a while: bounds the idle CPU cost and how long a lone
/// record waits to be written.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// Activity within this window keeps the short park time.
const ACTIVE_WINDOW: Duration = Duration::from_millis(200);
/// Rendered bytes worth handing to an idle file thread in the middle of a pass.
const FEED_BYTES: usize = 64 << 10;
/// Set once the process is exiting (by the exit hook, before its last flush): that
/// flush also finishes the file sink, reporting what a failing disk kept from being
/// written.
static EXITING: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_exiting() {
    EXITING.store(true, Ordering::Release);
}

fn exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

/// Flush requests and their completion.
pub(crate) struct FlushState {
    requested: AtomicU64,
    done: Mutex<u64>,
    cv: Condvar,
    /// Threads whose buffers the pending flush still waits for: each is inside a log
    /// call (its slot is locked) and holds records logged before the flush.
    waiting_for: AtomicU64,
}

impl FlushState {
    pub(crate) fn new() -> FlushState {
        FlushState {
            requested: AtomicU64::new(0),
            done: Mutex::new(0),
            cv: Condvar::new(),
            waiting_for: AtomicU64::new(0),
        }
    }

    /// Threads the pending flush still waits for (see `waiting_for`).
    pub(crate) fn waiting_for(&self) -> u64 {
        self.waiting_for.load(Ordering::Relaxed)
    }

    /// Asks for a flush and waits until the writer has written and synced everything
    /// logged before the call, or `timeout` passed. Returns whether it completed.
    pub(crate) fn request_and_wait(&self, frontend: &Frontend, timeout: Duration) -> bool {
        let ticket = self.requested.fetch_add(1, Ordering::AcqRel) + 1;
        frontend.wake_writer();
        let deadline = Instant::now() + timeout;
        let mut done = match self.done.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        while *done < ticket {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            done = match self.cv.wait_timeout(done, deadline - now) {
                Ok((d, _)) => d,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    fn complete(&self, ticket: u64) {
        let mut done = match self.done.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        if ticket > *done {
            *done = ticket;
        }
        self.cv.notify_all();
    }
}

/// The writer's own reports use these call sites.
static DROPPED_CS: Callsite = Callsite::new(Level::Warn, "logkit", file!(), line!(), &["dropped"]);
static LOST_CS: Callsite = Callsite::new(Level::Warn, "logkit", file!(), line!(), &["lost"]);
static START_CS: Callsite = Callsite::new(
    Level::Info,
    "logkit",
    file!(),
    line!(),
    &["pid", "exe", "host", "logkit_version", "config", "clock"],
);
#[cfg(feature = "otlp")]
static OTLP_LOST_CS: Callsite = Callsite::new(Level::Warn, "logkit", file!(), line!(), &["lost", "sink"]);

/// Everything the writer thread owns.
pub(crate) struct Writer {
    frontend: &'static Frontend,
    flush: &'static FlushState,
    /// The writer's half of the slot protocol: the ring, steals, the flush's slots.
    collector: Collector,
    /// The file sink, whose system calls run on the `logkit-file` thread.
    file: Option<FileThread>,
    console: Option<ConsoleSink>,
    /// The OTLP exporter's queue: each collected batch is copied there.
    #[cfg(feature = "otlp")]
    otlp: Option<crate::sink::otlp::exporter::Handle>,
    pretty: bool,
    fsync: Fsync,
    redact: Redactor,
    clock: crate::clock::Calibration,
    ts: TimestampCache,
    sites: json::Sites,
    /// Rendered JSON lines for the file (and the `prod` console).
    file_out: Vec<u8>,
    /// Rendered console lines (`dev`).
    console_out: Vec<u8>,
    file_records: u64,
    /// The newest flush request seen.
    flush_target: u64,
    scratch: Vec<u8>,
    last_activity: Instant,
    unsynced_since: Option<Instant>,
    /// Buffers in the pool may still be untouched (see `Frontend::prefault_one`).
    prefaulting: bool,
    /// For the `logkit.start` record, written first.
    start_config: Option<String>,
    /// Tests only: the next `process` panics, as a bug in a renderer or sink would.
    #[cfg(test)]
    panic_in_next_process: bool,
}

pub(crate) struct WriterConfig {
    pub(crate) file: Option<FileSink>,
    pub(crate) console: Console,
    pub(crate) color: Option<bool>,
    pub(crate) profile: Profile,
    pub(crate) fsync: Fsync,
    pub(crate) redact: Redactor,
    pub(crate) clock: crate::clock::Calibration,
    /// The effective configuration as JSON (`Config::effective_json`), for the
    /// `logkit.start` record; `None` writes none.
    pub(crate) start_config: Option<String>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<crate::sink::otlp::exporter::Handle>,
}

impl Writer {
    pub(crate) fn new(
        frontend: &'static Frontend,
        flush: &'static FlushState,
        ends: WriterEnds,
        cfg: WriterConfig,
    ) -> Writer {
        let console = match cfg.console {
            Console::Off => None,
            Console::Stderr => Some(Stream::Stderr),
            Console::Stdout => Some(Stream::Stdout),
        }
        .map(|s| ConsoleSink::new(s, cfg.color.unwrap_or_else(|| ConsoleSink::color_default(s))));
        let now = Instant::now();
        Writer {
            frontend,
            flush,
            collector: Collector::new(frontend, ends),
            file: cfg.file.map(FileThread::start),
            console,
            #[cfg(feature = "otlp")]
            otlp: cfg.otlp,
            pretty: cfg.profile == Profile::Dev,
            fsync: cfg.fsync,
            redact: cfg.redact,
            clock: cfg.clock,
            ts: TimestampCache::default(),
            sites: json::Sites::default(),
            file_out: Vec::with_capacity(1 << 20),
            console_out: Vec::with_capacity(1 << 16),
            file_records: 0,
            flush_target: 0,
            scratch: Vec::with_capacity(256),
            last_activity: now,
            unsynced_since: None,
            prefaulting: true,
            start_config: cfg.start_config,
            #[cfg(test)]
            panic_in_next_process: false,
        }
    }

    /// The thread's body. Runs for the life of the process.
    pub(crate) fn run(mut self) {
        self.log_start();
        loop {
            if !self.pass() {
                self.wait();
            }
        }
    }

    /// One pass, with a panic caught: a panic in a sink or renderer must not kill the
    /// writer (producers in block mode would wait forever), so it is reported and the
    /// loop goes on. Returns whether to run the next pass at once.
    fn pass(&mut self) -> bool {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.step())) {
            Ok(busy) => busy,
            Err(_) => {
                // What was being processed is dropped, and counted: it is reported as
                // `logkit.lost` with the next pass.
                let pending: u64 = self.collector.batches.iter().map(|b| view::records(b).count() as u64).sum::<u64>()
                    + self.file_records;
                eprintln!("logkit: internal error in the writer thread; {pending} records dropped; continuing");
                self.frontend.orphaned.fetch_add(pending, Ordering::Relaxed);
                self.collector.batches.clear();
                self.file_out.clear();
                self.file_records = 0;
                self.console_out.clear();
                true
            }
        }
    }

    /// One pass of the loop. Returns whether there was anything to do.
    fn step(&mut self) -> bool {
        self.clock.maybe_refresh();
        let flush_ticket = self.flush.requested.load(Ordering::Acquire);
        let new_flush = flush_ticket > self.flush_target;
        if new_flush {
            self.flush_target = flush_ticket;
        }
        let now = Instant::now();
        // Step 1: collect.
        self.collector.collect(now, new_flush);
        let waiting = self.collector.flush_waiting_for();
        self.flush.waiting_for.store(waiting as u64, Ordering::Relaxed);
        // A flush completes once every slot it had to collect was collected.
        let flushing = waiting == 0 && self.flush_target > self.flush_done();
        let busy = !self.collector.batches.is_empty();
        if busy {
            self.process();
            self.last_activity = now;
        }
        self.report();
        self.write_out(flushing);
        self.sync(flushing);
        if flushing {
            self.flush.complete(self.flush_target);
        }
        if self.prefaulting {
            // One buffer per pass (~17 pages): the pool is warm within ~70 passes.
            self.prefaulting = self.frontend.prefault_one();
        }
        busy
    }

    fn flush_done(&self) -> u64 {
        match self.flush.done.lock() {
            Ok(d) => *d,
            Err(p) => *p.into_inner(),
        }
    }

    /// Step 2: render every collected record.
    fn process(&mut self) {
        #[cfg(test)]
        if std::mem::take(&mut self.panic_in_next_process) {
            panic!("a renderer bug (injected by a test)");
        }
        let mut batches = std::mem::take(&mut self.collector.batches);
        for buf in batches.drain(..) {
            #[cfg(feature = "otlp")]
            if let Some(o) = &mut self.otlp {
                let clock = &self.clock;
                o.push(&buf, |raw| clock.unix_ns(raw));
            }
            for rec in view::records(&buf) {
                self.render(rec);
            }
            self.collector.recycle(buf);
            self.feed_file_thread();
        }
        self.collector.batches = batches;
    }

    /// Mid-pass, after each batch: if the file thread is idle, it gets what is rendered
    /// so far, so it writes while the writer renders the rest (handing over only at the
    /// end of a pass made the two take turns; PERF.md, "The file path"). Never
    /// waits; the end of the pass (`write_out`) submits the rest and applies the sync
    /// policy.
    fn feed_file_thread(&mut self) {
        if self.file_out.len() < FEED_BYTES {
            return;
        }
        let Some(f) = self.file.as_mut() else { return };
        if f.busy() {
            return;
        }
        self.unsynced_since.get_or_insert_with(Instant::now);
        f.submit(&mut self.file_out, self.file_records, false);
        self.file_records = 0;
    }

    fn render(&mut self, mut rec: view::RecordView<'_>) {
        rec.timestamp_ns = self.clock.unix_ns(rec.timestamp_ns);
        let rec = &rec;
        let want_json = self.file.is_some() || (self.console.is_some() && !self.pretty);
        if want_json {
            let start = self.file_out.len();
            json::write_record_cached(&mut self.file_out, rec, &mut self.sites, &self.redact, &mut self.ts);
            if self.file.is_some() {
                self.file_records += 1;
            }
            if let (Some(_), false) = (&self.console, self.pretty) {
                self.console_out.extend_from_slice(&self.file_out[start..]);
            }
            if self.file.is_none() {
                self.file_out.truncate(start);
            }
        }
        if self.console.is_some() && self.pretty {
            pretty::write_record(
                &mut self.console_out,
                rec,
                &self.redact,
                self.console.as_ref().is_some_and(ConsoleSink::color),
                &mut self.ts,
            );
        }
    }

    /// The `logkit.start` record, before anything else this process writes: its pid,
    /// executable, host, logkit's version, the effective configuration (each knob's
    /// value and where it came from) and the clock calibration, so that runs appending
    /// to one file can be told apart. File only: the console is the run itself.
    fn log_start(&mut self) {
        let Some(config) = self.start_config.take() else { return };
        if self.file.is_none() {
            return;
        }
        let exe = std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut enc = Encoder::begin(
            &mut scratch,
            Level::Info,
            crate::record::HAS_MESSAGE,
            Some(&START_CS),
            // When logkit started, not when its writer got here: a reader ordering
            // records by time finds the start first, as it is first in the file.
            self.clock.started_raw(),
        );
        enc.raw_str("logkit.start");
        enc.context(&[]);
        enc.values().u64(u64::from(std::process::id()));
        enc.values().str(&exe);
        enc.values().str(&crate::host::host_name());
        enc.values().str(env!("CARGO_PKG_VERSION"));
        enc.values().json(&config);
        enc.values().json(&self.clock.describe());
        enc.finish();
        if let Some((mut rec, _)) = view::next_record(&scratch) {
            rec.timestamp_ns = self.clock.unix_ns(rec.timestamp_ns);
            json::write_record_cached(&mut self.file_out, &rec, &mut self.sites, &self.redact, &mut self.ts);
            self.file_records += 1;
        }
        self.scratch = scratch;
    }

    /// Step 3: turn drop and loss counters into records.
    fn report(&mut self) {
        // A load first: a swap is a store even when it finds 0.
        let take = |n: &AtomicU64| if n.load(Ordering::Relaxed) > 0 { n.swap(0, Ordering::Relaxed) } else { 0 };
        let dropped = take(&self.frontend.dropped);
        if dropped > 0 {
            self.internal_record(&DROPPED_CS, dropped, "logkit.dropped");
        }
        let mut lost = take(&self.frontend.orphaned);
        if let Some(f) = &mut self.file {
            lost += f.take_lost();
        }
        if lost > 0 {
            self.internal_record(&LOST_CS, lost, "logkit.lost");
        }
        #[cfg(feature = "otlp")]
        if let Some(n) = self.otlp.as_ref().map(|o| o.take_lost()).filter(|&n| n > 0) {
            self.internal_record_sink(&OTLP_LOST_CS, n, "logkit.lost", "otlp");
        }
    }

    /// A report about one sink: `{"event":event,"lost":n,"sink":sink}`.
    #[cfg(feature = "otlp")]
    fn internal_record_sink(&mut self, cs: &'static Callsite, n: u64, event: &str, sink: &str) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut enc = Encoder::begin(&mut scratch, Level::Warn, crate::record::HAS_MESSAGE, Some(cs), clock::now());
        enc.raw_str(event);
        enc.context(&[]);
        enc.values().u64(n);
        enc.values().str(sink);
        enc.finish();
        if let Some((rec, _)) = view::next_record(&scratch) {
            self.render(rec);
        }
        self.scratch = scratch;
    }

    fn internal_record(&mut self, cs: &'static Callsite, n: u64, event: &str) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut enc = Encoder::begin(&mut scratch, Level::Warn, crate::record::HAS_MESSAGE, Some(cs), clock::now());
        enc.raw_str(event);
        enc.context(&[]);
        enc.values().u64(n);
        enc.finish();
        if let Some((rec, _)) = view::next_record(&scratch) {
            self.render(rec);
        }
        self.scratch = scratch;
    }

    /// Writes what was rendered: each sink once per pass. The file's write (and an
    /// interval or `always` sync after it) is handed to the file thread, which works on
    /// it while this thread renders the next pass.
    fn write_out(&mut self, flushing: bool) {
        if let Some(f) = &mut self.file {
            let wrote = !self.file_out.is_empty();
            if wrote && self.unsynced_since.is_none() {
                self.unsynced_since = Some(Instant::now());
            }
            // A flush syncs below, after waiting for this write.
            let sync = !flushing
                && match (self.fsync, self.unsynced_since) {
                    (_, None) | (Fsync::Never, _) => false,
                    (Fsync::Always, Some(_)) => true,
                    (Fsync::Interval(d), Some(t)) => t.elapsed() >= d,
                };
            if wrote || sync {
                f.submit(&mut self.file_out, self.file_records, sync);
                if sync {
                    self.unsynced_since = None;
                }
            }
        }
        self.file_out.clear();
        self.file_records = 0;
        if !self.console_out.is_empty() {
            if let Some(c) = &mut self.console {
                c.write(&self.console_out);
            }
            self.console_out.clear();
            if self.console_out.capacity() > 8 << 20 {
                self.console_out.shrink_to(1 << 16);
            }
        }
    }

    /// Step 4: on flush, wait for the file thread and fsync (the `LOG_FSYNC` policy's
    /// own syncs go with the writes, in `write_out`).
    fn sync(&mut self, flushing: bool) {
        if !flushing {
            return;
        }
        if let Some(c) = &mut self.console {
            // A console that stalled says how much it skipped (bounded wait).
            c.catch_up(100);
        }
        let Some(f) = self.file.as_mut().and_then(FileThread::sink) else { return };
        if exiting() {
            f.finish();
        } else {
            // What this flush wrote must be in the file the path names.
            f.follow();
            let _ = f.sync();
        }
        self.unsynced_since = None;
    }

    /// Step 5: nothing to do; park for a bounded time (a flush or a full ring
    /// unparks earlier).
    fn wait(&mut self) {
        if let Some(f) = self.file.as_mut().and_then(FileThread::sink) {
            f.retry();
        }
        let idle_for = self.last_activity.elapsed();
        let mut wait = if idle_for < ACTIVE_WINDOW { ACTIVE_WAIT } else { IDLE_WAIT };
        if let (Fsync::Interval(d), Some(t)) = (self.fsync, self.unsynced_since) {
            wait = wait.min(d.saturating_sub(t.elapsed()));
        }
        std::thread::park_timeout(wait);
    }
}

#[cfg(test)]
mod tests {
    //! The writer's loop driven pass by pass on the test's thread, with a frontend, a
    //! flush state and a log file of its own: no writer thread, nothing global.
    use super::*;
    use crate::config::Overflow;
    use crate::sink::file::FileConfig;

    static CS: Callsite = Callsite::new(Level::Info, "app", file!(), line!(), &[]);

    struct Rig {
        fe: &'static Frontend,
        flush: &'static FlushState,
        writer: Writer,
        path: std::path::PathBuf,
        _dir: tempfile::TempDir,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.log");
        let (fe, ends) = Frontend::new(64, Overflow::Block);
        let fe: &'static Frontend = Box::leak(Box::new(fe));
        let flush: &'static FlushState = Box::leak(Box::new(FlushState::new()));
        let file = FileSink::open(FileConfig { path: path.clone(), rotate_bytes: 0, backups: 0, mode: 0o600 })
            .expect("open the log file");
        let cfg = WriterConfig {
            file: Some(file),
            console: Console::Off,
            color: None,
            profile: Profile::Prod,
            fsync: Fsync::Never,
            redact: Redactor::default(),
            clock: clock::Calibration::start(),
            start_config: None,
            #[cfg(feature = "otlp")]
            otlp: None,
        };
        let writer = Writer::new(fe, flush, ends, cfg);
        Rig { fe, flush, writer, path, _dir: dir }
    }

    impl Rig {
        fn log(&self, event: &str) {
            self.fe.write(&mut |buf| {
                let mut enc = Encoder::begin(buf, Level::Info, crate::record::HAS_MESSAGE, Some(&CS), clock::now());
                enc.raw_str(event);
                enc.context(&[]);
                enc.finish();
            });
        }

        /// What `flush()` asks for, answered by one pass of the writer.
        fn flush_pass(&mut self) -> bool {
            self.flush.requested.fetch_add(1, Ordering::AcqRel);
            self.writer.pass()
        }

        fn events(&self) -> Vec<serde_json::Value> {
            let text = std::fs::read_to_string(&self.path).expect("read the log");
            text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
        }

        fn event_names(&self) -> Vec<String> {
            self.events().iter().map(|e| e["event"].as_str().unwrap_or("").to_owned()).collect()
        }
    }

    #[test]
    fn a_pass_writes_what_was_logged_and_answers_the_flush() {
        let mut r = rig();
        r.log("one");
        r.log("two");
        assert!(r.flush_pass(), "there was work");
        assert_eq!(r.event_names(), ["one", "two"]);
        assert_eq!(r.writer.flush_done(), 1, "the flush was answered");
    }

    /// RELIABILITY.md: a panic inside the writer thread.
    #[test]
    fn a_panic_in_the_writer_drops_and_counts_what_it_was_processing_and_the_writer_goes_on() {
        let mut r = rig();
        for e in ["lost-1", "lost-2", "lost-3"] {
            r.log(e);
        }
        r.writer.panic_in_next_process = true;
        assert!(r.flush_pass(), "a caught panic goes straight on to the next pass");
        assert_eq!(r.fe.orphaned.load(Ordering::Relaxed), 3, "what it was processing is counted");
        r.log("after");
        r.flush_pass();
        let names = r.event_names();
        assert!(names.iter().any(|n| n == "after"), "the writer goes on: {names:?}");
        assert!(!names.iter().any(|n| n.starts_with("lost-")), "{names:?}");
        let events = r.events();
        let lost = events.iter().find(|e| e["event"] == "logkit.lost").expect("a logkit.lost record");
        assert_eq!((&lost["lost"], &lost["level"]), (&serde_json::json!(3), &serde_json::json!("warning")));
    }

    /// RELIABILITY.md: `flush()` on a disk that stopped answering returns.
    #[test]
    fn a_flush_nobody_answers_returns_false_at_its_timeout_and_an_answered_one_true() {
        let (fe, _ends) = Frontend::new(64, Overflow::Block);
        let fe: &'static Frontend = Box::leak(Box::new(fe));
        let flush: &'static FlushState = Box::leak(Box::new(FlushState::new()));
        // No writer: the request is never answered, and the caller gets control back.
        assert!(!flush.request_and_wait(fe, Duration::from_millis(20)));
        let answer = std::thread::spawn(move || {
            while flush.requested.load(Ordering::Acquire) < 2 {
                std::thread::yield_now();
            }
            flush.complete(2);
        });
        assert!(flush.request_and_wait(fe, Duration::from_secs(60)));
        answer.join().unwrap();
    }
}
