//! `logkit.open_spans`: at exit, at SIGTERM and (when it ends the process) at a panic,
//! the spans still open are reported with their names, ids and how long each had been
//! open, so a run that ended inside a span says where it was.
mod common;

use std::os::unix::process::ExitStatusExt;

use serde_json::Value as J;

fn open_of(recs: &[J]) -> &J {
    &common::the(recs, "logkit.open_spans")["open"]
}

fn names(open: &J) -> Vec<&str> {
    open.as_array().expect("open is an array").iter().map(|s| s["span"].as_str().unwrap_or("?")).collect()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _s = logkit::span!("s");
        std::process::exit(0);
    }
    let recs = common::records_of("smoke", &[]);
    assert_eq!(names(open_of(&recs)), ["s"]);
}

#[test]
fn exit_inside_spans_reports_each_open_span_with_its_ids_and_how_long_it_was_open() {
    const NAME: &str = "exit_inside_spans_reports_each_open_span_with_its_ids_and_how_long_it_was_open";
    if common::is_child(NAME) {
        let _outer = logkit::span!("import_batch");
        let _inner = logkit::span!("wait_for_lock", lock = "db");
        std::thread::sleep(std::time::Duration::from_millis(5));
        logkit::info!("giving up");
        std::process::exit(3);
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    let report = common::the(&recs, "logkit.open_spans");
    assert_eq!((&report["level"], &report["reason"], &report["count"]), (&"warning".into(), &"exit".into(), &2.into()));
    let open = report["open"].as_array().expect("an array");
    assert_eq!(names(&report["open"]), ["import_batch", "wait_for_lock"], "oldest first: {report}");
    let starts = common::events(&recs, "START");
    for (span, start) in open.iter().zip(&starts) {
        assert_eq!(span["span_id"], start["span_id"], "{span} vs {start}");
        assert_eq!(span["trace_id"], start["trace_id"]);
        assert!(span["open_ms"].as_f64().is_some_and(|ms| ms >= 5.0), "open for the 5 ms slept at least: {span}");
    }
    assert_eq!(open[1]["parent_span_id"], open[0]["span_id"]);
    assert!(common::ends(&recs).is_empty(), "no span ended: {recs:#?}");
}

#[test]
fn a_run_whose_spans_all_ended_writes_no_open_spans_record() {
    const NAME: &str = "a_run_whose_spans_all_ended_writes_no_open_spans_record";
    if common::is_child(NAME) {
        {
            let _s = logkit::span!("done");
        }
        std::process::exit(0);
    }
    let recs = common::records_of(NAME, &[]);
    assert_eq!(common::ends(&recs).len(), 1);
    assert!(common::events(&recs, "logkit.open_spans").is_empty(), "{recs:#?}");
}

#[test]
fn a_panic_that_ends_the_process_reports_the_spans_other_threads_still_had_open() {
    const NAME: &str = "a_panic_that_ends_the_process_reports_the_spans_other_threads_still_had_open";
    if common::is_child(NAME) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _s = logkit::span!("wait_for_lock");
            tx.send(()).unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().unwrap();
        let _req = logkit::span!("request");
        panic!("index out of date");
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert!(!out.status.success(), "the child panicked");
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    // The panicking thread's span ended while unwinding; the other thread's never did.
    assert_eq!(common::end_of(&recs, "request")["status"], "error");
    assert_eq!(names(open_of(&recs)), ["wait_for_lock"], "{recs:#?}");
}

#[test]
fn sigterm_writes_what_was_logged_and_reports_the_open_spans_then_ends_the_process_by_the_signal() {
    const NAME: &str = "sigterm_writes_what_was_logged_and_reports_the_open_spans_then_ends_the_process_by_the_signal";
    if common::is_child(NAME) {
        let _outer = logkit::span!("import_batch");
        let _inner = logkit::span!("wait_for_lock");
        logkit::info!("waiting");
        println!("READY");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    let dir = common::tempdir();
    let (mut child, _lines) = common::spawn_until_ready(common::child(NAME, dir.path()));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGTERM), "ended by the signal, as without logkit: {status:?}");
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    assert_eq!(common::the(&recs, "waiting")["level"], "info", "what was logged before the signal is on disk");
    let report = common::the(&recs, "logkit.open_spans");
    assert_eq!(report["reason"], "sigterm");
    assert_eq!(names(&report["open"]), ["import_batch", "wait_for_lock"]);
}

#[test]
fn a_sigterm_handler_the_application_installed_first_is_left_alone() {
    const NAME: &str = "a_sigterm_handler_the_application_installed_first_is_left_alone";
    if common::is_child(NAME) {
        extern "C" fn graceful(_: libc::c_int) {
            let msg = b"GRACEFUL\n";
            // SAFETY: write(2) is async-signal-safe; the buffer is valid for its length.
            unsafe { libc::write(1, msg.as_ptr().cast(), msg.len()) };
            // SAFETY: _exit(2) is async-signal-safe.
            unsafe { libc::_exit(7) };
        }
        // SAFETY: installs a plain handler that only calls async-signal-safe functions.
        unsafe { libc::signal(libc::SIGTERM, graceful as extern "C" fn(libc::c_int) as libc::sighandler_t) };
        let _s = logkit::span!("serving");
        println!("READY");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    let dir = common::tempdir();
    let (mut child, lines) = common::spawn_until_ready(common::child(NAME, dir.path()));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(7), "the application's handler ran: {status:?}");
    assert_eq!(rest, ["GRACEFUL"]);
}

#[test]
fn sigterm_to_a_forked_child_ends_the_child_and_leaves_the_parent_running() {
    const NAME: &str = "sigterm_to_a_forked_child_ends_the_child_and_leaves_the_parent_running";
    if common::is_child(NAME) {
        let _s = logkit::span!("parent.work");
        // SAFETY: the child only sleeps and exits (async-signal-safe calls).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // Until the signal ends it; never longer than 10 s, so a regression fails
            // the test instead of leaving an orphan that holds the test's pipes.
            for _ in 0..10 {
                // SAFETY: sleep(3) in the forked child.
                unsafe { libc::sleep(1) };
            }
            // SAFETY: _exit(2) without running the parent's exit hooks.
            unsafe { libc::_exit(3) };
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut status = 0;
        // SAFETY: kill(2) and waitpid(2) on our own child.
        unsafe {
            assert_eq!(libc::kill(pid, libc::SIGTERM), 0);
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        }
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM, "child status {status:#x}");
        // Time for the parent's signal thread to act on a byte it should never get.
        std::thread::sleep(std::time::Duration::from_millis(300));
        println!("PARENT SURVIVED");
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    assert!(out.status.success(), "the parent was ended: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PARENT SURVIVED"));
}
