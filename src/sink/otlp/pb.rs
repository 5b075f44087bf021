//! A protobuf writer: just the wire types OTLP uses (varint, 64-bit, length-delimited).
//!
//! Written by hand rather than through generated types so that the exporter encodes
//! straight from the compact record, with no intermediate structs, and logkit depends
//! on no protobuf or OpenTelemetry crate (the tests decode every message with the
//! official `opentelemetry-proto` types). A nested message reserves one byte for its
//! length, which fits whenever the message is shorter than 128 bytes (most attributes
//! and values); a longer one moves its bytes up to make room.

const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;

#[inline]
pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn tag(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from((field << 3) | wire));
}

/// A varint field (`int64`, `uint32`, `bool`, enums).
#[inline]
pub(crate) fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, VARINT);
    varint(out, v);
}

/// A `fixed64` field (OTLP's nanosecond timestamps).
#[inline]
pub(crate) fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, I64);
    out.extend_from_slice(&v.to_le_bytes());
}

/// A `double` field.
#[inline]
pub(crate) fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    fixed64(out, field, v.to_bits());
}

/// A `bytes` or `string` field.
#[inline]
pub(crate) fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    tag(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A nested message: `body` writes its fields, then its length goes in front.
#[inline]
pub(crate) fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    tag(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let mut prefix = [0u8; 10];
    let mut n = 0;
    let mut v = len as u64;
    while v >= 0x80 {
        prefix[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    n += 1;
    // One byte was reserved; make room for the other n - 1 and write the prefix.
    let extra = n - 1;
    out.resize(out.len() + extra, 0);
    out.copy_within(at + 1..at + 1 + len, at + 1 + extra);
    out[at..at + n].copy_from_slice(&prefix[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_groups_of_seven_bits() {
        let enc = |v| {
            let mut o = Vec::new();
            varint(&mut o, v);
            o
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(127), [127]);
        assert_eq!(enc(128), [0x80, 1]);
        assert_eq!(enc(300), [0xAC, 0x02]);
        assert_eq!(enc(u64::MAX).len(), 10);
    }

    #[test]
    fn a_nested_message_longer_than_127_bytes_gets_a_two_byte_length() {
        for len in [0usize, 1, 127, 128, 300, 20_000] {
            let mut out = vec![0xEE];
            message(&mut out, 1, |o| o.extend(std::iter::repeat_n(7u8, len)));
            let mut want = vec![0xEE, 0x0A];
            varint(&mut want, len as u64);
            want.extend(std::iter::repeat_n(7u8, len));
            assert_eq!(out, want, "len {len}");
        }
    }
}
