//! Trace and span identifiers, and the W3C `traceparent` header.
//!
//! A [`TraceId`] is 128 random bits, a [`SpanId`] 64; both display as lowercase hex
//! (32 / 16 characters) and are never zero (the W3C spec reserves all-zero ids as
//! invalid).

use std::fmt;
use std::str::FromStr;

/// A 128-bit trace id; `Display` is 32 lowercase hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(u128);

/// A 64-bit span id; `Display` is 16 lowercase hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

/// Why an id or a `traceparent` could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseIdError {
    what: &'static str,
    input: String,
}

impl ParseIdError {
    fn new(what: &'static str, input: &str) -> ParseIdError {
        let mut input: String = input.chars().take(80).collect();
        if input.len() < 80 {
            input.shrink_to_fit();
        }
        ParseIdError { what, input }
    }
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "logkit: invalid {}: {:?}", self.what, self.input)
    }
}

impl std::error::Error for ParseIdError {}

impl TraceId {
    /// A new random trace id (never zero).
    pub fn random() -> TraceId {
        loop {
            let v = fastrand::u128(..);
            if v != 0 {
                return TraceId(v);
            }
        }
    }

    /// The id as a number; `None` for zero, which is not a valid trace id.
    pub fn from_u128(v: u128) -> Option<TraceId> {
        (v != 0).then_some(TraceId(v))
    }

    /// The id as a number.
    pub fn to_u128(self) -> u128 {
        self.0
    }

    /// Parses 32 hex characters, or the trace id of a W3C `traceparent`
    /// (`00-<32 hex>-<16 hex>-<2 hex>`). All-zero ids are rejected.
    ///
    /// # Errors
    /// A [`ParseIdError`] quoting the input.
    pub fn parse(s: &str) -> Result<TraceId, ParseIdError> {
        let t = s.trim();
        if t.len() == 32 {
            return hex_u128(t).and_then(TraceId::from_u128).ok_or_else(|| ParseIdError::new("trace id", s));
        }
        TraceParent::parse(t).map(|tp| tp.trace_id).map_err(|_| ParseIdError::new("trace id", s))
    }

    pub(crate) fn write_hex(self, out: &mut [u8; 32]) {
        write_hex(self.0, out);
    }
}

impl SpanId {
    /// A new random span id (never zero).
    pub fn random() -> SpanId {
        loop {
            let v = fastrand::u64(..);
            if v != 0 {
                return SpanId(v);
            }
        }
    }

    /// The id as a number; `None` for zero.
    pub fn from_u64(v: u64) -> Option<SpanId> {
        (v != 0).then_some(SpanId(v))
    }

    /// The id as a number.
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// Parses 16 hex characters; zero is rejected.
    ///
    /// # Errors
    /// A [`ParseIdError`] quoting the input.
    pub fn parse(s: &str) -> Result<SpanId, ParseIdError> {
        let t = s.trim();
        if t.len() != 16 {
            return Err(ParseIdError::new("span id", s));
        }
        hex_u128(t).and_then(|v| SpanId::from_u64(v as u64)).ok_or_else(|| ParseIdError::new("span id", s))
    }

    pub(crate) fn write_hex(self, out: &mut [u8; 16]) {
        write_hex(self.0 as u128, out);
    }
}

impl FromStr for TraceId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<TraceId, ParseIdError> {
        TraceId::parse(s)
    }
}

impl FromStr for SpanId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<SpanId, ParseIdError> {
        SpanId::parse(s)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = [0u8; 32];
        self.write_hex(&mut b);
        f.write_str(std::str::from_utf8(&b).unwrap_or(""))
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = [0u8; 16];
        self.write_hex(&mut b);
        f.write_str(std::str::from_utf8(&b).unwrap_or(""))
    }
}

/// A W3C trace context `traceparent`: `00-<trace id>-<parent span id>-<flags>`.
///
/// ```
/// let tp = logkit::TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(tp.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The caller's span: the parent of the spans this process opens.
    pub parent_id: SpanId,
    /// The `sampled` flag (bit 0 of the trace flags).
    pub sampled: bool,
}

impl TraceParent {
    /// Parses a `traceparent` header value. Version `00` must have exactly four parts;
    /// a higher version may carry more after the fourth (per the spec); version `ff`,
    /// non-hex, upper-case hex and all-zero ids are rejected.
    ///
    /// # Errors
    /// A [`ParseIdError`] quoting the input.
    pub fn parse(s: &str) -> Result<TraceParent, ParseIdError> {
        let err = || ParseIdError::new("traceparent", s);
        let t = s.trim();
        let b = t.as_bytes();
        // The fixed-position slices below need ASCII there: a multi-byte character
        // would put a slice end inside it (and panic).
        if b.len() < 55 || !b[..55].is_ascii() || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(err());
        }
        let lower_hex = |p: &str| p.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
        let (version, trace, parent, flags) = (&t[0..2], &t[3..35], &t[36..52], &t[53..55]);
        if ![version, trace, parent, flags].iter().all(|p| lower_hex(p)) || version == "ff" {
            return Err(err());
        }
        if (version == "00" && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
            return Err(err());
        }
        let trace_id = hex_u128(trace).and_then(TraceId::from_u128).ok_or_else(err)?;
        let parent_id = hex_u128(parent).and_then(|v| SpanId::from_u64(v as u64)).ok_or_else(err)?;
        let flags = hex_u128(flags).ok_or_else(err)? as u8;
        Ok(TraceParent { trace_id, parent_id, sampled: flags & 1 == 1 })
    }
}

impl FromStr for TraceParent {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<TraceParent, ParseIdError> {
        TraceParent::parse(s)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", self.trace_id, self.parent_id, u8::from(self.sampled))
    }
}

/// Parses up to 32 hex digits (either case).
fn hex_u128(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 32 {
        return None;
    }
    let mut v: u128 = 0;
    for c in s.bytes() {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// Two lowercase hex digits per byte value.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0xF]];
        i += 1;
    }
    t
};

/// The low `N / 2` bytes of `v` as `N` hex digits, most significant first (a table
/// lookup per byte: ids are formatted on every span open).
#[inline]
fn write_hex<const N: usize>(v: u128, out: &mut [u8; N]) {
    let bytes = v.to_be_bytes();
    for (i, pair) in out.chunks_exact_mut(2).enumerate() {
        pair.copy_from_slice(&HEX_PAIRS[bytes[16 - N / 2 + i] as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_as_fixed_width_lowercase_hex() {
        let t = TraceId::from_u128(0xAB).unwrap();
        assert_eq!(t.to_string(), "000000000000000000000000000000ab");
        let s = SpanId::from_u64(0x00f0_67aa_0ba9_02b7).unwrap();
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert_eq!(TraceId::parse(&t.to_string()), Ok(t));
        assert_eq!(SpanId::parse(&s.to_string()), Ok(s));
    }

    #[test]
    fn random_ids_are_distinct_and_nonzero() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a, b);
        assert_ne!(a.to_u128(), 0);
        assert_ne!(SpanId::random().to_u64(), 0);
    }

    #[test]
    fn traceparent_parses_and_formats() {
        let s = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let tp = TraceParent::parse(s).unwrap();
        assert!(tp.sampled);
        assert_eq!(tp.to_string(), s);
        assert_eq!(TraceId::parse(s).unwrap(), tp.trace_id);
        // A future version may append fields.
        assert!(TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra").is_ok());
    }

    #[test]
    fn malformed_and_zero_ids_are_rejected() {
        for bad in [
            "",
            "xyz",
            "00000000000000000000000000000000",
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4bf92f3577b34da6a3ce929d0e0e4736a",
            "4bf92f3577b34da6a3ce929d0e0e473g",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            // Found by the `trace_ids` fuzz target: a slice end inside a character.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
        ] {
            assert!(TraceParent::parse(bad).is_err() || bad.len() == 32, "{bad}");
            if bad.len() != 32 || bad.starts_with("0000") || bad.ends_with('g') {
                assert!(TraceId::parse(bad).is_err(), "{bad}");
            }
        }
        assert!(SpanId::parse("0000000000000000").is_err());
        let e = TraceId::parse("nope").unwrap_err();
        assert_eq!(e.to_string(), "logkit: invalid trace id: \"nope\"");
    }
}
