//! String escaping, for every renderer: a JSON string's contents, console text, and
//! pre-rendered JSON kept verbatim. Table-driven; runs of plain bytes are copied with
//! one `extend_from_slice`, and plain strings are recognised eight bytes at a time.
//!
//! Escaping follows RFC 8259 and goes further, so that a record can neither break its
//! line nor hide or forge text where it is displayed (a terminal running `tail -f`, a
//! JavaScript reader): besides `"`, `\` and the C0 controls, DEL, the C1 controls
//! (U+0080–U+009F, which some terminals obey), U+2028 / U+2029 (line breaks to
//! JavaScript) and the bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
//! U+2066–U+2069: the "Trojan Source" set) are written as `\uXXXX`. In UTF-8 those
//! characters start with the bytes 0xC2, 0xD8 or 0xE2, so only those three bytes take
//! the multi-byte check; every other non-ASCII byte is copied as is.

/// Appends `s` as a JSON string literal (with quotes) to `out`.
#[inline]
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    if is_plain(s.as_bytes()) {
        push_short(out, s.as_bytes());
    } else {
        escape::<JSON_STRING>(out, s);
    }
    out.push(b'"');
}

/// Appends `b`; up to 32 bytes are copied inline, with two overlapping loads and stores,
/// instead of through a `memcpy` call (keys, short strings and the record's tail are
/// mostly that short, and the call was ~8 % of the writer's instructions).
#[inline(always)]
pub(crate) fn push_short(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    if !(4..=32).contains(&n) {
        return out.extend_from_slice(b);
    }
    out.reserve(n);
    let src = b.as_ptr();
    // SAFETY: `reserve` made room for `n` more bytes at `len`, so `dst..dst + n` is
    // inside the allocation; each load reads `src..src + n` only (4 <= n <= 32: the two
    // loads of each branch start at 0 and at n - width, both within the slice), each
    // store writes within `dst..dst + n`, and the two ranges do not overlap (`b` is not
    // borrowed from `out`). All bytes up to `len + n` are then initialised.
    unsafe {
        let dst = out.as_mut_ptr().add(out.len());
        if n >= 16 {
            let (a, z) = (src.cast::<u128>().read_unaligned(), src.add(n - 16).cast::<u128>().read_unaligned());
            dst.cast::<u128>().write_unaligned(a);
            dst.add(n - 16).cast::<u128>().write_unaligned(z);
        } else if n >= 8 {
            let (a, z) = (src.cast::<u64>().read_unaligned(), src.add(n - 8).cast::<u64>().read_unaligned());
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(z);
        } else {
            let (a, z) = (src.cast::<u32>().read_unaligned(), src.add(n - 4).cast::<u32>().read_unaligned());
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(z);
        }
        out.set_len(out.len() + n);
    }
}

/// Whether no byte of `b` needs a look from [`escape`]: the common case, checked in one
/// pass without the bookkeeping of copying runs. Eight bytes at a time; the last few
/// are covered by one more word that overlaps the ones already checked (from 4 to 7
/// bytes, two overlapping 4-byte halves), so no byte loop runs unless the string is
/// under 4 bytes. A byte checked twice changes nothing, and a word's false positive
/// (any non-ASCII byte) only sends the string to [`escape`], which decides per byte.
#[inline]
fn is_plain(b: &[u8]) -> bool {
    let n = b.len();
    if n >= 8 {
        let word = |w: &[u8]| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let mut words = b.chunks_exact(8);
        for w in &mut words {
            if word_needs_attention(word(w)) {
                return false;
            }
        }
        return words.remainder().is_empty() || !word_needs_attention(word(&b[n - 8..]));
    }
    if n >= 4 {
        let half = |w: &[u8]| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        return !word_needs_attention(half(&b[..4]) | half(&b[n - 4..]) << 32);
    }
    b.iter().all(|&x| ESCAPE[x as usize] == __)
}

/// Appends `s` with every control character, DEL, C1 control, U+2028/2029 and bidi
/// control escaped (`\n`, `\t`, `\u001b`, `\u202e`, ...) but `"` and `\` left as they
/// are: text for a human console that can hold no raw control or override.
#[inline]
pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    escape::<TEXT>(out, s);
}

/// Appends the JSON text `j` (one valid JSON value) as it is, made safe to keep on one
/// line without changing its meaning (see `JSON_VERBATIM`).
#[inline]
pub(crate) fn write_verbatim(out: &mut Vec<u8>, j: &str) {
    escape::<JSON_VERBATIM>(out, j);
}

/// SWAR (eight bytes at a time): whether any byte of `w` may need escaping, i.e. is
/// below 0x20, is `"`, `\` or DEL, or is not ASCII. False positives are fine (the
/// byte loop decides), false negatives are impossible.
#[inline]
fn word_needs_attention(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn has_zero(x: u64) -> u64 {
        x.wrapping_sub(ONES) & !x & HIGH
    }
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = has_zero(w ^ (ONES * b'"' as u64));
    let backslash = has_zero(w ^ (ONES * b'\\' as u64));
    let del = has_zero(w ^ (ONES * 0x7F));
    (control | quote | backslash | del | (w & HIGH)) != 0
}

/// Escape modes (a const generic, so each instantiation of [`escape`] has only the
/// branches it needs).
///
/// A JSON string's contents: everything in the table escaped.
const JSON_STRING: u8 = 0;
/// Console text: like `JSON_STRING` but `"` and `\` kept.
const TEXT: u8 = 1;
/// Pre-rendered JSON copied verbatim, made safe without changing its meaning: C0
/// controls (legal only as whitespace between tokens in valid JSON) become spaces, the
/// other unsafe characters (legal only inside strings) become `\uXXXX`.
const JSON_VERBATIM: u8 = 2;

/// Table entry: copy the byte.
const __: u8 = 0;
/// Table entry: a lead byte of a multi-byte character that may need escaping.
const MB: u8 = 1;
/// Table entry: `\u00XX`.
const UU: u8 = b'u';
/// Table entry for `"`.
const QU: u8 = b'"';
/// Table entry for `\`.
const BS: u8 = b'\\';

/// What each byte needs: `__` nothing, `MB` the multi-byte check, `UU` `\u00XX`, or
/// the letter of its two-character escape (`\n`, `\"`, ...).
static ESCAPE: [u8; 256] = {
    let mut t = [__; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = UU;
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0A] = b'n';
    t[0x0C] = b'f';
    t[0x0D] = b'r';
    t[b'"' as usize] = QU;
    t[b'\\' as usize] = BS;
    t[0x7F] = UU;
    t[0xC2] = MB;
    t[0xD8] = MB;
    t[0xE2] = MB;
    t
};

/// The code point and UTF-8 length of the character at `bytes[i]` (whose lead byte is
/// marked `MB`) if it must be escaped: a C1 control, U+061C, U+200E, U+200F,
/// U+2028–U+202E or U+2066–U+2069.
#[inline]
fn special_char(bytes: &[u8], i: usize) -> Option<(u32, usize)> {
    let b1 = *bytes.get(i + 1)?;
    match bytes[i] {
        // U+0080..=U+009F: C2 80..=C2 9F.
        0xC2 if (0x80..=0x9F).contains(&b1) => Some((u32::from(b1), 2)),
        // U+061C ARABIC LETTER MARK: D8 9C.
        0xD8 if b1 == 0x9C => Some((0x061C, 2)),
        0xE2 => {
            let b2 = *bytes.get(i + 2)?;
            let hit = match b1 {
                // U+200E, U+200F: E2 80 8E/8F; U+2028..=U+202E: E2 80 A8..=AE.
                0x80 => matches!(b2, 0x8E | 0x8F | 0xA8..=0xAE),
                // U+2066..=U+2069: E2 81 A6..=A9.
                0x81 => matches!(b2, 0xA6..=0xA9),
                _ => false,
            };
            hit.then(|| (0x2000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F), 3))
        }
        _ => None,
    }
}

/// Appends `\uXXXX` (lowercase hex) for a code point in the BMP.
#[inline]
fn write_u_escape(out: &mut Vec<u8>, cp: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(cp >> 12 & 0xF) as usize],
        HEX[(cp >> 8 & 0xF) as usize],
        HEX[(cp >> 4 & 0xF) as usize],
        HEX[(cp & 0xF) as usize],
    ]);
}

/// Appends `s` escaped per `MODE` (without quotes).
#[inline]
fn escape<const MODE: u8>(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // `bytes[start..i]` is the run of plain bytes not yet copied.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip clean words eight bytes at a time; most log strings are plain ASCII.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let w =
                u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
            if !word_needs_attention(w) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let class = ESCAPE[b as usize];
        if class == __ {
            i += 1;
            continue;
        }
        let len = match class {
            MB => match special_char(bytes, i) {
                Some((cp, len)) => {
                    out.extend_from_slice(&bytes[start..i]);
                    write_u_escape(out, cp);
                    len
                }
                None => {
                    i += 1;
                    continue;
                }
            },
            QU | BS if MODE != JSON_STRING => {
                i += 1;
                continue;
            }
            _ if MODE == JSON_VERBATIM && b < 0x20 => {
                out.extend_from_slice(&bytes[start..i]);
                out.push(b' ');
                1
            }
            UU => {
                out.extend_from_slice(&bytes[start..i]);
                write_u_escape(out, u32::from(b));
                1
            }
            letter => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(&[b'\\', letter]);
                1
            }
        };
        i += len;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_check_never_misses_a_byte_to_escape_at_any_length_or_position() {
        let mut rng = fastrand::Rng::with_seed(5);
        for n in 0..40usize {
            // Plain ASCII is recognised as plain...
            for _ in 0..50 {
                let b: Vec<u8> = (0..n).map(|_| rng.u8(0x20..0x7F)).filter(|&c| c != b'"' && c != b'\\').collect();
                assert!(is_plain(&b), "{:?}", String::from_utf8_lossy(&b));
            }
            // ...and one byte the table escapes, anywhere, is never missed.
            for at in 0..n {
                for bad in [0x00, 0x1F, b'"', b'\\', 0x7F, 0xC2, 0xD8, 0xE2] {
                    let mut b = vec![b'a'; n];
                    b[at] = bad;
                    assert!(!is_plain(&b), "byte {bad:#x} at {at} of {n}");
                }
            }
        }
    }

    #[test]
    fn short_pushes_append_exactly_the_bytes_given_at_every_length_and_fill() {
        let src: Vec<u8> = (0..40u8).map(|i| b'a' + i).collect();
        for n in 0..=40 {
            for already in [0, 1, 7, 15, 31] {
                // Tight capacities make `reserve` grow; loose ones exercise the spare room.
                for cap in [already, already + n, already + 64] {
                    let mut out = Vec::with_capacity(cap);
                    out.extend(std::iter::repeat_n(b'#', already));
                    push_short(&mut out, &src[..n]);
                    let mut want = vec![b'#'; already];
                    want.extend_from_slice(&src[..n]);
                    assert_eq!(out, want, "n {n}, {already} bytes already, capacity {cap}");
                }
            }
        }
    }

    #[test]
    fn every_char_that_needs_escaping_has_the_expected_escape() {
        let mut out = Vec::new();
        for (s, expected) in [
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{0}\u{1f}\u{7f}", r#""\u0000\u001f\u007f""#),
            ("\u{1b}[0m", r#""\u001b[0m""#),
            ("a\u{2028}b\u{2029}c", r#""a\u2028b\u2029c""#),
            (
                "\u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}",
                r#""\u200e\u200f\u202a\u202b\u202c\u202d\u202e""#,
            ),
            ("\u{2066}\u{2067}\u{2068}\u{2069}\u{061c}", r#""\u2066\u2067\u2068\u2069\u061c""#),
            ("\u{80}\u{9f}", r#""\u0080\u009f""#),
            // Neighbours of the escaped characters pass through.
            (
                "\u{a0}\u{a9}\u{2027}\u{202f}\u{2065}\u{206a}\u{200d}\u{2010}\u{061b}",
                "\"\u{a0}\u{a9}\u{2027}\u{202f}\u{2065}\u{206a}\u{200d}\u{2010}\u{061b}\"",
            ),
            ("plain ascii / é 🦀", "\"plain ascii / é 🦀\""),
        ] {
            out.clear();
            write_str(&mut out, s);
            assert_eq!(String::from_utf8_lossy(&out), expected, "escaping {s:?}");
        }
    }
}
