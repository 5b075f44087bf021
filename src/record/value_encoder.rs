//! [`ValueEncoder`]: how one field value is appended to a record (a tag and the raw
//! bytes, see [`Tag`]). [`crate::Value`] impls call it; the writer decodes what it
//! wrote in `record::view`.

use std::fmt;

use crate::record::encode::{push_capped, tag, VecWriter};
use crate::record::Tag;

/// Receives exactly one value per [`Value::encode`](crate::Value::encode) call.
pub struct ValueEncoder<'a> {
    pub(crate) buf: &'a mut Vec<u8>,
}

impl<'a> ValueEncoder<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> ValueEncoder<'a> {
        ValueEncoder { buf }
    }

    /// A tag and an 8-byte payload, appended as one 9-byte copy (one capacity check).
    #[inline]
    fn tagged8(&mut self, t: Tag, payload: [u8; 8]) {
        let mut b = [0u8; 9];
        b[0] = t as u8;
        b[1..].copy_from_slice(&payload);
        self.buf.extend_from_slice(&b);
    }

    /// An unsigned integer (a JSON number, exact).
    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.tagged8(Tag::U64, v.to_ne_bytes());
    }

    /// A signed integer (a JSON number, exact).
    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.tagged8(Tag::I64, v.to_ne_bytes());
    }

    /// A 128-bit unsigned integer (a JSON number, exact).
    #[inline]
    pub fn u128(&mut self, v: u128) {
        tag(self.buf, Tag::U128);
        self.buf.extend_from_slice(&v.to_ne_bytes());
    }

    /// A 128-bit signed integer (a JSON number, exact).
    #[inline]
    pub fn i128(&mut self, v: i128) {
        tag(self.buf, Tag::I128);
        self.buf.extend_from_slice(&v.to_ne_bytes());
    }

    /// A float (a JSON number; NaN and infinities are written as strings).
    #[inline]
    pub fn f64(&mut self, v: f64) {
        self.tagged8(Tag::F64, v.to_bits().to_ne_bytes());
    }

    /// A boolean.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        tag(self.buf, if v { Tag::True } else { Tag::False });
    }

    /// `null`.
    #[inline]
    pub fn null(&mut self) {
        tag(self.buf, Tag::Null);
    }

    /// A string (escaped when rendered), capped at [`MAX_VALUE_BYTES`](crate::MAX_VALUE_BYTES).
    #[inline]
    pub fn str(&mut self, v: &str) {
        if v.len() <= crate::record::encode::MAX_VALUE_BYTES {
            // The common case: tag and length as one 5-byte copy, then the bytes.
            let mut h = [0u8; 5];
            h[0] = Tag::Str as u8;
            h[1..].copy_from_slice(&(v.len() as u32).to_ne_bytes());
            self.buf.reserve(h.len() + v.len());
            self.buf.extend_from_slice(&h);
            self.buf.extend_from_slice(v.as_bytes());
            return;
        }
        self.str_capped(v);
    }

    #[cold]
    fn str_capped(&mut self, v: &str) {
        tag(self.buf, Tag::Str);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        push_capped(self.buf, v);
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_ne_bytes());
    }

    /// A string produced by formatting, written straight into the record.
    #[inline]
    pub fn fmt(&mut self, args: fmt::Arguments<'_>) {
        if let Some(s) = args.as_str() {
            return self.str(s);
        }
        self.with_writer(|w| fmt::write(w, args));
    }

    /// A value's `Display` output, as a string.
    #[inline]
    pub fn display(&mut self, v: &dyn fmt::Display) {
        self.with_writer(|w| fmt::write(w, format_args!("{v}")));
    }

    /// A value's `Debug` output, as a string.
    #[inline]
    pub fn debug(&mut self, v: &dyn fmt::Debug) {
        self.with_writer(|w| fmt::write(w, format_args!("{v:?}")));
    }

    /// Already-rendered JSON (a nested value). The caller guarantees it is one valid
    /// JSON value.
    #[allow(dead_code)]
    pub(crate) fn json(&mut self, v: &str) {
        tag(self.buf, Tag::Json);
        self.buf.extend_from_slice(&(v.len() as u32).to_ne_bytes());
        self.buf.extend_from_slice(v.as_bytes());
    }

    #[inline]
    pub(crate) fn with_writer(&mut self, f: impl FnOnce(&mut VecWriter<'_>) -> fmt::Result) {
        tag(self.buf, Tag::Str);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        // A formatting error from a user's impl leaves what it wrote so far.
        let mut w = VecWriter::new(self.buf);
        let _ = f(&mut w);
        w.finish();
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_ne_bytes());
    }
}
