//! Request middleware for tower and axum (feature `tower`).
//!
//! ```no_run
//! # async fn orders() -> &'static str { "[]" }
//! let app: axum::Router = axum::Router::new()
//!     .route("/orders", axum::routing::get(orders))
//!     .layer(logkit::tower::CaptureLayer::new().bind_header("x-user", "user"));
//! ```
//!
//! Per request, for any service of `http::Request<B>` answering `http::Response<R>`:
//!
//! - a work unit of its own (as `new_context!`): it continues the trace of an incoming
//!   W3C `traceparent` header (the request's span is then a child of the caller's),
//!   else starts a fresh one; a malformed header starts a fresh trace and is reported
//!   once. Bound keys: `http.request.method`, `url.path`, `request_id` (from
//!   `x-request-id`, when present) and each header named by
//!   [`bind_header`](CaptureLayer::bind_header). Bodies and other headers are never
//!   logged.
//! - a span `http.request` around the inner service's whole future: its `END` carries
//!   `http.response.status_code`, and `status="error"` for a 5xx response, an error
//!   from the inner service, a panic in the handler, or a request dropped before it was
//!   answered (a client that went away).
//! - a `traceparent` header on the response naming the request's trace and span.
//!
//! The unit's context is owned by the request's future and swapped in for each of its
//! polls (as [`FutureExt::in_current_context`](crate::FutureExt) does), so everything
//! the handler logs — macros, `tracing` events, `#[capture]` fns, `logkit::spawn`ed
//! tasks — carries the request's trace, and concurrent requests on the same worker
//! threads never see each other's context.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};

use crate::context::{self, Current, Installed, IntoTraceContext};
use crate::span::{exc_info_message, OpenSpan, SpanSite};
use crate::span_state::{encode_entry, SpanState};
use crate::value::Value;
use crate::{filter, runtime};

/// The request span's site: its `END` records have target `logkit::tower`.
static SITE: SpanSite = SpanSite::new("logkit::tower", &[]);

const SPAN_NAME: &str = "http.request";

/// A `tower::Layer` that gives each request its own logkit context and an
/// `http.request` span (see the [module docs](self)). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct CaptureLayer {
    /// Header names and the keys their values are bound under (`None`: a name that
    /// is not a valid header name, which no request has).
    headers: Arc<Vec<(Option<HeaderName>, String)>>,
}

impl CaptureLayer {
    /// The middleware with the default bound keys (`http.request.method`, `url.path`,
    /// `request_id`).
    pub fn new() -> CaptureLayer {
        CaptureLayer::default()
    }

    /// Also binds the value of request header `header` (any case) under `key`, when
    /// the request has it: `.bind_header("x-user", "user")`. A value that is not
    /// visible ASCII is bound as `"<non-ascii>"`; a key logkit writes itself (`level`,
    /// `trace_id`, ...) is bound as `field.<key>`. A `header` that is not a valid
    /// header name matches no request.
    pub fn bind_header(mut self, header: &str, key: impl Into<String>) -> CaptureLayer {
        let key = key.into();
        let key = super::run_time_key(&key).to_owned();
        let name = HeaderName::from_bytes(header.as_bytes()).ok();
        Arc::make_mut(&mut self.headers).push((name, key));
        self
    }
}

impl<S> tower_layer::Layer<S> for CaptureLayer {
    type Service = CaptureService<S>;

    fn layer(&self, inner: S) -> CaptureService<S> {
        CaptureService { inner, headers: Arc::clone(&self.headers) }
    }
}

/// The service [`CaptureLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct CaptureService<S> {
    inner: S,
    headers: Arc<Vec<(Option<HeaderName>, String)>>,
}

impl<S, B, R> tower_service::Service<Request<B>> for CaptureService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    S::Error: fmt::Display,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = CaptureFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> CaptureFuture<S::Future> {
        runtime::ensure_started();
        let mut ctx = context::spare();
        let (span, traceparent) = {
            let _installed = Installed::new(&mut ctx);
            start_unit(&req, &self.headers)
        };
        // The inner service's `call` runs in the request's context too (axum's router
        // starts the handler there).
        let inner = {
            let _installed = Installed::new(&mut ctx);
            self.inner.call(req)
        };
        CaptureFuture { inner, ctx, span: Some(span), state: SpanState::default(), traceparent }
    }
}

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Bound keys kept on the stack (method, path, request id and up to 5 headers); more
/// spill into a `Vec`.
const INLINE_KEYS: usize = 8;

/// Starts the request's work unit in the (empty) current context and opens its span;
/// returns the span and the response's `traceparent`.
fn start_unit<B>(req: &Request<B>, headers: &[(Option<HeaderName>, String)]) -> (OpenSpan, Option<HeaderValue>) {
    let h = req.headers();
    let given = match h.get(TRACEPARENT).map(|v| v.to_str()) {
        None => None,
        Some(Ok(s)) => match s.into_trace_context() {
            Ok(t) => t,
            Err(bad) => {
                crate::__private::report_bad_trace_id(&bad, "expected a W3C traceparent header");
                None
            }
        },
        Some(Err(_)) => {
            crate::__private::report_bad_trace_id("<non-ascii>", "expected a W3C traceparent header");
            None
        }
    };
    let mut names = [""; INLINE_KEYS];
    let mut texts = [""; INLINE_KEYS];
    let mut spill: Vec<(&str, &str)> = Vec::new();
    let mut n = 0;
    let mut bind = |k, v| {
        if n < INLINE_KEYS {
            (names[n], texts[n]) = (k, v);
            n += 1;
        } else {
            spill.push((k, v));
        }
    };
    bind("http.request.method", req.method().as_str());
    bind("url.path", req.uri().path());
    if let Some(id) = h.get(X_REQUEST_ID) {
        bind("request_id", header_str(id));
    }
    for (name, key) in headers {
        if let Some(v) = name.as_ref().and_then(|name| h.get(name)) {
            bind(key.as_str(), header_str(v));
        }
    }
    if spill.is_empty() {
        let values: [&dyn Value; INLINE_KEYS] = std::array::from_fn(|i| &texts[i] as &dyn Value);
        context::new_context(given, &names[..n], &values[..n]);
    } else {
        let all: Vec<(&str, &str)> = names.iter().copied().zip(texts.iter().copied()).chain(spill).collect();
        let names: Vec<&str> = all.iter().map(|p| p.0).collect();
        let values: Vec<&dyn Value> = all.iter().map(|p| &p.1 as &dyn Value).collect();
        context::new_context(given, &names, &values);
    }
    let span = OpenSpan::open(&SITE, Cow::Borrowed(SPAN_NAME), &[]);
    let tp = traceparent_header(&span);
    (span, tp)
}

/// `00-<trace>-<span>-<flags>` for the response, formatted without `fmt`.
fn traceparent_header(span: &OpenSpan) -> Option<HeaderValue> {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    let (mut trace, mut id) = ([0u8; 32], [0u8; 16]);
    span.trace_id().write_hex(&mut trace);
    span.id().write_hex(&mut id);
    out[3..35].copy_from_slice(&trace);
    out[36..52].copy_from_slice(&id);
    if filter::trace_kept(span.trace_id()) {
        out[54] = b'1';
    }
    HeaderValue::from_bytes(&out).ok()
}

/// A header's value as bound: its text, or `<non-ascii>`.
fn header_str(v: &HeaderValue) -> &str {
    v.to_str().unwrap_or("<non-ascii>")
}

pin_project_lite::pin_project! {
    /// The response future of [`CaptureService`]: the inner future, polled in the
    /// request's context; it closes the request's span when it completes or is
    /// dropped.
    pub struct CaptureFuture<F> {
        #[pin]
        inner: F,
        ctx: Current,
        span: Option<OpenSpan>,
        state: SpanState,
        traceparent: Option<HeaderValue>,
    }

    impl<F> PinnedDrop for CaptureFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.take() {
                // Dropped before it completed: the client went away, or a runtime drops
                // the future after a panic it caught (then the panic was recorded
                // already, while it unwound through `poll`).
                let mut state = std::mem::take(this.state);
                state.failure = Some(exc_info_message("cancelled", "the request was dropped before a response"));
                let _installed = Installed::new(this.ctx);
                span.close(false, state);
            }
        }
    }
}

impl<F> fmt::Debug for CaptureFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureFuture").field("span", &self.span).finish_non_exhaustive()
    }
}

/// Closes the request's span if a panic unwinds out of the inner future's `poll`
/// (the context is still installed then: this guard drops first).
struct PanicGuard<'a> {
    span: &'a mut Option<OpenSpan>,
    state: &'a mut SpanState,
}

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(span) = self.span.take() {
                span.close(true, std::mem::take(self.state));
            }
        }
    }
}

impl<F, R, E> Future for CaptureFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: fmt::Display,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let installed = Installed::new(this.ctx);
        let guard = PanicGuard { span: this.span, state: this.state };
        let out = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(out) => out,
        };
        let (span, state) = (&mut *guard.span, &mut *guard.state);
        let out = match out {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                state.set(&encode_entry("http.response.status_code", &code));
                if resp.status().is_server_error() {
                    let reason = resp.status().canonical_reason().unwrap_or("server error");
                    state.failure = Some(exc_info_message("http", &format!("{code} {reason}")));
                }
                if let Some(tp) = this.traceparent.take() {
                    resp.headers_mut().insert("traceparent", tp);
                }
                Ok(resp)
            }
            Err(e) => {
                state.failure = Some(exc_info_message("error", &e.to_string()));
                Err(e)
            }
        };
        if let Some(span) = span.take() {
            span.close(false, std::mem::take(state));
        }
        drop(guard);
        drop(installed);
        context::recycle(std::mem::take(this.ctx));
        Poll::Ready(out)
    }
}
