//! The context of the current work unit: its trace id, the open spans, and the keys
//! bound by `new_context!` and by spans — pre-encoded once when bound, so a record
//! copies it (two `memcpy`s) instead of re-encoding it, and allocates nothing.
//!
//! Each thread has a current context. A future wrapped by
//! [`FutureExt::in_current_context`] (as `#[capture] async fn` and `logkit::spawn` do)
//! owns its own and swaps it in for each `poll`, so it follows the task across
//! `.await`s and worker threads, and no record ever carries another task's context.
//!
//! A task started with plain `tokio::spawn` has no context of its own: what it binds
//! goes into its worker thread's, which the worker's other tasks also run in. So a
//! context bound inside a tokio task (feature `tokio`) remembers that task
//! ([`Owner`]), and code of any other task on that thread sees no context at all; the
//! first such binding is reported once (`logkit.context_in_plain_task`), naming the
//! fix (`logkit::spawn`, `in_current_context`). The binding still does not follow its
//! task to another worker: that needs the wrapper.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context as TaskContext, Poll};

use crate::id::{SpanId, TraceId, TraceParent};
use crate::record::Encoder;
use crate::record::ValueEncoder;
use crate::span_state::SpanState;
use crate::value::Value;

/// A span's trace and parent as they are now, readable from any thread: a
/// `new_context!` that re-homes the span updates it. For spans whose ids another
/// thread may need while this one holds the span (the `tracing` layer's).
pub(crate) type SharedIds = std::sync::Arc<std::sync::Mutex<(TraceId, Option<SpanId>)>>;

/// One open span in a context.
#[derive(Clone, Debug)]
struct Frame {
    span_id: SpanId,
    parent: Option<SpanId>,
    /// Where this span's bound keys start in `Current::fields`.
    fields_at: usize,
    /// What the span was told while open (`Span::record`, `fail`); boxed on first
    /// use, so opening a span allocates nothing.
    state: Option<Box<SpanState>>,
}

/// Whose code a context is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Owner {
    /// Whoever runs with it current: a context carried by a future, thread, span or
    /// request (swapped in only while its code runs), or bound outside tokio.
    #[default]
    Any,
    /// The tokio task it was bound in, in its worker thread's own context (a task
    /// started with plain `tokio::spawn`): other tasks on that thread do not see it.
    #[cfg(feature = "tokio")]
    Task(tokio::task::Id),
    /// A runtime thread outside any task (the future given to `block_on`): tasks run
    /// on that thread (a current-thread runtime) do not see it.
    #[cfg(feature = "tokio")]
    NoTask,
}

/// A work unit's context. Cloned into futures and threads that should inherit it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Current {
    trace: Option<TraceId>,
    /// The span a `TRACEPARENT` or a `traceparent` string named as our parent.
    remote_parent: Option<SpanId>,
    /// The id `traceparent()` hands out when no span is open.
    root_span: Option<SpanId>,
    frames: Vec<Frame>,
    /// The [`SharedIds`] of the open frames that have them (the `tracing` layer's
    /// spans), by span id: kept beside the frames, not in them, so the macros' spans
    /// neither carry nor check one (empty unless an integration opened a span here).
    shared: Vec<(SpanId, SharedIds)>,
    /// Encoded `trace_id`, `span_id`, `parent_span_id` entries (rebuilt on change).
    ids: Vec<u8>,
    /// Encoded bound keys: `new_context!`'s, then each open span's.
    fields: Vec<u8>,
    /// The trace whose entry starts `ids`, and that entry's length.
    ids_trace: Option<TraceId>,
    trace_entry_len: usize,
    /// Whose code sees this context; set when it is bound in a thread's own context.
    owner: Owner,
    /// Carried by a future, thread, `tracing` span or request and swapped in only while
    /// their code runs: what is bound in it follows them, so it needs no [`Owner`].
    carried: bool,
}

impl Current {
    const fn new() -> Current {
        Current {
            trace: None,
            remote_parent: None,
            root_span: None,
            frames: Vec::new(),
            shared: Vec::new(),
            ids: Vec::new(),
            fields: Vec::new(),
            ids_trace: None,
            trace_entry_len: 0,
            owner: Owner::Any,
            carried: false,
        }
    }

    /// Whether the code running now may see this context: one bound by a tokio task in
    /// its worker thread's context is that task's alone. A load and a compare unless
    /// the context was bound in a plain task.
    #[inline]
    fn visible(&self) -> bool {
        self.owner == Owner::Any || self.owned_here()
    }

    #[inline]
    fn owned_here(&self) -> bool {
        match self.owner {
            Owner::Any => true,
            #[cfg(feature = "tokio")]
            Owner::Task(id) => tokio::task::try_id() == Some(id),
            #[cfg(feature = "tokio")]
            Owner::NoTask => tokio::task::try_id().is_none(),
        }
    }

    /// Binding in this context (a new unit, or a first span starting a trace): a
    /// thread's own context becomes the running task's (or the runtime thread's outside
    /// any task). Returns whether it was bound by a task that runs in its worker
    /// thread's context (plain `tokio::spawn`).
    #[inline]
    fn claim(&mut self) -> bool {
        #[cfg(feature = "tokio")]
        if !self.carried {
            return self.claim_for_tokio();
        }
        false
    }

    #[cfg(feature = "tokio")]
    fn claim_for_tokio(&mut self) -> bool {
        match tokio::task::try_id() {
            Some(id) => {
                self.owner = Owner::Task(id);
                true
            }
            None => {
                self.owner = if tokio::runtime::Handle::try_current().is_ok() { Owner::NoTask } else { Owner::Any };
                false
            }
        }
    }

    /// Re-encodes the ids after a change of trace or innermost span. The trace's entry
    /// is kept when only the span changed (opening and closing spans is the common
    /// case, and the trace id's 32 hex digits are the longest part).
    fn rebuild_ids(&mut self) {
        let Some(trace) = self.trace else {
            self.ids.clear();
            self.ids_trace = None;
            return;
        };
        if self.ids_trace == Some(trace) {
            self.ids.truncate(self.trace_entry_len);
        } else {
            self.ids.clear();
            let mut hex = [0u8; 32];
            trace.write_hex(&mut hex);
            entry_hex(&mut self.ids, "trace_id", &hex);
            self.ids_trace = Some(trace);
            self.trace_entry_len = self.ids.len();
        }
        if let Some(top) = self.frames.last() {
            let mut h = [0u8; 16];
            top.span_id.write_hex(&mut h);
            entry_hex(&mut self.ids, "span_id", &h);
            if let Some(p) = top.parent {
                p.write_hex(&mut h);
                entry_hex(&mut self.ids, "parent_span_id", &h);
            }
        }
    }

    /// Only the ids of one span (for an END record whose frame is gone).
    pub(crate) fn set_ids_only(&mut self, trace: TraceId, id: SpanId, parent: Option<SpanId>) {
        self.trace = Some(trace);
        self.frames.clear();
        self.shared.clear();
        self.frames.push(Frame { span_id: id, parent, fields_at: 0, state: None });
        self.rebuild_ids();
    }

    /// Empties the context, keeping its buffers' capacity.
    fn clear(&mut self) {
        self.trace = None;
        self.remote_parent = None;
        self.root_span = None;
        self.frames.clear();
        self.shared.clear();
        self.ids.clear();
        self.fields.clear();
        self.ids_trace = None;
        self.trace_entry_len = 0;
        self.owner = Owner::Any;
        self.carried = false;
    }

    /// Replaces the unit's own keys with the new ones, already encoded at the end of
    /// `fields` from `new_at` on, and keeps the open spans: their keys follow the new
    /// ones, and a span whose parent is not one of them (the previous unit's remote
    /// parent, or none) becomes a child of `remote`.
    fn rehome_frames(&mut self, remote: Option<SpanId>, new_at: usize) {
        let old_keys = self.frames.first().map_or(new_at, |f| f.fields_at);
        // [old keys][span keys][new keys] -> [span keys][new keys] -> [new keys][span
        // keys], within the same buffer.
        self.fields.drain(..old_keys);
        let new_keys = self.fields.len() - (new_at - old_keys);
        self.fields.rotate_right(new_keys);
        for i in 0..self.frames.len() {
            let (earlier, rest) = self.frames.split_at_mut(i);
            let fr = &mut rest[0];
            fr.fields_at = fr.fields_at - old_keys + new_keys;
            let parent_open = fr.parent.is_some_and(|p| earlier.iter().any(|e| e.span_id == p));
            if !parent_open {
                fr.parent = remote;
            }
        }
        if let Some(trace) = self.trace {
            for (id, shared) in &self.shared {
                let Some(fr) = self.frames.iter().find(|fr| fr.span_id == *id) else { continue };
                if let Ok(mut ids) = shared.lock() {
                    *ids = (trace, fr.parent);
                }
            }
        }
    }

    /// Drops the [`SharedIds`] of a closed span, if it had one.
    #[cold]
    fn forget_shared(&mut self, span_id: SpanId) {
        self.shared.retain(|(id, _)| *id != span_id);
    }

    pub(crate) fn ids_bytes(&self) -> &[u8] {
        &self.ids
    }

    /// The innermost open span, else the remote parent.
    fn current_span(&self) -> Option<SpanId> {
        self.frames.last().map(|f| f.span_id).or(self.remote_parent)
    }
}

/// A context entry whose value is a hex id: the same bytes `ValueEncoder::str` would
/// write, in one go (ids are re-encoded on every span open and close).
#[inline]
fn entry_hex(out: &mut Vec<u8>, key: &str, hex: &[u8]) {
    out.reserve(9 + key.len() + hex.len());
    out.extend_from_slice(&(key.len() as u32).to_ne_bytes());
    out.extend_from_slice(key.as_bytes());
    out.push(crate::record::Tag::Str as u8);
    out.extend_from_slice(&(hex.len() as u32).to_ne_bytes());
    out.extend_from_slice(hex);
}

/// Appends `key value` entries for bound keys to `out`; if a value's `Display` (or
/// `Debug`, or `Value`) impl panics, `out` is cut back to what it held before, so the
/// context never keeps a half-encoded entry (the panic goes on unwinding).
fn encode_fields_or_roll_back(out: &mut Vec<u8>, names: &[&str], values: &[&dyn Value]) {
    struct RollBack<'a> {
        out: &'a mut Vec<u8>,
        to: usize,
    }
    impl Drop for RollBack<'_> {
        fn drop(&mut self) {
            if self.to != usize::MAX {
                self.out.truncate(self.to);
            }
        }
    }
    let to = out.len();
    let mut undo = RollBack { out, to };
    encode_fields(undo.out, names, values);
    undo.to = usize::MAX; // whole
}

/// Appends `key value` entries for bound keys.
fn encode_fields(out: &mut Vec<u8>, names: &[&str], values: &[&dyn Value]) {
    for (k, v) in names.iter().zip(values) {
        out.extend_from_slice(&(k.len() as u32).to_ne_bytes());
        out.extend_from_slice(k.as_bytes());
        v.encode(&mut ValueEncoder::new(out));
    }
}

thread_local! {
    static CURRENT: RefCell<Current> = const { RefCell::new(Current::new()) };
}

/// Runs `f` with the thread's current context, if it is reachable (not during
/// thread-local destruction, not re-entrantly borrowed).
#[inline]
fn with_current<R>(f: impl FnOnce(&mut Current) -> R) -> Option<R> {
    CURRENT.try_with(|c| c.try_borrow_mut().ok().map(|mut c| f(&mut c))).ok().flatten()
}

/// [`with_current`] for code that reads the context: `None` also when the context
/// belongs to another task (see [`Owner`]).
#[inline]
fn with_visible<R>(f: impl FnOnce(&mut Current) -> R) -> Option<R> {
    with_current(|c| if c.visible() { Some(f(c)) } else { None }).flatten()
}

/// [`with_current`] for code that binds: a context another task left in this thread
/// is emptied first (it is that task's, and the running code starts its own).
#[inline]
fn with_own<R>(f: impl FnOnce(&mut Current) -> R) -> Option<R> {
    with_current(|c| {
        if !c.visible() {
            c.clear();
        }
        f(c)
    })
}

/// 0: no context bound in a plain tokio task yet; 1: one was, not reported; 2: reported.
static PLAIN_TASK: AtomicU8 = AtomicU8::new(0);

/// The first context bound by a task that runs in its worker thread's context.
#[cold]
fn saw_plain_task() {
    if PLAIN_TASK.load(Ordering::Relaxed) == 0 {
        let _ = PLAIN_TASK.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed);
    }
}

/// `true` once, after a context was first bound in a plain tokio task: the caller
/// (outside the context's borrow) reports it (`logkit.context_in_plain_task`).
#[inline]
pub(crate) fn plain_task_report_due() -> bool {
    PLAIN_TASK.load(Ordering::Relaxed) == 1 && PLAIN_TASK.swap(2, Ordering::AcqRel) == 1
}

/// Copies the current context into a record being encoded.
#[inline]
pub(crate) fn encode_current(enc: &mut Encoder<'_>) {
    let done = CURRENT.try_with(|c| match c.try_borrow() {
        Ok(c) if c.visible() => {
            enc.context2(&c.ids, &c.fields);
            true
        }
        _ => false,
    });
    if done != Ok(true) {
        enc.context(&[]);
    }
}

/// `TRACEPARENT` from the environment, consumed by the first `new_context!` without a
/// `trace_id` in this process.
static ENV_TRACEPARENT_TAKEN: AtomicBool = AtomicBool::new(false);

/// A malformed trace id: the value given and what is wrong with it.
#[derive(Debug)]
pub(crate) struct BadTraceId {
    pub(crate) value: String,
    pub(crate) reason: String,
}

/// The trace the first `new_context!` without a `trace_id` continues: `TRACEPARENT`
/// (once per process; `Err` when it is set but malformed).
pub(crate) fn take_env_traceparent() -> Result<Option<TraceStart>, BadTraceId> {
    if ENV_TRACEPARENT_TAKEN.swap(true, Ordering::AcqRel) {
        return Ok(None);
    }
    let Some(v) = std::env::var("TRACEPARENT").ok().filter(|v| !v.trim().is_empty()) else { return Ok(None) };
    match TraceParent::parse(&v) {
        Ok(tp) => Ok(Some(TraceStart { trace_id: tp.trace_id, parent_id: Some(tp.parent_id) })),
        Err(e) => Err(BadTraceId { reason: e.to_string(), value: v }),
    }
}

/// Where a work unit's trace starts: its id and, when it continues a remote caller's
/// trace (`traceparent`), the caller's span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceStart {
    /// The trace.
    pub trace_id: TraceId,
    /// The remote parent span, if any.
    pub parent_id: Option<SpanId>,
}

/// What `new_context!(trace_id = x)` accepts: a [`TraceId`], a [`TraceParent`], or a
/// string holding 32 hex characters or a W3C `traceparent`. `Option`s of these too.
pub trait IntoTraceContext {
    /// The trace and, for a `traceparent`, the remote parent span; `Err` with a
    /// description when the input is malformed.
    fn into_trace_context(self) -> Result<Option<TraceStart>, String>;
}

impl IntoTraceContext for TraceId {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        Ok(Some(TraceStart { trace_id: self, parent_id: None }))
    }
}

impl IntoTraceContext for TraceParent {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        Ok(Some(TraceStart { trace_id: self.trace_id, parent_id: Some(self.parent_id) }))
    }
}

impl IntoTraceContext for &str {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        if let Ok(tp) = TraceParent::parse(self) {
            return Ok(Some(TraceStart { trace_id: tp.trace_id, parent_id: Some(tp.parent_id) }));
        }
        match TraceId::parse(self) {
            Ok(t) if self.trim().len() == 32 => Ok(Some(TraceStart { trace_id: t, parent_id: None })),
            _ => Err(self.to_owned()),
        }
    }
}

impl IntoTraceContext for &String {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        self.as_str().into_trace_context()
    }
}

impl IntoTraceContext for String {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        self.as_str().into_trace_context()
    }
}

impl IntoTraceContext for &TraceId {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        (*self).into_trace_context()
    }
}

impl<T: IntoTraceContext> IntoTraceContext for Option<T> {
    fn into_trace_context(self) -> Result<Option<TraceStart>, String> {
        match self {
            Some(t) => t.into_trace_context(),
            None => Ok(None),
        }
    }
}

/// `new_context!`: replaces the current context with a new one continuing `given`
/// (or starting a fresh trace); returns its trace id.
///
/// The spans open in this context are re-homed, not dropped: they move into the new
/// trace as its roots (children of `given`'s remote parent, if any), keeping their
/// ids, their keys and the parent links among themselves. A work unit's span is often
/// opened before its `new_context!` runs — `#[capture] fn handle(..) { new_context!(..);
/// .. }`, or a `span!` guard taken first — and its `END` must be in the trace of the
/// records logged inside it, not in the previous unit's.
pub(crate) fn new_context(given: Option<TraceStart>, names: &[&str], values: &[&dyn Value]) -> TraceId {
    let start = given.unwrap_or_else(|| TraceStart { trace_id: TraceId::random(), parent_id: None });
    // Encoded in place: the context's buffers are reused, so a work unit's start
    // allocates nothing once the thread has seen one of its size. (A `Display` impl
    // that logs while being encoded here logs without context: the context is busy.)
    // The new keys are encoded first, after everything the context holds, and nothing
    // else changes until they are whole: a value that panics leaves the context as it
    // was (trace, keys, spans), and the panic goes on to the caller.
    let plain = with_own(|c| {
        let new_at = c.fields.len();
        encode_fields_or_roll_back(&mut c.fields, names, values);
        let plain = c.claim();
        c.trace = Some(start.trace_id);
        c.remote_parent = start.parent_id;
        c.root_span = None;
        if c.frames.is_empty() {
            c.fields.drain(..new_at);
        } else {
            c.rehome_frames(start.parent_id, new_at);
        }
        c.rebuild_ids();
        crate::filter::set_current_trace(c.trace);
        plain
    });
    if plain == Some(true) {
        saw_plain_task();
    }
    start.trace_id
}

/// The current trace and span as a W3C `traceparent` (`00-<trace>-<span>-01`), for a
/// child process (`TRACEPARENT`) or a message to another service, which continue the
/// trace with `new_context!(trace_id = ...)`. `None` outside any trace.
pub fn traceparent() -> Option<String> {
    with_visible(|c| {
        let trace = c.trace?;
        let span = match c.frames.last() {
            Some(f) => f.span_id,
            None => *c.root_span.get_or_insert_with(SpanId::random),
        };
        // The sampled flag says what this process decided for the trace (a child with
        // the same `LOG_SAMPLE` decides the same from the trace id alone).
        let sampled = crate::filter::trace_kept(trace);
        Some(TraceParent { trace_id: trace, parent_id: span, sampled }.to_string())
    })
    .flatten()
}

/// The current trace id, if a context was started on this thread or task.
pub fn current_trace_id() -> Option<TraceId> {
    with_visible(|c| c.trace).flatten()
}

/// The innermost open span's id, if any.
pub fn current_span_id() -> Option<SpanId> {
    with_visible(|c| c.frames.last().map(|f| f.span_id)).flatten()
}

/// Where a span opens: under the current span (the default), as a root of the
/// current trace, or under a given span (`#[capture(parent = ..)]`). Not API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanParent {
    /// The current span of this work unit (or the remote parent a `traceparent` named).
    Current,
    /// No parent: a root span of the current trace.
    Root,
    /// This span, of the current trace.
    Span(SpanId),
}

/// Opens a span frame: binds its id and keys. Returns (trace, span, parent).
pub(crate) fn push_span(under: SpanParent, names: &[&str], values: &[&dyn Value]) -> (TraceId, SpanId, Option<SpanId>) {
    push_span_with(under, None, |fields| encode_fields_or_roll_back(fields, names, values))
}

/// [`push_span`] with keys encoded earlier by [`encode_values`].
pub(crate) fn push_span_encoded(under: SpanParent, encoded: Option<&[u8]>) -> (TraceId, SpanId, Option<SpanId>) {
    push_span_with(under, None, |fields| fields.extend_from_slice(encoded.unwrap_or(&[])))
}

/// [`push_span_encoded`] for a span whose trace and parent are kept in `shared` (set
/// here, and by a `new_context!` that re-homes the span).
#[cfg(any(feature = "tracing", feature = "tower"))]
pub(crate) fn push_span_shared(encoded: &[u8], shared: &SharedIds) -> (TraceId, SpanId, Option<SpanId>) {
    let (trace, id, parent) =
        push_span_with(SpanParent::Current, Some(shared.clone()), |fields| fields.extend_from_slice(encoded));
    if let Ok(mut ids) = shared.lock() {
        *ids = (trace, parent);
    }
    (trace, id, parent)
}

fn push_span_with(
    under: SpanParent,
    shared: Option<SharedIds>,
    encode: impl FnOnce(&mut Vec<u8>),
) -> (TraceId, SpanId, Option<SpanId>) {
    let span_id = SpanId::random();
    let mut plain = false;
    let r = with_own(|c| {
        // The keys first: a value that panics leaves the context as it was (no trace
        // started, no frame, no partial key), and the span does not open.
        let fields_at = c.fields.len();
        encode(&mut c.fields);
        let trace = match c.trace {
            Some(t) => t,
            None => {
                let t = TraceId::random();
                plain = c.claim();
                c.trace = Some(t);
                crate::filter::set_current_trace(c.trace);
                t
            }
        };
        let parent = match under {
            SpanParent::Current => c.current_span(),
            SpanParent::Root => None,
            SpanParent::Span(id) => Some(id),
        };
        c.frames.push(Frame { span_id, parent, fields_at, state: None });
        if let Some(shared) = shared {
            c.shared.push((span_id, shared));
        }
        c.rebuild_ids();
        (trace, span_id, parent)
    })
    .unwrap_or_else(|| (TraceId::random(), span_id, None));
    if plain {
        saw_plain_task();
    }
    r
}

/// Encodes bound keys once, for a span that opens later (`#[capture] async fn`).
pub(crate) fn encode_values(names: &[&str], values: &[&dyn Value]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_fields(&mut out, names, values);
    out
}

/// The context a span's `END` is written in: its trace (which `new_context!` may have
/// changed since the span opened), the encoded ids, and the bound keys up to its own.
pub(crate) type SpanContext<'a> = (Option<TraceId>, &'a [u8], &'a [u8]);

/// Runs `f` with the context as it is while `span_id` is the innermost span (inner
/// spans still open are ignored) and with the span's state, then closes the span: its
/// frame and keys are removed. If the span is not open in this context (its guard
/// moved, or a `scoped_context!` guard restored another context), `f` gets `None` and
/// an empty state.
pub(crate) fn pop_span<R>(span_id: SpanId, f: impl FnOnce(Option<SpanContext<'_>>, SpanState) -> R) -> R {
    let mut f = Some(f);
    let r = with_current(|c| {
        let Some(pos) = c.frames.iter().rposition(|fr| fr.span_id == span_id) else {
            return (f.take().map(|f| f(None, SpanState::default())), false);
        };
        let state = c.frames[pos].state.take().map(|b| *b).unwrap_or_default();
        // The context as this span saw it: its ids, and keys up to the end of its own.
        let end = c.frames.get(pos + 1).map_or(c.fields.len(), |next| next.fields_at);
        let inner_open = pos + 1 < c.frames.len();
        let r = if inner_open {
            let saved: Vec<Frame> = c.frames.drain(pos + 1..).collect();
            c.rebuild_ids();
            let r = f.take().map(|f| f(Some((c.trace, &c.ids, &c.fields[..end])), state));
            c.frames.extend(saved);
            r
        } else {
            f.take().map(|f| f(Some((c.trace, &c.ids, &c.fields[..end])), state))
        };
        // Remove the frame and its keys; later frames' offsets shift down.
        let start = c.frames[pos].fields_at;
        c.fields.drain(start..end);
        let removed = end - start;
        c.frames.remove(pos);
        if !c.shared.is_empty() {
            c.forget_shared(span_id);
        }
        // Spans opened inside this one and still open keep it as their parent: a
        // span's parent is fixed when it opens (as in OpenTelemetry).
        for fr in &mut c.frames[pos..] {
            fr.fields_at -= removed;
        }
        c.rebuild_ids();
        (r, true)
    });
    match r {
        Some((Some(r), _)) => r,
        _ => match f.take() {
            Some(f) => f(None, SpanState::default()),
            None => unreachable_after_call(),
        },
    }
}

/// The trace of the open span `span_id` of this context (`new_context!` re-homes open
/// spans into its trace); `None` if it is not open here.
pub(crate) fn span_trace(span_id: SpanId) -> Option<TraceId> {
    with_current(|c| if c.frames.iter().any(|fr| fr.span_id == span_id) { c.trace } else { None }).flatten()
}

/// Runs `f` on the state of the open span `span_id` of this context; `false` if it is
/// not open here (closed, or opened in another context).
pub(crate) fn with_span_state(span_id: SpanId, f: &mut dyn FnMut(&mut SpanState)) -> bool {
    with_current(|c| match c.frames.iter_mut().rev().find(|fr| fr.span_id == span_id) {
        Some(fr) => {
            f(fr.state.get_or_insert_with(Box::default));
            true
        }
        None => false,
    })
    .unwrap_or(false)
}

#[cold]
fn unreachable_after_call<R>() -> R {
    // `f` is taken exactly once on every path above that returns `Some`.
    panic!("logkit: internal error: span context callback lost")
}

/// A snapshot of the current context, for a task or thread that should inherit it.
pub(crate) fn snapshot() -> Current {
    let mut c = with_visible(|c| c.clone()).unwrap_or_default();
    c.owner = Owner::Any;
    c.carried = true;
    c
}

/// Installs `ctx` as the thread's current context until the guard drops (restoring
/// the previous one), also on unwind.
pub(crate) struct Installed<'a> {
    ctx: &'a mut Current,
}

impl<'a> Installed<'a> {
    pub(crate) fn new(ctx: &'a mut Current) -> Installed<'a> {
        swap(ctx);
        Installed { ctx }
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        swap(self.ctx);
    }
}

/// Exchanges the thread's current context with `ctx` (an integration that enters and
/// leaves a context in separate calls, such as the `tracing` layer's `on_enter` and
/// `on_exit`, swaps twice; scoped code uses [`Installed`]).
pub(crate) fn swap(ctx: &mut Current) {
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            std::mem::swap(&mut *c, ctx);
            crate::filter::set_current_trace(c.trace);
        }
    });
}

/// Contexts kept for reuse by [`ContextGuard`]s: a scoped unit starts in one of these
/// (emptied) instead of allocating fresh buffers, so nesting one scoped unit inside
/// another allocates nothing once the thread has seen one of each size.
const SPARE_CONTEXTS: usize = 4;

thread_local! {
    static SPARE: RefCell<Vec<Current>> = const { RefCell::new(Vec::new()) };
}

/// An empty context for a work unit that owns its own (the tower middleware's
/// requests): one kept for reuse if this thread has one, so starting a unit allocates
/// nothing once its buffers have grown to size.
#[cfg(feature = "tower")]
pub(crate) fn spare() -> Current {
    let mut c =
        SPARE.try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop())).ok().flatten().unwrap_or_default();
    c.carried = true;
    c
}

/// Gives an ended unit's context back for reuse by [`spare`] (emptied; dropped if this
/// thread keeps enough already).
#[cfg(feature = "tower")]
pub(crate) fn recycle(mut done: Current) {
    done.clear();
    let _ = SPARE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            if s.len() < SPARE_CONTEXTS {
                s.push(done);
            }
        }
    });
}

/// `scoped_context!`: a work unit that ends when this guard goes out of scope.
///
/// While it lives, the thread (or task) runs in the unit's context: its trace, its
/// bound keys, the spans opened in it. Dropping it ends the unit and restores the
/// context that was current before `scoped_context!` — the enclosing unit's trace,
/// keys and open spans — as OpenTelemetry's `Context::attach` guard does. It derefs
/// to the unit's [`TraceId`].
///
/// ```no_run
/// use logkit::{info, new_context, scoped_context};
///
/// fn process(job: u32) {
///     let _unit = scoped_context!(job);          // this job's trace and keys...
///     info!("working");
/// }                                              // ...end here
///
/// new_context!(run = "nightly");
/// process(3);
/// info!("carries run=nightly and the run's trace again, not job 3's");
/// ```
///
/// Unlike `new_context!`, it does not take the spans open outside it: they stay in
/// the enclosing trace and end there (a `#[capture]` fn whose first line is
/// `scoped_context!` has its `END` in the caller's trace; use `new_context!` there to
/// move the fn's span into the unit).
///
/// Not `Send`: a unit belongs to the thread that started it (in async code, start it
/// inside the task, or use `new_context!` there: a task runs in its own context).
/// Guards drop in reverse order of creation, so nested units restore correctly; a
/// span opened inside the unit should be dropped before the guard (declared after it,
/// as in the example, it is).
#[must_use = "the unit ends when the guard is dropped: bind it with `let _unit = scoped_context!(...)`"]
pub struct ContextGuard {
    /// The context to restore on drop; after the drop's swap, the ended unit's.
    saved: Current,
    trace: TraceId,
    _not_send: std::marker::PhantomData<*const ()>,
}

/// The context set aside by `scoped_context!` while its `new_context!` runs: restored
/// if that panics before the guard exists. Not API.
#[doc(hidden)]
pub struct SavedContext {
    saved: Option<Current>,
}

impl ContextGuard {
    /// Sets the current context aside (to be restored when the guard drops) and leaves
    /// an empty one for the `new_context!` that follows. Not API.
    #[doc(hidden)]
    pub fn __enter() -> SavedContext {
        let fresh = SPARE.try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop())).ok().flatten();
        let mut saved = fresh.unwrap_or_default();
        swap(&mut saved);
        // The unit is carried where the context it replaces was (a task's own context
        // inside `logkit::spawn`), and belongs to a thread's owner where that one did.
        let carried = saved.carried;
        with_current(|c| c.carried = carried);
        SavedContext { saved: Some(saved) }
    }
}

impl SavedContext {
    /// The guard of the unit `new_context!` just started (its trace). Not API.
    #[doc(hidden)]
    pub fn __started(mut self, trace: TraceId) -> ContextGuard {
        let saved = self.saved.take().unwrap_or_default();
        ContextGuard { saved, trace, _not_send: std::marker::PhantomData }
    }
}

impl Drop for SavedContext {
    fn drop(&mut self) {
        if let Some(mut saved) = self.saved.take() {
            swap(&mut saved);
        }
    }
}

impl ContextGuard {
    /// The unit's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace
    }
}

impl std::ops::Deref for ContextGuard {
    type Target = TraceId;

    fn deref(&self) -> &TraceId {
        &self.trace
    }
}

impl std::fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextGuard").field("trace_id", &self.trace).finish()
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        swap(&mut self.saved);
        // `saved` now holds the ended unit: empty it and keep its buffers for the next.
        let mut done = std::mem::take(&mut self.saved);
        done.clear();
        let _ = SPARE.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.len() < SPARE_CONTEXTS {
                    s.push(done);
                }
            }
        });
    }
}

/// A future that runs in the context it was created under (see
/// [`FutureExt::in_current_context`]).
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct WithContext<F> {
    inner: F,
    ctx: Current,
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self`, and
        // `WithContext` has no `Drop` impl and no `Unpin` impl that would let it move.
        // `ctx` is not pinned (it is only swapped through a `&mut`), which is sound
        // because nothing pins it.
        let this = unsafe { self.get_unchecked_mut() };
        let _installed = Installed::new(&mut this.ctx);
        // SAFETY: see above; `this.inner` stays where the pinned `self` put it.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        inner.poll(cx)
    }
}

/// Carries the current context into a future.
pub trait FutureExt: Future + Sized {
    /// Wraps the future so every `poll` runs in the context current now (trace, open
    /// spans, bound keys), whichever thread polls it.
    fn in_current_context(self) -> WithContext<Self> {
        WithContext { inner: self, ctx: snapshot() }
    }
}

impl<F: Future> FutureExt for F {}

/// Threads that inherit the current context.
pub mod thread {
    use super::{snapshot, Installed};

    /// `std::thread::spawn`, with the new thread starting in the caller's context
    /// (trace, open spans, bound keys).
    pub fn spawn<F, T>(f: F) -> std::thread::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut ctx = snapshot();
        std::thread::spawn(move || {
            let _installed = Installed::new(&mut ctx);
            f()
        })
    }
}

/// `tokio::spawn`, with the task running in the caller's context: the Python spec's
/// `ctx_task`.
#[cfg(feature = "tokio")]
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.in_current_context())
}

/// `tokio::task::spawn_blocking`, with the closure running in the caller's context
/// (trace, open spans, bound keys) on tokio's blocking pool; the pool thread's own
/// context comes back when it returns, also on unwind.
///
/// # Panics
/// As `tokio::task::spawn_blocking`: when called outside a tokio runtime.
#[cfg(feature = "tokio")]
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let mut ctx = snapshot();
    tokio::task::spawn_blocking(move || {
        let _installed = Installed::new(&mut ctx);
        f()
    })
}

/// Starts a work unit that ends when the returned guard goes out of scope:
/// `let _unit = scoped_context!(k = v, ...);`
///
/// Takes what [`new_context!`](crate::new_context!) takes (`trace_id = x` first to
/// continue a trace) and does what it does, in a context of its own; the
/// [`ContextGuard`] it returns derefs to the unit's [`TraceId`], and dropping it
/// restores the enclosing context (trace, keys, open spans). Use it where a unit is
/// shorter than its thread — a request handler, a job in a loop, a test case — so the
/// code after it does not go on logging in the unit's trace. The statement form
/// `new_context!(...);` still binds until the next `new_context!`.
///
/// ```no_run
/// # use logkit::{info, scoped_context, span};
/// # let (incoming, user) = ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "u1");
/// let unit = scoped_context!(trace_id = incoming, user = user);
/// let _span = span!("handle");
/// info!(trace = %*unit, "inside the caller's trace");
/// ```
#[macro_export]
macro_rules! scoped_context {
    ($($args:tt)*) => {{
        let __logkit_saved = $crate::ContextGuard::__enter();
        let __logkit_trace = $crate::new_context!($($args)*);
        __logkit_saved.__started(__logkit_trace)
    }};
}

#[cfg(test)]
mod tests {
    //! Each test runs on a thread of its own, so each starts with an empty context.
    use super::*;
    use crate::level::Level;
    use crate::record::{view, FieldValue};

    /// The context a record logged now carries, as the writer reads it.
    fn bound() -> Vec<(String, FieldValue<String>)> {
        let mut buf = Vec::new();
        let mut enc = Encoder::begin(&mut buf, Level::Info, 0, None, 0);
        encode_current(&mut enc);
        enc.finish();
        let rec = view::records(&buf).next().expect("one record");
        rec.context().map(|(k, v)| (k.to_owned(), v.map_str(|s| s.to_string()))).collect()
    }

    fn keys() -> Vec<String> {
        bound().into_iter().map(|(k, _)| k).collect()
    }

    fn value_of(key: &str) -> Option<String> {
        bound().into_iter().find(|(k, _)| k == key).map(|(_, v)| match v {
            FieldValue::Str(s) => s,
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn outside_any_unit_a_record_carries_no_context() {
        assert!(bound().is_empty());
        assert_eq!((current_trace_id(), current_span_id(), traceparent()), (None, None, None));
    }

    #[test]
    fn new_context_binds_the_trace_then_its_keys_in_order_and_returns_the_trace() {
        let t = new_context(None, &["user", "n"], &[&"u1", &7u32]);
        assert_eq!(
            bound(),
            [
                ("trace_id".to_owned(), FieldValue::Str(t.to_string())),
                ("user".to_owned(), FieldValue::Str("u1".to_owned())),
                ("n".to_owned(), FieldValue::U64(7)),
            ]
        );
        assert_eq!(current_trace_id(), Some(t));
    }

    #[test]
    fn a_new_context_replaces_the_previous_units_trace_and_keys() {
        let first = new_context(None, &["a"], &[&1u8]);
        let given = TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let second = new_context(Some(TraceStart { trace_id: given, parent_id: None }), &["b"], &[&2u8]);
        assert_eq!(second, given);
        assert_ne!(first, second);
        assert_eq!(keys(), ["trace_id", "b"]);
        assert_eq!(current_span_id(), None);
    }

    #[test]
    fn a_new_context_rehomes_the_open_spans_as_roots_of_its_trace_with_their_keys() {
        new_context(None, &["old"], &[&1u8]);
        let (_, outer, _) = push_span(SpanParent::Current, &["o"], &[&2u8]);
        let (_, inner, _) = push_span(SpanParent::Current, &["i"], &[&3u8]);
        let second = new_context(None, &["new", "n2"], &[&4u8, &5u8]);
        assert_eq!(current_span_id(), Some(inner));
        assert_eq!(keys(), ["trace_id", "span_id", "parent_span_id", "new", "n2", "o", "i"]);
        assert_eq!(value_of("trace_id"), Some(second.to_string()));
        assert_eq!(value_of("parent_span_id"), Some(outer.to_string()), "links among open spans stay");
        assert_eq!(span_trace(outer), Some(second));
        // Each END sees its own keys after the new unit's, in the new trace.
        pop_span(inner, |ctx, _| {
            let (trace, _, fields) = ctx.expect("still open here");
            let mut want = Vec::new();
            encode_fields(&mut want, &["new", "n2", "o", "i"], &[&4u8, &5u8, &2u8, &3u8]);
            assert_eq!((trace, fields), (Some(second), &want[..]));
        });
        assert_eq!(keys(), ["trace_id", "span_id", "new", "n2", "o"], "the outer span is now a root");
        pop_span(outer, |ctx, _| assert_eq!(ctx.map(|c| c.0), Some(Some(second))));
        assert_eq!(keys(), ["trace_id", "new", "n2"]);
    }

    #[test]
    fn a_rehomed_root_span_becomes_a_child_of_the_continued_traces_remote_parent() {
        let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let old = TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        new_context(old.into_trace_context().unwrap(), &[], &[]);
        let (_, span, parent) = push_span(SpanParent::Current, &[], &[]);
        assert_eq!(parent, Some(old.parent_id));
        new_context(tp.into_trace_context().unwrap(), &[], &[]);
        assert_eq!(current_span_id(), Some(span));
        assert_eq!(value_of("trace_id"), Some(tp.trace_id.to_string()));
        assert_eq!(value_of("parent_span_id"), Some(tp.parent_id.to_string()));
    }

    #[test]
    fn a_span_binds_its_id_parent_and_keys_until_it_closes() {
        let t = new_context(None, &["user"], &[&"u1"]);
        let (t1, outer, none) = push_span(SpanParent::Current, &["shard"], &[&3u8]);
        assert_eq!((t1, none), (t, None));
        let (_, inner, parent) = push_span(SpanParent::Current, &[], &[]);
        assert_eq!(parent, Some(outer));
        assert_eq!(keys(), ["trace_id", "span_id", "parent_span_id", "user", "shard"]);
        assert_eq!(value_of("span_id"), Some(inner.to_string()));
        assert_eq!(value_of("parent_span_id"), Some(outer.to_string()));
        // The END of the inner span sees the context as the span saw it.
        pop_span(inner, |ctx, _| assert!(ctx.is_some(), "the span was open here"));
        assert_eq!(value_of("span_id"), Some(outer.to_string()));
        assert_eq!(keys(), ["trace_id", "span_id", "user", "shard"]);
        pop_span(outer, |_, _| ());
        assert_eq!(keys(), ["trace_id", "user"]);
    }

    #[test]
    fn closing_an_outer_span_first_keeps_the_inner_one_open_with_its_keys() {
        new_context(None, &[], &[]);
        let (_, outer, _) = push_span(SpanParent::Current, &["o"], &[&1u8]);
        let (_, inner, _) = push_span(SpanParent::Current, &["i"], &[&2u8]);
        // The outer span's END carries its own keys, not the inner span's.
        pop_span(outer, |ctx, _| {
            let (_, _, fields) = ctx.expect("open");
            let mut buf = Vec::new();
            encode_fields(&mut buf, &["o"], &[&1u8]);
            assert_eq!(fields, &buf[..]);
        });
        assert_eq!(current_span_id(), Some(inner));
        assert_eq!(value_of("parent_span_id"), Some(outer.to_string()), "a parent is fixed at open");
        assert_eq!(keys(), ["trace_id", "span_id", "parent_span_id", "i"]);
    }

    #[test]
    fn a_span_not_open_in_this_context_closes_without_its_frame() {
        new_context(None, &[], &[]);
        let (_, id, _) = push_span(SpanParent::Current, &[], &[]);
        let mut other = Current::default();
        let _in = Installed::new(&mut other);
        assert!(pop_span(id, |ctx, _| ctx.is_none()));
        assert!(!with_span_state(id, &mut |_| ()));
        assert_eq!(span_trace(id), None);
    }

    #[test]
    fn a_first_span_outside_any_unit_starts_a_trace() {
        let (t, _, parent) = push_span(SpanParent::Current, &[], &[]);
        assert_eq!((current_trace_id(), parent), (Some(t), None));
    }

    #[test]
    fn a_remote_parent_is_the_parent_of_the_first_span_and_traceparent_names_the_innermost() {
        let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        new_context(tp.into_trace_context().unwrap(), &[], &[]);
        let (t, id, parent) = push_span(SpanParent::Current, &[], &[]);
        assert_eq!((t, parent), (tp.trace_id, Some(tp.parent_id)));
        let out = traceparent().expect("in a trace");
        assert!(out.starts_with(&format!("00-{}-{}-", tp.trace_id, id)), "{out}");
    }

    #[test]
    fn trace_ids_are_taken_from_ids_hex_strings_and_traceparents_and_bad_ones_are_errors() {
        let hex = "4bf92f3577b34da6a3ce929d0e0e4736";
        let t = TraceId::parse(hex).unwrap();
        assert_eq!(hex.into_trace_context(), Ok(Some(TraceStart { trace_id: t, parent_id: None })));
        assert_eq!(t.into_trace_context(), hex.to_owned().into_trace_context());
        assert_eq!(None::<&str>.into_trace_context(), Ok(None));
        let tp = format!("00-{hex}-00f067aa0ba902b7-01");
        assert_eq!(
            tp.as_str().into_trace_context().unwrap().unwrap().parent_id,
            Some(SpanId::parse("00f067aa0ba902b7").unwrap())
        );
        assert_eq!("not-a-trace".into_trace_context(), Err("not-a-trace".to_owned()));
        assert!("4bf92f35".into_trace_context().is_err(), "too short for a trace id");
    }

    struct Boom;

    impl crate::Value for Boom {
        fn encode(&self, enc: &mut ValueEncoder<'_>) {
            enc.str("half");
            panic!("boom while encoding a bound value")
        }
    }

    #[test]
    fn a_value_that_panics_in_new_context_or_a_span_leaves_the_context_unchanged() {
        let t = new_context(None, &["user"], &[&"u1"]);
        let before = bound();
        let r = std::panic::catch_unwind(|| new_context(None, &["user", "k"], &[&"u2", &Boom]));
        assert!(r.is_err());
        assert_eq!((bound(), current_trace_id()), (before.clone(), Some(t)), "new_context! rolled back");
        let r = std::panic::catch_unwind(|| push_span(SpanParent::Current, &["a", "k"], &[&1u8, &Boom]));
        assert!(r.is_err());
        assert_eq!((bound(), current_span_id()), (before, None), "the span did not open");
        // With a span open, the re-homing path.
        let (_, outer, _) = push_span(SpanParent::Current, &["a"], &[&1u8]);
        let open = bound();
        let r = std::panic::catch_unwind(|| new_context(None, &["k"], &[&Boom]));
        assert!(r.is_err());
        assert_eq!((bound(), current_trace_id(), current_span_id()), (open, Some(t), Some(outer)));
        let (_, inner, _) = push_span(SpanParent::Current, &["b"], &[&2u8]);
        assert_eq!(keys(), ["trace_id", "span_id", "parent_span_id", "user", "a", "b"]);
        assert_eq!(value_of("parent_span_id"), Some(outer.to_string()));
        pop_span(inner, |_, _| ());
        pop_span(outer, |_, _| ());
        assert_eq!(keys(), ["trace_id", "user"]);
        // Outside any unit, a span whose value panics starts no trace.
        let mut empty = Current::default();
        let _in = Installed::new(&mut empty);
        let r = std::panic::catch_unwind(|| push_span(SpanParent::Current, &["k"], &[&Boom]));
        assert!(r.is_err());
        assert_eq!((current_trace_id(), bound()), (None, Vec::new()));
    }

    #[test]
    fn an_installed_context_is_current_until_its_guard_drops() {
        let outer = new_context(None, &["k"], &[&"outer"]);
        let mut task = Current::default();
        {
            let _in = Installed::new(&mut task);
            assert_eq!(current_trace_id(), None, "the task's own (empty) context");
            new_context(None, &["k"], &[&"task"]);
        }
        assert_eq!(current_trace_id(), Some(outer));
        assert_eq!(value_of("k").as_deref(), Some("outer"));
        // The task keeps what it bound for its next poll.
        assert!(task.trace.is_some());
    }
}
