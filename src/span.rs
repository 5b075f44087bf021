//! Spans: `span!` guards, `#[capture]`, their `END` records, and error / panic
//! details (`exc_info`).
//!
//! Opening a span binds a new `span_id` (child of the current span) to the context
//! and logs one `START` record (`span`, with the span's ids and keys from the context;
//! `LOG_SPAN_START=0` turns it off), so a span that never ends — a process killed or
//! hung inside it — still has its name and start time in the log; closing it logs one
//! `END` record with `span`, `dur_ms` (microsecond precision) and
//! `status`, plus `exc_info` when it failed: the error's message and `source()` chain,
//! or the panic's message, location and backtrace.

use std::borrow::Cow;
use std::cell::RefCell;
use std::error::Error;
use std::fmt::{self, Display};
use std::future::Future;
use std::io::Write as _;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};

use crate::callsite::Callsite;
use crate::context::{self, Current, Installed};
use crate::id::{SpanId, TraceId};
use crate::level::Level;
use crate::record::{Encoder, HAS_MESSAGE, HAS_TARGET, INLINE_KEYS};
use crate::span_state::{self, SpanState};
use crate::value::Value;
use crate::{clock, filter, frontend, open_spans};

/// What a span site knows at compile time: its target and bound-key names. Not API.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanSite {
    target: &'static str,
    fields: &'static [&'static str],
    /// The level of its `START` and of a successful `END` (a failed one is an ERROR).
    level: Level,
    /// Given a level (`#[capture(level = ..)]`): the span opens only when its level is
    /// enabled for its target. A span without one always opens, so that a failure's
    /// `END` (an ERROR) is written whatever the floor.
    gated: bool,
}

impl SpanSite {
    #[doc(hidden)]
    pub const fn new(target: &'static str, fields: &'static [&'static str]) -> SpanSite {
        SpanSite { target, fields, level: Level::Info, gated: false }
    }

    /// A site with the level `level` gives, else as [`SpanSite::new`].
    #[doc(hidden)]
    pub const fn at(level: Option<Level>, target: &'static str, fields: &'static [&'static str]) -> SpanSite {
        match level {
            Some(level) => SpanSite { target, fields, level, gated: true },
            None => SpanSite::new(target, fields),
        }
    }

    /// Whether a span of this site opens now (see `gated`).
    pub(crate) fn enabled(&self) -> bool {
        !self.gated || filter::enabled_dynamic(self.level, self.target)
    }
}

pub use crate::context::SpanParent;

/// What `#[capture(parent = ..)]` takes: a [`SpanId`], an `Option<SpanId>` (`None`: a
/// root span of the current trace), a `&Span` or a [`CurrentSpan`]. A closed or disabled span as the parent means the current span.
pub trait IntoSpanParent {
    /// Where the span opens.
    #[doc(hidden)]
    fn into_span_parent(self) -> SpanParent;
}

impl IntoSpanParent for SpanId {
    fn into_span_parent(self) -> SpanParent {
        SpanParent::Span(self)
    }
}

impl IntoSpanParent for Option<SpanId> {
    fn into_span_parent(self) -> SpanParent {
        self.map_or(SpanParent::Root, SpanParent::Span)
    }
}

impl IntoSpanParent for &Span {
    fn into_span_parent(self) -> SpanParent {
        self.id().map_or(SpanParent::Current, SpanParent::Span)
    }
}

impl IntoSpanParent for CurrentSpan {
    fn into_span_parent(self) -> SpanParent {
        self.id.map_or(SpanParent::Current, SpanParent::Span)
    }
}

impl IntoSpanParent for SpanParent {
    fn into_span_parent(self) -> SpanParent {
        self
    }
}

/// The `START` and successful `END` call sites, one per level (indexed by `level as
/// usize - 1`): the writer renders a record's level from its call site.
static START_CS: [Callsite; 5] = [
    Callsite::new(Level::Error, "logkit", file!(), line!(), &["span"]),
    Callsite::new(Level::Warn, "logkit", file!(), line!(), &["span"]),
    Callsite::new(Level::Info, "logkit", file!(), line!(), &["span"]),
    Callsite::new(Level::Debug, "logkit", file!(), line!(), &["span"]),
    Callsite::new(Level::Trace, "logkit", file!(), line!(), &["span"]),
];
static END_CS: [Callsite; 5] = [
    Callsite::new(Level::Error, "logkit", file!(), line!(), &["span", "dur_ms", "status"]),
    Callsite::new(Level::Warn, "logkit", file!(), line!(), &["span", "dur_ms", "status"]),
    Callsite::new(Level::Info, "logkit", file!(), line!(), &["span", "dur_ms", "status"]),
    Callsite::new(Level::Debug, "logkit", file!(), line!(), &["span", "dur_ms", "status"]),
    Callsite::new(Level::Trace, "logkit", file!(), line!(), &["span", "dur_ms", "status"]),
];
static END_ERR_CS: Callsite =
    Callsite::new(Level::Error, "logkit", file!(), line!(), &["span", "dur_ms", "status", "exc_info"]);

/// Whether `cs` is the call site of a span's `END` record (the OTLP exporter makes
/// those spans).
#[cfg(feature = "otlp")]
pub(crate) fn is_end_callsite(cs: &'static Callsite) -> bool {
    END_CS.iter().any(|c| std::ptr::eq(cs, c)) || std::ptr::eq(cs, &END_ERR_CS)
}

/// The call site of an `END` record, for the exporter's tests.
#[cfg(all(test, feature = "otlp"))]
pub(crate) fn end_callsite(failed: bool) -> &'static Callsite {
    if failed {
        &END_ERR_CS
    } else {
        &END_CS[Level::Info as usize - 1]
    }
}

/// Whether `cs` is the call site of a span's `START` record.
#[cfg(feature = "otlp")]
pub(crate) fn is_start_callsite(cs: &'static Callsite) -> bool {
    START_CS.iter().any(|c| std::ptr::eq(cs, c))
}

/// The name of a span: a literal is borrowed, a computed name owned.
pub(crate) type SpanName = Cow<'static, str>;

/// What `span!`'s name may be: a string literal (`span!("handle")`, never copied), a
/// `String` (`span!(name = format!("GET {route}"))`), or any other `&str`, which the
/// span copies so that it may borrow from anything that lives while `span!` runs.
pub trait IntoSpanName {
    /// The name, borrowed when it is `'static`, else owned.
    fn into_span_name(self) -> Cow<'static, str>;
}

impl IntoSpanName for &str {
    fn into_span_name(self) -> Cow<'static, str> {
        Cow::Owned(self.to_owned())
    }
}

impl IntoSpanName for String {
    fn into_span_name(self) -> Cow<'static, str> {
        Cow::Owned(self)
    }
}

impl IntoSpanName for &String {
    fn into_span_name(self) -> Cow<'static, str> {
        Cow::Owned(self.clone())
    }
}

impl IntoSpanName for Cow<'static, str> {
    fn into_span_name(self) -> Cow<'static, str> {
        self
    }
}

/// A name known to be `'static` (a literal, or `#[capture]`'s fn path): borrowed, not
/// copied. Not API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct StaticName(pub &'static str);

impl IntoSpanName for StaticName {
    fn into_span_name(self) -> Cow<'static, str> {
        Cow::Borrowed(self.0)
    }
}

/// The state of an open span, shared by the [`Span`] guard and `#[capture] async fn`.
#[derive(Debug)]
struct Open {
    site: &'static SpanSite,
    name: SpanName,
    trace: TraceId,
    id: SpanId,
    parent: Option<SpanId>,
    /// Raw clock reading (see `clock`).
    start: u64,
    /// `exc_info` JSON when the captured fn returned `Err` or its future was dropped
    /// early: the fn's own outcome, which wins over an earlier `fail`.
    outcome: Option<String>,
    /// Its entry in the registry of open spans, removed when the span closes (or is
    /// dropped without closing).
    _registered: open_spans::Registration,
}

/// Whether spans log a `START` record (`LOG_SPAN_START`, on by default).
static SPAN_START: AtomicBool = AtomicBool::new(true);

/// Turns `START` records on or off (at start, from the configuration).
pub(crate) fn set_span_start(on: bool) {
    SPAN_START.store(on, Ordering::Relaxed);
}

impl Open {
    fn enter(site: &'static SpanSite, name: SpanName, under: SpanParent, values: &[&dyn Value]) -> Open {
        clear_stale_panic();
        let (trace, id, parent) = context::push_span(under, site.fields, values);
        let open = Open::opened(site, name, trace, id, parent);
        open.log_start();
        open
    }

    /// A span that opens now: its start time, and its entry in the registry of open
    /// spans (for `logkit.open_spans`).
    #[inline]
    fn opened(site: &'static SpanSite, name: SpanName, trace: TraceId, id: SpanId, parent: Option<SpanId>) -> Open {
        let start = clock::now();
        let entry = open_spans::OpenEntry { name: name.clone(), trace, id, parent, start };
        let _registered = open_spans::register(entry);
        Open { site, name, trace, id, parent, start, outcome: None, _registered }
    }

    /// The `START` record, in the context the span just opened (its ids and keys), at
    /// the span's start time; filtered like its `END` (INFO, the span's target, the
    /// span's trace for sampling).
    fn log_start(&self) {
        let level = self.site.level;
        let on = SPAN_START.load(Ordering::Relaxed)
            && filter::enabled_dynamic(level, self.site.target)
            && filter::sampled_in(level, self.trace);
        if !on {
            return;
        }
        let Some(fe) = frontend::get() else { return };
        let (target, name, ts) = (self.site.target, &*self.name, self.start);
        fe.write(&mut |buf| {
            let mut enc = Encoder::begin(buf, level, HAS_TARGET | HAS_MESSAGE, Some(&START_CS[level as usize - 1]), ts);
            enc.raw_str(target);
            enc.raw_str("START");
            context::encode_current(&mut enc);
            enc.values().str(name);
            enc.finish();
        });
    }

    /// Logs the END record and closes the span's frame. `local` is what the guard was
    /// told while its frame was out of reach.
    fn close(self, panicking: bool, local: SpanState) {
        let end = clock::now();
        let dur_ns = clock::elapsed_ns(self.start, end);
        let Open { site, name, trace, id, parent, outcome, .. } = self;
        let target = site.target;
        context::pop_span(id, |ctx, mut state| {
            // What the guard was told out of its frame's reach: rarely anything.
            if !local.is_empty() {
                state.merge(local);
            }
            let failure = match outcome.or(state.failure.take()) {
                Some(f) => Some(f),
                None if panicking => Some(take_panic_info().unwrap_or_else(|| exc_info_message("panic", "panicked"))),
                None => None,
            };
            let level = if failure.is_some() { Level::Error } else { site.level };
            // The trace the span is in now: `new_context!` re-homes open spans.
            let trace = ctx.and_then(|(t, _, _)| t).unwrap_or(trace);
            // Sampled by the span's trace, so a kept trace has every END and a dropped
            // one none (a failed span's END is an ERROR: always kept).
            if !(filter::enabled_dynamic(level, target) && filter::sampled_in(level, trace)) {
                return;
            }
            let Some(fe) = frontend::get() else { return };
            let ts = end;
            // Microsecond precision: 2.013 ms.
            let dur_ms = (dur_ns / 1_000) as f64 / 1_000.0;
            let fallback;
            let (ids, fields): (&[u8], &[u8]) = match ctx {
                Some((_, ids, fields)) => (ids, fields),
                None => {
                    fallback = own_ids(trace, id, parent);
                    (&fallback, &[])
                }
            };
            let recorded = state.fields();
            fe.write(&mut |buf| {
                let cs = if failure.is_some() { &END_ERR_CS } else { &END_CS[level as usize - 1] };
                // Recorded fields have keys of their own: then every key is inline.
                let inline = !recorded.is_empty();
                let flags = HAS_TARGET | HAS_MESSAGE | if inline { INLINE_KEYS } else { 0 };
                let mut enc = Encoder::begin(buf, level, flags, Some(cs), ts);
                enc.raw_str(target);
                enc.raw_str("END");
                enc.context2(ids, fields);
                let key = |enc: &mut Encoder<'_>, k: &str| {
                    if inline {
                        enc.raw_str(k);
                    }
                };
                key(&mut enc, "span");
                enc.values().str(&name);
                key(&mut enc, "dur_ms");
                enc.values().f64(dur_ms);
                key(&mut enc, "status");
                match &failure {
                    None => enc.values().str("success"),
                    Some(exc) => {
                        enc.values().str("error");
                        key(&mut enc, "exc_info");
                        enc.values().json(exc);
                    }
                }
                enc.inline_fields(recorded);
                enc.finish();
            });
        });
    }
}

/// A span opened by an integration rather than a macro (the `tracing` layer, the
/// tower middleware): the same open state, ids and `END` record as `span!`, kept
/// where the integration keeps its per-span data (so it is `Send`, unlike [`Span`]).
#[cfg(any(feature = "tracing", feature = "tower"))]
#[derive(Debug)]
pub(crate) struct OpenSpan(Open, context::SharedIds);

#[cfg(any(feature = "tracing", feature = "tower"))]
impl OpenSpan {
    /// Opens a span in the current context (and logs its `START`, as `span!` does),
    /// its bound keys already encoded as `key value` entries (see
    /// `context::encode_values`).
    pub(crate) fn open(site: &'static SpanSite, name: SpanName, encoded: &[u8]) -> OpenSpan {
        clear_stale_panic();
        let shared = context::SharedIds::new(std::sync::Mutex::new((TraceId::random(), None)));
        let (trace, id, parent) = context::push_span_shared(encoded, &shared);
        let open = Open::opened(site, name, trace, id, parent);
        open.log_start();
        OpenSpan(open, shared)
    }

    /// The span's trace and parent now: a `new_context!` that ran while it was open
    /// re-homed it (whichever thread asks).
    fn ids(&self) -> (TraceId, Option<SpanId>) {
        match self.1.lock() {
            Ok(ids) => *ids,
            Err(_) => (self.0.trace, self.0.parent),
        }
    }

    pub(crate) fn trace_id(&self) -> TraceId {
        self.ids().0
    }

    pub(crate) fn id(&self) -> SpanId {
        self.0.id
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn parent(&self) -> Option<SpanId> {
        self.ids().1
    }

    /// Logs the `END` record in the current context and closes the span's frame.
    /// `state`: what the span was told (recorded fields, a failure); `panicking`: it
    /// ends because of a panic (the stashed panic, if any, becomes its `exc_info`).
    pub(crate) fn close(self, panicking: bool, state: SpanState) {
        let (trace, parent) = self.ids();
        let mut open = self.0;
        (open.trace, open.parent) = (trace, parent);
        open.close(panicking, state);
    }
}

/// The context entries of a span whose frame is out of reach (its guard moved to
/// another context, or a `scoped_context!` guard restored another one): its own ids
/// only.
fn own_ids(trace: TraceId, id: SpanId, parent: Option<SpanId>) -> Vec<u8> {
    let mut c = Current::default();
    c.set_ids_only(trace, id, parent);
    c.ids_bytes().to_vec()
}

/// Applies `f` to the state of the open span `id`: in its frame of the current
/// context, else (the frame is out of reach) in `local`, when the caller has one.
fn update_state(id: SpanId, local: Option<&RefCell<SpanState>>, mut f: impl FnMut(&mut SpanState)) {
    if context::with_span_state(id, &mut f) {
        return;
    }
    if let Some(local) = local {
        if let Ok(mut l) = local.try_borrow_mut() {
            f(&mut l);
        }
    }
}

/// A span: open while this guard lives; dropping it logs the `END` record.
///
/// Created by [`span!`](crate::span!). Not `Send`: a span belongs to the thread (or,
/// inside `#[capture]` / [`in_current_context`](crate::FutureExt::in_current_context),
/// the task) that opened it.
///
/// ```no_run
/// # use logkit::span;
/// # let status = 500;
/// let span = span!("http.request");
/// span.record("http.response.status_code", status);
/// if status >= 500 {
///     span.set_status_error("internal server error");
/// }
/// // END: {"span":"http.request","status":"error",...,"http.response.status_code":500}
/// ```
#[must_use = "a span ends when its guard is dropped: bind it with `let _span = span!(...)`"]
pub struct Span {
    open: Option<Open>,
    /// What the span is told while its frame is not in the current context.
    local: RefCell<SpanState>,
    /// Set by `#[capture]`: the fn's outcome.
    outcome: RefCell<Option<String>>,
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
    pub(crate) fn enter(site: &'static SpanSite, name: SpanName, under: SpanParent, values: &[&dyn Value]) -> Span {
        Span {
            open: Some(Open::enter(site, name, under, values)),
            local: RefCell::new(SpanState::default()),
            outcome: RefCell::new(None),
            _not_send: PhantomData,
        }
    }

    /// A span that is not open (its level was disabled): every method is a no-op and
    /// dropping it writes nothing. Not API.
    #[doc(hidden)]
    pub fn disabled() -> Span {
        Span {
            open: None,
            local: RefCell::new(SpanState::default()),
            outcome: RefCell::new(None),
            _not_send: PhantomData,
        }
    }

    /// The span itself. A logkit span is entered when `span!` creates it, so
    /// `span!(..).entered()`, written for `tracing`, means the same here.
    pub fn entered(self) -> Span {
        self
    }

    /// This span's id.
    pub fn id(&self) -> Option<SpanId> {
        self.open.as_ref().map(|o| o.id)
    }

    /// The trace this span belongs to: the one it opened in, or the trace of a
    /// `new_context!` that ran while it was open (which re-homes it).
    pub fn trace_id(&self) -> Option<TraceId> {
        self.open.as_ref().map(|o| context::span_trace(o.id).unwrap_or(o.trace))
    }

    /// The span's name.
    pub fn name(&self) -> Option<&str> {
        self.open.as_ref().map(|o| &*o.name)
    }

    /// Adds `key = value` (any [`Value`]) to the span's `END` record, after its
    /// `status`. Recording a key again replaces the earlier value. A key logkit writes
    /// itself (`status`, `level`, ...: see the crate docs) is written as
    /// `field.<key>`.
    #[inline]
    pub fn record<V: Value>(&self, key: &str, value: V) {
        self.record_dyn(key, &value);
    }

    fn record_dyn(&self, key: &str, value: &dyn Value) {
        let Some(o) = &self.open else { return };
        let entry = span_state::encode_entry(key, value);
        update_state(o.id, Some(&self.local), |s| s.set(&entry));
    }

    /// Marks the span failed with `err`: its `END` record gets `status="error"` and an
    /// `exc_info` with the error's type, message and whole `source()` chain.
    pub fn fail<E: Error + ?Sized>(&self, err: &E) {
        self.set_failure(exc_info_error(std::any::type_name::<E>(), err));
    }

    /// Marks the span failed with a message (for errors that are not `std::error::Error`).
    pub fn fail_with(&self, message: impl Display) {
        self.set_failure(exc_info_message("error", &message.to_string()));
    }

    /// Ends the span with `status="error"` and `exc_info.message` = `message`,
    /// without an error value: OpenTelemetry's error status, for an outcome that is
    /// a failure although nothing was raised (a handler returning a 500 response).
    /// The same as [`fail_with`](Span::fail_with).
    pub fn set_status_error(&self, message: impl Display) {
        self.set_failure(exc_info_message("error", &message.to_string()));
    }

    fn set_failure(&self, exc: String) {
        let Some(o) = &self.open else { return };
        let mut exc = Some(exc);
        update_state(o.id, Some(&self.local), |s| {
            if let Some(e) = exc.take() {
                s.failure = Some(e);
            }
        });
    }

    #[doc(hidden)]
    pub fn __set_outcome(&self, outcome: Outcome) {
        if let Outcome::Error(exc) = outcome {
            *self.outcome.borrow_mut() = Some(exc);
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(mut open) = self.open.take() {
            open.outcome = self.outcome.get_mut().take();
            open.close(std::thread::panicking(), std::mem::take(self.local.get_mut()));
        }
    }
}

/// The innermost span open in this work unit (thread or task), for code that does not
/// hold its guard: the body of a `#[capture]` fn, a helper it calls.
///
/// ```no_run
/// # struct Response { status: u16 }
/// #[logkit::capture]
/// fn handle() -> Response {
///     let resp = Response { status: 503 };
///     let span = logkit::current_span();
///     span.record("http.response.status_code", resp.status);
///     if resp.status >= 500 {
///         span.set_status_error("service unavailable");
///     }
///     resp
/// }
/// ```
///
/// The handle names the span that was innermost when it was taken; once that span has
/// closed, or from another work unit (a task spawned from inside it runs in a copy of
/// the context), what it is told is ignored. Outside any span it is a no-op handle.
pub fn current_span() -> CurrentSpan {
    CurrentSpan { id: context::current_span_id() }
}

/// A handle on an open span of this work unit (see [`current_span`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentSpan {
    id: Option<SpanId>,
}

impl CurrentSpan {
    /// The span's id; `None` when no span was open.
    pub fn id(&self) -> Option<SpanId> {
        self.id
    }

    /// Whether no span was open when the handle was taken.
    pub fn is_none(&self) -> bool {
        self.id.is_none()
    }

    /// [`Span::record`] on this span.
    #[inline]
    pub fn record<V: Value>(&self, key: &str, value: V) {
        self.record_dyn(key, &value);
    }

    fn record_dyn(&self, key: &str, value: &dyn Value) {
        let Some(id) = self.id else { return };
        let entry = span_state::encode_entry(key, value);
        update_state(id, None, |s| s.set(&entry));
    }

    /// [`Span::fail`] on this span.
    pub fn fail<E: Error + ?Sized>(&self, err: &E) {
        self.set_failure(exc_info_error(std::any::type_name::<E>(), err));
    }

    /// [`Span::fail_with`] on this span.
    pub fn fail_with(&self, message: impl Display) {
        self.set_failure(exc_info_message("error", &message.to_string()));
    }

    /// [`Span::set_status_error`] on this span.
    pub fn set_status_error(&self, message: impl Display) {
        self.set_failure(exc_info_message("error", &message.to_string()));
    }

    fn set_failure(&self, exc: String) {
        let Some(id) = self.id else { return };
        let mut exc = Some(exc);
        update_state(id, None, |s| {
            if let Some(e) = exc.take() {
                s.failure = Some(e);
            }
        });
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
    name: Option<SpanName>,
    parent: SpanParent,
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
    /// `None`: the span's level is disabled, the future runs without a span.
    name: Option<SpanName>,
    parent: SpanParent,
    values: Option<Vec<u8>>,
}

static DISABLED_SITE: SpanSite = SpanSite::new("logkit", &[]);

impl CaptureStart {
    /// Encodes the keys (`__private::capture_start`, which starts logkit first).
    pub(crate) fn new(
        site: &'static SpanSite,
        name: SpanName,
        parent: SpanParent,
        values: &[&dyn Value],
    ) -> CaptureStart {
        let values = if values.is_empty() { None } else { Some(context::encode_values(site.fields, values)) };
        CaptureStart { site, name: Some(name), parent, values }
    }

    /// A fn whose span's level is disabled: its future runs in the caller's context,
    /// without a span.
    #[doc(hidden)]
    pub fn disabled() -> CaptureStart {
        CaptureStart { site: &DISABLED_SITE, name: None, parent: SpanParent::Current, values: None }
    }

    /// Whether the future will open a span.
    #[doc(hidden)]
    pub fn is_enabled(&self) -> bool {
        self.name.is_some()
    }

    /// The captured future: runs in the caller's context (as it is now), inside the
    /// span. `inner` yields the fn's output and its [`Outcome`].
    #[doc(hidden)]
    pub fn wrap<T, F: Future<Output = (T, Outcome)>>(self, inner: F) -> Captured<F> {
        Captured {
            inner,
            ctx: context::snapshot(),
            site: self.site,
            name: self.name,
            parent: self.parent,
            values: self.values,
            open: None,
        }
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
            if let Some(name) = this.name.take() {
                clear_stale_panic();
                let pre = this.values.take();
                let (trace, id, parent) = context::push_span_encoded(this.parent, pre.as_deref());
                let open = Open::opened(this.site, name, trace, id, parent);
                open.log_start();
                this.open = Some(open);
            }
        }
        // SAFETY: see above.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        match inner.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((out, outcome)) => {
                if let Some(mut open) = this.open.take() {
                    if let Outcome::Error(exc) = outcome {
                        open.outcome = Some(exc);
                    }
                    open.close(false, SpanState::default());
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
                open.outcome = Some(exc_info_message("cancelled", "the future was dropped before it completed"));
            }
            open.close(panicking, SpanState::default());
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
/// `(&&&&&&&Wrap(&ret)).__logkit_outcome()`, which picks the most specific of these
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
    impl<T, E: Error + 'static> ViaError for &&&&&&Wrap<'_, Result<T, E>> {
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
    impl<T, E: Deref<Target = dyn Error + Send + Sync + 'static>> ViaDynErrorSend for &&&&&Wrap<'_, Result<T, E>> {
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
    impl<T, E: Deref<Target = dyn Error + 'static>> ViaDynError for &&&&Wrap<'_, Result<T, E>> {
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
    impl<T, E: Display> ViaDisplay for &&&Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error(exc_info_message(std::any::type_name::<E>(), &e.to_string())),
            }
        }
    }

    /// `Result<T, E: Debug>` (an error that is not `Display`): type and `Debug` text.
    pub trait ViaDebug {
        fn __logkit_outcome(&self) -> Outcome;
    }
    impl<T, E: fmt::Debug> ViaDebug for &&Wrap<'_, Result<T, E>> {
        fn __logkit_outcome(&self) -> Outcome {
            match self.0 {
                Ok(_) => Outcome::Success,
                Err(e) => Outcome::Error(exc_info_message(std::any::type_name::<E>(), &format!("{e:?}"))),
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
                Err(_) => Outcome::Error(exc_info_message(
                    std::any::type_name::<E>(),
                    "an error that is neither Display nor Debug",
                )),
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
    out.push(b',');
    crate::value::write_error_fields(&mut out, err);
    out.push(b'}');
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

/// Whether any thread ever stashed a panic: until one does, every `LAST_PANIC` is
/// empty and opening a span need not look at its own (a thread reads its own store in
/// program order, so `Relaxed` is enough: no other thread's stash matters to it).
static PANIC_STASHED: AtomicBool = AtomicBool::new(false);

pub(crate) fn stash_panic(exc: String) {
    PANIC_STASHED.store(true, Ordering::Relaxed);
    let _ = LAST_PANIC.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            *p = Some(exc);
        }
    });
}

/// A panic stashed before a span opened cannot be the one that ends it: forget it
/// (a panic the hook did not see, e.g. after the app replaced the hook, then ends the
/// span with a generic "panicked").
#[inline]
fn clear_stale_panic() {
    if PANIC_STASHED.load(Ordering::Relaxed) {
        clear_stale_panic_slow();
    }
}

#[cold]
fn clear_stale_panic_slow() {
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
static OPEN_SPANS_CS: Callsite = Callsite::new(Level::Warn, "logkit", file!(), line!(), &["reason", "count", "open"]);

/// The most spans one `logkit.open_spans` record lists (the oldest); `count` says how
/// many were open.
const OPEN_SPANS_LISTED: usize = 1000;

/// Logs one `logkit.open_spans` record naming every span open in the process, oldest
/// first, with its ids and how long it has been open, unless none is (at exit, at
/// SIGTERM, and at a panic that aborts: `reason` says which). Written whatever the
/// level filter says, like logkit's other reports. Returns how many were open.
pub(crate) fn log_open_spans(reason: &str) -> usize {
    let open = open_spans::snapshot();
    if open.is_empty() {
        return 0;
    }
    let Some(fe) = frontend::get() else { return open.len() };
    let now = clock::now();
    let mut list = Vec::with_capacity(16 + open.len().min(OPEN_SPANS_LISTED) * 160);
    list.push(b'[');
    for (i, e) in open.iter().take(OPEN_SPANS_LISTED).enumerate() {
        if i > 0 {
            list.push(b',');
        }
        list.extend_from_slice(b"{\"span\":");
        crate::render::json::write_str(&mut list, &e.name);
        let _ = write!(list, ",\"span_id\":\"{}\",\"trace_id\":\"{}\"", e.id, e.trace);
        if let Some(p) = e.parent {
            let _ = write!(list, ",\"parent_span_id\":\"{p}\"");
        }
        // Microsecond precision, as `dur_ms`.
        let open_ms = (clock::elapsed_ns(e.start, now) / 1_000) as f64 / 1_000.0;
        let _ = write!(list, ",\"open_ms\":{}}}", ryu::Buffer::new().format_finite(open_ms));
    }
    list.push(b']');
    let list = String::from_utf8(list).unwrap_or_default();
    fe.write(&mut |buf| {
        let mut enc = Encoder::begin(buf, Level::Warn, HAS_MESSAGE, Some(&OPEN_SPANS_CS), now);
        enc.raw_str("logkit.open_spans");
        enc.context(&[]);
        enc.values().str(reason);
        enc.values().u64(open.len() as u64);
        enc.values().json(&list);
        enc.finish();
    });
    open.len()
}

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

#[cfg(test)]
mod tests {
    //! Spans without a started logkit: ids, binding and what a span is told. (Their
    //! `START` and `END` records are the integration tests' part: without a frontend
    //! a span writes none.) Each test runs on a thread, and so in a context, of its own.
    use super::*;

    static SITE: SpanSite = SpanSite::new("app", &[]);

    fn open(name: &'static str) -> Span {
        Span::enter(&SITE, Cow::Borrowed(name), SpanParent::Current, &[])
    }

    fn exc(outcome: Outcome) -> serde_json::Value {
        match outcome {
            Outcome::Error(j) => serde_json::from_str(&j).expect("exc_info is JSON"),
            Outcome::Success => panic!("expected an error outcome"),
        }
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading the config")
        }
    }
    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_span_outside_any_unit_starts_a_trace_and_is_the_current_span_until_dropped() {
        let span = open("outer");
        assert_eq!(span.name(), Some("outer"));
        assert_eq!(context::current_span_id(), span.id());
        assert_eq!(context::current_trace_id(), span.trace_id());
        drop(span);
        assert_eq!(context::current_span_id(), None);
    }

    #[test]
    fn a_child_span_shares_the_trace_and_dropping_it_makes_the_parent_current_again() {
        let parent = open("parent");
        let child = open("child");
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.id(), parent.id());
        assert_eq!(child.open.as_ref().and_then(|o| o.parent), parent.id());
        assert_eq!(current_span().id(), child.id());
        drop(child);
        assert_eq!(current_span().id(), parent.id());
    }

    #[test]
    fn fail_and_record_reach_the_spans_frame_and_current_span_reaches_the_innermost() {
        let span = open("work");
        span.record("rows", 3u32);
        current_span().fail(&Wrapped(std::io::Error::other("disk gone")));
        let id = span.id().unwrap();
        let mut seen = None;
        assert!(context::with_span_state(id, &mut |s| seen = Some((s.fields().to_vec(), s.failure.clone()))));
        let (fields, failure) = seen.unwrap();
        assert_eq!(fields, span_state::encode_entry("rows", &3u32));
        let j: serde_json::Value = serde_json::from_str(&failure.expect("failed")).unwrap();
        assert_eq!(j["message"], "reading the config");
        assert_eq!(j["chain"], serde_json::json!(["disk gone"]));
    }

    #[test]
    fn a_span_whose_frame_is_gone_keeps_what_it_is_told_in_its_guard() {
        let span = open("moved");
        // Another context installed (as a task's or a scoped unit's is).
        let mut other = Current::default();
        let _in = Installed::new(&mut other);
        span.set_status_error("gave up");
        let failure = span.local.borrow().failure.clone().expect("kept in the guard");
        assert!(failure.contains("gave up"), "{failure}");
        // A handle on the old span from the new unit is ignored.
        assert!(current_span().is_none());
    }

    #[test]
    fn a_captured_fns_outcome_is_read_from_its_return_type() {
        assert!(matches!(crate::__outcome!(&42), Outcome::Success));
        assert!(matches!(crate::__outcome!(&Ok::<u8, std::io::Error>(1)), Outcome::Success));
        let e = exc(crate::__outcome!(&Err::<(), _>(Wrapped(std::io::Error::other("eof")))));
        assert_eq!((&e["message"], &e["chain"]), (&"reading the config".into(), &serde_json::json!(["eof"])));
        assert!(e["type"].as_str().unwrap().ends_with("Wrapped"), "{e}");
        let boxed: Result<(), Box<dyn Error + Send + Sync>> = Err("boxed".into());
        assert_eq!(exc(crate::__outcome!(&boxed))["message"], "boxed");
        let local: Result<(), Box<dyn Error>> = Err("local".into());
        assert_eq!(exc(crate::__outcome!(&local))["message"], "local");
        assert_eq!(exc(crate::__outcome!(&Err::<(), _>("text")))["message"], "text");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct DebugOnly {
            code: u8,
        }
        let e = exc(crate::__outcome!(&Err::<(), _>(DebugOnly { code: 7 })));
        assert_eq!(e["message"], "DebugOnly { code: 7 }", "a Debug-only error keeps its Debug text");
        struct Opaque;
        assert_eq!(
            exc(crate::__outcome!(&Err::<(), _>(Opaque)))["message"],
            "an error that is neither Display nor Debug"
        );
    }

    #[test]
    fn a_cyclic_source_chain_is_cut_after_64_links() {
        #[derive(Debug)]
        struct Loop;
        impl Display for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("again")
            }
        }
        impl Error for Loop {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&Loop)
            }
        }
        let j: serde_json::Value = serde_json::from_str(&exc_info_error("Loop", &Loop)).unwrap();
        assert_eq!(j["chain"].as_array().map(Vec::len), Some(64));
    }

    #[test]
    fn exc_info_strings_are_escaped_json() {
        let j: serde_json::Value = serde_json::from_str(&exc_info_message("t\"q", "line\nbreak")).unwrap();
        assert_eq!((j["type"].as_str(), j["message"].as_str()), (Some("t\"q"), Some("line\nbreak")));
    }
}
