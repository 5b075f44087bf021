//! # logkit
//!
//! Structured, trace-correlated logging for latency-sensitive services, with no setup.
//!
//! ```no_run
//! use logkit::info;
//!
//! info!(order_id = 42, price = 1.5, symbol = "BTC", ok = true, "order filled");
//! logkit::flush();
//! ```
//!
//! Every record is one JSON line with a timestamp, level, event, the bound context and
//! its fields, written to `run.log` (rotated, fsynced) and to a pretty (`dev`) or JSON
//! (`prod`) console. Tuning is by `LOG_*` environment variables (`RUST_LOG` too), listed
//! in the [table of environment knobs](Config#environment-knobs) on [`Config`], which
//! also says how level directives match targets and how bad values are reported.
//!
//! ## Context in handlers, tasks and threads
//! A work unit (a request, a job, a message) gets a trace and bound keys from
//! [`new_context!`] or [`scoped_context!`]; every record logged in it carries them,
//! with the innermost open span. The context lives with the thread, or with a future
//! that was given its own, so which form to write depends on where the unit runs:
//!
//! | the unit runs in | write | so that |
//! | --- | --- | --- |
//! | a handler called in a loop on one thread (a worker, a consumer) | `let _unit = scoped_context!(..);` first in it | the unit ends with the scope: the loop's next record is back in the enclosing context, not in the last request's trace |
//! | a `#[capture]` fn that is the handler | `new_context!(..);` as its first line | the fn's span, opened a moment before, moves into the new trace: its `END` sits with the records logged inside it ([`scoped_context!`] would leave it in the caller's trace) |
//! | a thread that is one unit (`main` of a batch tool) | `new_context!(..);` once | it binds until the next `new_context!` on the thread |
//! | a tokio task | `logkit::spawn(async { new_context!(..); .. })` (feature `tokio`), or a `#[capture] async fn` | the task owns its context, swapped in on every poll, so it follows the task across `.await`s and worker threads |
//! | a future given to a join set, `select!`, an executor | `fut.`[`in_current_context`](FutureExt::in_current_context)`()` | the future runs in the context current where it was made |
//! | a thread started for part of the unit | [`thread::spawn`] | the thread starts in the spawner's trace, spans and keys ([`std::thread::spawn`] starts with none) |
//! | blocking work from a task | `logkit::spawn_blocking(f)` (feature `tokio`) | the pool thread runs in the task's context and gets its own back after |
//! | another process or service | [`traceparent()`] → `TRACEPARENT` or a header; there, `new_context!(trace_id = ..)` | the child's records continue the caller's trace, under the caller's span |
//! | an axum / tower service | `logkit::tower::CaptureLayer` (feature `tower`) | one unit and one `http.request` span per request, continuing an incoming `traceparent`; handlers only log |
//!
//! A task started with plain `tokio::spawn` has no context of its own: what
//! `new_context!` binds there lives on the worker thread the task ran on. With the
//! feature `tokio` it stays that task's (the thread's other tasks see none), but after
//! an `.await` that resumes the task on another thread its records no longer carry it;
//! logkit says so once, with a `logkit.context_in_plain_task` record. Start such tasks
//! with `logkit::spawn` or wrap them with `in_current_context()`.
//!
//! ```no_run
//! use logkit::{capture, info, new_context, scoped_context, span};
//!
//! // One thread, many requests: a unit per request, ended with the loop body.
//! fn serve(requests: &[u32]) {
//!     for &id in requests {
//!         let _unit = scoped_context!(request_id = id);
//!         let _span = span!("handle");
//!         info!("handled");
//!     } // END of `handle`, then the unit ends: the next request starts clean
//! }
//!
//! // The handler is a `#[capture]` fn: `new_context!` first.
//! #[capture]
//! fn handle(user: &str) {
//!     new_context!(user = user);
//!     info!("in the user's trace, inside the span of `handle`");
//!     let helper = logkit::thread::spawn(|| info!("same trace, span and user"));
//!     helper.join().unwrap();
//! }
//! # serve(&[1, 2]);
//! # handle("u1");
//! ```
//!
//! In async code (feature `tokio`):
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn run() {
//! use logkit::{capture, info, new_context, FutureExt};
//!
//! #[capture] // the fn's future carries the context it was called in
//! async fn charge(order: u64) {
//!     info!(order, "charging");
//! }
//!
//! // A task per request: the task owns its context across `.await`s and threads.
//! let task = logkit::spawn(async {
//!     new_context!(request_id = 7);
//!     charge(42).await;
//!     let lookup = async { info!("still request 7") }.in_current_context();
//!     tokio::join!(lookup, charge(43));
//!     logkit::spawn_blocking(|| info!("request 7, on the blocking pool")).await.unwrap();
//! });
//! task.await.unwrap();
//! # }
//! ```
//!
//! ## How a record travels
//! A call site first asks the gate (a few atomic loads: level, per-target directives,
//! sampling); a record left out evaluates none of its arguments. A kept record is
//! copied in a compact binary form into the calling thread's preallocated buffer;
//! full buffers go onto a bounded lock-free ring, and one writer thread renders JSON
//! while a companion file thread writes the previous batch, rotates and fsyncs.
//! Emptied buffers come back to the producers, so
//! a log call allocates nothing in steady state.
//!
//! ## Guarantees
//! Records from one thread appear in the order logged; a record is never split or
//! interleaved with another; after [`flush`] returns everything logged before it is on
//! disk; exit, `std::process::exit` and panics flush without a guard; with the default
//! overflow policy nothing is dropped, and under `LOG_OVERFLOW=drop` every drop is
//! counted and reported in the log itself. A failing disk never panics the
//! application and never blocks it forever: failures are reported on stderr and the
//! records that could not be written are counted in a `logkit.lost` record.

#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
// docs.rs builds with every feature and `--cfg docsrs` (Cargo.toml's
// `[package.metadata.docs.rs]`): each feature-gated item shows the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]

// Map of the source, bottom layer first. A module imports only from its own layer or
// the ones before it, never from a later one.
//
// 1. Data and algorithms, no shared state:
//    callsite    per-call-site static metadata (level, target, keys, the gate's cache)
//    clock       a raw monotonic reading at the call site, wall time in the writer
//    config      `Config`, the `LOG_*` knobs
//    config_error `ConfigError` and where a value came from (`Origin`)
//    host        the host name (`logkit.start`, the OTLP resource)
//    id          `TraceId`, `SpanId`, W3C `traceparent`
//    keys        the keys logkit writes itself
//    level       `Level`, filters, `LOG_LEVEL` directives
//    pad         cache-line padding
//    record      the compact record format: encode, `ValueEncoder`, `FieldValue`, view
//    render      compact records to JSON lines and pretty console lines; escaping
//    sink        the JSONL file (batch, rotate, follow, failures, torn tail), the console
//                and (feature `otlp`) the OTLP exporter
//    span_state  what an open span was told (`Span::record`, `fail`)
//    value       `Value`: how a Rust value is copied into a record
// 2. Each owns one piece of shared state:
//    filter      the gate: level floor, directives, sampling
//    frontend    per-thread buffers, the ring, and the slot protocol: the owner's half,
//                the writer's (`frontend::collect`) and their loom model; a forked
//                child's fresh start (`frontend::fork`)
//    context     the current work unit: trace id, open spans, bound keys
//    open_spans  every span open in the process, for `logkit.open_spans`
// 3. span        `span!`, `#[capture]`, `END` records, `exc_info`
//    log_bridge  the `log` facade's records, into the same gate and path
// 4. writer      the writer thread: collect, render, write the sinks, report
// 5. runtime     the started pipeline, and the only module that starts it (lazily
//                or by `init`); `flush`, `set_level`, the exit and panic hooks
// 6. macros and `__private`: the call sites. `__private` starts `runtime` on its cold
//    paths, so the hot path is the gate and one call.
//    integrations  front doors for other libraries (`tracing` layer, tower middleware): the same gate,
//                context, spans and buffers as the macros, never a pipeline of their own
//
// A record's path: macro -> `__private::enabled` (filter) -> `__private::log` encodes
// into this thread's buffer (frontend, record::encode) -> ring -> writer
// (record::view, render) -> sink.

mod callsite;
mod clock;
mod config;
mod config_error;
mod host;
mod id;
mod keys;
mod level;
mod pad;
mod record;
mod render;
mod sink;
mod span_state;
mod value;

mod context;
mod filter;
mod frontend;
mod open_spans;

#[cfg(feature = "log")]
mod log_bridge;
mod span;

mod writer;

mod runtime;

mod macros;

#[cfg(any(feature = "tracing", feature = "tower"))]
mod integrations;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "__fuzz")]
#[doc(hidden)]
#[path = "fuzz_api.rs"]
pub mod __fuzz;

pub use crate::config::{
    Config, ConfigError, ConfigErrorKind, Console, Fsync, Overflow, Profile, DEFAULT_BACKUPS, DEFAULT_BUFFER,
    DEFAULT_FILE_MODE, DEFAULT_FSYNC_INTERVAL, DEFAULT_REDACT, DEFAULT_ROTATE_BYTES,
};
pub use crate::context::{
    current_span_id, current_trace_id, thread, traceparent, ContextGuard, FutureExt, IntoTraceContext, TraceStart,
    WithContext,
};
#[cfg(feature = "tokio")]
pub use crate::context::{spawn, spawn_blocking};
pub use crate::id::{ParseIdError, SpanId, TraceId, TraceParent};
#[cfg(feature = "tower")]
pub use crate::integrations::tower;
#[cfg(feature = "tracing")]
pub use crate::integrations::tracing;
pub use crate::level::{Directives, Level, LevelFilter};
pub use crate::record::encode::MAX_VALUE_BYTES;
pub use crate::record::ValueEncoder;
pub use crate::runtime::{flush, init, set_level, set_sample, Guard};
pub use crate::span::{current_span, CurrentSpan, IntoSpanName, Span};
#[cfg(feature = "serde")]
pub use crate::value::Serde;
pub use crate::value::{debug, display, DebugValue, DisplayValue, Value};
pub use logkit_macros::capture;
