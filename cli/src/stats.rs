//! `logkit stats`: records per level and per target, the error rate, spans per status,
//! `logkit.dropped` / `logkit.lost` totals, the time range, the runs (one per
//! `logkit.start` record: a process starting logkit) and the bad lines.
//!
//! Counting runs on the raw bytes: a logkit line's timestamp and level sit at fixed
//! offsets and its target is the last key, so a line in that shape is counted without
//! parsing; only other lines (and the engine's own drop and loss reports) are parsed.

use crate::input::{At, BadLines, Fold};
use crate::record::{Frame, Level, Record};
use memchr::memmem;
use std::collections::HashMap;

#[derive(Default)]
pub struct Stats {
    pub records: u64,
    /// Per [`Level`], most severe first.
    pub levels: [u64; 5],
    pub targets: HashMap<Box<[u8]>, u64>,
    pub spans_success: u64,
    pub spans_error: u64,
    pub spans_other: u64,
    pub dropped: u64,
    pub lost: u64,
    pub first: Option<Box<[u8]>>,
    pub last: Option<Box<[u8]>>,
    /// One per `logkit.start` record: when the run started, and its pid.
    pub runs: Vec<(String, u64)>,
    pub bad: BadLines,
}

const STATUS_KEY: &[u8] = b"\"status\":\"";

impl Stats {
    #[inline]
    fn count(&mut self, ts: &[u8], level: Level, target: &[u8]) {
        self.records += 1;
        self.levels[level as usize] += 1;
        match self.targets.get_mut(target) {
            Some(n) => *n += 1,
            None => {
                self.targets.insert(target.into(), 1);
            }
        }
        if self.first.as_deref().is_none_or(|f| ts < f) {
            self.first = Some(ts.into());
        }
        if self.last.as_deref().is_none_or(|l| ts > l) {
            self.last = Some(ts.into());
        }
    }

    #[inline]
    fn span(&mut self, status: &[u8]) {
        match status {
            b"success" => self.spans_success += 1,
            b"error" => self.spans_error += 1,
            _ => self.spans_other += 1,
        }
    }

    fn parsed(&mut self, at: At, line: &[u8]) {
        let rec = match Record::parse(line) {
            Ok(r) => r,
            Err(b) => return self.bad.add(at.source, b),
        };
        let Some(level) = rec.level() else { return };
        self.count(rec.timestamp().as_bytes(), level, rec.target().as_bytes());
        if rec.is_end() {
            self.span(rec.str("status").unwrap_or_default().as_bytes());
        }
        let n = |k: &str| rec.f64(k).filter(|n| *n >= 0.0).map_or(0, |n| n as u64);
        match rec.event().as_ref() {
            "logkit.dropped" => self.dropped += n("dropped"),
            "logkit.lost" => self.lost += n("lost"),
            _ => {}
        }
    }
}

impl Fold for Stats {
    #[inline]
    fn line(&mut self, at: At, line: &[u8]) {
        let fast = match Frame::read(line) {
            Some(f) if f.target.is_some() && !f.event_tail.starts_with(b"logkit.") => Some(f),
            _ => None,
        };
        let Some(f) = fast.filter(|_| std::str::from_utf8(line).is_ok()) else {
            return self.parsed(at, line);
        };
        self.count(f.timestamp, f.level, f.target.unwrap_or_default());
        if f.event_is(b"END") {
            // The span's own status is its last `status` key (bound context comes first).
            let status = memmem::rfind(line, STATUS_KEY)
                .map(|i| &line[i + STATUS_KEY.len()..])
                .and_then(|rest| memchr::memchr(b'"', rest).map(|q| &rest[..q]));
            self.span(status.unwrap_or_default());
        }
    }

    fn merge(&mut self, o: Self) {
        self.records += o.records;
        for (a, b) in self.levels.iter_mut().zip(o.levels) {
            *a += b;
        }
        for (t, n) in o.targets {
            *self.targets.entry(t).or_default() += n;
        }
        self.spans_success += o.spans_success;
        self.spans_error += o.spans_error;
        self.spans_other += o.spans_other;
        self.dropped += o.dropped;
        self.lost += o.lost;
        if let Some(f) = o.first {
            if self.first.as_ref().is_none_or(|s| f < *s) {
                self.first = Some(f);
            }
        }
        if let Some(l) = o.last {
            if self.last.as_ref().is_none_or(|s| l > *s) {
                self.last = Some(l);
            }
        }
        self.runs.extend(o.runs);
        self.bad.merge(o.bad);
    }

    fn start(&mut self, _at: At, line: &[u8]) {
        // One line per process start: parsed whole.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
            let started = v["timestamp"].as_str().unwrap_or_default().to_owned();
            self.runs.push((started, v["pid"].as_u64().unwrap_or(0)));
        }
    }
}

impl Stats {
    /// Error records per record, in percent.
    pub fn error_rate(&self) -> f64 {
        if self.records == 0 {
            0.0
        } else {
            self.levels[Level::Error as usize] as f64 * 100.0 / self.records as f64
        }
    }

    /// Targets, most records first (then by name).
    fn targets_sorted(&self) -> Vec<(String, u64)> {
        let mut t: Vec<_> = self.targets.iter().map(|(k, n)| (String::from_utf8_lossy(k).into_owned(), *n)).collect();
        t.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        t
    }

    /// The runs in the order they started.
    fn runs_sorted(&self) -> Vec<(String, u64)> {
        let mut r = self.runs.clone();
        r.sort();
        r
    }

    fn ts(v: &Option<Box<[u8]>>) -> String {
        v.as_deref().map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default()
    }

    /// The report for a person.
    pub fn render(&self) -> String {
        use crate::escape::text_of;
        let mut out = String::new();
        let (not_json, not_logkit) = self.bad.kinds();
        out.push_str(&format!("records     {}\n", self.records));
        if self.records > 0 {
            out.push_str(&format!(
                "time range  {} .. {}\n",
                text_of(&Self::ts(&self.first)),
                text_of(&Self::ts(&self.last))
            ));
        }
        let runs = self.runs_sorted();
        if runs.len() > 1 {
            let pids: Vec<String> = runs.iter().map(|(_, pid)| pid.to_string()).collect();
            out.push_str(&format!("runs        {} (pids {})\n", runs.len(), pids.join(" ")));
        } else {
            out.push_str(&format!("runs        {}\n", runs.len()));
        }
        let levels: Vec<String> =
            Level::ALL.iter().map(|l| format!("{} {}", l.name(), self.levels[*l as usize])).collect();
        out.push_str(&format!("levels      {}\n", levels.join("  ")));
        out.push_str(&format!("error rate  {:.2} %\n", self.error_rate()));
        out.push_str(&format!(
            "spans       {} (success {}  error {}{})\n",
            self.spans_success + self.spans_error + self.spans_other,
            self.spans_success,
            self.spans_error,
            if self.spans_other > 0 { format!("  other {}", self.spans_other) } else { String::new() }
        ));
        out.push_str(&format!("dropped     {}\n", self.dropped));
        out.push_str(&format!("lost        {}\n", self.lost));
        out.push_str(&format!(
            "bad lines   {} (not JSON {not_json}, not logkit records {not_logkit})\n",
            not_json + not_logkit
        ));
        out.push_str("targets\n");
        for (t, n) in self.targets_sorted() {
            out.push_str(&format!("  {n:>10}  {}\n", text_of(&t)));
        }
        out
    }

    /// The report as one JSON object.
    pub fn json(&self) -> String {
        use serde_json::{json, Map, Value};
        let levels: Map<String, Value> =
            Level::ALL.iter().map(|l| (l.name().to_owned(), self.levels[*l as usize].into())).collect();
        let targets: Map<String, Value> = self.targets_sorted().into_iter().map(|(t, n)| (t, n.into())).collect();
        let (not_json, not_logkit) = self.bad.kinds();
        let ts = |v: &Option<Box<[u8]>>| if v.is_some() { Value::from(Self::ts(v)) } else { Value::Null };
        json!({
            "records": self.records,
            "first": ts(&self.first),
            "last": ts(&self.last),
            "runs": self.runs_sorted().into_iter().map(|(started, pid)| json!({"started": started, "pid": pid})).collect::<Vec<_>>(),
            "levels": levels,
            "error_rate": self.error_rate(),
            "spans": {"success": self.spans_success, "error": self.spans_error, "other": self.spans_other},
            "dropped": self.dropped,
            "lost": self.lost,
            "bad_lines": {"not_json": not_json, "not_logkit": not_logkit},
            "targets": targets,
        })
        .to_string()
            + "\n"
    }
}
