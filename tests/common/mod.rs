//! Shared test support: running a scenario in a child process (logkit is a process-wide
//! singleton, so each configuration gets a fresh process) and reading `run.log`.
#![allow(dead_code)]

pub mod alloc;

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// Set in a child process to the name of the test it runs.
pub const CHILD_VAR: &str = "LOGKIT_TEST_CHILD";

/// True in the child process started by [`child`] for `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_VAR).as_deref() == Ok(name)
}

/// Every knob logkit reads (`RUST_LOG` too), removed from a child's environment before a
/// test sets its own.
pub const KNOBS: &[&str] = &[
    "LOG_PROFILE",
    "LOG_LEVEL",
    "RUST_LOG",
    "LOG_SAMPLE",
    "LOG_FILE",
    "LOG_ROTATE_MB",
    "LOG_OTLP",
    "LOG_REDACT",
    "LOG_BUFFER",
    "LOG_OVERFLOW",
    "LOG_FSYNC",
    "LOG_CONSOLE",
    "LOG_FILE_MODE",
    "LOG_SPAN_START",
    "TRACEPARENT",
    "NO_COLOR",
];

/// A command that re-runs this test binary, running only the test `name`, in `dir`,
/// with a clean `LOG_*` environment and the console off (set `LOG_CONSOLE` to see it).
pub fn child(name: &str, dir: &Path) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut c = Command::new(exe);
    c.args([name, "--exact", "--nocapture", "--test-threads=1"]).current_dir(dir).env(CHILD_VAR, name);
    for k in KNOBS {
        c.env_remove(k);
    }
    c.env("LOG_CONSOLE", "off");
    c
}

/// Runs a child to completion (takes `Command` or `&mut Command`).
pub fn run<C: std::borrow::BorrowMut<Command>>(mut c: C) -> Output {
    c.borrow_mut().output().expect("spawn child")
}

/// Spawns a child (takes `Command` or `&mut Command`) with its stdout piped and waits
/// until it prints `READY` at the end of a line (after the harness's "test NAME ... ");
/// returns the child and the lines it prints after that. Panics if the child's stdout
/// ends first.
pub fn spawn_until_ready<C: std::borrow::BorrowMut<Command>>(mut c: C) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = c.borrow_mut().stdout(Stdio::piped()).spawn().expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    while !lines.next().expect("the child says READY").expect("read the child's stdout").ends_with("READY") {}
    (child, lines)
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// The record logkit writes first in the file when it starts (tests/start_record.rs):
/// left out by [`read_jsonl`] and [`parse_jsonl`], which give the records a test logged.
pub const START_EVENT: &str = "logkit.start";

/// Parses every line of a JSONL file but the `logkit.start` records; panics naming the
/// line if one is not a JSON object, or if the file does not end with a newline.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_jsonl(&text)
}

/// The text of a JSONL file without its `logkit.start` lines: the lines a test logged.
pub fn log_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    strip_start(&text)
}

/// `text` without its `logkit.start` lines.
pub fn strip_start(text: &str) -> String {
    let needle = format!("\"event\":\"{START_EVENT}\"");
    text.split_inclusive('\n').filter(|l| !l.contains(&needle)).collect()
}

/// Every record of a JSONL file, `logkit.start` included.
pub fn read_jsonl_with_start(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_jsonl_with_start(&text)
}

/// Parses JSONL text, leaving out `logkit.start` records (see [`read_jsonl`]).
pub fn parse_jsonl(text: &str) -> Vec<serde_json::Value> {
    let mut recs = parse_jsonl_with_start(text);
    recs.retain(|r| r["event"] != START_EVENT);
    recs
}

/// Parses JSONL text, every record kept.
pub fn parse_jsonl_with_start(text: &str) -> Vec<serde_json::Value> {
    if text.is_empty() {
        return Vec::new();
    }
    assert!(text.ends_with('\n'), "log does not end with a newline: ...{:?}", &text[text.len().saturating_sub(80)..]);
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {l:?}", i + 1));
            assert!(v.is_object(), "line {} is not an object: {l}", i + 1);
            v
        })
        .collect()
}

/// `run.log` and its rotated backups in `dir`, oldest first (`run.log.5` … `run.log`).
pub fn log_chain(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for i in (1..=64).rev() {
        let p = dir.join(format!("{name}.{i}"));
        if p.exists() {
            files.push(p);
        }
    }
    let p = dir.join(name);
    if p.exists() {
        files.push(p);
    }
    files
}

/// The records with `"event" == event`.
pub fn events<'a>(recs: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    recs.iter().filter(|r| r["event"] == event).collect()
}

/// Asserts a child exited successfully, showing its output otherwise.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "child failed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the test `name` as a child process with `env` (in a fresh directory) and
/// returns the records of its `run.log` (none if it wrote no file).
pub fn records_of(name: &str, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    records_and_stderr_of(name, env).0
}

/// [`records_of`], and what the child printed on stderr.
pub fn records_and_stderr_of(name: &str, env: &[(&str, &str)]) -> (Vec<serde_json::Value>, String) {
    let dir = tempdir();
    let mut c = child(name, dir.path());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(c);
    assert_success(&out);
    let path = dir.path().join("run.log");
    let records = if path.exists() { read_jsonl(&path) } else { Vec::new() };
    (records, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The keys of a JSON line in their written order (`serde_json::Value` sorts them).
pub fn key_order(line: &str) -> Vec<String> {
    struct Keys<'a>(&'a mut Vec<String>);
    impl<'de> serde::de::Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                self.0.push(k);
            }
            Ok(())
        }
    }
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_str(line);
    serde::Deserializer::deserialize_map(&mut de, Keys(&mut keys)).expect("a JSON object");
    keys
}

/// The END records, in order.
pub fn ends(recs: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    events(recs, "END")
}

/// The one END record of the span `name` (panics if there is not exactly one).
pub fn end_of<'a>(recs: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    let found: Vec<&serde_json::Value> = ends(recs).into_iter().filter(|r| r["span"] == name).collect();
    assert_eq!(found.len(), 1, "END records of {name}: {found:?}\nall: {recs:#?}");
    found[0]
}

/// The one record with `"event" == event` (panics if there is not exactly one).
pub fn the<'a>(recs: &'a [serde_json::Value], event: &str) -> &'a serde_json::Value {
    let found = events(recs, event);
    assert_eq!(found.len(), 1, "records {event:?}: {found:?}");
    found[0]
}

/// An error with a `source()`, for the `#[capture]` tests' `Err` outcomes.
#[derive(Debug)]
pub struct ReadError {
    pub source: std::io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("read failed")
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<std::io::Error> for ReadError {
    fn from(source: std::io::Error) -> ReadError {
        ReadError { source }
    }
}

/// `Ok(5)`, or an I/O error "disk gone".
pub fn disk(fail: bool) -> std::io::Result<u32> {
    if fail {
        Err(std::io::Error::other("disk gone"))
    } else {
        Ok(5)
    }
}
