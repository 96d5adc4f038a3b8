//! Refresh tokens: rotation, reuse detection that revokes the family, the ID token
//! on refresh, scope narrowing, and the tie to the browser session. [SECURITY cases 52-54, 66;
//! RFC 9700 §4.14.2; OIDC Core §12.2]

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
