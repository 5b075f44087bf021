//! The compact record format that call sites write and the writer thread renders.
//!
//! A call site does not format JSON: it copies the record's raw parts (timestamp,
//! call-site pointer, numbers, length-prefixed strings) into its thread's buffer, and
//! the writer thread renders them (see `render/`). The format is private to this crate
//! and never leaves the process.
//!
//! ```text
//! record   = len:u32  level:u8  flags:u8  pad:u16  callsite:usize(u64)  timestamp_ns:u64
//!            [target: str]      (flags & HAS_TARGET; else the call site's target)
//!            [message: str]     (flags & HAS_MESSAGE, unless STATIC_MESSAGE)
//!            [message: ptr:u64 len:u64]  (flags & STATIC_MESSAGE: a `&'static str`)
//!            ctx_len:u32 ctx    (context entries: key:str value, repeated)
//!            fields             (values in call-site order until `len`; keys come from
//!                                the call site, or inline when flags & INLINE_KEYS)
//! str      = len:u32 bytes (UTF-8)
//! value    = tag:u8 payload   (see `Tag`)
//! ```
//! All integers are native-endian.

pub(crate) mod encode;
pub(crate) mod field;
pub(crate) mod value_encoder;
pub(crate) mod view;

pub(crate) use self::encode::Encoder;
// Public only through `__fuzz` (the fuzz targets build records from it).
#[cfg_attr(not(feature = "__fuzz"), allow(unreachable_pub))]
pub use self::field::FieldValue;
pub use self::value_encoder::ValueEncoder;
pub(crate) use self::view::RecordView;

/// Bytes before the variable part of a record.
pub(crate) const HEADER_LEN: usize = 4 + 1 + 1 + 2 + 8 + 8;

pub(crate) const HAS_TARGET: u8 = 1;
pub(crate) const HAS_MESSAGE: u8 = 2;
/// Fields carry their keys inline (records built without a call site's key list).
pub(crate) const INLINE_KEYS: u8 = 4;
/// The message is a string literal, carried as its address and length: the call site
/// copies no bytes, and the writer renders it once per call site (`render::json`).
pub(crate) const STATIC_MESSAGE: u8 = 8;

/// The tag byte in front of each encoded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Tag {
    Null = 0,
    False = 1,
    True = 2,
    U64 = 3,
    I64 = 4,
    F64 = 5,
    Str = 6,
    U128 = 7,
    I128 = 8,
    /// Pre-rendered JSON (a nested value); rendered verbatim.
    Json = 9,
}

impl Tag {
    #[inline]
    pub(crate) fn from_u8(b: u8) -> Option<Tag> {
        Some(match b {
            0 => Tag::Null,
            1 => Tag::False,
            2 => Tag::True,
            3 => Tag::U64,
            4 => Tag::I64,
            5 => Tag::F64,
            6 => Tag::Str,
            7 => Tag::U128,
            8 => Tag::I128,
            9 => Tag::Json,
            _ => return None,
        })
    }
}

/// Encodes `values` as one record's fields (inline keys `k0`, `k1`, ...) and decodes
/// them back, for the unit tests of the value encoders: what the writer would read.
#[cfg(test)]
pub(crate) fn round_trip(values: &[&dyn crate::Value]) -> Vec<FieldValue<String>> {
    let mut buf = Vec::new();
    let mut enc = Encoder::begin(&mut buf, crate::Level::Info, INLINE_KEYS, None, 0);
    enc.context(&[]);
    for (i, v) in values.iter().enumerate() {
        enc.raw_str(&format!("k{i}"));
        v.encode(&mut enc.values());
    }
    enc.finish();
    let rec = view::records(&buf).next().expect("one record");
    rec.fields().map(|(_, v)| v.map_str(|s| s.to_string())).collect()
}
