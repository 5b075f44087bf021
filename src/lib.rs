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
//! (`prod`) console. Tuning is by `LOG_*` environment variables (see [`Config`]).
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
#![deny(unsafe_op_in_unsafe_fn)]

mod callsite;
mod clock;
mod config;
mod context;
mod filter;
mod frontend;
mod id;
mod keys;
mod level;
#[cfg(feature = "log")]
mod log_bridge;
mod macros;
mod pad;
mod record;
mod render;
mod runtime;
mod sink;
mod span;
mod span_state;
mod value;
mod writer;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::config::{
    Config, ConfigError, ConfigErrorKind, Console, Fsync, Overflow, Profile, DEFAULT_BACKUPS, DEFAULT_BUFFER,
    DEFAULT_FILE_MODE, DEFAULT_FSYNC_INTERVAL, DEFAULT_REDACT, DEFAULT_ROTATE_BYTES,
};
#[cfg(feature = "tokio")]
pub use crate::context::spawn;
pub use crate::context::{
    current_span_id, current_trace_id, thread, traceparent, ContextGuard, FutureExt, IntoTraceContext, TraceStart,
    WithContext,
};
pub use crate::id::{ParseIdError, SpanId, TraceId, TraceParent};
pub use crate::level::{Directives, Level, LevelFilter};
pub use crate::record::encode::MAX_VALUE_BYTES;
pub use crate::record::ValueEncoder;
pub use crate::runtime::{flush, init, set_level, set_sample, Guard};
pub use crate::span::{current_span, CurrentSpan, IntoSpanName, Span};
#[cfg(feature = "serde")]
pub use crate::value::Serde;
pub use crate::value::{debug, display, DebugValue, DisplayValue, Value};
pub use logkit_macros::capture;
