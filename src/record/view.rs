//! Writer side: reading records back out of a batch buffer.

use super::{FieldValue, Tag, HAS_MESSAGE, HAS_TARGET, HEADER_LEN, INLINE_KEYS, STATIC_MESSAGE};
use crate::callsite::Callsite;
use crate::level::Level;

/// One decoded record, borrowing from its batch buffer.
#[derive(Clone, Debug)]
pub(crate) struct RecordView<'a> {
    /// Nanoseconds since the Unix epoch (UTC).
    pub(crate) timestamp_ns: u64,
    pub(crate) level: Level,
    /// The record's target (module path unless `target:` was given).
    pub(crate) target: &'a str,
    /// The message; empty when none was given.
    pub(crate) message: &'a str,
    /// The message again when it is a string literal (the same address every time a
    /// call site logs), which lets the writer render it once.
    pub(crate) static_message: Option<&'static str>,
    /// The static call site, if the record came from a macro.
    pub(crate) callsite: Option<&'static Callsite>,
    context: &'a [u8],
    fields: &'a [u8],
    names: &'static [&'static str],
    inline_keys: bool,
}

/// Iterates `(key, value)` pairs of a record's context or fields.
#[derive(Clone, Debug)]
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    names: &'static [&'static str],
    next_name: usize,
    inline_keys: bool,
}

impl<'a> RecordView<'a> {
    /// The bound context entries (trace id, span id, bound keys), in binding order.
    pub(crate) fn context(&self) -> Fields<'a> {
        Fields { bytes: self.context, names: &[], next_name: 0, inline_keys: true }
    }

    /// The encoded context entries, for comparing two records' contexts.
    #[inline]
    pub(crate) fn context_bytes(&self) -> &'a [u8] {
        self.context
    }

    /// The record's own fields in call-site order.
    pub(crate) fn fields(&self) -> Fields<'a> {
        Fields { bytes: self.fields, names: self.names, next_name: 0, inline_keys: self.inline_keys }
    }

    /// The values of the record's fields, in call-site order, when their keys are the
    /// call site's (`None` for records with inline keys).
    #[inline]
    pub(crate) fn values(&self) -> Option<Values<'a>> {
        if self.inline_keys || self.callsite.is_none() {
            return None;
        }
        Some(Values { r: Reader(self.fields) })
    }
}

/// Iterates the values of a record whose keys come from its call site.
pub(crate) struct Values<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for Values<'a> {
    type Item = FieldValue<&'a str>;

    #[inline]
    fn next(&mut self) -> Option<FieldValue<&'a str>> {
        if self.r.0.is_empty() {
            return None;
        }
        self.r.value()
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, FieldValue<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        #[cfg(test)]
        DECODED.with(|d| d.set(d.get() + 1));
        let mut r = Reader(self.bytes);
        let key = if self.inline_keys {
            r.str()?
        } else {
            let k = self.names.get(self.next_name).copied().unwrap_or("?");
            self.next_name += 1;
            k
        };
        let v = r.value()?;
        self.bytes = r.0;
        Some((key, v))
    }
}

#[cfg(test)]
thread_local! {
    /// Context and field entries this thread decoded (the renderers' work counter).
    static DECODED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many context or field entries this thread has decoded so far (tests only).
#[cfg(test)]
pub(crate) fn decoded_entries() -> u64 {
    DECODED.with(|d| d.get())
}

/// Splits the next record off the front of `buf`. Returns `None` at the end of the
/// buffer or if the bytes are not a record (which the encoder never produces).
pub(crate) fn next_record(buf: &[u8]) -> Option<(RecordView<'_>, &[u8])> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = u32::from_ne_bytes(buf[0..4].try_into().ok()?) as usize;
    if len < HEADER_LEN || len > buf.len() {
        return None;
    }
    let (rec, rest) = buf.split_at(len);
    let level = Level::from_u8(rec[4])?;
    let flags = rec[5];
    let cs_addr = u64::from_ne_bytes(rec[8..16].try_into().ok()?);
    let timestamp_ns = u64::from_ne_bytes(rec[16..24].try_into().ok()?);
    let callsite: Option<&'static Callsite> = if cs_addr == 0 {
        None
    } else {
        let ptr: *const Callsite = std::ptr::with_exposed_provenance(cs_addr as usize);
        // SAFETY: the only writer of this field is `Encoder::begin`, which stores the
        // address of a `&'static Callsite` (or 0). Buffers never leave the crate, so
        // the address is that of a live `'static` call site, valid for the whole
        // program, and `Callsite` is `Sync`.
        Some(unsafe { &*ptr })
    };
    let mut r = Reader(&rec[HEADER_LEN..]);
    let target = if flags & HAS_TARGET != 0 { r.str()? } else { callsite.map_or("", |c| c.target()) };
    let static_message = if flags & STATIC_MESSAGE != 0 { Some(r.static_str()?) } else { None };
    let message = match static_message {
        Some(m) => m,
        None if flags & HAS_MESSAGE != 0 => r.str()?,
        None => "",
    };
    let ctx_len = r.u32()? as usize;
    let context = r.take(ctx_len)?;
    let view = RecordView {
        timestamp_ns,
        level,
        target,
        message,
        static_message,
        callsite,
        context,
        fields: r.0,
        names: callsite.map_or(&[][..], |c| c.field_names()),
        inline_keys: flags & INLINE_KEYS != 0,
    };
    Some((view, rest))
}

/// Iterates every record of a batch buffer.
pub(crate) fn records(mut buf: &[u8]) -> impl Iterator<Item = RecordView<'_>> {
    std::iter::from_fn(move || {
        let (rec, rest) = next_record(buf)?;
        buf = rest;
        Some(rec)
    })
}

/// Whether every byte is ASCII, eight bytes at a time: log strings are short and mostly
/// ASCII, where `str::from_utf8` spends most of its time on set-up.
#[inline]
fn is_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        acc |= u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    }
    let tail = chunks.remainder().iter().fold(0u8, |a, &x| a | x);
    acc & HIGH == 0 && tail < 0x80
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    #[inline]
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    #[inline]
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_ne_bytes(self.take(4)?.try_into().ok()?))
    }
    #[inline]
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_ne_bytes(self.take(8)?.try_into().ok()?))
    }
    #[inline]
    fn u128(&mut self) -> Option<u128> {
        Some(u128::from_ne_bytes(self.take(16)?.try_into().ok()?))
    }
    #[inline]
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        if is_ascii(b) {
            // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
            return Some(unsafe { std::str::from_utf8_unchecked(b) });
        }
        Some(match std::str::from_utf8(b) {
            Ok(s) => s,
            // The encoder only copies `&str`s, so this is unreachable; keep the valid
            // prefix rather than render bytes that are not UTF-8.
            Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        })
    }
    /// A `&'static str` written by `Encoder::static_str`.
    #[inline]
    fn static_str(&mut self) -> Option<&'static str> {
        let addr = self.u64()? as usize;
        let len = self.u64()? as usize;
        let ptr: *const u8 = std::ptr::with_exposed_provenance(addr);
        // SAFETY: the only writer of a STATIC_MESSAGE record is `Encoder::static_str`,
        // which stores the address and length of a `&'static str`; buffers never leave
        // the crate, so they describe a live, immutable, valid UTF-8 string.
        Some(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, len)) })
    }

    #[inline]
    fn value(&mut self) -> Option<FieldValue<&'a str>> {
        Some(match Tag::from_u8(self.u8()?)? {
            Tag::Null => FieldValue::Null,
            Tag::False => FieldValue::Bool(false),
            Tag::True => FieldValue::Bool(true),
            Tag::U64 => FieldValue::U64(self.u64()?),
            Tag::I64 => FieldValue::I64(self.u64()? as i64),
            Tag::F64 => FieldValue::F64(f64::from_bits(self.u64()?)),
            Tag::Str => FieldValue::Str(self.str()?),
            Tag::U128 => FieldValue::U128(self.u128()?),
            Tag::I128 => FieldValue::I128(self.u128()? as i128),
            Tag::Json => FieldValue::Json(self.str()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Encoder;

    static CS: Callsite = Callsite::new(Level::Warn, "app::orders", "src/orders.rs", 9, &["id", "ok"]);

    /// A record from `CS` with a literal message, and one with inline keys, a target
    /// and a copied message, in one buffer.
    fn two_records() -> Vec<u8> {
        let mut buf = Vec::new();
        let mut enc = Encoder::begin(&mut buf, CS.level(), HAS_MESSAGE | STATIC_MESSAGE, Some(&CS), 11);
        enc.static_str("order filled");
        enc.context(&[]);
        enc.values().u64(42);
        enc.values().bool(true);
        enc.finish();
        let mut enc = Encoder::begin(&mut buf, Level::Debug, HAS_TARGET | HAS_MESSAGE | INLINE_KEYS, None, 22);
        enc.raw_str("custom");
        enc.raw_str("copied é");
        enc.context(&[]);
        enc.raw_str("k");
        enc.values().str("v");
        enc.finish();
        buf
    }

    #[test]
    fn records_in_one_buffer_are_read_back_in_order_with_every_part() {
        let buf = two_records();
        let recs: Vec<_> = records(&buf).collect();
        assert_eq!(recs.len(), 2);
        let (a, b) = (&recs[0], &recs[1]);
        assert_eq!((a.timestamp_ns, a.level, a.target, a.message), (11, Level::Warn, "app::orders", "order filled"));
        assert_eq!(a.static_message, Some("order filled"));
        assert!(std::ptr::eq(a.callsite.unwrap(), &CS));
        assert_eq!(a.fields().collect::<Vec<_>>(), [("id", FieldValue::U64(42)), ("ok", FieldValue::Bool(true))]);
        assert_eq!(a.values().map(|v| v.count()), Some(2), "keys from the call site: values alone");
        assert_eq!((b.timestamp_ns, b.level, b.target, b.message), (22, Level::Debug, "custom", "copied é"));
        assert_eq!((b.static_message, b.callsite.is_none()), (None, true));
        assert_eq!(b.fields().collect::<Vec<_>>(), [("k", FieldValue::Str("v"))]);
        assert!(b.values().is_none(), "inline keys: no call-site values");
    }

    #[test]
    fn a_cut_or_corrupt_buffer_ends_the_records_without_panicking() {
        let buf = two_records();
        let first_len = next_record(&buf).map(|(_, rest)| buf.len() - rest.len()).unwrap();
        for cut in 0..buf.len() {
            let n = records(&buf[..cut]).count();
            assert_eq!(n, usize::from(cut >= first_len), "cut at {cut}");
        }
        let mut bad = buf.clone();
        bad[4] = 200; // no such level
        assert_eq!(records(&bad).count(), 0);
        let mut bad = buf;
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes()); // shorter than a header
        assert_eq!(records(&bad).count(), 0);
    }

    #[test]
    fn ascii_check_sees_a_high_byte_at_any_position() {
        for n in 0..20 {
            assert!(is_ascii(&vec![b'a'; n]));
            for at in 0..n {
                let mut b = vec![b'a'; n];
                b[at] = 0xC3;
                assert!(!is_ascii(&b), "{n} bytes, high at {at}");
            }
        }
    }
}
