//! PostgreSQL stopped for ten seconds under load, then started again. firmgate must answer
//! quickly with 503 (`temporarily_unavailable` at OAuth endpoints, RFC 6749 §5.2 / §4.1.2.1; a
//! page that says so in the browser), say "not ready" at /readyz, write nothing by halves, and
//! recover without a restart: every refresh token a relying party holds still works.
//!
//! It needs a PostgreSQL cluster of its own to stop: `.ci/start-outage-postgres` makes one and
//! CI sets FG_OUTAGE_DATABASE_URL and FG_OUTAGE_CLUSTER ("15 outage"). Without them the test
//! says so and does nothing.
//!
//! The smaller outage, connections the server closes while the pool holds them idle, needs only
//! TEST_DATABASE_URL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firmgate::admin::clients::ClientSpec;
use reqwest::StatusCode;

use crate::support::*;

#[derive(Debug, Clone)]
struct Answer {
    what: &'static str,
    started: Instant,
    took: Duration,
    status: StatusCode,
    detail: String,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Answer>>>);

impl Log {
    fn add(&self, what: &'static str, started: Instant, status: StatusCode, detail: String) {
        self.0.lock().unwrap().push(Answer {
            what,
            started,
            took: started.elapsed(),
            status,
            detail,
        });
    }
}

fn cluster(action: &str, cluster: &str) {
    let mut args: Vec<&str> = cluster.split_whitespace().collect();
    args.push(action);
    if action == "stop" {
        args.extend(["-m", "fast"]);
    }
    let ok = std::process::Command::new("pg_ctlcluster")
        .args(&args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "pg_ctlcluster {args:?}");
}

/// One sign-in through the pages and a redemption; stops at the first 503 (or other surprise).
async fn journey(server: &TestServer, fx: &Fixture, log: &Log) {
    let browser = Browser::new(server);
    let req = AuthRequest::new(&fx.client_id);
    let started = Instant::now();
    let mut res = browser.follow(browser.authorize(&req).await).await;
    for _ in 0..4 {
        let status = res.status();
        let loc = location(&res);
        if status == StatusCode::SEE_OTHER && loc.starts_with(REDIRECT) {
            let code = query_param(&loc, "code").unwrap_or_default();
            let t = Instant::now();
            let (status, _, body) = redeem(server, fx, &code, &req.verifier).await;
            log.add("redeem", t, status, body.to_string());
            log.add("journey", started, StatusCode::OK, String::new());
            return;
        }
        let url = res.url().to_string();
        let html = res.text().await.unwrap_or_default();
        if status != StatusCode::OK {
            log.add("journey", started, status, text_of(&html, "h1"));
            return;
        }
        res = if url.contains("/signin/login") {
            browser
                .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
                .await
        } else if url.contains("/signin/consent") {
            browser
                .follow(browser.submit_consent(&html, "allow").await)
                .await
        } else {
            log.add("journey", started, status, format!("unexpected page {url}"));
            return;
        };
    }
    log.add(
        "journey",
        started,
        StatusCode::LOOP_DETECTED,
        "no end".into(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_seconds_without_postgresql_fail_fast_lose_nothing_and_recover() {
    let (Ok(url), Ok(name)) = (
        std::env::var("FG_OUTAGE_DATABASE_URL"),
        std::env::var("FG_OUTAGE_CLUSTER"),
    ) else {
        eprintln!("FG_OUTAGE_DATABASE_URL / FG_OUTAGE_CLUSTER unset: the outage test did not run");
        return;
    };
    let server = TestServer::start_on(Some(url), |_| {}).await;
    let fx = server
        .fixture_with(ClientSpec {
            grant_types: vec![
                "authorization_code".into(),
                "refresh_token".into(),
                "client_credentials".into(),
            ],
            ..server.spec()
        })
        .await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..3 {
        let t = signed_in_tokens(
            &server,
            &fx,
            &Browser::new(&server),
            &AuthRequest::new(&fx.client_id),
        )
        .await;
        refresh_tokens.push(t["refresh_token"].as_str().unwrap().to_owned());
    }
    let server = Arc::new(server);
    let fx = Arc::new(fx);
    let log = Log::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut workers = Vec::new();
    // Relying parties refreshing in a loop, keeping the token they hold until a new one comes.
    for rt in refresh_tokens {
        let (server, fx, log, running) = (server.clone(), fx.clone(), log.clone(), running.clone());
        workers.push(tokio::spawn(async move {
            let mut held = rt;
            while running.load(Ordering::SeqCst) {
                let t = Instant::now();
                let (status, body) = refresh(&server, &fx, &held).await;
                if status == StatusCode::OK {
                    held = body["refresh_token"].as_str().unwrap().to_owned();
                }
                log.add("refresh", t, status, body.to_string());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            held
        }));
    }
    for what in ["client_credentials", "journey"] {
        let (server, fx, log, running) = (server.clone(), fx.clone(), log.clone(), running.clone());
        workers.push(tokio::spawn(async move {
            while running.load(Ordering::SeqCst) {
                if what == "journey" {
                    journey(&server, &fx, &log).await;
                } else {
                    let t = Instant::now();
                    let (status, body) =
                        token_request(&server, &fx, &[("grant_type", "client_credentials")]).await;
                    log.add("client_credentials", t, status, body.to_string());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            String::new()
        }));
    }
    let ready = |server: Arc<TestServer>| async move {
        let t = Instant::now();
        let res = server
            .backchannel()
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap();
        (t, res.status(), res.text().await.unwrap())
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster("stop", &name);
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, status, body) = ready(server.clone()).await;
    assert_eq!(
        (status, body.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database unreachable"
        )
    );
    let discovery = server
        .backchannel()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        discovery.status(),
        StatusCode::OK,
        "discovery needs no database"
    );
    tokio::time::sleep(Duration::from_secs(9)).await;
    let up_begins = Instant::now();
    cluster("start", &name);
    let recovered = loop {
        let (t, status, _) = ready(server.clone()).await;
        if status == StatusCode::OK {
            break t;
        }
        assert!(
            up_begins.elapsed() < Duration::from_secs(30),
            "not ready 30 s after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(4)).await;
    running.store(false, Ordering::SeqCst);
    let mut held = Vec::new();
    for w in workers {
        held.push(w.await.unwrap());
    }
    let answers = log.0.lock().unwrap().clone();
    eprintln!(
        "{} answers; ready again {:?} after PostgreSQL was started",
        answers.len(),
        recovered - up_begins
    );

    // Never anything but success or 503, whatever the moment.
    let odd: Vec<_> = answers
        .iter()
        .filter(|a| a.status != StatusCode::OK && a.status != StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(odd.is_empty(), "{odd:#?}");
    for a in answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE && a.what != "journey")
    {
        assert!(a.detail.contains("temporarily_unavailable"), "{a:?}");
    }
    for a in answers
        .iter()
        .filter(|a| a.status == StatusCode::SERVICE_UNAVAILABLE && a.what == "journey")
    {
        assert_eq!(a.detail, "Temporarily unavailable", "{a:?}");
    }
    // While it was down: refused, and fast (the pool gives up after 2 s).
    let during: Vec<_> = answers
        .iter()
        .filter(|a| a.started > down && a.started + a.took < up_begins && a.what != "journey")
        .collect();
    assert!(during.len() >= 6, "{during:?}");
    // client_credentials touches the database only to read the client, which a node keeps for
    // CLIENT_CACHE_TTL: a token may still be issued from a record read before the stop, within
    // that TTL of it, and never later. Everything else needs the database and is refused.
    let cache_ttl = firmgate::store::client_cache::CLIENT_CACHE_TTL;
    for a in &during {
        let from_cache = a.what == "client_credentials" && a.started < down + cache_ttl;
        assert!(
            a.status == StatusCode::SERVICE_UNAVAILABLE
                || (from_cache && a.status == StatusCode::OK),
            "{a:?}"
        );
    }
    assert!(
        during.iter().any(|a| a.started > down + cache_ttl),
        "no request after the client cache expired: {during:?}"
    );
    let slowest = during.iter().map(|a| a.took).max().unwrap();
    eprintln!(
        "while down: {} refusals (503), the slowest after {slowest:?}",
        during.len()
    );
    assert!(
        slowest < Duration::from_secs(3),
        "a refusal took {slowest:?}"
    );
    // Once ready again, everything works, and every relying party's refresh token with it.
    let after: Vec<_> = answers
        .iter()
        .filter(|a| a.started > recovered + Duration::from_millis(500))
        .collect();
    assert!(after.iter().any(|a| a.what == "journey"));
    assert!(
        after.iter().all(|a| a.status == StatusCode::OK),
        "{after:#?}"
    );
    for rt in held.iter().filter(|h| !h.is_empty()) {
        assert_eq!(refresh(&server, &fx, rt).await.0, StatusCode::OK);
    }

    assert_nothing_half_written(&server.state.settings.database_url).await;
}

/// The pool does not ping a PostgreSQL connection before every use (a round trip per
/// statement), only one that sat idle for `IDLE_BEFORE_PING`: connections the server closed
/// while they were idle (a restart, an idle timeout, `pg_terminate_backend`) are replaced
/// without a failed request. Needs TEST_DATABASE_URL; on SQLite there is nothing to close.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_the_server_closed_while_idle_are_replaced_without_a_failed_request() {
    let Some(pg) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        eprintln!("TEST_DATABASE_URL unset: the idle-connection test did not run");
        return;
    };
    let server = TestServer::start_on(Some(pg), |_| {}).await;
    let fx = server.fixture().await;
    let tokens = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let burst = || async {
        let calls = (0..24).map(|_| userinfo(&server, &access));
        futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|(status, _, body)| (status, body))
            .collect::<Vec<_>>()
    };
    // Several connections open, then every one of them closed by the server.
    assert!(burst().await.iter().all(|(s, _)| *s == StatusCode::OK));
    let admin = sqlx::AnyPool::connect(&server.state.settings.database_url)
        .await
        .unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    assert!(closed >= 2, "closed {closed} connections");
    tokio::time::sleep(firmgate::store::IDLE_BEFORE_PING + Duration::from_millis(200)).await;

    let answers = burst().await;
    let failed: Vec<_> = answers
        .iter()
        .filter(|(s, _)| *s != StatusCode::OK)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
}
