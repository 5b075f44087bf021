//! A `LOG_FILE` that names a FIFO (named pipe) or a socket is refused with an error
//! naming `LOG_FILE`: opening a FIFO for writing waits in open(2) for a reader, and a
//! pipe nobody reads would stop the writer (and, in block mode, the application).
#![cfg(target_os = "linux")]

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{assert_success, child, is_child, records_of, run, tempdir};

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// Runs the child test `name` with `LOG_FILE` naming a fresh FIFO; returns its stderr.
fn run_with_fifo(name: &str) -> String {
    let dir = tempdir();
    let fifo = dir.path().join("run.fifo");
    mkfifo(&fifo);
    let mut c = child(name, dir.path());
    c.env("LOG_FILE", &fifo);
    let out = run(c);
    assert_success(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn smoke() {
    if is_child("smoke") {
        logkit::info!("hello");
        return;
    }
    assert_eq!(records_of("smoke", &[]).len(), 1, "a regular run.log gets the record");
}

#[test]
fn init_refuses_a_fifo_log_file_with_an_error_naming_log_file() {
    const NAME: &str = "init_refuses_a_fifo_log_file_with_an_error_naming_log_file";
    if is_child(NAME) {
        let err = logkit::init().expect_err("a FIFO is not a log file");
        assert_eq!(err.var(), "LOG_FILE");
        assert!(err.to_string().contains("LOG_FILE"), "{err}");
        // What `main` returning the error (`?`) prints.
        let shown = format!("{err:?}");
        assert!(shown.contains("LOG_FILE") && shown.contains("FIFO"), "{shown}");
        return;
    }
    run_with_fifo(NAME);
}

#[test]
fn a_first_log_call_with_a_fifo_log_file_says_so_once_and_the_program_goes_on() {
    const NAME: &str = "a_first_log_call_with_a_fifo_log_file_says_so_once_and_the_program_goes_on";
    if is_child(NAME) {
        // More than a pipe holds (64 KiB), so a pipe nobody reads would fill.
        for seq in 0..10_000u64 {
            logkit::info!(seq, "record");
        }
        logkit::flush();
        return;
    }
    let stderr = run_with_fifo(NAME);
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("LOG_FILE") && l.contains("FIFO")).collect();
    assert_eq!(said.len(), 1, "one line naming LOG_FILE and the FIFO:\n{stderr}");
    assert!(!stderr.contains("did not complete"), "a flush waited:\n{stderr}");
}
