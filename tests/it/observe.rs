//! What operators see: readiness, Prometheus metrics (who may read them, and that sign-in
//! outcomes and requests are counted), request ids.

use reqwest::StatusCode;

use crate::support::*;

const TOKEN: &str = "0123456789abcdef0123456789abcdef-metrics";

async fn metrics(server: &TestServer, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut req = server.backchannel().get(server.url("/metrics"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// The value of the sample line that starts with `series` (name and labels), or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_and_sign_in_outcomes() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let (status, before) = metrics(&server, &[]).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let failures = "firmgate_audit_events_total{kind=\"sign_in\",outcome=\"failure\"}";
    let discovery = "firmgate_http_requests_total{method=\"GET\",route=\"/.well-known/openid-configuration\",status=\"200\"}";

    let browser = Browser::new(&server);
    browser.get("/.well-known/openid-configuration").await;
    browser.get("/no-such-page?email=leak").await;
    let html = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    browser
        .submit_login(&html, &fx.email, "wrong password guess")
        .await;

    let (_, after) = metrics(&server, &[]).await;
    // Other tests share the process-wide registry, so compare with at-least.
    assert!(
        sample(&after, failures) >= sample(&before, failures) + 1.0,
        "{after}"
    );
    assert!(sample(&after, discovery) >= sample(&before, discovery) + 1.0);
    assert!(after.contains("firmgate_http_request_duration_seconds_bucket{route=\"/signin/login\""));
    assert!(sample(&after, "firmgate_db_pool_max_connections") >= 1.0);
    assert!(sample(&after, "firmgate_db_pool_connections") >= 1.0);
    assert!(sample(&after, "firmgate_process_resident_memory_bytes") > 1e6);
    // Nothing a client sent becomes a label: the query and the e-mail are nowhere.
    assert!(!after.contains(&fx.email));
    assert!(!after.contains("client_id="));
    assert!(!after.contains("no-such-page"));
    assert!(after.contains("route=\"(unmatched)\",status=\"404\""));
}

#[tokio::test]
async fn without_a_token_only_a_direct_loopback_peer_reads_metrics() {
    let server = TestServer::start().await;
    // A request a proxy forwarded is from anywhere, even when the proxy is on this host.
    for header in ["x-forwarded-for", "forwarded"] {
        let (status, body) = metrics(&server, &[(header, "for=203.0.113.9")]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        assert!(!body.contains("firmgate_"));
    }
}

#[tokio::test]
async fn with_a_token_metrics_need_it() {
    let server = TestServer::start_with(|s| {
        s.metrics_token = Some(firmgate::config::SecretString::new(TOKEN.to_owned()))
    })
    .await;
    let (status, body) = metrics(&server, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains("firmgate_"));
    let wrong = format!("Bearer {}", TOKEN.replace('0', "1"));
    assert_eq!(
        metrics(&server, &[("authorization", &wrong)]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let right = format!("Bearer {TOKEN}");
    let (status, body) = metrics(&server, &[("authorization", &right)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("# TYPE firmgate_http_requests_total counter"));
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_hostile_one_is_replaced() {
    let server = TestServer::start().await;
    let http = server.backchannel();
    let id_of = |res: &reqwest::Response| {
        res.headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let a = http.get(server.url("/jwks")).send().await.unwrap();
    let b = http.get(server.url("/no-such-page")).send().await.unwrap();
    let (a, b) = (id_of(&a).unwrap(), id_of(&b).unwrap());
    assert_ne!(a, b);
    let kept = http
        .get(server.url("/healthz"))
        .header("x-request-id", "lb-7f3a.1")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&kept).as_deref(), Some("lb-7f3a.1"));
    let replaced = http
        .get(server.url("/healthz"))
        .header("x-request-id", "x\" level=error msg=forged")
        .send()
        .await
        .unwrap();
    let id = id_of(&replaced).unwrap();
    assert!(!id.contains(' ') && !id.contains('"'), "{id}");
}

#[tokio::test]
async fn readiness_says_ready_when_the_database_answers() {
    let server = TestServer::start().await;
    let res = server
        .backchannel()
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready");
}
