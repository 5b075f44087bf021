//! The OTLP exporter against collectors that fail: nothing listening, too slow, never
//! answering, dying mid-run, 503 with `Retry-After`, 429, 400, 413. A small in-process
//! receiver on 127.0.0.1 decodes each request with `opentelemetry-proto` (protobuf, or
//! OTLP/JSON through its serde types). Whatever the collector does, the application
//! finishes, `run.log` has every record, and what was not exported is counted there as
//! `logkit.lost` with `sink="otlp"`.
#![cfg(feature = "otlp")]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// Log records per scenario.
const N: u64 = 2_000;
/// Spans per scenario (every tenth fails).
const SPANS: u64 = 50;

/// What the child logs: `N` numbered records and `SPANS` spans, then it returns.
fn log_workload() {
    logkit::new_context!(user = "u1");
    for seq in 0..N {
        logkit::info!(seq = seq, "numbered");
    }
    for i in 0..SPANS {
        let span = logkit::span!("work", i = i);
        if i % 10 == 0 {
            span.fail_with("bad");
        }
    }
}

/// A port on 127.0.0.1 with nothing listening.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// What the receiver saw: the path, the content type, the decoded record count and
/// the answer (0: none) of each request.
#[derive(Debug)]
struct Seen {
    path: String,
    content_type: String,
    records: usize,
    status: u16,
}

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
enum Reply {
    /// This status at once (`Retry-After: 1` goes with 503).
    Status(u16),
    /// This status after a while.
    After(Duration, u16),
    /// Never: the connection stays open and silent.
    Never,
    /// This status, then the receiver closes the connection and its port.
    ThenDie(u16),
}

/// A receiver answering each request with the next status of `script` (the last one
/// repeats).
fn receiver(script: Vec<u16>) -> (u16, mpsc::Receiver<Seen>) {
    receiver_with(move |n, _, _| Reply::Status(script[n.min(script.len() - 1)]))
}

/// A receiver answering request `n` (from 0) with `records` records in `bytes`
/// bytes (gunzipped) as `respond` says.
fn receiver_with(
    mut respond: impl FnMut(usize, usize, usize) -> Reply + Send + 'static,
) -> (u16, mpsc::Receiver<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut n = 0usize;
        let mut silent = Vec::new();
        'accept: for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            // One connection at a time is enough for one exporter thread.
            while let Some(Request { path, content_type, body }) = read_request(&mut s) {
                let records = decode(&path, &content_type, &body);
                let reply = respond(n, records, body.len());
                n += 1;
                let status = match reply {
                    Reply::Status(c) | Reply::After(_, c) | Reply::ThenDie(c) => c,
                    Reply::Never => 0,
                };
                let _ = tx.send(Seen { path, content_type, records, status });
                match reply {
                    Reply::Never => {
                        silent.push(s);
                        continue 'accept;
                    }
                    Reply::After(d, _) => std::thread::sleep(d),
                    Reply::Status(_) | Reply::ThenDie(_) => {}
                }
                let extra = if status == 503 { "Retry-After: 1\r\n" } else { "" };
                let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n{extra}\r\n");
                if s.write_all(resp.as_bytes()).is_err() {
                    break;
                }
                if let Reply::ThenDie(_) = reply {
                    // Dropping the listener and the connection closes the port.
                    return;
                }
            }
        }
    });
    (port, rx)
}

/// The records of the requests answered with a 2xx, per path.
fn accepted(seen: &[Seen], path: &str) -> u64 {
    seen.iter().filter(|s| s.path == path && (200..300).contains(&s.status)).map(|s| s.records as u64).sum()
}

/// One request, its body gunzipped.
struct Request {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request with a `content-length` body; gunzips it.
fn read_request(s: &mut TcpStream) -> Option<Request> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let (mut len, mut gz, mut content_type) = (0usize, false, String::new());
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().ok()?,
            "content-encoding" => gz = v.trim() == "gzip",
            "content-type" => content_type = v.trim().to_owned(),
            "transfer-encoding" => panic!("the exporter sends a content-length"),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    assert!(gz, "the exporter gzips its bodies");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).expect("a gzip body");
    Some(Request { path, content_type, body: out })
}

/// Decodes a request as its content type says (protobuf, or OTLP/JSON through
/// `opentelemetry-proto`'s serde types); returns its record or span count.
fn decode(path: &str, content_type: &str, body: &[u8]) -> usize {
    let json = match content_type {
        "application/x-protobuf" => false,
        "application/json" => true,
        other => panic!("unexpected content-type {other:?}"),
    };
    match path {
        "/v1/logs" => if json {
            serde_json::from_slice(body).expect("a valid OTLP/JSON ExportLogsServiceRequest")
        } else {
            ExportLogsServiceRequest::decode(body).expect("a valid ExportLogsServiceRequest")
        }
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum(),
        "/v1/traces" => if json {
            serde_json::from_slice(body).expect("a valid OTLP/JSON ExportTraceServiceRequest")
        } else {
            ExportTraceServiceRequest::decode(body).expect("a valid ExportTraceServiceRequest")
        }
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum(),
        other => panic!("unexpected path {other}"),
    }
}

/// A child with `LOG_OTLP` at `port` and none of the other OTLP variables but `env`.
fn child_for(name: &str, dir: &Path, port: u16, env: &[(&str, &str)]) -> std::process::Command {
    let mut c = common::child(name, dir);
    c.env("LOG_OTLP", format!("http://127.0.0.1:{port}"));
    for k in [
        "LOG_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ] {
        c.env_remove(k);
    }
    c.envs(env.iter().copied());
    c
}

fn run_child(name: &str, dir: &Path, port: u16) -> Output {
    common::run(child_for(name, dir, port, &[]))
}

/// The records of `run.log`, checked complete; returns the `lost` total reported for
/// the `otlp` sink.
fn complete_log_and_otlp_lost(dir: &Path, out: &Output) -> u64 {
    let recs = common::read_jsonl(&dir.join("run.log"));
    let seqs: Vec<u64> = common::events(&recs, "numbered").iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..N).collect::<Vec<_>>(), "every record is in the local file, in order");
    let ends = common::ends(&recs);
    assert_eq!(ends.len() as u64, SPANS, "every span's END is in the local file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    common::events(&recs, "logkit.lost")
        .iter()
        .filter(|r| r["sink"] == "otlp")
        .map(|r| r["lost"].as_u64().unwrap_or_else(|| panic!("lost count: {r}\n{stderr}")))
        .sum()
}

fn export_errors(out: &Output) -> usize {
    String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("logkit: otlp: cannot export")).count()
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        logkit::info!("one");
        return;
    }
    let (port, rx) = receiver(vec![200]);
    let dir = common::tempdir();
    let out = run_child("smoke", dir.path(), port);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert_eq!(seen.iter().map(|s| s.records).sum::<usize>(), 1, "{seen:?}");
}

#[test]
fn a_dead_collector_is_reported_once_and_everything_is_in_the_file_and_counted_lost() {
    const NAME: &str = "a_dead_collector_is_reported_once_and_everything_is_in_the_file_and_counted_lost";
    if common::is_child(NAME) {
        log_workload();
        // flush() does not wait for a collector known to be down; exit is bounded.
        logkit::flush();
        return;
    }
    let dir = common::tempdir();
    let out = run_child(NAME, dir.path(), dead_port());
    common::assert_success(&out);
    assert_eq!(export_errors(&out), 1, "reported once:\n{}", String::from_utf8_lossy(&out.stderr));
    let lost = complete_log_and_otlp_lost(dir.path(), &out);
    assert_eq!(lost, N + SPANS, "every record and span not exported is counted once");
}

#[test]
fn a_503_with_retry_after_is_retried_and_every_record_arrives_once() {
    const NAME: &str = "a_503_with_retry_after_is_retried_and_every_record_arrives_once";
    if common::is_child(NAME) {
        log_workload();
        return;
    }
    let (port, rx) = receiver(vec![503, 200]);
    let dir = common::tempdir();
    let out = run_child(NAME, dir.path(), port);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    let logs: usize = seen.iter().filter(|s| s.path == "/v1/logs").map(|s| s.records).sum();
    let spans: usize = seen.iter().filter(|s| s.path == "/v1/traces").map(|s| s.records).sum();
    let first = seen.first().map_or(0, |s| s.records);
    // The first request was refused with 503 and sent again: it is seen twice.
    assert_eq!((logs - first, spans), (N as usize, SPANS as usize), "{seen:?}");
    assert_eq!(export_errors(&out), 0);
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), 0, "nothing lost");
}

#[test]
fn a_429_is_retried_and_every_record_arrives() {
    const NAME: &str = "a_429_is_retried_and_every_record_arrives";
    if common::is_child(NAME) {
        log_workload();
        return;
    }
    let (port, rx) = receiver(vec![429, 429, 200]);
    let dir = common::tempdir();
    let out = run_child(NAME, dir.path(), port);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert!(seen.len() >= 3 && seen[0].records == seen[1].records && seen[1].records == seen[2].records, "{seen:?}");
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), 0, "nothing lost");
}

#[test]
fn a_400_is_not_retried_and_its_records_are_counted_lost() {
    const NAME: &str = "a_400_is_not_retried_and_its_records_are_counted_lost";
    if common::is_child(NAME) {
        log_workload();
        return;
    }
    let (port, rx) = receiver(vec![400]);
    let dir = common::tempdir();
    let out = run_child(NAME, dir.path(), port);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    let sent: usize = seen.iter().map(|s| s.records).sum();
    assert_eq!(sent as u64, N + SPANS, "each request sent once, none retried: {seen:?}");
    assert_eq!(export_errors(&out), 1);
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), N + SPANS);
}

#[test]
fn http_json_sends_every_record_and_span_as_otlp_json() {
    const NAME: &str = "http_json_sends_every_record_and_span_as_otlp_json";
    if common::is_child(NAME) {
        let _guard = logkit::init().expect("LOG_OTLP_PROTOCOL=http/json is accepted");
        log_workload();
        return;
    }
    let (port, rx) = receiver(vec![200]);
    let dir = common::tempdir();
    let out = common::run(child_for(NAME, dir.path(), port, &[("LOG_OTLP_PROTOCOL", "http/json")]));
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert!(seen.iter().all(|s| s.content_type == "application/json"), "{seen:?}");
    let logs: usize = seen.iter().filter(|s| s.path == "/v1/logs").map(|s| s.records).sum();
    let spans: usize = seen.iter().filter(|s| s.path == "/v1/traces").map(|s| s.records).sum();
    assert_eq!((logs as u64, spans as u64), (N, SPANS), "{seen:?}");
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), 0, "nothing lost");
}

#[test]
fn a_bad_otlp_protocol_is_a_config_error_naming_the_variable() {
    const NAME: &str = "a_bad_otlp_protocol_is_a_config_error_naming_the_variable";
    if common::is_child(NAME) {
        let var = std::env::var("BAD_VAR").expect("the variable under test");
        let e = logkit::init().err().unwrap_or_else(|| panic!("init() accepted {var}=grpc"));
        assert_eq!((e.var(), e.value()), (var.as_str(), "grpc"), "{e}");
        assert!(e.to_string().contains("http/json"), "the error names the accepted values: {e}");
        return;
    }
    for var in ["LOG_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        let dir = common::tempdir();
        let out = common::run(child_for(NAME, dir.path(), dead_port(), &[(var, "grpc"), ("BAD_VAR", var)]));
        common::assert_success(&out);
    }
}

/// Runs a child like [`common::run`], but fails the test instead of hanging if the
/// child is still running after `guard` — far beyond its documented deadlines (so this
/// is a hang guard, not a timing assertion).
fn run_guarded(mut c: std::process::Command, guard: Duration) -> Output {
    let child =
        c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn child");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(guard) {
        Ok(out) => out.expect("child output"),
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the application was still blocked after {guard:?}");
        }
    }
}

/// Flush (2 s) and exit (2 s) deadlines and their slack on a loaded machine.
const HANG_GUARD: Duration = Duration::from_secs(60);

#[test]
fn a_slow_collector_times_out_and_its_records_are_counted_lost() {
    const NAME: &str = "a_slow_collector_times_out_and_its_records_are_counted_lost";
    if common::is_child(NAME) {
        log_workload();
        logkit::flush();
        return;
    }
    // Each answer comes 2 s after its request; the exporter waits 100 ms.
    let (port, rx) = receiver_with(|_, _, _| Reply::After(Duration::from_secs(2), 200));
    let dir = common::tempdir();
    let c = child_for(NAME, dir.path(), port, &[("OTEL_EXPORTER_OTLP_TIMEOUT", "100")]);
    let out = run_guarded(c, HANG_GUARD);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert!(!seen.is_empty(), "the collector got the requests");
    assert_eq!(export_errors(&out), 1, "reported once:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), N + SPANS, "none answered in time: all counted lost");
}

#[test]
fn a_collector_that_never_answers_holds_neither_flush_nor_exit_beyond_their_deadlines() {
    const NAME: &str = "a_collector_that_never_answers_holds_neither_flush_nor_exit_beyond_their_deadlines";
    if common::is_child(NAME) {
        log_workload();
        // Bounded by the flush deadline (2 s), then exit by the exit deadline (2 s),
        // although the request in flight would wait an hour.
        logkit::flush();
        return;
    }
    let (port, rx) = receiver_with(|_, _, _| Reply::Never);
    let dir = common::tempdir();
    let c = child_for(NAME, dir.path(), port, &[("OTEL_EXPORTER_OTLP_TIMEOUT", "3600000")]);
    let out = run_guarded(c, HANG_GUARD);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert_eq!(seen.len(), 1, "one request, never answered: {seen:?}");
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), N + SPANS, "everything unsent is counted lost");
}

#[test]
fn a_collector_dying_mid_run_keeps_what_it_accepted_and_the_rest_is_counted_lost() {
    const NAME: &str = "a_collector_dying_mid_run_keeps_what_it_accepted_and_the_rest_is_counted_lost";
    if common::is_child(NAME) {
        log_workload();
        return;
    }
    // Two requests accepted, then the port closes.
    let (port, rx) = receiver_with(|n, _, _| if n == 0 { Reply::Status(200) } else { Reply::ThenDie(200) });
    let dir = common::tempdir();
    let out = run_guarded(child_for(NAME, dir.path(), port, &[]), HANG_GUARD);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let delivered = accepted(&seen, "/v1/logs") + accepted(&seen, "/v1/traces");
    let lost = complete_log_and_otlp_lost(dir.path(), &out);
    assert!(delivered > 0 && lost > 0, "delivered {delivered}, lost {lost}");
    assert_eq!(delivered + lost, N + SPANS, "each record either delivered or counted lost");
    assert_eq!(export_errors(&out), 1, "reported once:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_413_splits_the_request_until_it_fits_and_only_a_record_too_large_alone_is_lost() {
    const NAME: &str = "a_413_splits_the_request_until_it_fits_and_only_a_record_too_large_alone_is_lost";
    if common::is_child(NAME) {
        logkit::info!(blob = "x".repeat(100_000).as_str(), "too large");
        log_workload();
        // The collector is up: flush waits for the split requests.
        logkit::flush();
        return;
    }
    // A collector taking at most 100 records and 64 KiB per request.
    let (port, rx) =
        receiver_with(|_, records, bytes| Reply::Status(if records > 100 || bytes > 64 << 10 { 413 } else { 200 }));
    let dir = common::tempdir();
    let out = run_guarded(child_for(NAME, dir.path(), port, &[]), HANG_GUARD);
    common::assert_success(&out);
    let seen: Vec<Seen> = rx.try_iter().collect();
    assert!(seen.iter().any(|s| s.status == 413), "{seen:?}");
    assert!(seen.iter().filter(|s| s.status == 200).all(|s| s.records <= 100), "{seen:?}");
    assert_eq!((accepted(&seen, "/v1/logs"), accepted(&seen, "/v1/traces")), (N, SPANS), "each record once");
    assert_eq!(complete_log_and_otlp_lost(dir.path(), &out), 1, "the record too large alone is lost");
    assert_eq!(export_errors(&out), 1, "reported once:\n{}", String::from_utf8_lossy(&out.stderr));
}
