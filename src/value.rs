//! Field values: how a Rust value is copied into a record.
//!
//! A call site does not render JSON; it hands each value to a [`ValueEncoder`], which
//! appends a tag and the raw bytes. `%v` formats with `Display` and `?v` with `Debug`
//! straight into the record buffer (no intermediate `String`).

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use crate::record::ValueEncoder;
#[cfg(feature = "serde")]
use crate::record::{encode::tag, Tag};

/// A value that can be a field of a record.
///
/// Implemented for the integer and float types, `bool`, `char`, `str`, `String`,
/// `Cow<str>`, `Option<T>` (`None` is `null`), references and smart pointers, for
/// [`DisplayValue`] / [`DebugValue`] (what `%v` and `?v` produce), and for errors as
/// `dyn Error` (below). Implement it for your own types to choose their
/// representation; any other type is logged with `k = ?v` (its `Debug`) or `k = %v`
/// (its `Display`).
///
/// # Errors as values
///
/// `error = &e as &dyn Error` (the form `tracing` users write), a `Box<dyn Error>`
/// (`+ Send + Sync` or not), and an `anyhow`-style error dereferenced to its
/// `dyn Error` (`error = &*e`) are written as a nested object with the error's message
/// and its `source()` chain, as a span's `exc_info` is:
/// `"error":{"message":"loading the config","chain":["disk gone"]}`. (`%e` writes the
/// message alone.)
///
/// ```no_run
/// # let e = std::io::Error::other("disk gone");
/// logkit::error!(error = &e as &dyn std::error::Error, "request failed");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a logkit `Value`: log it with `key = ?value` (Debug) or `key = %value` (Display)",
    label = "not a logkit `Value`; write `key = ?value` (Debug) or `key = %value` (Display)",
    note = "logkit writes numbers, bools, strings and the types that implement `logkit::Value`; any other type needs `?` or `%` before it",
    note = "for an error, `key = &e as &dyn std::error::Error` writes its message and `source()` chain"
)]
pub trait Value {
    /// Writes `self` into the record.
    fn encode(&self, out: &mut ValueEncoder<'_>);
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline]
            fn encode(&self, out: &mut ValueEncoder<'_>) { out.u64(*self as u64) }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Value for $t {
            #[inline]
            fn encode(&self, out: &mut ValueEncoder<'_>) { out.i64(*self as i64) }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

impl Value for u128 {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.u128(*self)
    }
}
impl Value for i128 {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.i128(*self)
    }
}
impl Value for f64 {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.f64(*self)
    }
}
impl Value for f32 {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        // Through the shortest decimal form, so 0.1f32 renders as 0.1, not 0.10000000149.
        let mut b = ryu::Buffer::new();
        out.f64(if self.is_finite() { b.format_finite(*self).parse().unwrap_or(*self as f64) } else { *self as f64 })
    }
}
impl Value for bool {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.bool(*self)
    }
}
impl Value for char {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.str(self.encode_utf8(&mut [0; 4]))
    }
}
impl Value for str {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.str(self)
    }
}
impl Value for String {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.str(self)
    }
}
impl Value for Cow<'_, str> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.str(self)
    }
}
impl Value for fmt::Arguments<'_> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.fmt(*self)
    }
}
impl<T: Value> Value for Option<T> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        match self {
            Some(v) => v.encode(out),
            None => out.null(),
        }
    }
}
impl<T: Value + ?Sized> Value for &T {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        (**self).encode(out)
    }
}
impl<T: Value + ?Sized> Value for &mut T {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        (**self).encode(out)
    }
}
impl<T: Value + ?Sized> Value for Box<T> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        (**self).encode(out)
    }
}
impl<T: Value + ?Sized> Value for Arc<T> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        (**self).encode(out)
    }
}
impl<T: Value + ?Sized> Value for Rc<T> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        (**self).encode(out)
    }
}

/// `{"message":..,"chain":[..]}` for an error; a nested value over
/// [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES) is written as the message alone (cut).
fn encode_error(e: &(dyn Error + '_), out: &mut ValueEncoder<'_>) {
    let mut json = Vec::with_capacity(64);
    json.push(b'{');
    write_error_fields(&mut json, e);
    json.push(b'}');
    match String::from_utf8(json) {
        Ok(j) if j.len() <= crate::record::encode::MAX_VALUE_BYTES => out.json(&j),
        _ => out.display(&e),
    }
}

/// `"message":..,"chain":[..]`: an error's message and its `source()` chain (cut
/// after 64 links, for a cyclic chain), as JSON object members.
pub(crate) fn write_error_fields<E: Error + ?Sized>(out: &mut Vec<u8>, err: &E) {
    out.extend_from_slice(b"\"message\":");
    crate::render::json::write_str(out, &err.to_string());
    out.extend_from_slice(b",\"chain\":[");
    let mut src = err.source();
    let mut depth = 0;
    while let Some(s) = src {
        if depth > 0 {
            out.push(b',');
        }
        crate::render::json::write_str(out, &s.to_string());
        src = s.source();
        depth += 1;
        if depth >= 64 {
            break; // a cyclic chain
        }
    }
    out.push(b']');
}

impl Value for dyn Error + '_ {
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        encode_error(self, out)
    }
}
impl Value for dyn Error + Send + '_ {
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        encode_error(self, out)
    }
}
impl Value for dyn Error + Send + Sync + '_ {
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        encode_error(self, out)
    }
}

/// A value logged with its `Display` impl (`k = %v`).
#[derive(Clone, Copy)]
pub struct DisplayValue<'a, T: ?Sized>(pub &'a T);

/// A value logged with its `Debug` impl (`k = ?v`).
#[derive(Clone, Copy)]
pub struct DebugValue<'a, T: ?Sized>(pub &'a T);

impl<T: fmt::Display + ?Sized> Value for DisplayValue<'_, T> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.with_writer(|w| fmt::write(w, format_args!("{}", self.0)));
    }
}

impl<T: fmt::Debug + ?Sized> Value for DebugValue<'_, T> {
    #[inline]
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        out.with_writer(|w| fmt::write(w, format_args!("{:?}", self.0)));
    }
}

/// Wraps a value so it is logged with `Display` (what `%v` expands to).
#[inline]
pub fn display<T: fmt::Display + ?Sized>(v: &T) -> DisplayValue<'_, T> {
    DisplayValue(v)
}

/// Wraps a value so it is logged with `Debug` (what `?v` expands to).
#[inline]
pub fn debug<T: fmt::Debug + ?Sized>(v: &T) -> DebugValue<'_, T> {
    DebugValue(v)
}

/// A value logged as nested JSON through its `serde::Serialize` impl (feature
/// `serde`): `info!(order = logkit::Serde(&order), "placed")`.
///
/// Serialized at the call site straight into the record buffer. Keys listed in
/// `LOG_REDACT` are masked at any depth. A value that cannot be serialized (a map with
/// non-string keys, a failing `Serialize` impl) is logged as a string describing the
/// error; one over [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES) as a truncation notice.
#[cfg(feature = "serde")]
#[derive(Clone, Copy, Debug)]
pub struct Serde<'a, T: ?Sized>(pub &'a T);

#[cfg(feature = "serde")]
impl<T: serde::Serialize + ?Sized> Value for Serde<'_, T> {
    fn encode(&self, out: &mut ValueEncoder<'_>) {
        tag(out.buf, Tag::Json);
        let at = out.buf.len();
        out.buf.extend_from_slice(&[0; 4]);
        let start = out.buf.len();
        match serde_json::to_writer(&mut *out.buf, self.0) {
            Ok(()) if out.buf.len() - start <= crate::record::encode::MAX_VALUE_BYTES => {
                let n = (out.buf.len() - start) as u32;
                out.buf[at..at + 4].copy_from_slice(&n.to_ne_bytes());
            }
            result => {
                // Not valid JSON to keep: replace the value by a string saying why.
                let len = out.buf.len() - start;
                out.buf.truncate(at - 1);
                let why = match result {
                    Err(e) => format!("(not serializable: {e})"),
                    Ok(()) => format!("…[truncated: nested value of {len} bytes]"),
                };
                out.str(&why);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{round_trip, FieldValue as F};

    fn one(v: &dyn Value) -> F<String> {
        round_trip(&[v]).pop().expect("one value")
    }

    fn s(v: &str) -> F<String> {
        F::Str(v.to_owned())
    }

    #[test]
    fn integers_keep_their_sign_and_width_at_their_limits() {
        assert_eq!(one(&u8::MAX), F::U64(255));
        assert_eq!(one(&usize::MAX), F::U64(usize::MAX as u64));
        assert_eq!(one(&i8::MIN), F::I64(-128));
        assert_eq!(one(&i64::MIN), F::I64(i64::MIN));
        assert_eq!(one(&u128::MAX), F::U128(u128::MAX));
        assert_eq!(one(&i128::MIN), F::I128(i128::MIN));
    }

    #[test]
    fn an_f32_is_written_with_its_shortest_decimal_digits() {
        assert_eq!(one(&0.1f32), F::F64(0.1));
        assert_eq!(one(&1.5f64), F::F64(1.5));
        let F::F64(nan) = one(&f32::NAN) else { panic!("a float") };
        assert!(nan.is_nan());
        assert_eq!(one(&f32::NEG_INFINITY), F::F64(f64::NEG_INFINITY));
    }

    #[test]
    fn strings_chars_and_smart_pointers_are_strings_and_none_is_null() {
        assert_eq!(one(&"é"), s("é"));
        assert_eq!(one(&'🦀'), s("🦀"));
        assert_eq!(one(&String::from("x")), s("x"));
        assert_eq!(one(&Cow::Borrowed("c")), s("c"));
        assert_eq!(one(&Arc::new(7u8)), F::U64(7));
        assert_eq!(one(&Rc::new(true)), F::Bool(true));
        assert_eq!(one(&Box::new(-1i32)), F::I64(-1));
        assert_eq!(one(&Some(3u16)), F::U64(3));
        assert_eq!(one(&None::<&str>), F::Null);
        assert_eq!(one(&format_args!("{}-{}", 1, 2)), s("1-2"));
    }

    #[test]
    fn display_and_debug_wrappers_format_into_the_record() {
        struct Both;
        impl fmt::Display for Both {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("shown")
            }
        }
        impl fmt::Debug for Both {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Both { .. }")
            }
        }
        assert_eq!(one(&display(&Both)), s("shown"));
        assert_eq!(one(&debug(&Both)), s("Both { .. }"));
        assert_eq!(one(&debug("q")), s("\"q\""));
    }

    #[test]
    fn a_failing_display_impl_keeps_what_it_wrote_and_the_next_value_is_intact() {
        struct Half;
        impl fmt::Display for Half {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("half")?;
                Err(fmt::Error)
            }
        }
        assert_eq!(round_trip(&[&display(&Half), &1u8]), [s("half"), F::U64(1)]);
    }

    #[test]
    fn a_string_over_the_cap_is_cut_on_a_char_boundary_with_a_notice() {
        let long = "é".repeat(crate::MAX_VALUE_BYTES / 2 + 3);
        let F::Str(got) = one(&long.as_str()) else { panic!("a string") };
        assert!(got.starts_with("éé"));
        assert!(got.ends_with("…[truncated 6 bytes]"), "{}", &got[got.len() - 40..]);
        assert!(got.len() <= crate::MAX_VALUE_BYTES + 32);
    }

    #[derive(Debug)]
    struct Loading(std::io::Error);
    impl fmt::Display for Loading {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("loading the config")
        }
    }
    impl Error for Loading {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    /// What an `anyhow::Error` is to logkit: a handle that derefs to `dyn Error + Send + Sync`.
    struct AnyhowLike(Box<dyn Error + Send + Sync>);
    impl std::ops::Deref for AnyhowLike {
        type Target = dyn Error + Send + Sync;
        fn deref(&self) -> &Self::Target {
            &*self.0
        }
    }

    #[test]
    fn errors_as_values_are_their_message_and_source_chain() {
        let chain = r#"{"message":"loading the config","chain":["disk gone"]}"#.to_owned();
        let e = Loading(std::io::Error::other("disk gone"));
        assert_eq!(one(&(&e as &dyn Error)), F::Json(chain.clone()));
        let boxed: Box<dyn Error> = Box::new(Loading(std::io::Error::other("disk gone")));
        assert_eq!(one(&boxed), F::Json(chain.clone()));
        let sendable: Box<dyn Error + Send + Sync> = Box::new(Loading(std::io::Error::other("disk gone")));
        assert_eq!(one(&sendable), F::Json(chain.clone()));
        let any = AnyhowLike(Box::new(Loading(std::io::Error::other("disk gone"))));
        assert_eq!(one(&&*any), F::Json(chain));
        let quoted: Box<dyn Error + Send + Sync> = "a \"quoted\"\nline".into();
        assert_eq!(one(&quoted), F::Json(r#"{"message":"a \"quoted\"\nline","chain":[]}"#.to_owned()));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_values_are_nested_json_and_an_unserializable_one_says_why() {
        let v = serde_json::json!({"a": [1, "x"]});
        assert_eq!(one(&Serde(&v)), F::Json(r#"{"a":[1,"x"]}"#.to_owned()));
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let F::Str(why) = one(&Serde(&bad)) else { panic!("a string") };
        assert!(why.starts_with("(not serializable: "), "{why}");
    }
}
