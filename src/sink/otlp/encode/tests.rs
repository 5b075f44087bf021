//! The wire format, decoded back with the official `opentelemetry-proto` types.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as Av, AnyValue, KeyValue};
use prost::Message as _;

use super::*;
use crate::record::{Encoder, HAS_MESSAGE, HAS_TARGET};
use crate::render::json::test_support::{context, record, V};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";
const PARENT: &str = "1111222233334444";

fn redactor() -> Redactor {
    Redactor::new(["password"])
}

fn attrs(kv: &[KeyValue]) -> Vec<(String, Option<Av>)> {
    kv.iter().map(|kv| (kv.key.clone(), kv.value.clone().and_then(|v| v.value))).collect()
}

fn s(v: &str) -> Option<Av> {
    Some(Av::StringValue(v.to_owned()))
}

/// A span's END record as `span.rs` writes it (keys from the call site).
fn end_record(ns: u64, failed: bool, dur_ms: f64, ctx: &[(&str, V)]) -> Vec<u8> {
    let ctx = context(ctx);
    let mut buf = Vec::new();
    let level = if failed { Level::Error } else { Level::Info };
    let cs = crate::span::end_callsite(failed);
    let mut enc = Encoder::begin(&mut buf, level, HAS_TARGET | HAS_MESSAGE, Some(cs), ns);
    enc.raw_str("app::db");
    enc.raw_str("END");
    enc.context(&ctx);
    enc.values().str("query");
    enc.values().f64(dur_ms);
    if failed {
        enc.values().str("error");
        enc.values()
            .json(r#"{"type":"std::io::Error","message":"disk full","chain":["no space left"],"backtrace":"frame 0"}"#);
    } else {
        enc.values().str("success");
    }
    enc.finish();
    buf
}

fn batch_of(bufs: &[Vec<u8>]) -> Batch {
    let mut b = Batch::default();
    for buf in bufs {
        for rec in crate::record::view::records(buf) {
            b.add(&rec, &redactor(), 999);
        }
    }
    b
}

#[test]
fn a_record_becomes_a_log_record_with_ids_as_bytes_severity_and_typed_attributes() {
    let buf = record(
        Level::Warn,
        1_700_000_000_123_456_789,
        "app::orders",
        "order filled",
        &[("trace_id", V::s(TRACE)), ("span_id", V::s(SPAN)), ("parent_span_id", V::s(PARENT)), ("user", V::s("u1"))],
        &[
            ("order_id", V::I64(-42)),
            ("big", V::U64(u64::MAX)),
            ("price", V::F64(1.5)),
            ("ok", V::Bool(true)),
            ("password", V::s("hunter2")),
            ("nested", V::Json(r#"{"a":[1,"x"],"password":"p"}"#.to_owned())),
            ("nothing", V::Null),
        ],
    );
    let batch = batch_of(&[buf]);
    assert_eq!((batch.log_count, batch.span_count), (1, 0));
    let resource = resource(Protocol::Protobuf, &[("service.name".to_owned(), "svc".to_owned())]);
    let mut out = Vec::new();
    batch.logs_request(&resource, &mut out);
    let req = ExportLogsServiceRequest::decode(&out[..]).expect("a valid ExportLogsServiceRequest");
    assert_eq!(req.resource_logs.len(), 1);
    let rl = &req.resource_logs[0];
    let res = rl.resource.as_ref().expect("resource");
    assert_eq!(attrs(&res.attributes), [("service.name".to_owned(), s("svc"))]);
    assert_eq!(rl.scope_logs.len(), 1);
    let sl = &rl.scope_logs[0];
    assert_eq!(sl.scope.as_ref().map(|s| s.name.as_str()), Some("app::orders"));
    let lr = &sl.log_records[0];
    assert_eq!(lr.time_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(lr.observed_time_unix_nano, 999);
    assert_eq!((lr.severity_number, lr.severity_text.as_str()), (13, "warning"));
    assert_eq!(lr.body, Some(AnyValue { value: s("order filled") }));
    assert_eq!(
        lr.trace_id,
        (0..16).map(|i| u8::from_str_radix(&TRACE[2 * i..2 * i + 2], 16).unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(lr.span_id, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
    let a = attrs(&lr.attributes);
    let keys: Vec<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["user", "order_id", "big", "price", "ok", "password", "nested", "nothing"],
        "ids are not attributes"
    );
    assert_eq!(a[0].1, s("u1"));
    assert_eq!(a[1].1, Some(Av::IntValue(-42)));
    assert_eq!(a[2].1, s(&u64::MAX.to_string()), "beyond int64: the decimal string");
    assert_eq!(a[3].1, Some(Av::DoubleValue(1.5)));
    assert_eq!(a[4].1, Some(Av::BoolValue(true)));
    assert_eq!(a[5].1, s("***"), "redacted");
    let Some(Av::KvlistValue(kv)) = &a[6].1 else { panic!("a map: {:?}", a[6]) };
    let inner = attrs(&kv.values);
    let Some(Av::ArrayValue(arr)) = &inner[0].1 else { panic!("an array: {inner:?}") };
    let items: Vec<_> = arr.values.iter().map(|v| v.value.clone()).collect();
    assert_eq!(items, [Some(Av::IntValue(1)), s("x")]);
    assert_eq!(inner[1], ("password".to_owned(), s("***")), "nested keys are redacted too");
    assert_eq!(a[7].1, None, "null is an empty AnyValue");
    let mut spans = Vec::new();
    batch.traces_request(&resource, &mut spans);
    assert!(spans.is_empty(), "no spans: no traces request");
}

#[test]
fn records_are_grouped_by_target_as_instrumentation_scope() {
    let bufs: Vec<Vec<u8>> = ["a", "b", "a"].iter().map(|t| record(Level::Info, 1, t, "m", &[], &[])).collect();
    let batch = batch_of(&bufs);
    let mut out = Vec::new();
    batch.logs_request(&[], &mut out);
    let req = ExportLogsServiceRequest::decode(&out[..]).expect("decodes");
    let scopes: Vec<(String, usize)> = req.resource_logs[0]
        .scope_logs
        .iter()
        .map(|s| (s.scope.as_ref().unwrap().name.clone(), s.log_records.len()))
        .collect();
    assert_eq!(scopes, [("a".to_owned(), 2), ("b".to_owned(), 1)]);
}

#[test]
fn a_span_end_becomes_a_span_with_start_end_ids_and_attributes() {
    let ctx =
        [("trace_id", V::s(TRACE)), ("span_id", V::s(SPAN)), ("parent_span_id", V::s(PARENT)), ("user", V::s("u1"))];
    let batch = batch_of(&[end_record(10_000_000_000, false, 2.5, &ctx)]);
    assert_eq!((batch.log_count, batch.span_count), (0, 1), "an END is a span, not a log record");
    let mut out = Vec::new();
    batch.traces_request(&[], &mut out);
    let req = ExportTraceServiceRequest::decode(&out[..]).expect("a valid ExportTraceServiceRequest");
    let ss = &req.resource_spans[0].scope_spans[0];
    assert_eq!(ss.scope.as_ref().map(|s| s.name.as_str()), Some("app::db"));
    let sp = &ss.spans[0];
    assert_eq!(sp.name, "query");
    assert_eq!(hex(&sp.trace_id), TRACE);
    assert_eq!(hex(&sp.span_id), SPAN);
    assert_eq!(hex(&sp.parent_span_id), PARENT);
    assert_eq!((sp.start_time_unix_nano, sp.end_time_unix_nano), (10_000_000_000 - 2_500_000, 10_000_000_000));
    assert_eq!(sp.kind, 1, "internal");
    assert_eq!(attrs(&sp.attributes), [("user".to_owned(), s("u1"))]);
    assert!(sp.events.is_empty());
    assert_eq!(sp.status.as_ref().map_or(0, |s| s.code), 0, "success leaves the status unset");
}

#[test]
fn a_failed_span_has_status_error_and_an_exception_event() {
    let ctx = [("trace_id", V::s(TRACE)), ("span_id", V::s(SPAN))];
    let batch = batch_of(&[end_record(5_000, true, 0.001, &ctx)]);
    let mut out = Vec::new();
    batch.traces_request(&[], &mut out);
    let req = ExportTraceServiceRequest::decode(&out[..]).expect("decodes");
    let sp = &req.resource_spans[0].scope_spans[0].spans[0];
    assert!(sp.parent_span_id.is_empty(), "a root span");
    let status = sp.status.as_ref().expect("a status");
    assert_eq!((status.code, status.message.as_str()), (2, "disk full"));
    assert_eq!(sp.events.len(), 1);
    let ev = &sp.events[0];
    assert_eq!((ev.name.as_str(), ev.time_unix_nano), ("exception", 5_000));
    assert_eq!(
        attrs(&ev.attributes),
        [
            ("exception.type".to_owned(), s("std::io::Error")),
            ("exception.message".to_owned(), s("disk full")),
            ("exception.stacktrace".to_owned(), s("caused by: no space left\nframe 0")),
        ]
    );
}

#[test]
fn a_batch_larger_than_a_one_byte_length_still_decodes() {
    let long = "x".repeat(70_000);
    let bufs: Vec<Vec<u8>> =
        (0..40).map(|i| record(Level::Info, i, "t", &long[..i as usize * 1000], &[], &[])).collect();
    let batch = batch_of(&bufs);
    let mut out = Vec::new();
    batch.logs_request(&[], &mut out);
    let req = ExportLogsServiceRequest::decode(&out[..]).expect("decodes");
    let recs = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(recs.len(), 40);
    for (i, r) in recs.iter().enumerate() {
        let body = r.body.as_ref().and_then(|b| b.value.clone());
        let want = if i == 0 { None } else { s(&long[..i * 1000]) };
        assert_eq!(body, want, "record {i}");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The rich record of the log test, a span and a failed span, in one batch per protocol.
fn mixed_batch(protocol: Protocol) -> Batch {
    let rec = record(
        Level::Warn,
        1_700_000_000_123_456_789,
        "app::orders",
        "order \"filled\"\n",
        &[("trace_id", V::s(TRACE)), ("span_id", V::s(SPAN)), ("user", V::s("u1"))],
        &[
            ("order_id", V::I64(-42)),
            ("big", V::U64(u64::MAX)),
            ("max", V::I64(i64::MAX)),
            ("price", V::F64(1.5)),
            ("tiny", V::F64(-1e-300)),
            ("ok", V::Bool(false)),
            ("password", V::s("hunter2")),
            ("nested", V::Json(r#"{"a":[1,"x",{"b":null}],"password":"p","e":[]}"#.to_owned())),
            ("nothing", V::Null),
        ],
    );
    let ctx = [("trace_id", V::s(TRACE)), ("span_id", V::s(SPAN)), ("parent_span_id", V::s(PARENT))];
    let mut b = Batch::new(protocol);
    for buf in [rec, end_record(10_000_000_000, false, 2.5, &ctx), end_record(5_000, true, 0.001, &ctx[..2])] {
        for r in crate::record::view::records(&buf) {
            b.add(&r, &redactor(), 999);
        }
    }
    b
}

fn service() -> Vec<(String, String)> {
    vec![("service.name".to_owned(), "svc \u{e9}".to_owned()), ("process.pid".to_owned(), "7".to_owned())]
}

#[test]
fn http_json_requests_decode_to_the_same_messages_as_the_protobuf_ones() {
    let (pb_batch, json_batch) = (mixed_batch(Protocol::Protobuf), mixed_batch(Protocol::Json));
    let (pb_res, json_res) = (resource(Protocol::Protobuf, &service()), resource(Protocol::Json, &service()));
    let (mut pb_out, mut json_out) = (Vec::new(), Vec::new());

    pb_batch.logs_request(&pb_res, &mut pb_out);
    json_batch.logs_request(&json_res, &mut json_out);
    let want = ExportLogsServiceRequest::decode(&pb_out[..]).expect("protobuf decodes");
    let got: ExportLogsServiceRequest = serde_json::from_slice(&json_out)
        .unwrap_or_else(|e| panic!("OTLP/JSON logs decode: {e}\n{}", String::from_utf8_lossy(&json_out)));
    assert_eq!(got, want);
    assert_eq!(got.resource_logs[0].scope_logs[0].log_records.len(), 1);

    pb_batch.traces_request(&pb_res, &mut pb_out);
    json_batch.traces_request(&json_res, &mut json_out);
    let want = ExportTraceServiceRequest::decode(&pb_out[..]).expect("protobuf decodes");
    let got: ExportTraceServiceRequest = serde_json::from_slice(&json_out)
        .unwrap_or_else(|e| panic!("OTLP/JSON traces decode: {e}\n{}", String::from_utf8_lossy(&json_out)));
    assert_eq!(got, want);
    let spans = &got.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].status.as_ref().map(|s| s.code), Some(2), "the failed span");
}

#[test]
fn http_json_writes_ids_as_hex_64_bit_integers_as_strings_and_enums_as_numbers() {
    let batch = mixed_batch(Protocol::Json);
    let mut out = Vec::new();
    batch.logs_request(&resource(Protocol::Json, &service()), &mut out);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let rl = &v["resourceLogs"][0];
    assert_eq!(
        rl["resource"]["attributes"][0],
        serde_json::json!({"key":"service.name","value":{"stringValue":"svc é"}})
    );
    assert_eq!(rl["scopeLogs"][0]["scope"]["name"], "app::orders");
    let lr = &rl["scopeLogs"][0]["logRecords"][0];
    assert_eq!(lr["timeUnixNano"], "1700000000123456789", "fixed64 as a string");
    assert_eq!(lr["observedTimeUnixNano"], "999");
    assert_eq!(lr["severityNumber"], 13, "an enum as its number");
    assert_eq!(lr["severityText"], "warning");
    assert_eq!(lr["traceId"], TRACE, "ids in hex");
    assert_eq!(lr["spanId"], SPAN);
    assert_eq!(lr["body"]["stringValue"], "order \"filled\"\n");
    let a = |i: usize| &lr["attributes"][i]["value"];
    assert_eq!(a(0), &serde_json::json!({"stringValue":"u1"}));
    assert_eq!(a(1), &serde_json::json!({"intValue":"-42"}), "int64 as a string");
    assert_eq!(a(2), &serde_json::json!({"stringValue":"18446744073709551615"}));
    assert_eq!(a(3), &serde_json::json!({"intValue":"9223372036854775807"}));
    assert_eq!(a(4), &serde_json::json!({"doubleValue":1.5}), "a double as a number");
    assert_eq!(a(6), &serde_json::json!({"boolValue":false}));
    assert_eq!(a(7), &serde_json::json!({"stringValue":"***"}));
    assert_eq!(
        a(8),
        &serde_json::json!({"kvlistValue":{"values":[
            {"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"x"},
                {"kvlistValue":{"values":[{"key":"b","value":{}}]}}]}}},
            {"key":"password","value":{"stringValue":"***"}},
            {"key":"e","value":{"arrayValue":{"values":[]}}}]}})
    );
    assert_eq!(a(9), &serde_json::json!({}), "null is an empty AnyValue");

    batch.traces_request(&[], &mut out);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(v["resourceSpans"][0]["resource"], serde_json::json!({}), "no attributes: an empty resource");
    let spans = &v["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans[0]["parentSpanId"], PARENT);
    assert_eq!(spans[0]["kind"], 1);
    assert_eq!(spans[0]["startTimeUnixNano"], "9997500000");
    assert_eq!(spans[0]["endTimeUnixNano"], "10000000000");
    assert_eq!(spans[0]["attributes"], serde_json::json!([]));
    assert!(spans[0].get("status").is_none() && spans[0].get("events").is_none(), "success: no status, no event");
    assert_eq!(spans[1]["status"], serde_json::json!({"message":"disk full","code":2}));
    assert_eq!(spans[1]["events"][0]["timeUnixNano"], "5000");
}

#[test]
fn http_json_writes_non_finite_doubles_as_strings_that_strict_collectors_accept() {
    let rec = record(
        Level::Info,
        1,
        "t",
        "m",
        &[],
        &[("a", V::F64(f64::NAN)), ("b", V::F64(f64::INFINITY)), ("c", V::F64(f64::NEG_INFINITY))],
    );
    let mut batch = Batch::new(Protocol::Json);
    for r in crate::record::view::records(&rec) {
        batch.add(&r, &redactor(), 1);
    }
    let mut out = Vec::new();
    batch.logs_request(&[], &mut out);
    let req: ExportLogsServiceRequest = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("OTLP/JSON decodes: {e}\n{}", String::from_utf8_lossy(&out)));
    let a = attrs(&req.resource_logs[0].scope_logs[0].log_records[0].attributes);
    assert_eq!(a, [("a".to_owned(), s("NaN")), ("b".to_owned(), s("Infinity")), ("c".to_owned(), s("-Infinity"))]);
}

#[test]
fn a_batch_splits_into_halves_that_together_hold_every_item_once_in_order() {
    for protocol in [Protocol::Protobuf, Protocol::Json] {
        let bufs: Vec<Vec<u8>> = (0..7u64)
            .map(|i| record(Level::Info, i, ["a", "b"][i as usize % 2], "m", &[], &[("seq", V::U64(i))]))
            .collect();
        let mut batch = Batch::new(protocol);
        for buf in &bufs {
            for r in crate::record::view::records(buf) {
                batch.add(&r, &redactor(), 1);
            }
        }
        let decode = |b: &Batch| -> Vec<(String, i64)> {
            let mut out = Vec::new();
            b.request(Signal::Logs, &[], &mut out);
            let req: ExportLogsServiceRequest = match protocol {
                Protocol::Protobuf => ExportLogsServiceRequest::decode(&out[..]).expect("decodes"),
                Protocol::Json => serde_json::from_slice(&out).expect("decodes"),
            };
            let mut seen = Vec::new();
            for sl in &req.resource_logs[0].scope_logs {
                for lr in &sl.log_records {
                    let Some(Av::IntValue(seq)) = lr.attributes[0].value.clone().and_then(|v| v.value) else {
                        panic!("seq: {lr:?}")
                    };
                    seen.push((sl.scope.as_ref().unwrap().name.clone(), seq));
                }
            }
            seen
        };
        let (a, b) = batch.halves(Signal::Logs).expect("7 items split");
        assert_eq!((a.count(Signal::Logs), b.count(Signal::Logs)), (3, 4));
        let (aa, ab) = a.halves(Signal::Logs).expect("3 items split");
        let mut all = [decode(&aa), decode(&ab), decode(&b)].concat();
        all.sort_by_key(|(_, seq)| *seq);
        let want: Vec<(String, i64)> = (0..7).map(|i| (["a", "b"][i % 2].to_owned(), i as i64)).collect();
        assert_eq!(all, want, "{protocol:?}");
        let (single, _) = aa.halves(Signal::Logs).map_or((aa.count(Signal::Logs), 0), |_| (0, 1));
        assert_eq!(single, 1, "one item does not split");
        assert!(batch.halves(Signal::Traces).is_none(), "no spans to split");
    }
}
