//! `logkit tail`: the console's `dev` rendering of run.log, filters by level and any
//! field, `-f` across rotation, and no field value can forge a line or reach the
//! terminal as a raw escape.
mod common;

use logkit::{debug, error, info, new_context, span, warn};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn smoke() {
    if common::is_child("smoke") {
        info!(n = 1, "hello");
        return;
    }
    let dir = common::tempdir();
    common::write_log("smoke", dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["tail"]));
    assert_eq!(common::normalise(&out), format!("<time> INFO  hello{} n=1 tail\n", " ".repeat(23)));
}

fn scenario() {
    new_context!(user = "u1", region = "eu");
    let s = span!("handle", path = "/a b");
    debug!(items = 3, nested = ?vec![1, 2], "parsed request");
    warn!(target: "app::db", latency_ms = 250.5, "slow query");
    s.fail_with("it broke\nbadly");
    drop(s);
    new_context!(user = "u2");
    error!(code = 402, "payment refused");
    info!("no fields");
}

#[test]
fn tail_prints_exactly_what_the_dev_console_printed() {
    let name = "tail_prints_exactly_what_the_dev_console_printed";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    let child =
        common::write_log(name, dir.path(), &[("LOG_CONSOLE", "stderr"), ("LOG_PROFILE", "dev"), ("NO_COLOR", "1")]);
    let console: String = String::from_utf8(child.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.len() > 13 && l.as_bytes()[2] == b':' && l.as_bytes()[8] == b'.')
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(console.lines().count(), 6, "{console}");
    let out = common::ok(&common::logkit(dir.path(), &["tail"]));
    assert_eq!(out, console);
}

#[test]
fn tail_level_and_where_filter_on_level_and_any_field_including_bound_context() {
    let name = "tail_level_and_where_filter_on_level_and_any_field_including_bound_context";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["tail", "--level", "warn"]));
    let norm = common::normalise(&out);
    assert!(norm.starts_with("<time> WARN  slow query"), "{norm}");
    assert_eq!(norm.lines().count(), 3, "{norm}");
    assert!(norm.contains("ERROR END handle <d>ms error"), "{norm}");
    assert!(norm.contains("ERROR payment refused"), "{norm}");

    let out = common::ok(&common::logkit(dir.path(), &["tail", "--where", "user=u2"]));
    let norm = common::normalise(&out);
    assert_eq!(
        norm,
        format!(
            "<time> ERROR payment refused{}user=u2 code=402 trace=<trace1> tail\n\
             <time> INFO  no fields{}user=u2 trace=<trace1> tail\n",
            " ".repeat(14),
            " ".repeat(20)
        )
    );
    let out = common::ok(&common::logkit(dir.path(), &["tail", "--where", "region=eu", "--where=items=3", "--json"]));
    let recs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(recs.len(), 1, "{out}");
    assert_eq!(recs[0]["event"], "parsed request");

    let bad = common::logkit(dir.path(), &["tail", "--level", "loud"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(common::stderr(&bad).starts_with("logkit: unknown level \"loud\" for --level"));
    let bad = common::logkit(dir.path(), &["tail", "--where", "novalue"]);
    assert_eq!(common::stderr(&bad), "logkit: --where needs key=value, not \"novalue\"\n");
}

/// A small deterministic generator (xorshift64*), so the property test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A string mixing the characters that break or drive terminals with plain text.
    fn hostile(&mut self) -> String {
        const PICK: &[char] = &[
            '\n', '\r', '\t', '\u{1b}', '\u{7}', '\u{8}', '\0', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}', '\u{2029}',
            '\u{202e}', '\u{2066}', '\u{200f}', '\u{061c}', '"', '\\', '=', ' ', '[', 'm', '3', '1', 'é', '🦀', 'a',
        ];
        let n = (self.next() % 24) as usize;
        (0..n).map(|_| PICK[(self.next() % PICK.len() as u64) as usize]).collect()
    }
}

fn assert_inert(line: &str) {
    for c in line.chars() {
        assert!(!c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}') && !logkit_bidi(c), "raw {c:?} in {line:?}");
    }
}

fn logkit_bidi(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn no_field_value_makes_tail_print_a_forged_line_or_a_raw_escape_byte() {
    let dir = common::tempdir();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut log = String::new();
    let n = 500;
    for i in 0..n {
        let mut m = serde_json::Map::new();
        m.insert("timestamp".into(), "2026-11-24T07:02:51.123456Z".into());
        m.insert("level".into(), ["error", "warning", "info", "debug", "trace"][i % 5].into());
        m.insert("event".into(), if i % 7 == 0 { "END".into() } else { rng.hostile().into() });
        m.insert("trace_id".into(), rng.hostile().into());
        m.insert("span".into(), rng.hostile().into());
        m.insert("dur_ms".into(), 1.5.into());
        m.insert("status".into(), rng.hostile().into());
        m.insert(rng.hostile(), rng.hostile().into());
        m.insert("nested".into(), serde_json::json!({ rng.hostile(): [rng.hostile()] }));
        m.insert("target".into(), rng.hostile().into());
        log.push_str(&serde_json::Value::Object(m).to_string());
        log.push('\n');
    }
    std::fs::write(common::run_log(dir.path()), &log).unwrap();
    let out = common::ok(&common::logkit(dir.path(), &["tail"]));
    assert_eq!(out.matches('\n').count(), n, "one output line per record");
    for line in out.lines() {
        assert_inert(line);
        assert!(line.starts_with("07:02:51.123 "), "{line:?}");
    }
}

#[test]
fn no_field_value_reaches_the_terminal_raw_from_errors_trace_slow_or_stats() {
    let dir = common::tempdir();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut log = String::new();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for i in 0..300 {
        let mut m = serde_json::Map::new();
        m.insert("timestamp".into(), format!("2026-11-24T07:02:51.{i:06}Z").into());
        m.insert("level".into(), ["error", "warning", "info"][i % 3].into());
        m.insert("event".into(), if i % 2 == 0 { "END".into() } else { rng.hostile().into() });
        // Most records in one trace with well-formed ids, so `trace` renders their fields.
        m.insert("trace_id".into(), if i % 5 == 0 { rng.hostile().into() } else { trace.into() });
        m.insert("span_id".into(), format!("{:016x}", i / 2 + 1).into());
        if i % 4 == 2 {
            m.insert("parent_span_id".into(), format!("{:016x}", i / 4 + 1).into());
        }
        m.insert(rng.hostile(), rng.hostile().into());
        m.insert("span".into(), rng.hostile().into());
        m.insert("dur_ms".into(), (1.5 * i as f64).into());
        m.insert("status".into(), if i % 3 == 0 { "error".into() } else { rng.hostile().into() });
        m.insert(
            "exc_info".into(),
            serde_json::json!({
                "type": rng.hostile(), "message": rng.hostile(), "chain": [rng.hostile(), rng.hostile()],
                "location": rng.hostile(), "thread": rng.hostile(),
                "backtrace": format!("   0: {}\n             at {}\n", rng.hostile(), rng.hostile()),
            }),
        );
        m.insert("nested".into(), serde_json::json!({ rng.hostile(): [rng.hostile()] }));
        m.insert("target".into(), rng.hostile().into());
        log.push_str(&serde_json::Value::Object(m).to_string());
        log.push('\n');
    }
    std::fs::write(common::run_log(dir.path()), &log).unwrap();
    for cmd in [&["errors"][..], &["trace", "4bf92f35"], &["trace", "4bf92f35", "--waterfall"], &["slow"], &["stats"]] {
        let out = common::ok(&common::logkit(dir.path(), cmd));
        assert!(out.lines().count() > 3, "logkit {cmd:?}: {out}");
        for line in out.lines() {
            assert_inert(line);
        }
    }
}

/// Kills the child when dropped, so a failing test leaves no `tail -f` running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `logkit`'s stdout lines on a thread, so the test can wait for each line.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    lines_from(child.stdout.take().unwrap())
}

/// Reads the lines of `r` on a thread.
fn lines_from(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines() {
            if tx.send(l.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    rx
}

/// A generous bound on waiting for a line that must come: the test fails instead of
/// hanging if `-f` misses it. Not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn line(ts: &str, event: &str) -> String {
    format!("{{\"timestamp\":\"2026-11-24T07:02:{ts}Z\",\"level\":\"info\",\"event\":\"{event}\",\"target\":\"t\"}}\n")
}

#[test]
fn tail_follow_prints_new_lines_and_follows_the_file_across_rotation() {
    let dir = common::tempdir();
    let log = common::run_log(dir.path());
    std::fs::write(&log, line("51.000000", "old")).unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_logkit"))
            .args(["tail", "-f", "run.log"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rx = lines_of(&mut child.0);
    let next = || rx.recv_timeout(PATIENCE).expect("a line from tail -f");
    assert_eq!(next(), "07:02:51.000 INFO  old t");
    let append = |text: &str| {
        let mut f = std::fs::OpenOptions::new().append(true).create(true).open(&log).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append(&line("52.000000", "appended"));
    assert_eq!(next(), "07:02:52.000 INFO  appended t");
    // Rotation: the last lines of the old file, then the new file from its start.
    append(&line("53.000000", "last before rotation"));
    std::fs::rename(&log, dir.path().join("run.log.1")).unwrap();
    append(&line("54.000000", "first after rotation"));
    assert_eq!(next(), "07:02:53.000 INFO  last before rotation t");
    assert_eq!(next(), "07:02:54.000 INFO  first after rotation t");
    drop(child);
}

#[test]
fn tail_follow_counts_bad_lines_while_following_and_reports_them_on_stderr() {
    let dir = common::tempdir();
    let log = common::run_log(dir.path());
    std::fs::write(&log, format!("{}not json\n", line("51.000000", "first"))).unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_logkit"))
            .args(["tail", "-f", "run.log"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = lines_of(&mut child.0);
    let err = lines_from(child.0.stderr.take().unwrap());
    let next = || out.recv_timeout(PATIENCE).expect("a line from tail -f");
    // The running count is reported each time the follower catches up with more bad
    // lines than it last said; wait for the one that counts them all.
    let report_of = |total: u64, want: &str| loop {
        let l = err.recv_timeout(PATIENCE).expect("a report on stderr from tail -f");
        let (n, _) = l
            .strip_prefix("logkit: skipped ")
            .and_then(|r| r.split_once(" bad lines so far ("))
            .unwrap_or_else(|| panic!("not a bad-line report: {l:?}"));
        let n: u64 = n.parse().unwrap();
        assert!(n <= total, "{l:?}");
        if n == total {
            assert_eq!(l, want);
            break;
        }
    };
    assert_eq!(next(), "07:02:51.000 INFO  first t");
    report_of(1, "logkit: skipped 1 bad lines so far (run.log: 1 not JSON, 0 not logkit records)");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut more = b"{\"msg\":\"json, not a record\"}\n\xff\x1b[31m\n".to_vec();
    more.extend_from_slice(line("52.000000", "second").as_bytes());
    f.write_all(&more).unwrap();
    assert_eq!(next(), "07:02:52.000 INFO  second t", "bad lines are not fatal");
    report_of(3, "logkit: skipped 3 bad lines so far (run.log: 2 not JSON, 1 not logkit records)");
    drop(child);
}

#[test]
fn tail_puts_several_processes_batches_back_in_time_order() {
    let dir = common::tempdir();
    // Two processes' batches as they land in one file: each batch in time order, the
    // second process's batch overlapping the first's in time.
    let log = [
        line("51.000001", "a1"),
        line("51.000003", "a2"),
        line("51.000005", "a3"),
        line("51.000002", "b1"),
        line("51.000004", "b2"),
        line("51.000006", "b3"),
        line("51.000007", "a5"),
        line("51.000006", "a4, at the time of b3"),
    ]
    .concat();
    std::fs::write(common::run_log(dir.path()), &log).unwrap();
    let out = common::ok(&common::logkit(dir.path(), &["tail", "--json"]));
    let events: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["a1", "b1", "a2", "b2", "a3", "b3", "a4, at the time of b3", "a5"]);
    let mut want: Vec<&str> = log.lines().collect();
    want.sort_by_key(|l| l[14..41].to_owned());
    assert_eq!(out.lines().collect::<Vec<_>>(), want, "the lines themselves, unchanged");
}
