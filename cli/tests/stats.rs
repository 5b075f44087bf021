//! `logkit stats`: records per level and target, error rate, spans per status, drop
//! and loss totals, the time range and bad lines, over a run written by logkit.
mod common;

use logkit::{error, info, span, warn};

#[test]
fn smoke() {
    if common::is_child("smoke") {
        info!("one");
        return;
    }
    let dir = common::tempdir();
    common::write_log("smoke", dir.path(), &[]);
    let out = common::ok(&common::logkit(dir.path(), &["stats"]));
    assert!(out.starts_with("records     1\n"), "{out}");
}

#[test]
fn stats_counts_levels_targets_spans_drops_and_bad_lines() {
    let name = "stats_counts_levels_targets_spans_drops_and_bad_lines";
    if common::is_child(name) {
        {
            let _ok = span!("fine");
            info!(target: "app::db", "query");
        }
        let failed = span!("broken");
        failed.fail_with("no");
        drop(failed);
        warn!("careful");
        error!(target: "app::db", "down");
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    let log = common::run_log(dir.path());
    let mut text = std::fs::read_to_string(&log).unwrap();
    // The engine's own reports, as it writes them, and two bad lines.
    text.push_str(r#"{"timestamp":"2026-11-24T07:02:51.123456Z","level":"warning","event":"logkit.dropped","dropped":7,"target":"logkit"}"#);
    text.push('\n');
    text.push_str(r#"{"timestamp":"2026-11-24T07:02:52.123456Z","level":"warning","event":"logkit.lost","lost":3,"target":"logkit"}"#);
    text.push_str("\nnot json\n{\"timestamp\":\"2026-11-24T07:0");
    std::fs::write(&log, text).unwrap();
    let out = common::logkit(dir.path(), &["stats"]);
    let stdout = common::ok(&out);
    let want = "\
records     9
time range  <ts> .. <ts>
runs        1
levels      error 2  warning 3  info 4  debug 0  trace 0
error rate  22.22 %
spans       2 (success 1  error 1)
dropped     7
lost        3
bad lines   2 (not JSON 2, not logkit records 0)
targets
           5  stats
           2  app::db
           2  logkit
";
    assert_eq!(common::normalise(&stdout), want, "{stdout}");
    assert_eq!(common::stderr(&out), "logkit: skipped 2 bad lines (run.log: 2 not JSON, 0 not logkit records)\n");

    let json: serde_json::Value =
        serde_json::from_str(&common::ok(&common::logkit(dir.path(), &["stats", "--json"]))).unwrap();
    assert_eq!(json["records"], 9);
    assert_eq!(json["levels"]["warning"], 3);
    assert_eq!(json["spans"]["error"], 1);
    assert_eq!((&json["dropped"], &json["lost"]), (&7.into(), &3.into()));
    assert_eq!(json["bad_lines"]["not_json"], 2);
    assert_eq!(json["targets"]["app::db"], 2);
    assert_eq!(json["first"], "2026-11-24T07:02:51.123456Z");
}

#[test]
fn stats_counts_the_runs_appended_to_one_file_by_their_logkit_start_records() {
    let name = "stats_counts_the_runs_appended_to_one_file_by_their_logkit_start_records";
    if common::is_child(name) {
        info!(pid = std::process::id(), "work");
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[]);
    common::write_log(name, dir.path(), &[]);
    let json: serde_json::Value =
        serde_json::from_str(&common::ok(&common::logkit(dir.path(), &["stats", "--json"]))).unwrap();
    assert_eq!(json["records"], 2, "{json}");
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{json}");
    // Each run is named by the pid its records carry, in the order the runs started.
    let text = std::fs::read_to_string(common::run_log(dir.path())).unwrap();
    let pids: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["event"] == "work")
        .map(|r| r["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(runs.iter().map(|r| r["pid"].as_u64().unwrap()).collect::<Vec<_>>(), pids, "{json}");
    assert!(runs[0]["started"].as_str() <= runs[1]["started"].as_str(), "{json}");
    let out = common::ok(&common::logkit(dir.path(), &["stats"]));
    assert!(out.contains(&format!("runs        2 (pids {} {})\n", pids[0], pids[1])), "{out}");
}
