//! A small axum service with logkit's request middleware and `tracing` layer, and a
//! client loop on 127.0.0.1 that sends 20 requests — some continuing a caller's
//! `traceparent`, one to a failing route, one to a panicking handler — then stops.
//!
//! `cargo run --example axum_service --features tower,tracing,tokio`, then read
//! `run.log`: every request is one `http.request` span (`jq -c 'select(.span=="http.request")'
//! run.log`), everything a handler logged carries its `trace_id`, and the response's
//! `traceparent` (printed by the client) names the request's trace and span.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// Rule 3 as an attribute, inside the request's span.
#[logkit::capture(order)]
fn load_order(order: u64) -> Result<u64, std::io::Error> {
    if order == 999 {
        return Err(std::io::Error::other("order store unreachable"));
    }
    logkit::debug!(rows = 1, "order loaded");
    Ok(order * 100)
}

async fn order(Path(id): Path<u64>) -> Result<String, StatusCode> {
    logkit::info!(order = id, "looking up order");
    // Libraries that log through `tracing` land in the same request context.
    tracing::info!(order = id, cache = "miss", "tracing event from a library");
    // A task started with `logkit::spawn` carries the request's context.
    logkit::spawn(async move { logkit::info!(order = id, "audit written") }).await.ok();
    match load_order(id) {
        Ok(cents) => Ok(format!("order {id}: {cents} cents\n")),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn panics() -> &'static str {
    if std::hint::black_box(true) {
        panic!("handler bug: index out of range");
    }
    "unreachable"
}

fn app() -> Router {
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/panic", get(panics))
        .layer(logkit::tower::CaptureLayer::new().bind_header("x-user", "user"))
}

/// One GET on its own connection; the status and the response's `traceparent`.
async fn get_once(addr: SocketAddr, path: &str, traceparent: Option<&str>) -> (String, String) {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else { return ("no connection".into(), "-".into()) };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return ("no handshake".into(), "-".into());
    };
    tokio::spawn(conn);
    let mut req = Request::get(path).header("host", addr.to_string()).header("x-user", "ann");
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let Ok(req) = req.body(Empty::<Bytes>::new()) else { return ("bad request".into(), "-".into()) };
    match sender.send_request(req).await {
        Ok(resp) => {
            let status = resp.status().to_string();
            let tp = resp.headers().get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
            let _ = resp.into_body().collect().await;
            (status, tp)
        }
        Err(e) => (format!("connection closed ({e})"), "-".into()),
    }
}

#[tokio::main]
async fn main() {
    logkit::tracing::init().expect("no other global tracing subscriber");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let server = tokio::spawn(async move { axum::serve(listener, app()).await });

    for i in 1..=20u64 {
        let path = match i {
            7 => "/orders/999".to_owned(), // fails: 500
            11 => "/panic".to_owned(),     // the handler panics
            _ => format!("/orders/{i}"),
        };
        // Every other request continues a caller's trace.
        let caller =
            (i % 2 == 0).then(|| format!("00-{:032x}-{:016x}-01", 0x4bf9_2f35_77b3_4da6_0000u128 + u128::from(i), i));
        let (status, tp) = get_once(addr, &path, caller.as_deref()).await;
        println!("{i:>2} GET {path:<12} -> {status:<28} traceparent {tp}");
    }
    server.abort();
    logkit::flush();
    println!("done: read run.log (jq -c . run.log)");
}
