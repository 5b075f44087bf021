//! Exit order: exit handlers run last-registered first, so a handler the application
//! registered before logkit started runs after logkit's own exit hook and its flush.
//! What such a handler logs must still reach the file.
#![cfg(target_os = "linux")]

mod common;

use common::{events, is_child, records_of};

extern "C" fn log_at_exit() {
    logkit::info!(seq = 1, "logged at exit");
    let _span = logkit::span!("exit.cleanup");
}

/// Registers [`log_at_exit`] with `atexit`, as an application does before its first log
/// call (logkit not started yet).
fn register_before_logkit() {
    // SAFETY: registers a plain `extern "C" fn()` that lives for the whole program.
    assert_eq!(unsafe { libc::atexit(log_at_exit) }, 0);
}

#[test]
fn smoke() {
    if is_child("smoke") {
        logkit::info!(seq = 0, "in main");
        return;
    }
    let recs = records_of("smoke", &[]);
    assert_eq!(events(&recs, "in main").len(), 1);
}

#[test]
fn records_logged_from_an_exit_handler_registered_before_logkit_started_reach_the_file() {
    const NAME: &str = "records_logged_from_an_exit_handler_registered_before_logkit_started_reach_the_file";
    if is_child(NAME) {
        register_before_logkit();
        logkit::info!(seq = 0, "in main");
        return;
    }
    let recs = records_of(NAME, &[]);
    assert_eq!(events(&recs, "in main").len(), 1);
    assert_eq!(events(&recs, "logged at exit").len(), 1, "{recs:#?}");
    let ends: Vec<_> = events(&recs, "END").into_iter().filter(|r| r["span"] == "exit.cleanup").collect();
    assert_eq!(ends.len(), 1, "the span's END, logged at exit: {recs:#?}");
}

#[test]
fn records_logged_from_an_exit_handler_after_process_exit_reach_the_file() {
    const NAME: &str = "records_logged_from_an_exit_handler_after_process_exit_reach_the_file";
    if is_child(NAME) {
        register_before_logkit();
        logkit::info!(seq = 0, "in main");
        std::process::exit(0);
    }
    let recs = records_of(NAME, &[]);
    assert_eq!(events(&recs, "logged at exit").len(), 1, "{recs:#?}");
}
