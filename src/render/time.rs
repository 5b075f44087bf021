//! Timestamp formatting: RFC 3339 UTC with microseconds for JSON lines, and the time of
//! day for the pretty console.
//!
//! No calendar crate: the civil date comes from Howard Hinnant's `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>), which is
//! exact for the proleptic Gregorian calendar. Timestamps are `u64` nanoseconds since
//! the Unix epoch, so the range is 1970-01-01 to 2554-07-21 and every year has four
//! digits.
//!
//! Records of one batch are usually logged within the same second, so the formatted
//! `YYYY-MM-DDTHH:MM:SS` of the last second seen is cached and only the fraction is
//! formatted per record.

const NS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;

/// Length of `YYYY-MM-DDTHH:MM:SS`.
const DATE_TIME_LEN: usize = 19;
/// Where `HH:MM:SS` starts in the cached `YYYY-MM-DDTHH:MM:SS`.
const TIME_OF_DAY_AT: usize = 11;

/// Caches the formatted `YYYY-MM-DDTHH:MM:SS` of the last second seen.
#[derive(Debug)]
pub(crate) struct TimestampCache {
    /// The second (since the epoch) that `date_time` holds; `u64::MAX` = none yet (a
    /// `u64` of nanoseconds never reaches that many seconds).
    second: u64,
    /// `YYYY-MM-DDTHH:MM:SS` of `second`.
    date_time: [u8; DATE_TIME_LEN],
}

impl Default for TimestampCache {
    fn default() -> TimestampCache {
        TimestampCache { second: u64::MAX, date_time: [0; DATE_TIME_LEN] }
    }
}

impl TimestampCache {
    /// Appends RFC 3339 UTC with microseconds: `2026-11-24T07:02:51.123456Z`. The
    /// fraction is truncated, not rounded, so a timestamp never moves into the next
    /// second.
    #[inline]
    pub(crate) fn write_rfc3339(&mut self, out: &mut Vec<u8>, ns: u64) {
        let date_time = self.date_time(ns / NS_PER_SEC);
        let micros = (ns % NS_PER_SEC / 1_000) as u32;
        let mut buf = [0u8; DATE_TIME_LEN + 9];
        buf[..DATE_TIME_LEN].copy_from_slice(date_time);
        buf[DATE_TIME_LEN] = b'.';
        write_digits(&mut buf[DATE_TIME_LEN + 1..DATE_TIME_LEN + 7], micros);
        buf[DATE_TIME_LEN + 7] = b'Z';
        out.extend_from_slice(&buf[..DATE_TIME_LEN + 8]);
    }

    /// Appends `HH:MM:SS.mmm` (UTC, milliseconds truncated) for the pretty console.
    #[inline]
    pub(crate) fn write_time_of_day(&mut self, out: &mut Vec<u8>, ns: u64) {
        let date_time = self.date_time(ns / NS_PER_SEC);
        let millis = (ns % NS_PER_SEC / 1_000_000) as u32;
        let mut buf = [0u8; 12];
        buf[..8].copy_from_slice(&date_time[TIME_OF_DAY_AT..]);
        buf[8] = b'.';
        write_digits(&mut buf[9..12], millis);
        out.extend_from_slice(&buf);
    }

    /// The formatted `YYYY-MM-DDTHH:MM:SS` of `second`, from the cache when it is the
    /// same second as last time.
    #[inline]
    fn date_time(&mut self, second: u64) -> &[u8; DATE_TIME_LEN] {
        if second != self.second {
            self.refresh(second);
        }
        &self.date_time
    }

    #[cold]
    #[inline(never)]
    fn refresh(&mut self, second: u64) {
        let days = second / SECS_PER_DAY;
        let secs_of_day = (second % SECS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        let b = &mut self.date_time;
        write_digits(&mut b[0..4], year);
        b[4] = b'-';
        write_digits(&mut b[5..7], month);
        b[7] = b'-';
        write_digits(&mut b[8..10], day);
        b[10] = b'T';
        write_digits(&mut b[11..13], secs_of_day / 3600);
        b[13] = b':';
        write_digits(&mut b[14..16], secs_of_day / 60 % 60);
        b[16] = b':';
        write_digits(&mut b[17..19], secs_of_day % 60);
        self.second = second;
    }
}

/// `(year, month 1..=12, day 1..=31)` of the day `days` after 1970-01-01 (Hinnant's
/// `civil_from_days`, restricted to non-negative day counts so it runs in `u64`).
#[inline]
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    // Shift the epoch to 0000-03-01, so a leap day is the last day of its (March-based)
    // year, then split into 400-year eras of 146 097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    // A u64 of nanoseconds ends in 2554, so the year always fits (and has 4 digits).
    (year as u32, month as u32, day as u32)
}

/// `"00" "01" … "99"`: two digits per division in [`write_digits`].
const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v` as exactly `out.len()` decimal digits, zero-padded (higher digits of `v`
/// that do not fit are dropped; callers pass values that fit). Two digits at a time:
/// the microseconds of every record take three steps instead of six.
#[inline]
fn write_digits(out: &mut [u8], mut v: u32) {
    let mut end = out.len();
    while end >= 2 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        out[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        end -= 2;
    }
    if end == 1 {
        out[0] = b'0' + (v % 10) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = SECS_PER_DAY * NS_PER_SEC;

    fn rfc3339(ns: u64) -> String {
        let mut out = Vec::new();
        TimestampCache::default().write_rfc3339(&mut out, ns);
        String::from_utf8(out).expect("ascii")
    }

    fn time_of_day(ns: u64) -> String {
        let mut out = Vec::new();
        TimestampCache::default().write_time_of_day(&mut out, ns);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn digits_are_zero_padded_to_any_width_and_keep_the_low_digits() {
        let mut rng = fastrand::Rng::with_seed(3);
        for width in 1..=9usize {
            for v in [0, 7, 42, 999, 123_456, 999_999, u32::MAX].into_iter().chain((0..1_000).map(|_| rng.u32(..))) {
                let mut out = vec![b'x'; width];
                write_digits(&mut out, v);
                let want = format!("{:0w$}", u64::from(v) % 10u64.pow(width as u32), w = width);
                assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{v} in {width} digits");
            }
        }
    }

    #[test]
    fn epoch_is_1970_01_01_midnight() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(time_of_day(0), "00:00:00.000");
    }

    #[test]
    fn the_design_example_formats_exactly() {
        // 2026-11-24T07:02:51Z = 1795503771 s.
        let ns = 1_795_503_771 * NS_PER_SEC + 123_456_789;
        assert_eq!(rfc3339(ns), "2026-11-24T07:02:51.123456Z");
        assert_eq!(time_of_day(ns), "07:02:51.123");
    }

    #[test]
    fn leap_days_exist_in_2000_and_2024_but_not_2100() {
        // 2000-02-29 = day 11016, 2024-02-29 = day 19782, 2100-03-01 = day 47541.
        assert_eq!(rfc3339(11_016 * DAY), "2000-02-29T00:00:00.000000Z");
        assert_eq!(rfc3339(11_017 * DAY), "2000-03-01T00:00:00.000000Z");
        assert_eq!(rfc3339(19_782 * DAY + 3_600 * NS_PER_SEC), "2024-02-29T01:00:00.000000Z");
        assert_eq!(rfc3339(47_541 * DAY - 1), "2100-02-28T23:59:59.999999Z");
        assert_eq!(rfc3339(47_541 * DAY), "2100-03-01T00:00:00.000000Z");
    }

    #[test]
    fn the_last_nanosecond_of_a_year_is_still_that_year() {
        // 2024-01-01 = day 19723; 2025-01-01 = day 20089.
        assert_eq!(rfc3339(20_089 * DAY - 1), "2024-12-31T23:59:59.999999Z");
        assert_eq!(rfc3339(20_089 * DAY), "2025-01-01T00:00:00.000000Z");
        assert_eq!(time_of_day(20_089 * DAY - 1), "23:59:59.999");
    }

    #[test]
    fn far_dates_format_up_to_the_end_of_u64_nanoseconds() {
        // i64::MAX ns: the end of the `i64` nanosecond range many libraries use.
        assert_eq!(rfc3339(i64::MAX as u64), "2262-04-11T23:47:16.854775Z");
        assert_eq!(rfc3339(u64::MAX), "2554-07-21T23:34:33.709551Z");
    }

    #[test]
    fn fractions_are_truncated_not_rounded() {
        assert_eq!(rfc3339(999_999_999), "1970-01-01T00:00:00.999999Z");
        assert_eq!(time_of_day(999_999_999), "00:00:00.999");
        assert_eq!(rfc3339(1_000), "1970-01-01T00:00:00.000001Z");
        assert_eq!(rfc3339(999), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn the_cache_follows_the_clock_forwards_and_backwards() {
        let mut ts = TimestampCache::default();
        let base = 1_795_503_771 * NS_PER_SEC;
        let mut out = Vec::new();
        for ns in [base + 1_000, base + 2_000, base + NS_PER_SEC, base + 5_000, 0, base + DAY] {
            out.clear();
            ts.write_rfc3339(&mut out, ns);
            assert_eq!(String::from_utf8_lossy(&out), rfc3339(ns));
            out.clear();
            ts.write_time_of_day(&mut out, ns);
            assert_eq!(String::from_utf8_lossy(&out), time_of_day(ns));
        }
    }

    #[test]
    fn civil_from_days_matches_a_day_by_day_walk() {
        // Walk the calendar day by day from 1970 through 2400 (covers 400-year cycles and
        // every century rule) and compare with the algorithm.
        let (mut y, mut m, mut d) = (1970u32, 1u32, 1u32);
        let leap = |y: u32| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for days in 0..(431 * 366) {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let month_len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > month_len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
