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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
    }

    #[test]
    fn a_routes_kept_instruments_count_every_request_including_answers_past_the_kept_few() {
        // A route no other test uses: the registry is process-wide.
        let route = "/test-only/kept-instruments";
        let kept = RouteInstruments::default();
        for _ in 0..3 {
            kept.request(route, "GET", StatusCode::OK, 0.0002);
        }
        // Six kinds of answer in all, more than the four kept.
        for status in [400, 401, 404, 429, 500] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            kept.request(route, "POST", status, 0.02);
            kept.request(route, "POST", status, 0.02);
        }
        // The same instruments asked about another route count it under that route.
        kept.request("/test-only/other", "GET", StatusCode::OK, 0.0002);
        let pool = PoolStats {
            size: 1,
            idle: 1,
            max: 1,
        };
        let (text, _) = render(&pool).unwrap_or_default();
        let count = |method: &str, status: &str| {
            sample(
                &text,
                &format!(
                    "firmgate_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
                ),
            )
        };
        assert_eq!(count("GET", "200"), Some(3.0), "{text}");
        for status in ["400", "401", "404", "429", "500"] {
            assert_eq!(count("POST", status), Some(2.0), "{status}: {text}");
        }
        let latency = |series: &str| {
            sample(
                &text,
                &format!("firmgate_http_request_duration_seconds_{series}"),
            )
        };
        assert_eq!(latency(&format!("count{{route=\"{route}\"}}")), Some(13.0));
        assert_eq!(
            latency(&format!("bucket{{route=\"{route}\",le=\"0.0005\"}}")),
            Some(3.0)
        );
        assert_eq!(latency("count{route=\"/test-only/other\"}"), Some(1.0));
    }
}
