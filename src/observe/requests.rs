//! Every request gets an id: the caller's `X-Request-Id` when it is a short plain token (a load
//! balancer's), otherwise one made here. The id is echoed in the response, and every log line
//! written while the request is served carries it in the `request` span. The span holds the
//! route template, never the path or query: those carry codes, tokens and e-mail addresses.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Span;

use super::metrics::RouteInstruments;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// This process's prefix: request ids stay unique across nodes and restarts without a random
/// draw per request.
static PREFIX: LazyLock<String> = LazyLock::new(|| {
    crate::crypto::bearer::random_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
});
static NEXT: AtomicU64 = AtomicU64::new(1);

/// An id made here: this process's prefix and a counter.
fn new_id() -> String {
    let mut counter = itoa::Buffer::new();
    let counter = counter.format(NEXT.fetch_add(1, Ordering::Relaxed));
    let mut id = String::with_capacity(PREFIX.len() + 1 + counter.len());
    id.push_str(&PREFIX);
    id.push('-');
    id.push_str(counter);
    id
}

/// 1 to 64 of `[A-Za-z0-9._-]`: safe to log and to echo.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// The layer that observes every request. A plain tower layer rather than an axum `from_fn`
/// middleware: it runs on every request, discovery and JWKS included, and `from_fn` costs a
/// boxed future and two clones of the route's boxed service per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            instruments: Arc::default(),
        }
    }
}

/// The router applies the layer to each route on its own, so each `Observe` serves one route.
#[derive(Clone, Debug)]
pub struct Observe<S> {
    inner: S,
    instruments: Arc<RouteInstruments>,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let given = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| v.to_str().is_ok_and(acceptable))
            .cloned();
        let id = match given {
            Some(value) => value,
            None => HeaderValue::try_from(new_id()).unwrap_or(HeaderValue::from_static("unnamed")),
        };
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        // Checked to be visible ASCII above (given) or made of it (made).
        let id_text = id.to_str().unwrap_or("unnamed");
        let route_text = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        let span = tracing::info_span!("request", id = %id_text, method, route = %route_text);
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Observed {
            inner,
            instruments: self.instruments.clone(),
            span,
            started,
            route,
            method,
            id: Some(id),
        }
    }
}

const UNMATCHED: &str = "(unmatched)";

pin_project_lite::pin_project! {
    /// The route's response future, run inside the request's span; when it is ready, the
    /// request is counted and logged and the id is put on the response.
    pub struct Observed<F> {
        #[pin]
        inner: F,
        instruments: Arc<RouteInstruments>,
        span: Span,
        started: Instant,
        route: Option<MatchedPath>,
        method: &'static str,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for Observed<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = ready!(this.inner.poll(cx))?;
        let status = response.status();
        let seconds = this.started.elapsed().as_secs_f64();
        let route = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        this.instruments
            .request(route, this.method, status, seconds);
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                ms = seconds * 1000.0,
                "request failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                ms = seconds * 1000.0,
                "request served"
            );
        }
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_short_ids_are_taken_from_the_caller() {
        assert!(acceptable("lb-4f2a.77_x"));
        assert!(!acceptable(""));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nlevel=error"));
        assert!(!acceptable("ünï"));
    }

    #[test]
    fn made_ids_are_unique_and_acceptable() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert!(acceptable(&a), "{a}");
    }
}
