//! Small helpers shared by the peer set-ups: RFC 3339 timestamps, JSON string
//! escaping as `Display`, and per-thread trace/span ids.

use std::fmt::{self, Display, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

/// `SystemTime` as RFC 3339 UTC with microseconds (`2026-11-24T07:02:51.123456Z`),
/// formatted without allocating.
pub struct Rfc3339(pub SystemTime);

impl Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs();
        let (days, sod) = (secs / 86_400, secs % 86_400);
        let (y, m, dd) = civil_from_days(days as i64);
        write!(
            f,
            "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:06}Z",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            d.subsec_micros()
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (the era-based algorithm: 400-year eras of 146 097 days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A string written as a quoted, RFC 8259-escaped JSON string.
pub struct JsonStr<'a>(pub &'a str);

impl Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let s = self.0;
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let esc: Option<&str> = match b {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                b'\n' => Some("\\n"),
                b'\r' => Some("\\r"),
                b'\t' => Some("\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            f.write_str(&s[start..i])?;
            match esc {
                Some(e) => f.write_str(e)?,
                None => write!(f, "\\u{b:04x}")?,
            }
            start = i + 1;
        }
        f.write_str(&s[start..])?;
        f.write_char('"')
    }
}

/// The trace and span id a producer thread logs under, as lowercase hex.
pub struct Ids {
    pub trace_id: String,
    pub span_id: String,
}

impl Ids {
    /// Fresh ids for producer `thread` (splitmix64 over the clock and the index).
    pub fn new(thread: u64) -> Ids {
        let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
        let mut s = seed ^ thread.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut next = || {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let (a, b, c) = (next(), next(), next());
        Ids { trace_id: format!("{a:016x}{b:016x}"), span_id: format!("{c:016x}") }
    }
}

/// The varying values of record `i`: (`order_id`, `price`).
#[inline(always)]
pub fn values(i: u64) -> (u64, f64) {
    (i, 100.0 + (i % 10_000) as f64 * 0.25)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_503_771_123_456);
        assert_eq!(Rfc3339(t).to_string(), "2026-11-24T07:02:51.123456Z");
        assert_eq!(Rfc3339(UNIX_EPOCH).to_string(), "1970-01-01T00:00:00.000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(Rfc3339(leap).to_string(), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn json_str() {
        assert_eq!(JsonStr("BTC-USD").to_string(), "\"BTC-USD\"");
        assert_eq!(JsonStr("a\"b\\c\nd\u{1}").to_string(), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
