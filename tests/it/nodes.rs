//! Scale-out: three stateless nodes on one database, as behind a load balancer without sticky
//! sessions. A journey may touch a different node at every step; sessions, codes, refresh
//! families, throttles and signing keys live in the database, so every node sees the same.
//! Runs on SQLite (one file, three nodes) and, with TEST_DATABASE_URL, on PostgreSQL.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::*;

/// The same person's browser (same cookies) talking to another node.
fn at(browser: &Browser, node: &TestServer) -> Browser {
    Browser {
        http: browser.http.clone(),
        base: node.base.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_on_a_redeem_on_b_refresh_on_c_sign_out_on_a_is_seen_everywhere() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let c = a.another_node().await;
    let fx = a.fixture().await;
    let on_a = Browser::new(&a);
    let req = AuthRequest::new(&fx.client_id);
    let back = on_a.sign_in(&req, &fx.email).await;
    let code = query_param(&back, "code").unwrap();

    let (status, _, tokens) = redeem(&b, &fx, &code, &req.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, refreshed) = refresh(&c, &fx, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let at_token = refreshed["access_token"].as_str().unwrap();
    for node in [&a, &b, &c] {
        let (status, _, claims) = userinfo(node, at_token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(claims["email"], fx.email.as_str());
    }
    // The browser's session, made on A, is known to B and C: prompt=none succeeds there.
    for node in [&b, &c] {
        let res = at(&on_a, node)
            .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
            .await;
        assert!(
            query_param(&location(&res), "code").is_some(),
            "{}",
            location(&res)
        );
    }

    let res = on_a
        .get(&format!(
            "/logout?id_token_hint={}",
            refreshed["id_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    for node in [&b, &c] {
        let res = at(&on_a, node)
            .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
            .await;
        assert_eq!(
            query_param(&location(&res), "error").as_deref(),
            Some("login_required")
        );
        assert_eq!(userinfo(node, at_token).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            refresh(node, &fx, refreshed["refresh_token"].as_str().unwrap())
                .await
                .1["error"],
            "invalid_grant"
        );
    }
}

#[tokio::test]
async fn failed_passwords_on_three_nodes_add_up_to_one_lock() {
    // SECURITY case 74 across nodes: the counters are in the database, not in a node.
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let c = a.another_node().await;
    let fx = a.fixture().await;
    let req = AuthRequest::new(&fx.client_id);
    let mut login_pages = Vec::new();
    for node in [&a, &b, &c] {
        let browser = Browser::new(node);
        let html = browser
            .follow(browser.authorize(&req).await)
            .await
            .text()
            .await
            .unwrap();
        login_pages.push((browser, html));
    }
    for i in 0..5 {
        let (browser, html) = &login_pages[i % 3];
        let page = browser
            .submit_login(html, &fx.email, "wrong password guess")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !text_of(&page, ".error").contains("Too many"),
            "attempt {i}"
        );
    }
    let (browser, html) = &login_pages[2];
    let page = browser
        .submit_login(html, &fx.email, PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text_of(&page, ".error").contains("Too many unsuccessful attempts"),
        "{page}"
    );
}

async fn jwks_kids(node: &TestServer) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(node.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `check` until it holds; fails after `limit`.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what} not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_on_one_node_is_published_and_used_by_all_within_the_reload_period() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let c = a.another_node().await;
    let fx = a
        .fixture_with(a.alg_spec(firmgate::crypto::keys::SigningAlg::Es256))
        .await;
    let new_kids = firmgate::cli::rotate_keys(&a.state).await.unwrap();
    assert_eq!(
        jwks_kids(&a).await.len(),
        6,
        "old and new keys, three algorithms"
    );
    // Every node reloads keys every 10 s; allow one period plus slack.
    for node in [&b, &c] {
        within(Duration::from_secs(15), "the new keys in JWKS", || async {
            let kids = jwks_kids(node).await;
            new_kids.iter().all(|k| kids.contains(k))
        })
        .await;
    }
    // After the publish lead the new keys sign, on every node.
    a.clock
        .advance(i64::try_from(a.state.settings.key_publish_lead.as_secs()).unwrap() + 1);
    for node in [&a, &b, &c] {
        within(
            Duration::from_secs(15),
            "signing with the new key",
            || async {
                let browser = Browser::new(node);
                let req = AuthRequest::new(&fx.client_id);
                let back = browser.sign_in(&req, &fx.email).await;
                let code = query_param(&back, "code").unwrap();
                let (_, _, t) = redeem(node, &fx, &code, &req.verifier).await;
                let kid = header(t["id_token"].as_str().unwrap())["kid"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                new_kids.contains(&kid)
            },
        )
        .await;
    }
}

/// Client records are cached per node (`store::client_cache`): a secret replaced through node A
/// stops working on A at once and on B (which had just used it) within the cache's 2 s TTL.
/// [RFC 6749 §2.3.1; SECURITY: a rotated secret must stop working]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_client_secret_stops_on_this_node_at_once_and_on_others_within_the_cache_ttl() {
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let firm_id = a.firm("Cache LLP").await;
    let spec = firmgate::admin::clients::ClientSpec {
        firm_id: Some(firm_id.clone()),
        grant_types: vec!["client_credentials".into()],
        ..a.spec()
    };
    let (client_id, old_secret) = a.client(spec).await;
    let fx = Fixture {
        firm_id: firm_id.clone(),
        person_id: String::new(),
        email: String::new(),
        client_id: client_id.clone(),
        client_secret: old_secret,
    };
    let cc = [("grant_type", "client_credentials")];
    // Both nodes have read (and cached) the client.
    assert_eq!(token_request(&a, &fx, &cc).await.0, StatusCode::OK);
    assert_eq!(token_request(&b, &fx, &cc).await.0, StatusCode::OK);

    let new_secret = "a-new-secret-of-plenty-of-entropy-0123456789";
    let hash = firmgate::crypto::bearer::hash_secret(
        firmgate::crypto::bearer::TokenKind::ClientSecret,
        new_secret,
    );
    assert!(a
        .state
        .store
        .set_client_secret(&firm_id, &client_id, &hash)
        .await
        .unwrap());
    let replaced = Instant::now();
    let (status, body) = token_request(&a, &fx, &cc).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    within(
        Duration::from_millis(2_600),
        "the old secret refused on B",
        || async { token_request(&b, &fx, &cc).await.0 == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert!(replaced.elapsed() <= Duration::from_millis(2_600));
    let fresh = Fixture {
        client_secret: new_secret.to_owned(),
        ..fx
    };
    assert_eq!(token_request(&a, &fresh, &cc).await.0, StatusCode::OK);
    assert_eq!(token_request(&b, &fresh, &cc).await.0, StatusCode::OK);
}
