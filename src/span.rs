//! Spans: `span!` guards, `#[capture]`, their `END` records, and error / panic
//! details (`exc_info`).
//!
//! Opening a span binds a new `span_id` (child of the current span) to the context;
//! closing it logs one `END` record with `span`, `dur_ms` (microsecond precision) and
//! `status`, plus `exc_info` when it failed: the error's message and `source()` chain,
//! or the panic's message, location and backtrace.

use std::cell::RefCell;
use std::error::Error;
use std::fmt::{self, Display};
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::callsite::Callsite;
use crate::context::{self, Current, Installed};
use crate::id::{SpanId, TraceId};
use crate::level::Level;
use crate::record::{Encoder, HAS_MESSAGE, HAS_TARGET};
use crate::value::Value;
use crate::{clock, filter, frontend};

/// What a span site knows at compile time: its target and bound-key names. Not API.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanSite {
    target: &'static str,
    fields: &'static [&'static str],
}

impl SpanSite {
    #[doc(hidden)]
    pub const fn new(target: &'static str, fields: &'static [&'static str]) -> SpanSite {
        SpanSite { target, fields }
    }
}

static END_CS: Callsite = Callsite::new(Level::Info, "logkit", file!(), line!(), &["span", "dur_ms", "status"]);
static END_ERR_CS: Callsite =
    Callsite::new(Level::Error, "logkit", file!(), line!(), &["span", "dur_ms", "status", "exc_info"]);

/// The state of an open span, shared by the [`Span`] guard and `#[capture] async fn`.
#[derive(Debug)]
struct Open {
    site: &'static SpanSite,
    name: &'static str,
    trace: TraceId,
    id: SpanId,
    parent: Option<SpanId>,
    /// Raw clock reading (see `clock`).
    start: u64,
    /// `exc_info` JSON once the span failed.
    failure: Option<String>,
}

impl Open {
    fn enter(site: &'static SpanSite, name: &'static str, values: &[&dyn Value]) -> Open {
        clear_stale_panic();
        let (trace, id, parent) = context::push_span(site.fields, values);
        Open { site, name, trace, id, parent, start: clock::now(), failure: None }
    }

    /// Logs the END record and closes the span's frame.
    fn close(self, panicking: bool) {
        let end = clock::now();
        let dur_ns = clock::elapsed_ns(self.start, end);
        let failure = match self.failure {
            Some(f) => Some(f),
            None if panicking => Some(take_panic_info().unwrap_or_else(|| exc_info_message("panic", "panicked"))),
            None => None,
        };
        let level = if failure.is_some() { Level::Error } else { Level::Info };
        let enabled = filter::enabled_dynamic(level, self.site.target) && filter::sampled(level);
        let (id, trace, parent, name, target) = (self.id, self.trace, self.parent, self.name, self.site.target);
        context::pop_span(id, |ctx| {
            if !enabled {
                return;
            }
            let Some(fe) = frontend::get() else { return };
            let ts = end;
            // Microsecond precision: 2.013 ms.
            let dur_ms = (dur_ns / 1_000) as f64 / 1_000.0;
            let fallback;
            let (ids, fields): (&[u8], &[u8]) = match ctx {
                Some(c) => c,
                None => {
                    fallback = own_ids(trace, id, parent);
                    (&fallback, &[])
                }
            };
            fe.write(&mut |buf| {
                let cs = if failure.is_some() { &END_ERR_CS } else { &END_CS };
                let mut enc = Encoder::begin(buf, level, HAS_TARGET | HAS_MESSAGE, Some(cs), ts);
                enc.raw_str(target);
                enc.raw_str("END");
                enc.context2(ids, fields);
                let mut v = enc.values();
                v.str(name);
                v.f64(dur_ms);
                match &failure {
                    None => v.str("success"),
                    Some(exc) => {
                        v.str("error");
                        v.json(exc);
                    }
                }
                enc.finish();
            });
        });
    }
}

/// The context entries of a span whose frame is gone (its guard moved threads, or
/// `new_context!` replaced the context): its own ids only.
fn own_ids(trace: TraceId, id: SpanId, parent: Option<SpanId>) -> Vec<u8> {
    let mut c = Current::default();
    c.set_ids_only(trace, id, parent);
    c.ids_bytes().to_vec()
}

/// A span: open while this guard lives; dropping it logs the `END` record.
///
/// Created by [`span!`](crate::span!). Not `Send`: a span belongs to the thread (or,
/// inside `#[capture]` / [`in_current_context`](crate::FutureExt::in_current_context),
/// the task) that opened it.
#[must_use = "a span ends when its guard is dropped: bind it with `let _span = span!(...)`"]
pub struct Span {
    open: Option<Open>,
    failure: RefCell<Option<String>>,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.open {
            Some(o) => f.debug_struct("Span").field("name", &o.name).field("span_id", &o.id).finish(),
            None => f.write_str("Span(closed)"),
        }
    }
}

impl Span {
    /// Opens a span (`span!`, through `__private::span`, which starts logkit first).
    pub(crate) fn enter(site: &'static SpanSite, name: &'static str, values: &[&dyn Value]) -> Span {
        Span { open: Some(Open::enter(site, name, values)), failure: RefCell::new(None), _not_send: PhantomData }
    }

    /// This span's id.
    pub fn id(&self) -> Option<SpanId> {
        self.open.as_ref().map(|o| o.id)
    }

    /// The trace this span belongs to.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.open.as_ref().map(|o| o.trace)
    }

    /// Marks the span failed with `err`: its `END` record gets `status="error"` and an
    /// `exc_info` with the error's type, message and whole `source()` chain.
    pub fn fail<E: Error + ?Sized>(&self, err: &E) {
        *self.failure.borrow_mut() = Some(exc_info_error(std::any::type_name::<E>(), err));
    }

    /// Marks the span failed with a message (for errors that are not `std::error::Error`).
    pub fn fail_with(&self, message: impl Display) {
        *self.failure.borrow_mut() = Some(exc_info_message("error", &message.to_string()));
    }

    #[doc(hidden)]
    pub fn __set_outcome(&self, outcome: Outcome) {
        if let Outcome::Error(exc) = outcome {
            *self.failure.borrow_mut() = Some(exc);
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(mut open) = self.open.take() {
            if open.failure.is_none() {
                open.failure = self.failure.get_mut().take();
            }
            open.close(std::thread::panicking());
        }
    }
}

/// `#[capture] async fn`: the span opens at the first poll and closes with the
/// future's outcome; the future runs in its own context, whichever thread polls it.
/// Not API.
#[doc(hidden)]
#[must_use = "futures do nothing unless polled"]
pub struct Captured<F> {
    inner: F,
    ctx: Current,
    site: &'static SpanSite,
    name: &'static str,
    /// Bound-key values, encoded at creation (they may borrow the fn's arguments).
    values: Option<Vec<u8>>,
    open: Option<Open>,
}

/// A `#[capture] async fn`'s span, before its future exists: the keys are encoded
/// when the fn is called. Not API.
#[doc(hidden)]
#[derive(Debug)]
pub struct CaptureStart {
    site: &'static SpanSite,
    name: &'static str,
    values: Option<Vec<u8>>,
}

impl CaptureStart {
    /// Encodes the keys (`__private::capture_start`, which starts logkit first).
    pub(crate) fn new(site: &'static SpanSite, name: &'static str, values: &[&dyn Value]) -> CaptureStart {
        let values = if values.is_empty() { None } else { Some(context::encode_values(site.fields, values)) };
        CaptureStart { site, name, values }
    }

    /// The captured future: runs in the caller's context (as it is now), inside the
    /// span. `inner` yields the fn's output and its [`Outcome`].
    #[doc(hidden)]
    pub fn wrap<T, F: Future<Output = (T, Outcome)>>(self, inner: F) -> Captured<F> {
        Captured { inner, ctx: context::snapshot(), site: self.site, name: self.name, values: self.values, open: None }
    }
}

impl<T, F: Future<Output = (T, Outcome)>> Future for Captured<F> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<T> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` (the
        // `Drop` impl below only touches the other fields), and `Captured` is not
        // `Unpin` unless `F` is. The other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let _installed = Installed::new(&mut this.ctx);
        if this.open.is_none() {
            clear_stale_panic();
            let pre = this.values.take();
            let (trace, id, parent) = context::push_span_encoded(pre.as_deref());
            this.open =
                Some(Open { site: this.site, name: this.name, trace, id, parent, start: clock::now(), failure: None });
        }
        // SAFETY: see above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        match inner.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((out, outcome)) => {
                if let Some(mut open) = this.open.take() {
                    if let Outcome::Error(exc) = outcome {
                        open.failure = Some(exc);
                    }
                    open.close(false);
                }
                Poll::Ready(out)
            }
        }
    }
}

impl<F> Drop for Captured<F> {
    fn drop(&mut self) {
        // Dropped before completing: cancelled (a timeout, a `select!`), or unwinding.
        if let Some(mut open) = self.open.take() {
            let _installed = Installed::new(&mut self.ctx);
            let panicking = std::thread::panicking();
            if !panicking {
                open.failure = Some(exc_info_message("cancelled", "the future was dropped before it completed"));
            }
            open.close(panicking);
        }
    }
}

/// How a captured function ended. Not API.
#[doc(hidden)]
#[derive(Debug)]
pub enum Outcome {
    /// Returned normally (or returned `Ok`).
    Success,
    /// Returned `Err`: the `exc_info` JSON.
    Error(String),
}

/// Autoref specialisation: `__outcome!(&ret)` expands to
/// `(&&&&&&Wrap(&ret)).__logkit_outcome()`, which picks the most specific of these
/// for the return value's type, at the `#[capture]` expansion site (one `&` per level,
/// most specific first). Not API.
#[doc(hidden)]
pub mod outcome {
    use super::*;

    /// The return value, borrowed.
    #[doc(hidden)]
    pub struct Wrap<'a, R>(pub &'a R);

    /// `Result<T, E: Error>`: type, message and `source()` chain.
    pub trait ViaError {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<T, E: Error + 'static> ViaError for &&&&&Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error(exc_info_error(std::any::type_name::<E>(), e)),
            }
        }
    }

    /// `Result<T, E>` where `E` derefs to `dyn Error + Send + Sync` (`anyhow::Error`,
    /// `Box<dyn Error + Send + Sync>`).
    pub trait ViaDynErrorSend {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<T, E: Deref<Target = dyn Error + Send + Sync + 'static>> ViaDynErrorSend for &&&&Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error(exc_info_error(std::any::type_name::<E>(), &**e)),
            }
        }
    }

    /// `Result<T, Box<dyn Error>>`.
    pub trait ViaDynError {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<T, E: Deref<Target = dyn Error + 'static>> ViaDynError for &&&Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error(exc_info_error(std::any::type_name::<E>(), &**e)),
            }
        }
    }

    /// `Result<T, E: Display>`: type and message.
    pub trait ViaDisplay {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<T, E: Display> ViaDisplay for &&Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error(exc_info_message(std::any::type_name::<E>(), &e.to_string())),
            }
        }
    }

    /// Any other `Result<T, E>`: an `Err` is still an error, described by its type.
    pub trait ViaResult {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<T, E> ViaResult for &Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(_) => Outcome::Error(exc_info_message(std::any::type_name::<E>(), "an error that is not Display")),
            }
        }
    }

    /// Anything that is not a `Result`: success.
    pub trait ViaAny {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<R> ViaAny for Wrap<'_, R> {
        fn __logkit_outcome(&self) -> Outcome {
            Outcome::Success
        }
    }
}

/// `{"type":..,"message":..,"chain":[..]}` for an error.
pub(crate) fn exc_info_error<E: Error + ?Sized>(type_name: &str, err: &E) -> String {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"type\":");
    crate::render::json::write_str(&mut out, type_name);
    out.extend_from_slice(b",\"message\":");
    crate::render::json::write_str(&mut out, &err.to_string());
    out.extend_from_slice(b",\"chain\":[");
    let mut src = err.source();
    let mut first = true;
    let mut depth = 0;
    while let Some(s) = src {
        if !first {
            out.push(b',');
        }
        first = false;
        crate::render::json::write_str(&mut out, &s.to_string());
        src = s.source();
        depth += 1;
        if depth >= 64 {
            break; // a cyclic chain
        }
    }
    out.extend_from_slice(b"]}");
    String::from_utf8(out).unwrap_or_default()
}

/// `{"type":..,"message":..}`.
pub(crate) fn exc_info_message(type_name: &str, message: &str) -> String {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"{\"type\":");
    crate::render::json::write_str(&mut out, type_name);
    out.extend_from_slice(b",\"message\":");
    crate::render::json::write_str(&mut out, message);
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

thread_local! {
    /// The last panic on this thread, stashed by the panic hook so that spans dropped
    /// while unwinding can report it.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// `{"type":"panic","message":..,"location":..,"thread":..,"backtrace":..}`, built in
/// the panic hook (where the payload and location are known), then stashed.
pub(crate) fn panic_exc_info(info: &std::panic::PanicHookInfo<'_>) -> String {
    let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
    let thread = std::thread::current();
    let backtrace = std::backtrace::Backtrace::force_capture().to_string();
    let mut out = Vec::with_capacity(256 + backtrace.len());
    out.extend_from_slice(b"{\"type\":\"panic\",\"message\":");
    crate::render::json::write_str(&mut out, &message);
    out.extend_from_slice(b",\"location\":");
    crate::render::json::write_str(&mut out, &location);
    out.extend_from_slice(b",\"thread\":");
    crate::render::json::write_str(&mut out, thread.name().unwrap_or("<unnamed>"));
    out.extend_from_slice(b",\"backtrace\":");
    crate::render::json::write_str(&mut out, &backtrace);
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

pub(crate) fn stash_panic(exc: String) {
    let _ = LAST_PANIC.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            *p = Some(exc);
        }
    });
}

/// A panic stashed before a span opened cannot be the one that ends it: forget it
/// (a panic the hook did not see, e.g. after the app replaced the hook, then ends the
/// span with a generic "panicked").
fn clear_stale_panic() {
    if std::thread::panicking() {
        return;
    }
    let _ = LAST_PANIC.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.is_some() {
                *p = None;
            }
        }
    });
}

fn take_panic_info() -> Option<String> {
    LAST_PANIC.try_with(|p| p.try_borrow().ok().and_then(|p| p.clone())).ok().flatten()
}

static PANIC_CS: Callsite = Callsite::new(Level::Error, "logkit::panic", file!(), line!(), &["exc_info"]);

/// Logs a panic as an error record in the current context (from the panic hook).
pub(crate) fn log_panic(exc: &str) {
    let Some(fe) = frontend::get() else { return };
    if !filter::enabled_dynamic(Level::Error, PANIC_CS.target()) {
        return;
    }
    let ts = clock::now();
    fe.write(&mut |buf| {
        let mut enc = Encoder::begin(buf, Level::Error, HAS_MESSAGE, Some(&PANIC_CS), ts);
        enc.raw_str("panic");
        context::encode_current(&mut enc);
        enc.values().json(exc);
        enc.finish();
    });
}
