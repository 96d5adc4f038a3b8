//! Credential stuffing against the real binary behind a trusted proxy (loopback only): many
//! attackers, thousands of forwarded addresses, a leaked list of mostly unknown addresses plus
//! some real accounts, for a bounded number of attempts, while real people sign in from their
//! own addresses. The attackers are throttled, the real people all get in with their own
//! throttles untouched, the server stays responsive (their p99 is reported), and the log holds
//! none of the passwords or addresses tried. [NIST SP 800-63B §5.2.2; OWASP ASVS 2.2.1;
//! SECURITY case 74]
//!
//! FG_STUFFING_ATTEMPTS sets the attack size (default 20,000); for a longer, faster run:
//! `FG_STUFFING_ATTEMPTS=100000 cargo test --release --test load stuffing -- --nocapture`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::{Client, StatusCode};

use crate::process::{browser, code_from_journey, Node};
use crate::support::*;

const ATTACKERS: usize = 48;
const ADDRESSES: usize = 4000;
const VICTIMS: usize = 40;
const REAL_PEOPLE: usize = 6;
const TIME_LIMIT: Duration = Duration::from_secs(150);

fn attempts_wanted() -> usize {
    std::env::var("FG_STUFFING_ATTEMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    throttled: AtomicUsize,
    refused: AtomicUsize,
    let_in: AtomicUsize,
}

/// One attacker: a login form (CSRF token and interaction) reused for attempt after attempt,
/// each from another forwarded address with another address from the list.
async fn attacker(base: String, client_id: String, tally: Arc<Tally>, running: Arc<AtomicBool>) {
    let b = browser(&base, None);
    let req = AuthRequest::new(&client_id);
    let page = b
        .follow(b.authorize(&req).await)
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let interaction = hidden(&page, "interaction").unwrap();
    let want = attempts_wanted();
    while running.load(Ordering::SeqCst) && tally.sent.fetch_add(1, Ordering::SeqCst) < want {
        let (ip, email, password) = {
            let mut rng = rand::thread_rng();
            let n = rng.gen_range(0..ADDRESSES);
            let ip = format!("10.{}.{}.{}", n / 65536, (n / 256) % 256, n % 256);
            let email = if rng.gen_bool(0.1) {
                format!("victim{}@example.com", rng.gen_range(0..VICTIMS))
            } else {
                format!("leaked{}@elsewhere.example", rng.gen_range(0..1_000_000))
            };
            (
                ip,
                email,
                format!("Hunter2-{}", rng.gen_range(0..1_000_000)),
            )
        };
        let res = b
            .http
            .post(format!("{base}/signin/login"))
            .header("x-forwarded-for", ip)
            .form(&[
                ("csrf", csrf.as_str()),
                ("interaction", interaction.as_str()),
                ("email", email.as_str()),
                ("password", password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let status = res.status();
        let html = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{html}");
        let error = text_of(&html, ".error");
        if error.contains("Too many unsuccessful attempts") {
            tally.throttled.fetch_add(1, Ordering::SeqCst);
        } else if error.contains("Email or password is incorrect") {
            tally.refused.fetch_add(1, Ordering::SeqCst);
        } else {
            tally.let_in.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credential_stuffing_is_throttled_while_real_people_sign_in() {
    let _turn = crate::ONE_AT_A_TIME.lock().await;
    let seed = TestServer::unserved(|_| {}).await;
    let fx = seed.fixture().await;
    for i in 0..VICTIMS {
        seed.person(&fx.firm_id, &format!("victim{i}@example.com"))
            .await;
    }
    let mut people = Vec::new();
    for i in 0..REAL_PEOPLE {
        let email = format!("real{i}@example.com");
        seed.person(&fx.firm_id, &email).await;
        people.push(Fixture {
            email,
            firm_id: fx.firm_id.clone(),
            person_id: String::new(),
            client_id: fx.client_id.clone(),
            client_secret: fx.client_secret.clone(),
        });
    }
    let mut node = Node::for_database(
        &seed,
        vec![("FIRMGATE_TRUSTED_PROXIES", "127.0.0.1/32".to_owned())],
    );
    node.spawn();
    let http = Client::new();
    node.ready(&http).await;
    let base = node.base();

    let tally = Arc::new(Tally::default());
    let running = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|_| {
            tokio::spawn(attacker(
                base.clone(),
                fx.client_id.clone(),
                tally.clone(),
                running.clone(),
            ))
        })
        .collect();

    // Real people sign in again and again from their own addresses while the attack runs.
    let journeys = Arc::new(Mutex::new(Vec::new()));
    let discovery = Arc::new(Mutex::new(Vec::new()));
    let mut real = Vec::new();
    for (i, person) in people.into_iter().enumerate() {
        let (base, journeys, running) = (base.clone(), journeys.clone(), running.clone());
        real.push(tokio::spawn(async move {
            let ip = format!("192.0.2.{}", i + 1);
            while running.load(Ordering::SeqCst) {
                let t = Instant::now();
                let got = code_from_journey(&browser(&base, Some(&ip)), &person).await;
                assert!(got.is_some(), "{} could not sign in", person.email);
                journeys.lock().unwrap().push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    {
        let (base, discovery, running) = (base.clone(), discovery.clone(), running.clone());
        real.push(tokio::spawn(async move {
            let http = Client::new();
            while running.load(Ordering::SeqCst) {
                let t = Instant::now();
                let res = http
                    .get(format!("{base}/.well-known/openid-configuration"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                discovery.lock().unwrap().push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    while tally.sent.load(Ordering::SeqCst) < attempts_wanted() && started.elapsed() < TIME_LIMIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for a in attackers {
        a.await.unwrap();
    }
    let attack_time = started.elapsed();
    running.store(false, Ordering::SeqCst);
    for r in real {
        r.await.unwrap();
    }

    let throttled = tally.throttled.load(Ordering::SeqCst);
    let refused = tally.refused.load(Ordering::SeqCst);
    let attempts = throttled + refused + tally.let_in.load(Ordering::SeqCst);
    let mut journeys = journeys.lock().unwrap().clone();
    journeys.sort();
    let mut discovery = discovery.lock().unwrap().clone();
    discovery.sort();
    eprintln!(
        "{attempts} attempts in {attack_time:.1?} ({:.0}/s): {throttled} throttled, {refused} refused, \
         0 let in; real people: {} sign-ins, p50 {:?}, p99 {:?}; discovery p99 {:?} ({} probes)",
        attempts as f64 / attack_time.as_secs_f64(),
        journeys.len(),
        percentile(&journeys, 0.5),
        percentile(&journeys, 0.99),
        percentile(&discovery, 0.99),
        discovery.len(),
    );

    assert_eq!(tally.let_in.load(Ordering::SeqCst), 0, "an attacker got in");
    assert!(
        attempts >= attempts_wanted().min(10_000),
        "only {attempts} attempts in {attack_time:?}"
    );
    // Each of the 4,000 addresses has 50 free failures and each victim 5: most of a long run
    // is refused unheard.
    assert!(throttled > 0);
    assert!(journeys.len() >= REAL_PEOPLE * 3, "{}", journeys.len());
    assert!(
        percentile(&journeys, 0.99) < Duration::from_secs(5),
        "real people waited too long"
    );

    // Their own counters were never touched; the victims' were.
    let pool = sqlx::AnyPool::connect(&node.database_url).await.unwrap();
    let failures_of = |key: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT failures FROM throttles WHERE key = $1")
                .bind(key)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .unwrap_or(0)
        }
    };
    for i in 0..REAL_PEOPLE {
        assert_eq!(
            failures_of(format!("login:acct:real{i}@example.com")).await,
            0
        );
    }
    let mut victims_counted = 0;
    for i in 0..VICTIMS {
        if failures_of(format!("login:acct:victim{i}@example.com")).await > 0 {
            victims_counted += 1;
        }
    }
    assert!(victims_counted > VICTIMS / 2, "{victims_counted}");

    node.kill();
    let log = std::fs::read_to_string(&node.log).unwrap();
    for needle in ["Hunter2-", "leaked", "victim", PASSWORD] {
        assert!(!log.contains(needle), "{needle:?} is in the log");
    }
}
