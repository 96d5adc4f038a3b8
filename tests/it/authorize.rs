//! The authorization endpoint through the real server: redirect URI rules, response types,
//! prompt / max_age / nonce, optional parameters, POST, request objects, offline access,
//! form_post, firm choice. Each test names the SECURITY.md case and spec section it checks.

use firmgate::admin::clients::ClientSpec;
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn oidcc_ensure_registered_redirect_uri_and_near_misses_show_an_error_page() {
    // SECURITY cases 1-4, 7 (RFC 6749 §4.1.2.1, RFC 9700 §4.1.3, §4.11.2).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    for uri in [
        "https://evil.test/cb",
        "https://rp.example/cb/",
        "https://rp.example/cbx",
        "https://rp.example/cb?x=1",
        "https://rp.example/cb/../x",
        "https://rp.example/cb%2F..%2F",
    ] {
        let req = AuthRequest::new(&fx.client_id)
            .with("redirect_uri", uri)
            .with("response_type", "token");
        let res = browser.authorize(&req).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(location(&res).is_empty(), "no redirect for {uri}");
        let html = res.text().await.unwrap();
        assert!(
            text_of(&html, "h1").contains("Unregistered redirect address"),
            "{html}"
        );
    }
    let res = browser
        .authorize(&AuthRequest::new("no-such-client").with("scope", "bogus"))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(location(&res).is_empty());
    assert!(res.text().await.unwrap().contains("Unknown application"));
}

#[tokio::test]
async fn oidcc_ensure_redirect_uri_in_authorization_request() {
    // SECURITY case 6 (OIDC Core §3.1.2.1: redirect_uri is REQUIRED), even with one registered.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let res = Browser::new(&server)
        .authorize(&AuthRequest::new(&fx.client_id).with("redirect_uri", ""))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(location(&res).is_empty());
}

#[tokio::test]
async fn oidcc_redirect_uri_query_ok_appends_to_the_registered_query() {
    // SECURITY case 4 (oidcc-redirect-uri-query-OK).
    let server = TestServer::start().await;
    let with_query = "https://rp.example/q?a=1";
    let fx = server
        .fixture_with(ClientSpec {
            redirect_uris: vec![with_query.into()],
            first_party: true,
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id).with("redirect_uri", with_query);
    let res = browser.follow(browser.authorize(&req).await).await;
    let html = res.text().await.unwrap();
    let back = location(&browser.submit_login(&html, &fx.email, PASSWORD).await);
    assert!(back.starts_with("https://rp.example/q?a=1&code="), "{back}");
    let code = query_param(&back, "code").unwrap();
    let (status, body) = token_request(
        &server,
        &fx,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", with_query),
            ("code_verifier", &req.verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for bad in [
        "https://rp.example/q?a=2",
        "https://rp.example/q?a=1&b=2",
        "https://rp.example/q?b=2&a=1",
    ] {
        let res = browser
            .authorize(&AuthRequest::new(&fx.client_id).with("redirect_uri", bad))
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

async fn error_back(server: &TestServer, req: AuthRequest) -> (String, Option<String>) {
    let res = Browser::new(server).authorize(&req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let loc = location(&res);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "state").as_deref(),
        Some(req.state.as_str()),
        "state echoed"
    );
    assert_eq!(
        query_param(&loc, "iss").as_deref(),
        Some(server.base.as_str()),
        "RFC 9207"
    );
    assert!(query_param(&loc, "code").is_none());
    assert!(query_param(&loc, "access_token").is_none());
    (
        query_param(&loc, "error").unwrap_or_default(),
        query_param(&loc, "error_description"),
    )
}

#[tokio::test]
async fn oidcc_response_type_missing_and_unsupported_response_types() {
    // SECURITY cases 12-13 (RFC 6749 §4.1.2.1; RFC 9700 §2.1.2).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    assert_eq!(
        error_back(
            &server,
            AuthRequest::new(&fx.client_id).with("response_type", "")
        )
        .await
        .0,
        "invalid_request"
    );
    for rt in ["token", "id_token token", "code id_token"] {
        assert_eq!(
            error_back(
                &server,
                AuthRequest::new(&fx.client_id).with("response_type", rt)
            )
            .await
            .0,
            "unsupported_response_type",
            "{rt}"
        );
    }
}

#[tokio::test]
async fn prompt_none_combined_and_request_objects_are_refused() {
    // SECURITY cases 15 (OIDC Core §3.1.2.1) and 24 (§6: never silently ignored).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    for p in ["none login", "none consent"] {
        assert_eq!(
            error_back(&server, AuthRequest::new(&fx.client_id).with("prompt", p))
                .await
                .0,
            "invalid_request"
        );
    }
    assert_eq!(
        error_back(
            &server,
            AuthRequest::new(&fx.client_id).with("request", "eyJhbGciOiJub25lIn0.e30.")
        )
        .await
        .0,
        "request_not_supported"
    );
    assert_eq!(
        error_back(
            &server,
            AuthRequest::new(&fx.client_id).with("request_uri", "https://rp.example/r")
        )
        .await
        .0,
        "request_uri_not_supported"
    );
    assert_eq!(
        error_back(
            &server,
            AuthRequest::new(&fx.client_id).with("max_age", "-5")
        )
        .await
        .0,
        "invalid_request"
    );
    assert_eq!(
        error_back(
            &server,
            AuthRequest::new(&fx.client_id).with("scope", "profile")
        )
        .await
        .0,
        "invalid_scope"
    );
}

#[tokio::test]
async fn oidcc_prompt_none_not_logged_in() {
    // SECURITY case 10 (OIDC Core §3.1.2.6).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    assert_eq!(
        error_back(
            &server,
            AuthRequest::new(&fx.client_id).with("prompt", "none")
        )
        .await
        .0,
        "login_required"
    );
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in_and_consent_required() {
    // SECURITY cases 16-17.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server
        .client(ClientSpec {
            name: "Other".into(),
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    let first = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    let first_claims = claims(first["id_token"].as_str().unwrap());
    server.clock.advance(30);

    let req = AuthRequest::new(&fx.client_id).with("prompt", "none");
    let res = browser.authorize(&req).await;
    let back = location(&res);
    assert!(
        back.starts_with(REDIRECT),
        "no page for prompt=none: {back}"
    );
    let code = query_param(&back, "code").expect("a silent code");
    let (_, _, second) = redeem(&server, &fx, &code, &req.verifier).await;
    let second_claims = claims(second["id_token"].as_str().unwrap());
    assert_eq!(second_claims["sub"], first_claims["sub"]);
    assert_eq!(second_claims["auth_time"], first_claims["auth_time"]);

    // Another client the person never consented to: consent_required, never an HTML page.
    let req = AuthRequest::new(&other.0).with("prompt", "none");
    let res = browser.authorize(&req).await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn oidcc_prompt_login_forces_a_new_sign_in_with_a_later_auth_time() {
    // SECURITY case 18.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let first = claims(
        signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await
            ["id_token"]
            .as_str()
            .unwrap(),
    );
    server.clock.advance(5);
    let req = AuthRequest::new(&fx.client_id).with("prompt", "login");
    let res = browser.follow(browser.authorize(&req).await).await;
    assert!(
        res.url().path().ends_with("/signin/login"),
        "the login form again"
    );
    let back = browser.complete(res, &fx.email).await;
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    let second = claims(body["id_token"].as_str().unwrap());
    assert!(second["auth_time"].as_i64() > first["auth_time"].as_i64());
    assert_ne!(
        second["sid"], first["sid"],
        "every sign-in starts a new session"
    );
}

#[tokio::test]
async fn oidcc_max_age_1_and_max_age_10000() {
    // SECURITY cases 19-21 (OIDC Core §3.1.2.1: auth_time present when max_age is used).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let first = claims(
        signed_in_tokens(
            &server,
            &fx,
            &browser,
            &AuthRequest::new(&fx.client_id).with("max_age", "15000"),
        )
        .await["id_token"]
            .as_str()
            .unwrap(),
    );
    assert!(first["auth_time"].is_i64());
    server.clock.advance(2);

    let req = AuthRequest::new(&fx.client_id).with("max_age", "10000");
    let back = location(&browser.authorize(&req).await);
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").expect("no login UI"),
        &req.verifier,
    )
    .await;
    let same = claims(body["id_token"].as_str().unwrap());
    assert_eq!(same["auth_time"], first["auth_time"]);
    assert_eq!(same["sub"], first["sub"]);

    for max_age in ["1", "0"] {
        let req = AuthRequest::new(&fx.client_id).with("max_age", max_age);
        let res = browser.follow(browser.authorize(&req).await).await;
        assert!(
            res.url().path().ends_with("/signin/login"),
            "max_age={max_age} re-authenticates"
        );
        server.clock.advance(1);
    }
}

#[tokio::test]
async fn oidcc_nonce_is_echoed_and_optional() {
    // SECURITY case 14 (OIDC Core §2; oidcc-ensure-request-without-nonce-succeeds-for-code-flow).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id).with("nonce", "n-0S6_WzA2Mj");
    let t = signed_in_tokens(&server, &fx, &browser, &req).await;
    assert_eq!(
        claims(t["id_token"].as_str().unwrap())["nonce"],
        "n-0S6_WzA2Mj"
    );
    let req = AuthRequest::new(&fx.client_id).with("nonce", "");
    let t = signed_in_tokens(&server, &fx, &browser, &req).await;
    assert!(claims(t["id_token"].as_str().unwrap())
        .get("nonce")
        .is_none());
}

#[tokio::test]
async fn oidcc_unknown_and_optional_parameters_succeed() {
    // SECURITY case 22; RFC 6749 §3.1 (ignore unrecognised parameters); oidcc-alternate-happy-flow.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id)
        .with("extra", "foobar")
        .with("scope", "email profile openid")
        .with("display", "popup")
        .with("ui_locales", "se")
        .with("claims_locales", "se")
        .with("login_hint", &fx.email)
        .with("acr_values", "urn:firmgate:acr:password");
    let res = browser.follow(browser.authorize(&req).await).await;
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"{}\"", fx.email)),
        "login_hint prefills the email"
    );
    let back = location(&browser.submit_login(&html, &fx.email, PASSWORD).await);
    let res = browser.follow(browser.get(&back).await).await;
    let back = browser.complete(res, &fx.email).await;
    assert!(query_param(&back, "code").is_some());
}

#[tokio::test]
async fn oidcc_ensure_post_request_succeeds() {
    // SECURITY case 23 (OIDC Core §3.1.2.1: GET and POST).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id);
    let res = browser
        .http
        .post(server.url("/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(req.query())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = browser.complete(browser.follow(res).await, &fx.email).await;
    assert!(redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier
    )
    .await
    .0
    .is_success());
}

#[tokio::test]
async fn offline_access_needs_consent_in_this_request() {
    // SECURITY case 25 (OIDC Core §11).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let plain = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    assert!(!plain["scope"].as_str().unwrap().contains("offline_access"));
    // Remembered consent does not cover offline access: the consent page comes back.
    let req = AuthRequest::new(&fx.client_id).with("scope", "openid offline_access");
    let res = browser.follow(browser.authorize(&req).await).await;
    assert!(res.url().path().ends_with("/signin/consent"));
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Stay connected"),
        "offline access is spelled out"
    );
    let back = location(&browser.submit_consent(&html, "allow").await);
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    assert_eq!(body["scope"], "openid offline_access");
    // With prompt=none it cannot be granted silently.
    let res = browser
        .authorize(
            &AuthRequest::new(&fx.client_id)
                .with("scope", "openid offline_access")
                .with("prompt", "none"),
        )
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("consent_required")
    );
}

#[tokio::test]
async fn consent_to_more_scopes_adds_to_what_was_given() {
    // OIDC Core §3.1.2.4: consent is asked for what the person has not allowed; what they
    // allowed before stays allowed (an earlier `email`, a later `profile`: both remembered).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let scoped = |scope: &str| AuthRequest::new(&fx.client_id).with("scope", scope);
    browser.sign_in(&scoped("openid email"), &fx.email).await;
    let res = browser
        .follow(browser.authorize(&scoped("openid profile")).await)
        .await;
    assert!(
        res.url().path().ends_with("/signin/consent"),
        "a new scope asks again: {}",
        res.url()
    );
    let html = res.text().await.unwrap();
    let back = location(&browser.submit_consent(&html, "allow").await);
    assert!(query_param(&back, "code").is_some(), "{back}");
    let mut given = server
        .state
        .store
        .consented_scopes(&fx.person_id, &fx.client_id)
        .await
        .unwrap();
    given.sort();
    assert_eq!(given, ["email", "openid", "profile"]);
    for scope in ["openid email", "openid profile", "openid email profile"] {
        let res = browser
            .authorize(&scoped(scope).with("prompt", "none"))
            .await;
        assert!(
            query_param(&location(&res), "code").is_some(),
            "{scope} is remembered: {}",
            location(&res)
        );
    }
}

#[tokio::test]
async fn consent_denied_returns_access_denied() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id);
    let res = browser.follow(browser.authorize(&req).await).await;
    let html = res.text().await.unwrap();
    let res = browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    let html = res.text().await.unwrap();
    let back = location(&browser.submit_consent(&html, "deny").await);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(req.state.as_str())
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, _)| k == "consent" && o == "denied"));
}

#[tokio::test]
async fn form_post_response_mode_posts_the_code_to_the_client() {
    // OAuth 2.0 Form Post Response Mode; CONFORMANCE "Form Post OP".
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            first_party: true,
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id).with("response_mode", "form_post");
    let res = browser.follow(browser.authorize(&req).await).await;
    let html = res.text().await.unwrap();
    let res = browser.submit_login(&html, &fx.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{REDIRECT}\"")), "{page}");
    assert!(page.contains("method=\"post\""));
    let code = hidden(&page, "code").expect("code field");
    assert_eq!(hidden(&page, "state").as_deref(), Some(req.state.as_str()));
    assert_eq!(hidden(&page, "iss").as_deref(), Some(server.base.as_str()));
    assert!(redeem(&server, &fx, &code, &req.verifier)
        .await
        .0
        .is_success());
}

#[tokio::test]
async fn people_in_several_firms_choose_one_and_the_tokens_say_which() {
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            first_party: true,
            ..server.spec()
        })
        .await;
    let second = server.firm("Second LLP").await;
    server.person(&second, &fx.email).await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id);
    let res = browser.follow(browser.authorize(&req).await).await;
    let html = res.text().await.unwrap();
    let res = browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    assert!(res.url().path().ends_with("/signin/firm"));
    let html = res.text().await.unwrap();
    assert!(html.contains("Second LLP") && html.contains("Example LLP"));
    let csrf = hidden(&html, "csrf").unwrap();
    let interaction = hidden(&html, "interaction").unwrap();
    let bad = browser
        .post_form(
            "/signin/firm",
            &[
                ("csrf", &csrf),
                ("interaction", &interaction),
                ("firm", "not-mine"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let back = location(
        &browser
            .post_form(
                "/signin/firm",
                &[
                    ("csrf", &csrf),
                    ("interaction", &interaction),
                    ("firm", &second),
                ],
            )
            .await,
    );
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    let c = claims(body["id_token"].as_str().unwrap());
    assert_eq!(c["firm_id"], second);
    assert_eq!(c["firm_name"], "Second LLP");
}

#[tokio::test]
async fn a_client_of_one_firm_refuses_people_of_another() {
    let server = TestServer::start().await;
    let other_firm = server.firm("Other LLP").await;
    let fx = server
        .fixture_with(ClientSpec {
            firm_id: Some(other_firm),
            first_party: true,
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    let res = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await;
    let html = res.text().await.unwrap();
    let back = location(&browser.submit_login(&html, &fx.email, PASSWORD).await);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
}

#[tokio::test]
async fn public_clients_must_use_pkce() {
    // SECURITY case 38 (RFC 9700 §2.1.1).
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            public: true,
            ..server.spec()
        })
        .await;
    let req = AuthRequest::new(&fx.client_id)
        .with("code_challenge", "")
        .with("code_challenge_method", "");
    assert_eq!(error_back(&server, req).await.0, "invalid_request");
    let req = AuthRequest::new(&fx.client_id).with("code_challenge_method", "plain");
    assert_eq!(
        error_back(&server, req).await.0,
        "invalid_request",
        "SECURITY case 39"
    );
}
