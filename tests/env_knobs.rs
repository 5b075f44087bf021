//! The `LOG_*` environment knobs: every knob with a good and a bad value, on the
//! `init()` path (an error naming the variable) and on the lazy path (one line on
//! stderr, then the default), and `Config` overrides.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as J;

/// Names the knob a child is about to check (the child reads it back).
const UNDER_TEST: &str = "LOGKIT_TEST_KNOB";

/// One bad value per knob that `init()` validates (and a few extra forms).
const BAD: &[(&str, &str)] = &[
    ("LOG_PROFILE", "staging"),
    ("LOG_LEVEL", "verbose"),
    ("LOG_LEVEL", "info,hyper=loud"),
    ("LOG_SAMPLE", "lots"),
    ("LOG_SAMPLE", "1.5"),
    ("LOG_SAMPLE", "-0.1"),
    ("LOG_ROTATE_MB", "ten"),
    ("LOG_ROTATE_MB", "-1"),
    ("LOG_BUFFER", "0"),
    ("LOG_BUFFER", "many"),
    ("LOG_OVERFLOW", "discard"),
    ("LOG_FSYNC", "sometimes"),
    ("LOG_CONSOLE", "both"),
    ("LOG_FILE_MODE", "rw-r--r--"),
    ("LOG_FILE_MODE", "999"),
];

/// One or more good values per knob; the file the records go to.
const GOOD: &[(&str, &str)] = &[
    ("LOG_PROFILE", "prod"),
    ("LOG_PROFILE", "dev"),
    ("LOG_LEVEL", "warn"),
    ("LOG_LEVEL", "info,hyper=warn,app::db=debug"),
    ("LOG_SAMPLE", "0.5"),
    ("LOG_SAMPLE", "0"),
    ("LOG_FILE", "other.log"),
    ("LOG_ROTATE_MB", "0.5"),
    ("LOG_ROTATE_MB", "0"),
    ("LOG_REDACT", "card,cvv"),
    ("LOG_BUFFER", "1024"),
    ("LOG_OVERFLOW", "drop"),
    ("LOG_OVERFLOW", "block"),
    ("LOG_FSYNC", "always"),
    ("LOG_FSYNC", "never"),
    ("LOG_FSYNC", "250"),
    ("LOG_CONSOLE", "stdout"),
    ("LOG_CONSOLE", "off"),
    ("LOG_FILE_MODE", "640"),
];

fn child_with(name: &str, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = common::child(name, dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The child's own stdout, without the lines the test harness prints around it
/// (`running 1 test`, `test <name> ... `, `ok`, `test result: ...`).
fn app_stdout(out: &Output, name: &str) -> Vec<String> {
    let text = stdout_of(out).replacen(&format!("test {name} ... "), "", 1);
    text.lines()
        .filter(|l| !l.is_empty() && *l != "running 1 test" && *l != "ok" && !l.starts_with("test result: "))
        .map(str::to_owned)
        .collect()
}

fn non_empty_lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn events(recs: &[J]) -> Vec<String> {
    recs.iter().map(|r| r["event"].as_str().unwrap_or_default().to_owned()).collect()
}

#[cfg(unix)]
fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display())).permissions().mode() & 0o777
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _guard = logkit::init().expect("init with a clean environment");
        logkit::info!(n = 1, "hello");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["event"], "hello");
    assert_eq!(recs[0]["level"], "info");
    assert_eq!(recs[0]["n"], 1);
}

#[test]
fn init_rejects_every_bad_knob_naming_the_variable_and_the_value() {
    const NAME: &str = "init_rejects_every_bad_knob_naming_the_variable_and_the_value";
    if common::is_child(NAME) {
        let var = std::env::var(UNDER_TEST).expect("knob under test");
        let value = std::env::var(&var).expect("bad value");
        let e = match logkit::init() {
            Ok(_) => panic!("init() accepted {var}={value:?}"),
            Err(e) => e,
        };
        assert_eq!(e.kind(), logkit::ConfigErrorKind::Invalid, "{e}");
        assert_eq!(e.var(), var, "{e}");
        assert_eq!(e.value(), value, "{e}");
        let shown = e.to_string();
        assert!(shown.contains(&var), "Display does not name {var}: {shown}");
        assert!(shown.contains(&value), "Display does not show the value {value:?}: {shown}");
        assert!(!shown.contains('\n'), "Display is not one line: {shown:?}");
        // `Config::from_env()` reports the same.
        let e2 = logkit::Config::from_env().expect_err("from_env accepted a bad knob");
        assert_eq!((e2.var(), e2.value()), (var.as_str(), value.as_str()));
        return;
    }
    for (var, bad) in BAD {
        let dir = common::tempdir();
        let out = common::run(child_with(NAME, dir.path(), &[(var, bad), (UNDER_TEST, var)]));
        assert!(out.status.success(), "{var}={bad:?}: {}{}", stdout_of(&out), stderr_of(&out));
        assert!(!dir.path().join("run.log").exists(), "{var}={bad:?}: a failed init created run.log");
    }
}

#[test]
fn init_accepts_every_good_knob_and_logs() {
    const NAME: &str = "init_accepts_every_good_knob_and_logs";
    if common::is_child(NAME) {
        let var = std::env::var(UNDER_TEST).expect("knob under test");
        let guard = logkit::init().unwrap_or_else(|e| panic!("init() rejected a good {var}: {e}"));
        logkit::warn!(knob = var.as_str(), "alive");
        drop(guard);
        return;
    }
    for (var, good) in GOOD {
        let dir = common::tempdir();
        let out = common::run(child_with(NAME, dir.path(), &[(var, good), (UNDER_TEST, var)]));
        assert!(out.status.success(), "{var}={good:?}: {}{}", stdout_of(&out), stderr_of(&out));
        let file = if *var == "LOG_FILE" { dir.path().join(good) } else { dir.path().join("run.log") };
        let recs = common::read_jsonl(&file);
        assert_eq!(events(&recs), ["alive"], "{var}={good:?}");
        assert_eq!(recs[0]["knob"], *var);
        assert!(!stderr_of(&out).contains("invalid"), "{var}={good:?}: {}", stderr_of(&out));
    }
}

#[test]
fn lazy_start_reports_a_bad_knob_in_one_stderr_line_and_uses_the_default() {
    const NAME: &str = "lazy_start_reports_a_bad_knob_in_one_stderr_line_and_uses_the_default";
    if common::is_child(NAME) {
        // No init: the first log call starts logkit.
        logkit::debug!("first");
        for i in 0..20 {
            logkit::info!(i, "info");
        }
        logkit::warn!("last");
        logkit::flush();
        return;
    }
    for (var, bad) in BAD {
        let dir = common::tempdir();
        let out = common::run(child_with(NAME, dir.path(), &[(var, bad)]));
        common::assert_success(&out);
        let err = stderr_of(&out);
        let naming: Vec<&str> = non_empty_lines(&err).into_iter().filter(|l| l.contains(var)).collect();
        assert_eq!(naming.len(), 1, "{var}={bad:?}: want exactly one stderr line naming it, got:\n{err}");
        assert!(naming[0].contains(bad), "{var}={bad:?}: the line does not show the value: {}", naming[0]);
        if *var != "LOG_CONSOLE" {
            // The console is off, so that line is all there is.
            assert_eq!(non_empty_lines(&err).len(), 1, "{var}={bad:?}: extra stderr output:\n{err}");
        }
        assert!(
            naming[0].contains("; using the default ") || naming[0].contains("; keeping the valid"),
            "{}",
            naming[0]
        );
        // Defaults: dev profile (DEBUG on), everything kept, run.log written; a
        // LOG_LEVEL with a valid part keeps it (here `info`: DEBUG off).
        let kept_info = *bad == "info,hyper=loud";
        let recs = common::read_jsonl(&dir.path().join("run.log"));
        let ev = events(&recs);
        assert_eq!(ev.len(), if kept_info { 21 } else { 22 }, "{var}={bad:?}: {ev:?}");
        assert_eq!(ev[0] == "first", !kept_info, "{var}={bad:?}: {ev:?}");
        assert_eq!(ev.last().map(String::as_str), Some("last"), "{var}={bad:?}");
        assert_eq!(ev.iter().filter(|e| *e == "info").count(), 20, "{var}={bad:?}");
    }
}

#[test]
fn lazy_start_keeps_the_valid_directives_of_a_partly_bad_log_level() {
    const NAME: &str = "lazy_start_keeps_the_valid_directives_of_a_partly_bad_log_level";
    if common::is_child(NAME) {
        logkit::debug!("debug, off at info");
        logkit::info!("info, kept");
        logkit::debug!(target: "spam::db", "spam debug, off at info");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_LEVEL", "info,spam::db=loud")]));
    common::assert_success(&out);
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(events(&recs), ["info, kept"], "the valid `info` must stay, not the dev default debug");
    let err = stderr_of(&out);
    let lines = non_empty_lines(&err);
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("`spam::db=loud`"), "the bad directive is named: {}", lines[0]);
    assert!(lines[0].ends_with("; keeping the valid directives: info"), "the level used is named: {}", lines[0]);
}

#[test]
fn init_reports_every_bad_knob_at_once() {
    const NAME: &str = "init_reports_every_bad_knob_at_once";
    if common::is_child(NAME) {
        let e = logkit::init().expect_err("three bad knobs");
        let all: Vec<&str> = std::iter::once(e.var()).chain(e.others().iter().map(|o| o.var())).collect();
        assert_eq!(all, ["LOG_PROFILE", "LOG_SAMPLE", "LOG_BUFFER"], "{e}");
        let shown = e.to_string();
        assert_eq!(shown.lines().count(), 3, "one line per bad knob:\n{shown}");
        for (line, value) in shown.lines().zip(["staging", "lots", "0"]) {
            assert!(line.starts_with("logkit: invalid ") && line.contains(value), "{line}");
        }
        return;
    }
    let dir = common::tempdir();
    let env = [("LOG_SAMPLE", "lots"), ("LOG_BUFFER", "0"), ("LOG_PROFILE", "staging")];
    let out = common::run(child_with(NAME, dir.path(), &env));
    common::assert_success(&out);
}

#[test]
fn lazy_start_reports_each_of_several_bad_knobs_on_its_own_line() {
    const NAME: &str = "lazy_start_reports_each_of_several_bad_knobs_on_its_own_line";
    if common::is_child(NAME) {
        logkit::info!("logged with the defaults");
        return;
    }
    let dir = common::tempdir();
    let env = [("LOG_SAMPLE", "lots"), ("LOG_FSYNC", "sometimes"), ("LOG_OVERFLOW", "discard")];
    let out = common::run(child_with(NAME, dir.path(), &env));
    common::assert_success(&out);
    let err = stderr_of(&out);
    let lines = non_empty_lines(&err);
    assert_eq!(lines.len(), 3, "{err}");
    for (var, default) in [("LOG_SAMPLE", "1"), ("LOG_FSYNC", "1000"), ("LOG_OVERFLOW", "block")] {
        let line = lines.iter().find(|l| l.contains(var)).unwrap_or_else(|| panic!("no line names {var}:\n{err}"));
        assert!(line.ends_with(&format!("; using the default {default}")), "{line}");
    }
    assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["logged with the defaults"]);
}

/// A `main` (here a test: the same `Termination`) returning `Result<(), ConfigError>`
/// prints `Error: ` and the error's Debug, which reads like its Display.
#[test]
fn main_returning_a_config_error_prints_the_message_not_a_struct() -> Result<(), logkit::ConfigError> {
    const NAME: &str = "main_returning_a_config_error_prints_the_message_not_a_struct";
    if common::is_child(NAME) {
        let _guard = logkit::init()?;
        return Ok(());
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_SAMPLE", "lots")]));
    assert!(!out.status.success(), "init should have failed");
    let err = stderr_of(&out);
    let want = "Error: logkit: invalid LOG_SAMPLE=\"lots\": expected a number from 0 to 1\n";
    assert!(err.contains(want), "want {want:?} in:\n{err}");
    assert!(!err.contains("ConfigError {") && !err.contains("kind:"), "{err}");
    Ok(())
}

#[test]
fn lazy_start_with_a_bad_console_knob_falls_back_to_stderr() {
    const NAME: &str = "lazy_start_with_a_bad_console_knob_falls_back_to_stderr";
    if common::is_child(NAME) {
        logkit::info!("to the default console");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_CONSOLE", "both")]));
    common::assert_success(&out);
    let err = stderr_of(&out);
    assert!(err.contains("to the default console"), "no console line on stderr:\n{err}");
    assert!(!app_stdout(&out, NAME).iter().any(|l| l.contains("to the default console")), "{}", stdout_of(&out));
}

#[test]
fn empty_values_count_as_unset() {
    const NAME: &str = "empty_values_count_as_unset";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("empty knobs are unset, not invalid");
        logkit::debug!("debug is on in dev");
        for i in 0..200 {
            logkit::info!(i, "kept");
        }
        logkit::info!(password = "hunter2", "masked by default");
        return;
    }
    let dir = common::tempdir();
    let empties: Vec<(&str, &str)> = [
        "LOG_PROFILE",
        "LOG_LEVEL",
        "LOG_SAMPLE",
        "LOG_ROTATE_MB",
        "LOG_BUFFER",
        "LOG_OVERFLOW",
        "LOG_FSYNC",
        "LOG_CONSOLE",
        "LOG_FILE_MODE",
    ]
    .iter()
    .map(|k| (*k, ""))
    .collect();
    let out = common::run(child_with(NAME, dir.path(), &empties));
    common::assert_success(&out);
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    let ev = events(&recs);
    assert_eq!(ev[0], "debug is on in dev");
    assert_eq!(ev.iter().filter(|e| *e == "kept").count(), 200, "LOG_SAMPLE= must keep everything");
    let masked = &recs[recs.len() - 1];
    assert_eq!(masked["password"], "***");
    // LOG_CONSOLE= is the default: stderr.
    let err = stderr_of(&out);
    assert!(err.contains("debug is on in dev"), "LOG_CONSOLE= should mean stderr:\n{err}");
    assert!(!err.contains("invalid"), "{err}");
    #[cfg(unix)]
    assert_eq!(mode_of(&dir.path().join("run.log")), 0o600, "LOG_FILE_MODE= should mean 600");
}

#[test]
fn empty_log_file_writes_no_file() {
    const NAME: &str = "empty_log_file_writes_no_file";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("LOG_FILE= is valid");
        logkit::info!("nowhere on disk");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_FILE", ""), ("LOG_CONSOLE", "stderr")]));
    common::assert_success(&out);
    let files: Vec<_> = std::fs::read_dir(dir.path()).expect("read dir").map(|e| e.expect("entry").path()).collect();
    assert!(files.is_empty(), "LOG_FILE= wrote {files:?}");
    // Logging itself still works (on the console).
    assert!(stderr_of(&out).contains("nowhere on disk"), "{}", stderr_of(&out));
}

#[test]
fn log_file_in_missing_directories_creates_them() {
    const NAME: &str = "log_file_in_missing_directories_creates_them";
    if common::is_child(NAME) {
        logkit::info!("nested");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_FILE", "sub/dir/x.log")]));
    common::assert_success(&out);
    let recs = common::read_jsonl(&dir.path().join("sub/dir/x.log"));
    assert_eq!(events(&recs), ["nested"]);
    assert!(!dir.path().join("run.log").exists());
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
}

#[test]
fn unopenable_log_file_is_an_io_error_from_init_and_console_only_when_lazy() {
    const NAME: &str = "unopenable_log_file_is_an_io_error_from_init_and_console_only_when_lazy";
    if common::is_child(NAME) {
        if std::env::var(UNDER_TEST).as_deref() == Ok("init") {
            let e = logkit::init().expect_err("run.log is a directory");
            assert_eq!(e.kind(), logkit::ConfigErrorKind::Io, "{e}");
            assert_eq!(e.var(), "LOG_FILE", "{e}");
            assert!(e.to_string().contains("LOG_FILE"), "{e}");
            assert!(std::error::Error::source(&e).is_some(), "the io::Error should be the source: {e}");
        } else {
            logkit::info!("console only");
            logkit::flush();
        }
        return;
    }
    for mode in ["init", "lazy"] {
        let dir = common::tempdir();
        std::fs::create_dir(dir.path().join("run.log")).expect("mkdir");
        let out = common::run(child_with(NAME, dir.path(), &[(UNDER_TEST, mode), ("LOG_CONSOLE", "stderr")]));
        common::assert_success(&out);
        if mode == "lazy" {
            let err = stderr_of(&out);
            let naming: Vec<&str> = non_empty_lines(&err).into_iter().filter(|l| l.contains("LOG_FILE")).collect();
            assert_eq!(naming.len(), 1, "want one line naming LOG_FILE:\n{err}");
            // The I/O cause is on that line once, then what logkit does instead.
            let cause = std::fs::File::create(dir.path().join("run.log")).expect_err("a directory").to_string();
            assert_eq!(naming[0].matches(cause.as_str()).count(), 1, "{cause:?} once in: {}", naming[0]);
            assert!(naming[0].ends_with("; logging to the console only"), "{}", naming[0]);
            assert_eq!(err.matches("os error").count(), 1, "the I/O reason, once:\n{err}");
            assert!(err.contains("console only"), "the record should still reach the console:\n{err}");
        }
    }
}

#[test]
fn prod_profile_writes_json_console_lines_and_turns_debug_off() {
    const NAME: &str = "prod_profile_writes_json_console_lines_and_turns_debug_off";
    if common::is_child(NAME) {
        logkit::debug!("dbg-record");
        logkit::info!(k = 1, "info-record");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_PROFILE", "prod"), ("LOG_CONSOLE", "stdout")]));
    common::assert_success(&out);
    let lines = app_stdout(&out, NAME);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: J =
        serde_json::from_str(&lines[0]).unwrap_or_else(|e| panic!("prod console line is not JSON ({e}): {lines:?}"));
    assert_eq!((&v["event"], &v["k"], &v["level"]), (&"info-record".into(), &1.into(), &"info".into()));
    assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["info-record"]);
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
}

#[test]
fn dev_profile_writes_pretty_console_lines_and_turns_debug_on() {
    const NAME: &str = "dev_profile_writes_pretty_console_lines_and_turns_debug_on";
    if common::is_child(NAME) {
        logkit::debug!("dbg-record");
        logkit::info!(k = 1, "info-record");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_PROFILE", "dev"), ("LOG_CONSOLE", "stdout")]));
    common::assert_success(&out);
    let lines = app_stdout(&out, NAME);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("dbg-record") && lines[1].contains("info-record"), "{lines:?}");
    for l in &lines {
        assert!(serde_json::from_str::<J>(l).is_err(), "dev console line is JSON: {l}");
    }
    assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["dbg-record", "info-record"]);
}

#[test]
fn console_off_prints_nothing_on_stdout_or_stderr() {
    const NAME: &str = "console_off_prints_nothing_on_stdout_or_stderr";
    if common::is_child(NAME) {
        logkit::info!("quiet");
        logkit::error!("still quiet");
        logkit::flush();
        return;
    }
    for profile in ["dev", "prod"] {
        let dir = common::tempdir();
        let out = common::run(child_with(NAME, dir.path(), &[("LOG_CONSOLE", "off"), ("LOG_PROFILE", profile)]));
        common::assert_success(&out);
        assert_eq!(app_stdout(&out, NAME), Vec::<String>::new(), "{profile}");
        assert_eq!(stderr_of(&out), "", "{profile}");
        assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["quiet", "still quiet"]);
    }
}

#[test]
fn log_level_knob_sets_the_floor() {
    const NAME: &str = "log_level_knob_sets_the_floor";
    if common::is_child(NAME) {
        logkit::debug!("d");
        logkit::info!("i");
        logkit::warn!("w");
        logkit::error!("e");
        return;
    }
    for (level, want) in [("warn", &["w", "e"][..]), ("debug", &["d", "i", "w", "e"][..]), ("off", &[][..])] {
        let dir = common::tempdir();
        let out = common::run(child_with(NAME, dir.path(), &[("LOG_LEVEL", level)]));
        common::assert_success(&out);
        let path = dir.path().join("run.log");
        let recs = if path.exists() { common::read_jsonl(&path) } else { Vec::new() };
        assert_eq!(events(&recs), want, "LOG_LEVEL={level}");
    }
}

#[test]
fn redact_knob_replaces_the_default_keys() {
    const NAME: &str = "redact_knob_replaces_the_default_keys";
    if common::is_child(NAME) {
        logkit::info!(card = "4111111111111111", password = "hunter2", user = "ann", "pay");
        return;
    }
    for (redact, card, password) in [(None, "4111111111111111", "***"), (Some("card"), "***", "hunter2")] {
        let dir = common::tempdir();
        let mut c = common::child(NAME, dir.path());
        if let Some(r) = redact {
            c.env("LOG_REDACT", r);
        }
        let out = common::run(c);
        common::assert_success(&out);
        let recs = common::read_jsonl(&dir.path().join("run.log"));
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["card"], card, "LOG_REDACT={redact:?}");
        assert_eq!(recs[0]["password"], password, "LOG_REDACT={redact:?}");
        assert_eq!(recs[0]["user"], "ann");
    }
}

#[test]
fn rotate_knob_rotates_at_the_given_size_and_zero_never_rotates() {
    const NAME: &str = "rotate_knob_rotates_at_the_given_size_and_zero_never_rotates";
    if common::is_child(NAME) {
        let n: usize = std::env::var(UNDER_TEST).expect("count").parse().expect("number");
        let pad = "x".repeat(1000);
        for i in 0..n {
            logkit::info!(i, pad = pad.as_str(), "fill");
        }
        return;
    }
    // 0.05 MiB = 52 KiB; 300 records of ~1.1 KB = ~330 KB: several rotations.
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_ROTATE_MB", "0.05"), (UNDER_TEST, "300")]));
    common::assert_success(&out);
    let chain = common::log_chain(dir.path(), "run.log");
    assert!(dir.path().join("run.log.1").exists(), "no rotation at 0.05 MiB: {chain:?}");
    assert!(!dir.path().join("run.log.6").exists(), "more than 5 backups kept: {chain:?}");
    for f in &chain {
        let len = std::fs::metadata(f).expect("stat").len();
        assert!(len <= 52_429 + 2_000, "{} is {len} bytes, over the 0.05 MiB limit", f.display());
    }
    // The newest records are in run.log, in order, ending with the last one.
    let last = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(last.last().expect("records")["i"], 299);

    // 0 never rotates, even past the 10 MiB default.
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_ROTATE_MB", "0"), (UNDER_TEST, "11000")]));
    common::assert_success(&out);
    assert_eq!(common::log_chain(dir.path(), "run.log"), [dir.path().join("run.log")]);
    let len = std::fs::metadata(dir.path().join("run.log")).expect("stat").len();
    assert!(len > 10 * 1024 * 1024, "only {len} bytes written");
}

#[cfg(unix)]
#[test]
fn file_mode_knob_sets_the_permissions_of_a_new_file() {
    const NAME: &str = "file_mode_knob_sets_the_permissions_of_a_new_file";
    if common::is_child(NAME) {
        logkit::info!("mode");
        return;
    }
    for (knob, want) in [(None, 0o600), (Some("640"), 0o640), (Some("0o604"), 0o604)] {
        let dir = common::tempdir();
        let mut c = common::child(NAME, dir.path());
        if let Some(k) = knob {
            c.env("LOG_FILE_MODE", k);
        }
        let out = common::run(c);
        common::assert_success(&out);
        assert_eq!(mode_of(&dir.path().join("run.log")), want, "LOG_FILE_MODE={knob:?}");
    }
}

#[test]
fn config_builder_overrides_the_environment() {
    const NAME: &str = "config_builder_overrides_the_environment";
    if common::is_child(NAME) {
        let _guard = logkit::Config::from_env()
            .expect("env is valid")
            .level("debug")
            .file("code.log")
            .redact(["card"])
            .init()
            .expect("init");
        logkit::debug!(card = "4111", password = "hunter2", "from code");
        return;
    }
    let dir = common::tempdir();
    let env = [("LOG_LEVEL", "error"), ("LOG_FILE", "env.log"), ("LOG_REDACT", "password")];
    let out = common::run(child_with(NAME, dir.path(), &env));
    common::assert_success(&out);
    assert!(!dir.path().join("env.log").exists(), "LOG_FILE was not overridden");
    let recs = common::read_jsonl(&dir.path().join("code.log"));
    assert_eq!(events(&recs), ["from code"], "level(\"debug\") should override LOG_LEVEL=error");
    assert_eq!((&recs[0]["card"], &recs[0]["password"]), (&"***".into(), &"hunter2".into()));
}

#[test]
fn config_default_ignores_the_environment() {
    const NAME: &str = "config_default_ignores_the_environment";
    if common::is_child(NAME) {
        let _guard = logkit::Config::default().console(logkit::Console::Off).init().expect("init");
        logkit::debug!("dev floor");
        return;
    }
    let dir = common::tempdir();
    // A bad knob and a restrictive one: `Config::default()` reads neither.
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_LEVEL", "error"), ("LOG_SAMPLE", "lots")]));
    common::assert_success(&out);
    assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["dev floor"]);
}

#[test]
fn builder_init_rejects_a_bad_level_and_leaves_logkit_startable() {
    const NAME: &str = "builder_init_rejects_a_bad_level_and_leaves_logkit_startable";
    if common::is_child(NAME) {
        let e = logkit::Config::default().level("info,db=loud").init().expect_err("bad level");
        assert_eq!(e.kind(), logkit::ConfigErrorKind::Invalid);
        assert!(e.to_string().contains("loud"), "{e}");
        let _guard = logkit::init().expect("a failed init must not leave logkit half-started");
        logkit::info!("after the failure");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["after the failure"]);
}

#[test]
fn a_bad_level_set_in_code_is_reported_as_code_not_as_log_level() {
    const NAME: &str = "a_bad_level_set_in_code_is_reported_as_code_not_as_log_level";
    if common::is_child(NAME) {
        let e = logkit::Config::from_env().expect("LOG_LEVEL=info is valid").level("loud").init().expect_err("loud");
        assert_eq!((e.var(), e.value(), e.is_from_code()), ("Config::level", "loud", true), "{e}");
        let shown = e.to_string();
        assert!(shown.contains("in code") && !shown.contains("LOG_LEVEL"), "{shown}");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_LEVEL", "info")]));
    common::assert_success(&out);
}

#[test]
fn init_twice_is_already_started_and_the_first_config_stays() {
    const NAME: &str = "init_twice_is_already_started_and_the_first_config_stays";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("first init");
        let e = logkit::init().expect_err("second init");
        assert_eq!(e.kind(), logkit::ConfigErrorKind::AlreadyStarted, "{e}");
        let e = logkit::Config::default().file("second.log").init().expect_err("builder init after init");
        assert_eq!(e.kind(), logkit::ConfigErrorKind::AlreadyStarted, "{e}");
        logkit::info!("still the first");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert!(!dir.path().join("second.log").exists());
    assert_eq!(events(&common::read_jsonl(&dir.path().join("run.log"))), ["still the first"]);
}
