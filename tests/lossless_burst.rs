//! Block mode (the default) loses nothing: a burst from several threads through a tiny
//! ring arrives complete, each record once, in per-thread order.
mod common;

use std::collections::HashMap;

fn check_complete(recs: &[serde_json::Value], threads: u64, per_thread: u64) {
    let mut next: HashMap<u64, u64> = HashMap::new();
    for r in recs.iter().filter(|r| r["event"] == "burst") {
        let t = r["thread"].as_u64().unwrap();
        let seq = r["seq"].as_u64().unwrap();
        let expected = next.entry(t).or_insert(0);
        assert_eq!(seq, *expected, "thread {t}: got seq {seq}, expected {expected} (lost, duplicated or reordered)");
        *expected += 1;
    }
    assert_eq!(next.len() as u64, threads, "records of some thread are missing");
    for (t, n) in next {
        assert_eq!(n, per_thread, "thread {t} has {n} records");
    }
    assert!(common::events(recs, "logkit.dropped").is_empty(), "block mode reported drops");
}

fn burst(threads: u64, per_thread: u64) {
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                for seq in 0..per_thread {
                    logkit::info!(thread = t, seq = seq, pad = "xxxxxxxxxxxxxxxxxxxxxxxx", "burst");
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        burst(1, 1000);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child("smoke", dir.path()));
    common::assert_success(&out);
    check_complete(&common::read_jsonl(&dir.path().join("run.log")), 1, 1000);
}

#[test]
fn tiny_ring_burst_from_four_threads_is_complete_and_ordered() {
    const NAME: &str = "tiny_ring_burst_from_four_threads_is_complete_and_ordered";
    if common::is_child(NAME) {
        burst(4, 50_000);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_BUFFER", "16").env("LOG_ROTATE_MB", "0"));
    common::assert_success(&out);
    check_complete(&common::read_jsonl(&dir.path().join("run.log")), 4, 50_000);
}

#[test]
fn ring_of_one_record_still_delivers_everything() {
    const NAME: &str = "ring_of_one_record_still_delivers_everything";
    if common::is_child(NAME) {
        burst(3, 5_000);
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()).env("LOG_BUFFER", "1"));
    common::assert_success(&out);
    check_complete(&common::read_jsonl(&dir.path().join("run.log")), 3, 5_000);
}

#[test]
fn flush_from_many_threads_at_once_returns_and_writes_each_threads_records() {
    const NAME: &str = "flush_from_many_threads_at_once_returns_and_writes_each_threads_records";
    if common::is_child(NAME) {
        let dir = std::env::current_dir().unwrap();
        let hs: Vec<_> = (0..4u64)
            .map(|t| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    for seq in 0..2_000u64 {
                        logkit::info!(thread = t, seq = seq, "burst");
                        if seq % 500 == 499 {
                            logkit::flush();
                            // After flush returns, this thread's records are in the file.
                            let text = std::fs::read_to_string(dir.join("run.log")).unwrap();
                            let needle = format!("\"thread\":{t},\"seq\":{seq},");
                            assert!(text.contains(&needle), "flush returned before {needle} was written");
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        return;
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    check_complete(&common::read_jsonl(&dir.path().join("run.log")), 4, 2_000);
}

#[test]
fn a_lone_record_is_written_without_flush() {
    const NAME: &str = "a_lone_record_is_written_without_flush";
    if common::is_child(NAME) {
        logkit::info!("lonely");
        // No flush: the writer steals the partly filled buffer on its own. Wait (bounded)
        // until the record is on disk, then report what we saw.
        let start = std::time::Instant::now();
        let mut seen = false;
        while start.elapsed() < std::time::Duration::from_secs(10) {
            if std::fs::read_to_string("run.log").is_ok_and(|t| t.contains("lonely")) {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        println!("SEEN={seen}");
        std::process::exit(0);
    }
    let dir = common::tempdir();
    let out = common::run(common::child(NAME, dir.path()));
    common::assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("SEEN=true"), "record never written without flush");
}
