//! logkit measured side by side with the Rust loggers a latency-sensitive service
//! would otherwise pick. Each (logger, scenario) runs in its own process — a global
//! logger can be installed once — by re-executing this binary.
//!
//! ```text
//! cargo run --release --manifest-path peers/Cargo.toml -- all
//! cargo run --release --manifest-path peers/Cargo.toml -- tracing slog --scenario latency
//! cargo run --release --manifest-path peers/Cargo.toml -- list
//! ```
//!
//! Scenarios: `latency` (one producer, one call per µs, rdtsc per call, allocations
//! per call), `tput1` / `tput2` (1 / 2 producers log as fast as they can, lossless
//! configuration: producer-side and end-to-end records/s, records lost), `default`
//! (2 producers, the logger's default configuration: records lost), `extras` (logkit
//! only: disabled and sampled-out call cost, idle writer CPU).

mod harness;
mod peers;
mod util;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{census, count_allocs, ns_per_tick, paced, paced_into, sync_all, CountingAlloc, Dist};
use peers::{Mode, Peer, PEERS};
use util::Ids;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const SCENARIOS: &[&str] = &["latency", "tput1", "tput2", "default", "extras"];

const USAGE: &str = "\
usage: logkit-peers [all | LOGGER...] [--scenario S[,S...]] [--rounds N] [--calls N] [--records N] [--results DIR] [--keep-logs]
       logkit-peers list
       logkit-peers summary [--results DIR]   (the tables again, from the run files already there)

LOGGER    logkit logkit_tracing tracing slog ftlog spdlog fast_log baseline (default: all)
S         latency tput1 tput2 default extras (default: all; extras runs for logkit only)
--rounds  rounds of every logger and scenario, interleaved; tables give each figure's median (default 3)
--calls   timed calls in the latency scenario (default 200000, after 20000 untimed)
--records records per throughput / default run, over all producers (default 1000000)
--results where the tables, CSVs and per-run outputs go (default peers/results)";

struct Opts {
    loggers: Vec<String>,
    scenarios: Vec<String>,
    rounds: usize,
    calls: usize,
    records: u64,
    results: PathBuf,
    logs: PathBuf,
    keep_logs: bool,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut o = Opts {
        loggers: Vec::new(),
        scenarios: Vec::new(),
        rounds: 3,
        calls: 200_000,
        records: 1_000_000,
        results: here.join("results"),
        logs: here.join("target").join("peer-logs"),
        keep_logs: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "all" => {}
            "--scenario" => o.scenarios.extend(val()?.split(',').map(str::to_owned)),
            "--rounds" => o.rounds = val()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--calls" => o.calls = val()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--records" => o.records = val()?.parse().map_err(|e| format!("--records: {e}"))?,
            "--results" => o.results = PathBuf::from(val()?),
            "--logs" => o.logs = PathBuf::from(val()?),
            "--keep-logs" => o.keep_logs = true,
            "-h" | "--help" => return Err(String::new()),
            name if PEERS.iter().any(|p| p.0 == name) => o.loggers.push(name.to_owned()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(bad) = o.scenarios.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
        return Err(format!("unknown scenario {bad:?}"));
    }
    if o.loggers.is_empty() {
        o.loggers = PEERS.iter().map(|p| p.0.to_owned()).collect();
    }
    if o.scenarios.is_empty() {
        o.scenarios = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    }
    if o.calls < 1000 || o.records < 2 || o.rounds == 0 {
        return Err("--calls must be ≥ 1000, --records ≥ 2 and --rounds ≥ 1".into());
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("list") {
        for (name, config, flush) in PEERS {
            println!(
                "{name:<9} {config}\n          end-to-end: {flush}\n          default on full: {}",
                peers::default_policy(name)
            );
        }
        return;
    }
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    let again = args.first().map(String::as_str) == Some("summary");
    let opts = match parse(if again { &args[1..] } else { &args }) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if again {
        write_summary(&opts, &opts.results.join("runs"));
    } else {
        parent(&opts);
    }
}

// ============================================================== parent

fn parent(o: &Opts) {
    let runs = o.results.join("runs");
    std::fs::create_dir_all(&runs).expect("results dir");
    // Round files of an earlier run must not mix with this one's.
    for e in std::fs::read_dir(&runs).expect("results dir").flatten() {
        if e.path().extension().is_some_and(|x| x == "txt") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let exe = std::env::current_exe().expect("current exe");
    let t0 = Instant::now();
    // Rounds outermost: a burst of load on the shared machine then touches one round of
    // every logger rather than every round of one.
    for round in 1..=o.rounds {
        for logger in &o.loggers {
            for scenario in &o.scenarios {
                if scenario == "extras" && logger != "logkit" {
                    continue;
                }
                eprint!("round {round}/{} {logger:>9} {scenario:<8} … ", o.rounds);
                let started = Instant::now();
                let out = Command::new(&exe)
                    .args(["child", logger, scenario])
                    .args(["--calls", &o.calls.to_string(), "--records", &o.records.to_string()])
                    .arg("--results")
                    .arg(&o.results)
                    .arg("--logs")
                    .arg(&o.logs)
                    .args(o.keep_logs.then_some("--keep-logs"))
                    .output()
                    .expect("spawn child");
                let stdout = String::from_utf8_lossy(&out.stdout);
                let file = runs.join(format!("{logger}.{scenario}.r{round}.txt"));
                let mut text = stdout.clone().into_owned();
                if !out.status.success() {
                    text += &format!("status={}\nstderr={:?}\n", out.status, String::from_utf8_lossy(&out.stderr));
                }
                std::fs::write(&file, text).expect("write run");
                eprintln!(
                    "{:.1} s{}",
                    started.elapsed().as_secs_f64(),
                    if out.status.success() { String::new() } else { format!(" FAILED ({})", out.status) }
                );
            }
        }
    }
    eprintln!("all runs: {:.0} s", t0.elapsed().as_secs_f64());
    write_summary(o, &runs);
}

/// Writes `summary.md` and `summary.csv` from the run files in `runs`, and prints the
/// tables.
fn write_summary(o: &Opts, runs: &Path) {
    let summary = summarize(o, runs);
    std::fs::write(o.results.join("summary.md"), &summary.0).expect("write summary");
    std::fs::write(o.results.join("summary.csv"), &summary.1).expect("write csv");
    println!("{}", summary.0);
    println!("(tables: {}; per-run outputs: {})", o.results.join("summary.md").display(), runs.display());
}

type Metrics = BTreeMap<String, String>;

/// Every round of one logger and scenario, in round order; `None` if there is none or
/// any round failed.
fn read_rounds(runs: &Path, logger: &str, scenario: &str) -> Option<Vec<Metrics>> {
    let mut rounds = Vec::new();
    for round in 1.. {
        let Ok(text) = std::fs::read_to_string(runs.join(format!("{logger}.{scenario}.r{round}.txt"))) else { break };
        let m: Metrics = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        if m.contains_key("status") {
            return None;
        }
        rounds.push(m);
    }
    (!rounds.is_empty()).then_some(rounds)
}

/// One logger and scenario over all rounds: each numeric figure is the median of the
/// rounds' (the lower middle one for an even count), anything else the first round's.
fn read_run(runs: &Path, logger: &str, scenario: &str) -> Option<Metrics> {
    let rounds = read_rounds(runs, logger, scenario)?;
    let mut m = rounds[0].clone();
    for (k, v) in m.iter_mut() {
        let mut xs: Vec<f64> = rounds.iter().filter_map(|r| r.get(k)?.parse().ok()).collect();
        if xs.len() == rounds.len() && rounds.len() > 1 {
            xs.sort_by(f64::total_cmp);
            let mid = xs[(xs.len() - 1) / 2];
            *v = if v.contains('.') || mid.fract() != 0.0 { format!("{mid}") } else { format!("{mid:.0}") };
        }
    }
    Some(m)
}

/// One figure of every round, in round order.
fn per_round(runs: &Path, logger: &str, scenario: &str, key: &str) -> Vec<f64> {
    read_rounds(runs, logger, scenario).unwrap_or_default().iter().filter_map(|r| r.get(key)?.parse().ok()).collect()
}

fn num(m: Option<&Metrics>, key: &str) -> Option<f64> {
    m?.get(key)?.parse().ok()
}

fn ns(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.0}"))
}

fn mps(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.2}", v / 1e6))
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}×"))
}

/// Markdown tables and one CSV row per logger, from every run file present.
fn summarize(o: &Opts, runs: &Path) -> (String, String) {
    let all: Vec<&str> = PEERS.iter().map(|p| p.0).collect();
    let get = |l: &str, s: &str| read_run(runs, l, s);
    let lk_lat = get("logkit", "latency");
    let lk_p50 = num(lk_lat.as_ref(), "p50");

    let mut md = String::new();
    let _ = writeln!(
        md,
        "Every figure is the median of {} rounds; each round runs every logger and scenario once, in its own process.\n",
        o.rounds
    );
    let _ = writeln!(md, "### Caller latency (ns), one producer, one call per µs\n");
    let _ = writeln!(
        md,
        "| logger | timer floor p50 | p50 | p90 | p99 | p99.9 | p99.99 | max | p50 vs logkit | allocs/call | bytes/call | lost |"
    );
    let _ = writeln!(md, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for l in &all {
        let m = get(l, "latency");
        if m.is_none() {
            continue;
        }
        let m = m.as_ref();
        let p50 = num(m, "p50");
        let _ = writeln!(
            md,
            "| {l} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ns(num(m, "floor_p50")),
            ns(p50),
            ns(num(m, "p90")),
            ns(num(m, "p99")),
            ns(num(m, "p999")),
            ns(num(m, "p9999")),
            ns(num(m, "max")),
            ratio(p50.zip(lk_p50).map(|(a, b)| a / b)),
            num(m, "allocs_per_call").map_or("–".into(), |v| format!("{v:.2}")),
            num(m, "bytes_per_call").map_or("–".into(), |v| format!("{v:.0}")),
            ns(num(m, "lost")),
        );
    }

    // The best lossless peer: highest 1-producer end-to-end (with fdatasync) among the
    // peers that lost nothing in the lossless runs.
    let lossless = |l: &str| {
        ["tput1", "tput2"].iter().all(|s| num(get(l, s).as_ref(), "lost") == Some(0.0))
            && num(get(l, "latency").as_ref(), "lost").is_none_or(|v| v == 0.0)
    };
    let e2e = |l: &str, key: &str| num(get(l, "tput1").as_ref(), key);
    let best = |key: &str| {
        all.iter()
            .filter(|l| !l.starts_with("logkit") && lossless(l))
            .filter_map(|l| e2e(l, key).map(|v| (*l, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    let _ = writeln!(md, "\n### Throughput (M records/s), {} records per run\n", o.records);
    let _ = writeln!(
        md,
        "| logger | 1P producer | 1P end-to-end | 1P e2e + fdatasync | 2P producer | 2P end-to-end | 2P e2e + fdatasync | logkit ÷ this (1P e2e + fdatasync) | bytes/record | lost (lossless config) | lost (default config, 2P) | default config when full |"
    );
    let _ = writeln!(md, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let lk_e2e = e2e("logkit", "synced_rps");
    for l in &all {
        let (t1, t2, d) = (get(l, "tput1"), get(l, "tput2"), get(l, "default"));
        if t1.is_none() && t2.is_none() && d.is_none() {
            continue;
        }
        let lost: Vec<String> =
            [&t1, &t2].iter().filter_map(|m| num(m.as_ref(), "lost")).map(|v| format!("{v:.0}")).collect();
        let _ = writeln!(
            md,
            "| {l} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mps(num(t1.as_ref(), "produced_rps")),
            mps(num(t1.as_ref(), "flushed_rps")),
            mps(num(t1.as_ref(), "synced_rps")),
            mps(num(t2.as_ref(), "produced_rps")),
            mps(num(t2.as_ref(), "flushed_rps")),
            mps(num(t2.as_ref(), "synced_rps")),
            ratio(lk_e2e.zip(num(t1.as_ref(), "synced_rps")).map(|(a, b)| a / b)),
            num(t1.as_ref(), "bytes_per_record").map_or("–".into(), |v| format!("{v:.0}")),
            if lost.is_empty() { "–".into() } else { lost.join(" / ") },
            num(d.as_ref(), "lost").map_or("–".into(), |v| format!("{v:.0}")),
            peers::default_policy(l),
        );
    }
    if let Some((name, v)) = best("synced_rps") {
        let _ = writeln!(
            md,
            "\nBest lossless peer end to end (1 producer, with fdatasync): **{name}**, {:.2} M/s; logkit: {}.",
            v / 1e6,
            lk_e2e.map_or("–".into(), |l| format!("{:.2} M/s = {:.1}×", l / 1e6, l / v))
        );
        let rounds = |l: &str| {
            per_round(runs, l, "tput1", "synced_rps")
                .iter()
                .map(|v| format!("{:.2}", v / 1e6))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            md,
            "Per round (M/s, 1 producer, with fdatasync): logkit {}; {name} {}.",
            rounds("logkit"),
            rounds(name)
        );
        // Paired: a round runs every logger within a minute or two, so the ratio within a
        // round cancels most of the machine's drift between rounds.
        let (lk, peer) =
            (per_round(runs, "logkit", "tput1", "synced_rps"), per_round(runs, name, "tput1", "synced_rps"));
        let mut ratios: Vec<f64> = lk.iter().zip(&peer).map(|(a, b)| a / b).collect();
        if !ratios.is_empty() {
            let listed = ratios.iter().map(|r| format!("{r:.1}")).collect::<Vec<_>>().join(", ");
            ratios.sort_by(f64::total_cmp);
            let _ = writeln!(
                md,
                "logkit ÷ {name} within each round: {listed} (median {:.1}×).",
                ratios[(ratios.len() - 1) / 2]
            );
        }
    }
    if let Some((name, v)) = best("flushed_rps") {
        let lk = e2e("logkit", "flushed_rps");
        let _ = writeln!(
            md,
            "Best lossless peer end to end (1 producer, to the page cache): **{name}**, {:.2} M/s; logkit (its flush fdatasyncs): {}.",
            v / 1e6,
            lk.map_or("–".into(), |l| format!("{:.2} M/s = {:.1}×", l / 1e6, l / v))
        );
    }
    let lowest = all
        .iter()
        .filter(|l| !l.starts_with("logkit") && lossless(l))
        .filter_map(|l| num(get(l, "latency").as_ref(), "p50").map(|v| (*l, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some((name, v)), Some(lk)) = (lowest, lk_p50) {
        let _ = writeln!(
            md,
            "Lowest p50 among lossless peers: **{name}**, {v:.0} ns; logkit {lk:.0} ns = {:.1}× lower.",
            v / lk
        );
    }
    if let Some(x) = get("logkit", "extras") {
        let _ = writeln!(
            md,
            "\nlogkit only: disabled `debug!` {} ns/call, sampled-out `info!` {} ns/call (tight-loop means), idle writer {}% of a core over {} s.",
            x.get("disabled_ns").map_or("–", String::as_str),
            x.get("sampled_out_ns").map_or("–", String::as_str),
            x.get("idle_cpu_pct").map_or("–", String::as_str),
            x.get("idle_secs").map_or("–", String::as_str),
        );
    }
    let loads: Vec<f64> = all
        .iter()
        .flat_map(|l| SCENARIOS.iter().map(move |s| (l, s)))
        .filter_map(|(l, s)| get(l, s))
        .flat_map(|m| ["load_before", "load_after"].map(|k| m.get(k).and_then(|v| v.parse().ok())))
        .flatten()
        .collect();
    if !loads.is_empty() {
        let _ = writeln!(
            md,
            "\n1-minute load average seen around the runs: {:.2} to {:.2} (2 cores; above ~1 other work shared the machine).",
            loads.iter().copied().fold(f64::INFINITY, f64::min),
            loads.iter().copied().fold(0.0, f64::max)
        );
    }
    let _ = writeln!(md, "\nSample record per logger (first line of its latency run):\n");
    for l in &all {
        if let Some(s) = get(l, "latency").and_then(|m| m.get("sample").cloned()) {
            let _ = writeln!(md, "- {l}: `{s}`");
        }
    }

    let keys = [
        ("latency", "floor_p50"),
        ("latency", "p50"),
        ("latency", "p90"),
        ("latency", "p99"),
        ("latency", "p999"),
        ("latency", "p9999"),
        ("latency", "max"),
        ("latency", "allocs_per_call"),
        ("latency", "bytes_per_call"),
        ("tput1", "produced_rps"),
        ("tput1", "flushed_rps"),
        ("tput1", "synced_rps"),
        ("tput1", "lost"),
        ("tput2", "produced_rps"),
        ("tput2", "flushed_rps"),
        ("tput2", "synced_rps"),
        ("tput2", "lost"),
        ("default", "lost"),
    ];
    let mut csv = String::from("logger");
    for (s, k) in keys {
        let _ = write!(csv, ",{s}_{k}");
    }
    csv.push('\n');
    for l in &all {
        let row: Vec<String> =
            keys.iter().map(|(s, k)| get(l, s).and_then(|m| m.get(*k).cloned()).unwrap_or_default()).collect();
        if row.iter().all(String::is_empty) {
            continue;
        }
        let _ = writeln!(csv, "{l},{}", row.join(","));
    }
    (md, csv)
}

// ============================================================== child

fn child(args: &[String]) {
    let (logger, scenario) = (args[0].clone(), args[1].clone());
    let o = parse(&args[2..]).unwrap_or_else(|e| panic!("child args: {e}"));
    match logger.as_str() {
        "logkit" => run::<peers::Logkit>(&logger, &scenario, &o),
        "logkit_tracing" => run::<peers::LogkitTracing>(&logger, &scenario, &o),
        "tracing" => run::<peers::Tracing>(&logger, &scenario, &o),
        "slog" => run::<peers::Slog>(&logger, &scenario, &o),
        "ftlog" => run::<peers::Ftlog>(&logger, &scenario, &o),
        "spdlog" => run::<peers::Spdlog>(&logger, &scenario, &o),
        "fast_log" => run::<peers::FastLog>(&logger, &scenario, &o),
        "baseline" => run::<peers::Baseline>(&logger, &scenario, &o),
        other => panic!("unknown logger {other}"),
    }
}

fn kv(k: &str, v: impl std::fmt::Display) {
    println!("{k}={v}");
}

fn run<P: Peer>(name: &str, scenario: &str, o: &Opts) {
    let dir = o.logs.join(format!("{name}-{scenario}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("log dir");
    kv("logger", name);
    kv("scenario", scenario);
    kv("load_before", loadavg());
    let expected = match scenario {
        "latency" => latency::<P>(name, &dir, o),
        "tput1" => throughput::<P>(&dir, 1, o.records, Mode::Lossless),
        "tput2" => throughput::<P>(&dir, 2, o.records, Mode::Lossless),
        "default" => throughput::<P>(&dir, 2, o.records, Mode::Default),
        "extras" => {
            extras(&dir);
            0
        }
        other => panic!("unknown scenario {other}"),
    };
    if scenario != "extras" {
        let c = census(&dir);
        kv("expected", expected);
        kv("records", c.records);
        kv("lost", expected.saturating_sub(c.records));
        kv("lines", c.lines);
        kv("not_json", c.not_json);
        kv("files", c.files);
        kv("bytes_per_record", format!("{:.1}", c.bytes as f64 / c.records.max(1) as f64));
        kv("sample", &c.sample);
    }
    kv("load_after", loadavg());
    if !o.keep_logs {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The 1-minute load average: other work on this 2-core machine shows up here.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split(' ').next().map(str::to_owned))
        .unwrap_or_default()
}

/// One producer (this thread) paced at one call per µs: `o.calls` timed calls after
/// a tenth as many untimed ones. Returns the number of records logged.
fn latency<P: Peer>(name: &str, dir: &Path, o: &Opts) -> u64 {
    let peer = P::install(dir, Mode::Lossless);
    let npt = ns_per_tick();
    let floor = Dist::new(paced(o.calls, 0, |_| {}), npt);
    let warm = o.calls / 10;
    let mut p = peer.producer(Ids::new(0));
    paced(warm, 0, |i| P::log(&mut p, i));
    // Touch the samples' pages now, so that no page fault of ours lands in the timed loop.
    let mut lat = vec![1u64; o.calls];
    lat.clear();
    let (faults0, switches0) = thread_faults();
    let ((), allocs, bytes) = count_allocs(|| paced_into(&mut lat, o.calls, warm as u64, |i| P::log(&mut p, i)));
    let (faults1, switches1) = thread_faults();
    drop(p);
    peer.finish();
    let d = Dist::new(lat, npt);
    kv("minor_faults_per_1k_calls", format!("{:.2}", (faults1 - faults0) as f64 * 1000.0 / o.calls as f64));
    kv("involuntary_switches_per_1k_calls", format!("{:.2}", (switches1 - switches0) as f64 * 1000.0 / o.calls as f64));
    kv("ns_per_tick", format!("{npt:.5}"));
    kv("n", d.len());
    for (k, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("p9999", 0.9999), ("max", 1.0)] {
        kv(&format!("floor_{k}"), format!("{:.1}", floor.q(q)));
        kv(k, format!("{:.1}", d.q(q)));
    }
    kv("allocs_per_call", format!("{:.3}", allocs as f64 / o.calls as f64));
    kv("bytes_per_call", format!("{:.1}", bytes as f64 / o.calls as f64));
    std::fs::create_dir_all(&o.results).expect("results dir");
    std::fs::write(o.results.join(format!("latency_{name}.csv")), d.csv()).expect("write csv");
    std::fs::write(o.results.join("latency_timer-floor.csv"), floor.csv()).expect("write csv");
    (warm + o.calls) as u64
}

/// `threads` producers log `records` records in all, as fast as they can. Producer
/// rate: until the last producer returns from its last call; end to end: until the
/// logger's own flush returns, then until the harness has fdatasynced the files.
fn throughput<P: Peer>(dir: &Path, threads: u64, records: u64, mode: Mode) -> u64 {
    let peer = P::install(dir, mode);
    let per = records / threads;
    let start = Instant::now();
    let ends: Vec<Instant> = std::thread::scope(|s| {
        let peer = &peer;
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut p = peer.producer(Ids::new(t));
                    for i in t * per..(t + 1) * per {
                        P::log(&mut p, i);
                    }
                    drop(p);
                    Instant::now()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("producer")).collect()
    });
    let produced = ends.into_iter().max().expect("a producer") - start;
    peer.finish();
    let flushed = start.elapsed();
    sync_all(dir);
    let synced = start.elapsed();
    let n = (per * threads) as f64;
    kv("threads", threads);
    kv("mode", format!("{mode:?}"));
    kv("produced_s", format!("{:.4}", produced.as_secs_f64()));
    kv("flushed_s", format!("{:.4}", flushed.as_secs_f64()));
    kv("synced_s", format!("{:.4}", synced.as_secs_f64()));
    kv("produced_rps", format!("{:.0}", n / produced.as_secs_f64()));
    kv("flushed_rps", format!("{:.0}", n / flushed.as_secs_f64()));
    kv("synced_rps", format!("{:.0}", n / synced.as_secs_f64()));
    per * threads
}

/// logkit only: the cost of a call that is filtered out (level, then sampling), as a
/// tight-loop mean, and the writer's CPU while nothing is logged.
fn extras(dir: &Path) {
    let _peer = peers::Logkit::install(dir, Mode::Lossless);
    let n = 100_000_000u64;
    let t = Instant::now();
    for i in 0..n {
        logkit::debug!(i = black_box(i), "off");
    }
    kv("disabled_ns", format!("{:.2}", t.elapsed().as_nanos() as f64 / n as f64));
    logkit::set_sample(0.0).expect("set_sample");
    let t = Instant::now();
    for i in 0..n {
        logkit::info!(i = black_box(i), "sampled out");
    }
    kv("sampled_out_ns", format!("{:.2}", t.elapsed().as_nanos() as f64 / n as f64));
    logkit::set_sample(1.0).expect("set_sample");
    logkit::info!("warm");
    logkit::flush();
    std::thread::sleep(Duration::from_secs(1));
    let secs = 5;
    let (c0, t0) = (process_cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (c1, wall) = (process_cpu(), t0.elapsed());
    // The main thread sleeps throughout: the process's CPU time is the writer's.
    kv("idle_secs", secs);
    kv("idle_cpu_pct", format!("{:.2}", (c1 - c0).as_secs_f64() / wall.as_secs_f64() * 100.0));
}

/// This thread's minor page faults and involuntary context switches so far.
fn thread_faults() -> (i64, i64) {
    // SAFETY: `rusage` is plain data, so all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` that outlives the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    (ru.ru_minflt, ru.ru_nivcsw)
}

/// User + system CPU time of the whole process.
fn process_cpu() -> Duration {
    // SAFETY: `rusage` is plain data, so all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage` that outlives the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
