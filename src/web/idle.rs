//! Closes connections that go [`IDLE_LIMIT`] without a request in progress: a new connection
//! whose first request's headers do not arrive in time, a keep-alive connection left idle, and
//! headers sent a byte at a time (slowloris) alike, since a request counts only once its headers
//! are complete.
//!
//! hyper's own header-read timeout does this with a timer armed for every request, which costs
//! an insert into and a removal from the runtime's shared timer wheel per request. Here each
//! request only stamps the connection's [`Activity`] (two uncontended atomics), and one timer per
//! connection wakes once per [`IDLE_LIMIT`] to look at the stamps.
//!
//! A request in progress is one whose response has not been produced yet; its body may still
//! be in the socket when the connection counts as idle again, so a client that stops reading a
//! response for the limit is cut off too.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::Service;

pub const IDLE_LIMIT: Duration = Duration::from_secs(10);

/// One connection's requests in progress, and when the last one ended.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    in_progress: AtomicU32,
    /// Milliseconds after `opened`.
    idle_since: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_progress: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
        })
    }

    fn begin(self: &Arc<Activity>) -> InProgress {
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        InProgress(self.clone())
    }

    /// When the connection became idle; `None` while a request is in progress.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_progress.load(Ordering::Acquire) > 0 {
            return None;
        }
        let ms = self.idle_since.load(Ordering::Acquire);
        Some(self.opened + Duration::from_millis(ms))
    }

    /// Completes once the connection has been idle for `limit`.
    pub async fn idle_for(&self, limit: Duration) {
        let mut check_at = self.opened + limit;
        loop {
            tokio::time::sleep_until(check_at).await;
            let now = Instant::now();
            check_at = match self.idle_since() {
                None => now + limit,
                Some(since) if now >= since + limit => return,
                Some(since) => since + limit,
            };
        }
    }
}

/// A request in progress; dropping it (answered, or abandoned) stamps the connection idle.
struct InProgress(Arc<Activity>);

impl Drop for InProgress {
    fn drop(&mut self) {
        let activity = &self.0;
        let ms = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The stamp before the count, so that a watcher that sees no request in progress also
        // sees when the last one ended.
        activity.idle_since.store(ms, Ordering::Release);
        activity.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection's service that records its requests in the connection's [`Activity`].
#[derive(Clone, Debug)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Tracked<S> {
        Tracked { inner, activity }
    }
}

impl<S, R> Service<R> for Tracked<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let in_progress = self.activity.begin();
        TrackedFuture {
            inner: self.inner.call(request),
            in_progress: Some(in_progress),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_progress: Option<InProgress>,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answer = ready!(this.inner.poll(cx));
        this.in_progress.take();
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    /// A service that answers after `delay`.
    fn slow(
        delay: Duration,
    ) -> impl Service<(), Response = (), Error = Infallible, Future = impl Send> + Clone + Send
    {
        tower::service_fn(move |()| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(())
        })
    }

    /// `idle_for`, or a failure if it has not completed within an (auto-advanced) day.
    async fn idle(activity: &Activity) {
        tokio::time::timeout(Duration::from_secs(86_400), activity.idle_for(IDLE_LIMIT))
            .await
            .expect("never counted as idle");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_with_no_request_is_idle_from_the_start() {
        let activity = Activity::new();
        let started = Instant::now();
        idle(&activity).await;
        assert_eq!(started.elapsed(), IDLE_LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_progress_holds_the_connection_open_and_idleness_counts_from_its_end() {
        let activity = Activity::new();
        let started = Instant::now();
        let service = Tracked::new(slow(Duration::from_secs(25)), activity.clone());
        let request = tokio::spawn(service.oneshot(()));
        idle(&activity).await;
        assert!(request.is_finished());
        assert_eq!(started.elapsed(), Duration::from_secs(25) + IDLE_LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_request_does_not_keep_the_connection_busy() {
        let activity = Activity::new();
        let started = Instant::now();
        let service = Tracked::new(slow(Duration::from_secs(3600)), activity.clone());
        let request = tokio::spawn(service.oneshot(()));
        tokio::time::sleep(Duration::from_secs(2)).await;
        request.abort();
        idle(&activity).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2) + IDLE_LIMIT);
    }
}
