//! The sign-in pages as a browser meets them: cookies, CSRF, interaction binding, security
//! headers, the login form's answers and throttling, idle and absolute session limits.
//! [SECURITY cases 9, 57-61, 66-67, 74-76, 105]

use firmgate::admin::clients::ClientSpec;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::StatusCode;

use crate::support::*;

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| {
            c[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned()
        })
}

#[tokio::test]
async fn https_issuer_cookies_use_host_prefix_secure_httponly_lax() {
    // SECURITY case 59 (ASVS 3.4.1-3.4.5) and 57 (ASVS 3.2.1: a new session token per sign-in).
    let server = TestServer::start_with(|s| {
        s.issuer = url::Url::parse("https://login.firm.example").unwrap()
    })
    .await;
    let fx = server.fixture().await;
    let http = server.backchannel();
    let req = AuthRequest::new(&fx.client_id);
    let res = http
        .get(server.url(&format!("/authorize?{}", req.query())))
        .send()
        .await
        .unwrap();
    let set = set_cookies(&res);
    let browser_cookie = set
        .iter()
        .find(|c| c.starts_with("__Host-firmgate-browser="))
        .expect("browser cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            browser_cookie.contains(attr),
            "{browser_cookie} lacks {attr}"
        );
    }
    assert!(!browser_cookie.contains("Domain"));
    let b = cookie_value(&set, "__Host-firmgate-browser").unwrap();
    let login_path = location(&res);
    assert!(!login_path.contains(&b), "no cookie value in a URL");
    let jar = format!("__Host-firmgate-browser={b}");
    let html = http
        .get(server.url(&login_path))
        .header(COOKIE, &jar)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let interaction = hidden(&html, "interaction").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("interaction", interaction.as_str()),
        ("email", fx.email.as_str()),
        ("password", PASSWORD),
    ];
    let res = http
        .post(server.url("/signin/login"))
        .header(COOKIE, &jar)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "SECURITY case 9: 303 after a credential POST"
    );
    let set = set_cookies(&res);
    let session = set
        .iter()
        .find(|c| c.starts_with("__Host-firmgate-session="))
        .expect("session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    let first = cookie_value(&set, "__Host-firmgate-session").unwrap();
    assert!(first.len() >= 43, "256-bit session token");

    // Signing in again (prompt=login) gives a new session token.
    let req = AuthRequest::new(&fx.client_id).with("prompt", "login");
    let jar2 = format!("{jar}; __Host-firmgate-session={first}");
    let res = http
        .get(server.url(&format!("/authorize?{}", req.query())))
        .header(COOKIE, &jar2)
        .send()
        .await
        .unwrap();
    let html = http
        .get(server.url(&location(&res)))
        .header(COOKIE, &jar2)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let interaction = hidden(&html, "interaction").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("interaction", interaction.as_str()),
        ("email", fx.email.as_str()),
        ("password", PASSWORD),
    ];
    let res = http
        .post(server.url("/signin/login"))
        .header(COOKIE, &jar2)
        .form(&form)
        .send()
        .await
        .unwrap();
    let second = cookie_value(&set_cookies(&res), "__Host-firmgate-session").unwrap();
    assert_ne!(first, second);
    // The old token no longer names a session.
    let res = http
        .get(server.url(&format!(
                "/authorize?{}",
                AuthRequest::new(&fx.client_id)
                    .with("prompt", "none")
                    .query()
            )))
        .header(COOKIE, format!("{jar}; __Host-firmgate-session={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn loopback_issuer_cookies_drop_secure_but_keep_the_rest() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let res = server
        .backchannel()
        .get(server.url(&format!(
            "/authorize?{}",
            AuthRequest::new(&fx.client_id).query()
        )))
        .send()
        .await
        .unwrap();
    let c = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("firmgate-browser="))
        .unwrap();
    assert!(
        c.contains("HttpOnly")
            && c.contains("SameSite=Lax")
            && c.contains("Path=/")
            && !c.contains("Secure")
    );
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_change_nothing() {
    // SECURITY case 60.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let res = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await;
    let html = res.text().await.unwrap();
    let interaction = hidden(&html, "interaction").unwrap();
    let other = Browser::new(&server);
    let other_html = other
        .follow(other.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    let foreign_csrf = hidden(&other_html, "csrf").unwrap();
    for csrf in [None, Some("wrong"), Some(foreign_csrf.as_str())] {
        let mut form = vec![
            ("interaction", interaction.as_str()),
            ("email", fx.email.as_str()),
            ("password", PASSWORD),
        ];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let res = browser.post_form("/signin/login", &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(
            set_cookies(&res).iter().all(|c| !c.contains("session")),
            "no session was created"
        );
    }
    let res = browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    let consent = res.text().await.unwrap();
    let res = browser
        .post_form(
            "/signin/consent",
            &[("interaction", &interaction), ("decision", "allow")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        server
            .state
            .store
            .consented_scopes(&fx.person_id, &fx.client_id)
            .await
            .unwrap()
            .is_empty(),
        "no consent recorded"
    );
    assert!(hidden(&consent, "csrf").is_some());
}

#[tokio::test]
async fn an_interaction_cannot_be_continued_from_another_browser() {
    // SECURITY case 58 (CVE-2026-7507).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let attacker = Browser::new(&server);
    let login_url = location(&attacker.authorize(&AuthRequest::new(&fx.client_id)).await);
    let attacker_html = attacker.get(&login_url).await.text().await.unwrap();
    let victim = Browser::new(&server);
    let res = victim.get(&login_url).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("This sign-in has expired"));
    // Even with a valid CSRF token of the victim's own browser, the attacker's interaction is refused.
    let victim_html = victim
        .follow(victim.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    let res = victim
        .post_form(
            "/signin/login",
            &[
                ("csrf", &hidden(&victim_html, "csrf").unwrap()),
                (
                    "interaction",
                    &hidden(&attacker_html, "interaction").unwrap(),
                ),
                ("email", &fx.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookies(&res).iter().all(|c| !c.contains("session")));
}

#[tokio::test]
async fn every_page_forbids_framing_and_referrers() {
    // SECURITY case 61 (RFC 9700 §4.16, §4.2.4).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let login = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await;
    let login_url = login.url().to_string();
    let html = login.text().await.unwrap();
    let consent = browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    let error = browser.get("/authorize?client_id=nope").await;
    let logout = browser.get("/logout").await;
    let missing = browser.get("/no-such-page").await;
    for res in [
        browser.get(&login_url).await,
        consent,
        error,
        logout,
        missing,
    ] {
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("src=\"http") && !body.contains("href=\"http"),
            "no third-party resources"
        );
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    // SECURITY case 75.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let html = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    let wrong = browser
        .submit_login(&html, &fx.email, "not the password at all")
        .await;
    let unknown = browser
        .submit_login(&html, "nobody@example.com", "not the password at all")
        .await;
    assert_eq!(wrong.status(), unknown.status());
    let (a, b) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(text_of(&a, ".error"), "Email or password is incorrect.");
    assert_eq!(text_of(&a, ".error"), text_of(&b, ".error"));
    let audit = server.audit_kinds().await;
    assert_eq!(
        audit
            .iter()
            .filter(|(k, o, _)| k == "sign_in" && o == "failure")
            .count(),
        2
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while() {
    // SECURITY case 74 (NIST SP 800-63B §5.2.2).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let html = browser.page_for(&AuthRequest::new(&fx.client_id)).await;
    for _ in 0..5 {
        browser
            .submit_login(&html, &fx.email, "wrong password guess")
            .await;
    }
    let res = browser.submit_login(&html, &fx.email, PASSWORD).await;
    let page = res.text().await.unwrap();
    assert!(
        text_of(&page, ".error").contains("Too many unsuccessful attempts"),
        "{page}"
    );
    // The same lock answers for an address that has no account: nothing is enumerated.
    for _ in 0..5 {
        browser
            .submit_login(&html, "ghost@example.com", "wrong password guess")
            .await;
    }
    let ghost = browser
        .submit_login(&html, "ghost@example.com", "wrong password guess")
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&ghost, ".error").contains("Too many unsuccessful attempts"));
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, _)| k == "sign_in" && o == "throttled"));
    server.clock.advance(61);
    let res = browser.submit_login(&html, &fx.email, PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the owner gets in once the lock passes"
    );
}

#[tokio::test]
async fn a_correct_password_clears_the_account_count() {
    // SECURITY case 74: the count is of consecutive failures. Four, a success, four more: no
    // lock, because the success cleared the first four (eight without it would lock).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let throttles = || async {
        server
            .state
            .store
            .throttle_standing(
                &format!(
                    "login:acct:{}",
                    firmgate::store::people::email_key(&fx.email)
                ),
                "",
                server.clock.now(),
            )
            .await
            .unwrap()
    };
    for round in 0..2 {
        let browser = Browser::new(&server);
        let html = browser.page_for(&AuthRequest::new(&fx.client_id)).await;
        for _ in 0..4 {
            browser
                .submit_login(&html, &fx.email, "wrong password guess")
                .await;
        }
        assert!(throttles().await.key_counted, "round {round}: counted");
        let res = browser.submit_login(&html, &fx.email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "round {round}");
        assert!(!throttles().await.key_counted, "round {round}: cleared");
    }
    // A sign-in with nothing counted has nothing to clear and still gets in.
    let browser = Browser::new(&server);
    browser
        .sign_in(&AuthRequest::new(&fx.client_id), &fx.email)
        .await;
    assert_eq!(
        throttles().await,
        firmgate::store::throttles::ThrottleStanding {
            wait: 0,
            key_counted: false
        }
    );
}

#[tokio::test]
async fn idle_timeout_of_eight_hours_slides_and_firms_may_shorten_it() {
    // SECURITY case 66.
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            first_party: true,
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    browser
        .sign_in(&AuthRequest::new(&fx.client_id), &fx.email)
        .await;
    server.clock.advance(8 * 3600 - 60);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(
        query_param(&location(&res), "code").is_some(),
        "activity at 7h59m"
    );
    server.clock.advance(3 * 3600);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(
        query_param(&location(&res), "code").is_some(),
        "the window slid: 11 h after sign-in, 3 h idle"
    );
    server.clock.advance(8 * 3600 + 1);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("login_required")
    );
    let res = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await;
    assert!(res.url().path().ends_with("/signin/login"));

    // A firm's 30-minute limit applies at once.
    let html = res.text().await.unwrap();
    browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    firmgate::admin::firms::set_policy(
        &server.state,
        &fx.firm_id,
        &firmgate::admin::firms::PolicyChange {
            idle_timeout_secs: Some(1800),
            ..Default::default()
        },
        &firmgate::audit::Actor::default(),
    )
    .await
    .unwrap();
    server.clock.advance(1801);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("login_required")
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, _)| k == "policy_changed"));
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_despite_activity() {
    // SECURITY case 67 (12 h by default).
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            first_party: true,
            ..server.spec()
        })
        .await;
    let browser = Browser::new(&server);
    browser
        .sign_in(&AuthRequest::new(&fx.client_id), &fx.email)
        .await;
    for _ in 0..11 {
        server.clock.advance(3600);
        let res = browser
            .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
            .await;
        assert!(query_param(&location(&res), "code").is_some());
    }
    server.clock.advance(3600);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn stored_password_hashes_are_argon2id_at_owasp_cost() {
    // SECURITY case 76.
    let server =
        TestServer::start_with(|s| s.password_cost = firmgate::crypto::password::HashCost::OWASP)
            .await;
    let firm = server.firm("Hash LLP").await;
    server.person(&firm, "hash@example.com").await;
    let p = server
        .state
        .store
        .person_by_email("HASH@example.com")
        .await
        .unwrap()
        .expect("case-insensitive e-mail");
    let h = p.password_hash.unwrap();
    assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
}

#[tokio::test]
async fn audit_rows_and_pages_never_carry_secrets() {
    // SECURITY case 105.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id);
    let back = browser.sign_in(&req, &fx.email).await;
    let code = query_param(&back, "code").unwrap();
    let (_, _, t) = redeem(&server, &fx, &code, &req.verifier).await;
    redeem(&server, &fx, &code, &req.verifier).await;
    let html = browser
        .follow(
            browser
                .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "login"))
                .await,
        )
        .await
        .text()
        .await
        .unwrap();
    browser
        .submit_login(&html, &fx.email, "a wrong secret password")
        .await;
    let all = format!("{:?}", server.state.store.audit_kinds(1000).await.unwrap());
    for secret in [
        PASSWORD,
        "a wrong secret password",
        code.as_str(),
        t["refresh_token"].as_str().unwrap(),
        t["access_token"].as_str().unwrap(),
        fx.client_secret.as_str(),
    ] {
        assert!(!all.contains(secret), "audit leaks a secret");
    }
}

#[tokio::test]
async fn oversized_and_flooded_requests_are_refused_cleanly() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let big_state = "s".repeat(5000);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("state", &big_state))
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    let flood: String = (0..100).map(|i| format!("p{i}=1&")).collect();
    let res = browser
        .get(&format!("/authorize?{flood}client_id={}", fx.client_id))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = browser
        .post_form(
            "/signin/login",
            &[("csrf", "x"), ("password", &"p".repeat(60_000))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser
        .http
        .post(server.url("/signin/login"))
        .body(vec![b'a'; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_new_session_goes_on_as_it_was_stored() {
    // A sign-in continues with the session it made without reading it back: that record must
    // be the row as stored, upstream facts included.
    use firmgate::store::sessions::{NewSession, UpstreamSignIn};
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let store = &server.state.store;
    let now = server.clock.now();
    let password = NewSession {
        id: "s-password",
        token_hash: "hash-password",
        person_id: &fx.person_id,
        auth_time: now,
        amr: "pwd",
        expires_at: now + 3600,
        user_agent: Some("agent/1"),
        ip: None,
        upstream: None,
    };
    let federated = NewSession {
        id: "s-federated",
        token_hash: "hash-federated",
        amr: "fed",
        user_agent: None,
        ip: Some("192.0.2.7"),
        upstream: Some(UpstreamSignIn {
            provider: "microsoft",
            realm: Some("tenant-1"),
            amr: "pwd mfa",
        }),
        ..password
    };
    for new in [&password, &federated] {
        store.insert_session(new).await.unwrap();
        let stored = store.session(new.id).await.unwrap().expect("stored");
        assert_eq!(new.record(), stored);
    }
}
