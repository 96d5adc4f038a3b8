//! Sign in with Microsoft and Google, the parts that need no upstream: which buttons the login
//! page shows, an upstream that cannot be reached, callbacks that belong to no sign-in, and the
//! firm's SSO trust settings. The whole round trip against a real OpenID provider (node's
//! oidc-provider standing in for Entra ID and Google) is conformance/node/federation.mjs.
//! [Issue 6; SECURITY.md 93-97; RFC 9700 §4.7]

use firmgate::admin::firms::{policy_json, set_policy, PolicyChange};
use firmgate::admin::AdminError;
use firmgate::audit::Actor;
use firmgate::config::UpstreamSettings;
use firmgate::policy::sso::UpstreamKind;
use reqwest::StatusCode;

use crate::support::*;

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn with_unreachable_microsoft() -> TestServer {
    let port = closed_port().await;
    TestServer::start_with(|s| {
        s.upstreams = vec![UpstreamSettings {
            name: "microsoft".into(),
            label: "Microsoft".into(),
            kind: UpstreamKind::Microsoft,
            client_id: "firmgate".into(),
            client_secret: firmgate::config::SecretString::new("secret"),
            discovery_url: url::Url::parse(&format!("http://127.0.0.1:{port}/organizations/v2.0"))
                .unwrap(),
        }];
    })
    .await
}

async fn login_page(server: &TestServer, browser: &Browser) -> String {
    let fx = server.fixture().await;
    let req = AuthRequest::new(&fx.client_id);
    let res = browser.follow(browser.authorize(&req).await).await;
    assert!(res.url().path().ends_with("/signin/login"), "{}", res.url());
    res.text().await.unwrap()
}

#[tokio::test]
async fn the_login_page_offers_only_configured_upstreams() {
    let plain = TestServer::start().await;
    let html = login_page(&plain, &Browser::new(&plain)).await;
    assert!(!html.contains("Sign in with"), "no upstream, no button");
    let res = Browser::new(&plain)
        .get("/sso/microsoft/callback?state=x&code=y")
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let server = with_unreachable_microsoft().await;
    let html = login_page(&server, &Browser::new(&server)).await;
    assert_eq!(
        text_of(&html, "form[action='/sso/microsoft/start'] button"),
        "Sign in with Microsoft"
    );
    assert!(!html.contains("Sign in with Google"));
}

/// An upstream that does not answer: a page that says so, no session, audited.
#[tokio::test]
async fn an_unreachable_upstream_gives_a_clear_page_and_no_session() {
    let server = with_unreachable_microsoft().await;
    let browser = Browser::new(&server);
    let html = login_page(&server, &browser).await;
    let res = browser
        .post_form(
            "/sso/microsoft/start",
            &[
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("interaction", &hidden(&html, "interaction").unwrap()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let page = res.text().await.unwrap();
    assert_eq!(text_of(&page, "h1"), "Microsoft could not be reached");
    assert!(
        text_of(&page, "a").contains("Back"),
        "a way back to sign-in"
    );
    let audit = server.audit_kinds().await;
    assert!(
        audit.iter().any(|(k, o, d)| k == "sso_failed"
            && o == "failure"
            && d.as_deref().unwrap().contains("upstream_unreachable")),
        "{audit:?}"
    );
    // Nothing signed in.
    let account = browser.get("/account").await;
    assert!(account.status().is_redirection());
    assert_eq!(location(&account), "/account/signin");
    // Without the CSRF token the button does nothing.
    let forged = browser
        .post_form(
            "/sso/microsoft/start",
            &[("interaction", &hidden(&html, "interaction").unwrap())],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

/// SECURITY.md 95: a callback whose state no sign-in issued, or with a parameter twice.
#[tokio::test]
async fn callbacks_that_belong_to_no_sign_in_are_refused() {
    let server = with_unreachable_microsoft().await;
    let browser = Browser::new(&server);
    let unknown = browser
        .get("/sso/microsoft/callback?code=abc&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown
        .text()
        .await
        .unwrap()
        .contains("does not belong to a sign-in firmgate started"));
    let audit = server.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|(k, _, d)| k == "sso_failed" && d.as_deref().unwrap().contains("state_unknown")),
        "{audit:?}"
    );
    let twice = browser
        .get("/sso/microsoft/callback?code=a&state=b&state=c")
        .await;
    assert_eq!(twice.status(), StatusCode::BAD_REQUEST);
    assert!(twice.text().await.unwrap().contains("more than once"));
    let error_only = browser
        .get("/sso/microsoft/callback?error=access_denied")
        .await;
    assert_eq!(error_only.status(), StatusCode::BAD_REQUEST);
    assert!(browser.get("/account").await.status().is_redirection());
}

#[tokio::test]
async fn firm_sso_trust_lists_are_checked_normalised_and_audited() {
    let server = TestServer::start().await;
    let firm = server.firm("Trusting LLP").await;
    let change = |f: fn(&mut PolicyChange)| {
        let mut c = PolicyChange::default();
        f(&mut c);
        c
    };
    for bad in [
        change(|c| c.microsoft_tenants = Some("not-a-guid".into())),
        change(|c| c.google_domains = Some("localhost".into())),
        change(|c| c.email_domains = Some("a@b.example".into())),
        change(|c| c.upstream_mfa = Some("Microsoft Entra".into())),
    ] {
        let err = set_policy(&server.state, &firm, &bad, &Actor::default())
            .await
            .unwrap_err();
        assert!(matches!(err, AdminError::Invalid(_)), "{err:?}");
    }
    let good = change(|c| {
        c.microsoft_tenants = Some(" 11111111-2222-3333-4444-555555555555 ,".into());
        c.google_domains = Some("LawFirm.example, b.example".into());
        c.upstream_mfa = Some("microsoft".into());
        c.sso_join = Some(true);
    });
    let stored = set_policy(&server.state, &firm, &good, &Actor::default())
        .await
        .unwrap();
    let json = policy_json(&server.state, &stored).await.unwrap();
    assert_eq!(
        json["microsoft_tenants"],
        serde_json::json!(["11111111-2222-3333-4444-555555555555"])
    );
    assert_eq!(
        json["google_domains"],
        serde_json::json!(["b.example", "lawfirm.example"])
    );
    assert_eq!(json["trust_upstream_mfa"], serde_json::json!(["microsoft"]));
    assert_eq!(json["sso_join"], serde_json::json!(true));
    let audit = server.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|(k, _, d)| k == "policy_changed"
                && d.as_deref().unwrap().contains("google_domains"))
    );
    let cleared = set_policy(
        &server.state,
        &firm,
        &change(|c| c.upstream_mfa = Some("none".into())),
        &Actor::default(),
    )
    .await
    .unwrap();
    assert_eq!(cleared.upstream_mfa, "");
}
