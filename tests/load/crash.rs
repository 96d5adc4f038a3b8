//! Crash safety: the real binary under a steady load of sign-ins, code redemptions, refreshes
//! and password-reset e-mails (to a real SMTP listener) is killed with SIGKILL at random moments
//! five times and started again. Afterwards:
//!
//! - every refresh token a client received either still works or was revoked by the reuse rule
//!   (a rotation committed just before the kill whose answer never arrived makes the client
//!   present the old token again: that is a replay, and RFC 9700 §4.14.2 revokes the family);
//! - no authorization code was redeemed twice (RFC 6749 §4.1.2);
//! - every queued e-mail was delivered at least once; a message sent just before a kill but not
//!   yet marked sent goes again after the lease, with the same Message-ID (the outbox id) so
//!   that mail systems suppress the duplicate. At-least-once is the honest promise: SMTP has no
//!   transaction shared with the database;
//! - the database is whole (SQLite's integrity check, no half-written grant or family);
//! - the log holds none of the tokens, codes or passwords that went through.
//!
//! Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firmgate::admin::clients::ClientSpec;
use firmgate::crypto::bearer::{BearerToken, TokenKind};
use rand::Rng;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::process::{browser, code_from_journey, Node};
use crate::support::*;

/// What the load saw: every refresh token handed out, every code and its winning redemptions.
#[derive(Default)]
struct Seen {
    refresh_tokens: Vec<String>,
    /// (code, verifier, redemptions answered 200)
    codes: Vec<(String, String, usize)>,
    families_revoked_during_run: usize,
    mails_acknowledged: usize,
}

type Shared = Arc<Mutex<Seen>>;

const KILLS: usize = 5;
const MAIL_RECIPIENTS: usize = 30;

async fn token_call(
    base: &str,
    fx: &Fixture,
    form: &[(&str, &str)],
) -> Option<(StatusCode, Value)> {
    let res = Client::new()
        .post(format!("{base}/token"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(form)
        .send()
        .await
        .ok()?;
    let status = res.status();
    Some((status, res.json().await.ok()?))
}

async fn redeem_code(
    base: &str,
    fx: &Fixture,
    code: &str,
    verifier: &str,
) -> Option<(StatusCode, Value)> {
    token_call(
        base,
        fx,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// A relying party: signs a person in, then refreshes (a family that dies is replaced); with
/// `refreshes` false it only signs people in, one after another.
async fn relying_party(
    base: String,
    fx: Arc<Fixture>,
    seen: Shared,
    running: Arc<AtomicBool>,
    refreshes: bool,
) -> Option<String> {
    let mut held: Option<String> = None;
    while running.load(Ordering::SeqCst) {
        if !refreshes {
            held = None;
        }
        match held.clone() {
            None => {
                let Some((code, verifier)) = code_from_journey(&browser(&base, None), &fx).await
                else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                seen.lock()
                    .unwrap()
                    .codes
                    .push((code.clone(), verifier.clone(), 0));
                if let Some((status, body)) = redeem_code(&base, &fx, &code, &verifier).await {
                    assert_eq!(status, StatusCode::OK, "{body}");
                    let mut s = seen.lock().unwrap();
                    if let Some(entry) = s.codes.iter_mut().find(|c| c.0 == code) {
                        entry.2 += 1;
                    }
                    let rt = body["refresh_token"].as_str().unwrap().to_owned();
                    s.refresh_tokens.push(rt.clone());
                    held = Some(rt);
                }
            }
            Some(rt) => match token_call(
                &base,
                &fx,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
            {
                Some((StatusCode::OK, body)) => {
                    let new = body["refresh_token"].as_str().unwrap().to_owned();
                    seen.lock().unwrap().refresh_tokens.push(new.clone());
                    held = Some(new);
                }
                Some((status, body)) => {
                    assert_eq!(
                        (status, body["error"].as_str()),
                        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
                        "{body}"
                    );
                    seen.lock().unwrap().families_revoked_during_run += 1;
                    held = None;
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
    held
}

/// Asks for password-reset e-mails, three per recipient (the per-address limit).
async fn mail_requests(
    base: String,
    recipients: Vec<String>,
    seen: Shared,
    running: Arc<AtomicBool>,
) -> Option<String> {
    for email in recipients.iter().cycle().take(recipients.len() * 3) {
        if !running.load(Ordering::SeqCst) {
            return None;
        }
        let b = browser(&base, None);
        let Some(page) = b
            .http
            .get(format!("{base}/signin/forgot"))
            .send()
            .await
            .ok()
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(csrf) = page.text().await.ok().and_then(|h| hidden(&h, "csrf")) else {
            continue;
        };
        let form = [("csrf", csrf.as_str()), ("email", email.as_str())];
        if let Ok(res) = b
            .http
            .post(format!("{base}/signin/forgot"))
            .form(&form)
            .send()
            .await
        {
            assert_eq!(res.status(), StatusCode::OK);
            seen.lock().unwrap().mails_acknowledged += 1;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    None
}

async fn revoked_reason(pool: &sqlx::AnyPool, rt: &str) -> Option<String> {
    let hash = BearerToken::from_presented(rt).hash(TokenKind::RefreshToken);
    sqlx::query_scalar(
        "SELECT g.revoked_reason FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
         WHERE r.token_hash = $1",
    )
    .bind(hash)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing() {
    let _turn = crate::ONE_AT_A_TIME.lock().await;
    let sink = SmtpSink::start();
    let seed = TestServer::unserved(|_| {}).await;
    let fx = Arc::new(seed.fixture_with(ClientSpec { ..seed.spec() }).await);
    let mut recipients = Vec::new();
    for i in 0..MAIL_RECIPIENTS {
        let email = format!("reset{i}@example.com");
        seed.person(&fx.firm_id, &email).await;
        recipients.push(email);
    }
    let mut node = Node::for_database(&seed, vec![("FIRMGATE_SMTP_URL", sink.url.clone())]);
    let http = Client::new();
    node.spawn();
    node.ready(&http).await;
    let base = node.base();

    let seen: Shared = Arc::default();
    let running = Arc::new(AtomicBool::new(true));
    let mut load = Vec::new();
    for refreshes in [true, true, true, false] {
        load.push(tokio::spawn(relying_party(
            base.clone(),
            fx.clone(),
            seen.clone(),
            running.clone(),
            refreshes,
        )));
    }
    load.push(tokio::spawn(mail_requests(
        base.clone(),
        recipients.clone(),
        seen.clone(),
        running.clone(),
    )));

    for _ in 0..KILLS {
        let pause = rand::thread_rng().gen_range(800..2500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        node.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        node.spawn();
        node.ready(&http).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.store(false, Ordering::SeqCst);
    let mut held = Vec::new();
    for task in load {
        held.extend(task.await.unwrap());
    }

    let pool = sqlx::AnyPool::connect(&node.database_url).await.unwrap();
    let (refresh_tokens, codes, revoked_during_run, acknowledged) = {
        let s = seen.lock().unwrap();
        (
            s.refresh_tokens.clone(),
            s.codes.clone(),
            s.families_revoked_during_run,
            s.mails_acknowledged,
        )
    };
    assert!(
        refresh_tokens.len() >= 10,
        "too little load: {}",
        refresh_tokens.len()
    );

    // Every refresh token handed out was used and rotated, or is the one its client holds, or
    // its family was revoked by the reuse rule after an answer lost to a kill: at most one
    // family per client per kill.
    let mut working = 0;
    for rt in &refresh_tokens {
        match revoked_reason(&pool, rt).await {
            Some(reason) => assert_eq!(reason, "refresh token replayed"),
            None => working += 1,
        }
    }
    assert!(revoked_during_run <= KILLS * 3, "{revoked_during_run}");
    // The token each client holds at the end refreshes.
    for rt in &held {
        let answer = token_call(
            &base,
            &fx,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
        assert_eq!(answer.map(|a| a.0), Some(StatusCode::OK));
    }

    // No code works twice: each obtained code is tried twice more.
    for (code, verifier, wins) in &codes {
        let mut total = *wins;
        for _ in 0..2 {
            if let Some((StatusCode::OK, _)) = redeem_code(&base, &fx, code, verifier).await {
                total += 1;
            }
        }
        assert!(total <= 1, "a code was redeemed {total} times");
    }

    // Every queued e-mail arrives, at least once; duplicates share the Message-ID.
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{pending} e-mails never went"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM outbox")
        .fetch_all(&pool)
        .await
        .unwrap();
    let received = sink.all();
    let mut duplicates = 0;
    for id in &ids {
        let copies = received
            .iter()
            .filter(|m| m.message_id.starts_with(&format!("{id}@")))
            .count();
        assert!(copies >= 1, "outbox {id} was never delivered");
        duplicates += copies - 1;
    }
    assert!(
        ids.len() >= acknowledged,
        "{} queued for {acknowledged} acknowledged requests",
        ids.len()
    );

    assert_nothing_half_written(&node.database_url).await;
    node.kill();
    let log = std::fs::read_to_string(&node.log).unwrap();
    for secret in refresh_tokens
        .iter()
        .chain(codes.iter().map(|c| &c.0))
        .chain([&PASSWORD.to_owned(), &fx.client_secret])
    {
        assert!(!log.contains(secret.as_str()), "a secret is in the log");
    }
    eprintln!(
        "{KILLS} kills; {} refresh tokens handed out, {working} not revoked, {revoked_during_run} families \
         revoked by replay after a lost answer; {} codes, none twice; {} e-mails queued \
         ({acknowledged} requests acknowledged), {} delivered with {duplicates} duplicates",
        refresh_tokens.len(),
        codes.len(),
        ids.len(),
        received.len()
    );
}
