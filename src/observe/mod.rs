//! What operators watch: `/healthz` (the process answers), `/readyz` (database reachable and
//! signing keys loaded: a load balancer sends traffic only then), `/metrics` (Prometheus), and
//! the request id and span every log line carries.
//!
//! `/metrics` is for the operator's scraper, not the internet: it needs
//! `Authorization: Bearer {FIRMGATE_METRICS_TOKEN}`, or, with no token set, a direct connection
//! from the loopback interface that no proxy forwarded.

pub mod metrics;
pub mod request_instruments;
pub mod requests;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::crypto::bearer::constant_time_eq;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(scrape))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.store.ping().await;
    let keys = !state.keys.current().is_empty();
    match (db, keys) {
        (true, true) => (StatusCode::OK, "ready"),
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database unreachable",
        ),
        (true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no signing keys",
        ),
    }
}

/// Who may read the metrics (see the module docs).
fn may_scrape(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> bool {
    match &state.settings.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|presented| constant_time_eq(presented, token.expose())),
        None => {
            let ip = peer.ip();
            ip.is_loopback()
                && !state
                    .settings
                    .trusted_proxies
                    .iter()
                    .any(|n| n.contains(&ip))
                && !headers.contains_key("x-forwarded-for")
                && !headers.contains_key(header::FORWARDED)
        }
    }
}

async fn scrape(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !may_scrape(&state, &headers, peer) {
        let mut res = (
            StatusCode::UNAUTHORIZED,
            "metrics need the operator's bearer token (FIRMGATE_METRICS_TOKEN)",
        )
            .into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"firmgate metrics\""),
        );
        return res;
    }
    match metrics::render(&state.store.pool_stats()) {
        Ok((body, content_type)) => {
            let mut res = body.into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable").into_response()
        }
    }
}
