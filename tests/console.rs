//! The console sink: pretty `dev` lines on stderr by default, one line per record, no
//! ANSI when piped or with `NO_COLOR`, hostile text neutralised, `LOG_CONSOLE=stdout`,
//! and `prod` JSON lines equal to the file's.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value as J;

/// Text no console line may pass through raw: line breaks, ESC, BEL, bidi override.
const HOSTILE: &str = "line1\nline2\r\ncarriage\rback \u{1b}[31mRED\u{1b}[0m \u{2028}ls \u{2029}ps \u{202E}desrever\u{202C} \u{7}bell \u{9b}31mCSI end";

fn child_with(name: &str, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut c = common::child(name, dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The child's own stdout, without the lines the test harness prints around it
/// (`running 1 test`, `test <name> ... `, `ok`, `test result: ...`).
fn app_stdout(out: &Output, name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&out.stdout).replacen(&format!("test {name} ... "), "", 1);
    text.lines()
        .filter(|l| !l.is_empty() && *l != "running 1 test" && *l != "ok" && !l.starts_with("test result: "))
        .map(str::to_owned)
        .collect()
}

/// Splits console output into lines on `\n` only (what a terminal or `grep` does),
/// checking that it ends with one.
fn lines_of(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    assert!(text.ends_with('\n'), "console output does not end with a newline: {text:?}");
    text[..text.len() - 1].split('\n').collect()
}

fn assert_no_ansi(text: &str, what: &str) {
    assert!(!text.contains('\u{1b}'), "{what}: raw ESC on the console: {text:?}");
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!(k = 1, "hello console");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with("smoke", dir.path(), &[("LOG_CONSOLE", "stderr")]));
    common::assert_success(&out);
    let err = stderr_of(&out);
    let lines = lines_of(&err);
    assert_eq!(lines.len(), 1, "{err:?}");
    assert!(lines[0].contains("hello console") && lines[0].contains("k=1"), "{err:?}");
}

#[test]
fn default_console_is_pretty_stderr_one_line_per_record() {
    const NAME: &str = "default_console_is_pretty_stderr_one_line_per_record";
    if common::is_child(NAME) {
        logkit::debug!(n = 7, "first record");
        logkit::info!(order_id = 42, ok = true, user = "ann", "second record");
        logkit::warn!(latency_ms = 250, "third record");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let mut c = common::child(NAME, dir.path());
    c.env_remove("LOG_CONSOLE");
    let out = common::run(c);
    common::assert_success(&out);
    let err = stderr_of(&out);
    let lines = lines_of(&err);
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].contains("first record") && lines[0].contains("n=7"), "{}", lines[0]);
    assert!(lines[1].contains("second record"), "{}", lines[1]);
    assert!(lines[1].contains("order_id=42") && lines[1].contains("ok=true"), "{}", lines[1]);
    assert!(lines[1].contains("user=") && lines[1].contains("ann"), "{}", lines[1]);
    assert!(lines[2].contains("third record") && lines[2].contains("latency_ms=250"), "{}", lines[2]);
    assert!(lines[2].to_ascii_lowercase().contains("warn"), "no level on a WARN line: {}", lines[2]);
    for l in &lines {
        assert!(serde_json::from_str::<J>(l).is_err(), "dev console line is JSON: {l}");
    }
    assert_no_ansi(&err, "piped stderr");
    assert_eq!(app_stdout(&out, NAME), Vec::<String>::new(), "the default console is stderr only");
    // The file is written as well.
    assert_eq!(common::read_jsonl(&dir.path().join("run.log")).len(), 3);
}

#[test]
fn no_ansi_when_piped_with_or_without_no_color() {
    const NAME: &str = "no_ansi_when_piped_with_or_without_no_color";
    if common::is_child(NAME) {
        logkit::debug!("d");
        logkit::info!(k = 1, "i");
        logkit::warn!("w");
        logkit::error!(code = 503, "e");
        logkit::flush();
        return;
    }
    for no_color in [None, Some("1")] {
        for stream in ["stderr", "stdout"] {
            let dir = common::tempdir();
            let mut c = child_with(NAME, dir.path(), &[("LOG_CONSOLE", stream)]);
            if let Some(v) = no_color {
                c.env("NO_COLOR", v);
            }
            let out = common::run(c);
            common::assert_success(&out);
            let text = if stream == "stderr" { stderr_of(&out) } else { app_stdout(&out, NAME).join("\n") + "\n" };
            assert_eq!(lines_of(&text).len(), 4, "{stream}, NO_COLOR={no_color:?}: {text:?}");
            assert_no_ansi(&text, &format!("{stream}, NO_COLOR={no_color:?}"));
        }
    }
}

/// Runs `c` with its stderr on a fresh pseudo-terminal and returns what it wrote there.
#[cfg(target_os = "linux")]
fn run_on_a_tty(mut c: Command) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    let null = std::ptr::null_mut();
    // SAFETY: `openpty` writes two descriptors into the given ints; the name, termios and
    // winsize pointers may be null.
    let rc = unsafe { libc::openpty(&mut master, &mut slave, null, null as _, null as _) };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by `openpty` and are owned by nobody else.
    let (mut master, slave) = unsafe { (std::fs::File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    c.stdout(std::process::Stdio::null()).stderr(slave);
    let mut child = c.spawn().expect("spawn child");
    drop(c); // closes our copy of the slave, so reads end when the child exits
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Linux reports EIO on the master once the last slave descriptor is closed.
        while let Ok(n) = master.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        buf
    });
    let status = child.wait().expect("wait");
    let text = String::from_utf8_lossy(&reader.join().expect("reader")).into_owned();
    (status, text)
}

#[cfg(target_os = "linux")]
#[test]
fn colour_on_a_tty_unless_no_color_or_a_dumb_terminal() {
    const NAME: &str = "colour_on_a_tty_unless_no_color_or_a_dumb_terminal";
    if common::is_child(NAME) {
        logkit::info!(k = 1, "tty-info-line");
        logkit::error!("tty-error-line");
        logkit::flush();
        return;
    }
    for (env, want_colour) in [
        (&[("TERM", "xterm-256color")][..], true),
        (&[("TERM", "xterm-256color"), ("NO_COLOR", "1")][..], false),
        (&[("TERM", "dumb")][..], false),
    ] {
        let dir = common::tempdir();
        let mut c = child_with(NAME, dir.path(), env);
        c.env("LOG_CONSOLE", "stderr");
        let (status, text) = run_on_a_tty(c);
        assert!(status.success(), "{env:?}: {status:?}\n{text}");
        assert!(
            text.contains("tty-info-line") && text.contains("tty-error-line"),
            "{env:?}: no console lines on the tty: {text:?}"
        );
        assert_eq!(text.contains('\u{1b}'), want_colour, "{env:?}: ANSI colour on a tty: {text:?}");
    }
}

#[test]
fn colour_can_be_forced_on_with_the_builder() {
    const NAME: &str = "colour_can_be_forced_on_with_the_builder";
    if common::is_child(NAME) {
        let _guard = logkit::Config::from_env().expect("env").color(true).init().expect("init");
        logkit::error!("coloured");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_CONSOLE", "stderr")]));
    common::assert_success(&out);
    let err = stderr_of(&out);
    assert!(err.contains('\u{1b}'), "color(true) gave no ANSI colour: {err:?}");
    assert_eq!(lines_of(&err).len(), 1, "{err:?}");
}

#[test]
fn hostile_text_cannot_add_a_line_or_a_raw_control_character() {
    const NAME: &str = "hostile_text_cannot_add_a_line_or_a_raw_control_character";
    if common::is_child(NAME) {
        let color = std::env::var("LOGKIT_TEST_COLOR").is_ok();
        let _guard = logkit::Config::from_env().expect("env").color(color).init().expect("init");
        logkit::info!(evil = HOSTILE, "k\ne\u{1b}[31my\u{2028}" = 1, "msg {}", HOSTILE);
        logkit::warn!(evil = %HOSTILE);
        logkit::info!("after");
        return;
    }
    for color in [false, true] {
        let dir = common::tempdir();
        let mut c = child_with(NAME, dir.path(), &[("LOG_CONSOLE", "stderr")]);
        if color {
            c.env("LOGKIT_TEST_COLOR", "1");
        }
        let out = common::run(c);
        common::assert_success(&out);
        let err = stderr_of(&out);
        let lines = lines_of(&err);
        assert_eq!(lines.len(), 3, "color={color}: hostile text split a record:\n{err}");
        assert!(lines[0].contains("line1") && lines[0].contains("end"), "color={color}: {}", lines[0]);
        assert!(lines[1].contains("line1") && lines[1].contains("end"), "color={color}: {}", lines[1]);
        assert!(lines[2].contains("after"), "color={color}: {}", lines[2]);
        assert!(!err.contains('\r'), "color={color}: raw CR: {err:?}");
        if color {
            // The renderer's own colours are fine; the hostile ones must not be raw.
            assert!(!err.contains("\u{1b}[31mRED"), "color={color}: raw hostile ESC: {err:?}");
            assert!(!err.contains("\u{1b}[31my"), "color={color}: raw hostile ESC in a key: {err:?}");
        } else {
            assert_no_ansi(&err, "hostile, no colour");
        }
        for (ch, name) in [
            ('\u{2028}', "LINE SEPARATOR"),
            ('\u{2029}', "PARAGRAPH SEPARATOR"),
            ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE"),
            ('\u{7}', "BEL"),
            ('\u{9b}', "C1 CSI"),
        ] {
            assert!(!err.contains(ch), "color={color}: raw {name} on the console: {err:?}");
        }
        // The file keeps the exact text.
        let recs = common::read_jsonl(&dir.path().join("run.log"));
        assert_eq!(recs[0]["evil"], HOSTILE);
        assert_eq!(recs[0]["event"], format!("msg {HOSTILE}"));
    }
}

#[test]
fn stdout_console_writes_to_stdout_only() {
    const NAME: &str = "stdout_console_writes_to_stdout_only";
    if common::is_child(NAME) {
        logkit::info!(k = 1, "to stdout");
        logkit::error!("also to stdout");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_CONSOLE", "stdout")]));
    common::assert_success(&out);
    let lines = app_stdout(&out, NAME);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("to stdout") && lines[0].contains("k=1"), "{lines:?}");
    assert!(lines[1].contains("also to stdout"), "{lines:?}");
    assert_eq!(stderr_of(&out), "", "LOG_CONSOLE=stdout wrote to stderr");
}

#[test]
fn redaction_applies_to_the_console_too() {
    const NAME: &str = "redaction_applies_to_the_console_too";
    if common::is_child(NAME) {
        logkit::info!(password = "hunter2", token = 12345, user = "ann", "login");
        logkit::flush();
        return;
    }
    for (profile, stream) in [("dev", "stderr"), ("prod", "stdout")] {
        let dir = common::tempdir();
        let out = common::run(child_with(NAME, dir.path(), &[("LOG_CONSOLE", stream), ("LOG_PROFILE", profile)]));
        common::assert_success(&out);
        let text = if stream == "stderr" { stderr_of(&out) } else { app_stdout(&out, NAME).join("\n") };
        assert!(text.contains("login") && text.contains("ann"), "{profile}: {text}");
        assert!(!text.contains("hunter2") && !text.contains("12345"), "{profile}: secret on the console: {text}");
        assert!(text.contains("***"), "{profile}: {text}");
    }
}

#[test]
fn prod_console_lines_equal_the_file_lines() {
    const NAME: &str = "prod_console_lines_equal_the_file_lines";
    if common::is_child(NAME) {
        logkit::info!(
            order_id = 42,
            price = 1.5,
            symbol = "BTC",
            ok = true,
            big = u64::MAX,
            neg = -7i64,
            none = None::<u32>,
            nan = f64::NAN,
            password = "hunter2",
            "order filled"
        );
        logkit::warn!(s = "quote\" backslash\\ newline\n tab\t", "w");
        logkit::error!(target: "audit", evil = HOSTILE, "e");
        logkit::debug!("debug is off in prod");
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = common::run(child_with(NAME, dir.path(), &[("LOG_PROFILE", "prod"), ("LOG_CONSOLE", "stdout")]));
    common::assert_success(&out);
    let console: Vec<J> = app_stdout(&out, NAME)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("console line is not JSON ({e}): {l:?}")))
        .collect();
    let file = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(file.len(), 3, "{file:?}");
    assert_eq!(console, file);
    assert_eq!(console[0]["password"], "***");
    assert_eq!(console[2]["evil"], HOSTILE);
    assert_eq!(stderr_of(&out), "");
}

#[test]
fn a_closed_console_pipe_does_not_stop_the_file() {
    const NAME: &str = "a_closed_console_pipe_does_not_stop_the_file";
    if common::is_child(NAME) {
        for i in 0..1_000 {
            logkit::info!(i, "to a closed console");
        }
        logkit::flush();
        return;
    }
    // The reader of the console (stderr) goes away at once, like `prog 2>&1 | head -1`.
    let dir = common::tempdir();
    let mut c = child_with(NAME, dir.path(), &[("LOG_CONSOLE", "stderr")]);
    c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("spawn child");
    drop(child.stderr.take());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{:?}\n{}", out.status, String::from_utf8_lossy(&out.stdout));
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(recs.len(), 1_000, "records lost because the console pipe was closed");
}
