//! Producer side: appending a record in the compact format to a byte buffer.

use std::fmt;

use super::{Tag, HEADER_LEN};
use crate::callsite::Callsite;
use crate::level::Level;

/// Appends one record to a buffer. Created by [`Encoder::begin`], which writes the
/// header; [`Encoder::finish`] patches the length. If the encoder is dropped without
/// `finish` (a `Display` impl panicked), the caller truncates the buffer back to
/// [`Encoder::start`].
pub(crate) struct Encoder<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> Encoder<'a> {
    /// Writes the fixed header. `callsite` is `None` for records without a static call
    /// site (the `log` bridge, logkit's own reports).
    #[inline]
    pub(crate) fn begin(
        buf: &'a mut Vec<u8>,
        level: Level,
        flags: u8,
        callsite: Option<&'static Callsite>,
        timestamp_ns: u64,
    ) -> Encoder<'a> {
        let start = buf.len();
        let cs = match callsite {
            Some(cs) => (cs as *const Callsite).expose_provenance() as u64,
            None => 0,
        };
        let mut header = [0u8; HEADER_LEN];
        header[4] = level as u8;
        header[5] = flags;
        header[8..16].copy_from_slice(&cs.to_ne_bytes());
        header[16..24].copy_from_slice(&timestamp_ns.to_ne_bytes());
        buf.extend_from_slice(&header);
        Encoder { buf, start }
    }

    /// Patches the record length; returns it.
    #[inline]
    pub(crate) fn finish(self) -> usize {
        let len = self.buf.len() - self.start;
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        self.buf[self.start..self.start + 4].copy_from_slice(&len32.to_ne_bytes());
        len
    }

    /// A length-prefixed string (no tag), capped at [`MAX_VALUE_BYTES`].
    #[inline]
    pub(crate) fn raw_str(&mut self, s: &str) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        push_capped(self.buf, s);
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_ne_bytes());
    }

    /// A `&'static str` by address and length (see [`super::STATIC_MESSAGE`]).
    #[inline]
    pub(crate) fn static_str(&mut self, s: &'static str) {
        let addr = s.as_ptr().expose_provenance() as u64;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&addr.to_ne_bytes());
        b[8..].copy_from_slice(&(s.len() as u64).to_ne_bytes());
        self.buf.extend_from_slice(&b);
    }

    /// A length-prefixed string produced by formatting (no tag).
    #[inline]
    pub(crate) fn raw_fmt(&mut self, args: fmt::Arguments<'_>) {
        if let Some(s) = args.as_str() {
            return self.raw_str(s);
        }
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let mut w = VecWriter::new(self.buf);
        let _ = fmt::Write::write_fmt(&mut w, args);
        w.finish();
        let n = (self.buf.len() - at - 4) as u32;
        self.buf[at..at + 4].copy_from_slice(&n.to_ne_bytes());
    }

    /// Context bytes in two pieces (ids, then bound keys), each a sequence of
    /// `key value` entries.
    #[inline]
    pub(crate) fn context2(&mut self, ids: &[u8], fields: &[u8]) {
        self.buf.extend_from_slice(&((ids.len() + fields.len()) as u32).to_ne_bytes());
        self.buf.extend_from_slice(ids);
        self.buf.extend_from_slice(fields);
    }

    /// Context bytes: already a sequence of `key value` entries.
    #[inline]
    pub(crate) fn context(&mut self, ctx: &[u8]) {
        self.buf.extend_from_slice(&(ctx.len() as u32).to_ne_bytes());
        self.buf.extend_from_slice(ctx);
    }

    /// Fields already encoded with their keys (`key: str`, then a value, repeated),
    /// for a record with [`super::INLINE_KEYS`].
    #[inline]
    pub(crate) fn inline_fields(&mut self, entries: &[u8]) {
        self.buf.extend_from_slice(entries);
    }

    /// The value encoder for the next field.
    #[inline]
    pub(crate) fn values(&mut self) -> crate::record::ValueEncoder<'_> {
        crate::record::ValueEncoder::new(self.buf)
    }
}

/// Appends a tagged value. Shared by the record encoder and the context encoder.
#[inline]
pub(crate) fn tag(buf: &mut Vec<u8>, t: Tag) {
    buf.push(t as u8);
}

/// The longest value or message a record keeps: longer ones are cut (on a character
/// boundary) and end with `…[truncated N bytes]`, so one huge field can neither take
/// unbounded memory in the pipeline nor a whole log file.
pub const MAX_VALUE_BYTES: usize = 4 << 20;

/// Appends at most [`MAX_VALUE_BYTES`] of `s`, then the truncation marker if needed.
#[inline]
pub(crate) fn push_capped(buf: &mut Vec<u8>, s: &str) {
    if s.len() <= MAX_VALUE_BYTES {
        buf.extend_from_slice(s.as_bytes());
    } else {
        let cut = floor_char_boundary(s, MAX_VALUE_BYTES);
        buf.extend_from_slice(&s.as_bytes()[..cut]);
        push_marker(buf, s.len() - cut);
    }
}

#[cold]
fn push_marker(buf: &mut Vec<u8>, dropped: usize) {
    let _ = fmt::Write::write_fmt(&mut UncappedWriter(buf), format_args!("…[truncated {dropped} bytes]"));
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `fmt::Write` into a byte vector, keeping at most [`MAX_VALUE_BYTES`] of what it is
/// given (counted from `start`); [`VecWriter::finish`] adds the truncation marker.
pub(crate) struct VecWriter<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
    dropped: usize,
}

impl<'a> VecWriter<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> VecWriter<'a> {
        let start = buf.len();
        VecWriter { buf, start, dropped: 0 }
    }

    /// Appends the truncation marker if anything was cut.
    #[inline]
    pub(crate) fn finish(self) {
        if self.dropped > 0 {
            push_marker(self.buf, self.dropped);
        }
    }
}

impl fmt::Write for VecWriter<'_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_VALUE_BYTES.saturating_sub(self.buf.len() - self.start);
        if s.len() <= room && self.dropped == 0 {
            self.buf.extend_from_slice(s.as_bytes());
        } else {
            let cut = if self.dropped == 0 { floor_char_boundary(s, room) } else { 0 };
            self.buf.extend_from_slice(&s.as_bytes()[..cut]);
            self.dropped += s.len() - cut;
        }
        Ok(())
    }
}

struct UncappedWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for UncappedWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
