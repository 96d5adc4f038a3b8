//! Authorization codes at the token endpoint: single use with revocation on replay, atomic
//! redemption, expiry, binding to client / redirect_uri / PKCE, client authentication.
//! [SECURITY cases 8, 26-40; RFC 6749 §4.1.3, §5; RFC 7636 §4.6]

use firmgate::admin::clients::ClientSpec;
use reqwest::StatusCode;

use crate::support::*;

async fn fresh_code(fx: &Fixture, browser: &Browser) -> (String, AuthRequest) {
    let req = AuthRequest::new(&fx.client_id);
    let back = browser.sign_in(&req, &fx.email).await;
    (query_param(&back, "code").unwrap(), req)
}

#[tokio::test]
async fn oidcc_codereuse_revokes_the_first_redemptions_tokens() {
    // SECURITY case 26 (RFC 6749 §4.1.2; RFC 9700 §4.2.4; oidcc-codereuse-30seconds).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let (code, req) = fresh_code(&fx, &browser).await;
    let (status, headers, first) = redeem(&server, &fx, &code, &req.verifier).await;
    assert_eq!(status, StatusCode::OK);
    // SECURITY case 31 (RFC 6749 §5.1).
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(first["token_type"], "Bearer");
    assert!(first["expires_in"].as_i64().unwrap() > 0);
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&server, at).await.0, StatusCode::OK);

    server.clock.advance(30);
    let (status, _, second) = redeem(&server, &fx, &code, &req.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "invalid_grant");
    let (status, headers, _) = userinfo(&server, at).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the first access token is revoked"
    );
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let (status, body) = refresh(&server, &fx, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "and its refresh token"
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, _)| k == "code_replayed"));
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    // SECURITY case 28 (60 s lifetime).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let (code, req) = fresh_code(&fx, &browser).await;
    server.clock.advance(61);
    let (status, _, body) = redeem(&server, &fx, &code, &req.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn altered_codes_and_other_token_kinds_are_not_codes() {
    // SECURITY case 29 (CVE-2026-4282: stores are namespaced).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let (code, req) = fresh_code(&fx, &browser).await;
    let mut altered = code.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let (status, _, body) = redeem(
        &server,
        &fx,
        &String::from_utf8(altered).unwrap(),
        &req.verifier,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, _, tokens) = redeem(&server, &fx, &code, &req.verifier).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, _, body) = redeem(&server, &fx, rt, &req.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "a refresh token is not a code"
    );
    assert!(
        code.len() >= 43 && rt.len() >= 43,
        "SECURITY case 30: 256-bit values"
    );
}

#[tokio::test]
async fn redirect_uri_must_match_the_authorization_request() {
    // SECURITY case 8 (RFC 6749 §4.1.3; OIDC Core §3.1.3.2).
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            redirect_uris: vec![REDIRECT.into(), "https://rp.example/other".into()],
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    let (code, req) = fresh_code(&fx, &browser).await;
    for uri in [Some("https://rp.example/other"), None] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", req.verifier.as_str()),
        ];
        if let Some(u) = uri {
            form.push(("redirect_uri", u));
        }
        let (status, body) = token_request(&server, &fx, &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{uri:?}"
        );
    }
    assert!(
        redeem(&server, &fx, &code, &req.verifier)
            .await
            .0
            .is_success(),
        "a refused attempt does not burn the code"
    );
}

#[tokio::test]
async fn pkce_is_enforced_at_the_token_endpoint() {
    // SECURITY cases 35-37 (RFC 7636 §4.6; authentik CVE-2023-48228).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let (code, req) = fresh_code(&fx, &browser).await;
    let (status, body) = token_request(
        &server,
        &fx,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "verifier omitted"
    );
    let (wrong, _) = pkce_pair();
    assert_eq!(
        redeem(&server, &fx, &code, &wrong).await.2["error"],
        "invalid_grant",
        "wrong verifier"
    );
    assert_eq!(
        redeem(&server, &fx, &code, &"a".repeat(42)).await.2["error"],
        "invalid_grant",
        "too short"
    );
    assert!(redeem(&server, &fx, &code, &req.verifier)
        .await
        .0
        .is_success());

    // Downgrade: a verifier for a code issued without a challenge.
    let req = AuthRequest::new(&fx.client_id)
        .with("code_challenge", "")
        .with("code_challenge_method", "");
    let back = browser.sign_in(&req, &fx.email).await;
    let code = query_param(&back, "code").unwrap();
    assert_eq!(
        redeem(&server, &fx, &code, &req.verifier).await.2["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn client_authentication_methods() {
    // SECURITY case 32 (RFC 6749 §2.3.1, §5.2; OIDC Core §9).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let post_client = server
        .client(ClientSpec {
            auth_method: Some("client_secret_post".into()),
            name: "Post".into(),
            ..server.spec()
        })
        .await;
    let http = server.backchannel();
    let browser = Browser::new(&server);

    // client_secret_post works for the client registered with it.
    let req = AuthRequest::new(&post_client.0);
    let back = browser.sign_in(&req, &fx.email).await;
    let code = query_param(&back, "code").unwrap();
    let res = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &req.verifier),
            ("client_id", &post_client.0),
            ("client_secret", &post_client.1),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", REDIRECT),
    ];
    // Wrong secret over Basic: 401 with a Basic challenge.
    let res = http
        .post(server.url("/token"))
        .basic_auth(&fx.client_id, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_client"
    );
    // Both methods at once.
    let res = http
        .post(server.url("/token"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_secret", fx.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A method the client did not register: the basic client using post.
    let res = http
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", fx.client_id.as_str()),
            ("client_secret", fx.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // No credentials, unknown client.
    let res = http
        .post(server.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = http
        .post(server.url("/token"))
        .basic_auth("nobody", Some("x"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, _)| k == "client_auth" && o == "failure"));
}

#[tokio::test]
async fn token_endpoint_refuses_bad_requests_with_rfc6749_codes() {
    // SECURITY case 33 (RFC 9700 §2.4) and RFC 6749 §5.2 for malformed requests.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let (status, body) = token_request(
        &server,
        &fx,
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (_, body) = token_request(&server, &fx, &[("code", "x")]).await;
    assert_eq!(body["error"], "invalid_request", "grant_type missing");
    let (_, body) = token_request(&server, &fx, &[("grant_type", "authorization_code")]).await;
    assert_eq!(body["error"], "invalid_request", "code missing");
    let (_, body) = token_request(&server, &fx, &[("grant_type", "client_credentials")]).await;
    assert_eq!(body["error"], "unauthorized_client", "grant not registered");
    let res = server
        .backchannel()
        .post(server.url("/token"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=a&code=b")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request",
        "duplicated parameter"
    );
    let res = server
        .backchannel()
        .post(server.url("/token"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = server
        .backchannel()
        .post(server.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={}",
            "x".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "oversized bodies are refused before any work"
    );
}

#[tokio::test]
async fn a_code_follows_its_session_when_the_person_signs_in_again_but_dies_with_a_sign_out() {
    // A code is redeemed only while its browser session is live (a sign-out revokes what the
    // session issued, OIDC RP-Initiated Logout §2); signing in again hands the session on.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let first = AuthRequest::new(&fx.client_id);
    let early = query_param(&browser.sign_in(&first, &fx.email).await, "code").unwrap();
    let again = AuthRequest::new(&fx.client_id).with("prompt", "login");
    let res = browser.follow(browser.authorize(&again).await).await;
    let back = browser.complete(res, &fx.email).await;
    let (status, _, tokens) = redeem(&server, &fx, &early, &first.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    let late = query_param(&back, "code").unwrap();
    let res = browser
        .get(&format!(
            "/logout?id_token_hint={}",
            tokens["id_token"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _, body) = redeem(&server, &fx, &late, &again.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("session"));
}

#[tokio::test]
async fn a_code_is_redeemed_with_the_membership_as_it_is_then() {
    // OIDC Core §3.1.3.3, §5.1: the ID token's claims are the person's when the code is
    // redeemed (code, person and membership are read together); someone removed from the firm
    // after signing in gets no tokens for it (RFC 6749 §5.2 invalid_grant).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let (code, req) = fresh_code(&fx, &browser).await;
    assert!(server
        .state
        .store
        .set_role(&fx.firm_id, &fx.person_id, "admin")
        .await
        .unwrap());
    let (status, _, tokens) = redeem(&server, &fx, &code, &req.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        id["role"], "admin",
        "the role given after the code was issued"
    );
    assert_eq!(id["sub"].as_str(), Some(fx.person_id.as_str()));

    let (code, req) = fresh_code(&fx, &browser).await;
    let now = server.clock.now();
    assert!(server
        .state
        .store
        .remove_membership(&fx.firm_id, &fx.person_id, now)
        .await
        .unwrap());
    let (status, _, body) = redeem(&server, &fx, &code, &req.verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        body["error_description"],
        "the user is no longer a member of the firm"
    );
}
