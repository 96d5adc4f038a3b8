//! The Prometheus instruments, in one process-wide registry (as Prometheus clients are): HTTP
//! requests and their latency by route, every audited event by kind and outcome (sign-ins,
//! MFA, throttles, SSO, ...), back-channel and outbox delivery, the database pool, and the
//! process itself (CPU, memory, open files).
//!
//! Labels come only from bounded sets (route templates, standard methods, status codes, audit
//! kinds), never from anything a client sends, so no request can grow the registry.

use std::sync::{Arc, LazyLock, OnceLock};

use axum::http::StatusCode;
use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use super::request_instruments::{Collected, RequestInstruments, ShardedCounter, ShardedHistogram};

pub struct Metrics {
    registry: Registry,
    /// `http_requests_total` and `http_request_duration_seconds`.
    requests: Arc<RequestInstruments>,
    audit_events: IntCounterVec,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
}

/// Request latency buckets in seconds: sub-millisecond for discovery and JWKS up to the 30 s
/// request time limit.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

impl Metrics {
    fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new_custom(Some("firmgate".into()), None)?;
        let requests = Arc::new(RequestInstruments::new(
            LATENCY_BUCKETS,
            ("http_requests_total", "HTTP requests answered"),
            (
                "http_request_duration_seconds",
                "Time from request to response headers",
            ),
        )?);
        let audit_events = IntCounterVec::new(
            Opts::new(
                "audit_events_total",
                "Audited events: kind=\"sign_in\" outcome=\"success|failure|throttled\", \
                 kind=\"mfa\", kind=\"sso_sign_in\", ...",
            ),
            &["kind", "outcome"],
        )?;
        let pool_size = IntGauge::new("db_pool_connections", "Open database connections")?;
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections")?;
        let pool_max = IntGauge::new("db_pool_max_connections", "Database pool size limit")?;
        registry.register(Box::new(Collected(requests.clone())))?;
        registry.register(Box::new(audit_events.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            registry,
            requests,
            audit_events,
            pool_size,
            pool_idle,
            pool_max,
        })
    }
}

/// `None` only if the instruments could not be registered (a programming error, logged once);
/// firmgate then serves without metrics rather than not at all.
static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| match Metrics::new() {
    Ok(m) => Some(m),
    Err(e) => {
        tracing::error!(error = %e, "metrics are disabled");
        None
    }
});

/// Counts one answered request.
pub fn request(route: &str, method: &'static str, status: StatusCode, seconds: f64) {
    if let Some(m) = METRICS.as_ref() {
        m.requests.counter(route, method, status.as_u16()).inc();
        m.requests.latency(route).observe(seconds);
    }
}

/// One route's instruments, looked up on its first request and kept: finding them takes a lock
/// and a hash of the labels. The observe layer keeps one per route it wraps.
#[derive(Debug, Default)]
pub struct RouteInstruments {
    latency: OnceLock<(Box<str>, Arc<ShardedHistogram>)>,
    /// The first few method and status pairs the route answers with; others are looked up.
    counters: [OnceLock<(&'static str, u16, Arc<ShardedCounter>)>; 4],
}

impl RouteInstruments {
    /// Counts one answered request, as [`request`] does.
    pub fn request(&self, route: &str, method: &'static str, status: StatusCode, seconds: f64) {
        let Some(m) = METRICS.as_ref() else {
            return;
        };
        let (kept_for, latency) = self
            .latency
            .get_or_init(|| (route.into(), m.requests.latency(route)));
        if **kept_for != *route {
            // Not the route these were kept for (a service mounted under several).
            return request(route, method, status, seconds);
        }
        latency.observe(seconds);
        let code = status.as_u16();
        for slot in &self.counters {
            let (kept_method, kept_code, counter) =
                slot.get_or_init(|| (method, code, m.requests.counter(route, method, code)));
            if *kept_method == method && *kept_code == code {
                counter.inc();
                return;
            }
        }
        m.requests.counter(route, method, code).inc();
    }
}

/// Counts one audited event.
pub fn audit_event(kind: &str, outcome: &str) {
    if let Some(m) = METRICS.as_ref() {
        m.audit_events.with_label_values(&[kind, outcome]).inc();
    }
}

/// The database pool as seen at scrape time.
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

/// The text exposition format (version 0.0.4).
pub fn render(pool: &PoolStats) -> Result<(String, String), MetricsError> {
    let Some(m) = METRICS.as_ref() else {
        return Ok((String::new(), TextEncoder::new().format_type().to_owned()));
    };
    m.pool_size.set(i64::from(pool.size));
    m.pool_idle
        .set(i64::try_from(pool.idle).unwrap_or(i64::MAX));
    m.pool_max.set(i64::from(pool.max));
    let encoder = TextEncoder::new();
    let mut out = Vec::new();
    encoder.encode(&m.registry.gather(), &mut out)?;
    Ok((
        String::from_utf8_lossy(&out).into_owned(),
        encoder.format_type().to_owned(),
    ))
}
