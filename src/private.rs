//! What the macros expand to. Not API: may change in any release.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::callsite::Callsite;
pub use crate::context::IntoTraceContext;
pub use crate::keys::reserved_key_error;
pub use crate::level::Level;
pub use crate::span::{
    outcome, CaptureStart, Captured, IntoSpanName, IntoSpanParent, Outcome, Span, SpanParent, SpanSite, StaticName,
};
pub use crate::value::{debug, display, Value};
pub use core::format_args;

use crate::record::{Encoder, HAS_MESSAGE, STATIC_MESSAGE};
use crate::span::SpanSite as Site;
use crate::{clock, context, filter, frontend, runtime};

/// The gate: level floor, per-target directives, sampling. Loads a few atomics and
/// evaluates none of the record's arguments.
#[inline(always)]
pub fn enabled(cs: &'static Callsite) -> bool {
    match filter::enabled_cached(cs) {
        Some(keep) => keep,
        None => enabled_first(cs),
    }
}

/// The gate's cold path: a call site's first call (or its first after a `set_level`).
/// Before logkit starts every call comes here, so the lazy start happens before any
/// argument is evaluated and the environment's filters decide the first record too.
#[cold]
#[inline(never)]
fn enabled_first(cs: &'static Callsite) -> bool {
    runtime::ensure_started();
    filter::enabled_uncached(cs)
}

/// Records one event. Non-generic: every call site shares this one body.
pub fn log(cs: &'static Callsite, message: Option<fmt::Arguments<'_>>, fields: &[&dyn Value]) {
    let fe = match frontend::get() {
        Some(fe) => fe,
        None => match start_for(cs) {
            Some(fe) => fe,
            None => return,
        },
    };
    let ts = clock::now();
    // A message without arguments is a literal: it travels as a pointer.
    let literal = message.and_then(|m| m.as_str()).filter(|s| s.len() <= crate::record::encode::MAX_VALUE_BYTES);
    let flags = match (message, literal) {
        (_, Some(_)) => HAS_MESSAGE | STATIC_MESSAGE,
        (Some(_), None) => HAS_MESSAGE,
        (None, None) => 0,
    };
    fe.write(&mut |buf| {
        let mut enc = Encoder::begin(buf, cs.level(), flags, Some(cs), ts);
        match (literal, message) {
            (Some(s), _) => enc.static_str(s),
            (None, Some(m)) => enc.raw_fmt(m),
            (None, None) => {}
        }
        context::encode_current(&mut enc);
        let mut values = enc.values();
        for f in fields {
            f.encode(&mut values);
        }
        enc.finish();
    });
}

/// `log` called without the gate having started logkit (a caller that skipped
/// [`enabled`]): starts it, then asks the gate again, now with the filters installed.
#[cold]
#[inline(never)]
fn start_for(cs: &'static Callsite) -> Option<&'static frontend::Frontend> {
    runtime::ensure_started();
    if !filter::enabled(cs) {
        return None;
    }
    frontend::get()
}

/// `span!`. Not API.
pub fn span(site: &'static Site, name: std::borrow::Cow<'static, str>, values: &[&dyn Value]) -> Span {
    runtime::ensure_started();
    let span = Span::enter(site, name, SpanParent::Current, values);
    report_plain_task_if_due();
    span
}

/// Whether a `#[capture]` span of `site` opens now (its level, when it was given
/// one, is enabled for its target). Not API.
#[inline]
pub fn span_enabled(site: &'static Site) -> bool {
    runtime::ensure_started();
    site.enabled()
}

/// `#[capture]` on a sync fn. Not API.
pub fn span_under(
    site: &'static Site,
    name: std::borrow::Cow<'static, str>,
    under: SpanParent,
    values: &[&dyn Value],
) -> Span {
    runtime::ensure_started();
    let span = Span::enter(site, name, under, values);
    report_plain_task_if_due();
    span
}

/// `#[capture] async fn`: the span's keys, encoded when the fn is called. Not API.
pub fn capture_start(
    site: &'static Site,
    name: std::borrow::Cow<'static, str>,
    under: SpanParent,
    values: &[&dyn Value],
) -> CaptureStart {
    runtime::ensure_started();
    report_plain_task_if_due();
    CaptureStart::new(site, name, under, values)
}

/// `new_context!`. Not API.
pub fn new_context(names: &[&str], values: &[&dyn Value]) -> crate::TraceId {
    start_context(None, names, values)
}

/// `new_context!(trace_id = x, ...)`. Not API.
pub fn new_context_with<T: IntoTraceContext>(trace: T, names: &[&str], values: &[&dyn Value]) -> crate::TraceId {
    start_context(Some(trace.into_trace_context()), names, values)
}

fn start_context(
    trace: Option<Result<Option<context::TraceStart>, String>>,
    names: &[&str],
    values: &[&dyn Value],
) -> crate::TraceId {
    runtime::ensure_started();
    let mut bad = None;
    let given = match trace {
        Some(Ok(t)) => t,
        Some(Err(b)) => {
            bad = Some(b);
            None
        }
        // A bad `TRACEPARENT` is reported in the context it would have replaced.
        None => context::take_env_traceparent().unwrap_or_else(|e| {
            report_bad_trace_id(&e.value, &e.reason);
            None
        }),
    };
    let trace = context::new_context(given, names, values);
    report_plain_task_if_due();
    // Reported inside the new context, so the warning carries the trace that replaced
    // the bad one.
    if let Some(b) = bad {
        report_bad_trace_id(&b, "expected a 32-hex trace id or a W3C traceparent");
    }
    trace
}

/// After the first context bound in a tokio task started with plain `tokio::spawn`:
/// reports it once per process, outside the context's borrow, as a
/// `logkit.context_in_plain_task` warning saying how to make the context follow the
/// task. A relaxed load otherwise.
#[inline]
fn report_plain_task_if_due() {
    if context::plain_task_report_due() {
        report_context_in_plain_task();
    }
}

#[cold]
fn report_context_in_plain_task() {
    crate::warn!(
        target: "logkit",
        hint = "start the task with logkit::spawn(fut), or tokio::spawn(fut.in_current_context()) \
                (use logkit::FutureExt), or put #[capture] on its async fn",
        reason = "new_context!/span! ran in a tokio task started with plain tokio::spawn: that task has no \
                  context of its own, so what it binds lives in its worker thread, is seen by this task only \
                  (never by the worker's other tasks), and is lost when the task moves to another worker or \
                  another task binds one",
        "logkit.context_in_plain_task"
    );
}

static BAD_TRACE_REPORTED: AtomicBool = AtomicBool::new(false);

/// A malformed trace id given to `new_context!` (or in `TRACEPARENT`): reported once
/// per process as a `logkit.bad_trace_id` warning; a fresh trace is started.
#[cold]
pub(crate) fn report_bad_trace_id(value: &str, reason: &str) {
    if BAD_TRACE_REPORTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let shown: String = value.chars().take(100).collect();
    crate::warn!(target: "logkit", value = shown.as_str(), reason = reason, "logkit.bad_trace_id");
}

/// The span name `#[capture]` uses: the path of the function that contains the local
/// fn item named by `local_fn_path`, without `{{closure}}` segments or generic
/// arguments (`app::Cache<_>::get` → `app::Cache::get`). Not API.
pub fn fn_path(local_fn_path: &'static str) -> &'static str {
    let mut p = local_fn_path;
    if let Some(i) = p.rfind("::") {
        p = &p[..i]; // drop the local item's own name
    }
    while let Some(stripped) = p.strip_suffix("::{{closure}}") {
        p = stripped;
    }
    if !p.contains("{{closure}}") && !p.contains("<_") {
        return p;
    }
    clean_path(p)
}

/// The slow path of [`fn_path`]: builds the cleaned name once per distinct input.
#[cold]
fn clean_path(p: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CLEANED: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let map = CLEANED.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = match map.lock() {
        Ok(m) => m,
        Err(e) => e.into_inner(),
    };
    if let Some(c) = map.get(p) {
        return c;
    }
    let without_closures = p.replace("::{{closure}}", "");
    // Drop `<_, _>` argument lists (a generic impl's inferred parameters), keeping
    // `<A as B>` qualified paths.
    let mut out = String::with_capacity(without_closures.len());
    let mut rest = without_closures.as_str();
    while let Some(i) = rest.find("<_") {
        out.push_str(&rest[..i]);
        let mut depth = 0;
        let mut end = rest.len();
        for (j, c) in rest[i..].char_indices() {
            match c {
                '<' => depth += 1,
                '>' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    // One leaked string per distinct captured fn: bounded by the program's code.
    let cleaned: &'static str = Box::leak(out.into_boxed_str());
    map.insert(p, cleaned);
    cleaned
}

#[cfg(test)]
mod tests {
    use super::fn_path;

    #[test]
    fn fn_paths_lose_closures_and_inferred_generics() {
        assert_eq!(fn_path("app::orders::place::__logkit_here"), "app::orders::place");
        assert_eq!(fn_path("app::run::{{closure}}::__logkit_here"), "app::run");
        assert_eq!(fn_path("app::outer::{{closure}}::{{closure}}::inner::__logkit_here"), "app::outer::inner");
        assert_eq!(fn_path("app::Cache<_>::get::__logkit_here"), "app::Cache::get");
        assert_eq!(fn_path("app::Map<_, _>::get::__logkit_here"), "app::Map::get");
        assert_eq!(
            fn_path("<app::Shop as app::Inventory>::count::__logkit_here"),
            "<app::Shop as app::Inventory>::count"
        );
    }
}
