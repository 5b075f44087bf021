//! What OTLP export costs (issue 14): logkit with `LOG_OTLP` unset, logkit with
//! `LOG_OTLP` pointing at a `rotel` collector on 127.0.0.1, and the OpenTelemetry SDK's
//! batch log exporter (`opentelemetry-otlp`, OTLP/HTTP protobuf, through
//! `opentelemetry-appender-tracing`) to the same rotel, on the same records (the peers'
//! `order filled` record: an integer, a float, a string and a bool).
//!
//! ```sh
//! cargo run --release --manifest-path peers/Cargo.toml --bin otlp -- --rounds 3 --no-count
//! cargo run --release --manifest-path peers/Cargo.toml --bin otlp -- --rounds 1
//! ```
//!
//! rotel is `$LOGKIT_ROTEL`, else the venv `.ci/run` installs
//! (`~/.cache/logkit/rotel-0.0.1a15`); it runs with `--exporter blackhole` and, unless
//! `--no-count`, a Python processor that counts the log records it receives
//! (`otlp_count.py`), so that what arrived is known for each process (the processor
//! slows rotel down: rates are measured with `--no-count`). Each setup runs in its own
//! process, one after the other, in each round; the table shows the median of the
//! rounds. Three phases per process:
//!
//! 1. **caller latency**: `CALLS` calls paced one per 2 µs (500 k records/s, a load the
//!    exporters can follow), each timed with `Instant::now()` (whose own cost, the
//!    "timer floor", is printed too); p50, p99, p99.9.
//! 2. **burst**: `BURST` records as fast as the caller goes, then the logger's flush
//!    (logkit: `logkit::flush()`, which also waits up to 2 s for a healthy exporter;
//!    OpenTelemetry: `force_flush()`); records / (logging + flush). With `LOG_OTLP` set
//!    and nothing lost, that is the rate at which the records reached rotel.
//! 3. **sustained**: `RECORDS` records as fast as the caller goes, then the flush; the
//!    caller's rate (bounded by the file writer: logkit blocks the caller when its ring
//!    is full) and, for logkit, what it exported: what it did not count as
//!    `logkit.lost` (its exporter's queue is capped at 32 MiB). The OpenTelemetry batch
//!    processor drops what does not fit its queue (2048 by default) without counting
//!    it; only rotel's count tells.
//!
//! Each process also prints its threads' CPU time (`cpu_s[thread]`).

// The peers' record (`peers::order_filled!`) and its values.
#[path = "../peers.rs"]
#[allow(dead_code)]
mod peers;
#[path = "../util.rs"]
#[allow(dead_code)]
mod util;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CALLS: usize = 200_000;
const WARM: usize = 20_000;
const BURST: u64 = 200_000;
const RECORDS: u64 = 2_000_000;
const PACE: Duration = Duration::from_micros(2);
const PEERS: [&str; 3] = ["logkit", "logkit-otlp", "otel"];

fn kv(k: &str, v: impl std::fmt::Display) {
    println!("{k}={v}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("logkit") => run_logkit(false),
        Some("logkit-otlp") => run_logkit(true),
        Some("otel") => run_otel(),
        _ => orchestrate(&args),
    }
}

// ---------------------------------------------------------------- the phases

/// The three phases over `log`, with `flush` as the logger's flush.
/// `lost` tells what the logger counted as not exported so far, if it counts.
fn phases(mut log: impl FnMut(u64), mut flush: impl FnMut(), mut lost: impl FnMut() -> Option<u64>) {
    // The timer's own cost.
    let mut floor = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let t = Instant::now();
        black_box(());
        floor.push(t.elapsed().as_nanos() as u64);
    }
    for i in 0..WARM as u64 {
        log(i);
    }
    flush();
    let mut lat = Vec::with_capacity(CALLS);
    let mut next = Instant::now();
    for i in 0..CALLS as u64 {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        next += PACE;
        let t = Instant::now();
        log(i);
        lat.push(t.elapsed().as_nanos() as u64);
    }
    flush();
    floor.sort_unstable();
    lat.sort_unstable();
    let q = |v: &[u64], q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    kv("floor_p50_ns", q(&floor, 0.5));
    kv("p50_ns", q(&lat, 0.5));
    kv("p99_ns", q(&lat, 0.99));
    kv("p999_ns", q(&lat, 0.999));

    let t = Instant::now();
    for i in 0..BURST {
        log(i);
    }
    let produced = t.elapsed();
    flush();
    let flushed = t.elapsed();
    kv("burst_produced_s", format!("{:.4}", produced.as_secs_f64()));
    kv("burst_flushed_s", format!("{:.4}", flushed.as_secs_f64()));
    kv("burst_rps", format!("{:.0}", BURST as f64 / flushed.as_secs_f64()));

    let lost_before = lost();
    let t = Instant::now();
    for i in 0..RECORDS {
        log(i);
    }
    let produced = t.elapsed();
    flush();
    let flushed = t.elapsed();
    kv("sustained_produced_s", format!("{:.4}", produced.as_secs_f64()));
    kv("sustained_flushed_s", format!("{:.4}", flushed.as_secs_f64()));
    kv("sustained_produced_rps", format!("{:.0}", RECORDS as f64 / produced.as_secs_f64()));
    kv("sustained_flushed_rps", format!("{:.0}", RECORDS as f64 / flushed.as_secs_f64()));
    let lost = lost().zip(lost_before).map(|(a, b)| a - b);
    if let Some(lost) = lost {
        kv("sustained_lost", lost);
        kv("sustained_exported_rps", format!("{:.0}", (RECORDS - lost) as f64 / flushed.as_secs_f64()));
    }
    kv("logged", WARM as u64 + CALLS as u64 + BURST + RECORDS);
    for (name, cpu) in thread_cpu() {
        kv(&format!("cpu_s[{name}]"), format!("{cpu:.2}"));
    }
}

/// CPU seconds (user + system) of each thread of this process so far, by name.
fn thread_cpu() -> Vec<(String, f64)> {
    // SAFETY: `sysconf` only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut out: Vec<(String, f64)> = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default().trim().to_owned();
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the `(comm)`: state is field 3; utime and stime are 14 and 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i - 3).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        let cpu = (ticks(14) + ticks(15)) / hz;
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 += cpu,
            None => out.push((name, cpu)),
        }
    }
    out
}

// ---------------------------------------------------------------- logkit

fn run_logkit(otlp: bool) {
    let dir = PathBuf::from(std::env::var("BENCH_DIR").expect("BENCH_DIR"));
    let mut cfg =
        logkit::Config::default().file(dir.join("run.log")).console(logkit::Console::Off).rotate_bytes(0).level("info");
    if otlp {
        cfg = cfg.otlp(std::env::var("BENCH_OTLP").expect("BENCH_OTLP"));
    }
    let guard = cfg.init().expect("logkit init");
    let _ = logkit::new_context!();
    let span = logkit::span!("handle");
    phases(|i| peers::order_filled!(logkit, i), logkit::flush, || Some(lost_otlp(&dir.join("run.log"))));
    drop(span);
    drop(guard);
    logkit::flush();
    kv("lost_before_exit", lost_otlp(&dir.join("run.log")));
}

/// The `lost` counts of the `logkit.lost` records for the sink `otlp` in `log`.
fn lost_otlp(log: &Path) -> u64 {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains("\"logkit.lost\"") && l.contains("\"sink\":\"otlp\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["lost"].as_u64())
        .sum()
}

// ---------------------------------------------------------------- OpenTelemetry

fn run_otel() {
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let base = std::env::var("BENCH_OTLP").expect("BENCH_OTLP");
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{base}/v1/logs"))
        .with_headers(Default::default())
        .build()
        .expect("otlp log exporter");
    let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name("otel-peer").build())
        .with_batch_exporter(exporter)
        .build();
    let bridge = opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&provider);
    tracing_subscriber::registry().with(bridge).init();
    phases(
        |i| peers::order_filled!(tracing, i),
        || {
            let _ = provider.force_flush();
        },
        || None,
    );
    let _ = provider.shutdown();
}

// ---------------------------------------------------------------- the run

struct Rotel {
    /// `None` for the null collector (`--null`), a thread of this process.
    child: Option<Child>,
    url: String,
    count: PathBuf,
    counting: bool,
}

impl Drop for Rotel {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn rotel_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LOGKIT_ROTEL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME");
    let p = Path::new(&home).join(".cache/logkit/rotel-0.0.1a15/lib/python3.11/site-packages/rotel/rotel-agent");
    assert!(p.exists(), "rotel not found: set LOGKIT_ROTEL or run the rotel part of .ci/run");
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn start_rotel(dir: &Path, counting: bool) -> Rotel {
    let processor = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/otlp_count.py");
    let (http, grpc) = (free_port(), free_port());
    let count = dir.join("rotel.count");
    let mut rotel = Command::new(rotel_binary());
    rotel
        .arg("start")
        .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
        .args(["--exporter", "blackhole"]);
    if counting {
        rotel.arg("--otlp-with-logs-processor").arg(&processor);
    }
    let child = rotel
        .arg("--pid-file")
        .arg(dir.join("rotel.pid"))
        .arg("--log-file")
        .arg(dir.join("rotel.log"))
        .env("LOGKIT_BENCH_COUNT", &count)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rotel");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "rotel does not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Rotel { child: Some(child), url: format!("http://127.0.0.1:{http}"), count, counting }
}

/// A collector that reads each request whole and answers 200 without decoding it
/// (`--null`): what the exporter can send when the receiver costs next to nothing.
fn start_null() -> Rotel {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || null_connection(conn));
        }
    });
    Rotel { child: None, url, count: PathBuf::new(), counting: false }
}

fn null_connection(conn: std::net::TcpStream) {
    use std::io::{BufRead, Read, Write};
    let mut w = conn.try_clone().expect("clone");
    let mut r = std::io::BufReader::new(conn);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() || w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

/// The collector process's CPU time so far, in seconds (0 for the null collector).
fn collector_cpu(rotel: &Rotel) -> f64 {
    let Some(c) = &rotel.child else { return 0.0 };
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", c.id())).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12].iter().filter_map(|&i| f.get(i)?.parse::<f64>().ok()).sum();
    ticks / 100.0
}

/// What rotel's processor counted so far.
fn received(count: &Path) -> u64 {
    std::fs::read_to_string(count).unwrap_or_default().lines().filter_map(|l| l.trim().parse::<u64>().ok()).sum()
}

/// rotel's count once it stopped growing (its processor runs on its own schedule).
fn settled(count: &Path) -> u64 {
    let mut last = received(count);
    loop {
        std::thread::sleep(Duration::from_millis(1500));
        let now = received(count);
        if now == last {
            return now;
        }
        last = now;
    }
}

fn run_child(peer: &str, rotel: &Rotel) -> Vec<(String, String)> {
    let dir = tempdir();
    let _ = std::fs::remove_file(&rotel.count);
    let cpu_before = collector_cpu(rotel);
    let out = Command::new(std::env::current_exe().expect("exe"))
        .arg(peer)
        .env("BENCH_DIR", &dir)
        .env("BENCH_OTLP", &rotel.url)
        .env_remove("LOG_OTLP")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("run peer");
    assert!(out.status.success(), "{peer}: {}", String::from_utf8_lossy(&out.stderr));
    let mut kvs: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    if rotel.counting {
        kvs.push(("received".into(), settled(&rotel.count).to_string()));
    }
    kvs.push(("collector_cpu_s".into(), format!("{:.2}", collector_cpu(rotel) - cpu_before)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("{peer} stderr: {}", stderr.trim());
    }
    let _ = std::fs::remove_dir_all(&dir);
    kvs
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("logkit-otlp-bench-{}-{}", std::process::id(), fastrand_u64()));
    std::fs::create_dir_all(&d).expect("tempdir");
    d
}

fn fastrand_u64() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn orchestrate(args: &[String]) {
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let null = args.iter().any(|a| a == "--null");
    let counting = !null && !args.iter().any(|a| a == "--no-count");
    let dir = tempdir();
    let rotel = if null { start_null() } else { start_rotel(&dir, counting) };
    let mut runs: Vec<Vec<Vec<(String, String)>>> = vec![Vec::new(); PEERS.len()];
    for round in 0..rounds {
        for (p, peer) in PEERS.iter().enumerate() {
            let kvs = run_child(peer, &rotel);
            println!(
                "round {round} {peer}: {}",
                kvs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
            );
            runs[p].push(kvs);
        }
    }
    drop(rotel);
    let _ = std::fs::remove_dir_all(&dir);
    let med = |p: usize, key: &str| -> Option<f64> {
        let mut v: Vec<f64> = runs[p]
            .iter()
            .filter_map(|r| r.iter().find(|(k, _)| k == key))
            .filter_map(|(_, v)| v.parse().ok())
            .collect();
        v.sort_by(f64::total_cmp);
        (!v.is_empty()).then(|| v[v.len() / 2])
    };
    let rounds_of = |p: usize, key: &str| -> String {
        runs[p]
            .iter()
            .filter_map(|r| r.iter().find(|(k, _)| k == key))
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!();
    println!(
        "| peer | p50 ns | p99 ns | p99.9 ns (rounds) | burst → flushed, M/s | sustained caller, M/s (rounds) | sustained exported, M/s | sustained lost | exporter CPU, µs per exported record | collector CPU, µs per exported record | received by rotel |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (p, peer) in PEERS.iter().enumerate() {
        let f = |k: &str, scale: f64, prec: usize| med(p, k).map_or("–".into(), |v| format!("{:.prec$}", v / scale));
        // The exporter's threads: logkit's `logkit-otlp` (encoder) and `logkit-otlp-tx`
        // (sender); the SDK's batch processor thread.
        let cpu_prefix = if peer.starts_with("logkit") { "cpu_s[logkit-otlp" } else { "cpu_s[OpenTelemetry.L" };
        let per_exported = |key_of: &dyn Fn(&str) -> bool| {
            let mut v: Vec<f64> = runs[p]
                .iter()
                .filter_map(|r| {
                    let get = |k: &str| r.iter().find(|(a, _)| a == k).and_then(|(_, v)| v.parse::<f64>().ok());
                    // What rotel counted, else (logkit) what logkit did not count lost;
                    // the SDK does not count what it drops.
                    let exported = match get("received").filter(|&n| n > 0.0) {
                        Some(n) => n,
                        None => get("logged")? - get("lost_before_exit")?,
                    };
                    let cpu: f64 = r.iter().filter(|(k, _)| key_of(k)).filter_map(|(_, v)| v.parse::<f64>().ok()).sum();
                    (cpu > 0.0).then(|| cpu / exported * 1e6)
                })
                .collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).map_or("–".into(), |x| format!("{x:.2}"))
        };
        let per_record = per_exported(&|k| k.starts_with(cpu_prefix));
        let collector_per_record = per_exported(&|k| k == "collector_cpu_s");
        println!(
            "| {peer} | {} | {} | {} ({}) | {} | {} ({}) | {} | {} | {} | {} | {} |",
            f("p50_ns", 1.0, 0),
            f("p99_ns", 1.0, 0),
            f("p999_ns", 1.0, 0),
            rounds_of(p, "p999_ns"),
            f("burst_rps", 1e6, 2),
            f("sustained_produced_rps", 1e6, 2),
            rounds_of(p, "sustained_produced_rps"),
            f("sustained_exported_rps", 1e6, 2),
            f("sustained_lost", 1.0, 0),
            per_record,
            collector_per_record,
            f("received", 1.0, 0),
        );
    }
    println!("\ntimer floor p50: {} ns", med(0, "floor_p50_ns").unwrap_or(0.0));
}
