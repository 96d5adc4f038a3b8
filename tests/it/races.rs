//! Races: many requests for one one-time thing at the same moment, spread over two nodes that
//! share one database (as behind a load balancer), on a multi-threaded runtime so that they
//! really overlap. Exactly one wins, and the reuse rules then apply to the winner as they would
//! to any replay. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
//! [RFC 6749 §4.1.2, §10.5; RFC 9700 §2.2.2, §4.14.2; RFC 6238 §5.2; OIDC RP-Initiated
//! Logout §2; SECURITY cases 27, 53, 62, 83]

use futures::future::join_all;
use reqwest::StatusCode;

use crate::mfa::{after_password, enrol, oath, submit_code};
use crate::support::*;

fn pick<'a>(nodes: &'a [&'a TestServer], i: usize) -> &'a TestServer {
    nodes[i % nodes.len()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_redemptions_of_one_code_on_two_nodes_have_one_winner_whose_tokens_then_die() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let fx = a.fixture().await;
    let req = AuthRequest::new(&fx.client_id);
    let back = Browser::new(&a).sign_in(&req, &fx.email).await;
    let code = query_param(&back, "code").unwrap();
    let nodes = [&a, &b];
    let results =
        join_all((0..50).map(|i| redeem(pick(&nodes, i), &fx, &code, &req.verifier))).await;
    let winners: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let losers: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s != StatusCode::OK)
        .collect();
    assert_eq!(losers.len(), 49);
    assert!(
        losers
            .iter()
            .all(|(s, _, body)| *s == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant"),
        "{losers:?}"
    );
    // RFC 6749 §4.1.2: a code used twice revokes what it issued, on every node.
    let tokens = &winners[0].2;
    for node in nodes {
        assert_eq!(
            userinfo(node, tokens["access_token"].as_str().unwrap())
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            refresh(node, &fx, tokens["refresh_token"].as_str().unwrap())
                .await
                .1["error"],
            "invalid_grant"
        );
    }
    let replays = a
        .audit_kinds()
        .await
        .iter()
        .filter(|(k, _, _)| k == "code_replayed")
        .count();
    assert_eq!(
        replays, 49,
        "every losing redemption is audited as a replay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_refreshes_of_one_token_on_two_nodes_have_one_winner_and_revoke_the_family() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let fx = a.fixture().await;
    let t = signed_in_tokens(&a, &fx, &Browser::new(&a), &AuthRequest::new(&fx.client_id)).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let nodes = [&a, &b];
    let results = join_all((0..50).map(|i| refresh(pick(&nodes, i), &fx, rt))).await;
    let winners: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results
        .iter()
        .filter(|(s, _)| *s != StatusCode::OK)
        .all(|(s, body)| *s == StatusCode::BAD_REQUEST && body["error"] == "invalid_grant"));
    // RFC 9700 §4.14.2: reuse of a rotated token revokes the whole family, the winner's new
    // refresh token and access token included, whichever node is asked.
    let won = &winners[0].1;
    for node in nodes {
        assert_eq!(
            refresh(node, &fx, won["refresh_token"].as_str().unwrap())
                .await
                .1["error"],
            "invalid_grant"
        );
        assert_eq!(
            userinfo(node, won["access_token"].as_str().unwrap())
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_submissions_of_one_totp_code_on_two_nodes_have_one_winner() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let fx = a.fixture().await;
    let enrolled = enrol(&a, &Browser::new(&a), &fx.email).await;
    a.clock.advance(30);
    let req = AuthRequest::new(&fx.client_id);
    let mut at_challenge = Vec::new();
    for i in 0..20 {
        let browser = Browser::new(pick(&[&a, &b], i));
        let html = after_password(&browser, &req, &fx.email)
            .await
            .text()
            .await
            .unwrap();
        at_challenge.push((browser, html));
    }
    let code = oath(&enrolled.secret, a.clock.now());
    let results = join_all(
        at_challenge
            .iter()
            .map(|(browser, html)| submit_code(browser, html, &code)),
    )
    .await;
    let winners = results
        .iter()
        .filter(|r| r.status() == StatusCode::SEE_OTHER)
        .count();
    // The losers count as wrong codes (RFC 6238 §5.2: a code is accepted once); after five the
    // challenge locks (429) for the rest.
    let refused = results
        .iter()
        .filter(|r| {
            r.status() == StatusCode::BAD_REQUEST || r.status() == StatusCode::TOO_MANY_REQUESTS
        })
        .count();
    assert_eq!((winners, refused), (1, 19));
}

/// The CSRF token of the sign-out confirmation page `browser` sees.
async fn logout_csrf(browser: &Browser) -> String {
    let html = browser.get("/logout").await.text().await.unwrap();
    hidden(&html, "csrf").expect("the sign-out confirmation form")
}

async fn confirm_logout(browser: &Browser, node: &TestServer, csrf: &str) -> StatusCode {
    browser
        .http
        .post(node.url("/logout/confirm"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consent_racing_sign_out_never_leaves_usable_tokens() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let fx = a.fixture().await;
    for round in 0..10 {
        let browser = Browser::new(&a);
        // Consent given in an earlier round would skip the page; ask for it every time.
        let req = AuthRequest::new(&fx.client_id).with("prompt", "consent");
        let res = browser.follow(browser.authorize(&req).await).await;
        let html = res.text().await.unwrap();
        let consent = browser
            .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
            .await;
        assert!(
            consent.url().path().ends_with("/signin/consent"),
            "round {round}: {}",
            consent.url()
        );
        let consent_html = consent.text().await.unwrap();
        let csrf = logout_csrf(&browser).await;
        let (allowed, signed_out) = tokio::join!(
            browser.submit_consent(&consent_html, "allow"),
            confirm_logout(&browser, &b, &csrf)
        );
        assert_eq!(signed_out, StatusCode::OK, "round {round}");
        // Whichever came first, the session is over: a code the consent produced cannot be
        // redeemed any more (it would create tokens for an ended session).
        if let Some(code) = query_param(&location(&allowed), "code") {
            let (status, _, body) = redeem(&a, &fx, &code, &req.verifier).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_grant")),
                "round {round}: {body}"
            );
        }
        let none = browser
            .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
            .await;
        assert_eq!(
            query_param(&location(&none), "error").as_deref(),
            Some("login_required"),
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redemption_racing_sign_out_never_leaves_usable_tokens() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let fx = a.fixture().await;
    let mut redeemed_first = 0;
    for round in 0..10 {
        let browser = Browser::new(&a);
        let req = AuthRequest::new(&fx.client_id);
        let back = browser.sign_in(&req, &fx.email).await;
        let code = query_param(&back, "code").unwrap();
        let csrf = logout_csrf(&browser).await;
        let ((status, _, tokens), signed_out) = tokio::join!(
            redeem(&b, &fx, &code, &req.verifier),
            confirm_logout(&browser, &a, &csrf)
        );
        assert_eq!(signed_out, StatusCode::OK, "round {round}");
        if status == StatusCode::OK {
            // The redemption won: the sign-out then revoked its grant with the session's.
            redeemed_first += 1;
            assert_eq!(
                userinfo(&a, tokens["access_token"].as_str().unwrap())
                    .await
                    .0,
                StatusCode::UNAUTHORIZED,
                "round {round}"
            );
            assert_eq!(
                refresh(&b, &fx, tokens["refresh_token"].as_str().unwrap())
                    .await
                    .1["error"],
                "invalid_grant",
                "round {round}"
            );
        } else {
            assert_eq!(tokens["error"], "invalid_grant", "round {round}: {tokens}");
        }
    }
    eprintln!("redemption won the race in {redeemed_first} of 10 rounds");
}
