//! The connection loop, with the limits that keep slow or huge requests from tying the server
//! up (`axum::serve` has none of them):
//!
//! - a connection closes when it has gone [`super::idle::IDLE_LIMIT`] without a request in
//!   progress: headers that have not arrived by then, and idle keep-alive connections;
//! - headers are at most [`MAX_HEADER_BYTES`] (hyper answers 431 above it);
//! - at most [`MAX_CONNECTIONS`] connections at once: further ones are closed at accept;
//! - bodies (64 KiB) and whole requests (30 s) are limited by the router's layers.
//!
//! Shutdown: stop accepting, let requests in flight finish (each is bounded by the 30 s request
//! limit; connections still open after [`DRAIN_TIMEOUT`] are dropped), then return.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::idle::{Activity, Tracked, IDLE_LIMIT};

pub const MAX_HEADER_BYTES: usize = 64 * 1024;
pub const MAX_CONNECTIONS: usize = 4096;
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(35);

fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    // No header-read timeout from hyper: `idle` watches each connection instead, without a
    // timer per request.
    builder.http1().max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .max_concurrent_streams(128)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(IDLE_LIMIT);
    builder
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let builder = Arc::new(builder());
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                limit = MAX_CONNECTIONS,
                "connection limit reached; closing one"
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let service = Tracked::new(
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    request
                }),
            activity.clone(),
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let connection = watcher.watch(builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service),
            ));
            tokio::select! {
                biased;
                ended = connection => {
                    if let Err(e) = ended {
                        tracing::trace!(error = %e, "connection ended with an error");
                    }
                }
                () = activity.idle_for(IDLE_LIMIT) => {
                    tracing::debug!("closing a connection idle for {} s", IDLE_LIMIT.as_secs());
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("no longer accepting connections; finishing requests in flight");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period were dropped");
    }
    Ok(())
}
