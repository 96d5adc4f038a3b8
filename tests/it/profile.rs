//! My Profile (`/account`): reached through the sign-in journey like any relying party; profile,
//! password change (current password first, throttled, rules and reuse limit, other sessions
//! signed out on request, e-mail notice), sessions, memberships; per-firm password expiry
//! enforced at sign-in. [Issue 3 §3, §6; ASVS 2.1.5-2.1.6, 3.3.3, 3.3.4; NIST SP 800-63B §5.1.1.2]

use firmgate::admin::firms::{set_policy, PolicyChange};
use firmgate::audit::Actor;
use reqwest::StatusCode;

use crate::support::*;

const NEW_PASSWORD: &str = "velvet quarry lantern orbit";

async fn server_with_mail() -> (TestServer, SmtpSink) {
    let sink = SmtpSink::start();
    let url = sink.url.clone();
    let server = TestServer::start_with(move |s| {
        s.smtp_url = Some(firmgate::config::SecretString::new(url))
    })
    .await;
    (server, sink)
}

/// Opens My Profile, signing in on the way with `password`; returns the final response.
pub async fn open_profile(browser: &Browser, email: &str, password: &str) -> reqwest::Response {
    let res = browser.follow(browser.get("/account").await).await;
    if !res.url().path().ends_with("/signin/login") {
        return res;
    }
    let html = res.text().await.unwrap();
    browser
        .follow(browser.submit_login(&html, email, password).await)
        .await
}

pub async fn profile_html(browser: &Browser, email: &str) -> String {
    let res = open_profile(browser, email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().path().ends_with("/account"), "{}", res.url());
    res.text().await.unwrap()
}

async fn change_password(
    browser: &Browser,
    page: &str,
    current: &str,
    new: &str,
    sign_out_others: bool,
) -> reqwest::Response {
    let csrf = hidden(page, "csrf").unwrap();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("current_password", current),
        ("new_password", new),
        ("confirm_password", new),
    ];
    if sign_out_others {
        form.push(("sign_out_others", "yes"));
    }
    browser.post_form("/account/password", &form).await
}

#[tokio::test]
async fn my_profile_is_reached_through_the_sign_in_journey() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let second = server.firm("Second Chambers").await;
    server.person(&second, &fx.email).await;
    let browser = Browser::new(&server);

    // No session: the browser is sent through /authorize as the built-in client.
    let res = browser.get("/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/signin");
    let res = browser.get("/account/signin").await;
    let to = location(&res);
    assert!(
        to.starts_with(&format!("{}/authorize?", server.base)),
        "{to}"
    );
    assert_eq!(
        query_param(&to, "client_id").as_deref(),
        Some("firmgate-account")
    );
    assert_eq!(
        query_param(&to, "code_challenge_method").as_deref(),
        Some("S256")
    );

    // A wrong password keeps the person at the login page.
    let login = browser.follow(browser.get("/account").await).await;
    assert!(login.url().path().ends_with("/signin/login"));
    let html = login.text().await.unwrap();
    let wrong = browser
        .follow(
            browser
                .submit_login(&html, &fx.email, "not the password at all")
                .await,
        )
        .await;
    assert!(wrong.url().path().ends_with("/signin/login"));

    // Two firms: the journey asks which one, then My Profile lists both memberships.
    let html = browser.get("/account").await;
    let login = browser.follow(html).await;
    let html = login.text().await.unwrap();
    let res = browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    assert!(res.url().path().ends_with("/signin/firm"), "{}", res.url());
    let html = res.text().await.unwrap();
    let res = browser
        .follow(
            browser
                .post_form(
                    "/signin/firm",
                    &[
                        ("csrf", &hidden(&html, "csrf").unwrap()),
                        ("interaction", &hidden(&html, "interaction").unwrap()),
                        ("firm", &fx.firm_id),
                    ],
                )
                .await,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().path().ends_with("/account"));
    let page = res.text().await.unwrap();
    assert_eq!(text_of(&page, "h1"), "My Profile");
    assert!(page.contains(&fx.email));
    let firms = text_of(&page, "section[aria-labelledby=firms-heading] li");
    assert!(firms.contains("Example LLP — member"), "{firms}");
    assert!(firms.contains("Second Chambers — member"), "{firms}");
    assert!(text_of(&page, "ul.sessions").contains("(this browser)"));
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, _)| k == "sign_in" && o == "success"));

    // Back again later: straight to the page, no journey.
    let again = browser.get("/account").await;
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_callback_refuses_foreign_or_replayed_answers_without_repeating_them() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    // Not this browser's round trip.
    let res = browser
        .get("/account/callback?code=abc&state=not-mine")
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(browser.get("/account").await.status().is_redirection());
    // An error answer: a fixed message, never the text from the URL.
    let res = browser
        .get("/account/callback?error=access_denied&error_description=Call%200800%20SCAM")
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(!html.contains("SCAM"), "{html}");
    assert!(html.contains("refused"));

    // A real round trip, then its code replayed: refused, and the code was single-use.
    let res = browser.follow(browser.get("/account").await).await;
    let html = res.text().await.unwrap();
    let back = browser.submit_login(&html, &fx.email, PASSWORD).await;
    let callback = location(&back);
    assert!(callback.contains("/account/callback?code="), "{callback}");
    let first = browser.get(&callback).await;
    assert_eq!(location(&first), "/account");
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn profile_changes_are_checked_saved_and_audited() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    let csrf = hidden(&page, "csrf").unwrap();
    for (name, tz, why) in [
        ("", "Europe/London", "Enter your name"),
        ("Ann", "not a zone", "time zone"),
        (&"x".repeat(201)[..], "UTC", "Enter your name"),
    ] {
        let res = browser
            .post_form(
                "/account/profile",
                &[("csrf", &csrf), ("name", name), ("time_zone", tz)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let html = res.text().await.unwrap();
        assert!(text_of(&html, "#profile-error").contains(why), "{html}");
    }
    let person = server
        .state
        .store
        .person(&fx.person_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(person.name, "Ann Example", "nothing changed");

    // Without the CSRF token: refused, nothing changed.
    let res = browser
        .post_form(
            "/account/profile",
            &[("name", "Mallory"), ("time_zone", "UTC")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = browser
        .post_form(
            "/account/profile",
            &[
                ("csrf", &csrf),
                ("name", "Ann Q. Example"),
                ("time_zone", "Australia/Sydney"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account?done=profile");
    let page = browser
        .get("/account?done=profile")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&page, ".notice"), "Your profile was saved.");
    assert!(page.contains("value=\"Ann Q. Example\""));
    assert!(page.contains("value=\"Australia/Sydney\""));
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, _)| k == "profile_changed"));
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_can_end_other_sessions() {
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    // Another browser, signed in to a relying party with a refresh token bound to its session.
    let other = Browser::new(&server);
    let tokens = signed_in_tokens(&server, &fx, &other, &AuthRequest::new(&fx.client_id)).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();

    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    assert_eq!(
        text_of(&page, "ul.sessions li")
            .matches("Sign out this session")
            .count(),
        1,
        "the other browser is listed with a sign-out button"
    );

    // Wrong current password: refused, audited, nothing changed.
    let res = change_password(&browser, &page, "wrong password here", NEW_PASSWORD, true).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert_eq!(
        text_of(&html, "#password-error"),
        "The current password is not right."
    );
    // Rules apply, with the reason and a strength estimate.
    let res = change_password(&browser, &page, PASSWORD, "password1234", true).await;
    let html = res.text().await.unwrap();
    assert!(
        text_of(&html, "#password-error").contains("too easy to guess"),
        "{html}"
    );
    let strength = text_of(&html, "#password-hint strong");
    assert!(
        ["very weak", "weak"].contains(&strength.as_str()),
        "{strength}"
    );
    // The same password again is no change.
    let res = change_password(&browser, &page, PASSWORD, PASSWORD, true).await;
    let html = res.text().await.unwrap();
    assert!(text_of(&html, "#password-error").contains("different from your current"));
    // Mismatched confirmation.
    let csrf = hidden(&page, "csrf").unwrap();
    let res = browser
        .post_form(
            "/account/password",
            &[
                ("csrf", &csrf),
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", "velvet quarry lantern orbiT"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Without CSRF: 403 and nothing happens.
    let res = browser
        .post_form(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (status, body) = refresh(&server, &fx, &rt).await;
    assert_eq!(status, StatusCode::OK, "nothing changed yet: {body}");
    let rt = body["refresh_token"].as_str().unwrap().to_owned();

    let res = change_password(&browser, &page, PASSWORD, NEW_PASSWORD, true).await;
    assert_eq!(location(&res), "/account?done=password");
    let html = browser
        .get("/account?done=password")
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&html, ".notice").contains("password was changed"));
    assert!(!text_of(&html, "ul.sessions").contains("Sign out this session"));

    // The other browser's session and its grant ended; this browser stays signed in.
    assert!(other.get("/account").await.status().is_redirection());
    let (status, body) = refresh(&server, &fx, &rt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(browser.get("/account").await.status(), StatusCode::OK);
    // The person is told by e-mail; the old password no longer signs in, the new one does.
    let mail = sink.wait_for(&fx.email, 1).await;
    assert!(mail[0].text.contains("was changed"), "{}", mail[0].text);
    let fresh = Browser::new(&server);
    let res = open_profile(&fresh, &fx.email, PASSWORD).await;
    assert!(res.url().path().ends_with("/signin/login"));
    let res = open_profile(&fresh, &fx.email, NEW_PASSWORD).await;
    assert!(res.url().path().ends_with("/account"));
    let audit = server.audit_kinds().await;
    assert!(audit
        .iter()
        .any(|(k, o, _)| k == "password_changed" && o == "failure"));
    assert!(audit.iter().any(|(k, o, d)| k == "password_changed"
        && o == "success"
        && d.as_deref().unwrap_or("").contains("my profile")));
}

#[tokio::test]
async fn wrong_current_passwords_share_the_sign_in_lock() {
    // My Profile is no way around the sign-in throttle (issue 3 §9).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    for _ in 0..5 {
        let res =
            change_password(&browser, &page, "wrong password here", NEW_PASSWORD, false).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = change_password(&browser, &page, PASSWORD, NEW_PASSWORD, false).await;
    let html = res.text().await.unwrap();
    assert!(
        text_of(&html, "#password-error").contains("Too many unsuccessful attempts"),
        "{html}"
    );
    // The login form is locked for this account too.
    let fresh = Browser::new(&server);
    let res = open_profile(&fresh, &fx.email, PASSWORD).await;
    assert!(res.url().path().ends_with("/signin/login"));
    assert!(server.audit_kinds().await.iter().any(
        |(k, _, d)| k == "password_changed" && d.as_deref().unwrap_or("").contains("throttled")
    ));
}

#[tokio::test]
async fn a_firm_reuse_limit_refuses_recent_passwords() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    set_policy(
        &server.state,
        &fx.firm_id,
        &PolicyChange {
            password_reuse_limit: Some(3),
            ..Default::default()
        },
        &Actor::default(),
    )
    .await
    .unwrap();
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    let res = change_password(&browser, &page, PASSWORD, NEW_PASSWORD, false).await;
    assert_eq!(location(&res), "/account?done=password");
    let second = "harbour pocket thunder violin";
    let res = change_password(&browser, &page, NEW_PASSWORD, second, false).await;
    assert_eq!(location(&res), "/account?done=password");
    // Back to the first one: among the last 3.
    let res = change_password(&browser, &page, second, NEW_PASSWORD, false).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(
        text_of(&html, "#password-error").contains("your last 3"),
        "{html}"
    );
    let person = server
        .state
        .store
        .person(&fx.person_id)
        .await
        .unwrap()
        .unwrap();
    let check = server
        .state
        .passwords
        .verify(
            &firmgate::crypto::password::Password::new(second),
            person.password_hash.as_deref(),
        )
        .await
        .unwrap();
    assert!(matches!(
        check,
        firmgate::crypto::password::Verified::Yes { .. }
    ));
}

#[tokio::test]
async fn composition_rules_apply_only_where_a_firm_opts_in() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    set_policy(
        &server.state,
        &fx.firm_id,
        &PolicyChange {
            password_composition: Some(true),
            ..Default::default()
        },
        &Actor::default(),
    )
    .await
    .unwrap();
    let res = change_password(&browser, &page, PASSWORD, NEW_PASSWORD, false).await;
    let html = res.text().await.unwrap();
    assert!(
        text_of(&html, "#password-error")
            .contains("upper- and lower-case letters, a digit and a symbol"),
        "{html}"
    );
    let res = change_password(
        &browser,
        &page,
        PASSWORD,
        "Velvet quarry lantern 42!",
        false,
    )
    .await;
    assert_eq!(location(&res), "/account?done=password");
}

#[tokio::test]
async fn an_expired_password_must_be_changed_at_the_next_sign_in() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    set_policy(
        &server.state,
        &fx.firm_id,
        &PolicyChange {
            password_max_age_days: Some(30),
            ..Default::default()
        },
        &Actor::default(),
    )
    .await
    .unwrap();
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    assert_ne!(text_of(&page, "#password-due"), "not required by your firm");

    server.clock.advance(31 * 86_400);
    let req = AuthRequest::new(&fx.client_id);
    // The old session has long ended (12 h at most): a fresh sign-in, then the step.
    let res = browser.follow(browser.authorize(&req).await).await;
    let html = res.text().await.unwrap();
    let res = browser
        .follow(browser.submit_login(&html, &fx.email, PASSWORD).await)
        .await;
    assert!(
        res.url().path().ends_with("/signin/password"),
        "{}",
        res.url()
    );
    let html = res.text().await.unwrap();
    assert_eq!(text_of(&html, "h1"), "Choose a new password");
    assert!(
        !html.contains("name=\"name\""),
        "only the password is asked for"
    );
    // With a live session, prompt=none cannot show the step: interaction_required (OIDC Core §3.1.2.6).
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(
        location(&res).contains("error=interaction_required"),
        "{}",
        location(&res)
    );
    // My Profile is not a way around the step.
    let res = browser.get("/account").await;
    assert!(res.status().is_redirection());
    let submit = |new: &'static str, html: String| {
        let browser = &browser;
        async move {
            browser
                .post_form(
                    "/signin/password",
                    &[
                        ("csrf", &hidden(&html, "csrf").unwrap()),
                        ("interaction", &hidden(&html, "interaction").unwrap()),
                        ("new_password", new),
                        ("confirm_password", new),
                    ],
                )
                .await
        }
    };
    let res = submit(PASSWORD, html.clone()).await;
    let again = res.text().await.unwrap();
    assert!(
        text_of(&again, ".error").contains("different from your current"),
        "{again}"
    );
    let res = browser.follow(submit(NEW_PASSWORD, html).await).await;
    let rp = browser.complete(res, &fx.email).await;
    assert!(rp.starts_with(REDIRECT) && rp.contains("code="), "{rp}");
    assert!(
        server
            .audit_kinds()
            .await
            .iter()
            .any(|(k, _, d)| k == "password_changed"
                && d.as_deref().unwrap_or("").contains("expired"))
    );
}

#[tokio::test]
async fn sessions_can_be_signed_out_one_by_one_or_everywhere() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = Browser::new(&server);
    profile_html(&other, &fx.email).await;
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    let csrf = hidden(&page, "csrf").unwrap();
    // Someone else's session id, or rubbish, ends nothing.
    let stranger = server.fixture().await;
    let s_browser = Browser::new(&server);
    profile_html(&s_browser, &stranger.email).await;
    let strangers = server
        .state
        .store
        .live_sessions_of(&stranger.person_id, server.clock.now(), 3600)
        .await
        .unwrap();
    let res = browser
        .post_form(
            "/account/sessions",
            &[("csrf", &csrf), ("end", &strangers[0].id)],
        )
        .await;
    assert_eq!(location(&res), "/account?done=sessions");
    assert_eq!(s_browser.get("/account").await.status(), StatusCode::OK);
    let res = browser
        .post_form("/account/sessions", &[("csrf", &csrf), ("end", "")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // One other session, by the button on the page.
    let other_id = page
        .split("name=\"end\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_ne!(other_id, "all");
    let res = browser
        .post_form("/account/sessions", &[("csrf", &csrf), ("end", &other_id)])
        .await;
    assert_eq!(location(&res), "/account?done=sessions");
    assert!(other.get("/account").await.status().is_redirection());
    assert_eq!(browser.get("/account").await.status(), StatusCode::OK);

    // Everywhere, this browser included.
    let res = browser
        .post_form("/account/sessions", &[("csrf", &csrf), ("end", "all")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text_of(&res.text().await.unwrap(), "h1"),
        "You are signed out"
    );
    assert!(browser.get("/account").await.status().is_redirection());
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, d)| k == "sign_out" && d.as_deref().unwrap_or("").contains("\"all\"")));
}

#[tokio::test]
async fn the_live_strength_estimate_needs_the_page_csrf_token() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let page = profile_html(&browser, &fx.email).await;
    assert!(page.contains("/static/strength.js"));
    let res = browser
        .post_form("/password/strength", &[("password", "password1234")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let csrf = hidden(&page, "csrf").unwrap();
    let ask = |pw: &'static str| {
        let browser = &browser;
        let csrf = csrf.clone();
        async move {
            let res = browser
                .post_form("/password/strength", &[("csrf", &csrf), ("password", pw)])
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let weak = ask("password1234").await;
    assert!(
        ["very weak", "weak"].contains(&weak["strength"].as_str().unwrap()),
        "{weak}"
    );
    assert!(weak["advice"].as_str().unwrap().contains("16 characters"));
    let strong = ask("maple orbit canyon velvet pocket").await;
    assert_eq!(strong["strength"], "strong");
    assert_eq!(strong["advice"], "");
    assert!(ask("").await["strength"].is_null());
}
