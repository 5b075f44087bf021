//! What `logkit` does on a terminal: colour (never with `NO_COLOR`), and a progress
//! line on stderr for a read that takes longer than a second. The terminal is a real
//! pseudo-terminal from util-linux's `script`.
mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const ESC: char = '\u{1b}';

/// `sh -c CMD` in `dir` on a pseudo-terminal (stdin, stdout and stderr), with `env`;
/// returns what the terminal showed.
fn on_terminal(dir: &Path, cmd: &str, env: &[(&str, &str)]) -> String {
    let mut c = Command::new("script");
    c.args(["-q", "-e", "-c", cmd, "/dev/null"]).current_dir(dir).stdin(Stdio::null()).env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out: Output = c.output().expect("util-linux's script (package bsdutils)");
    assert!(out.status.success(), "{cmd}: {}", common::stderr(&out));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn logkit_path() -> &'static str {
    env!("CARGO_BIN_EXE_logkit")
}

fn log(dir: &Path) {
    let line = |ev: &str, level: &str, extra: &str| {
        format!(
            "{{\"timestamp\":\"2026-11-24T07:02:51.123456Z\",\"level\":\"{level}\",\"event\":\"{ev}\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\"{extra},\"target\":\"t\"}}\n"
        )
    };
    let text =
        line("boom", "error", "") + &line("END", "error", ",\"span\":\"handle\",\"dur_ms\":2.5,\"status\":\"error\"");
    std::fs::write(dir.join("run.log"), text).unwrap();
}

#[test]
fn colour_only_on_a_terminal_and_never_when_no_color_is_set() {
    let dir = common::tempdir();
    log(dir.path());
    let bin = logkit_path();
    for cmd in ["tail", "errors", "trace 4bf9", "trace 4bf9 --waterfall"] {
        let full = format!("{bin} {cmd}");
        let coloured = on_terminal(dir.path(), &full, &[]);
        assert!(coloured.contains(ESC), "{cmd} on a terminal: {coloured:?}");
        // An empty NO_COLOR counts as unset (no-color.org).
        assert!(on_terminal(dir.path(), &full, &[("NO_COLOR", "")]).contains(ESC), "{cmd} with NO_COLOR=''");
        let plain = on_terminal(dir.path(), &full, &[("NO_COLOR", "1")]);
        assert!(!plain.contains(ESC) && plain.contains("handle"), "{cmd} with NO_COLOR=1: {plain:?}");
        let args: Vec<&str> = cmd.split(' ').collect();
        let piped = common::ok(&common::logkit(dir.path(), &args));
        assert!(!piped.contains(ESC) && piped.contains("handle"), "{cmd} into a pipe: {piped:?}");
    }
}

/// More than a second between the first bytes and the rest of the input.
const SLOW_INPUT: &str = "(head -c 1000 run.log; sleep 1.5; tail -c +1001 run.log)";

fn big_log(dir: &Path) {
    let line =
        "{\"timestamp\":\"2026-11-24T07:02:51.123456Z\",\"level\":\"info\",\"event\":\"tick\",\"target\":\"t\"}\n";
    std::fs::write(dir.join("run.log"), line.repeat(200)).unwrap();
}

#[test]
fn a_read_longer_than_a_second_shows_progress_on_a_terminal_and_clears_it() {
    let dir = common::tempdir();
    big_log(dir.path());
    let shown = on_terminal(dir.path(), &format!("{SLOW_INPUT} | {} stats -", logkit_path()), &[]);
    let progress = shown.find("\rlogkit: read ").unwrap_or_else(|| panic!("no progress line: {shown:?}"));
    let cleared = shown.find("\r\u{1b}[K").unwrap_or_else(|| panic!("progress not cleared: {shown:?}"));
    let stats = shown.find("records     200").unwrap_or_else(|| panic!("no stats: {shown:?}"));
    assert!(progress < cleared && cleared < stats, "progress, cleared, then the output: {shown:?}");
}

#[test]
fn a_slow_read_shows_no_progress_when_stderr_is_not_a_terminal() {
    let dir = common::tempdir();
    big_log(dir.path());
    let mut child = Command::new(logkit_path())
        .args(["stats", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read(dir.path().join("run.log")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&text[..1000]).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stdin.write_all(&text[1000..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(common::ok(&out).starts_with("records     200\n"));
    assert_eq!(common::stderr(&out), "");
}
