//! `LOG_LEVEL` directives (`info,noisy=warn,app::db=debug`) and `set_level` at run time.
mod common;

use std::collections::BTreeSet;

use serde_json::Value as J;

/// Runs `name` as a child with `LOG_LEVEL=level` and returns its run.log records.
fn records_of(name: &str, level: Option<&str>) -> Vec<J> {
    let dir = common::tempdir();
    let mut c = common::child(name, dir.path());
    if let Some(l) = level {
        c.env("LOG_LEVEL", l);
    }
    let out = common::run(c);
    common::assert_success(&out);
    let path = dir.path().join("run.log");
    if path.exists() {
        common::read_jsonl(&path)
    } else {
        Vec::new()
    }
}

fn event_set(recs: &[J]) -> BTreeSet<String> {
    recs.iter().map(|r| r["event"].as_str().expect("event").to_owned()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Logs one record per level at `target`, with event `<target>/<level>`.
macro_rules! all_levels {
    ($target:literal) => {
        logkit::trace!(target: $target, "{}/trace", $target);
        logkit::debug!(target: $target, "{}/debug", $target);
        logkit::info!(target: $target, "{}/info", $target);
        logkit::warn!(target: $target, "{}/warn", $target);
        logkit::error!(target: $target, "{}/error", $target);
    };
}

mod app {
    pub fn log() {
        logkit::info!("app info");
        logkit::debug!("app debug");
    }
    pub mod db {
        pub fn log() {
            logkit::debug!("db debug");
            logkit::trace!("db trace");
        }
        pub mod pool {
            pub fn log() {
                logkit::debug!("pool debug");
            }
        }
    }
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!(target: "app", "app info");
        logkit::info!(target: "other", "other info");
        logkit::warn!(target: "other", "other warn");
        return;
    }
    let recs = records_of("smoke", Some("warn,app=info"));
    assert_eq!(event_set(&recs), set(&["app info", "other warn"]));
}

#[test]
fn each_target_gets_its_most_specific_directive() {
    const NAME: &str = "each_target_gets_its_most_specific_directive";
    if common::is_child(NAME) {
        all_levels!("other");
        all_levels!("noisy");
        all_levels!("noisy::sub");
        all_levels!("noisyx");
        all_levels!("app");
        all_levels!("app::db");
        all_levels!("app::db::pool");
        all_levels!("app::dbx");
        return;
    }
    let recs = records_of(NAME, Some("info,noisy=warn,app::db=debug"));
    let want = set(&[
        "other/info",
        "other/warn",
        "other/error",
        "noisy/warn",
        "noisy/error",
        "noisy::sub/warn",
        "noisy::sub/error",
        // A directive is a string prefix, as in env_logger and EnvFilter: `noisy`
        // covers `noisyx` too (and `hyper` covers `hyper_util`).
        "noisyx/warn",
        "noisyx/error",
        "app/info",
        "app/warn",
        "app/error",
        "app::db/debug",
        "app::db/info",
        "app::db/warn",
        "app::db/error",
        "app::db::pool/debug",
        "app::db::pool/info",
        "app::db::pool/warn",
        "app::db::pool/error",
        "app::dbx/debug",
        "app::dbx/info",
        "app::dbx/warn",
        "app::dbx/error",
    ]);
    assert_eq!(event_set(&recs), want);
    // Each record carries its target.
    for r in &recs {
        let ev = r["event"].as_str().expect("event");
        assert_eq!(r["target"].as_str(), ev.split('/').next(), "{r}");
    }
}

#[test]
fn most_specific_wins_whatever_the_order_of_directives() {
    const NAME: &str = "most_specific_wins_whatever_the_order_of_directives";
    if common::is_child(NAME) {
        all_levels!("app::db");
        all_levels!("app::web");
        all_levels!("other");
        return;
    }
    let recs = records_of(NAME, Some("app::db=trace,app=error,warn"));
    let want = set(&[
        "app::db/trace",
        "app::db/debug",
        "app::db/info",
        "app::db/warn",
        "app::db/error",
        "app::web/error",
        "other/warn",
        "other/error",
    ]);
    assert_eq!(event_set(&recs), want);
}

#[test]
fn module_paths_match_directives() {
    const NAME: &str = "module_paths_match_directives";
    if common::is_child(NAME) {
        app::log();
        app::db::log();
        app::db::pool::log();
        return;
    }
    let recs = records_of(NAME, Some("warn,directives::app=info,directives::app::db=debug"));
    assert_eq!(event_set(&recs), set(&["app info", "db debug", "pool debug"]));
    let target_of = |ev: &str| common::events(&recs, ev)[0]["target"].clone();
    assert_eq!(target_of("app info"), "directives::app");
    assert_eq!(target_of("db debug"), "directives::app::db");
    assert_eq!(target_of("pool debug"), "directives::app::db::pool");
}

#[test]
fn a_level_alone_sets_the_floor_for_every_target() {
    const NAME: &str = "a_level_alone_sets_the_floor_for_every_target";
    if common::is_child(NAME) {
        all_levels!("a");
        all_levels!("b::c");
        return;
    }
    let recs = records_of(NAME, Some("ERROR"));
    assert_eq!(event_set(&recs), set(&["a/error", "b::c/error"]));
    let recs = records_of(NAME, Some("warning"));
    assert_eq!(event_set(&recs), set(&["a/warn", "a/error", "b::c/warn", "b::c/error"]));
}

#[test]
fn a_target_can_be_turned_off() {
    const NAME: &str = "a_target_can_be_turned_off";
    if common::is_child(NAME) {
        all_levels!("chatty");
        all_levels!("chatty::inner");
        all_levels!("calm");
        return;
    }
    let recs = records_of(NAME, Some("info,chatty=off"));
    assert_eq!(event_set(&recs), set(&["calm/info", "calm/warn", "calm/error"]));
}

#[test]
fn set_level_changes_the_filter_at_once_on_another_thread() {
    const NAME: &str = "set_level_changes_the_filter_at_once_on_another_thread";
    if common::is_child(NAME) {
        use std::sync::mpsc;
        let (go_tx, go_rx) = mpsc::channel::<u32>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            // The same call sites log in every phase: their cached decisions must follow
            // each set_level.
            for phase in go_rx {
                logkit::info!(phase, "tick");
                logkit::warn!(phase, "tock");
                logkit::trace!(target: "x", phase, "x trace");
                logkit::trace!(target: "y", phase, "y trace");
                done_tx.send(()).expect("main waits");
            }
        });
        let step = |phase: u32| {
            go_tx.send(phase).expect("worker runs");
            done_rx.recv().expect("worker answers");
        };
        step(1); // the dev default: DEBUG floor
        logkit::set_level("warn").expect("valid");
        step(2);
        logkit::set_level("info,x=trace").expect("valid");
        step(3);
        // Targeted again: decisions cached in phase 3 must not survive.
        logkit::set_level("info,x=warn,y=trace").expect("valid");
        step(4);
        logkit::set_level("debug").expect("valid");
        step(5); // a bare level drops the per-target directives
        drop(go_tx);
        worker.join().expect("worker");
        return;
    }
    let recs = records_of(NAME, None);
    let got: BTreeSet<(u64, String)> = recs
        .iter()
        .map(|r| (r["phase"].as_u64().expect("phase"), r["event"].as_str().expect("ev").to_owned()))
        .collect();
    let want: BTreeSet<(u64, String)> = [
        (1, "tick"),
        (1, "tock"),
        (2, "tock"),
        (3, "tick"),
        (3, "tock"),
        (3, "x trace"),
        (4, "tick"),
        (4, "tock"),
        (4, "y trace"),
        (5, "tick"),
        (5, "tock"),
    ]
    .into_iter()
    .map(|(p, e)| (p, e.to_owned()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn set_level_with_only_target_directives_keeps_the_floor() {
    const NAME: &str = "set_level_with_only_target_directives_keeps_the_floor";
    if common::is_child(NAME) {
        logkit::set_level("warn").expect("valid");
        logkit::set_level("x=trace").expect("valid");
        all_levels!("x");
        all_levels!("other");
        return;
    }
    let recs = records_of(NAME, None);
    let want = set(&["x/trace", "x/debug", "x/info", "x/warn", "x/error", "other/warn", "other/error"]);
    assert_eq!(event_set(&recs), want);
}

#[test]
fn a_bad_set_level_is_an_error_and_keeps_the_old_filter() {
    const NAME: &str = "a_bad_set_level_is_an_error_and_keeps_the_old_filter";
    if common::is_child(NAME) {
        logkit::set_level("warn,app=debug").expect("valid");
        for bad in ["info,db=loud", "verbose", "=info", "a b=info"] {
            let e = logkit::set_level(bad).expect_err(bad);
            assert_eq!(e.kind(), logkit::ConfigErrorKind::Invalid, "{e}");
            assert!(e.to_string().contains(bad), "error does not show {bad:?}: {e}");
        }
        all_levels!("app");
        all_levels!("other");
        return;
    }
    let recs = records_of(NAME, None);
    let want = set(&["app/debug", "app/info", "app/warn", "app/error", "other/warn", "other/error"]);
    assert_eq!(event_set(&recs), want);
}

#[test]
fn target_only_directives_keep_the_profile_floor() {
    const NAME: &str = "target_only_directives_keep_the_profile_floor";
    if common::is_child(NAME) {
        all_levels!("noisy");
        all_levels!("other");
        return;
    }
    for (profile, want) in [
        ("dev", &["noisy/warn", "noisy/error", "other/debug", "other/info", "other/warn", "other/error"][..]),
        ("prod", &["noisy/warn", "noisy/error", "other/info", "other/warn", "other/error"][..]),
    ] {
        let dir = common::tempdir();
        let out = common::run(
            common::child(NAME, dir.path()).env("LOG_PROFILE", profile).env("LOG_LEVEL", " noisy = warn , "),
        );
        common::assert_success(&out);
        let recs = common::read_jsonl(&dir.path().join("run.log"));
        assert_eq!(event_set(&recs), set(want), "LOG_PROFILE={profile}");
    }
}

#[test]
fn a_crate_directive_covers_the_crates_its_name_is_a_prefix_of() {
    const NAME: &str = "a_crate_directive_covers_the_crates_its_name_is_a_prefix_of";
    if common::is_child(NAME) {
        all_levels!("hyper");
        all_levels!("hyper::client");
        all_levels!("hyper_util::client::legacy");
        all_levels!("tower_http");
        return;
    }
    // As env_logger and EnvFilter match (plain string prefix): `hyper` covers
    // `hyper_util` too.
    let recs = records_of(NAME, Some("info,hyper=warn"));
    let want = set(&[
        "hyper/warn",
        "hyper/error",
        "hyper::client/warn",
        "hyper::client/error",
        "hyper_util::client::legacy/warn",
        "hyper_util::client::legacy/error",
        "tower_http/info",
        "tower_http/warn",
        "tower_http/error",
    ]);
    assert_eq!(event_set(&recs), want);
    // A longer directive sets the other crate apart.
    let recs = records_of(NAME, Some("info,hyper=warn,hyper_util=error"));
    let util: BTreeSet<String> = event_set(&recs).into_iter().filter(|e| e.starts_with("hyper_util")).collect();
    assert_eq!(util, set(&["hyper_util::client::legacy/error"]));
}

/// Runs `name` as a child with `env`; its records and stderr.
fn run_with(name: &str, env: &[(&str, &str)]) -> (Vec<J>, String) {
    let dir = common::tempdir();
    let mut c = common::child(name, dir.path());
    c.envs(env.iter().copied());
    let out = common::run(c);
    common::assert_success(&out);
    let path = dir.path().join("run.log");
    let recs = if path.exists() { common::read_jsonl(&path) } else { Vec::new() };
    (recs, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn rust_log_sets_the_directives_when_log_level_is_unset() {
    const NAME: &str = "rust_log_sets_the_directives_when_log_level_is_unset";
    if common::is_child(NAME) {
        all_levels!("app");
        all_levels!("other");
        return;
    }
    let (recs, err) = run_with(NAME, &[("RUST_LOG", "warn,app=trace")]);
    let want = set(&["app/trace", "app/debug", "app/info", "app/warn", "app/error", "other/warn", "other/error"]);
    assert_eq!(event_set(&recs), want);
    assert_eq!(err, "", "RUST_LOG alone is not worth a word");
    // An empty LOG_LEVEL counts as unset: RUST_LOG still applies.
    let (recs, _) = run_with(NAME, &[("LOG_LEVEL", ""), ("RUST_LOG", "error")]);
    assert_eq!(event_set(&recs), set(&["app/error", "other/error"]));
}

#[test]
fn log_level_wins_over_a_different_rust_log_and_says_so_once() {
    const NAME: &str = "log_level_wins_over_a_different_rust_log_and_says_so_once";
    if common::is_child(NAME) {
        all_levels!("app");
        std::thread::spawn(|| logkit::info!(target: "app", "app/info from a thread")).join().expect("thread");
        all_levels!("app");
        return;
    }
    let (recs, err) = run_with(NAME, &[("LOG_LEVEL", "error"), ("RUST_LOG", "trace")]);
    assert_eq!(event_set(&recs), set(&["app/error"]));
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "said once:\n{err}");
    assert!(lines[0].contains("LOG_LEVEL=\"error\"") && lines[0].contains("RUST_LOG=\"trace\""), "{}", lines[0]);
    assert!(lines[0].contains("using LOG_LEVEL"), "{}", lines[0]);
    // Both set to the same directives: nothing to say.
    let (_, err) = run_with(NAME, &[("LOG_LEVEL", "error"), ("RUST_LOG", "ERROR")]);
    assert_eq!(err, "");
}
