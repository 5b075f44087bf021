//! Shared test support: run.log files written by the real engine in a child process
//! (logkit is a process-wide singleton, so each scenario gets a fresh process), the
//! `logkit` binary run on them, and output normalised where it must vary (times,
//! ids, durations) so that the rest is compared exactly.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Set in a child process to the name of the test whose scenario it runs.
pub const CHILD_VAR: &str = "LOGKIT_CLI_TEST_CHILD";

/// The engine's knobs, removed from a child's environment.
const KNOBS: &[&str] = &[
    "LOG_PROFILE",
    "LOG_LEVEL",
    "LOG_SAMPLE",
    "LOG_FILE",
    "LOG_ROTATE_MB",
    "LOG_OTLP",
    "LOG_REDACT",
    "LOG_BUFFER",
    "LOG_OVERFLOW",
    "LOG_FSYNC",
    "LOG_CONSOLE",
    "LOG_SPAN_START",
    "TRACEPARENT",
    "NO_COLOR",
];

/// True in the child process started by [`write_log`] for `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_VAR).as_deref() == Ok(name)
}

/// Runs test `name` of this binary as a child in `dir` (where it writes `run.log`),
/// with `env` set; returns its output. Panics if the child failed.
pub fn write_log(name: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    let mut c = Command::new(exe);
    c.args([name, "--exact", "--nocapture", "--test-threads=1"]).current_dir(dir).env(CHILD_VAR, name);
    for k in KNOBS {
        c.env_remove(k);
    }
    c.env("LOG_CONSOLE", "off").env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("spawn child");
    assert!(out.status.success(), "child {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// `logkit ARGS` in `dir`.
pub fn logkit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logkit"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("run logkit")
}

/// stdout of a `logkit` run that must succeed (exit 0).
pub fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The lines of a JSONL file, parsed.
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

pub fn run_log(dir: &Path) -> PathBuf {
    dir.join("run.log")
}

/// `text` with what varies from run to run replaced: RFC 3339 timestamps by `<ts>`,
/// times of day by `<time>`, durations `N.NNNms` by `<d>ms`, and each distinct run of
/// 16 or 32 hex digits (span and trace ids, and their 8-digit prefixes after `trace=`)
/// by `<span1>`, `<trace1>`, ... in order of first appearance.
pub fn normalise(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut ids: Vec<(String, String)> = Vec::new();
    let (mut spans, mut traces) = (0, 0);
    let mut i = 0;
    let digit = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
    let hex = |j: usize| b.get(j).is_some_and(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
    while i < b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        // 2026-11-24T07:02:51.123456Z
        if boundary && b.len() >= i + 27 && b[i + 10] == b'T' && b[i + 26] == b'Z' && (0..4).all(|k| digit(i + k)) {
            out.push_str("<ts>");
            i += 27;
            continue;
        }
        // 07:02:51.123
        if boundary
            && b.len() >= i + 12
            && b[i + 2] == b':'
            && b[i + 5] == b':'
            && b[i + 8] == b'.'
            && [0, 1, 3, 4, 6, 7, 9, 10, 11].iter().all(|&k| digit(i + k))
            && !digit(i + 12)
        {
            out.push_str("<time>");
            i += 12;
            continue;
        }
        if boundary && digit(i) {
            let mut j = i;
            while digit(j) {
                j += 1;
            }
            if b.get(j) == Some(&b'.') && (1..=3).all(|k| digit(j + k)) && text[j + 4..].starts_with("ms") {
                out.push_str("<d>");
                i = j + 4;
                continue;
            }
        }
        if boundary && hex(i) {
            let mut j = i;
            while hex(j) {
                j += 1;
            }
            let n = j - i;
            let end_ok = j >= b.len() || !b[j].is_ascii_alphanumeric();
            if end_ok && (n == 16 || n == 32 || (n == 8 && text[..i].ends_with("trace="))) {
                let id = &text[i..j];
                let known = ids.iter().find(|(full, _)| full.starts_with(id));
                let name = match known {
                    Some((_, name)) => name.clone(),
                    None => {
                        let name = if n == 16 {
                            spans += 1;
                            format!("<span{spans}>")
                        } else {
                            traces += 1;
                            format!("<trace{traces}>")
                        };
                        ids.push((id.to_owned(), name.clone()));
                        name
                    }
                };
                out.push_str(&name);
                i = j;
                continue;
            }
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The error type of the fixtures: a message and an optional cause.
#[derive(Debug)]
pub struct AppError {
    pub msg: &'static str,
    pub cause: Option<Box<AppError>>,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.msg)
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.as_deref().map(|e| e as _)
    }
}
