//! `logkit slow`: the slowest spans, and per span name the count, the failures and the
//! p50, p95, p99 and max of `dur_ms` (nearest-rank percentiles over every span).
//!
//! Only `END` records are parsed: the event sits at a fixed offset of a logkit line.

use crate::escape;
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
    by_name: HashMap<String, (Vec<f64>, u64)>,
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
        entry.0.push(dur_ms);
        if status == "error" {
            entry.1 += 1;
        }
        let trace_id = rec.str("trace_id").unwrap_or_default().into_owned();
        self.keep(Ended { dur_ms, name, timestamp: rec.timestamp().into_owned(), trace_id, status });
    }

    fn merge(&mut self, o: Self) {
        for (k, (d, e)) in o.by_name {
            let entry = self.by_name.entry(k).or_default();
            entry.0.extend(d);
            entry.1 += e;
        }
        for Reverse(ByDur(e)) in o.top {
            self.keep(e);
        }
        self.bad.merge(o.bad);
    }
}

/// Per span name: `(name, count, errors, p50, p95, p99, max)`.
pub type Row = (String, usize, u64, f64, f64, f64, f64);

/// The nearest-rank percentile `p` (0..=1) of sorted `v`.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = (p * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

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
                d.sort_by(f64::total_cmp);
                let max = d.last().copied().unwrap_or(f64::NAN);
                (name.clone(), d.len(), *e, percentile(d, 0.5), percentile(d, 0.95), percentile(d, 0.99), max)
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

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((percentile(&v, 0.5), percentile(&v, 0.95), percentile(&v, 0.99)), (50.0, 95.0, 99.0));
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
