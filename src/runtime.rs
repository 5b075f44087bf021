//! Global state: starting logkit (lazily or with `init`), flushing, and the hooks
//! that make exit and panics durable.
//!
//! The runtime is a `OnceLock`: `get()` on the hot path is one `Acquire` load. The
//! first log call (or `init`) builds it; `OnceLock` makes concurrent first calls wait
//! for the one that builds it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::frontend::{Frontend, WriterEnds};
use crate::level::LevelFilter;
use crate::pad::CachePadded;
use crate::render::Redactor;
use crate::sink::file::{FileConfig, FileSink};
use crate::writer::{FlushState, Writer, WriterConfig};

/// How long `flush()` waits at most: a logging library never blocks forever, even on
/// a disk that stopped answering.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Runtime {
    pub(crate) frontend: Frontend,
    /// Locked by the writer on every pass: on cache lines of its own (see [`crate::pad`]).
    flush: CachePadded<FlushState>,
    writer_id: OnceLock<std::thread::ThreadId>,
    /// The writer's parts, from `build` until `finish_start` spawns the thread (the
    /// writer needs the runtime's `'static` address, which `get_or_init` gives only
    /// after `build` returned).
    pending: Mutex<Option<(WriterEnds, WriterConfig)>>,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
/// Set when `init` (not the lazy path) built the runtime.
static EXPLICIT: AtomicBool = AtomicBool::new(false);

#[inline]
pub(crate) fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// The runtime, starting it from the environment if nothing did yet.
#[inline]
pub(crate) fn ensure_started() -> &'static Runtime {
    match RUNTIME.get() {
        Some(r) => r,
        None => start_lazy(),
    }
}

/// The first log call without `init`: bad knobs are reported and replaced by their
/// defaults, and a file that cannot be opened leaves the console.
#[cold]
#[inline(never)]
fn start_lazy() -> &'static Runtime {
    let mut built = false;
    let rt = RUNTIME.get_or_init(|| {
        built = true;
        let mut config = Config::from_env_lenient();
        if let Err(e) = config.directives() {
            eprintln!("{e}; using the default");
            config.level = None;
        }
        let file = match open_file(&config) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{e}; logging to the console only");
                None
            }
        };
        build(&config, file)
    });
    if built {
        finish_start(rt);
    }
    rt
}

/// `Config::init` and `logkit::init`.
pub(crate) fn start(config: Config) -> Result<crate::Guard, ConfigError> {
    config.directives()?;
    if RUNTIME.get().is_some() {
        return Err(ConfigError::already_started());
    }
    let mut file = Some(open_file(&config)?);
    let mut built = false;
    let rt = RUNTIME.get_or_init(|| {
        built = true;
        build(&config, file.take().flatten())
    });
    if !built {
        return Err(ConfigError::already_started());
    }
    EXPLICIT.store(true, Ordering::Relaxed);
    finish_start(rt);
    Ok(crate::Guard::new())
}

fn open_file(config: &Config) -> Result<Option<FileSink>, ConfigError> {
    let Some(path) = &config.file else { return Ok(None) };
    let fc = FileConfig {
        path: path.clone(),
        rotate_bytes: config.rotate_bytes,
        backups: config.backups,
        mode: config.file_mode,
    };
    FileSink::open(fc).map(Some).map_err(|e| ConfigError::io("LOG_FILE", &path.to_string_lossy(), "cannot open", e))
}

/// Builds the runtime and installs its filters. Runs once, inside `get_or_init`.
fn build(config: &Config, file: Option<FileSink>) -> Runtime {
    if std::env::var_os("LOG_OTLP").is_some_and(|v| !v.is_empty()) {
        eprintln!("logkit: LOG_OTLP is set, but this build has no OTLP exporter yet; records stay local");
    }
    let directives = config.directives().unwrap_or_else(|_| crate::level::Directives::new(LevelFilter::Info));
    crate::filter::install(directives, config.sample);
    let (frontend, ends) = Frontend::new(config.buffer, config.overflow);
    let wc = WriterConfig {
        file,
        console: config.console,
        color: config.color,
        profile: config.profile,
        fsync: config.fsync,
        redact: Redactor::new(&config.redact),
        clock: crate::clock::Calibration::start(),
    };
    Runtime {
        frontend,
        flush: CachePadded(FlushState::new()),
        writer_id: OnceLock::new(),
        pending: Mutex::new(Some((ends, wc))),
    }
}

/// Spawns the writer and installs the exit and panic hooks, once the runtime has its
/// `'static` address.
fn finish_start(rt: &'static Runtime) {
    let parts = match rt.pending.lock() {
        Ok(mut p) => p.take(),
        Err(p) => p.into_inner().take(),
    };
    let Some((ends, wc)) = parts else { return };
    let writer = Writer::new(&rt.frontend, &rt.flush.0, ends, wc);
    let spawned = std::thread::Builder::new().name("logkit-writer".into()).spawn(move || writer.run());
    match spawned {
        Ok(h) => {
            let _ = rt.writer_id.set(h.thread().id());
            rt.frontend.set_writer(h.thread().clone());
        }
        Err(e) => eprintln!("logkit: cannot start the writer thread: {e}; records will not be written"),
    }
    install_exit_hook();
    install_panic_hook();
    #[cfg(feature = "log")]
    crate::log_bridge::install();
}

/// Blocks until every record logged before the call is written and fsynced.
///
/// Returns at once if logkit never started. Waits at most 10 seconds (a disk that
/// stopped answering must not hang the application); a timeout is reported on stderr.
pub fn flush() {
    let Some(rt) = get() else { return };
    if rt.writer_id.get() == Some(&std::thread::current().id()) {
        return;
    }
    if !rt.flush.request_and_wait(&rt.frontend, FLUSH_TIMEOUT) {
        eprintln!("logkit: flush did not complete within {FLUSH_TIMEOUT:?}");
    }
}

/// Starts logkit from the `LOG_*` environment variables.
///
/// Optional: without it the first log call starts logkit the same way, except that a
/// bad variable is then reported on stderr and replaced by its default.
///
/// # Errors
/// A [`ConfigError`] naming the first bad variable and its value, a log file that
/// cannot be opened, or logkit already started.
pub fn init() -> Result<Guard, ConfigError> {
    let config = Config::from_env()?;
    if RUNTIME.get().is_some() && !EXPLICIT.load(Ordering::Relaxed) {
        // Started lazily from the same environment by an earlier log call: that is the
        // configuration `init` would have built.
        return Ok(Guard::new());
    }
    config.init()
}

/// Flushes on drop. Returned by [`init`] and [`Config::init`]; keep it alive for the
/// whole program (`let _guard = logkit::init()?;` — not `let _ = ...`, which drops it
/// at once). Exit, `std::process::exit` and panics flush even without it.
#[must_use = "dropping the guard flushes at once; bind it with `let _guard = ...`"]
#[derive(Debug)]
pub struct Guard {
    _private: (),
}

impl Guard {
    fn new() -> Guard {
        Guard { _private: () }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        flush();
    }
}

/// Set once the process is exiting: the last flush also reports what a failing disk
/// kept from being written.
static EXITING: AtomicBool = AtomicBool::new(false);

pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::Acquire)
}

extern "C" fn at_exit() {
    EXITING.store(true, Ordering::Release);
    // Never unwind into C.
    let _ = std::panic::catch_unwind(flush);
}

fn install_exit_hook() {
    // SAFETY: `atexit` registers a plain `extern "C" fn()` that lives for the whole
    // program; it is called by `exit` (returning from `main` and
    // `std::process::exit` both end in `exit`).
    let rc = unsafe { libc::atexit(at_exit) };
    if rc != 0 {
        eprintln!("logkit: cannot register the exit hook; call logkit::flush() before exiting");
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The panic becomes an error record in the current context, and spans dropped
        // while unwinding report it in their END records. Then everything logged
        // reaches the disk before the process goes on unwinding or aborts
        // (`panic = "abort"`). A thread that panicked inside its own log call holds its
        // slot, so it logs nothing more and the flush does not wait for that slot.
        if !crate::frontend::in_record() {
            let exc = crate::span::panic_exc_info(info);
            crate::span::log_panic(&exc);
            crate::span::stash_panic(exc);
            flush();
        }
        previous(info);
    }));
}
