//! Per span name, the durations `slow` needs for p50, p95 and p99, in memory that does
//! not grow with the number of spans.
//!
//! Up to [`EXACT_UP_TO`] durations of a name are kept as they are, so small runs get
//! exact nearest-rank percentiles. Beyond that they go into a log-bucketed histogram
//! (the scheme of DDSketch, Masson et al., VLDB 2019, with a dense store like
//! HdrHistogram's): bucket `i` holds the durations `x` with `γ^(i-1) < x ≤ γ^i`, where
//! `γ = (1 + α) / (1 - α)`, and a percentile reads as `2γ^i / (γ + 1)`, which is within
//! a relative error `α` ([`RELATIVE_ERROR`]) of every duration in the bucket, so within
//! `α` of the exact nearest-rank percentile. Buckets cover 1 ns to 10^12 ms (31 years):
//! at most [`MAX_BUCKETS`] counters per name, allocated only between the smallest and
//! the largest bucket seen. Count, minimum and maximum are kept exactly.

/// The bound on the relative error of a percentile read from the histogram: 0.5 %
/// (quoted, with [`EXACT_UP_TO`], in `logkit --help` and the README).
pub const RELATIVE_ERROR: f64 = 0.005;
/// Durations per span name kept exactly before the histogram takes over.
pub const EXACT_UP_TO: usize = 1024;
/// The smallest and largest durations (ms) the buckets tell apart; others count in the
/// first or last bucket (and a percentile is still clamped to the exact min and max).
const MIN_MS: f64 = 1e-6;
const MAX_MS: f64 = 1e12;
/// `γ`: the ratio between the bounds of a bucket.
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);
/// Buckets from [`MIN_MS`] to [`MAX_MS`]: the indices `ceil(ln(MIN) / ln γ)` to
/// `ceil(ln(MAX) / ln γ)` (a `const` cannot take logarithms; a unit test checks it).
pub const MAX_BUCKETS: usize = 4146;

/// The durations of one span name.
#[derive(Debug, Clone)]
pub enum Durations {
    /// At most [`EXACT_UP_TO`] durations, as logged.
    Exact(Vec<f64>),
    Hist(Histogram),
}

impl Default for Durations {
    fn default() -> Durations {
        Durations::Exact(Vec::new())
    }
}

impl Durations {
    pub fn add(&mut self, ms: f64) {
        match self {
            Durations::Exact(v) if v.len() < EXACT_UP_TO => v.push(ms),
            Durations::Exact(v) => {
                let mut h = Histogram::from_exact(v);
                h.add(ms);
                *self = Durations::Hist(h);
            }
            Durations::Hist(h) => h.add(ms),
        }
    }

    pub fn merge(&mut self, other: Durations) {
        match (&mut *self, other) {
            (Durations::Exact(a), Durations::Exact(b)) if a.len() + b.len() <= EXACT_UP_TO => a.extend(b),
            (Durations::Hist(a), Durations::Hist(b)) => a.merge(&b),
            (Durations::Hist(a), Durations::Exact(b)) => b.into_iter().for_each(|ms| a.add(ms)),
            (Durations::Exact(a), other) => {
                let mut h = Histogram::from_exact(a);
                match other {
                    Durations::Exact(b) => b.into_iter().for_each(|ms| h.add(ms)),
                    Durations::Hist(b) => h.merge(&b),
                }
                *self = Durations::Hist(h);
            }
        }
    }

    pub fn count(&self) -> u64 {
        match self {
            Durations::Exact(v) => v.len() as u64,
            Durations::Hist(h) => h.count,
        }
    }

    /// `[p50, p95, p99, max]`: the nearest-rank percentiles (exact, or within
    /// [`RELATIVE_ERROR`] of the exact ones) and the exact maximum; NaN when empty.
    pub fn summary(&mut self) -> [f64; 4] {
        match self {
            Durations::Exact(v) => {
                v.sort_by(f64::total_cmp);
                let max = v.last().copied().unwrap_or(f64::NAN);
                [percentile(v, 0.5), percentile(v, 0.95), percentile(v, 0.99), max]
            }
            Durations::Hist(h) => [h.quantile(0.5), h.quantile(0.95), h.quantile(0.99), h.max],
        }
    }

    /// Bytes held for the durations (for the test that they stay bounded).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        match self {
            Durations::Exact(v) => v.capacity() * size_of::<f64>(),
            Durations::Hist(h) => h.counts.capacity() * size_of::<u64>(),
        }
    }
}

/// The nearest-rank percentile `p` (0..=1) of sorted `v`.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[rank(p, v.len() as u64) as usize - 1]
}

/// The 1-based nearest rank of percentile `p` among `n` values.
fn rank(p: f64, n: u64) -> u64 {
    ((p * n as f64).ceil() as u64).clamp(1, n.max(1))
}

/// A log-bucketed histogram of durations (see the module docs).
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Durations of 0 ms or less (a span shorter than the microsecond logkit writes).
    zeros: u64,
    /// The bucket index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
    count: u64,
    min: f64,
    max: f64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram { zeros: 0, offset: 0, counts: Vec::new(), count: 0, min: f64::INFINITY, max: f64::NEG_INFINITY }
    }

    fn from_exact(v: &[f64]) -> Histogram {
        let mut h = Histogram::new();
        v.iter().for_each(|&ms| h.add(ms));
        h
    }

    /// The bucket of a positive duration.
    fn index(ms: f64) -> i32 {
        (ms.clamp(MIN_MS, MAX_MS).ln() / GAMMA.ln()).ceil() as i32
    }

    /// The value a bucket reads as: within `α` of everything in it.
    fn value(index: i32) -> f64 {
        2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
    }

    pub fn add(&mut self, ms: f64) {
        self.count += 1;
        self.min = self.min.min(ms);
        self.max = self.max.max(ms);
        if ms.is_nan() || ms <= 0.0 {
            self.zeros += 1;
            return;
        }
        self.bump(Self::index(ms), 1);
    }

    /// Adds `n` to bucket `i`, growing the store to reach it. The store grows to
    /// exactly the buckets between the extremes seen (not by doubling), so it never
    /// holds more than [`MAX_BUCKETS`] counters; a new extreme is rare after the first
    /// spans, so the copies cost nothing that shows.
    fn bump(&mut self, i: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = i;
        }
        if i < self.offset {
            let grow = (self.offset - i) as usize;
            let mut counts = Vec::with_capacity(grow + self.counts.len());
            counts.resize(grow, 0);
            counts.extend_from_slice(&self.counts);
            self.counts = counts;
            self.offset = i;
        }
        let k = (i - self.offset) as usize;
        if k >= self.counts.len() {
            self.counts.reserve_exact(k + 1 - self.counts.len());
            self.counts.resize(k + 1, 0);
        }
        debug_assert!(self.counts.len() <= MAX_BUCKETS);
        self.counts[k] += n;
    }

    fn merge(&mut self, o: &Histogram) {
        self.count += o.count;
        self.zeros += o.zeros;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        for (k, &n) in o.counts.iter().enumerate() {
            if n > 0 {
                self.bump(o.offset + k as i32, n);
            }
        }
    }

    /// The nearest-rank percentile `p`, within `α` of the exact one.
    fn quantile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return f64::NAN;
        }
        let r = rank(p, self.count);
        let mut seen = self.zeros;
        if seen >= r {
            return 0f64.clamp(self.min, self.max);
        }
        for (k, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= r {
                return Self::value(self.offset + k as i32).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((percentile(&v, 0.5), percentile(&v, 0.95), percentile(&v, 0.99)), (50.0, 95.0, 99.0));
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn max_buckets_covers_the_range_of_durations() {
        let n = (Histogram::index(MAX_MS) - Histogram::index(MIN_MS) + 1) as usize;
        assert_eq!(n, MAX_BUCKETS);
    }

    #[test]
    fn every_duration_reads_back_within_the_relative_error_from_its_bucket() {
        let mut ms = MIN_MS;
        while ms < MAX_MS {
            let got = Histogram::value(Histogram::index(ms));
            assert!((got - ms).abs() <= RELATIVE_ERROR * ms * (1.0 + 1e-9), "{ms} read as {got}");
            ms *= 1.000_37;
        }
    }
}
