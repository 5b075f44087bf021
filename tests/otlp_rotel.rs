//! End to end against a real OpenTelemetry collector: `rotel` (PyPI, pinned in
//! `.ci/run`) on 127.0.0.1, with a Python processor (`otlp_rotel/processor.py`) that
//! writes every log record and span it receives to JSONL. A child process logs records
//! with typed fields, nested spans, a failed span and a panic with `LOG_OTLP` pointing
//! at rotel, once over `http/protobuf` and once over `http/json`; every record and
//! span must arrive with the ids, times, severities and attributes of `run.log`.
//!
//! rotel is found through `LOGKIT_ROTEL` (the `rotel-agent` binary), else in the venv
//! `.ci/run` installs (`~/.cache/logkit/rotel-0.0.1a15`). If it is in neither place the
//! test fails, unless `LOGKIT_SKIP_ROTEL=1` says to skip it (`.ci/run` never sets it).
#![cfg(feature = "otlp")]
mod common;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The pinned rotel release (also in `.ci/run`).
const ROTEL_VERSION: &str = "0.0.1a15";

fn rotel_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LOGKIT_ROTEL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home)
        .join(format!(".cache/logkit/rotel-{ROTEL_VERSION}"))
        .join("lib/python3.11/site-packages/rotel/rotel-agent");
    p.exists().then_some(p)
}

/// A running rotel, killed on drop.
struct Rotel {
    child: Child,
    port: u16,
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn start_rotel(bin: &Path, dir: &Path) -> Rotel {
    let processor = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp_rotel/processor.py");
    let (http, grpc) = (free_port(), free_port());
    let child = Command::new(bin)
        .arg("start")
        .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
        .args(["--exporter", "blackhole"])
        .arg("--otlp-with-logs-processor")
        .arg(&processor)
        .arg("--otlp-with-trace-processor")
        .arg(&processor)
        .arg("--pid-file")
        .arg(dir.join("rotel.pid"))
        .arg("--log-file")
        .arg(dir.join("rotel.log"))
        .env("LOGKIT_ROTEL_OUT", dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("rotel.stderr")).expect("rotel stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start rotel at {}: {e}", bin.display()));
    let mut rotel = Rotel { child, port: http };
    // Readiness: rotel answers within a few tens of ms; give it up to 30 s on a busy
    // machine before calling it broken.
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", http)).is_err() {
        if let Ok(Some(status)) = rotel.child.try_wait() {
            let err = std::fs::read_to_string(dir.join("rotel.stderr")).unwrap_or_default();
            panic!("rotel exited at start ({status}):\n{err}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "rotel does not listen on 127.0.0.1:{http}");
        std::thread::sleep(Duration::from_millis(20));
    }
    rotel.port = http;
    rotel
}

#[derive(Debug)]
struct Oops;
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk on fire")
    }
}
impl std::error::Error for Oops {}

/// The child's program: typed fields, nested spans, a failed span, a caught panic.
fn workload() {
    logkit::new_context!(user = "u1");
    logkit::info!(order_id = 42, price = 1.5, ok = true, symbol = "BTC", "order filled");
    logkit::debug!(n = -7, "a debug record");
    logkit::warn!("a warning");
    {
        let _outer = logkit::span!("outer", shard = 3);
        {
            let _inner = logkit::span!("inner");
            logkit::info!("inside inner");
        }
        let failed = logkit::span!("failing");
        failed.fail(&Oops);
        drop(failed);
        let r = std::panic::catch_unwind(|| {
            let _s = logkit::span!("panicking");
            panic!("boom");
        });
        assert!(r.is_err());
    }
    logkit::error!(code = 500, "an error record");
    if std::env::var("LOG_OTLP_PROTOCOL").as_deref() == Ok("http/json") {
        // What a strict collector could refuse in OTLP/JSON. (Not over protobuf: the
        // processor's `json.dumps` would write a NaN double as a bare `NaN`.)
        odd_values();
    }
}

/// A record with values that have no plain JSON form in OTLP: NaN, an integer beyond
/// `int64`, a nested value.
fn odd_values() {
    #[cfg(feature = "serde")]
    let value = serde_json::json!({"a": [1, "x"], "b": {"c": true}});
    #[cfg(feature = "serde")]
    let nested = logkit::Serde(&value);
    #[cfg(not(feature = "serde"))]
    let nested = "no serde";
    logkit::info!(ratio = f64::NAN, big = u64::MAX, min = i64::MIN, nested = nested, "odd values");
}

fn read_jsonl_if_any(p: &Path) -> Vec<Value> {
    match std::fs::read_to_string(p) {
        Ok(t) => common::parse_jsonl(&t),
        Err(_) => Vec::new(),
    }
}

/// Unix nanoseconds of a record's `timestamp` (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).
fn unix_ns(ts: &str) -> u64 {
    let n = |a: usize, b: usize| ts[a..b].parse::<i64>().expect("a timestamp digit");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    (secs as u64) * 1_000_000_000 + (n(20, 26) as u64) * 1000
}

fn severity(level: &str) -> i64 {
    match level {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warning" => 13,
        "error" => 17,
        other => panic!("level {other}"),
    }
}

#[test]
fn records_and_spans_reach_rotel_with_the_ids_times_and_attributes_of_run_log() {
    const NAME: &str = "records_and_spans_reach_rotel_with_the_ids_times_and_attributes_of_run_log";
    if common::is_child(NAME) {
        workload();
        return;
    }
    reach_rotel(NAME, "http/protobuf");
}

#[test]
fn over_http_json_records_and_spans_reach_rotel_with_the_ids_times_and_attributes_of_run_log() {
    const NAME: &str = "over_http_json_records_and_spans_reach_rotel_with_the_ids_times_and_attributes_of_run_log";
    if common::is_child(NAME) {
        workload();
        return;
    }
    reach_rotel(NAME, "http/json");
}

/// Runs the workload in a child exporting to rotel with `protocol`, and compares what
/// rotel received with `run.log`.
fn reach_rotel(name: &str, protocol: &str) {
    let Some(bin) = rotel_binary() else {
        if std::env::var("LOGKIT_SKIP_ROTEL").as_deref() == Ok("1") {
            eprintln!("skipped: rotel not installed and LOGKIT_SKIP_ROTEL=1");
            return;
        }
        panic!(
            "rotel {ROTEL_VERSION} not found: set LOGKIT_ROTEL to its rotel-agent, or install it with \
             `python3 -m venv ~/.cache/logkit/rotel-{ROTEL_VERSION} && ~/.cache/logkit/rotel-{ROTEL_VERSION}/bin/pip \
             install rotel=={ROTEL_VERSION}` (as .ci/run does), or set LOGKIT_SKIP_ROTEL=1 to skip this test"
        );
    };
    let dir = common::tempdir();
    let rotel = start_rotel(&bin, dir.path());
    let app = dir.path().join("app");
    std::fs::create_dir(&app).expect("app dir");
    let mut c = common::child(name, &app);
    c.env("LOG_OTLP", format!("http://127.0.0.1:{}", rotel.port))
        .env("LOG_OTLP_PROTOCOL", protocol)
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env("LOG_LEVEL", "debug")
        .env("OTEL_SERVICE_NAME", "logkit-e2e")
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test");
    let out = common::run(c);
    common::assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("logkit: otlp"), "no export error ({protocol}):\n{stderr}");

    let local = common::read_jsonl(&app.join("run.log"));
    let want_logs: Vec<&Value> = local
        .iter()
        .filter(|r| {
            r["event"] != "END" && r["event"] != "START" && !r["event"].as_str().unwrap_or("").starts_with("logkit.")
        })
        .collect();
    let want_spans = common::ends(&local);
    assert_eq!(want_spans.len(), 4, "outer, inner, failing, panicking");

    // rotel hands batches to its processor on its own schedule: wait (bounded) until
    // everything arrived.
    let start = Instant::now();
    let (logs, spans) = loop {
        let logs = read_jsonl_if_any(&dir.path().join("logs.jsonl"));
        let spans = read_jsonl_if_any(&dir.path().join("spans.jsonl"));
        if logs.len() >= want_logs.len() && spans.len() >= want_spans.len() {
            break (logs, spans);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "rotel received {} of {} log records and {} of {} spans",
            logs.len(),
            want_logs.len(),
            spans.len(),
            want_spans.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(rotel);
    assert_eq!((logs.len(), spans.len()), (want_logs.len(), want_spans.len()), "each exactly once");

    let res = &logs[0]["resource"];
    assert_eq!(res["service.name"], "logkit-e2e");
    assert_eq!(res["telemetry.sdk.name"], "logkit");
    assert_eq!(res["telemetry.sdk.language"], "rust");
    assert_eq!(res["deployment.environment"], "test");
    assert_eq!(res["process.pid"].as_str().map(|p| p.parse::<u32>().is_ok()), Some(true));

    let by_body: HashMap<&str, &Value> = logs.iter().map(|l| (l["body"].as_str().unwrap_or(""), l)).collect();
    for r in &want_logs {
        let event = r["event"].as_str().expect("event");
        let got = by_body.get(event).unwrap_or_else(|| panic!("{event:?} did not reach rotel: {logs:#?}"));
        assert_eq!(got["trace_id"], r["trace_id"], "{event}");
        assert_eq!(got["span_id"].as_str().unwrap_or(""), r["span_id"].as_str().unwrap_or(""), "{event}");
        assert_eq!(
            got["time_unix_nano"].as_u64().map(|t| t / 1000 * 1000),
            Some(unix_ns(r["timestamp"].as_str().unwrap())),
            "{event}"
        );
        assert_eq!(got["severity_number"].as_i64(), Some(severity(r["level"].as_str().unwrap())), "{event}");
        assert_eq!(got["severity_text"], r["level"], "{event}");
        assert_eq!(got["attributes"]["user"], "u1", "{event}: bound context");
        assert_eq!(got["scope"], r["target"], "{event}: the target is the scope");
    }
    let filled = &by_body["order filled"]["attributes"];
    assert_eq!(
        (&filled["order_id"], &filled["price"], &filled["ok"], &filled["symbol"]),
        (&serde_json::json!(42), &serde_json::json!(1.5), &serde_json::json!(true), &serde_json::json!("BTC")),
        "typed attributes"
    );
    assert_eq!(by_body["a debug record"]["attributes"]["n"], -7);
    if protocol == "http/json" {
        let odd = &by_body["odd values"]["attributes"];
        assert_eq!((&odd["ratio"], &odd["big"]), (&serde_json::json!("NaN"), &serde_json::json!(u64::MAX.to_string())));
        assert_eq!(odd["min"], i64::MIN);
        #[cfg(feature = "serde")]
        assert_eq!(odd["nested"], serde_json::json!({"a": [1, "x"], "b": {"c": true}}));
    }

    let by_id: HashMap<&str, &Value> = spans.iter().map(|s| (s["span_id"].as_str().unwrap(), s)).collect();
    for end in &want_spans {
        let name = end["span"].as_str().unwrap();
        let got = by_id.get(end["span_id"].as_str().unwrap()).unwrap_or_else(|| panic!("span {name} missing"));
        assert_eq!(got["name"], name);
        assert_eq!(got["trace_id"], end["trace_id"], "{name}");
        assert_eq!(got["parent_span_id"].as_str().unwrap(), end["parent_span_id"].as_str().unwrap_or(""), "{name}");
        let (s, e) = (got["start_time_unix_nano"].as_u64().unwrap(), got["end_time_unix_nano"].as_u64().unwrap());
        assert_eq!(e / 1000 * 1000, unix_ns(end["timestamp"].as_str().unwrap()), "{name}: end time");
        let dur_ns = (end["dur_ms"].as_f64().unwrap() * 1e6).round() as u64;
        assert_eq!(e - s, dur_ns, "{name}: start = end - dur_ms");
        let failed = end["status"] == "error";
        assert_eq!(got["status_code"].as_i64(), Some(if failed { 2 } else { 0 }), "{name}");
        if failed {
            let ev = &got["events"][0];
            assert_eq!(ev["name"], "exception", "{name}");
            assert_eq!(got["status_message"], end["exc_info"]["message"], "{name}");
            assert_eq!(ev["attributes"]["exception.message"], end["exc_info"]["message"], "{name}");
        }
    }
    assert_eq!(
        by_id[want_spans.iter().find(|e| e["span"] == "outer").unwrap()["span_id"].as_str().unwrap()]["attributes"]
            ["shard"],
        3
    );
    let inner = want_spans.iter().find(|e| e["span"] == "inner").unwrap();
    let outer = want_spans.iter().find(|e| e["span"] == "outer").unwrap();
    assert_eq!(inner["parent_span_id"], outer["span_id"], "nested in run.log, and so in rotel (checked above)");
    let panicking = by_id[want_spans.iter().find(|e| e["span"] == "panicking").unwrap()["span_id"].as_str().unwrap()];
    assert_eq!(panicking["events"][0]["attributes"]["exception.type"], "panic");
    assert_eq!(panicking["status_message"], "boom");
}
