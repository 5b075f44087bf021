//! `logkit slow`: the slowest spans, and per span name the count, the failures and the
//! p50, p95, p99 and max of `dur_ms`. Count, failures and max are exact; the
//! nearest-rank percentiles are exact up to [`EXACT_UP_TO`](crate::hist::EXACT_UP_TO)
//! spans of a name and within [`RELATIVE_ERROR`](crate::hist::RELATIVE_ERROR) of the
//! exact ones beyond (a log-bucketed histogram, [`crate::hist`]), so memory grows with
//! the number of span names, never with the number of spans.
//!
//! Only `END` records are parsed: the event sits at a fixed offset of a logkit line.

use crate::escape;
use crate::hist::Durations;
use crate::input::{At, BadLines, Fold};
use crate::pretty;
use crate::record::{Frame, Record};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many slowest spans to keep (`--top`), set before the scan.
pub static TOP: AtomicUsize = AtomicUsize::new(10);

/// One ended span.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    pub dur_ms: f64,
    pub name: String,
    pub timestamp: String,
    pub trace_id: String,
    pub status: String,
}

/// Orders spans by duration (then time, for a stable order).
#[derive(Debug, Clone, PartialEq)]
struct ByDur(Ended);
impl Eq for ByDur {}
impl PartialOrd for ByDur {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByDur {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.dur_ms.total_cmp(&o.0.dur_ms).then_with(|| o.0.timestamp.cmp(&self.0.timestamp))
    }
}

#[derive(Default)]
pub struct Slow {
    /// Per span name: durations and failures.
    by_name: HashMap<String, (Durations, u64)>,
    /// The slowest spans: a min-heap of at most `TOP`.
    top: BinaryHeap<Reverse<ByDur>>,
    pub bad: BadLines,
}

impl Slow {
    fn keep(&mut self, e: Ended) {
        let top = TOP.load(Ordering::Relaxed);
        if top == 0 {
            return;
        }
        if self.top.len() < top {
            self.top.push(Reverse(ByDur(e)));
        } else if self.top.peek().is_some_and(|m| ByDur(e.clone()) > m.0) {
            self.top.pop();
            self.top.push(Reverse(ByDur(e)));
        }
    }
}

impl Fold for Slow {
    fn line(&mut self, at: At, line: &[u8]) {
        if Frame::read(line).is_some_and(|f| !f.event_is(b"END")) {
            return;
        }
        let rec = match Record::parse(line) {
            Ok(r) => r,
            Err(b) => return self.bad.add(at.source, b),
        };
        if !rec.is_end() {
            return;
        }
        let Some(dur_ms) = rec.f64("dur_ms") else { return };
        let name = rec.str("span").unwrap_or_default().into_owned();
        let status = rec.str("status").unwrap_or_default().into_owned();
        let entry = self.by_name.entry(name.clone()).or_default();
        entry.0.add(dur_ms);
        if status == "error" {
            entry.1 += 1;
        }
        let trace_id = rec.str("trace_id").unwrap_or_default().into_owned();
        self.keep(Ended { dur_ms, name, timestamp: rec.timestamp().into_owned(), trace_id, status });
    }

    fn merge(&mut self, o: Self) {
        for (k, (d, e)) in o.by_name {
            let entry = self.by_name.entry(k).or_default();
            entry.0.merge(d);
            entry.1 += e;
        }
        for Reverse(ByDur(e)) in o.top {
            self.keep(e);
        }
        self.bad.merge(o.bad);
    }
}

/// Per span name: `(name, count, errors, p50, p95, p99, max)`.
pub type Row = (String, u64, u64, f64, f64, f64, f64);

impl Slow {
    /// The slowest spans, slowest first.
    pub fn slowest(&self) -> Vec<Ended> {
        let mut v: Vec<ByDur> = self.top.iter().map(|r| r.0.clone()).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter().map(|b| b.0).collect()
    }

    /// Per span name, slowest p99 first.
    pub fn rows(&mut self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .by_name
            .iter_mut()
            .map(|(name, (d, e))| {
                let [p50, p95, p99, max] = d.summary();
                (name.clone(), d.count(), *e, p50, p95, p99, max)
            })
            .collect();
        rows.sort_by(|a, b| b.5.total_cmp(&a.5).then_with(|| a.0.cmp(&b.0)));
        rows
    }

    pub fn render(&mut self) -> String {
        let mut out = String::from("slowest spans\n");
        for e in self.slowest() {
            out.push_str(&format!(
                "  {:>12}ms  {}  {}  {}  trace {}\n",
                pretty::millis(e.dur_ms),
                escape::text_of(&e.name),
                escape::text_of(&e.status),
                escape::text_of(&e.timestamp),
                escape::text_of(&e.trace_id)
            ));
        }
        out.push_str(&format!(
            "\n{:<32} {:>8} {:>7} {:>12} {:>12} {:>12} {:>12}\n",
            "span", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
        ));
        for (name, n, e, p50, p95, p99, max) in self.rows() {
            out.push_str(&format!(
                "{:<32} {n:>8} {e:>7} {:>12} {:>12} {:>12} {:>12}\n",
                escape::text_of(&name),
                pretty::millis(p50),
                pretty::millis(p95),
                pretty::millis(p99),
                pretty::millis(max)
            ));
        }
        out
    }

    pub fn json(&mut self) -> String {
        use serde_json::json;
        let slowest: Vec<_> = self
            .slowest()
            .into_iter()
            .map(|e| json!({"span": e.name, "dur_ms": e.dur_ms, "status": e.status, "timestamp": e.timestamp, "trace_id": e.trace_id}))
            .collect();
        let by: Vec<_> = self
            .rows()
            .into_iter()
            .map(|(name, n, e, p50, p95, p99, max)| {
                json!({"span": name, "count": n, "errors": e, "p50": p50, "p95": p95, "p99": p99, "max": max})
            })
            .collect();
        json!({"slowest": slowest, "by_span": by}).to_string() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::{percentile, EXACT_UP_TO, MAX_BUCKETS, RELATIVE_ERROR};

    /// An `END` record of span `name` as logkit writes it (`dur_ms` to the microsecond).
    fn end(name: &str, ms: f64) -> Vec<u8> {
        format!(
            "{{\"timestamp\":\"2026-11-24T07:02:51.000000Z\",\"level\":\"info\",\"event\":\"END\",\"span\":\"{name}\",\"dur_ms\":{ms:.3},\"status\":\"success\",\"target\":\"t\"}}"
        )
        .into_bytes()
    }

    /// Durations from a fixed xorshift64*: log-uniform from 1 µs to 100 s, or two
    /// modes (cache hits around 0.2 ms, misses around 40 ms), with some 0.000 ms spans;
    /// rounded to the microsecond, as logkit writes them.
    fn durations(seed: u64, n: usize, bimodal: bool) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut unit = move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let u = unit();
                let ms = if u < 0.01 {
                    0.0
                } else if bimodal {
                    let base = if unit() < 0.9 { 0.2 } else { 40.0 };
                    base * (1.0 + unit())
                } else {
                    10f64.powf(-3.0 + 8.0 * unit())
                };
                (ms * 1000.0).round() / 1000.0
            })
            .collect()
    }

    fn fold(durs: &[f64]) -> Slow {
        let mut s = Slow::default();
        for (i, &ms) in durs.iter().enumerate() {
            s.line(At { source: 0, offset: i as u64 }, &end("db", ms));
        }
        s
    }

    #[test]
    fn slow_memory_per_span_name_is_bounded_whatever_the_number_of_spans() {
        let bound = MAX_BUCKETS.max(EXACT_UP_TO) * size_of::<u64>();
        for n in [10_000, 100_000] {
            let s = fold(&durations(7, n, false));
            let held = s.by_name["db"].0.heap_bytes();
            assert!(held <= bound, "{held} bytes held for {n} spans of one name; bound {bound}");
        }
    }

    #[test]
    fn slow_percentiles_are_within_the_stated_relative_error_of_the_exact_ones() {
        for (seed, n, bimodal) in
            [(1, EXACT_UP_TO + 1, false), (2, 20_000, false), (3, 20_000, true), (4, 60_000, false)]
        {
            let durs = durations(seed, n, bimodal);
            // Folded in two parts and merged, as two workers do.
            let mut s = fold(&durs[..n / 3]);
            s.merge(fold(&durs[n / 3..]));
            let rows = s.rows();
            let (_, count, errors, p50, p95, p99, max) = rows[0].clone();
            let mut sorted = durs.clone();
            sorted.sort_by(f64::total_cmp);
            assert_eq!((count, errors), (n as u64, 0));
            assert_eq!(max, sorted[n - 1], "max is exact");
            for (got, p) in [(p50, 0.5), (p95, 0.95), (p99, 0.99)] {
                let exact = percentile(&sorted, p);
                let err = (got - exact).abs();
                assert!(err <= RELATIVE_ERROR * exact * (1.0 + 1e-9), "p{p} of {n}: {got} for {exact}");
            }
        }
    }
}
