//! One set-up per logger: install it writing JSON lines to a file under a directory,
//! give each producer thread its context (trace id + span id), log the record, and
//! wait until everything logged is in the file.
//!
//! The record, for every logger: message "order filled", `order_id` u64 and `price`
//! f64 (both varying), `symbol` "BTC-USD", `ok` true, plus the thread's trace id and
//! span id — as context where the logger has it, else as fields.

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::util::{values, Ids, JsonStr, Rfc3339};

/// Which configuration a logger runs in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Lossless: a full queue makes the producer wait (the comparison's setting).
    Lossless,
    /// The logger's defaults, whatever they do when the queue is full.
    Default,
}

/// A logger under test.
pub trait Peer: Sync + Sized {
    /// Per producer thread: its context guard, handles, ids.
    type Producer;
    /// Installs the logger (globally where it is global), writing under `dir`.
    fn install(dir: &Path, mode: Mode) -> Self;
    /// Called on the producer thread before its first record.
    fn producer(&self, ids: Ids) -> Self::Producer;
    /// Logs record `i`.
    fn log(p: &mut Self::Producer, i: u64);
    /// Returns once every record logged so far is in the file (handed to the OS).
    fn finish(self);
}

/// Peer names, in table order, with how each is configured and flushed.
pub const PEERS: &[(&str, &str, &str)] = &[
    (
        "logkit",
        "path dependency; console off, rotation off, otherwise defaults (ring 16 384 records, block on full, fsync every 1 s)",
        "logkit::flush() (writes and fdatasyncs)",
    ),
    (
        "logkit_tracing",
        "tracing macros through logkit's layer: registry().with(logkit::tracing::layer()), logkit configured as for logkit; context = an entered tracing span",
        "logkit::flush() (writes and fdatasyncs)",
    ),
    (
        "tracing",
        "tracing-subscriber fmt().json() (flattened event, current span) + tracing-appender non_blocking over BufWriter<File>, .lossy(false), 128 000-line channel",
        "drop WorkerGuard (waits up to 1.1 s for the worker)",
    ),
    (
        "slog",
        "slog-json over BufWriter<File> + slog-async, OverflowStrategy::Block, default 128-record channel; context via Logger::new(o!(..))",
        "drop the loggers, then drop AsyncGuard (joins the worker, whose BufWriter flushes on drop)",
    ),
    (
        "ftlog",
        "ftlog (log facade) with a JSON FtLogFormat, FileAppender, bounded(100_000, block=true), UTC",
        "log::logger().flush() (ftlog's Flush message, answered after its queue is written)",
    ),
    (
        "spdlog",
        "spdlog-rs Logger + AsyncPoolSink (OverflowPolicy::Block, 8 192-task pool) over FileSink with JsonFormatter; kv fields",
        "logger.flush(), then drop logger, sink and ThreadPool (joins the worker)",
    ),
    (
        "fast_log",
        "fast_log (log facade), file appender, a JSON RecordFormat, default unbounded channel",
        "fast_log::flush()?.wait() (WaitGroup released once the appender wrote the batch)",
    ),
    (
        "baseline",
        "synchronous serde_json::to_writer into Mutex<BufWriter<File>> on the caller",
        "lock and BufWriter::flush()",
    ),
];

/// The logger's own name for what its default configuration does when full.
pub fn default_policy(name: &str) -> &'static str {
    match name {
        "logkit" | "logkit_tracing" => "blocks (LOG_OVERFLOW=block)",
        "tracing" => "drops (non_blocking lossy=true)",
        "slog" => "drops and reports (DropAndReport, 128-record channel)",
        "ftlog" => "drops (bounded(100_000, false))",
        "spdlog" => "blocks (OverflowPolicy::Block)",
        "fast_log" => "never full (unbounded channel)",
        "baseline" => "synchronous",
        _ => "?",
    }
}

// ============================================================== logkit

/// Logs record `i` through the `info!` macro of `$logger` (`logkit` or `tracing`): the
/// record of the `logkit`, `tracing` and `logkit_tracing` peers and of the otlp bin. A
/// macro, not a function, so that the record's target stays the module that logs it
/// (`logkit_peers::peers` here, `otlp` in the bin) and its bytes stay the same.
macro_rules! order_filled {
    ($logger:ident, $i:expr) => {{
        let (order_id, price) = $crate::util::values($i);
        $logger::info!(
            order_id = ::std::hint::black_box(order_id),
            price = ::std::hint::black_box(price),
            symbol = ::std::hint::black_box("BTC-USD"),
            ok = ::std::hint::black_box(true),
            "order filled"
        );
    }};
}
#[allow(unused_imports)] // by path only from the otlp bin
pub(crate) use order_filled;

pub struct Logkit {
    _guard: logkit::Guard,
}

pub struct LogkitProducer {
    _span: logkit::Span,
}

impl Peer for Logkit {
    type Producer = LogkitProducer;

    fn install(dir: &Path, _mode: Mode) -> Self {
        // logkit is lossless by default (`LOG_OVERFLOW=block`): both modes are the defaults.
        let guard = logkit::Config::default()
            .file(dir.join("logkit.jsonl"))
            .console(logkit::Console::Off)
            .rotate_bytes(0)
            .level("info")
            .init()
            .expect("logkit init");
        Logkit { _guard: guard }
    }

    fn producer(&self, _ids: Ids) -> LogkitProducer {
        // logkit makes its own ids: a new trace for this unit of work, and a span.
        let _ = logkit::new_context!();
        LogkitProducer { _span: logkit::span!("handle") }
    }

    #[inline(always)]
    fn log(_p: &mut LogkitProducer, i: u64) {
        order_filled!(logkit, i);
    }

    fn finish(self) {
        logkit::flush();
    }
}

// ============================================================== logkit_tracing

/// The same `tracing::info!` as the `tracing` peer, through logkit's `tracing` layer.
pub struct LogkitTracing {
    _guard: logkit::Guard,
}

impl Peer for LogkitTracing {
    type Producer = tracing::span::EnteredSpan;

    fn install(dir: &Path, mode: Mode) -> Self {
        use tracing_subscriber::layer::SubscriberExt;
        let Logkit { _guard } = Logkit::install(dir, mode);
        let subscriber = tracing_subscriber::registry().with(logkit::tracing::layer());
        tracing::subscriber::set_global_default(subscriber).expect("set subscriber");
        LogkitTracing { _guard }
    }

    fn producer(&self, _ids: Ids) -> tracing::span::EnteredSpan {
        // A root span with no logkit context: logkit starts a trace for it and gives it
        // a span id, as `new_context!` + `span!` do for the `logkit` peer.
        tracing::info_span!("handle").entered()
    }

    #[inline(always)]
    fn log(p: &mut tracing::span::EnteredSpan, i: u64) {
        Tracing::log(p, i);
    }

    fn finish(self) {
        logkit::flush();
    }
}

// ============================================================== tracing

pub struct Tracing {
    guard: tracing_appender::non_blocking::WorkerGuard,
}

impl Peer for Tracing {
    type Producer = tracing::span::EnteredSpan;

    fn install(dir: &Path, mode: Mode) -> Self {
        let file = BufWriter::new(File::create(dir.join("tracing.jsonl")).expect("create"));
        let (writer, guard) =
            tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(mode == Mode::Default).finish(file);
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(writer)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("set subscriber");
        Tracing { guard }
    }

    fn producer(&self, ids: Ids) -> tracing::span::EnteredSpan {
        tracing::info_span!("handle", trace_id = %ids.trace_id, span_id = %ids.span_id).entered()
    }

    #[inline(always)]
    fn log(_p: &mut tracing::span::EnteredSpan, i: u64) {
        order_filled!(tracing, i);
    }

    fn finish(self) {
        drop(self.guard);
    }
}

// ============================================================== slog

pub struct Slog {
    root: slog::Logger,
    guard: slog_async::AsyncGuard,
}

impl Peer for Slog {
    type Producer = slog::Logger;

    fn install(dir: &Path, mode: Mode) -> Self {
        use slog::Drain;
        let file = BufWriter::new(File::create(dir.join("slog.jsonl")).expect("create"));
        let json = slog_json::Json::new(file).add_default_keys().build().fuse();
        let strategy = match mode {
            Mode::Lossless => slog_async::OverflowStrategy::Block,
            Mode::Default => slog_async::OverflowStrategy::DropAndReport,
        };
        let (drain, guard) = slog_async::Async::new(json).overflow_strategy(strategy).build_with_guard();
        let drain = drain.filter_level(slog::Level::Info).fuse();
        Slog { root: slog::Logger::root(drain, slog::o!()), guard }
    }

    fn producer(&self, ids: Ids) -> slog::Logger {
        self.root.new(slog::o!("trace_id" => ids.trace_id, "span_id" => ids.span_id))
    }

    #[inline(always)]
    fn log(p: &mut slog::Logger, i: u64) {
        let (order_id, price) = values(i);
        slog::info!(p, "order filled";
            "order_id" => black_box(order_id),
            "price" => black_box(price),
            "symbol" => black_box("BTC-USD"),
            "ok" => black_box(true)
        );
    }

    fn finish(self) {
        drop(self.root);
        drop(self.guard);
    }
}

// ============================================================== log-facade loggers

/// The record's fields as the inside of a JSON object, for the `log`-facade loggers
/// (ftlog, fast_log): they carry a formatted message, so the call site writes the
/// fields into it (`log`'s `format_args!`; the logger decides when to render it).
macro_rules! log_json_fields {
    ($p:expr, $i:expr) => {{
        let (order_id, price) = values($i);
        log::info!(
            "\"event\":\"order filled\",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"order_id\":{},\"price\":{},\"symbol\":{},\"ok\":{}",
            $p.trace_id,
            $p.span_id,
            black_box(order_id),
            black_box(price),
            JsonStr(black_box("BTC-USD")),
            black_box(true)
        );
    }};
}

/// The level as this crate's records spell it.
fn level_name(l: log::Level) -> &'static str {
    match l {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug => "debug",
        log::Level::Trace => "trace",
    }
}

// ============================================================== ftlog

pub struct Ftlog {
    guard: ftlog::LoggerGuard,
}

/// ftlog writes `{time} {delay}ms {msg}`: the time format opens the JSON object and a
/// string field that swallows the delay, and the message closes it, so each line is one
/// JSON object: `{"timestamp":"…Z","ftlog_delay":" 0ms ","level":"info",…}`.
const FTLOG_TIME: &str =
    "{\"timestamp\":\"[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z\",\"ftlog_delay\":\"";

struct FtlogJson;

struct FtlogMsg {
    level: log::Level,
    fields: String,
}

impl std::fmt::Display for FtlogMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\",\"level\":\"{}\",{}}}", level_name(self.level), self.fields)
    }
}

impl ftlog::FtLogFormat for FtlogJson {
    fn msg(&self, record: &log::Record) -> Box<dyn Send + Sync + std::fmt::Display> {
        // What ftlog's own formatter does: the arguments become a String on the caller.
        Box::new(FtlogMsg { level: record.level(), fields: record.args().to_string() })
    }
}

impl Peer for Ftlog {
    type Producer = Ids;

    fn install(dir: &Path, mode: Mode) -> Self {
        let time = time::format_description::parse_owned::<2>(FTLOG_TIME).expect("time format");
        let builder = ftlog::builder()
            .format(FtlogJson)
            .time_format(time)
            .utc()
            .max_log_level(log::LevelFilter::Info)
            .root(ftlog::appender::FileAppender::new(dir.join("ftlog.jsonl")));
        let builder = match mode {
            Mode::Lossless => builder.bounded(100_000, true),
            Mode::Default => builder,
        };
        let guard = builder.try_init().expect("ftlog init");
        Ftlog { guard }
    }

    fn producer(&self, ids: Ids) -> Ids {
        ids
    }

    #[inline(always)]
    fn log(p: &mut Ids, i: u64) {
        log_json_fields!(p, i);
    }

    fn finish(self) {
        log::logger().flush();
        drop(self.guard);
    }
}

// ============================================================== spdlog-rs

pub struct Spdlog {
    logger: Arc<spdlog::Logger>,
    sink: Arc<spdlog::sink::AsyncPoolSink>,
    pool: Arc<spdlog::ThreadPool>,
}

pub struct SpdlogProducer {
    logger: Arc<spdlog::Logger>,
    ids: Ids,
}

impl Peer for Spdlog {
    type Producer = SpdlogProducer;

    fn install(dir: &Path, mode: Mode) -> Self {
        use spdlog::sink::{AsyncPoolSink, FileSink, OverflowPolicy};
        let file = FileSink::builder()
            .path(dir.join("spdlog.jsonl"))
            .truncate(true)
            .formatter(spdlog::formatter::JsonFormatter::new())
            .build_arc()
            .expect("file sink");
        let pool = spdlog::ThreadPool::builder().build_arc().expect("thread pool");
        let policy = match mode {
            // Block is spdlog-rs's default: both modes are the defaults.
            Mode::Lossless | Mode::Default => OverflowPolicy::Block,
        };
        let sink = AsyncPoolSink::builder()
            .sink(file)
            .thread_pool(pool.clone())
            .overflow_policy(policy)
            .build_arc()
            .expect("async sink");
        let logger = spdlog::Logger::builder()
            .sink(sink.clone())
            .level_filter(spdlog::LevelFilter::MoreSevereEqual(spdlog::Level::Info))
            .build_arc()
            .expect("logger");
        Spdlog { logger, sink, pool }
    }

    fn producer(&self, ids: Ids) -> SpdlogProducer {
        SpdlogProducer { logger: self.logger.clone(), ids }
    }

    #[inline(always)]
    fn log(p: &mut SpdlogProducer, i: u64) {
        let (order_id, price) = values(i);
        let (trace_id, span_id) = (p.ids.trace_id.as_str(), p.ids.span_id.as_str());
        let (order_id, price, symbol, ok) =
            (black_box(order_id), black_box(price), black_box("BTC-USD"), black_box(true));
        spdlog::info!(logger: p.logger, "order filled", kv: { trace_id, span_id, order_id, price, symbol, ok });
    }

    fn finish(self) {
        self.logger.flush();
        drop(self.logger);
        drop(self.sink);
        // The last reference: dropping the pool joins its worker after the queued tasks.
        drop(self.pool);
    }
}

// ============================================================== fast_log

pub struct FastLog;

struct FastLogJson;

impl fast_log::appender::RecordFormat for FastLogJson {
    fn do_format(&self, arg: &mut fast_log::appender::FastLogRecord) {
        if let fast_log::appender::Command::CommandRecord = arg.command {
            arg.formated = format!(
                "{{\"timestamp\":\"{}\",\"level\":\"{}\",{}}}\n",
                Rfc3339(arg.now),
                level_name(arg.level),
                arg.args
            );
        }
    }
}

impl Peer for FastLog {
    type Producer = Ids;

    fn install(dir: &Path, _mode: Mode) -> Self {
        // The default channel is unbounded: lossless, both modes are the defaults.
        let path = dir.join("fast_log.jsonl");
        fast_log::init(
            fast_log::Config::new()
                .file(path.to_str().expect("utf-8 path"))
                .format(FastLogJson)
                .level(log::LevelFilter::Info),
        )
        .expect("fast_log init");
        FastLog
    }

    fn producer(&self, ids: Ids) -> Ids {
        ids
    }

    #[inline(always)]
    fn log(p: &mut Ids, i: u64) {
        log_json_fields!(p, i);
    }

    fn finish(self) {
        fast_log::flush().expect("fast_log flush").wait();
    }
}

// ============================================================== baseline

/// The synchronous baseline: serialise on the caller, under a lock, into a buffer.
pub struct Baseline {
    out: Arc<Mutex<BufWriter<File>>>,
}

pub struct BaselineProducer {
    out: Arc<Mutex<BufWriter<File>>>,
    ids: Ids,
}

#[derive(serde::Serialize)]
struct Record<'a> {
    timestamp: Timestamp,
    level: &'static str,
    event: &'static str,
    trace_id: &'a str,
    span_id: &'a str,
    order_id: u64,
    price: f64,
    symbol: &'a str,
    ok: bool,
}

struct Timestamp(SystemTime);

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Rfc3339(self.0))
    }
}

impl Peer for Baseline {
    type Producer = BaselineProducer;

    fn install(dir: &Path, _mode: Mode) -> Self {
        let file = OpenOptions::new().create(true).append(true).open(dir.join("baseline.jsonl")).expect("create");
        Baseline { out: Arc::new(Mutex::new(BufWriter::with_capacity(64 * 1024, file))) }
    }

    fn producer(&self, ids: Ids) -> BaselineProducer {
        BaselineProducer { out: self.out.clone(), ids }
    }

    #[inline(always)]
    fn log(p: &mut BaselineProducer, i: u64) {
        let (order_id, price) = values(i);
        let rec = Record {
            timestamp: Timestamp(SystemTime::now()),
            level: "info",
            event: "order filled",
            trace_id: &p.ids.trace_id,
            span_id: &p.ids.span_id,
            order_id: black_box(order_id),
            price: black_box(price),
            symbol: black_box("BTC-USD"),
            ok: black_box(true),
        };
        let mut out = p.out.lock().unwrap_or_else(|e| e.into_inner());
        if serde_json::to_writer(&mut *out, &rec).is_ok() {
            let _ = out.write_all(b"\n");
        }
    }

    fn finish(self) {
        let _ = self.out.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
}
