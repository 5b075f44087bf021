//! `tracing` events and spans as logkit records (feature `tracing`).
//!
//! ```no_run
//! logkit::tracing::init().expect("no other global subscriber");
//! // or, composed with other layers:
//! // use tracing_subscriber::prelude::*;
//! // tracing_subscriber::registry().with(logkit::tracing::layer()).init();
//! ```
//!
//! Then `tracing::info!(...)` in the program and in its dependencies (tokio, hyper,
//! axum, tower-http, sqlx, ...) lands in the same ring, in the same record format, as
//! logkit's own macros:
//!
//! - **Events** become records: TRACE→`trace`, DEBUG→`debug`, INFO→`info`,
//!   WARN→`warning`, ERROR→`error`; `target` is the event's target; the `message`
//!   field is `event`; the other fields keep their order and their types (integers up
//!   to 128 bits and floats as numbers, bools, strings; `%` / `?` values as strings).
//! - **Filters**: logkit's `LOG_LEVEL` directives and `LOG_SAMPLE` decide, exactly as
//!   for the macros. The layer reports its interest per call site, so a `tracing`
//!   call site that logkit's directives turn off is skipped by `tracing` itself
//!   before any argument is evaluated; [`set_level`](crate::set_level) refreshes it.
//!   Per-layer filters (`layer().with_filter(...)`) and an `EnvFilter` stacked beside
//!   it narrow this further. As for any unfiltered `tracing_subscriber` layer, that
//!   interest filters the whole subscriber: another layer stacked beside it (an
//!   `fmt` layer, say) sees only what logkit's directives let through, unless logkit's
//!   layer is wrapped in a per-layer filter (then logkit applies its directives inside
//!   the layer, after `tracing` has built the event).
//! - **Spans** become logkit spans: each gets a `span_id`, its parent (contextual or
//!   explicit) gives `parent_span_id`, and while it is entered every record (tracing
//!   events and logkit macros alike) carries its ids and its fields as bound keys;
//!   `span!` and `#[capture]` inside it are its children. When it closes, one `END`
//!   record with `span` = its name, `dur_ms` from creation to close, and `status`:
//!   `error` when it closes because of a panic, or when an ERROR event with an `error`
//!   field was recorded directly in it (what `#[instrument(err)]` emits), with that
//!   error in `exc_info`. Fields recorded later (`span.record(k, v)`) go into `END`.
//! - **Traces**: a root span opened inside a logkit context (`new_context!`, the
//!   tower middleware) joins its trace; one opened outside any context starts a
//!   fresh trace, so every record inside a span has a `trace_id`.
//!
//! An event whose fields are primitives and strings allocates nothing. The layer does
//! not install `tracing-log`: logkit bridges the `log` crate itself.
//!
//! ## How a span's context travels
//! A logkit context is per thread (or per task, for futures that carry one). A
//! `tracing` span keeps the context it was created in, with its own frame on top;
//! `on_enter` swaps that context in as the thread's current one and `on_exit` swaps the
//! previous one back, so an instrumented future carries its span's context to
//! whichever worker thread polls it, like [`in_current_context`](crate::FutureExt).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::Interest;
use tracing_core::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::{self, Current, Installed};
use crate::level::{Level, LevelFilter};
use crate::record::{Encoder, ValueEncoder, HAS_MESSAGE, HAS_TARGET, INLINE_KEYS};
use crate::span::{OpenSpan, SpanSite};
use crate::span_state::SpanState;
use crate::{clock, filter, frontend, runtime};

/// The logkit layer: `tracing` events and spans into logkit's pipeline (see the
/// [module docs](self)). Made by [`layer`].
#[derive(Clone, Debug, Default)]
pub struct Layer {
    _private: (),
}

/// The logkit layer, for `tracing_subscriber::registry().with(logkit::tracing::layer())`.
///
/// logkit starts (from the environment, unless [`crate::init`] or
/// [`Config::init`](crate::Config::init) started it before) when the subscriber is
/// installed.
pub fn layer() -> Layer {
    Layer { _private: () }
}

/// Installs `tracing_subscriber::registry().with(layer())` as the global default
/// subscriber.
///
/// # Errors
/// [`InitError`] if a global default subscriber was already set.
pub fn init() -> Result<(), InitError> {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(layer());
    tracing_core::dispatcher::set_global_default(tracing_core::Dispatch::new(subscriber)).map_err(|_| InitError(()))
}

/// [`init`] found a global default `tracing` subscriber already set.
#[derive(Debug)]
pub struct InitError(());

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "logkit tracing: a global default tracing subscriber is already set; add logkit::tracing::layer() to it instead",
        )
    }
}

impl Error for InitError {}

fn level(l: &tracing_core::Level) -> Level {
    match *l {
        tracing_core::Level::ERROR => Level::Error,
        tracing_core::Level::WARN => Level::Warn,
        tracing_core::Level::INFO => Level::Info,
        tracing_core::Level::DEBUG => Level::Debug,
        _ => Level::Trace,
    }
}

fn level_filter(l: LevelFilter) -> tracing_core::LevelFilter {
    match l {
        LevelFilter::Off => tracing_core::LevelFilter::OFF,
        LevelFilter::Error => tracing_core::LevelFilter::ERROR,
        LevelFilter::Warn => tracing_core::LevelFilter::WARN,
        LevelFilter::Info => tracing_core::LevelFilter::INFO,
        LevelFilter::Debug => tracing_core::LevelFilter::DEBUG,
        LevelFilter::Trace => tracing_core::LevelFilter::TRACE,
    }
}

/// logkit's directives on a `tracing` call site (an event's or a span's).
#[inline]
fn wanted(meta: &Metadata<'_>) -> bool {
    filter::enabled_dynamic(level(meta.level()), meta.target())
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        runtime::ensure_started();
        // A decision per call site, valid until `set_level` (which rebuilds it): the
        // directives are a function of level and target only. Sampling is per record.
        if wanted(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        wanted(meta)
    }

    fn max_level_hint(&self) -> Option<tracing_core::LevelFilter> {
        runtime::ensure_started();
        Some(level_filter(filter::max_level()))
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let lvl = level(meta.level());
        // Checked again here: a per-layer filter around this layer makes `tracing`
        // ignore the interest above. Sampling is decided before anything is formatted.
        if !wanted(meta) || !filter::sampled(lvl) {
            return;
        }
        let fe = match frontend::get() {
            Some(fe) => fe,
            None => {
                runtime::ensure_started();
                match frontend::get() {
                    Some(fe) => fe,
                    None => return,
                }
            }
        };
        let ts = clock::now();
        let fields = meta.fields();
        // `tracing`'s macros put the message first among the fields.
        let message_first = fields.iter().next().is_some_and(|f| f.name() == "message");
        let has_message = message_first || fields.field("message").is_some();
        let flags = HAS_TARGET | INLINE_KEYS | if has_message { HAS_MESSAGE } else { 0 };
        fe.write(&mut |buf| {
            let mut enc = Encoder::begin(buf, lvl, flags, None, ts);
            enc.raw_str(meta.target());
            if message_first {
                // One pass: the message, then the context, then the other fields.
                let mut pass = OnePass { enc: &mut enc, message_done: false };
                event.record(&mut pass);
                if !pass.message_done {
                    pass.missing_message();
                }
            } else {
                if has_message {
                    // The message comes first in the record, wherever it is among the
                    // fields: a first pass writes only it.
                    event.record(&mut MessageVisitor { enc: &mut enc, done: false });
                }
                context::encode_current(&mut enc);
                event.record(&mut FieldVisitor { out: &mut EventFields(&mut enc) });
            }
            enc.finish();
        });
        if lvl == Level::Error && fields.field("error").is_some() {
            mark_failed(event, &ctx);
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        // Under a per-layer filter `tracing` ignores the interest this layer reported,
        // so logkit's directives are asked again: a span they leave out gets no logkit
        // span, and what happens inside it belongs to the enclosing one.
        if !wanted(meta) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Vec::new();
        attrs.record(&mut FieldVisitor { out: &mut Entries(&mut fields) });
        // The context the span is created in: the thread's when its parent is the span
        // entered here (or it has none), else the parent's own.
        let mut base = match span.parent() {
            Some(p) if !is_entered_here(&p.id()) => {
                let ext = p.extensions();
                match ext.get::<SpanData>() {
                    Some(d) => d.ctx.clone().unwrap_or_else(|| d.ids_only()),
                    None => context::snapshot(),
                }
            }
            _ => context::snapshot(),
        };
        let open = {
            let _installed = Installed::new(&mut base);
            OpenSpan::open(span_site(meta), Cow::Borrowed(meta.name()), &fields)
        };
        span.extensions_mut().insert(SpanData {
            open: Some(open),
            ctx: Some(base),
            state: SpanState::default(),
            panicked: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(d) = ext.get_mut::<SpanData>() else { return };
        values.record(&mut RecordVisitor { state: &mut d.state });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let (mut c, owned) = {
            let mut ext = span.extensions_mut();
            let Some(d) = ext.get_mut::<SpanData>() else { return };
            match d.ctx.take() {
                Some(c) => (c, true),
                // Entered on another thread at the same time: this thread gets the
                // span's ids only.
                None => (d.ids_only(), false),
            }
        };
        context::swap(&mut c);
        let _ = ENTERED.try_with(|e| {
            if let Ok(mut e) = e.try_borrow_mut() {
                e.push(Entered { id: id.into_u64(), saved: c, owned });
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let key = id.into_u64();
        let entry = ENTERED
            .try_with(|e| {
                let mut e = e.try_borrow_mut().ok()?;
                let pos = e.iter().rposition(|x| x.id == key)?;
                Some(e.remove(pos))
            })
            .ok()
            .flatten();
        let Some(mut entry) = entry else { return };
        context::swap(&mut entry.saved);
        let panicking = std::thread::panicking();
        if entry.owned || panicking {
            let Some(span) = ctx.span(id) else { return };
            let mut ext = span.extensions_mut();
            if let Some(d) = ext.get_mut::<SpanData>() {
                // A panic unwinding out of the entered span ends it as failed, even when
                // the span itself is dropped later (a runtime drops a panicked task's
                // future after catching the panic).
                d.panicked |= panicking;
                if entry.owned {
                    d.ctx = Some(entry.saved);
                }
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(data) = span.extensions_mut().remove::<SpanData>() else { return };
        let SpanData { open, ctx: own, state, panicked } = data;
        let Some(open) = open else { return };
        let panicking = panicked || std::thread::panicking();
        match own {
            Some(mut c) => {
                let _installed = Installed::new(&mut c);
                open.close(panicking, state);
            }
            None => open.close(panicking, state),
        }
    }
}

/// What the layer keeps in a `tracing` span's extensions.
struct SpanData {
    open: Option<OpenSpan>,
    /// The span's context (its creator's, with the span's frame on top) while it is
    /// not entered; while entered, the thread holds it.
    ctx: Option<Current>,
    /// Fields recorded after creation and a failure, for the `END` record.
    state: SpanState,
    /// A panic unwound out of the span while it was entered.
    panicked: bool,
}

impl SpanData {
    /// A context naming only this span (its trace, id and parent).
    fn ids_only(&self) -> Current {
        let mut c = Current::default();
        if let Some(o) = &self.open {
            c.set_ids_only(o.trace_id(), o.id(), o.parent());
        }
        c
    }
}

/// A span entered on this thread: the context it replaced.
struct Entered {
    id: u64,
    saved: Current,
    /// `saved` goes back into the span's data on exit (false when the span was
    /// entered elsewhere at the same time and this thread got a copy of its ids).
    owned: bool,
}

thread_local! {
    /// The `tracing` spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

fn is_entered_here(id: &Id) -> bool {
    let key = id.into_u64();
    ENTERED.try_with(|e| e.try_borrow().is_ok_and(|e| e.last().is_some_and(|x| x.id == key))).unwrap_or(false)
}

/// The span site of a `tracing` span call site: its target, for the `END` record.
/// One per call site, made on its first span (bounded by the program's code).
fn span_site(meta: &'static Metadata<'static>) -> &'static SpanSite {
    static SITES: OnceLock<Mutex<HashMap<usize, &'static SpanSite>>> = OnceLock::new();
    let key = std::ptr::from_ref(meta).addr();
    let map = SITES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = match map.lock() {
        Ok(m) => m,
        Err(e) => e.into_inner(),
    };
    map.entry(key).or_insert_with(|| Box::leak(Box::new(SpanSite::new(meta.target(), &[]))))
}

/// An ERROR event with an `error` field, recorded directly in a span: the span fails
/// with that error (what `#[instrument(err)]` emits).
#[cold]
fn mark_failed<S>(event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = ctx.event_span(event) else { return };
    let mut v = ErrorVisitor { exc: None };
    event.record(&mut v);
    let Some(exc) = v.exc else { return };
    let mut ext = span.extensions_mut();
    if let Some(d) = ext.get_mut::<SpanData>() {
        d.state.failure = Some(exc);
    }
}

/// Where a visitor writes `key value` pairs: a record being encoded, or a buffer of
/// bound-key entries.
trait Out {
    fn key(&mut self, key: &str);
    fn value(&mut self) -> ValueEncoder<'_>;
}

struct EventFields<'a, 'b>(&'a mut Encoder<'b>);

impl Out for EventFields<'_, '_> {
    #[inline]
    fn key(&mut self, key: &str) {
        self.0.raw_str(super::run_time_key(key));
    }
    #[inline]
    fn value(&mut self) -> ValueEncoder<'_> {
        self.0.values()
    }
}

struct Entries<'a>(&'a mut Vec<u8>);

impl Out for Entries<'_> {
    fn key(&mut self, key: &str) {
        let key = super::run_time_key(key);
        self.0.extend_from_slice(&(key.len() as u32).to_ne_bytes());
        self.0.extend_from_slice(key.as_bytes());
    }
    fn value(&mut self) -> ValueEncoder<'_> {
        ValueEncoder::new(self.0)
    }
}

/// Every field but `message`, with its type.
struct FieldVisitor<'a, O: Out> {
    out: &'a mut O,
}

impl<O: Out> FieldVisitor<'_, O> {
    #[inline]
    fn key(&mut self, f: &Field) -> bool {
        let name = f.name();
        if name == "message" {
            return false;
        }
        self.out.key(name);
        true
    }
}

impl<O: Out> Visit for FieldVisitor<'_, O> {
    fn record_f64(&mut self, f: &Field, v: f64) {
        if self.key(f) {
            self.out.value().f64(v);
        }
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        if self.key(f) {
            self.out.value().i64(v);
        }
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        if self.key(f) {
            self.out.value().u64(v);
        }
    }
    fn record_i128(&mut self, f: &Field, v: i128) {
        if self.key(f) {
            self.out.value().i128(v);
        }
    }
    fn record_u128(&mut self, f: &Field, v: u128) {
        if self.key(f) {
            self.out.value().u128(v);
        }
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        if self.key(f) {
            self.out.value().bool(v);
        }
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        if self.key(f) {
            self.out.value().str(v);
        }
    }
    fn record_error(&mut self, f: &Field, v: &(dyn Error + 'static)) {
        if self.key(f) {
            self.out.value().display(&v);
        }
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        if self.key(f) {
            self.out.value().debug(v);
        }
    }
}

/// The `message` field only, written as the record's message.
struct MessageVisitor<'a, 'b> {
    enc: &'a mut Encoder<'b>,
    done: bool,
}

impl Visit for MessageVisitor<'_, '_> {
    fn record_str(&mut self, f: &Field, v: &str) {
        if !self.done && f.name() == "message" {
            self.done = true;
            self.enc.raw_str(v);
        }
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        if !self.done && f.name() == "message" {
            self.done = true;
            // `format_args!` from the macros: its `Debug` is its text.
            self.enc.raw_fmt(format_args!("{v:?}"));
        }
    }
}

/// An event whose first field is its message: the message, then the context, then
/// the other fields, in one visit.
struct OnePass<'a, 'b> {
    enc: &'a mut Encoder<'b>,
    message_done: bool,
}

impl OnePass<'_, '_> {
    /// At the first field visited: true if it is the message (the caller writes it and
    /// the context); else the message was left without a value, and it is written
    /// empty here, with the context, before the field.
    fn start(&mut self, f: &Field) -> bool {
        self.message_done = true;
        if f.name() == "message" {
            return true;
        }
        self.missing_message();
        false
    }

    #[cold]
    fn missing_message(&mut self) {
        self.enc.raw_str("");
        context::encode_current(self.enc);
    }
}

macro_rules! one_pass {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            #[inline]
            fn $method(&mut self, f: &Field, v: $ty) {
                if !self.message_done && self.start(f) {
                    // The first field, `message` (`MessageVisitor` writes every type).
                    MessageVisitor { enc: self.enc, done: false }.$method(f, v);
                    context::encode_current(self.enc);
                } else {
                    FieldVisitor { out: &mut EventFields(self.enc) }.$method(f, v);
                }
            }
        )*
    };
}

impl Visit for OnePass<'_, '_> {
    one_pass! {
        record_f64: f64,
        record_i64: i64,
        record_u64: u64,
        record_i128: i128,
        record_u128: u128,
        record_bool: bool,
        record_str: &str,
        record_error: &(dyn Error + 'static),
        record_debug: &dyn fmt::Debug,
    }
}

/// Fields recorded on an open span (`span.record`), into its state for `END`.
struct RecordVisitor<'a> {
    state: &'a mut SpanState,
}

impl RecordVisitor<'_> {
    fn set(&mut self, f: &Field, put: impl FnOnce(&mut ValueEncoder<'_>)) {
        let mut entry = Vec::new();
        let mut out = Entries(&mut entry);
        out.key(f.name());
        put(&mut out.value());
        self.state.set(&entry);
    }
}

impl Visit for RecordVisitor<'_> {
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.set(f, |e| e.f64(v));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.set(f, |e| e.i64(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.set(f, |e| e.u64(v));
    }
    fn record_i128(&mut self, f: &Field, v: i128) {
        self.set(f, |e| e.i128(v));
    }
    fn record_u128(&mut self, f: &Field, v: u128) {
        self.set(f, |e| e.u128(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.set(f, |e| e.bool(v));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.set(f, |e| e.str(v));
    }
    fn record_error(&mut self, f: &Field, v: &(dyn Error + 'static)) {
        self.set(f, |e| e.display(&v));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.set(f, |e| e.debug(v));
    }
}

/// The `error` field of an ERROR event, as `exc_info`.
struct ErrorVisitor {
    exc: Option<String>,
}

impl Visit for ErrorVisitor {
    fn record_error(&mut self, f: &Field, v: &(dyn Error + 'static)) {
        if f.name() == "error" {
            self.exc = Some(crate::span::exc_info_error("error", v));
        }
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        if f.name() == "error" {
            self.exc = Some(crate::span::exc_info_message("error", v));
        }
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        if f.name() == "error" {
            // `error = %e` arrives as a `Display` adapter whose `Debug` is the message.
            self.exc = Some(crate::span::exc_info_message("error", &format!("{v:?}")));
        }
    }
}
