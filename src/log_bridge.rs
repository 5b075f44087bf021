//! The `log` facade: records from `log::info!` and friends (in any crate) flow into
//! logkit's pipeline with their target, through the same gate and sampling.
//!
//! Installed when logkit starts, unless another logger was set first. `log` records
//! logged before logkit starts are dropped by `log` itself (no logger yet): call
//! `logkit::init()` early if dependencies log during start-up.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::level::{Level, LevelFilter};
use crate::record::{Encoder, HAS_MESSAGE, HAS_TARGET};
use crate::{clock, context, filter, frontend};

/// The logger handed to `log`: `flush` is the runtime's (given at install, so this
/// module does not call up into the runtime).
struct Bridge {
    flush: fn(),
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

fn level(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warn,
        log::Level::Info => Level::Info,
        log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Trace,
    }
}

impl log::Log for Bridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        filter::enabled_dynamic(level(m.level()), m.target()) && !muted()
    }

    fn log(&self, r: &log::Record<'_>) {
        let lvl = level(r.level());
        if !filter::enabled_dynamic(lvl, r.target()) || !filter::sampled(lvl) || muted() {
            return;
        }
        let Some(fe) = frontend::get() else { return };
        let ts = clock::now();
        let target = r.target();
        let args = *r.args();
        fe.write(&mut |buf| {
            let mut enc = Encoder::begin(buf, lvl, HAS_TARGET | HAS_MESSAGE, None, ts);
            enc.raw_str(target);
            enc.raw_fmt(args);
            context::encode_current(&mut enc);
            enc.finish();
        });
    }

    fn flush(&self) {
        (self.flush)();
    }
}

/// Makes logkit the `log` crate's logger, unless another one is already set; `log`'s
/// `flush` calls `flush`.
pub(crate) fn install(flush: fn()) {
    if log::set_boxed_logger(Box::new(Bridge { flush })).is_ok() {
        INSTALLED.store(true, Ordering::Release);
        set_max_level();
    }
}

/// Mirrors logkit's most verbose level into `log`'s static filter, so disabled `log`
/// calls stay a single comparison. Only when the bridge is the installed logger.
pub(crate) fn set_max_level() {
    if !INSTALLED.load(Ordering::Acquire) {
        return;
    }
    log::set_max_level(match filter::max_level() {
        LevelFilter::Off => log::LevelFilter::Off,
        LevelFilter::Error => log::LevelFilter::Error,
        LevelFilter::Warn => log::LevelFilter::Warn,
        LevelFilter::Info => log::LevelFilter::Info,
        LevelFilter::Debug => log::LevelFilter::Debug,
        LevelFilter::Trace => log::LevelFilter::Trace,
    });
}

thread_local! {
    /// Set on logkit's own threads that call libraries logging through `log` (the OTLP
    /// exporter's HTTP client): their records would be exported again, a loop.
    static MUTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Drops every `log` record of the calling thread from now on.
#[cfg(feature = "otlp")]
pub(crate) fn mute_this_thread() {
    MUTED.with(|m| m.set(true));
}

#[inline]
fn muted() -> bool {
    MUTED.try_with(std::cell::Cell::get).unwrap_or(false)
}
