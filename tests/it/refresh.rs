//! Refresh tokens: rotation, reuse detection that revokes the family, the ID token
//! on refresh, scope narrowing, and the tie to the browser session. [SECURITY cases 52-54, 66;
//! RFC 9700 §4.14.2; OIDC Core §12.2]

use firmgate::crypto::bearer::{BearerToken, TokenKind};
use firmgate::store::grants::Rotation;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    // SECURITY case 52.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let rt1 = t["refresh_token"].as_str().unwrap();
    server.clock.advance(10);
    let (status, r2) = refresh(&server, &fx, rt1).await;
    assert_eq!(status, StatusCode::OK, "{r2}");
    let rt2 = r2["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    // SECURITY case 54: same iss, sub, aud, azp; new iat; original auth_time.
    let (a, b) = (
        claims(t["id_token"].as_str().unwrap()),
        claims(r2["id_token"].as_str().unwrap()),
    );
    for same in ["iss", "sub", "aud", "azp", "auth_time", "sid"] {
        assert_eq!(a[same], b[same], "{same}");
    }
    // The firm claims come from the membership as it is now, read with the token.
    assert_eq!(
        (&b["firm_id"], &b["firm_name"], &b["role"]),
        (&a["firm_id"], &a["firm_name"], &a["role"])
    );
    assert_eq!(b["firm_id"], fx.firm_id.as_str());
    assert!(b["firm_name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(b["iat"].as_i64() > a["iat"].as_i64());
    assert!(b.get("nonce").is_none());

    let (status, body) = refresh(&server, &fx, rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "replay refused"
    );
    assert_eq!(
        refresh(&server, &fx, rt2).await.1["error"],
        "invalid_grant",
        "the whole family is revoked"
    );
    assert_eq!(
        userinfo(&server, r2["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, _)| k == "refresh_replayed"));
}

#[tokio::test]
async fn refresh_scope_may_narrow_but_not_widen_and_is_bound_to_the_client() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server
        .client(firmgate::admin::clients::ClientSpec {
            name: "Other".into(),
            ..server.spec()
        })
        .await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id).with("scope", "openid email"),
    )
    .await;
    let rt = t["refresh_token"].as_str().unwrap();
    let thief = Fixture {
        client_id: other.0.clone(),
        client_secret: other.1.clone(),
        ..fx_clone(&fx)
    };
    assert_eq!(
        refresh(&server, &thief, rt).await.1["error"],
        "invalid_grant",
        "bound to its client"
    );
    let (_, body) = token_request(
        &server,
        &fx,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_scope");
    let (status, body) = token_request(
        &server,
        &fx,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "openid");
}

fn fx_clone(f: &Fixture) -> Fixture {
    Fixture {
        firm_id: f.firm_id.clone(),
        person_id: f.person_id.clone(),
        email: f.email.clone(),
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone(),
    }
}

#[tokio::test]
async fn session_bound_refresh_tokens_end_with_the_idle_session_offline_ones_do_not() {
    // SECURITY case 66: refresh tokens follow the session policy; offline_access survives.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let online = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    let req = AuthRequest::new(&fx.client_id).with("scope", "openid offline_access");
    let res = browser.follow(browser.authorize(&req).await).await;
    let back = browser.complete(res, &fx.email).await;
    let (_, _, offline) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    server.clock.advance(8 * 3600 + 1);
    let (status, body) = refresh(&server, &fx, online["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = refresh(&server, &fx, offline["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_expire_after_21_days() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id).with("scope", "openid offline_access");
    let res = browser.follow(browser.authorize(&req).await).await;
    let back = browser.complete(res, &fx.email).await;
    let (_, _, t) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    server.clock.advance(21 * 86400 + 1);
    assert_eq!(
        refresh(&server, &fx, t["refresh_token"].as_str().unwrap())
            .await
            .1["error"],
        "invalid_grant"
    );
}

/// A person signed in through the fixture's client: the fixture and the sign-in's grant.
async fn signed_in_grant(server: &TestServer) -> (Fixture, String) {
    let fx = server.fixture().await;
    signed_in_tokens(
        server,
        &fx,
        &Browser::new(server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let grant_id = sqlx::query_scalar("SELECT id FROM grants")
        .fetch_one(server.state.store.pool())
        .await
        .unwrap();
    (fx, grant_id)
}

/// Rotates 40 children of 20 parents (`{round}-parent-{i % 20}`) at once; row `bad`, if any,
/// names a grant that does not exist and a parent of its own. Returns each row's answer.
async fn rotate_forty_at_once(
    store: &firmgate::store::Store,
    grant_id: &str,
    round: &str,
    bad: Option<usize>,
    now: i64,
) -> Vec<Result<Rotation, firmgate::store::StoreError>> {
    let mut calls = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let grant = if Some(i) == bad {
            "no-such-grant".to_owned()
        } else {
            grant_id.to_owned()
        };
        let parent = if Some(i) == bad {
            format!("{round}-orphan")
        } else {
            format!("{round}-parent-{}", i % 20)
        };
        let child = format!("{round}-child-{i}");
        calls.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(&parent, &child, &grant, now, now + 60)
                .await
        }));
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn rotations_written_together_each_get_their_own_answer() {
    // Concurrent rotations share one INSERT (`store::rotations`). Each caller still gets the
    // answer for its own row: of two naming the same parent exactly one wins (RFC 9700
    // §4.14.2), also when both are in the same statement, and a row that breaks a rule (a grant
    // that does not exist) fails alone.
    let server = TestServer::start().await;
    let (_, grant_id) = signed_in_grant(&server).await;
    let store = server.state.store.clone();
    let now = server.clock.now();
    for (round, bad) in [("good", None), ("bad", Some(7))] {
        let answers = rotate_forty_at_once(&store, &grant_id, round, bad, now).await;
        for p in 0..20 {
            let (a, b) = (&answers[p], &answers[p + 20]);
            if Some(p) == bad {
                assert!(a.is_err(), "{round}: the row without a grant fails");
                assert_eq!(
                    b.as_ref().unwrap(),
                    &Rotation::Rotated,
                    "{round}: the other child of that parent has no rival"
                );
                continue;
            }
            let won = [a, b]
                .iter()
                .filter(|x| x.as_ref().unwrap() == &Rotation::Rotated)
                .count();
            assert_eq!(won, 1, "{round}-parent-{p}: {a:?} {b:?}");
        }
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT token_hash FROM refresh_tokens WHERE parent_hash LIKE $1")
                .bind(format!("{round}-parent-%"))
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            stored.len(),
            20,
            "{round}: one child per parent: {stored:?}"
        );
        let orphans: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE parent_hash = $1")
                .bind(format!("{round}-orphan"))
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(orphans, 0, "{round}: nothing of the failed row was written");
    }
}

#[tokio::test]
async fn a_refresh_carries_the_membership_as_it_is_now() {
    // OIDC Core §12.2: claims in the refreshed ID token reflect the person's current state; a
    // person removed from the firm gets no more tokens for it.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let before = claims(t["id_token"].as_str().unwrap())["role"].clone();
    assert!(server
        .state
        .store
        .set_role(&fx.firm_id, &fx.person_id, "admin")
        .await
        .unwrap());
    let (status, r2) = refresh(&server, &fx, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{r2}");
    let after = claims(r2["id_token"].as_str().unwrap());
    assert_ne!(before, "admin");
    assert_eq!(after["role"], "admin");
    assert_eq!(
        claims(r2["access_token"].as_str().unwrap())["role"],
        "admin"
    );

    let now = server.clock.now();
    assert!(server
        .state
        .store
        .remove_membership(&fx.firm_id, &fx.person_id, now)
        .await
        .unwrap());
    let (status, body) = refresh(&server, &fx, r2["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_token_is_used_once_its_successor_exists_or_it_was_marked_used() {
    // RFC 9700 §4.14.2; RFC 7662 §2.2. Since migration 0011 a rotation writes only the successor
    // row, which names the token it replaces: that row is what makes the old token used, for
    // introspection as for the refresh grant. Tokens rotated before migration 0010 carry the mark
    // in their own row (used_at) and no successor names them: they count as used too.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let active = |token: String| {
        let (server, fx) = (&server, &fx);
        async move {
            let (status, body) = introspect(server, &fx.client_id, &fx.client_secret, &token).await;
            assert_eq!(status, StatusCode::OK);
            body["active"].clone()
        }
    };
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(active(rt1.clone()).await, true);
    let (status, r2) = refresh(&server, &fx, &rt1).await;
    assert_eq!(status, StatusCode::OK, "{r2}");
    let rt2 = r2["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(active(rt1).await, false, "replaced by its successor");
    assert_eq!(active(rt2.clone()).await, true, "the successor is not");

    // A token marked used the old way, with no successor naming it.
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let old = t["refresh_token"].as_str().unwrap().to_owned();
    let hash = BearerToken::from_presented(&old).hash(TokenKind::RefreshToken);
    let grant_id: String =
        sqlx::query_scalar("SELECT grant_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(&hash)
            .fetch_one(server.state.store.pool())
            .await
            .unwrap();
    let marked = sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
        .bind(server.clock.now())
        .bind(&hash)
        .execute(server.state.store.pool())
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(marked, 1);
    assert_eq!(active(old.clone()).await, false, "marked used");
    let (status, body) = refresh(&server, &fx, &old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "a marked token is a replay: {body}"
    );
    let revoked: Option<i64> = sqlx::query_scalar("SELECT revoked_at FROM grants WHERE id = $1")
        .bind(&grant_id)
        .fetch_one(server.state.store.pool())
        .await
        .unwrap();
    assert!(
        revoked.is_some(),
        "the replay revoked the marked token's family"
    );
    assert_eq!(
        active(rt2).await,
        true,
        "the replay revoked its own family, not the first sign-in's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_made_together_each_get_their_own_token_and_closing_returns() {
    // Concurrent refreshes share one read (`store::refresh_context`). Each still gets its own
    // token's row: a known one, one asked twice in the same read (a replay racing its first
    // use), and one that does not exist; a row that cannot be read fails only its own. Closing
    // the store afterwards does not wait on the connection the reads put aside.
    let server = TestServer::start().await;
    let (fx, grant_id) = signed_in_grant(&server).await;
    let store = server.state.store.clone();
    let now = server.clock.now();
    let rotated = rotate_forty_at_once(&store, &grant_id, "read", None, now).await;
    assert!(rotated.iter().all(Result::is_ok));
    let known: Vec<String> =
        sqlx::query_scalar("SELECT token_hash FROM refresh_tokens WHERE parent_hash LIKE $1")
            .bind("read-parent-%")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(known.len(), 20);
    let asked: Vec<(String, bool)> = (0..60)
        .map(|i| match i % 3 {
            0 | 1 => (known[(i / 3) % known.len()].clone(), true),
            _ => (format!("no-such-token-{i}"), false),
        })
        .collect();
    let reads: Vec<_> = asked
        .iter()
        .map(|(hash, _)| {
            let (store, hash) = (store.clone(), hash.clone());
            tokio::spawn(async move { store.refresh_context(&hash).await })
        })
        .collect();
    for ((hash, exists), read) in asked.iter().zip(reads) {
        let context = read.await.unwrap().unwrap();
        match context {
            Some(c) => {
                assert!(exists, "{hash} does not exist, yet was found");
                assert_eq!(&c.token.token_hash, hash);
                assert_eq!(c.grant.id, grant_id);
                assert_eq!(c.person.unwrap().id, fx.person_id);
            }
            None => assert!(!exists, "{hash} exists, yet was not found"),
        }
    }
    // A row that cannot be read fails its own refresh only: the group is read again one token
    // at a time. (Only SQLite stores a word in an integer column; PostgreSQL refuses it.)
    if server.state.settings.database_url.starts_with("sqlite:") {
        let garbled = &known[3];
        sqlx::query("UPDATE refresh_tokens SET created_at = 'garbled' WHERE token_hash = $1")
            .bind(garbled)
            .execute(store.pool())
            .await
            .unwrap();
        // Eight rounds over eight tokens at once, so that the garbled one shares reads.
        let asked: Vec<&String> = known[..8].iter().cycle().take(64).collect();
        let reads: Vec<_> = asked
            .iter()
            .map(|hash| {
                let (store, hash) = (store.clone(), (*hash).clone());
                tokio::spawn(async move { store.refresh_context(&hash).await })
            })
            .collect();
        for (hash, read) in asked.into_iter().zip(reads) {
            match read.await.unwrap() {
                Err(_) => assert_eq!(hash, garbled, "{hash} is readable, yet failed"),
                Ok(found) => {
                    assert_ne!(hash, garbled, "the garbled row was read");
                    assert_eq!(&found.unwrap().token.token_hash, hash);
                }
            }
        }
    }
    tokio::time::timeout(std::time::Duration::from_secs(5), store.close())
        .await
        .expect("closing does not wait on the reads' connection");
}
