//! RP-Initiated Logout 1.0. [SECURITY cases 11, 47, 62-64; oidcc-rp-initiated-logout-*]

use reqwest::StatusCode;

use crate::support::*;

const BYE: &str = "https://rp.example/bye";

async fn logged_in(server: &TestServer) -> (Fixture, Browser, String) {
    let fx = server.fixture().await;
    let browser = Browser::new(server);
    let t = signed_in_tokens(server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    (fx, browser, t["id_token"].as_str().unwrap().to_owned())
}

async fn prompt_none_error(browser: &Browser, fx: &Fixture) -> Option<String> {
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    query_param(&location(&res), "error")
}

fn logout_url(pairs: &[(&str, &str)]) -> String {
    format!(
        "/logout?{}",
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    )
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_with_and_without_state() {
    // SECURITY cases 62, 64.
    let server = TestServer::start().await;
    let (fx, browser, id_token) = logged_in(&server).await;
    let res = browser
        .get(&logout_url(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "s1"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{BYE}?state=s1"));
    assert_eq!(
        prompt_none_error(&browser, &fx).await.as_deref(),
        Some("login_required")
    );

    let (fx, browser, id_token) = logged_in(&server).await;
    let res = browser
        .get(&logout_url(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", BYE),
        ]))
        .await;
    assert_eq!(location(&res), BYE, "oidcc-rp-initiated-logout-no-state");
    assert_eq!(
        prompt_none_error(&browser, &fx).await.as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn logout_ends_the_session_server_side_and_revokes_its_tokens() {
    // SECURITY case 62 and 56 (revoked by logout shows inactive at once).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let t = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    let res = browser
        .get(&logout_url(&[(
            "id_token_hint",
            t["id_token"].as_str().unwrap(),
        )]))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("You are signed out"));
    assert_eq!(
        userinfo(&server, t["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&server, &fx, t["refresh_token"].as_str().unwrap())
            .await
            .1["error"],
        "invalid_grant"
    );
    assert_eq!(
        prompt_none_error(&browser, &fx).await.as_deref(),
        Some("login_required")
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, _)| k == "sign_out"));
}

#[tokio::test]
async fn logout_without_a_valid_hint_asks_for_confirmation_and_never_redirects_to_unregistered_uris(
) {
    // SECURITY cases 11, 47, 63 (no-params, only-state, no-id-token-hint, bad / modified hint,
    // bad and query-added post_logout_redirect_uri).
    let server = TestServer::start().await;
    let (fx, browser, id_token) = logged_in(&server).await;
    let payload = id_token.split('.').nth(1).unwrap();
    let none_hint = format!("eyJhbGciOiJub25lIn0.{payload}.");
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("state", "s")],
        vec![("post_logout_redirect_uri", BYE)],
        vec![
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://evil.test/bye"),
        ],
        vec![
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://rp.example/bye?foo=bar"),
        ],
        vec![
            ("id_token_hint", &none_hint),
            ("post_logout_redirect_uri", BYE),
        ],
    ];
    for pairs in cases {
        let res = browser.get(&logout_url(&pairs)).await;
        assert_eq!(res.status(), StatusCode::OK, "{pairs:?}");
        assert!(location(&res).is_empty(), "no redirect for {pairs:?}");
        let html = res.text().await.unwrap();
        assert!(
            text_of(&html, "h1").contains("Sign out of firmgate?"),
            "{pairs:?}"
        );
        assert_eq!(
            prompt_none_error(&browser, &fx).await,
            None,
            "still signed in until confirmed"
        );
        let redirect_kept = hidden(&html, "post_logout_redirect_uri");
        if pairs
            .iter()
            .any(|(k, v)| *k == "id_token_hint" && v.ends_with('.'))
        {
            assert!(
                redirect_kept.is_none(),
                "a modified hint never leads to a redirect"
            );
        }
    }
    // Confirming without client_id: signed out, no redirect.
    let html = browser
        .get(&logout_url(&[("post_logout_redirect_uri", BYE)]))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let res = browser
        .post_form(
            "/logout/confirm",
            &[("csrf", &csrf), ("post_logout_redirect_uri", BYE)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("You are signed out"));
    assert_eq!(
        prompt_none_error(&browser, &fx).await.as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn confirmed_logout_with_client_id_returns_to_a_registered_uri() {
    let server = TestServer::start().await;
    let (fx, browser, _) = logged_in(&server).await;
    let html = browser
        .get(&logout_url(&[
            ("client_id", &fx.client_id),
            ("post_logout_redirect_uri", BYE),
            ("state", "x"),
        ]))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    // Without the CSRF token nothing happens (SECURITY case 60).
    let res = browser
        .post_form("/logout/confirm", &[("client_id", &fx.client_id)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(prompt_none_error(&browser, &fx).await, None);
    let res = browser
        .post_form(
            "/logout/confirm",
            &[
                ("csrf", &csrf),
                ("client_id", &fx.client_id),
                ("post_logout_redirect_uri", BYE),
                ("state", "x"),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("{BYE}?state=x"));
}
