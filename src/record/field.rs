//! [`FieldValue`]: the one value type of a record field, once it is out of the
//! compact format.
//!
//! The writer decodes values as `FieldValue<&str>` (borrowing the batch buffer) and both
//! renderers take that; tests and the fuzz entry points build records from
//! `FieldValue<String>` (or the fuzz input's own string type) and encode them with
//! [`FieldValue::encode`], which writes exactly what a call site's
//! [`Value`](crate::Value) impls write. One enum, generic over how its strings are held,
//! so a new kind of value is added in one place.

#[cfg(any(test, feature = "__fuzz"))]
use super::ValueEncoder;

/// One field value: what a [`ValueEncoder`] stores, decoded.
///
/// `S` holds a string: `&str` when read out of a record, an owned string when a record is
/// built from it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(feature = "__fuzz"), allow(unreachable_pub))]
pub enum FieldValue<S> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A 128-bit unsigned integer.
    U128(u128),
    /// A 128-bit signed integer.
    I128(i128),
    /// A float (non-finite ones are rendered as strings).
    F64(f64),
    /// A string (escaped when rendered).
    Str(S),
    /// Already valid JSON (a nested value): written verbatim by the JSON renderer. One
    /// built by hand must hold exactly one valid JSON value.
    Json(S),
}

// Records are built from a `FieldValue` only by tests and the fuzz entry points; the
// writer only reads them.
#[cfg(any(test, feature = "__fuzz"))]
#[cfg_attr(not(feature = "__fuzz"), allow(unreachable_pub))]
impl<S> FieldValue<S> {
    /// The same value with its string (if any) mapped by `f`.
    #[inline]
    pub fn map_str<'a, T>(&'a self, f: impl FnOnce(&'a S) -> T) -> FieldValue<T> {
        match self {
            FieldValue::Null => FieldValue::Null,
            FieldValue::Bool(b) => FieldValue::Bool(*b),
            FieldValue::U64(v) => FieldValue::U64(*v),
            FieldValue::I64(v) => FieldValue::I64(*v),
            FieldValue::U128(v) => FieldValue::U128(*v),
            FieldValue::I128(v) => FieldValue::I128(*v),
            FieldValue::F64(v) => FieldValue::F64(*v),
            FieldValue::Str(s) => FieldValue::Str(f(s)),
            FieldValue::Json(s) => FieldValue::Json(f(s)),
        }
    }
}

#[cfg(any(test, feature = "__fuzz"))]
#[cfg_attr(not(feature = "__fuzz"), allow(unreachable_pub))]
impl<S: AsRef<str>> FieldValue<S> {
    /// The value borrowing its string.
    #[inline]
    pub fn as_str_ref(&self) -> FieldValue<&str> {
        self.map_str(|s| s.as_ref())
    }

    /// Appends the value to a record, as a call site's [`Value`](crate::Value) impl
    /// does.
    pub(crate) fn encode(&self, e: &mut ValueEncoder<'_>) {
        match self.as_str_ref() {
            FieldValue::Null => e.null(),
            FieldValue::Bool(b) => e.bool(b),
            FieldValue::U64(v) => e.u64(v),
            FieldValue::I64(v) => e.i64(v),
            FieldValue::U128(v) => e.u128(v),
            FieldValue::I128(v) => e.i128(v),
            FieldValue::F64(v) => e.f64(v),
            FieldValue::Str(s) => e.str(s),
            FieldValue::Json(s) => e.json(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FieldValue;
    use crate::record::{Encoder, ValueEncoder, INLINE_KEYS};

    /// Every kind of value, at an edge.
    fn every_kind() -> Vec<FieldValue<String>> {
        vec![
            FieldValue::Null,
            FieldValue::Bool(false),
            FieldValue::Bool(true),
            FieldValue::U64(u64::MAX),
            FieldValue::I64(i64::MIN),
            FieldValue::U128(u128::MAX),
            FieldValue::I128(i128::MIN),
            FieldValue::F64(-0.0),
            FieldValue::Str("é\"\n".to_owned()),
            FieldValue::Str(String::new()),
            FieldValue::Json(r#"{"a":[1]}"#.to_owned()),
        ]
    }

    #[test]
    fn every_kind_of_value_decodes_as_it_was_encoded() {
        let values = every_kind();
        let mut buf = Vec::new();
        let mut enc = Encoder::begin(&mut buf, crate::Level::Info, INLINE_KEYS, None, 0);
        enc.context(&[]);
        for (i, v) in values.iter().enumerate() {
            enc.raw_str(&format!("k{i}"));
            v.encode(&mut enc.values());
        }
        enc.finish();
        let rec = crate::record::view::records(&buf).next().expect("one record");
        let back: Vec<_> = rec.fields().collect();
        assert_eq!(back.len(), values.len());
        for (i, ((k, got), want)) in back.into_iter().zip(&values).enumerate() {
            assert_eq!(k, format!("k{i}"));
            assert_eq!(got, want.as_str_ref(), "value {i}");
            if let FieldValue::F64(f) = got {
                assert!(f.is_sign_negative(), "the sign of -0.0 survives");
            }
        }
    }

    #[test]
    fn a_value_encodes_as_the_value_impl_of_its_rust_type_does() {
        fn bytes(f: impl FnOnce(&mut ValueEncoder<'_>)) -> Vec<u8> {
            let mut buf = Vec::new();
            f(&mut ValueEncoder::new(&mut buf));
            buf
        }
        use crate::Value;
        let pairs: [(FieldValue<String>, &dyn Value); 8] = [
            (FieldValue::Null, &None::<u8>),
            (FieldValue::Bool(true), &true),
            (FieldValue::U64(7), &7u32),
            (FieldValue::I64(-7), &-7i16),
            (FieldValue::U128(1 << 100), &(1u128 << 100)),
            (FieldValue::I128(-(1 << 100)), &-(1i128 << 100)),
            (FieldValue::F64(1.5), &1.5f64),
            (FieldValue::Str("x".to_owned()), &"x"),
        ];
        for (v, rust) in pairs {
            assert_eq!(bytes(|e| v.encode(e)), bytes(|e| rust.encode(e)), "{v:?}");
        }
    }

    #[test]
    fn map_str_keeps_the_kind_and_changes_only_the_string() {
        let v = FieldValue::Str("ab");
        assert_eq!(v.map_str(|s| s.len()), FieldValue::Str(2));
        assert_eq!(FieldValue::Json("[]").map_str(|s| s.to_uppercase()), FieldValue::Json("[]".to_owned()));
        assert_eq!(FieldValue::<&str>::U64(3).map_str(|s| s.len()), FieldValue::U64(3));
    }
}
