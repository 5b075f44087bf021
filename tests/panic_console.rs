//! A panic on the dev console is said once, readably: the `panic` record as one line
//! with its message, location and thread, the END of the span it ended with the
//! message only, and no escaped backtrace on either; the file keeps both whole.
mod common;

fn run_panicking_child(name: &str, dir: &std::path::Path) -> String {
    let mut c = common::child(name, dir);
    c.env("LOG_CONSOLE", "stderr").env("LOG_PROFILE", "dev").env("NO_COLOR", "1").env_remove("RUST_BACKTRACE");
    let out = common::run(c);
    common::assert_success(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn reindex() {
    let _s = logkit::span!("reindex", shard = 3);
    panic!("index out of date");
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let _ = std::thread::spawn(reindex).join();
        return;
    }
    let dir = common::tempdir();
    let err = run_panicking_child("smoke", dir.path());
    assert!(err.contains("panic: index out of date"), "{err}");
}

#[test]
fn a_thread_panic_is_shown_once_on_the_dev_console_and_kept_whole_in_the_file() {
    const NAME: &str = "a_thread_panic_is_shown_once_on_the_dev_console_and_kept_whole_in_the_file";
    if common::is_child(NAME) {
        let worker = std::thread::Builder::new().name("worker-1".into()).spawn(reindex).unwrap();
        assert!(worker.join().is_err());
        return;
    }
    let dir = common::tempdir();
    let err = run_panicking_child(NAME, dir.path());
    // logkit's lines start with the time of day; the rest is Rust's own message.
    let logkit: Vec<&str> = err.lines().filter(|l| l.as_bytes().get(2) == Some(&b':')).collect();
    let panic_lines: Vec<&&str> = logkit.iter().filter(|l| l.contains(" panic: ")).collect();
    assert_eq!(panic_lines.len(), 1, "one panic line: {err}");
    let panic_line = panic_lines[0];
    assert!(panic_line.contains("panic: index out of date"), "{panic_line}");
    assert!(panic_line.contains("at=tests/panic_console.rs:"), "its location: {panic_line}");
    assert!(panic_line.contains("thread=worker-1"), "{panic_line}");
    let end = logkit.iter().find(|l| l.contains(" END reindex ")).expect("the END line");
    assert!(end.contains(" error ") && end.contains("panic=\"index out of date\""), "{end}");
    assert!(end.contains("shard=3"), "{end}");
    for line in &logkit {
        assert!(!line.contains("backtrace") && !line.contains("\\n"), "no escaped backtrace on the console: {line}");
        assert!(line.len() < 300, "one readable line: {line}");
    }
    // The file keeps the whole backtrace in both records.
    let recs = common::read_jsonl(&dir.path().join("run.log"));
    let panic = common::the(&recs, "panic");
    let bt = panic["exc_info"]["backtrace"].as_str().expect("a backtrace");
    assert!(bt.contains("reindex"), "{bt}");
    let end = common::end_of(&recs, "reindex");
    assert_eq!(end["exc_info"]["backtrace"], panic["exc_info"]["backtrace"]);
    assert_eq!(end["exc_info"]["message"], "index out of date");
}
