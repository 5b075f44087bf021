//! The exporter thread and the writer's handle on it.
//!
//! The writer hands over a copy of each compact batch (one `memcpy`, timestamps turned
//! into Unix nanoseconds) with a `try_send`: it never waits for the exporter, and a
//! batch that would take the queue past [`MAX_QUEUED_BYTES`] is counted as lost
//! instead. Two threads export, so that the next request is encoded while one is in
//! flight: the `logkit-otlp` thread encodes records into batches of at most
//! [`MAX_BATCH_RECORDS`] records or [`MAX_BATCH_BYTES`], or whatever came within
//! [`BATCH_DELAY`], in protobuf or OTLP/JSON (`LOG_OTLP_PROTOCOL`), and hands each full
//! batch to the `logkit-otlp-tx` thread, which gzips it and POSTs it with retries. One
//! batch waits between the two ([`BATCHES_WAITING`]); when the sender is behind, the
//! encoder waits for it and the writer's queue fills up to its cap:
//!
//! - retried: transport errors (refused, reset, timed out) and 429 / 502 / 503 / 504,
//!   at most [`MAX_ATTEMPTS`] times, with exponential backoff from
//!   [`INITIAL_BACKOFF`] up to [`MAX_BACKOFF`] and full jitter, or after the server's
//!   `Retry-After` (at most [`MAX_RETRY_AFTER`]);
//! - 413 Payload Too Large: the request is sent again as two requests of half its
//!   records each, and so on down to single records (each half with its own
//!   retries); a single record that is still too large is lost. The collector is not
//!   taken for down, so `flush()` still waits for it. Later batches are cut at the
//!   usual size and split again if need be: a collector whose limit is below
//!   [`MAX_BATCH_BYTES`] costs extra requests, not records;
//! - not retried: any other answer (400 malformed, 401, 404, ...);
//! - what is not sent in the end is counted and reported by the writer as a
//!   `logkit.lost` record with `sink="otlp"` in the local log; the first failure is
//!   also reported once on stderr.
//!
//! `flush()` waits up to [`FLUSH_DEADLINE`] for the exporter while it is healthy (a
//! collector known to be down does not slow a flush); exit waits up to
//! [`EXIT_DEADLINE`] whatever the collector does, then counts what is left as lost.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::encode::{kind, Batch, Kind, Signal};
use super::OtlpConfig;
use crate::record::{view, HEADER_LEN};
use crate::render::Redactor;

/// Memory cap for what waits to be sent: compact bytes queued for the exporter thread.
/// Beyond it the writer counts a batch as lost instead of queueing it.
pub(crate) const MAX_QUEUED_BYTES: usize = 32 << 20;
/// Records per request at most.
pub(crate) const MAX_BATCH_RECORDS: usize = 512;
/// Encoded bytes per request at most (before gzip), give or take one record.
pub(crate) const MAX_BATCH_BYTES: usize = 1 << 20;
/// How long a record waits for more to share its request.
pub(crate) const BATCH_DELAY: Duration = Duration::from_millis(200);
/// Tries per request.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// The first retry's backoff; doubled per retry.
pub(crate) const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest backoff between two tries.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest `Retry-After` honoured.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How long `flush()` waits for a healthy exporter.
pub(crate) const FLUSH_DEADLINE: Duration = Duration::from_secs(2);
/// How long exit waits for the exporter, whatever the collector does.
pub(crate) const EXIT_DEADLINE: Duration = Duration::from_secs(2);
/// Batches in flight between the writer and the exporter thread.
const CHANNEL_CAPACITY: usize = 1024;
/// Encoded batches waiting for the sender thread, besides the one it sends and the one
/// the encoder fills: what waits to be sent beyond [`MAX_QUEUED_BYTES`] is at most
/// `BATCHES_WAITING + 2` batches of [`MAX_BATCH_BYTES`].
pub(crate) const BATCHES_WAITING: usize = 1;

enum Msg {
    /// A copy of a compact batch and its record count.
    Batch(Vec<u8>, u64),
    /// Send everything received so far, then answer `ticket`.
    Drain(u64),
}

/// What the encoder hands the sender, in order.
enum Job {
    /// An encoded batch to send.
    Send(Batch),
    /// Every batch before this one is sent or counted lost: answer `ticket`.
    Drain(u64),
}

/// State shared by the writer, the exporter thread and `flush()`.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    queued_bytes: AtomicUsize,
    /// Records handed to the exporter and neither sent nor counted lost yet.
    pending: AtomicU64,
    /// Records not exported, not yet reported.
    lost: AtomicU64,
    /// The last request failed for good (cleared by the next success).
    failing: AtomicBool,
    /// Set at exit once the exporter's time is up: nothing more is counted.
    closed: AtomicBool,
    /// The newest drain request answered, and the deadline of the one in progress.
    drain: Mutex<DrainState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct DrainState {
    answered: u64,
    asked: u64,
    deadline: Option<Instant>,
}

impl Shared {
    fn lose(&self, n: u64) {
        if n > 0 && !self.closed.load(Ordering::Acquire) {
            self.lost.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn settle(&self, n: u64) {
        let _ = self.pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(p.saturating_sub(n)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DrainState> {
        match self.drain.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Answers drain requests up to `ticket`.
    fn answer(&self, ticket: u64) {
        let mut g = self.lock();
        g.answered = g.answered.max(ticket);
        drop(g);
        self.cv.notify_all();
    }

    /// The deadline of a drain in progress, if any.
    fn drain_deadline(&self) -> Option<Instant> {
        let d = self.lock();
        if d.asked > d.answered {
            d.deadline
        } else {
            None
        }
    }

    /// Sleeps for `d`. Returns `false` early if a drain (flush or exit) asks for an
    /// answer before the sleep would end: then there is no time to retry.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut g = self.lock();
        loop {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            if g.asked > g.answered && g.deadline.is_some_and(|dl| dl <= until) {
                return false;
            }
            g = match self.cv.wait_timeout(g, until - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// The writer's end: hands batches over without waiting.
#[derive(Debug)]
pub(crate) struct Handle {
    tx: Sender<Msg>,
    spare: Receiver<Vec<u8>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Batch(b, n) => write!(f, "Batch({} bytes, {n} records)", b.len()),
            Msg::Drain(t) => write!(f, "Drain({t})"),
        }
    }
}

/// `flush()`'s and exit's end.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
}

/// Starts the exporter's two threads. `None` (reported on stderr) if they cannot be
/// spawned.
pub(crate) fn start(cfg: OtlpConfig, redact: Redactor) -> Option<(Handle, Control)> {
    let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
    let (spare_tx, spare) = crossbeam_channel::bounded(16);
    let (job_tx, job_rx) = crossbeam_channel::bounded(BATCHES_WAITING);
    let (empty_tx, empty_rx) = crossbeam_channel::bounded(BATCHES_WAITING + 1);
    let shared = Arc::new(Shared::default());
    let protocol = cfg.protocol;
    let sender = SendThread::new(cfg, job_rx, empty_tx, shared.clone());
    let encoder = Encoder {
        redact,
        rx,
        spare: spare_tx,
        jobs: job_tx,
        empty: empty_rx,
        shared: shared.clone(),
        batch: Batch::new(protocol),
        protocol,
        first_at: None,
    };
    let spawned = std::thread::Builder::new()
        .name("logkit-otlp-tx".into())
        .spawn(move || sender.run())
        // Without the encoder, the sender ends: its queue is closed.
        .and_then(|_| std::thread::Builder::new().name("logkit-otlp".into()).spawn(move || encoder.run()));
    match spawned {
        Ok(_) => Some((Handle { tx: tx.clone(), spare, shared: shared.clone() }, Control { tx, shared })),
        Err(e) => {
            eprintln!("logkit: otlp: cannot start the exporter threads: {e}; records stay in the local file only");
            None
        }
    }
}

impl Handle {
    /// Queues a copy of `batch` (compact records), with each record's raw timestamp
    /// turned into Unix nanoseconds by `unix_ns`. Never waits.
    pub(crate) fn push(&mut self, batch: &[u8], unix_ns: impl Fn(u64) -> u64) {
        if batch.is_empty() {
            return;
        }
        // Only what is exported counts: a span's START record is not (its END is the
        // span), so it is never pending, nor lost.
        let records = view::records(batch).filter(|r| kind(r.callsite) != Kind::SpanStart).count() as u64;
        let queued = self.shared.queued_bytes.load(Ordering::Relaxed);
        if queued + batch.len() > MAX_QUEUED_BYTES {
            self.shared.lose(records);
            return;
        }
        let mut copy = self.spare.try_recv().unwrap_or_default();
        copy.clear();
        copy.extend_from_slice(batch);
        rewrite_timestamps(&mut copy, unix_ns);
        let len = copy.len();
        self.shared.queued_bytes.fetch_add(len, Ordering::Relaxed);
        self.shared.pending.fetch_add(records, Ordering::AcqRel);
        match self.tx.try_send(Msg::Batch(copy, records)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                self.shared.settle(records);
                self.shared.lose(records);
            }
        }
    }

    /// Records not exported since the last call, for the writer's `logkit.lost`.
    pub(crate) fn take_lost(&self) -> u64 {
        let l = &self.shared.lost;
        if l.load(Ordering::Relaxed) > 0 {
            l.swap(0, Ordering::Relaxed)
        } else {
            0
        }
    }
}

/// Rewrites the timestamp of every record in `buf` (see `record` for the layout).
fn rewrite_timestamps(buf: &mut [u8], unix_ns: impl Fn(u64) -> u64) {
    let mut at = 0;
    while at + HEADER_LEN <= buf.len() {
        let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if len < HEADER_LEN || at + len > buf.len() {
            return;
        }
        let ts = &mut buf[at + 16..at + 24];
        let raw = u64::from_ne_bytes([ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]]);
        ts.copy_from_slice(&unix_ns(raw).to_ne_bytes());
        at += len;
    }
}

impl Control {
    /// Whether the last request failed for good (the collector looks down).
    pub(crate) fn failing(&self) -> bool {
        self.shared.failing.load(Ordering::Relaxed)
    }

    /// Asks the exporter to send everything handed over so far and waits for it, at
    /// most `deadline`. Returns whether it answered in time.
    pub(crate) fn drain(&self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        let ticket = {
            let mut g = self.shared.lock();
            g.asked += 1;
            g.deadline = Some(until);
            g.asked
        };
        self.shared.cv.notify_all();
        if self.tx.send_timeout(Msg::Drain(ticket), deadline).is_err() {
            return false;
        }
        let mut g = self.shared.lock();
        while g.answered < ticket {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            g = match self.shared.cv.wait_timeout(g, until - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// At exit, after the last drain: whatever is still pending is counted as lost,
    /// and nothing is counted after this.
    pub(crate) fn close(&self) -> u64 {
        let left = self.shared.pending.swap(0, Ordering::AcqRel);
        self.shared.lose(left);
        self.shared.closed.store(true, Ordering::Release);
        left
    }
}

/// Why a request was not accepted.
#[derive(Debug)]
enum Failure {
    /// Worth another try, after at least the given delay (`Retry-After`).
    Retry(String, Option<Duration>),
    /// Not worth another try.
    Fatal(String),
    /// 413 Payload Too Large: worth sending again in smaller parts.
    TooLarge(String),
}

/// The `logkit-otlp` thread: turns the writer's compact batches into encoded batches.
struct Encoder {
    redact: Redactor,
    rx: Receiver<Msg>,
    spare: Sender<Vec<u8>>,
    jobs: Sender<Job>,
    /// Sent batches, emptied, for the next ones.
    empty: Receiver<Batch>,
    shared: Arc<Shared>,
    batch: Batch,
    protocol: super::knobs::Protocol,
    first_at: Option<Instant>,
}

impl Encoder {
    fn run(mut self) {
        #[cfg(feature = "log")]
        crate::log_bridge::mute_this_thread();
        loop {
            let wait = match self.first_at {
                Some(t) => BATCH_DELAY.saturating_sub(t.elapsed()),
                None => Duration::from_secs(3600),
            };
            match self.rx.recv_timeout(wait) {
                Ok(Msg::Batch(buf, _)) => {
                    self.shared.queued_bytes.fetch_sub(buf.len(), Ordering::Relaxed);
                    self.take(&buf);
                    let _ = self.spare.try_send(buf);
                }
                Ok(Msg::Drain(ticket)) => {
                    self.send();
                    if self.jobs.send(Job::Drain(ticket)).is_err() {
                        // No sender (it cannot have ended first): answer, nothing waits.
                        self.shared.answer(ticket);
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.send(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.send();
                    return;
                }
            }
        }
    }

    /// Adds a batch's records, handing the batch over whenever it is full.
    fn take(&mut self, buf: &[u8]) {
        let observed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        for rec in view::records(buf) {
            if self.batch.add(&rec, &self.redact, observed) {
                self.first_at.get_or_insert_with(Instant::now);
            }
            if self.batch.records() >= MAX_BATCH_RECORDS || self.batch.bytes() >= MAX_BATCH_BYTES {
                self.send();
            }
        }
    }

    /// Hands the batch to the sender (waiting while it is behind) and starts the next.
    fn send(&mut self) {
        self.first_at = None;
        if self.batch.is_empty() {
            return;
        }
        let next = self.empty.try_recv().unwrap_or_else(|_| Batch::new(self.protocol));
        let full = std::mem::replace(&mut self.batch, next);
        if let Err(crossbeam_channel::SendError(Job::Send(lost))) = self.jobs.send(Job::Send(full)) {
            // The sender thread is gone (it panicked): nothing can send these.
            let n = (lost.count(Signal::Logs) + lost.count(Signal::Traces)) as u64;
            self.shared.settle(n);
            self.shared.lose(n);
        }
    }
}

/// The `logkit-otlp-tx` thread: sends encoded batches, with retries.
struct SendThread {
    cfg: OtlpConfig,
    jobs: Receiver<Job>,
    empty: Sender<Batch>,
    shared: Arc<Shared>,
    agent: ureq::Agent,
    resource: Vec<u8>,
    body: Vec<u8>,
    gzip: Gzip,
    /// The gzipped body.
    gz: Vec<u8>,
    reported: bool,
}

impl SendThread {
    fn new(cfg: OtlpConfig, jobs: Receiver<Job>, empty: Sender<Batch>, shared: Arc<Shared>) -> SendThread {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("logkit/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let resource = super::encode::resource(cfg.protocol, &cfg.resource);
        SendThread {
            cfg,
            jobs,
            empty,
            shared,
            agent,
            resource,
            body: Vec::new(),
            gzip: Gzip::new(),
            gz: Vec::new(),
            reported: false,
        }
    }

    fn run(mut self) {
        // The HTTP client logs through `log`; exporting those records would feed the
        // exporter its own traffic.
        #[cfg(feature = "log")]
        crate::log_bridge::mute_this_thread();
        for job in &self.jobs.clone() {
            match job {
                Job::Send(mut batch) => {
                    self.deliver(Signal::Logs, &batch);
                    self.deliver(Signal::Traces, &batch);
                    if self.body.capacity() > 4 * MAX_BATCH_BYTES {
                        self.body = Vec::new();
                    }
                    batch.clear();
                    let _ = self.empty.try_send(batch);
                }
                Job::Drain(ticket) => self.shared.answer(ticket),
            }
        }
    }

    /// Sends `signal`'s request of `batch`, with retries; counts its records as sent
    /// or lost. A request the collector finds too large (413) is sent again as two
    /// halves, down to single records; a single record too large is lost.
    fn deliver(&mut self, signal: Signal, batch: &Batch) {
        let records = batch.count(signal) as u64;
        if records == 0 {
            return;
        }
        let mut body = std::mem::take(&mut self.body);
        batch.request(signal, &self.resource, &mut body);
        let url = match signal {
            Signal::Logs => self.cfg.logs_url.clone(),
            Signal::Traces => self.cfg.traces_url.clone(),
        };
        let outcome = self.post_with_retries(&url, &body);
        self.body = body;
        let e = match outcome {
            Ok(()) => {
                self.shared.settle(records);
                self.shared.failing.store(false, Ordering::Relaxed);
                return;
            }
            Err(e) => e,
        };
        let out_of_time = self.shared.drain_deadline().is_some_and(|d| Instant::now() >= d);
        if let (Failure::TooLarge(_), false) = (&e, out_of_time) {
            if let Some((a, b)) = batch.halves(signal) {
                self.deliver(signal, &a);
                self.deliver(signal, &b);
                return;
            }
        }
        self.shared.settle(records);
        self.shared.lose(records);
        let message = match e {
            // The collector is up; it only refuses this record.
            Failure::TooLarge(m) => m,
            Failure::Fatal(m) | Failure::Retry(m, _) => {
                self.shared.failing.store(true, Ordering::Relaxed);
                m
            }
        };
        if !self.reported {
            self.reported = true;
            eprintln!(
                "logkit: otlp: cannot export to {url}: {message}; the records stay in the local log, and what is \
                 not exported is counted there as logkit.lost with sink=otlp (reported once)"
            );
        }
    }

    /// POSTs one request, retrying as the module doc says; the last failure if it was
    /// not accepted in the end.
    fn post_with_retries(&mut self, url: &str, body: &[u8]) -> Result<(), Failure> {
        let mut gz = std::mem::take(&mut self.gz);
        self.gzip.compress(body, &mut gz);
        let outcome = self.post_gz_with_retries(url, &gz);
        self.gz = gz;
        outcome
    }

    fn post_gz_with_retries(&mut self, url: &str, gz: &[u8]) -> Result<(), Failure> {
        let mut backoff = INITIAL_BACKOFF;
        let mut attempt = 1;
        loop {
            let (err, after) = match self.post(url, gz) {
                Ok(()) => return Ok(()),
                Err(Failure::Retry(e, after)) => (e, after),
                Err(other) => return Err(other),
            };
            let give_up = || Err(Failure::Retry(err.clone(), after));
            // While a flush or exit waits, a collector already known to be down gets
            // one try per request.
            let failing_drain = self.shared.failing.load(Ordering::Relaxed) && self.shared.drain_deadline().is_some();
            if attempt >= MAX_ATTEMPTS || failing_drain {
                return give_up();
            }
            // Full jitter: a random wait up to the backoff, so that many exporters do
            // not retry in step; a `Retry-After` is a floor.
            let jittered = backoff.mul_f64(fastrand::f64());
            let wait = match after {
                Some(after) => after.min(MAX_RETRY_AFTER).max(jittered),
                None => jittered,
            };
            if let Some(deadline) = self.shared.drain_deadline() {
                if Instant::now() + wait >= deadline {
                    return give_up();
                }
            }
            if !self.shared.sleep(wait) {
                return give_up();
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    fn post(&self, url: &str, gz: &[u8]) -> Result<(), Failure> {
        let mut req = self
            .agent
            .post(url)
            .header("content-type", self.cfg.protocol.content_type())
            .header("content-encoding", "gzip");
        for (k, v) in &self.cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = match req.send(gz) {
            Ok(r) => r,
            Err(e) => return Err(Failure::Retry(e.to_string(), None)),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // Read (a bounded part of) the answer so the connection can be reused.
        let _ = resp.body_mut().with_config().limit(64 << 10).read_to_vec();
        match status {
            200..=299 => Ok(()),
            429 | 502 | 503 | 504 => Err(Failure::Retry(format!("HTTP {status}"), retry_after)),
            413 => Err(Failure::TooLarge(format!("HTTP {status}"))),
            _ => Err(Failure::Fatal(format!("HTTP {status}"))),
        }
    }
}

/// A gzip writer that keeps its deflate state from one request to the next: a new
/// one allocates and zeroes about 300 KiB (miniz's hash tables and buffers), which
/// was most of the exporter thread's page faults when made per request.
struct Gzip {
    deflate: flate2::Compress,
}

impl Gzip {
    fn new() -> Gzip {
        // Raw deflate: the gzip header and trailer are written here.
        Gzip { deflate: flate2::Compress::new(flate2::Compression::fast(), false) }
    }

    /// `body` gzipped (RFC 1952) into `out`.
    fn compress(&mut self, body: &[u8], out: &mut Vec<u8>) {
        /// ID1 ID2, CM deflate, no flags, no mtime, no extra flags, OS unknown.
        const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        out.clear();
        out.extend_from_slice(&HEADER);
        self.deflate.reset();
        loop {
            out.reserve(body.len() / 4 + 1024);
            let done = self.deflate.total_in() as usize;
            match self.deflate.compress_vec(&body[done..], out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(flate2::Status::Ok | flate2::Status::BufError) => continue,
                // Not reachable with valid parameters; a fresh encoder then.
                Err(_) => {
                    *out = gzip(body);
                    return;
                }
            }
        }
        let mut crc = flate2::Crc::new();
        crc.update(body);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` info records in one compact batch.
    fn records(n: usize) -> Vec<u8> {
        use crate::render::json::test_support::{record, V};
        let mut buf = Vec::new();
        for i in 0..n {
            buf.extend(record(
                crate::level::Level::Info,
                i as u64,
                "app",
                "order filled",
                &[],
                &[("i", V::U64(i as u64))],
            ));
        }
        buf
    }

    #[test]
    fn the_next_batches_are_taken_and_encoded_while_a_request_is_in_flight() {
        use std::io::{Read as _, Write as _};
        // A collector that takes the first request and answers only when told to.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (got_tx, got_rx) = crossbeam_channel::bounded::<()>(64);
        let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut held = false;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                // One request: headers, then content-length bytes of body.
                let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + 4 + len {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
                buf.drain(..head_end + 4 + len);
                let _ = got_tx.send(());
                if !held {
                    held = true;
                    let _ = go_rx.recv();
                }
                if conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
                    return;
                }
            }
        });
        let cfg = OtlpConfig {
            logs_url: format!("{url}/v1/logs"),
            traces_url: format!("{url}/v1/traces"),
            headers: Vec::new(),
            timeout: Duration::from_secs(30),
            resource: Vec::new(),
            protocol: super::super::Protocol::Protobuf,
        };
        let (mut handle, control) = start(cfg, Redactor::new::<[&str; 0], &str>([])).expect("start");
        // Three batches of 600 records: the first request (512 records) is held by the
        // collector; the encoder goes on with the rest.
        let batch = records(600);
        for _ in 0..3 {
            handle.push(&batch, |ns| ns);
        }
        got_rx.recv_timeout(Duration::from_secs(30)).expect("the first request arrives");
        let until = Instant::now() + Duration::from_secs(30);
        while handle.shared.queued_bytes.load(Ordering::Relaxed) > 0 {
            assert!(Instant::now() < until, "the queue is not taken while a request is in flight");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(got_rx.try_recv().is_err(), "the collector still holds the first request");
        go_tx.send(()).expect("release");
        assert!(control.drain(Duration::from_secs(30)), "everything sent once released");
        assert_eq!(handle.take_lost(), 0);
        assert_eq!(handle.shared.pending.load(Ordering::Relaxed), 0);
        // 1 800 records in requests of at most 512: four requests.
        assert_eq!(got_rx.try_iter().count() + 1, 4);
    }

    #[test]
    fn one_gzip_writer_reused_for_many_bodies_gives_each_its_own_valid_stream() {
        use std::io::Read as _;
        let mut gz = Gzip::new();
        let mut out = Vec::new();
        let bodies: Vec<Vec<u8>> =
            [0usize, 1, 1000, 300_000, 17].iter().map(|&n| (0..n).map(|i| (i * 7 % 251) as u8).collect()).collect();
        for body in &bodies {
            gz.compress(body, &mut out);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&out[..]).read_to_end(&mut back).expect("a valid gzip stream");
            assert_eq!(&back, body, "{} bytes", body.len());
        }
    }
}
