//! Firm sign-in policy through the real server: MFA offered (the default), required and
//! exempted; SSO enforced and exempted; the IP allowlist at sign-in, on live sessions, at refresh
//! and at UserInfo, with forwarded addresses only from trusted proxies (failing closed); sign-in
//! hours in the firm's time zone; the firm's maximum session age; firm preselection; the facts a
//! sign-in step reads about the person's firms, in one go, agreeing with the separate reads. Each policy
//! is turned on while people hold live sessions and refresh tokens. Refresh grants re-check the
//! IP allowlist and the session limits (SECURITY case 100's documented rule); the MFA and SSO
//! rules apply at sign-in and at every authorization, not to refresh tokens already held.
//! [Issue 5; SECURITY cases 88, 99-102; OIDC Core §3.1.2.6]

use firmgate::admin::firms::{create_firm, set_policy, PolicyChange};
use firmgate::audit::Actor;
use reqwest::StatusCode;

use crate::support::*;

async fn policy(server: &TestServer, firm_id: &str, change: PolicyChange) {
    set_policy(&server.state, firm_id, &change, &Actor::default())
        .await
        .expect("policy");
}

/// Signs in with the password and returns the page (or RP redirect) that follows.
async fn after_password(browser: &Browser, req: &AuthRequest, email: &str) -> reqwest::Response {
    let res = browser.follow(browser.authorize(req).await).await;
    assert!(res.url().path().ends_with("/signin/login"), "{}", res.url());
    let html = res.text().await.unwrap();
    browser
        .follow(browser.submit_login(&html, email, PASSWORD).await)
        .await
}

async fn answer_offer(browser: &Browser, html: &str, decision: &str) -> reqwest::Response {
    browser
        .follow(
            browser
                .post_form(
                    "/signin/mfa-offer",
                    &[
                        ("csrf", &hidden(html, "csrf").unwrap()),
                        ("interaction", &hidden(html, "interaction").unwrap()),
                        ("decision", decision),
                    ],
                )
                .await,
        )
        .await
}

#[tokio::test]
async fn by_default_mfa_is_offered_at_each_sign_in_and_may_be_skipped() {
    let server = TestServer::start().await;
    let firm = create_firm(&server.state, "Default Policy LLP", None)
        .await
        .unwrap();
    assert_eq!(firm.mfa_mode, "prompt");
    let email = "dee@example.com";
    server.person(&firm.id, email).await;
    let (client_id, _) = server.client(server.spec()).await;
    let req = AuthRequest::new(&client_id);
    let browser = Browser::new(&server);
    let res = after_password(&browser, &req, email).await;
    assert!(
        res.url().path().ends_with("/signin/mfa-offer"),
        "{}",
        res.url()
    );
    let html = res.text().await.unwrap();
    assert_eq!(text_of(&html, "h1"), "Protect your account");
    let res = answer_offer(&browser, &html, "skip").await;
    assert!(
        res.url().path().ends_with("/signin/consent"),
        "{}",
        res.url()
    );
    browser.complete(res, email).await;
    // prompt=none never shows the offer; a second interactive sign-in offers it again.
    let silent = browser
        .authorize(&AuthRequest::new(&client_id).with("prompt", "none"))
        .await;
    assert!(location(&silent).contains("code="), "{}", location(&silent));
    let again = Browser::new(&server);
    let res = after_password(&again, &req, email).await;
    assert!(res.url().path().ends_with("/signin/mfa-offer"));
    // "Set up now" leads to set-up inside the sign-in.
    let html = res.text().await.unwrap();
    let res = answer_offer(&again, &html, "setup").await;
    assert!(
        res.url().path().ends_with("/signin/mfa-setup"),
        "{}",
        res.url()
    );
    // A made-up answer changes nothing.
    let res = again
        .post_form(
            "/signin/mfa-offer",
            &[
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("interaction", &hidden(&html, "interaction").unwrap()),
                ("decision", "later-maybe"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn required_mfa_sends_everyone_without_it_through_set_up_unless_exempted() {
    // SECURITY case 88.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let req = AuthRequest::new(&fx.client_id);
    let live = Browser::new(&server);
    let tokens = signed_in_tokens(&server, &fx, &live, &req).await;
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            mfa: Some("required".into()),
            ..Default::default()
        },
    )
    .await;
    // The live session, at its next authorization: set-up, nothing issued, cannot skip.
    let res = live.follow(live.authorize(&req).await).await;
    assert!(
        res.url().path().ends_with("/signin/mfa-setup"),
        "{}",
        res.url()
    );
    let interaction = hidden(&res.text().await.unwrap(), "interaction").unwrap();
    let res = live
        .follow(
            live.get(&format!("/signin/mfa-offer?interaction={interaction}"))
                .await,
        )
        .await;
    assert!(
        res.url().path().ends_with("/signin/mfa-setup"),
        "no offer to skip"
    );
    let res = live
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(
        location(&res).contains("error=interaction_required"),
        "{}",
        location(&res)
    );
    // Tokens already held keep working until they expire; the refresh token is unaffected by
    // the MFA rule (it applies at sign-in and authorization).
    let (status, _) = refresh(&server, &fx, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    // My Profile is no way around it either.
    assert!(live.get("/account").await.status().is_redirection());

    // An exempted person signs in with the password alone.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            exemptions: vec![(
                firmgate::store::firms::ExemptFrom::Mfa,
                fx.email.clone(),
                true,
            )],
            ..Default::default()
        },
    )
    .await;
    let res = live.authorize(&req).await;
    assert!(location(&res).starts_with(REDIRECT), "{}", location(&res));
    let audit = server.audit_kinds().await;
    assert!(audit
        .iter()
        .any(|(k, _, d)| k == "policy_changed"
            && d.as_deref().unwrap_or("").contains("mfa_exemption")));
    // A stranger cannot be exempted: only members.
    let refused = set_policy(
        &server.state,
        &fx.firm_id,
        &PolicyChange {
            exemptions: vec![(
                firmgate::store::firms::ExemptFrom::Mfa,
                "nobody@example.com".into(),
                true,
            )],
            ..Default::default()
        },
        &Actor::default(),
    )
    .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn enforced_sso_refuses_the_password_form_after_a_correct_password_only() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let req = AuthRequest::new(&fx.client_id);
    let live = Browser::new(&server);
    live.sign_in(&req, &fx.email).await;
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            sso: Some("microsoft".into()),
            ..Default::default()
        },
    )
    .await;
    // The live password session at its next authorization: the SSO page, nothing issued.
    let res = live.follow(live.authorize(&req).await).await;
    assert!(
        res.url().path().ends_with("/signin/sso-required"),
        "{}",
        res.url()
    );
    let html = res.text().await.unwrap();
    assert!(text_of(&html, ".error").contains("requires you to sign in with Microsoft"));
    let res = live
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(location(&res).contains("error=login_required"));

    // A new sign-in: a wrong password gets the usual answer; the right one the SSO refusal,
    // with the fields still there, and no session.
    let browser = Browser::new(&server);
    let page = browser
        .follow(browser.authorize(&req).await)
        .await
        .text()
        .await
        .unwrap();
    let wrong = browser
        .submit_login(&page, &fx.email, "not the password at all")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&wrong, ".error"), "Email or password is incorrect.");
    let right = browser.submit_login(&page, &fx.email, PASSWORD).await;
    assert_eq!(right.status(), StatusCode::OK);
    let html = right.text().await.unwrap();
    assert!(
        text_of(&html, ".error")
            .contains("requires you to sign in with Microsoft, not with a password"),
        "{html}"
    );
    assert!(
        html.contains("name=\"password\""),
        "the fields stay visible"
    );
    assert!(
        browser.get("/account").await.status().is_redirection(),
        "no session"
    );

    // A break-glass admin is exempted and signs in with a password.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            exemptions: vec![(
                firmgate::store::firms::ExemptFrom::Sso,
                fx.email.clone(),
                true,
            )],
            ..Default::default()
        },
    )
    .await;
    Browser::new(&server).sign_in(&req, &fx.email).await;
}

#[tokio::test]
async fn the_ip_allowlist_applies_to_sign_in_live_sessions_refresh_and_userinfo() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let req = AuthRequest::new(&fx.client_id);
    let browser = Browser::new(&server);
    let tokens = signed_in_tokens(&server, &fx, &browser, &req).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    // The tests connect from 127.0.0.1: an allowlist without it refuses everything.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            ip_allow: Some("10.0.0.0/8, 2001:db8::/32".into()),
            ..Default::default()
        },
    )
    .await;
    let res = browser.authorize(&req).await;
    let to = location(&res);
    assert!(
        to.starts_with(REDIRECT) && to.contains("error=access_denied"),
        "{to}"
    );
    assert!(to.contains("network"), "{to}");
    let (status, body) = refresh(&server, &fx, &rt).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, headers, _) = userinfo(&server, &at).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers[reqwest::header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let refusals = server
        .audit_kinds()
        .await
        .into_iter()
        .filter(|(k, _, d)| {
            k == "policy_refused" && d.as_deref().unwrap_or("").contains("ip_allowlist")
        })
        .count();
    assert_eq!(
        refusals, 3,
        "sign-in, refresh and userinfo refusals are audited"
    );
    // A fresh sign-in is refused too.
    let other = Browser::new(&server);
    let res = after_password(&other, &req, &fx.email).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("error=access_denied"));

    // With loopback allowed, the same session and refresh token work again.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            ip_allow: Some("10.0.0.0/8,127.0.0.1".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(location(&browser.authorize(&req).await).contains("code="));
    let (status, _) = refresh(&server, &fx, &rt).await;
    assert_eq!(status, StatusCode::OK);
    // Invalid lists are refused and change nothing.
    for bad in ["10.0.0.0/33", "intranet", "10.0.0.1-10.0.0.9"] {
        let r = set_policy(
            &server.state,
            &fx.firm_id,
            &PolicyChange {
                ip_allow: Some(bad.into()),
                ..Default::default()
            },
            &Actor::default(),
        )
        .await;
        assert!(r.is_err(), "{bad}");
    }
    let firm = server.state.store.firm(&fx.firm_id).await.unwrap().unwrap();
    assert_eq!(firm.ip_allow, "10.0.0.0/8,127.0.0.1/32");
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies_and_garbage_fails_closed() {
    let server = TestServer::start_with(|s| {
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let fx = server.fixture().await;
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            ip_allow: Some("198.51.100.0/24".into()),
            ..Default::default()
        },
    )
    .await;
    let req = AuthRequest::new(&fx.client_id);
    let forwarded = |value: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        Browser::with_headers(&server, h)
    };
    // From the office network, through the trusted proxy: allowed.
    forwarded("198.51.100.7").sign_in(&req, &fx.email).await;
    // A spoofed hop left of the real client does not help an outsider.
    let res = after_password(&forwarded("198.51.100.7, 203.0.113.5"), &req, &fx.email).await;
    assert!(
        location(&res).contains("error=access_denied"),
        "{}",
        location(&res)
    );
    // An unparsable value from the proxy: no address, refused.
    let res = after_password(&forwarded("not-an-address"), &req, &fx.email).await;
    assert!(
        location(&res).contains("error=access_denied"),
        "{}",
        location(&res)
    );
}

#[tokio::test]
async fn sign_in_hours_are_read_in_the_firms_time_zone() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    // Move the fake clock to the next Monday, 10:00 UTC.
    let now = server.clock.now();
    let days_since_monday = ((now / 86_400) + 3) % 7; // 1970-01-01 was a Thursday
    let next_monday = (now / 86_400 - days_since_monday + 7) * 86_400;
    server.clock.advance(next_monday + 10 * 3600 - now);
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            sign_in_hours: Some("Mon-Fri 09:00-17:00".into()),
            time_zone: Some("Europe/London".into()),
            ..Default::default()
        },
    )
    .await;
    let req = AuthRequest::new(&fx.client_id);
    let browser = Browser::new(&server);
    browser.sign_in(&req, &fx.email).await;
    // 10:00 UTC is 19:00 in Tokyo: after hours there, for the same live session.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            time_zone: Some("Asia/Tokyo".into()),
            ..Default::default()
        },
    )
    .await;
    let res = browser.authorize(&req).await;
    assert!(
        location(&res).contains("error=access_denied") && location(&res).contains("time"),
        "{}",
        location(&res)
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, d)| k == "policy_refused"
            && d.as_deref().unwrap_or("").contains("sign_in_hours")));
    // "always" lifts it; nonsense is refused.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            sign_in_hours: Some("always".into()),
            ..Default::default()
        },
    )
    .await;
    assert!(location(&browser.authorize(&req).await).contains("code="));
    for (hours, tz) in [
        (Some("Mon-Fri 17:00-09:00"), None),
        (None, Some("Mars/Olympus")),
    ] {
        let r = set_policy(
            &server.state,
            &fx.firm_id,
            &PolicyChange {
                sign_in_hours: hours.map(str::to_owned),
                time_zone: tz.map(str::to_owned),
                ..Default::default()
            },
            &Actor::default(),
        )
        .await;
        assert!(r.is_err(), "{hours:?} {tz:?}");
    }
}

#[tokio::test]
async fn the_firms_maximum_session_age_ends_active_sessions_and_their_refresh_tokens() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            max_session_age_secs: Some(3600),
            ..Default::default()
        },
    )
    .await;
    let req = AuthRequest::new(&fx.client_id);
    let browser = Browser::new(&server);
    let tokens = signed_in_tokens(&server, &fx, &browser, &req).await;
    let mut rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Active every 20 minutes (never idle), yet after an hour the session must sign in again.
    for _ in 0..2 {
        server.clock.advance(20 * 60);
        assert!(location(&browser.authorize(&req).await).contains("code="));
        let (status, body) = refresh(&server, &fx, &rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        rt = body["refresh_token"].as_str().unwrap().to_owned();
    }
    server.clock.advance(21 * 60);
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(
        location(&res).contains("error=login_required"),
        "{}",
        location(&res)
    );
    let (status, body) = refresh(&server, &fx, &rt).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_firm_parameter_preselects_a_firm_the_person_belongs_to() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let second = server.firm("Second Chambers").await;
    server.person(&second, &fx.email).await;
    let req = AuthRequest::new(&fx.client_id).with("firm", &second);
    let browser = Browser::new(&server);
    let res = after_password(&browser, &req, &fx.email).await;
    assert!(
        res.url().path().ends_with("/signin/consent"),
        "no chooser: {}",
        res.url()
    );
    let back = browser.complete(res, &fx.email).await;
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["firm_id"], second.as_str());
    assert_eq!(id["firm_name"], "Second Chambers");
    // A firm the person is not in is ignored: the chooser.
    let stranger_firm = server.firm("Elsewhere LLP").await;
    let other = Browser::new(&server);
    let res = after_password(
        &other,
        &AuthRequest::new(&fx.client_id).with("firm", &stranger_firm),
        &fx.email,
    )
    .await;
    assert!(res.url().path().ends_with("/signin/firm"), "{}", res.url());
}

#[tokio::test]
async fn nobody_turns_off_mfa_a_firm_requires_of_them() {
    // Issue 4 §6: deactivation is refused while any of the person's firms enforces MFA.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let enrolled = crate::mfa::enrol(&server, &browser, &fx.email).await;
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            mfa: Some("required".into()),
            ..Default::default()
        },
    )
    .await;
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(
        text_of(&page, "#mfa-kept-on").contains("Example LLP requires it"),
        "{page}"
    );
    server.clock.advance(30);
    let res = browser
        .post_form(
            "/account/mfa/deactivate",
            &[
                ("csrf", &hidden(&page, "csrf").unwrap()),
                ("confirm", "yes"),
                (
                    "code",
                    &crate::mfa::oath(&enrolled.secret, server.clock.now()),
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        firmgate::account::mfa::is_active(&server.state, &fx.person_id)
            .await
            .unwrap()
    );
    // Exempted, the person may turn it off again.
    policy(
        &server,
        &fx.firm_id,
        PolicyChange {
            exemptions: vec![(
                firmgate::store::firms::ExemptFrom::Mfa,
                fx.email.clone(),
                true,
            )],
            ..Default::default()
        },
    )
    .await;
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(page.contains("/account/mfa/deactivate"));
}

#[tokio::test]
async fn a_sign_in_step_reads_the_same_facts_as_the_separate_reads() {
    // `Store::sign_in_facts` answers in one read what each step of a journey used to ask in
    // seven; for a person in two firms with different exemptions and password rules, and a
    // remembered consent, it must agree with each of those reads.
    use firmgate::store::firms::{ExemptFrom, FirmSetting};
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server.firm("Second Firm LLP").await;
    let store = &server.state.store;
    let now = server.clock.now();
    assert!(store
        .insert_membership(&other, &fx.person_id, "admin", now)
        .await
        .unwrap());
    assert!(store
        .set_exemption(&fx.firm_id, &fx.person_id, ExemptFrom::Mfa, true, now)
        .await
        .unwrap());
    assert!(store
        .set_exemption(&other, &fx.person_id, ExemptFrom::Sso, true, now)
        .await
        .unwrap());
    assert!(store
        .set_firm_setting(&other, FirmSetting::PasswordMinLength, 16)
        .await
        .unwrap());
    assert!(store
        .set_firm_setting(&fx.firm_id, FirmSetting::PasswordMaxAgeDays, 90)
        .await
        .unwrap());
    store
        .remember_consent(
            &fx.person_id,
            &fx.client_id,
            &["openid".into(), "email".into()],
            now,
        )
        .await
        .unwrap();

    let facts = store
        .sign_in_facts(&fx.person_id, &fx.client_id)
        .await
        .unwrap();
    let person = store.person(&fx.person_id).await.unwrap();
    assert_eq!(format!("{:?}", facts.person), format!("{person:?}"));
    assert!(!facts.mfa_enrolled);
    assert_eq!(
        facts.consented_scopes,
        store
            .consented_scopes(&fx.person_id, &fx.client_id)
            .await
            .unwrap()
    );
    assert_eq!(facts.consented_scopes, vec!["openid", "email"]);
    let memberships = store.memberships_of(&fx.person_id).await.unwrap();
    assert_eq!(memberships.len(), 2);
    assert_eq!(
        format!("{:?}", facts.memberships()),
        format!("{memberships:?}")
    );
    for member in &facts.members {
        let firm = store.firm(&member.firm.id).await.unwrap();
        assert_eq!(format!("{:?}", Some(&member.firm)), format!("{firm:?}"));
        let standing = store
            .standing(&member.firm.id, &fx.person_id)
            .await
            .unwrap();
        assert_eq!(member.standing, standing);
    }
    let exemptions: Vec<(bool, bool)> = facts
        .members
        .iter()
        .map(|m| (m.standing.mfa_excluded, m.standing.sso_excluded))
        .collect();
    assert!(exemptions.contains(&(true, false)) && exemptions.contains(&(false, true)));
    let policy = store.password_policy_for(&fx.person_id).await.unwrap();
    assert_eq!(facts.password_policy(), policy);
    assert_eq!((policy.min_length, policy.max_age_days), (16, Some(90)));

    // The password form's read, by e-mail address as typed: the same facts.
    let typed = format!("  {}  ", fx.email.to_uppercase());
    let by_email = store
        .sign_in_facts_by_email(&typed, &fx.client_id)
        .await
        .unwrap()
        .expect("the person is found by e-mail address");
    assert_eq!(format!("{by_email:?}"), format!("{facts:?}"));
    assert!(by_email.is_about(&fx.person_id, &fx.client_id));
    assert!(store
        .sign_in_facts_by_email("nobody@example.com", &fx.client_id)
        .await
        .unwrap()
        .is_none());

    // A person who does not exist has no facts, and no error.
    let none = store
        .sign_in_facts("no-such-person", &fx.client_id)
        .await
        .unwrap();
    assert!(none.person.is_none() && none.members.is_empty() && !none.mfa_enrolled);

    // Out of both firms: the person and their consent are still there, with no memberships.
    for firm in [&fx.firm_id, &other] {
        assert!(store
            .remove_membership(firm, &fx.person_id, now)
            .await
            .unwrap());
    }
    let alone = store
        .sign_in_facts(&fx.person_id, &fx.client_id)
        .await
        .unwrap();
    assert_eq!(format!("{:?}", alone.person), format!("{person:?}"));
    assert_eq!(alone.consented_scopes, vec!["openid", "email"]);
    assert!(alone.members.is_empty());
}

#[tokio::test]
async fn a_page_reads_the_session_and_its_facts_as_the_separate_reads() {
    // Each page of a journey reads the session behind its cookie together with the facts
    // about its person (`Reader::session_with_facts`): they must be what the two separate
    // reads give, for a person in two firms and in none, and nothing for an ended session or
    // an unknown token.
    use firmgate::crypto::bearer::{random_id, BearerToken, TokenKind};
    use firmgate::store::sessions::NewSession;
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server.firm("Second Firm LLP").await;
    let store = &server.state.store;
    let now = server.clock.now();
    assert!(store
        .insert_membership(&other, &fx.person_id, "admin", now)
        .await
        .unwrap());
    store
        .remember_consent(&fx.person_id, &fx.client_id, &["openid".into()], now)
        .await
        .unwrap();
    let token_hash = BearerToken::generate().hash(TokenKind::Session);
    let id = random_id();
    store
        .insert_session(&NewSession {
            id: &id,
            token_hash: &token_hash,
            person_id: &fx.person_id,
            auth_time: now,
            amr: "pwd",
            expires_at: now + 3600,
            user_agent: Some("test"),
            ip: None,
            upstream: None,
        })
        .await
        .unwrap();
    let together = || async {
        store
            .reader()
            .await
            .unwrap()
            .session_with_facts(&token_hash, &fx.client_id)
            .await
            .unwrap()
    };
    let separate = || async {
        let session = store.session_by_token_hash(&token_hash).await.unwrap();
        let facts = store
            .sign_in_facts(&fx.person_id, &fx.client_id)
            .await
            .unwrap();
        (session, facts)
    };

    let (session, facts) = together().await.expect("the session is found");
    let (expected_session, expected_facts) = separate().await;
    assert_eq!(Some(&session), expected_session.as_ref());
    assert_eq!(session.id, id);
    assert_eq!(format!("{facts:?}"), format!("{expected_facts:?}"));
    assert_eq!(facts.members.len(), 2);
    assert_eq!(facts.consented_scopes, vec!["openid"]);
    assert!(facts.is_about(&fx.person_id, &fx.client_id));

    // Out of both firms: still the session and the person, with no memberships.
    for firm in [&fx.firm_id, &other] {
        assert!(store
            .remove_membership(firm, &fx.person_id, now)
            .await
            .unwrap());
    }
    let (_, alone) = together().await.expect("the session is still found");
    assert_eq!(format!("{alone:?}"), format!("{:?}", separate().await.1));
    assert!(alone.person.is_some() && alone.members.is_empty());

    // Another application: its own consent (none), the same person.
    let (_, elsewhere) = store
        .reader()
        .await
        .unwrap()
        .session_with_facts(&token_hash, "another-client")
        .await
        .unwrap()
        .expect("the session is found for any application");
    assert!(elsewhere.consented_scopes.is_empty() && elsewhere.person.is_some());

    // An unknown token, and the session once ended: nothing.
    let unknown = BearerToken::generate().hash(TokenKind::Session);
    assert!(store
        .reader()
        .await
        .unwrap()
        .session_with_facts(&unknown, &fx.client_id)
        .await
        .unwrap()
        .is_none());
    assert!(store.end_session(&id, now, "test").await.unwrap());
    assert!(together().await.is_none());
}
