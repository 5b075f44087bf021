//! The call-site macros.
//!
//! Each expands to a `static` call site (level, target, location, field names), the
//! gate (`__private::enabled`: a few atomic loads, nothing evaluated), and one call to
//! the non-generic `__private::log` with the message as `fmt::Arguments` and the
//! values as `&dyn Value`. Field syntax follows `tracing`'s event macros.

/// Logs a record at a given level: `event!(Level::Info, k = v, "msg")`. The level
/// must be a constant expression (it is stored in the call site's `static`); the rest
/// is the syntax of [`info!`](crate::info!). The level macros are this macro with the
/// level filled in.
///
/// ```no_run
/// use logkit::{event, Level};
/// # let (symbol, qty) = ("BTC", 3);
/// event!(Level::Info, symbol, qty, "order accepted");
/// event!(Level::Warn, target: "risk", limit = 10_000, "position near its limit");
///
/// // The level is fixed per call site; choose between call sites for a run-time level.
/// # let failed = false;
/// if failed {
///     event!(Level::Error, symbol, "order rejected");
/// } else {
///     event!(Level::Debug, symbol, "order checked");
/// }
/// ```
///
/// `tracing`'s forms compile unchanged where they mean something to logkit:
///
/// ```no_run
/// use logkit::{event, info, Level};
/// event!(Level::INFO, order_id = 42, "order filled");       // tracing's level constants
/// event!(target: "audit", Level::WARN, user = "u1");          // target first
/// info!(name: "user.login", user = "u1");                     // written as `event.name`
/// event!(Level::DEBUG, { n = 3, ok = true }, "a field block"); // braces are optional
/// ```
///
/// `parent:` on a record is a compile error that says what to write instead: a
/// logkit record belongs to the span open where it is logged (`span!(parent: p,
/// "name")` opens a span under another).
#[macro_export]
macro_rules! event {
    // ---- tracing's order: `target:`, `parent:`, `name:` before the level
    (target: $target:expr, parent: $($rest:tt)*) => { $crate::__parent_on_record!() };
    (parent: $($rest:tt)*) => { $crate::__parent_on_record!() };
    (name: $name:expr, target: $target:expr, $lvl:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $target, ["event.name"] [$name] $($($rest)*)?)
    };
    (target: $target:expr, name: $name:expr, $lvl:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $target, ["event.name"] [$name] $($($rest)*)?)
    };
    (name: $name:expr, $lvl:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, ::core::module_path!(), ["event.name"] [$name] $($($rest)*)?)
    };
    (target: $target:expr, $lvl:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $target, [] [] $($($rest)*)?)
    };
    // ---- the level first (what `info!` and friends expand to)
    ($lvl:expr, parent: $($rest:tt)*) => { $crate::__parent_on_record!() };
    ($lvl:expr, target: $target:expr, parent: $($rest:tt)*) => { $crate::__parent_on_record!() };
    ($lvl:expr, name: $name:expr, target: $target:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $target, ["event.name"] [$name] $($($rest)*)?)
    };
    ($lvl:expr, target: $target:expr, name: $name:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $target, ["event.name"] [$name] $($($rest)*)?)
    };
    ($lvl:expr, name: $name:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, ::core::module_path!(), ["event.name"] [$name] $($($rest)*)?)
    };
    ($lvl:expr, target: $target:expr, $($rest:tt)*) => {
        $crate::__log_munch!(@ $lvl, $target, [] [] $($rest)*)
    };
    ($lvl:expr, $($rest:tt)*) => {
        $crate::__log_munch!(@ $lvl, ::core::module_path!(), [] [] $($rest)*)
    };
}

/// `tracing`'s `parent:` on a record: a compile error in words. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __parent_on_record {
    () => {
        ::core::compile_error!(
            "logkit: `parent:` on a record is not supported: a record belongs to the span open where it is logged; \
             log it inside that span, or open a span under another with `span!(parent: p, \"name\")`"
        )
    };
}

/// Logs at TRACE. Same syntax as [`info!`](crate::info!).
///
/// The finest level: below the default floor of both profiles (`dev` keeps DEBUG and
/// up, `prod` INFO and up), so it costs one branch until `LOG_LEVEL` (or
/// [`set_level`](crate::set_level)) lets it in, e.g. `LOG_LEVEL=info,app::wire=trace`.
///
/// ```no_run
/// use logkit::trace;
/// # let (frame, bytes) = (7_u64, [0u8; 4]);
/// trace!(frame, len = bytes.len(), head = ?&bytes[..2], "decoded frame");
/// trace!(target: "app::wire", "keepalive");
/// ```
#[macro_export]
macro_rules! trace {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Trace, $($rest)*) };
}

/// Logs at DEBUG. Same syntax as [`info!`](crate::info!).
///
/// Kept by the `dev` profile, left out by `prod` (its floor is INFO) unless
/// `LOG_LEVEL` lets it in. Like INFO, it is subject to `LOG_SAMPLE`.
///
/// ```no_run
/// use logkit::debug;
/// # let (key, hit, config) = ("user:42", true, vec![("retries", 3)]);
/// debug!(key, hit, "cache lookup");
/// debug!(config = ?config);                 // fields only: the message is optional
/// debug!(target: "app::cache", evicted = 12, "sweep done");
/// ```
#[macro_export]
macro_rules! debug {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Debug, $($rest)*) };
}

/// Logs at INFO.
///
/// ```no_run
/// # use logkit::info;
/// # let (name, req, n) = ("ann", vec![1], 3);
/// info!(order_id = 42, price = 1.5, symbol = "BTC", ok = true, "order filled");
/// info!(user = %name, req = ?req, "handled {} items", n);
/// info!(n, "shorthand: the field is named after the variable");
/// info!(target: "audit", action = "login");
/// ```
///
/// Fields are `key = value` (any [`Value`](crate::Value)), `key = %v` (`Display`),
/// `key = ?v` (`Debug`), or the shorthands `v`, `%v`, `?v`; keys may be dotted
/// (`http.status = 200`) or string literals. The message comes last, with
/// `format!`-style arguments; it is optional when fields are given. Nothing is
/// evaluated when the level or the sampling rate leaves the record out.
#[macro_export]
macro_rules! info {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Info, $($rest)*) };
}

/// Logs at WARN (written as `"level":"warning"`). Same syntax as [`info!`](crate::info!).
///
/// Always kept by `LOG_SAMPLE` (sampling thins only DEBUG and INFO).
///
/// ```no_run
/// use logkit::warn;
/// # let (attempt, elapsed_ms, peer) = (2, 250.5, "10.0.0.7:443");
/// warn!(attempt, elapsed_ms, peer = %peer, "retrying after a slow reply");
/// warn!(target: "app::db", "pool at {}% of its size", 90);
/// ```
#[macro_export]
macro_rules! warn {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Warn, $($rest)*) };
}

/// Logs at ERROR. Same syntax as [`info!`](crate::info!).
///
/// Always kept by `LOG_SAMPLE`. A reader finds these records with
/// `select(.level=="error")`; a failed span's `END` record is written at ERROR too and
/// carries `"status":"error"`, so `select(.level=="error" or .status=="error")` (what
/// `logkit errors` selects) finds both (the README's "Finding failures").
///
/// ```no_run
/// use logkit::error;
/// # fn charge() -> Result<(), std::io::Error> { Ok(()) }
/// # let order_id = 42;
/// if let Err(e) = charge() {
///     error!(order_id, error = %e, "payment failed");
/// }
/// error!(target: "app::payments", code = 402, "card refused");
/// ```
///
/// To mark the surrounding span failed as well (so its `END` carries `exc_info`
/// with the error's `source()` chain), call [`Span::fail`](crate::Span::fail) or
/// return `Err` from a [`#[capture]`](crate::capture) fn.
#[macro_export]
macro_rules! error {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Error, $($rest)*) };
}

/// Field muncher. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_munch {
    // ---- end: no message
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*]) => {
        $crate::__log_emit!($lvl, $tgt, [$($n),*] [$($v),*] ::core::option::Option::None)
    };
    // ---- tracing's field block: `{ k = 1, .. }`, the same fields without braces
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] { $($fields:tt)+ } $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n),*] [$($v),*] $($fields)+ $(, $($rest)*)?)
    };
    // ---- string-literal keys (before the message rule: both start with a literal)
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $k:literal = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $k] [$($v,)* $crate::__private::display(&$val)] $($($rest)*)?)
    };
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $k:literal = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $k] [$($v,)* $crate::__private::debug(&$val)] $($($rest)*)?)
    };
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $k:literal = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $k] [$($v,)* $val] $($($rest)*)?)
    };
    // ---- the message: a format string and its arguments, last
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $fmt:literal $($args:tt)*) => {
        $crate::__log_emit!($lvl, $tgt, [$($n),*] [$($v),*]
            ::core::option::Option::Some($crate::__private::format_args!($fmt $($args)*)))
    };
    // ---- ident keys
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $($k:ident).+ = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::display(&$val)] $($($rest)*)?)
    };
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $($k:ident).+ = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::debug(&$val)] $($($rest)*)?)
    };
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $($k:ident).+ = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $crate::__field_name!($($k).+)] [$($v,)* $val] $($($rest)*)?)
    };
    // ---- shorthands: `%v`, `?v`, `v`
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] % $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::display(&$($k).+)] $($($rest)*)?)
    };
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] ? $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::debug(&$($k).+)] $($($rest)*)?)
    };
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__log_munch!(@ $lvl, $tgt, [$($n,)* $crate::__field_name!($($k).+)] [$($v,)* $($k).+] $($($rest)*)?)
    };
    // ---- anything else: say what a field looks like, instead of "no rules expected"
    (@ $lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "logkit: cannot read `", ::core::stringify!($($rest)+), "` as fields and a message: write fields as \
             `key = value`, `key = %value` (Display), `key = ?value` (Debug) or a variable `name`, separated by \
             commas, then the message (a format string and its arguments) last"
        ))
    };
}

/// A dotted field name as one string: `a.b.c` → `"a.b.c"`. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __field_name {
    ($first:ident $(. $rest:ident)*) => {
        ::core::concat!(::core::stringify!($first) $(, ".", ::core::stringify!($rest))*)
    };
}

/// A compile error at the call site when a field takes a key logkit writes itself
/// (`level`, `trace_id`, `status`, ...; see `keys.rs`), saying why. Evaluated by the
/// compiler: nothing of it is left in the compiled code. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __check_keys {
    () => {};
    ($($n:expr),+) => {
        const _: () = if let ::core::option::Option::Some(m) = $crate::__private::reserved_key_error(&[$($n),+]) {
            ::core::panic!("{}", m)
        };
    };
}

/// The expansion of every log macro. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_emit {
    ($lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $msg:expr) => {{
        $crate::__check_keys!($($n),*);
        static __LOGKIT_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $lvl,
            $tgt,
            ::core::file!(),
            ::core::line!(),
            &[$($n),*],
        );
        if $crate::__private::enabled(&__LOGKIT_CALLSITE) {
            $crate::__private::log(&__LOGKIT_CALLSITE, $msg, &[$(&$v as &dyn $crate::__private::Value),*]);
        }
    }};
}

/// Starts a new work unit: clears the stale context, starts a trace (or continues
/// one given as `trace_id = x`: a [`TraceId`](crate::TraceId), a 32-hex string or a W3C
/// `traceparent`), binds the keys to every later record of the unit, and returns the
/// [`TraceId`](crate::TraceId).
///
/// ```no_run
/// # use logkit::{new_context, info};
/// # let (user, incoming) = ("u1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// let trace = new_context!(user = user, path = "/orders");
/// let same = new_context!(trace_id = incoming, user = user);   // continue a caller's trace
/// info!("every record now carries trace_id, user and path");
/// ```
///
/// A malformed `trace_id` starts a fresh trace and is reported once (a
/// `logkit.bad_trace_id` warning). Without `trace_id`, the first `new_context!` of a
/// process started with `TRACEPARENT` in its environment continues that trace.
///
/// # Spans open when it runs
///
/// Spans open in the work unit move into the new trace as its roots (children of the
/// caller's span when `trace_id` is a `traceparent`), with their ids and keys; the
/// previous unit's keys are replaced under them. So a handler's span ends in the
/// trace of the records logged inside it, whichever came first:
///
/// ```no_run
/// # use logkit::{capture, info, new_context, span};
/// #[capture]
/// fn handle(user: &str) {
///     new_context!(user = user);    // the fn's span, opened a moment ago, moves here
///     info!("inside");              // same trace_id as the END of `handle`
/// }
///
/// let _span = span!("request");     // a guard taken first moves too
/// new_context!(user = "u2");
/// ```
///
/// The span's `START` record, written when it opened, keeps the trace it was written
/// in (match it to the `END` by `span_id`). To start a unit *inside* a span that
/// belongs to an enclosing trace (one trace per item of a batch), use
/// [`scoped_context!`](crate::scoped_context!): it leaves the enclosing spans alone.
#[macro_export]
macro_rules! new_context {
    (trace_id = $trace:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@trace ($trace) [] [] $($($rest)*)?)
    };
    ($($rest:tt)*) => {
        $crate::__ctx_munch!(@none () [] [] $($rest)*)
    };
}

/// Opens a span: `let _span = span!("name", k = v, ...);`
///
/// While the guard lives, records carry the span's `span_id` (a child of the current
/// span: `parent_span_id`) and its keys; dropping it logs one `END` record with
/// `span`, `dur_ms` and `status`. Dropped during a panic, the status is `"error"` with
/// the panic in `exc_info`; [`Span::fail`](crate::Span::fail) marks it failed with an
/// error and its `source()` chain.
///
/// ```no_run
/// # use logkit::{info, span};
/// # let (route, order_id) = ("/orders", 42);
/// fn place(order_id: u64) {
///     let span = span!("place", order_id);           // END: span="place", order_id=42
///     info!("inside: carries span_id and order_id");
///     span.record("items", 3);                        // a result, on the END record
/// }
/// let _req = span!(name = format!("GET {route}"));    // a computed name
/// ```
///
/// The name is a string literal (never copied), `name = <expr>` for a computed one
/// (a `String`, or a `&str` that the span copies), or any other expression of those
/// types.
///
/// `tracing`'s forms, a level and a literal name first, with `target:` and `parent:`:
///
/// ```no_run
/// # use logkit::{span, Level};
/// let outer = span!(Level::INFO, "request", route = "/orders");
/// let _db = span!(target: "app::db", Level::DEBUG, "query").entered();
/// let _child = span!(parent: &outer, "adopted");    // under `outer`, not `query`
/// ```
///
/// A span given a level is opened only when that level is enabled for its target
/// (else `span!` returns a span that does nothing, and the records inside belong to
/// the enclosing span); its `START` and successful `END` are written at that level (a
/// failed `END` is always an ERROR). `parent:` takes a `SpanId`, an `Option<SpanId>`
/// (`None`: a root of the current trace), a `&Span` or a `CurrentSpan`.
///
/// A span whose work failed without panicking is marked with
/// [`fail`](crate::Span::fail) (any `std::error::Error`: its `END` gets
/// `status="error"` and `exc_info` with the error's type, message and `source()`
/// chain) or [`fail_with`](crate::Span::fail_with) (any `Display`):
///
/// ```no_run
/// # use logkit::span;
/// fn load(path: &str) -> std::io::Result<String> {
///     let span = span!("load", path);
///     // On Err: END {"span":"load","status":"error","exc_info":{"type":"std::io::error::Error",
///     //              "message":"No such file or directory (os error 2)","chain":[]},...}
///     let text = std::fs::read_to_string(path).inspect_err(|e| span.fail(e))?;
///     if text.is_empty() {
///         span.fail_with("empty file");
///     }
///     Ok(text)
/// }
/// ```
///
/// **A renamed dependency** (`lk = { package = "logkit", .. }` in `Cargo.toml`): the
/// `!` macros work under any name, but [`#[capture]`](crate::capture) expands to
/// `::logkit::` paths, so such a crate also declares `extern crate lk as logkit;` at
/// its root.
#[macro_export]
macro_rules! span {
    // ---- tracing's forms: a level first (`Level::INFO`), `target:`, `parent:`
    (target: $tgt:literal, parent: $p:expr, $($lvl:ident)::+, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cspan ($crate::__private::StaticName($name), ::core::option::Option::Some($($lvl)::+),
            $tgt, $crate::__private::IntoSpanParent::into_span_parent($p)) [] [] $($($rest)*)?)
    };
    (target: $tgt:literal, $($lvl:ident)::+, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cspan ($crate::__private::StaticName($name), ::core::option::Option::Some($($lvl)::+),
            $tgt, $crate::__private::SpanParent::Current) [] [] $($($rest)*)?)
    };
    (parent: $p:expr, $($lvl:ident)::+, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cspan ($crate::__private::StaticName($name), ::core::option::Option::Some($($lvl)::+),
            ::core::module_path!(), $crate::__private::IntoSpanParent::into_span_parent($p)) [] [] $($($rest)*)?)
    };
    (parent: $p:expr, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cspan ($crate::__private::StaticName($name), ::core::option::Option::None,
            ::core::module_path!(), $crate::__private::IntoSpanParent::into_span_parent($p)) [] [] $($($rest)*)?)
    };
    (target: $($rest:tt)*) => {
        ::core::compile_error!(
            "logkit: span!(target: ..) takes a string literal, then a level and a literal name: \
             `span!(target: \"app::db\", Level::DEBUG, \"query\", k = v)`"
        )
    };
    (parent: $($rest:tt)*) => {
        ::core::compile_error!(
            "logkit: span!(parent: p, ..) takes the parent (a SpanId, Option<SpanId>, &Span or CurrentSpan), \
             then an optional level and a literal name: `span!(parent: &outer, \"child\", k = v)`"
        )
    };
    ($($lvl:ident)::+, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cspan ($crate::__private::StaticName($name), ::core::option::Option::Some($($lvl)::+),
            ::core::module_path!(), $crate::__private::SpanParent::Current) [] [] $($($rest)*)?)
    };
    (name = $name:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@span ($crate::__private::IntoSpanName::into_span_name($name)) [] [] $($($rest)*)?)
    };
    ($name:literal $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@span ($crate::__private::IntoSpanName::into_span_name(
            $crate::__private::StaticName($name))) [] [] $($($rest)*)?)
    };
    ($name:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@span ($crate::__private::IntoSpanName::into_span_name($name)) [] [] $($($rest)*)?)
    };
}

/// What `#[capture]` on a sync fn expands to: `(name, level, target, parent)` then the
/// span's fields. A span given a level opens only when that level is enabled for its
/// target (nothing else is evaluated otherwise). Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __capture_span {
    (($name:expr, $lvl:expr, $tgt:expr, $parent:expr) $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cspan ($name, $lvl, $tgt, $parent) [] [] $($($rest)*)?)
    };
}

/// What `#[capture] async fn` expands to: evaluates and encodes the span's keys now
/// (they may borrow the fn's arguments), returning a `CaptureStart` whose `wrap`
/// makes the captured future. Arguments as for `__capture_span!`. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __capture_start {
    (($name:expr, $lvl:expr, $tgt:expr, $parent:expr) $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@cstart ($name, $lvl, $tgt, $parent) [] [] $($($rest)*)?)
    };
}

/// Key/value muncher for `new_context!` and `span!` (no message). Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __ctx_munch {
    // ---- done
    (@trace ($trace:expr) [$($n:expr),*] [$($v:expr),*]) => {{
        $crate::__check_keys!($($n),*);
        $crate::__private::new_context_with($trace, &[$($n),*], &[$(&$v as &dyn $crate::__private::Value),*])
    }};
    (@none () [$($n:expr),*] [$($v:expr),*]) => {{
        $crate::__check_keys!($($n),*);
        $crate::__private::new_context(&[$($n),*], &[$(&$v as &dyn $crate::__private::Value),*])
    }};
    (@span ($name:expr) [$($n:expr),*] [$($v:expr),*]) => {{
        $crate::__check_keys!($($n),*);
        static __LOGKIT_SPAN_SITE: $crate::__private::SpanSite =
            $crate::__private::SpanSite::new(::core::module_path!(), &[$($n),*]);
        $crate::__private::span(&__LOGKIT_SPAN_SITE, $name, &[$(&$v as &dyn $crate::__private::Value),*])
    }};
    (@cspan ($name:expr, $lvl:expr, $tgt:expr, $parent:expr) [$($n:expr),*] [$($v:expr),*]) => {{
        $crate::__check_keys!($($n),*);
        static __LOGKIT_SPAN_SITE: $crate::__private::SpanSite = $crate::__private::SpanSite::at($lvl, $tgt, &[$($n),*]);
        if $crate::__private::span_enabled(&__LOGKIT_SPAN_SITE) {
            $crate::__private::span_under(
                &__LOGKIT_SPAN_SITE,
                $crate::__private::IntoSpanName::into_span_name($name),
                $parent,
                &[$(&$v as &dyn $crate::__private::Value),*],
            )
        } else {
            $crate::__private::Span::disabled()
        }
    }};
    (@cstart ($name:expr, $lvl:expr, $tgt:expr, $parent:expr) [$($n:expr),*] [$($v:expr),*]) => {{
        $crate::__check_keys!($($n),*);
        static __LOGKIT_SPAN_SITE: $crate::__private::SpanSite = $crate::__private::SpanSite::at($lvl, $tgt, &[$($n),*]);
        if $crate::__private::span_enabled(&__LOGKIT_SPAN_SITE) {
            $crate::__private::capture_start(
                &__LOGKIT_SPAN_SITE,
                $crate::__private::IntoSpanName::into_span_name($name),
                $parent,
                &[$(&$v as &dyn $crate::__private::Value),*],
            )
        } else {
            $crate::__private::CaptureStart::disabled()
        }
    }};
    // ---- keys
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $k:literal = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $k] [$($v,)* $crate::__private::display(&$val)] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $k:literal = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $k] [$($v,)* $crate::__private::debug(&$val)] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $k:literal = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $k] [$($v,)* $val] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $($k:ident).+ = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::display(&$val)] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $($k:ident).+ = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::debug(&$val)] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $($k:ident).+ = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $crate::__field_name!($($k).+)] [$($v,)* $val] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] % $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::display(&$($k).+)] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] ? $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $crate::__field_name!($($k).+)]
            [$($v,)* $crate::__private::debug(&$($k).+)] $($($rest)*)?)
    };
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $($k:ident).+ $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n,)* $crate::__field_name!($($k).+)] [$($v,)* $($k).+] $($($rest)*)?)
    };
    // ---- tracing's field block: `{ k = 1, .. }`
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] { $($fields:tt)+ } $(, $($rest:tt)*)?) => {
        $crate::__ctx_munch!(@$m ($($a)*) [$($n),*] [$($v),*] $($fields)+ $(, $($rest)*)?)
    };
    // ---- anything else
    (@$m:ident ($($a:tt)*) [$($n:expr),*] [$($v:expr),*] $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "logkit: cannot read `", ::core::stringify!($($rest)+), "` as keys: write `key = value`, \
             `key = %value` (Display), `key = ?value` (Debug) or a variable `name`, separated by commas \
             (span! and new_context! take no message)"
        ))
    };
}

/// The outcome of a `#[capture]`d fn's return value: the most specific impl in
/// `__private::outcome` for its type (autoref specialisation: one `&` per level, most
/// specific first; the depth lives here, next to the impls). Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __outcome {
    ($ret:expr) => {{
        #[allow(unused_imports)]
        use $crate::__private::outcome::{
            ViaAny as _, ViaDebug as _, ViaDisplay as _, ViaDynError as _, ViaDynErrorSend as _, ViaError as _,
            ViaResult as _,
        };
        (&&&&&&&$crate::__private::outcome::Wrap($ret)).__logkit_outcome()
    }};
}
