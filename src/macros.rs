//! The call-site macros.
//!
//! Each expands to a `static` call site (level, target, location, field names), the
//! gate (`__private::enabled`: a few atomic loads, nothing evaluated), and one call to
//! the non-generic `__private::log` with the message as `fmt::Arguments` and the
//! values as `&dyn Value`. Field syntax follows `tracing`'s event macros.

/// Logs a record at a given level: `event!(Level::Info, k = v, "msg")`. The level
/// must be a constant expression.
#[macro_export]
macro_rules! event {
    ($lvl:expr, target: $target:expr, $($rest:tt)*) => {
        $crate::__log_munch!(@ $lvl, $target, [] [] $($rest)*)
    };
    ($lvl:expr, $($rest:tt)*) => {
        $crate::__log_munch!(@ $lvl, ::core::module_path!(), [] [] $($rest)*)
    };
}

/// Logs at TRACE. Same syntax as [`info!`].
#[macro_export]
macro_rules! trace {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Trace, $($rest)*) };
}

/// Logs at DEBUG. Same syntax as [`info!`].
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

/// Logs at WARN (written as `"level":"warning"`). Same syntax as [`info!`].
#[macro_export]
macro_rules! warn {
    ($($rest:tt)*) => { $crate::event!($crate::Level::Warn, $($rest)*) };
}

/// Logs at ERROR. Same syntax as [`info!`].
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
}

/// A dotted field name as one string: `a.b.c` → `"a.b.c"`. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __field_name {
    ($first:ident $(. $rest:ident)*) => {
        ::core::concat!(::core::stringify!($first) $(, ".", ::core::stringify!($rest))*)
    };
}

/// The expansion of every log macro. Not API.
#[doc(hidden)]
#[macro_export]
macro_rules! __log_emit {
    ($lvl:expr, $tgt:expr, [$($n:expr),*] [$($v:expr),*] $msg:expr) => {{
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
