//! The whole-request time limit: a request still unanswered when the limit passes gets `408
//! Request Timeout`. It runs once the headers are in; the time before that is `web::idle`'s.
//!
//! tower-http's timeout arms its timer before the handler runs, so every request inserts into
//! and removes from the runtime's timer wheel, which takes a lock shared by all workers. The
//! busiest requests (discovery, JWKS) are ready on their first poll, so the timer is armed only
//! once the handler first has to wait: the limit then runs from that moment, a synchronous
//! first step later than the request's arrival.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{Request, Response, StatusCode};
use tokio::time::Sleep;
use tower::{Layer, Service};

#[derive(Clone, Copy, Debug)]
pub struct TimeLimitLayer {
    limit: Duration,
}

impl TimeLimitLayer {
    pub fn new(limit: Duration) -> TimeLimitLayer {
        TimeLimitLayer { limit }
    }
}

impl<S> Layer<S> for TimeLimitLayer {
    type Service = TimeLimit<S>;

    fn layer(&self, inner: S) -> TimeLimit<S> {
        TimeLimit {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TimeLimit<S> {
    inner: S,
    limit: Duration,
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for TimeLimit<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    ResponseBody: Default,
{
    type Response = Response<ResponseBody>;
    type Error = S::Error;
    type Future = TimeLimited<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        TimeLimited {
            inner: self.inner.call(request),
            timer: None,
            limit: self.limit,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct TimeLimited<F> {
        #[pin]
        inner: F,
        #[pin]
        timer: Option<Sleep>,
        limit: Duration,
    }
}

impl<F, ResponseBody, E> Future for TimeLimited<F>
where
    F: Future<Output = Result<Response<ResponseBody>, E>>,
    ResponseBody: Default,
{
    type Output = Result<Response<ResponseBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        if this.timer.is_none() {
            this.timer.set(Some(tokio::time::sleep(*this.limit)));
        }
        match this.timer.as_pin_mut().map(|timer| timer.poll(cx)) {
            Some(Poll::Ready(())) => {
                let mut timed_out = Response::new(ResponseBody::default());
                *timed_out.status_mut() = StatusCode::REQUEST_TIMEOUT;
                Poll::Ready(Ok(timed_out))
            }
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    /// A handler that answers `status` after `delay` (at once for zero).
    fn handler(
        delay: Duration,
        status: StatusCode,
    ) -> impl Service<
        Request<Body>,
        Response = Response<Body>,
        Error = std::convert::Infallible,
        Future = impl Future + Send,
    > + Clone {
        tower::service_fn(move |_request: Request<Body>| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut response = Response::new(Body::from("answered"));
            *response.status_mut() = status;
            Ok::<_, std::convert::Infallible>(response)
        })
    }

    async fn status_after(limit: Duration, delay: Duration) -> (StatusCode, Duration) {
        let service = TimeLimitLayer::new(limit).layer(handler(delay, StatusCode::CREATED));
        let started = Instant::now();
        let response = service
            .oneshot(Request::new(Body::empty()))
            .await
            .unwrap_or_else(|never| match never {});
        (response.status(), started.elapsed())
    }

    #[tokio::test]
    async fn a_handler_that_answers_in_time_is_passed_through() {
        assert_eq!(
            status_after(Duration::from_secs(5), Duration::ZERO).await.0,
            StatusCode::CREATED
        );
        // One that waits (so the timer is armed) but answers before the limit.
        assert_eq!(
            status_after(Duration::from_secs(5), Duration::from_millis(20))
                .await
                .0,
            StatusCode::CREATED
        );
    }

    #[tokio::test]
    async fn a_handler_still_waiting_at_the_limit_gets_408() {
        let (status, took) =
            status_after(Duration::from_millis(100), Duration::from_secs(30)).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }
}
