//! The started logkit: the one module that starts it (lazily or with `init`), and the
//! public entry points that act on the started pipeline (`init`, `Config::init`,
//! `flush`, `set_level`, `set_sample`), plus the hooks that make exit and panics
//! durable, and the restart of a forked child (see `frontend::fork`).
//!
//! Starting builds the frontend (installed in `frontend`), installs the filters (in
//! `filter`), spawns the writer, and makes the `log` bridge the `log` crate's logger.
//! The runtime is a `OnceLock`: the first log call (or `init`) builds it, and
//! `OnceLock` makes concurrent first calls wait for the one that builds it. Lower
//! modules never call back up here: the log macros' entry points (`__private`) start
//! it on their cold path.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::config::{Config, ConfigError, Origin};
use crate::frontend::{self, Frontend, WriterEnds};
use crate::level::{Directives, LevelFilter};
use crate::pad::CachePadded;
use crate::render::Redactor;
use crate::sink::file::{FileConfig, FileSink};
use crate::writer::{FlushState, Writer, WriterConfig};

/// How long `flush()` waits at most: a logging library never blocks forever, even on
/// a disk that stopped answering.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Runtime {
    /// What logkit was started with: a forked child starts its own writer from it.
    config: Config,
    frontend: &'static Frontend,
    /// Locked by the writer on every pass: on cache lines of its own (see [`crate::pad`]).
    flush: CachePadded<FlushState>,
    writer_id: OnceLock<std::thread::ThreadId>,
    /// The writer's parts, from `build` until `finish_start` spawns the thread (the
    /// writer needs the runtime's `'static` address, which `get_or_init` gives only
    /// after `build` returned).
    pending: Mutex<Option<(WriterEnds, WriterConfig)>>,
    /// The OTLP exporter, for `flush()` and exit.
    #[cfg(feature = "otlp")]
    otlp: Option<crate::sink::otlp::exporter::Control>,
}

/// The exporter's configuration, when the feature is built.
#[cfg(feature = "otlp")]
type OtlpStart = Option<crate::sink::otlp::OtlpConfig>;
#[cfg(not(feature = "otlp"))]
type OtlpStart = Option<std::convert::Infallible>;

/// `LOG_OTLP` and the standard variables: an error for `init`, or with `lenient` (the
/// first log call) reported on stderr and export left off.
#[cfg(feature = "otlp")]
fn otlp_start(config: &Config, lenient: bool) -> Result<OtlpStart, ConfigError> {
    match crate::sink::otlp::OtlpConfig::resolve(config.otlp.as_deref()) {
        Ok(c) => Ok(c),
        Err(e) if lenient => {
            eprintln!("{e}; not exporting to a collector");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(feature = "otlp"))]
fn otlp_start(config: &Config, _lenient: bool) -> Result<OtlpStart, ConfigError> {
    if config.otlp.is_some() {
        eprintln!("logkit: LOG_OTLP is set, but this build has no OTLP exporter (feature `otlp`); records stay local");
    }
    Ok(None)
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
/// Set when `init` (not the lazy path) built the runtime.
static EXPLICIT: AtomicBool = AtomicBool::new(false);
/// In a forked child that has logged: the runtime of its own writer (leaked; see
/// [`restart_after_fork`]). `RUNTIME` keeps the configuration.
static CHILD: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());

#[inline]
fn get() -> Option<&'static Runtime> {
    let child = CHILD.load(Ordering::Acquire);
    if !child.is_null() {
        // SAFETY: only `restart_after_fork` stores here, a leaked (never freed) runtime.
        return Some(unsafe { &*child });
    }
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
            // `from_env_lenient` keeps only valid directives; this is a last guard.
            config.level = None;
            let used = config.directives().map(|d| d.to_string()).unwrap_or_default();
            eprintln!("{}", e.fallback_line(&format!("using the default {used}")));
        }
        let file = match open_file(&config) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}", e.fallback_line("logging to the console only"));
                None
            }
        };
        let otlp = otlp_start(&config, true).unwrap_or_default();
        build(&config, file, otlp)
    });
    if built {
        finish_start(rt);
    }
    rt
}

/// `Config::init` and `logkit::init`.
fn start(config: Config) -> Result<Guard, ConfigError> {
    config.directives()?;
    if RUNTIME.get().is_some() {
        return Err(ConfigError::already_started());
    }
    let mut otlp = Some(otlp_start(&config, false)?);
    let mut file = Some(open_file(&config)?);
    let mut built = false;
    let rt = RUNTIME.get_or_init(|| {
        built = true;
        build(&config, file.take().flatten(), otlp.take().unwrap_or_default())
    });
    if !built {
        return Err(ConfigError::already_started());
    }
    EXPLICIT.store(true, Ordering::Relaxed);
    finish_start(rt);
    Ok(Guard::new())
}

fn open_file(config: &Config) -> Result<Option<FileSink>, ConfigError> {
    let Some(path) = &config.file else { return Ok(None) };
    let fc = FileConfig {
        path: path.clone(),
        rotate_bytes: config.rotate_bytes,
        backups: config.backups,
        mode: config.file_mode,
    };
    FileSink::open(fc)
        .map(Some)
        .map_err(|e| ConfigError::io(config.file_origin, &path.to_string_lossy(), "cannot open", e))
}

/// What the writer starts with: the sinks, the configuration's console, sync and
/// redaction, a fresh clock calibration and the `logkit.start` record's knobs.
fn writer_config(
    config: &Config,
    file: Option<FileSink>,
    #[cfg(feature = "otlp")] otlp: Option<crate::sink::otlp::exporter::Handle>,
) -> WriterConfig {
    WriterConfig {
        file,
        console: config.console,
        color: config.color,
        profile: config.profile,
        fsync: config.fsync,
        redact: Redactor::new(&config.redact),
        clock: crate::clock::Calibration::start(),
        start_config: Some(config.effective_json()),
        #[cfg(feature = "otlp")]
        otlp,
    }
}

/// Starts the exporter thread when OTLP export is on: its handle for the writer and
/// its control for `flush` and exit.
#[cfg(feature = "otlp")]
fn start_exporter(
    config: &Config,
    otlp: OtlpStart,
) -> (Option<crate::sink::otlp::exporter::Handle>, Option<crate::sink::otlp::exporter::Control>) {
    match otlp.and_then(|c| crate::sink::otlp::exporter::start(c, Redactor::new(&config.redact))) {
        Some((h, c)) => (Some(h), Some(c)),
        None => (None, None),
    }
}

/// Builds the runtime and installs its filters. Runs once, inside `get_or_init`.
#[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
fn build(config: &Config, file: Option<FileSink>, otlp: OtlpStart) -> Runtime {
    for notice in config.notices() {
        eprintln!("{notice}");
    }
    let directives = config.directives().unwrap_or_else(|_| Directives::new(LevelFilter::Info));
    crate::filter::install(directives, config.sample);
    crate::span::set_span_start(config.span_start);
    let (frontend, ends) = Frontend::new(config.buffer, config.overflow);
    #[cfg(feature = "otlp")]
    let (otlp_handle, otlp_control) = start_exporter(config, otlp);
    // Before the frontend is published: a thread may log, and fork, as soon as it is,
    // while this one is still starting the writer.
    install_fork_hook();
    let frontend = frontend::install(frontend);
    let wc = writer_config(
        config,
        file,
        #[cfg(feature = "otlp")]
        otlp_handle,
    );
    Runtime {
        config: config.clone(),
        frontend,
        flush: CachePadded(FlushState::new()),
        writer_id: OnceLock::new(),
        pending: Mutex::new(Some((ends, wc))),
        #[cfg(feature = "otlp")]
        otlp: otlp_control,
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
    spawn_writer(rt, ends, wc);
    install_exit_hook();
    install_panic_hook();
    sigterm::install();
    #[cfg(feature = "log")]
    crate::log_bridge::install(flush);
}

fn spawn_writer(rt: &'static Runtime, ends: WriterEnds, wc: WriterConfig) {
    let writer = Writer::new(rt.frontend, &rt.flush.0, ends, wc);
    let spawned = std::thread::Builder::new().name("logkit-writer".into()).spawn(move || writer.run());
    match spawned {
        Ok(h) => {
            let _ = rt.writer_id.set(h.thread().id());
            rt.frontend.set_writer(h.thread().clone());
        }
        Err(e) => eprintln!("logkit: cannot start the writer thread: {e}; records will not be written"),
    }
}

/// Blocks until every record logged before the call is written and fsynced.
///
/// Returns at once if logkit never started, and in a child of `fork()` that has
/// logged nothing yet (what it inherited is the parent's to write). Waits at most 10 seconds (a disk that
/// stopped answering must not hang the application), also for a thread that is inside
/// a log call (e.g. in a slow `Display` impl) and holds records logged before this
/// call; a timeout is reported on stderr with the number of such threads. Called from
/// inside a log call (a `Display` impl that flushes) it returns at once.
pub fn flush() {
    flush_with(true);
}

/// `flush()`; with `wait_for_export`, then also gives a healthy OTLP exporter up to
/// 2 s to send what was flushed (one that is failing is not waited for). Returns
/// `false` when the flush ran out of its time bound.
#[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
fn flush_with(wait_for_export: bool) -> bool {
    if frontend::fork::restart_pending() {
        return true;
    }
    let rt = match get() {
        Some(rt) => rt,
        // Another thread is building the runtime: its frontend and filters are
        // installed (`build`), so this thread may already have logged through them.
        // Wait for the build to finish, then flush as usual.
        None if frontend::get().is_some() => ensure_started(),
        None => return true,
    };
    if rt.writer_id.get() == Some(&std::thread::current().id()) {
        return true;
    }
    if frontend::in_record() {
        // Called from a `Display` impl of a record being logged: this thread holds its
        // own buffer until that record is done, so a flush could only time out.
        return true;
    }
    let done = rt.flush.request_and_wait(rt.frontend, FLUSH_TIMEOUT);
    if !done {
        match rt.flush.waiting_for() {
            0 => eprintln!("logkit: flush did not complete within {FLUSH_TIMEOUT:?} (the disk is not answering)"),
            n => eprintln!(
                "logkit: flush did not complete within {FLUSH_TIMEOUT:?}: {n} thread(s) still inside a log call \
                 (a slow Display impl?) hold records logged before it; they are written when the call returns, \
                 and lost if the process ends first"
            ),
        }
    }
    #[cfg(feature = "otlp")]
    if let (true, Some(o)) = (wait_for_export, &rt.otlp) {
        if !o.failing() {
            o.drain(crate::sink::otlp::exporter::FLUSH_DEADLINE);
        }
    }
    done
}

impl Config {
    /// Starts logkit with this configuration.
    ///
    /// # Errors
    /// A bad level directive, a log file that cannot be opened, or logkit already
    /// running with another configuration.
    pub fn init(self) -> Result<Guard, ConfigError> {
        start(self)
    }
}

/// Replaces the level directives at run time, e.g. `set_level("info,hyper=warn")`.
///
/// Takes effect at once for every thread; readers never lock. A bare level without
/// directives replaces the default floor and drops the per-target ones.
///
/// # Errors
/// A [`ConfigError`] naming the bad part; the current filter is kept.
pub fn set_level(directives: &str) -> Result<(), ConfigError> {
    ensure_started();
    let d = Directives::parse(directives, crate::filter::default_level())
        .map_err(|e| ConfigError::invalid(Origin::Code("logkit::set_level"), directives, &e.0))?;
    crate::filter::set_directives(d);
    #[cfg(feature = "log")]
    crate::log_bridge::set_max_level();
    // `tracing` call sites cache the interest the `tracing` layer reported under the
    // old directives: ask them again. (The tracing-core registry, not the layer, so
    // the runtime never imports the integrations above it.)
    #[cfg(feature = "tracing")]
    tracing_core::callsite::rebuild_interest_cache();
    Ok(())
}

/// Changes the fraction of DEBUG/INFO/TRACE records kept (`0.0..=1.0`) at run time.
/// WARN and ERROR are always kept.
///
/// # Errors
/// A [`ConfigError`] if `fraction` is not a number in `0..=1`; the current rate is kept.
pub fn set_sample(fraction: f64) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&fraction) {
        let code = Origin::Code("logkit::set_sample");
        return Err(ConfigError::invalid(code, &fraction.to_string(), "expected a number from 0 to 1"));
    }
    ensure_started();
    crate::filter::set_sample(fraction);
    Ok(())
}

/// Starts logkit from the `LOG_*` environment variables.
///
/// Optional: without it the first log call starts logkit the same way, except that a
/// bad variable is then reported on stderr and replaced by its default.
///
/// # Errors
/// A [`ConfigError`] naming every bad variable and its value, a log file that cannot
/// be opened, or logkit already started.
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

extern "C" fn at_exit() {
    // Never unwind into C.
    let _ = std::panic::catch_unwind(|| {
        crate::span::log_open_spans("exit");
        last_flush();
    });
}

/// The exit hook's flush ran out of its bound (the disk is not answering): the last
/// flush ([`at_exit_last`]) does not wait another 10 s, so exit stays bounded.
static EXIT_FLUSH_TIMED_OUT: AtomicBool = AtomicBool::new(false);

/// The last flush of the process (at exit and at SIGTERM): the exporter's share, then
/// the file sink finished.
fn last_flush() {
    #[cfg(feature = "otlp")]
    exit_otlp();
    crate::writer::set_exiting();
    if !flush_with(false) {
        EXIT_FLUSH_TIMED_OUT.store(true, Ordering::Relaxed);
    }
}

/// At exit: everything goes to the exporter, which gets 2 s (whatever the collector
/// does); what it could not send is then counted, so the last flush reports it.
#[cfg(feature = "otlp")]
fn exit_otlp() {
    let Some(o) = get().and_then(|rt| rt.otlp.as_ref()) else { return };
    flush_with(false);
    o.drain(crate::sink::otlp::exporter::EXIT_DEADLINE);
    o.close();
}

/// The process's very last flush. Exit handlers run last-registered first, so logkit's
/// own hook (registered when logkit starts) runs before any handler the application
/// registered earlier, and what those log would stay in memory. This handler is
/// registered while the program is loaded, from an `.init_array` constructor, before
/// `main` and so before any handler of the application: it runs after all of them and
/// writes what they logged.
extern "C" fn at_exit_last() {
    // Never unwind into C. Returns at once if logkit never started.
    let _ = std::panic::catch_unwind(|| {
        if !EXIT_FLUSH_TIMED_OUT.load(Ordering::Relaxed) {
            flush_with(false);
        }
    });
}

/// Registers [`at_exit_last`]. Runs before `main`, where std may not be set up yet: it
/// only calls `atexit`.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
extern "C" fn register_last_flush() {
    // SAFETY: `atexit` registers a plain `extern "C" fn()` that lives for the whole
    // program; nothing else is touched before `main`.
    unsafe {
        libc::atexit(at_exit_last);
    }
}

/// The loader calls the functions in `.init_array` before `main`; `#[used]` keeps this
/// entry in the binary although nothing refers to it.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
#[used]
#[link_section = ".init_array"]
static REGISTER_LAST_FLUSH: extern "C" fn() = register_last_flush;

fn install_exit_hook() {
    // SAFETY: `atexit` registers a plain `extern "C" fn()` that lives for the whole
    // program; it is called by `exit` (returning from `main` and
    // `std::process::exit` both end in `exit`).
    let rc = unsafe { libc::atexit(at_exit) };
    if rc != 0 {
        eprintln!("logkit: cannot register the exit hook; call logkit::flush() before exiting");
    }
}

/// A forked child's first log call (see `frontend::fork`): a frontend, writer, file
/// thread and exporter of its own, from the configuration logkit started with. The
/// filters (and what `set_level` made of them) are the parent's, inherited as they are.
fn restart_after_fork() {
    let Some(first) = RUNTIME.get() else { return };
    let config = &first.config;
    let file = match open_file(config) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}", e.fallback_line("logging to the console only"));
            None
        }
    };
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
    let otlp = otlp_start(config, true).unwrap_or_default();
    #[cfg(feature = "otlp")]
    let (otlp_handle, otlp_control) = start_exporter(config, otlp);
    let (fe, ends) = Frontend::new(config.buffer, config.overflow);
    let frontend = frontend::fork::leak(fe);
    // The child's own `logkit.start` record: its pid, the same knobs.
    let wc = writer_config(
        config,
        file,
        #[cfg(feature = "otlp")]
        otlp_handle,
    );
    let rt: &'static Runtime = Box::leak(Box::new(Runtime {
        config: config.clone(),
        frontend,
        flush: CachePadded(FlushState::new()),
        writer_id: OnceLock::new(),
        pending: Mutex::new(None),
        #[cfg(feature = "otlp")]
        otlp: otlp_control,
    }));
    // The runtime first, then the frontend: a thread that finds the new frontend and
    // then flushes must find the new writer's flush state.
    CHILD.store(std::ptr::from_ref(rt).cast_mut(), Ordering::Release);
    spawn_writer(rt, ends, wc);
    frontend::fork::install_after_fork(frontend);
}

extern "C" fn at_fork_child() {
    // Atomic stores only: this runs inside `fork` (see `frontend::fork`).
    frontend::fork::mark_forked();
}

fn install_fork_hook() {
    frontend::fork::set_restart(restart_after_fork);
    // SAFETY: `pthread_atfork` registers a plain `extern "C" fn()` that lives for the
    // whole program; the child handler only does atomic stores (async-signal-safe).
    let rc = unsafe { libc::pthread_atfork(None, None, Some(at_fork_child)) };
    if rc != 0 {
        eprintln!("logkit: cannot register the fork hook; a child of fork() without exec will not log");
    }
}

/// SIGTERM (what `kill`, systemd and Kubernetes send) ends a process without running
/// its exit hooks, so records still in memory were lost and spans left open said
/// nothing. When SIGTERM's disposition is still the default as logkit starts, logkit
/// installs a handler that only writes a byte to a pipe; the `logkit-signal` thread
/// waiting on it reports the open spans (`logkit.open_spans`, reason `sigterm`), does
/// the exit flush, restores the default disposition and raises SIGTERM again, so the
/// process ends as it would have (killed by signal 15). A handler the application
/// installed first is left alone, and one it installs later replaces logkit's: if
/// that handler still calls logkit's (`signal-hook` chains to the previous one), the
/// signal thread sees it is no longer installed and does nothing, leaving shutdown to
/// the application.
mod sigterm {
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The pipe's write end, for the handler; -1 until installed.
    static WAKE: AtomicI32 = AtomicI32::new(-1);
    /// The process that installed the handler. A child made by `fork` inherits the
    /// handler and the pipe but not the signal thread, and the pipe's other end is
    /// still read by the parent's: the child's SIGTERM must not reach it.
    static OWNER: AtomicI32 = AtomicI32::new(-1);

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn errno() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno location; no preconditions.
        unsafe { libc::__errno_location() }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn errno() -> *mut libc::c_int {
        // SAFETY: returns this thread's errno location; no preconditions.
        unsafe { libc::__error() }
    }

    extern "C" fn on_sigterm(_: libc::c_int) {
        // Async-signal-safe only: getpid(2), then one write(2) (errno preserved for the
        // interrupted code), or in a forked child sigaction(2) and raise(3).
        // SAFETY: getpid has no preconditions.
        if unsafe { libc::getpid() } != OWNER.load(Ordering::Relaxed) {
            // A forked child: SIGTERM's default action, as without logkit.
            // SAFETY: a zeroed `sigaction` is SIG_DFL with an empty mask; sigaction and
            // raise are async-signal-safe.
            unsafe {
                let dfl: libc::sigaction = std::mem::zeroed();
                libc::sigaction(libc::SIGTERM, &dfl, std::ptr::null_mut());
                libc::raise(libc::SIGTERM);
            }
            return;
        }
        let fd = WAKE.load(Ordering::Relaxed);
        if fd >= 0 {
            let byte = 1u8;
            // SAFETY: `errno()` is this thread's valid errno location; `byte` is valid
            // for one byte; write(2) is async-signal-safe.
            unsafe {
                let saved = *errno();
                libc::write(fd, (&byte as *const u8).cast(), 1);
                *errno() = saved;
            }
        }
    }

    /// The handler SIGTERM has now.
    fn current() -> Option<libc::sighandler_t> {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter; a null new action only
        // reads the current one.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut old) == 0).then_some(old.sa_sigaction)
        }
    }

    pub(super) fn install() {
        if current() != Some(libc::SIG_DFL) {
            return;
        }
        let mut fds = [-1; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return;
        }
        let read_end = fds[0];
        let spawned = std::thread::Builder::new().name("logkit-signal".into()).spawn(move || wait(read_end));
        if spawned.is_err() {
            // SAFETY: both ends were just opened by pipe2 and are used nowhere else.
            unsafe {
                libc::close(fds[0]);
                libc::close(fds[1]);
            }
            return;
        }
        WAKE.store(fds[1], Ordering::Relaxed);
        // SAFETY: getpid has no preconditions.
        OWNER.store(unsafe { libc::getpid() }, Ordering::Relaxed);
        // SAFETY: a zeroed `sigaction` with a handler, an empty mask and SA_RESTART is a
        // valid action; the handler only calls async-signal-safe functions.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(libc::SIGTERM, &act, std::ptr::null_mut());
        }
    }

    /// The `logkit-signal` thread: waits for the handler's byte.
    fn wait(fd: libc::c_int) {
        let mut byte = 0u8;
        loop {
            // SAFETY: `byte` is valid for one byte.
            let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                let ours = on_sigterm as extern "C" fn(libc::c_int) as libc::sighandler_t;
                if current() == Some(ours) {
                    terminate();
                }
                // Another handler took over SIGTERM and called ours: shutdown is the
                // application's (the exit hook still reports and flushes).
                continue;
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
    }

    fn terminate() {
        let _ = std::panic::catch_unwind(|| {
            crate::span::log_open_spans("sigterm");
            super::last_flush();
        });
        // SAFETY: restoring the default disposition and raising the signal on this
        // thread (unblocked first) ends the process as SIGTERM's default action does;
        // `_exit` is the fallback should it somehow return.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(libc::SIGTERM);
            libc::_exit(128 + libc::SIGTERM);
        }
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
            // Built with `panic = "abort"`, no span ends after this and no exit hook
            // runs: say now which were open. (Unwinding, the panicking thread's spans
            // end with the panic, and if it ends the process the exit hook reports
            // those of the other threads.)
            if cfg!(panic = "abort") {
                crate::span::log_open_spans("panic");
            }
            flush();
        }
        previous(info);
    }));
}
