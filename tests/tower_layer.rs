//! The tower / axum middleware: a real axum server on 127.0.0.1 and a real HTTP client
//! (hyper's). Each test runs in a child process (logkit is process-wide), which serves,
//! sends its requests, flushes and checks its own `run.log`.
#![cfg(all(feature = "tower", feature = "tracing", feature = "tokio"))]

mod common;

use std::future::Future;
use std::net::SocketAddr;

use axum::http;
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use logkit::tower::CaptureLayer;
use serde_json::Value as J;

/// Runs `f` on a two-worker runtime with an axum server for `app` (behind
/// `CaptureLayer`), then flushes and returns the records of `run.log`.
fn serve<Fut>(layer: CaptureLayer, f: impl FnOnce(SocketAddr) -> Fut) -> Vec<J>
where
    Fut: Future<Output = ()>,
{
    logkit::tracing::init().expect("no other subscriber");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app().layer(layer)).await });
        f(addr).await;
        server.abort();
    });
    drop(rt);
    logkit::flush();
    common::read_jsonl(std::path::Path::new("run.log"))
}

#[logkit::capture]
fn price(n: u64) -> u64 {
    logkit::info!(n, "pricing");
    n * 2
}

fn app() -> Router {
    Router::new()
        .route(
            "/ok",
            get(|| async {
                logkit::info!("handler");
                tracing::info!("tracing in handler");
                let _ = price(3);
                logkit::spawn(async { logkit::info!("spawned") }).await.unwrap();
                "ok"
            }),
        )
        .route(
            "/fail",
            get(|| async {
                logkit::warn!("failing");
                (http::StatusCode::INTERNAL_SERVER_ERROR, "no")
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler blew up");
                }
                "unreachable"
            }),
        )
        .route(
            "/job/{n}",
            get(|axum::extract::Path(n): axum::extract::Path<u64>| async move {
                for step in 0..3u64 {
                    logkit::info!(n, step, "job step");
                    tokio::task::yield_now().await;
                    tracing::info!(n, step, "job tracing step");
                }
                logkit::spawn(async move { logkit::info!(n, "job task") }).await.unwrap();
                n.to_string()
            }),
        )
}

/// What a request got back: the status (`None`: the connection failed) and the
/// response's `traceparent`.
struct Reply {
    status: Option<u16>,
    traceparent: Option<String>,
}

/// One GET on a fresh connection, with the given headers.
async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    match sender.send_request(req.body(Empty::<Bytes>::new()).unwrap()).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let traceparent = resp.headers().get("traceparent").map(|v| v.to_str().unwrap().to_owned());
            let _ = resp.into_body().collect().await;
            Reply { status: Some(status), traceparent }
        }
        Err(_) => Reply { status: None, traceparent: None },
    }
}

/// The requests' `END` records in the order they were written (by timestamp: records of
/// different worker threads may reach the file in either order within a batch).
fn request_ends(recs: &[J]) -> Vec<&J> {
    let mut ends: Vec<&J> = recs.iter().filter(|r| r["event"] == "END" && r["span"] == "http.request").collect();
    ends.sort_by(|a, b| a["timestamp"].as_str().cmp(&b["timestamp"].as_str()));
    ends
}

fn run_child(name: &str) {
    let dir = common::tempdir();
    let out = common::run(common::child(name, dir.path()));
    common::assert_success(&out);
}

#[test]
fn smoke() {
    if common::is_child("smoke") {
        let recs = serve(CaptureLayer::new(), |addr| async move {
            assert_eq!(get_with(addr, "/ok", &[]).await.status, Some(200));
        });
        let ends = request_ends(&recs);
        assert_eq!(ends.len(), 1, "{recs:#?}");
        assert_eq!(ends[0]["http.response.status_code"], 200);
        return;
    }
    run_child("smoke");
}

#[test]
fn a_request_continues_the_incoming_traceparent_and_answers_with_its_own() {
    const NAME: &str = "a_request_continues_the_incoming_traceparent_and_answers_with_its_own";
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER: &str = "00f067aa0ba902b7";
    if common::is_child(NAME) {
        let mut replies = Vec::new();
        let layer = CaptureLayer::new().bind_header("x-user", "user");
        let recs = serve(layer, |addr| {
            let replies = &mut replies;
            async move {
                let tp = format!("00-{TRACE}-{CALLER}-01");
                let headers = [("traceparent", tp.as_str()), ("x-request-id", "req-7"), ("x-user", "ann")];
                replies.push(get_with(addr, "/ok", &headers).await);
                replies.push(get_with(addr, "/ok", &[]).await);
            }
        });
        let ends = request_ends(&recs);
        assert_eq!(ends.len(), 2, "{recs:#?}");
        let (with, without) = (ends[0], ends[1]);
        // Traceparent in: the request's span is a child of the caller's.
        assert_eq!(with["trace_id"], TRACE);
        assert_eq!(with["parent_span_id"], CALLER);
        assert_eq!(with["status"], "success");
        assert_eq!(with["target"], "logkit::tower");
        // Traceparent out: this request's trace and span.
        let sid = with["span_id"].as_str().unwrap();
        assert_eq!(replies[0].traceparent.as_deref(), Some(format!("00-{TRACE}-{sid}-01").as_str()));
        // Bound keys, on the END and on everything the handler logged.
        for r in recs.iter().filter(|r| r["trace_id"] == TRACE) {
            assert_eq!(r["http.request.method"], "GET", "{r}");
            assert_eq!(r["url.path"], "/ok", "{r}");
            assert_eq!(r["request_id"], "req-7", "{r}");
            assert_eq!(r["user"], "ann", "{r}");
        }
        let in_trace = |ev: &str| recs.iter().filter(|r| r["event"] == ev && r["trace_id"] == TRACE).count();
        for ev in ["handler", "tracing in handler", "pricing", "spawned"] {
            assert_eq!(in_trace(ev), 1, "{ev} in the request's trace: {recs:#?}");
        }
        let pricing =
            recs.iter().find(|r| r["event"] == "END" && r["span"] == "tower_layer::price" && r["trace_id"] == TRACE);
        assert_eq!(pricing.expect("the #[capture] fn's END")["parent_span_id"], sid);
        // Without a traceparent: a fresh trace, no parent, no request_id, no user.
        let fresh = without["trace_id"].as_str().unwrap();
        assert_eq!(fresh.len(), 32);
        assert_ne!(fresh, TRACE);
        assert!(without.get("parent_span_id").is_none() && without.get("request_id").is_none(), "{without}");
        assert!(without.get("user").is_none(), "{without}");
        let tp = replies[1].traceparent.as_deref().expect("a traceparent on the response");
        assert!(tp.starts_with(&format!("00-{fresh}-")), "{tp}");
        return;
    }
    run_child(NAME);
}

#[test]
fn statuses_404_and_500_and_a_panicking_handler_end_the_request_span() {
    const NAME: &str = "statuses_404_and_500_and_a_panicking_handler_end_the_request_span";
    if common::is_child(NAME) {
        let mut got = Vec::new();
        let recs = serve(CaptureLayer::new(), |addr| {
            let got = &mut got;
            async move {
                for path in ["/nowhere", "/fail", "/panic", "/ok"] {
                    got.push(get_with(addr, path, &[("x-request-id", path)]).await.status);
                }
            }
        });
        assert_eq!(got, [Some(404), Some(500), None, Some(200)]);
        let end = |path: &str| {
            let found: Vec<&J> = request_ends(&recs).into_iter().filter(|r| r["url.path"] == path).collect();
            assert_eq!(found.len(), 1, "END of {path}: {recs:#?}");
            found[0]
        };
        assert_eq!(end("/nowhere")["http.response.status_code"], 404);
        assert_eq!(end("/nowhere")["status"], "success");
        let fail = end("/fail");
        assert_eq!(fail["http.response.status_code"], 500);
        assert_eq!(fail["status"], "error");
        assert_eq!(fail["level"], "error");
        assert_eq!(fail["exc_info"]["message"], "500 Internal Server Error");
        let panicked = end("/panic");
        assert_eq!(panicked["status"], "error");
        assert_eq!(panicked["exc_info"]["type"], "panic");
        assert_eq!(panicked["exc_info"]["message"], "handler blew up");
        assert!(panicked.get("http.response.status_code").is_none(), "{panicked}");
        // The server went on serving after the panic.
        assert_eq!(end("/ok")["status"], "success");
        return;
    }
    run_child(NAME);
}

#[test]
fn fifty_concurrent_requests_never_see_each_others_context() {
    const NAME: &str = "fifty_concurrent_requests_never_see_each_others_context";
    const N: u64 = 50;
    let trace_of = |n: u64| format!("{:032x}", 0xabc0_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(n) + 1);
    if common::is_child(NAME) {
        let recs = serve(CaptureLayer::new(), |addr| async move {
            let mut tasks = Vec::new();
            for n in 0..N {
                let tp = format!("00-{}-{:016x}-01", trace_of(n), n + 1);
                tasks.push(tokio::spawn(async move {
                    let reply = get_with(addr, &format!("/job/{n}"), &[("traceparent", &tp)]).await;
                    (n, reply)
                }));
            }
            for t in tasks {
                let (n, reply) = t.await.unwrap();
                assert_eq!(reply.status, Some(200));
                let tp = reply.traceparent.expect("traceparent");
                assert!(tp.starts_with(&format!("00-{}-", trace_of(n))), "request {n} answered with {tp}");
            }
        });
        let mut seen = vec![0u32; N as usize];
        for r in recs.iter().filter(|r| r["n"].is_u64()) {
            let n = r["n"].as_u64().unwrap();
            assert_eq!(r["trace_id"], trace_of(n), "record of request {n} in another context: {r}");
            assert_eq!(r["url.path"], format!("/job/{n}"), "{r}");
            seen[n as usize] += 1;
        }
        // 3 logkit steps, 3 tracing steps, the spawned task's record.
        assert!(seen.iter().all(|&c| c == 7), "{seen:?}");
        let ends = request_ends(&recs);
        assert_eq!(ends.len(), N as usize);
        for e in ends {
            let path = e["url.path"].as_str().unwrap();
            let n: u64 = path.trim_start_matches("/job/").parse().unwrap();
            assert_eq!(e["trace_id"], trace_of(n), "{e}");
            assert_eq!(e["parent_span_id"], format!("{:016x}", n + 1), "{e}");
        }
        return;
    }
    run_child(NAME);
}

#[test]
fn an_error_from_the_inner_service_fails_the_span_through_service_builder() {
    const NAME: &str = "an_error_from_the_inner_service_fails_the_span_through_service_builder";
    if common::is_child(NAME) {
        use tower::{ServiceBuilder, ServiceExt};
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let svc = ServiceBuilder::new().layer(CaptureLayer::new()).service(tower::service_fn(
                |req: http::Request<()>| async move {
                    if req.uri().path() == "/down" {
                        return Err(std::io::Error::other("backend down"));
                    }
                    Ok::<_, std::io::Error>(http::Response::new(()))
                },
            ));
            let down = svc.clone().oneshot(http::Request::get("/down").body(()).unwrap()).await;
            assert_eq!(down.unwrap_err().to_string(), "backend down");
            let up = svc.oneshot(http::Request::get("/up").body(()).unwrap()).await.unwrap();
            assert!(up.headers().contains_key("traceparent"));
        });
        logkit::flush();
        let recs = common::read_jsonl(std::path::Path::new("run.log"));
        let ends = request_ends(&recs);
        assert_eq!(ends.len(), 2, "{recs:#?}");
        assert_eq!((ends[0]["url.path"].as_str(), ends[0]["status"].as_str()), (Some("/down"), Some("error")));
        assert_eq!(ends[0]["exc_info"]["message"], "backend down");
        assert_eq!((ends[1]["url.path"].as_str(), ends[1]["status"].as_str()), (Some("/up"), Some("success")));
        return;
    }
    run_child(NAME);
}

#[test]
fn bind_header_binds_every_header_named_and_an_invalid_name_matches_nothing() {
    const NAME: &str = "bind_header_binds_every_header_named_and_an_invalid_name_matches_nothing";
    if common::is_child(NAME) {
        use tower::{ServiceBuilder, ServiceExt};
        let mut layer = CaptureLayer::new().bind_header("bad header", "never");
        // More keys than the middleware keeps on the stack.
        for i in 0..7 {
            layer = layer.bind_header(&format!("X-H{i}"), format!("h{i}"));
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let svc = ServiceBuilder::new().layer(layer).service(tower::service_fn(|_req: http::Request<()>| async {
                logkit::info!("inside");
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            }));
            let mut req = http::Request::post("/p").header("x-request-id", "r1");
            for i in 0..7 {
                req = req.header(format!("x-h{i}"), format!("v{i}"));
            }
            svc.oneshot(req.body(()).unwrap()).await.unwrap();
        });
        logkit::flush();
        let text = std::fs::read_to_string("run.log").unwrap();
        let recs = common::parse_jsonl(&text);
        let inside = common::the(&recs, "inside");
        assert_eq!(inside["http.request.method"], "POST");
        assert_eq!(inside["request_id"], "r1");
        for i in 0..7 {
            assert_eq!(inside[format!("h{i}")], format!("v{i}"), "{inside}");
        }
        assert!(inside.get("never").is_none(), "{inside}");
        // Keys in the order they were bound.
        let line = text.lines().find(|l| l.contains("\"inside\"")).unwrap();
        let keys = common::key_order(line);
        let at = |k: &str| keys.iter().position(|x| x == k).unwrap_or_else(|| panic!("{k} in {keys:?}"));
        assert!(at("http.request.method") < at("url.path") && at("url.path") < at("request_id"));
        assert!((0..6).all(|i| at(&format!("h{i}")) < at(&format!("h{}", i + 1))), "{keys:?}");
        return;
    }
    run_child(NAME);
}
