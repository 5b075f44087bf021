//! Values as text: the one place a [`FieldValue`] becomes bytes.
//!
//! Both renderers write `null`, bools and numbers alike (integers through `itoa`,
//! floats in their shortest round-trip form); they differ only in how a float that JSON
//! has no number for is spelled and how strings and nested JSON are written, which is
//! what a [`Spelling`] says (`json::Json`, `pretty::Console`).

use crate::record::FieldValue;

/// How a renderer writes what the shared arms leave to it.
pub(crate) trait Spelling {
    /// NaN, positive and negative infinity.
    const NON_FINITE: [&'static [u8]; 3];
    /// Writes a string value.
    fn str(out: &mut Vec<u8>, s: &str);
    /// Writes a nested JSON value.
    fn json(out: &mut Vec<u8>, j: &str);
}

/// Appends one value as `S` spells it.
#[inline]
pub(crate) fn write<S: Spelling>(out: &mut Vec<u8>, value: FieldValue<&str>) {
    match value {
        FieldValue::Null => out.extend_from_slice(b"null"),
        FieldValue::Bool(true) => out.extend_from_slice(b"true"),
        FieldValue::Bool(false) => out.extend_from_slice(b"false"),
        FieldValue::U64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        FieldValue::I64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        FieldValue::U128(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        FieldValue::I128(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        FieldValue::F64(v) => write_f64::<S>(out, v),
        FieldValue::Str(s) => S::str(out, s),
        FieldValue::Json(j) => S::json(out, j),
    }
}

/// A finite float as a number (`ryu`'s shortest round-trip form: `1.0`, `1e16`, `-0.0`,
/// all valid JSON, or the same digits through [`write_short_decimal`]); NaN and the
/// infinities as `S` spells them.
#[inline]
pub(crate) fn write_f64<S: Spelling>(out: &mut Vec<u8>, v: f64) {
    let [nan, inf, neg_inf] = S::NON_FINITE;
    if v.is_finite() {
        if !write_short_decimal(out, v) {
            out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        }
    } else if v.is_nan() {
        out.extend_from_slice(nan);
    } else if v > 0.0 {
        out.extend_from_slice(inf);
    } else {
        out.extend_from_slice(neg_inf);
    }
}

/// Powers of ten for [`write_short_decimal`], all exact in `f64`.
const POW10: [f64; 7] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6];

/// The fast path for the floats logs are full of (prices, durations, ratios): a value
/// in `[1e-5, 1e9)` with at most six decimals is written as `n / 10^k` with the
/// smallest such `k`, which is its shortest round-trip form (as `ryu` would print it,
/// at a fraction of the cost). `n / 10^k == v` in `f64` is exact proof of the round
/// trip: `n` and `10^k` are exact, and IEEE division rounds correctly, as does parsing.
/// Returns `false` (nothing written) for every other value.
#[inline]
fn write_short_decimal(out: &mut Vec<u8>, v: f64) -> bool {
    let a = v.abs();
    if !(1e-5..1e9).contains(&a) {
        return false;
    }
    for (k, &p) in POW10.iter().enumerate() {
        let n = round_small(a * p);
        if n / p == a {
            if v < 0.0 {
                out.push(b'-');
            }
            // One conversion: `n`'s digits, with the point put in before the last `k`.
            let mut b = itoa::Buffer::new();
            let digits = b.format(n as u64).as_bytes();
            if k == 0 {
                out.extend_from_slice(digits);
                out.extend_from_slice(b".0");
            } else if digits.len() > k {
                let (int, frac) = digits.split_at(digits.len() - k);
                out.extend_from_slice(int);
                out.push(b'.');
                out.extend_from_slice(frac);
            } else {
                // Below 1: `0.`, then zeros up to `k` digits.
                out.extend_from_slice(b"0.");
                out.extend_from_slice(&b"000000"[..k - digits.len()]);
                out.extend_from_slice(digits);
            }
            return true;
        }
    }
    false
}

/// `x` rounded to an integer (ties to even), for `0 <= x < 2^52`: adding 2^52 leaves no
/// bits for a fraction, so the addition itself rounds (in the default rounding mode),
/// and subtracting it back is exact. Two instructions, where `f64::round` is a call
/// into a software routine on baseline x86_64 (~23 instructions; it ran twice per
/// price). Which way a tie goes does not matter to [`write_short_decimal`]: it keeps
/// `n` only if `n / 10^k` reads back as the value.
#[inline(always)]
fn round_small(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    debug_assert!((0.0..TWO_52).contains(&x));
    (x + TWO_52) - TWO_52
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spelling that marks what it was handed, to see which arm wrote what.
    struct Marked;
    impl Spelling for Marked {
        const NON_FINITE: [&'static [u8]; 3] = [b"nan!", b"inf!", b"-inf!"];
        fn str(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(format!("str({s})").as_bytes());
        }
        fn json(out: &mut Vec<u8>, j: &str) {
            out.extend_from_slice(format!("json({j})").as_bytes());
        }
    }

    fn text(v: FieldValue<&str>) -> String {
        let mut out = Vec::new();
        write::<Marked>(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn write_f64(out: &mut Vec<u8>, v: f64) {
        super::write_f64::<Marked>(out, v)
    }

    #[test]
    fn each_kind_of_value_is_written_by_its_one_arm() {
        for (v, want) in [
            (FieldValue::Null, "null"),
            (FieldValue::Bool(true), "true"),
            (FieldValue::Bool(false), "false"),
            (FieldValue::U64(u64::MAX), "18446744073709551615"),
            (FieldValue::I64(i64::MIN), "-9223372036854775808"),
            (FieldValue::U128(u128::MAX), "340282366920938463463374607431768211455"),
            (FieldValue::I128(i128::MIN), "-170141183460469231731687303715884105728"),
            (FieldValue::F64(1.5), "1.5"),
            (FieldValue::F64(f64::NAN), "nan!"),
            (FieldValue::F64(f64::INFINITY), "inf!"),
            (FieldValue::F64(f64::NEG_INFINITY), "-inf!"),
            (FieldValue::Str("a b"), "str(a b)"),
            (FieldValue::Json("[1]"), "json([1])"),
        ] {
            assert_eq!(text(v), want, "{v:?}");
        }
    }

    #[test]
    fn short_decimals_are_written_as_people_write_them() {
        for (v, text) in [
            (1.5, "1.5"),
            (0.05, "0.05"),
            (0.1, "0.1"),
            (1e-5, "0.00001"),
            (100.0, "100.0"),
            (-2.25, "-2.25"),
            (123_456.789, "123456.789"),
            (100.25, "100.25"),
            (999_999_999.999_999, "999999999.999999"),
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), text, "{v:?}");
        }
    }

    #[test]
    fn round_small_rounds_ties_to_even_below_2_pow_52() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut xs = vec![0.0, 0.5, 1.5, 2.5, 0.499_999_999_999_999_94, 1e15 + 0.5, 4_503_599_627_370_495.5];
        for _ in 0..200_000 {
            xs.push(rng.f64() * 1e15);
            xs.push(rng.u64(0..1 << 40) as f64 + 0.5);
        }
        for x in xs {
            assert_eq!(round_small(x).to_bits(), x.round_ties_even().to_bits(), "{x}");
        }
    }

    #[test]
    fn short_decimal_fast_path_round_trips_and_is_never_longer_than_ryu() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut values = vec![1.5, 0.1, 0.3, 100.0, 123.456, -2.25, 1e-5, 999_999_999.999_999, 0.000_01, 42.0];
        for _ in 0..200_000 {
            // Short decimals, as prices and durations are, and arbitrary doubles.
            let digits = rng.u64(0..10_000_000_000);
            values.push(digits as f64 / [1.0, 10.0, 100.0, 1e3, 1e4, 1e6][rng.usize(0..6)]);
            values.push(f64::from_bits(rng.u64(..)));
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let mut out = Vec::new();
            write_f64(&mut out, v);
            let text = std::str::from_utf8(&out).unwrap();
            let back: f64 = text.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:?} written as {text}");
            let ryu_text = ryu::Buffer::new().format_finite(v).to_owned();
            assert!(text.len() <= ryu_text.len(), "{v:?}: {text} longer than ryu's {ryu_text}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "{text} is not JSON");
        }
    }
}
