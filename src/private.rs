//! What the macros expand to. Not API: may change in any release.

use std::fmt;

pub use crate::callsite::Callsite;
pub use crate::context::IntoTraceContext;
pub use crate::level::Level;
pub use crate::span::{outcome, CaptureStart, Captured, Outcome, Span, SpanSite};
pub use crate::value::{debug, display, Value};
pub use core::format_args;

use crate::record::{Encoder, HAS_MESSAGE};
use crate::{clock, context, filter, runtime};

/// The gate: level floor, per-target directives, sampling. Loads a few atomics and
/// evaluates none of the record's arguments.
#[inline(always)]
pub fn enabled(cs: &'static Callsite) -> bool {
    filter::enabled(cs)
}

/// Records one event. Non-generic: every call site shares this one body.
pub fn log(cs: &'static Callsite, message: Option<fmt::Arguments<'_>>, fields: &[&dyn Value]) {
    let rt = match runtime::get() {
        Some(rt) => rt,
        None => {
            let rt = runtime::ensure_started();
            // The gate let everything through before the filters were installed.
            if !filter::enabled(cs) {
                return;
            }
            rt
        }
    };
    let ts = clock::now();
    let flags = if message.is_some() { HAS_MESSAGE } else { 0 };
    rt.frontend.write(&mut |buf| {
        let mut enc = Encoder::begin(buf, cs.level(), flags, Some(cs), ts);
        if let Some(m) = message {
            enc.raw_fmt(m);
        }
        context::encode_current(&mut enc);
        let mut values = enc.values();
        for f in fields {
            f.encode(&mut values);
        }
        enc.finish();
    });
}

/// `new_context!`. Not API.
pub fn new_context(names: &[&str], values: &[&dyn Value]) -> crate::TraceId {
    runtime::ensure_started();
    context::new_context(None, names, values)
}

/// `new_context!(trace_id = x, ...)`. Not API.
pub fn new_context_with<T: IntoTraceContext>(trace: T, names: &[&str], values: &[&dyn Value]) -> crate::TraceId {
    runtime::ensure_started();
    context::new_context(Some(trace.into_trace_context()), names, values)
}

/// The span name `#[capture]` uses: the path of the function that contains `f` (a
/// local fn item), without closure segments. Not API.
pub fn fn_path(local_fn_path: &'static str) -> &'static str {
    let mut p = local_fn_path;
    if let Some(i) = p.rfind("::") {
        p = &p[..i]; // drop the local item's own name
    }
    while let Some(stripped) = p.strip_suffix("::{{closure}}") {
        p = stripped;
    }
    p
}
