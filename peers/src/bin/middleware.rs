//! What request middleware adds per request: an in-process tower service that answers
//! at once, called through no middleware, through `logkit::tower::CaptureLayer`, and
//! through `tower_http::trace::TraceLayer` with `tracing_subscriber::fmt().json()` over
//! `tracing_appender::non_blocking` (lossless). No network, no runtime: each response
//! future is ready on its first poll, polled with a no-op waker, so what is timed is the
//! middleware and its logging on the calling thread.
//!
//! ```sh
//! cargo run --release --manifest-path peers/Cargo.toml --bin middleware -- none
//! cargo run --release --manifest-path peers/Cargo.toml --bin middleware -- logkit
//! cargo run --release --manifest-path peers/Cargo.toml --bin middleware -- tower_http
//! ```
//!
//! Each mode runs in its own process (a global subscriber is set once). Both logging
//! stacks write one request span per request to a file in a temporary directory:
//! logkit its `START` and `END` records (`http.request`, with method, path, request id
//! and status code), tower-http its span at INFO with the `on_response` event at INFO
//! (status, latency) and `on_request` off (its default DEBUG, below the INFO floor).
//! The timer is `Instant::now()` around each request (~20 ns of its own on this machine).

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tower_layer::Layer;
use tower_service::Service;

const WARM: usize = 20_000;
const CALLS: usize = 200_000;

type Req = http::Request<String>;

fn handler(_req: Req) -> std::future::Ready<Result<http::Response<String>, Infallible>> {
    std::future::ready(Ok(http::Response::new(String::new())))
}

fn request(i: usize) -> Req {
    let mut r = http::Request::get("/orders/42").body(String::new()).unwrap();
    r.headers_mut().insert("x-request-id", http::HeaderValue::from(i as u64));
    r
}

/// Calls `svc` once and polls its future to completion (it is ready at once).
#[inline(always)]
fn call<S, R>(svc: &mut S, req: Req) -> R
where
    S: Service<Req, Response = R>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => unreachable!("a service_fn is always ready"),
    }
    let mut fut = pin!(svc.call(req));
    loop {
        if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            return r.unwrap();
        }
    }
}

fn measure<S, R>(mut svc: S) -> Vec<u64>
where
    S: Service<Req, Response = R>,
    S::Error: std::fmt::Debug,
{
    for i in 0..WARM {
        drop(std::hint::black_box(call(&mut svc, request(i))));
    }
    let mut ns = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let req = request(i);
        let t = Instant::now();
        let resp = call(&mut svc, req);
        let dt = t.elapsed();
        drop(std::hint::black_box(resp));
        ns.push(dt.as_nanos() as u64);
    }
    ns
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "none".into());
    let dir = std::env::temp_dir().join(format!("logkit-middleware-{mode}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = tower::service_fn(handler);
    let t0 = Instant::now();
    let (ns, lines) = match mode.as_str() {
        "none" => (measure(base), 0),
        "logkit" => {
            let guard = logkit::Config::default()
                .file(dir.join("run.log"))
                .console(logkit::Console::Off)
                .rotate_bytes(0)
                .level("info")
                .init()
                .expect("logkit init");
            let ns = measure(logkit::tower::CaptureLayer::new().layer(base));
            logkit::flush();
            drop(guard);
            (ns, count_lines(&dir.join("run.log")))
        }
        "tower_http" => {
            use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
            let file = std::io::BufWriter::new(std::fs::File::create(dir.join("tracing.jsonl")).unwrap());
            let (writer, guard) =
                tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(file);
            let subscriber = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .with_writer(writer)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            let layer = TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO));
            let ns = measure(layer.layer(base));
            drop(guard);
            (ns, count_lines(&dir.join("tracing.jsonl")))
        }
        other => {
            eprintln!("usage: middleware none|logkit|tower_http (got {other:?})");
            std::process::exit(2);
        }
    };
    let wall = t0.elapsed();
    let mut sorted = ns.clone();
    sorted.sort_unstable();
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    println!("mode={mode}");
    println!("requests={CALLS} (after {WARM} untimed)");
    println!("p50_ns={}", q(0.5));
    println!("p90_ns={}", q(0.9));
    println!("p99_ns={}", q(0.99));
    println!("p999_ns={}", q(0.999));
    println!("mean_ns={:.0}", ns.iter().sum::<u64>() as f64 / ns.len() as f64);
    println!("lines_written={lines}");
    println!("wall_s={:.2}", wall.as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
}

fn count_lines(p: &std::path::Path) -> usize {
    std::fs::read_to_string(p).map(|t| t.lines().count()).unwrap_or(0)
}
