//! A rotated set read as one stream: `run.log.5` … `run.log.1`, `run.log`, with some
//! backups gzip-compressed (as logrotate's `compress` + `delaycompress` leave them), is
//! read oldest first, exactly as the same set uncompressed.
mod common;

use flate2::write::GzEncoder;
use flate2::Compression;
use logkit::{error, info};
use std::io::Write;
use std::path::Path;

/// Enough records, flushed in small batches, for the engine to rotate several times
/// at `LOG_ROTATE_MB=0.004` (4 KiB); every 20th is an error.
fn scenario() {
    for seq in 0..400u32 {
        if seq % 20 == 7 {
            error!(seq, pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "step failed");
        } else {
            info!(seq, pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "step");
        }
        if seq % 10 == 9 {
            logkit::flush();
        }
    }
}

/// Replaces `dir/name` by `dir/name.gz`, written as `members` concatenated gzip members
/// (as `gzip -c part >> file.gz` makes), with the original's modification time.
fn gzip(dir: &Path, name: &str, members: usize) {
    let path = dir.join(name);
    let data = std::fs::read(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut out = Vec::new();
    let step = data.len().div_ceil(members).max(1);
    for part in data.chunks(step) {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(part).unwrap();
        out.extend(gz.finish().unwrap());
    }
    let gz_path = dir.join(format!("{name}.gz"));
    std::fs::write(&gz_path, out).unwrap();
    std::fs::File::options().write(true).open(&gz_path).unwrap().set_modified(mtime).unwrap();
    std::fs::remove_file(&path).unwrap();
}

/// The `seq` field of each record of the scenario in JSONL output (logkit's own
/// records, such as `logkit.start`, have none).
fn seqs(jsonl: &str) -> Vec<u64> {
    jsonl.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64()).collect()
}

#[test]
fn gzip_backups_read_in_time_order_with_the_plain_ones_as_one_stream() {
    let name = "gzip_backups_read_in_time_order_with_the_plain_ones_as_one_stream";
    if common::is_child(name) {
        scenario();
        return;
    }
    let dir = common::tempdir();
    common::write_log(name, dir.path(), &[("LOG_ROTATE_MB", "0.004")]);
    let d = dir.path();
    for n in 1..=5 {
        assert!(d.join(format!("run.log.{n}")).is_file(), "the engine kept 5 backups");
    }
    let commands: &[&[&str]] =
        &[&["tail", "--json"], &["tail"], &["errors"], &["errors", "--json"], &["stats"], &["slow"]];
    let plain: Vec<String> = commands.iter().map(|c| common::ok(&common::logkit(d, c))).collect();
    let all = seqs(&plain[0]);
    assert!(all.len() > 100, "{} records", all.len());
    let first = all[0];
    assert_eq!(all, (first..first + all.len() as u64).collect::<Vec<_>>(), "the plain set reads oldest first");

    // logrotate with compress + delaycompress: the newest backup stays plain.
    gzip(d, "run.log.5", 1);
    gzip(d, "run.log.4", 1);
    gzip(d, "run.log.3", 1);
    gzip(d, "run.log.2", 3);
    for (c, want) in commands.iter().zip(&plain) {
        let out = common::logkit(d, c);
        assert_eq!(&common::ok(&out), want, "logkit {c:?} over the mixed set");
        assert_eq!(common::stderr(&out), "", "logkit {c:?}");
    }
    // The same set named by a glob, in any order, and file by file.
    let by_glob = common::ok(&common::logkit(d, &["tail", "--json", "run.log*"]));
    assert_eq!(by_glob, plain[0]);
    let named =
        ["run.log", "run.log.2.gz", "run.log.5.gz", "run.log.1", "run.log.3.gz", "run.log.4.gz"].map(String::from);
    let mut args = vec!["tail".to_owned(), "--json".to_owned()];
    args.extend(named);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(common::ok(&common::logkit(d, &args)), plain[0]);
    let errors = seqs(&plain[3]);
    assert!(errors.len() >= 5 && errors.windows(2).all(|w| w[0] < w[1]), "{errors:?}");
}

#[test]
fn a_damaged_or_cut_short_gzip_backup_is_read_up_to_the_damage_and_is_not_fatal() {
    let dir = common::tempdir();
    let d = dir.path();
    let line = |i: u64| {
        format!("{{\"timestamp\":\"2026-11-24T07:02:51.{i:06}Z\",\"level\":\"info\",\"event\":\"step\",\"seq\":{i},\"target\":\"t\"}}\n")
    };
    let old: String = (0..20_000).map(line).collect();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(old.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    // Cut short, as a crash while logrotate compressed it leaves it; and one that is
    // not gzip at all.
    std::fs::write(d.join("run.log.2.gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(d.join("run.log.1.gz"), "not gzip at all\n").unwrap();
    std::fs::write(d.join("run.log"), (20_000..20_010).map(line).collect::<String>()).unwrap();
    let out = common::logkit(d, &["tail", "--json"]);
    let got = seqs(&common::ok(&out));
    let cut = got.iter().position(|&s| s >= 20_000).expect("the live file's records");
    assert!(cut > 0, "the records before the damage are read");
    assert_eq!(got[..cut], (0..cut as u64).collect::<Vec<_>>());
    assert_eq!(got[cut..], (20_000..20_010).collect::<Vec<_>>());
    let err = common::stderr(&out);
    for name in ["run.log.2.gz", "run.log.1.gz"] {
        assert!(err.contains(&format!("logkit: {name}: the gzip data is damaged or ends early (")), "{err}");
    }
    for cmd in [&["errors"][..], &["stats"], &["slow"]] {
        let out = common::logkit(d, cmd);
        assert_eq!(out.status.code(), Some(0), "logkit {cmd:?}: {}", common::stderr(&out));
    }
}
