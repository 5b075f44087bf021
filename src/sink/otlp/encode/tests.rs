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
    let resource = resource(&[("service.name".to_owned(), "svc".to_owned())]);
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
