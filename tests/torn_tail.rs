//! A log file whose last line was torn (a disk that was still full at exit, a power cut)
//! is continued on a fresh line: the fragment stays a line of its own and every record
//! of the next run is a whole JSON line.
#![cfg(target_os = "linux")]

mod common;

use common::{assert_success, child, is_child, parse_jsonl, records_of, run, tempdir};

/// What an earlier run left: two whole records and the start of a third.
const TORN: &str =
    "{\"level\":\"info\",\"event\":\"one\"}\n{\"level\":\"info\",\"event\":\"two\"}\n{\"level\":\"info\",\"ev";

#[test]
fn smoke() {
    if is_child("smoke") {
        logkit::info!("hello");
        return;
    }
    assert_eq!(records_of("smoke", &[]).len(), 1, "a fresh run.log gets one whole record");
}

#[test]
fn a_file_ending_inside_a_line_is_continued_on_a_fresh_line() {
    const NAME: &str = "a_file_ending_inside_a_line_is_continued_on_a_fresh_line";
    if is_child(NAME) {
        for seq in 0..3 {
            logkit::info!(seq, "next run");
        }
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("run.log");
    std::fs::write(&path, TORN).unwrap();
    assert_success(&run(child(NAME, dir.path())));
    let text = std::fs::read_to_string(&path).unwrap();
    let rest = text.strip_prefix(TORN).expect("the earlier run's bytes are kept as they were");
    let rest =
        rest.strip_prefix('\n').unwrap_or_else(|| panic!("the first record is appended to the fragment: {text:?}"));
    let recs = parse_jsonl(rest);
    let seqs: Vec<_> = recs.iter().filter(|r| r["event"] == "next run").map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [0, 1, 2]);
}

#[test]
fn a_file_ending_in_a_newline_gets_no_blank_line() {
    const NAME: &str = "a_file_ending_in_a_newline_gets_no_blank_line";
    if is_child(NAME) {
        logkit::info!("next run");
        return;
    }
    let dir = tempdir();
    let path = dir.path().join("run.log");
    let whole = "{\"level\":\"info\",\"event\":\"one\"}\n";
    std::fs::write(&path, whole).unwrap();
    assert_success(&run(child(NAME, dir.path())));
    let text = std::fs::read_to_string(&path).unwrap();
    let recs = parse_jsonl(&text);
    assert_eq!(recs.len(), 2, "{text:?}");
    assert_eq!(recs[1]["event"], "next run");
}
