//! Accounts: forgotten-password reset by e-mail, invitations with a temporary password and the
//! forced first change, password rules, the outbox. E-mail goes over real SMTP to a real
//! listener; links are followed from the received message. [SECURITY cases 68-72, 77-79;
//! ASVS 2.1, 2.3.1, 2.5, 3.3.3; NIST SP 800-63B §5.1.1.2]

use firmgate::admin::clients::ClientSpec;
use firmgate::audit::Actor;
use reqwest::StatusCode;

use crate::support::*;

async fn server_with_mail() -> (TestServer, SmtpSink) {
    let sink = SmtpSink::start();
    let url = sink.url.clone();
    let server = TestServer::start_with(move |s| {
        s.smtp_url = Some(firmgate::config::SecretString::new(url))
    })
    .await;
    (server, sink)
}

async fn forgot(browser: &Browser, email: &str) -> String {
    let page = browser.get("/signin/forgot").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let res = browser
        .post_form("/signin/forgot", &[("csrf", &csrf), ("email", email)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

async fn choose(browser: &Browser, link: &str, new: &str, confirm: &str) -> (StatusCode, String) {
    let page = browser.get(link).await;
    assert_eq!(page.status(), StatusCode::OK, "opening the link");
    let html = page.text().await.unwrap();
    let res = browser
        .post_form(
            "/signin/reset",
            &[
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("token", &hidden(&html, "token").unwrap()),
                ("new_password", new),
                ("confirm_password", confirm),
            ],
        )
        .await;
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn forgotten_password_end_to_end() {
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    let rp = Browser::new(&server);
    let before = signed_in_tokens(
        &server,
        &fx,
        &rp,
        &AuthRequest::new(&fx.client_id).with("scope", "openid offline_access"),
    )
    .await;

    let browser = Browser::new(&server);
    // SECURITY case 79: the same answer for a known and an unknown address.
    let known = forgot(&browser, &fx.email.to_uppercase()).await;
    let unknown = forgot(&browser, "nobody@example.com").await;
    assert_eq!(
        text_of(&known, "[role=status]"),
        text_of(&unknown, "[role=status]")
    );
    assert!(text_of(&known, "[role=status]").contains("If an account exists"));
    let mail = sink.wait_for(&fx.email, 1).await;
    assert_eq!(mail[0].to, fx.email, "sent to the stored address");
    assert!(
        !mail[0].html.is_empty() && !mail[0].text.is_empty(),
        "a plain-text and an HTML part"
    );
    let link = link_in(
        &mail[0].text,
        &format!("{}/signin/reset?token=", server.base),
    );
    assert!(sink.all().iter().all(|m| m.to != "nobody@example.com"));

    // Opening the link twice (a mail scanner, then the person) consumes nothing.
    assert_eq!(browser.get(&link).await.status(), StatusCode::OK);
    let (_, page) = choose(&browser, &link, "password1234", "password1234").await;
    assert!(
        text_of(&page, ".error").contains("too easy to guess"),
        "{page}"
    );
    let (_, page) = choose(&browser, &link, "tidal quilt harbour", "tidal quilt harbor").await;
    assert!(text_of(&page, ".error").contains("do not match"));
    let (status, page) = choose(
        &browser,
        &link,
        "tidal quilt harbour lamp",
        "tidal quilt harbour lamp",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&page, "h1").contains("Your password has been changed"));
    assert!(!page.contains("code="), "a reset never signs anyone in");

    // SECURITY case 68: every session and refresh token ended, the person notified.
    assert_eq!(
        refresh(&server, &fx, before["refresh_token"].as_str().unwrap())
            .await
            .1["error"],
        "invalid_grant"
    );
    let res = rp
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("login_required")
    );
    let mails = sink.wait_for(&fx.email, 2).await;
    assert!(mails
        .iter()
        .any(|m| m.subject.contains("password was changed")));

    // SECURITY case 78: single use.
    let res = browser.get(&link).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("This link does not work"));

    // The old password no longer works; the new one does.
    let fresh = Browser::new(&server);
    let html = fresh
        .follow(fresh.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    let wrong = fresh
        .submit_login(&html, &fx.email, PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&wrong, ".error").contains("incorrect"));
    let res = fresh
        .submit_login(&html, &fx.email, "tidal quilt harbour lamp")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, d)| k == "password_changed" && d.as_deref().unwrap_or("").contains("reset")));
}

#[tokio::test]
async fn reset_links_expire_after_30_minutes_and_bad_tokens_change_nothing() {
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    forgot(&browser, &fx.email).await;
    let link = link_in(
        &sink.wait_for(&fx.email, 1).await[0].text,
        &format!("{}/signin/reset?token=", server.base),
    );
    let token = link.rsplit('=').next().unwrap().to_owned();
    for bad in ["", "short", &"A".repeat(43), &format!("{}x", &token[..42])] {
        let res = browser.get(&format!("/signin/reset?token={bad}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // Without the CSRF token nothing happens.
    let res = browser
        .post_form(
            "/signin/reset",
            &[
                ("token", &token),
                ("new_password", "tidal quilt harbour lamp"),
                ("confirm_password", "tidal quilt harbour lamp"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    server.clock.advance(30 * 60 + 1);
    assert_eq!(browser.get(&link).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn invitation_sends_a_temporary_password_that_must_be_replaced_first() {
    // SECURITY case 77 (ASVS 2.3.1).
    let (server, sink) = server_with_mail().await;
    let firm = server.firm("Invite LLP").await;
    let (client_id, client_secret) = server.client(server.spec()).await;
    let invited = firmgate::account::invitation::invite(
        &server.state,
        &firm,
        "new.hire@example.com",
        "New Hire",
        "member",
        &Actor::default(),
    )
    .await
    .unwrap();
    assert!(invited.new_person);
    let mail = &sink.wait_for("new.hire@example.com", 1).await[0];
    assert!(mail.subject.contains("Invite LLP"));
    let temp = mail
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Your temporary password is: "))
        .expect("temporary password")
        .trim()
        .to_owned();
    let welcome = link_in(&mail.text, &format!("{}/welcome", server.base));
    let page = Browser::new(&server).get(&welcome).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Invite LLP"));

    let fx = Fixture {
        firm_id: firm,
        person_id: invited.person.id.clone(),
        email: "new.hire@example.com".into(),
        client_id,
        client_secret,
    };
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id);
    let html = browser
        .follow(browser.authorize(&req).await)
        .await
        .text()
        .await
        .unwrap();
    let res = browser
        .follow(browser.submit_login(&html, &fx.email, &temp).await)
        .await;
    assert!(
        res.url().path().ends_with("/signin/password"),
        "the forced change comes first"
    );
    let setup = res.text().await.unwrap();
    let interaction = hidden(&setup, "interaction").unwrap();

    // It cannot be skipped: prompt=none, a new authorize, the consent page all lead back.
    let silent = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert_eq!(
        query_param(&location(&silent), "error").as_deref(),
        Some("interaction_required")
    );
    let again = browser
        .follow(browser.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await;
    assert!(again.url().path().ends_with("/signin/password"));
    let consent = browser
        .follow(
            browser
                .get(&format!("/signin/consent?interaction={interaction}"))
                .await,
        )
        .await;
    assert!(consent.url().path().ends_with("/signin/password"));

    let csrf = hidden(&setup, "csrf").unwrap();
    let submit = |pw: String, tz: &'static str| {
        let (csrf, interaction) = (csrf.clone(), interaction.clone());
        let b = &browser;
        async move {
            b.post_form(
                "/signin/password",
                &[
                    ("csrf", &csrf),
                    ("interaction", &interaction),
                    ("name", "New Hire"),
                    ("time_zone", tz),
                    ("new_password", &pw),
                    ("confirm_password", &pw),
                ],
            )
            .await
        }
    };
    let same = submit(temp.clone(), "Europe/London")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text_of(&same, ".error").contains("not the temporary one"),
        "{same}"
    );
    let bad_tz = submit("maple orbit canyon velvet".into(), "not a zone")
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&bad_tz, ".error").contains("time zone"));
    let res = browser
        .follow(submit("maple orbit canyon velvet".into(), "Europe/London").await)
        .await;
    assert!(
        res.url().path().ends_with("/signin/consent"),
        "then the journey goes on"
    );
    let back = browser.complete(res, &fx.email).await;
    let (_, _, tokens) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    assert_eq!(
        claims(tokens["id_token"].as_str().unwrap())["sub"],
        invited.person.id
    );
    let stored = server
        .state
        .store
        .person(&invited.person.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.time_zone.as_deref(), Some("Europe/London"));
    assert_eq!(stored.password_temporary, 0);

    // The temporary password is gone for good.
    let other = Browser::new(&server);
    let html = other
        .follow(other.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    let page = other
        .submit_login(&html, &fx.email, &temp)
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&page, ".error").contains("incorrect"));
}

#[tokio::test]
async fn expired_temporary_passwords_are_refused() {
    let (server, sink) = server_with_mail().await;
    let firm = server.firm("Late LLP").await;
    let (client_id, _) = server
        .client(ClientSpec {
            first_party: true,
            ..server.spec()
        })
        .await;
    firmgate::account::invitation::invite(
        &server.state,
        &firm,
        "late@example.com",
        "Late Comer",
        "member",
        &Actor::default(),
    )
    .await
    .unwrap();
    let mail = &sink.wait_for("late@example.com", 1).await[0];
    let temp = mail
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Your temporary password is: "))
        .unwrap()
        .trim()
        .to_owned();
    server.clock.advance(7 * 86400 + 1);
    let browser = Browser::new(&server);
    let html = browser
        .follow(browser.authorize(&AuthRequest::new(&client_id)).await)
        .await
        .text()
        .await
        .unwrap();
    let page = browser
        .submit_login(&html, "late@example.com", &temp)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text_of(&page, ".error").contains("temporary password has expired"),
        "{page}"
    );
}

#[tokio::test]
async fn a_failed_delivery_stays_in_the_outbox_and_is_retried() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let server = TestServer::start_with(move |s| {
        s.smtp_url = Some(firmgate::config::SecretString::new(format!(
            "smtp://127.0.0.1:{port}"
        )))
    })
    .await;
    let fx = server.fixture().await;
    forgot(&Browser::new(&server), &fx.email).await;
    let store = &server.state.store;
    for _ in 0..50 {
        if store
            .due_mail(server.clock.now() + 10_000, 10)
            .await
            .unwrap()
            .iter()
            .any(|m| m.attempts > 0)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        store.unsent_mail_count().await.unwrap(),
        1,
        "kept, not lost"
    );
    let pending = store
        .due_mail(server.clock.now() + 10_000, 10)
        .await
        .unwrap();
    assert!(pending[0].attempts >= 1, "an attempt was made");
    assert!(
        store
            .due_mail(server.clock.now(), 10)
            .await
            .unwrap()
            .is_empty(),
        "not retried before its delay"
    );
}

#[tokio::test]
async fn without_smtp_messages_are_written_as_eml_files() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let o = outbox.clone();
    let server = TestServer::start_with(move |s| s.outbox_dir = o).await;
    let fx = server.fixture().await;
    forgot(&Browser::new(&server), &fx.email).await;
    for _ in 0..50 {
        if outbox.exists() && std::fs::read_dir(&outbox).unwrap().count() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let file = std::fs::read_dir(&outbox)
        .unwrap()
        .next()
        .expect("an .eml file")
        .unwrap()
        .path();
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read(&file).unwrap();
    let m = mail_parser::MessageParser::default()
        .parse(raw.as_slice())
        .unwrap();
    assert!(m.body_text(0).unwrap().contains("/signin/reset?token="));
    // The file is written first, then the outbox row is marked sent.
    let mut unsent = 1;
    for _ in 0..50 {
        unsent = server.state.store.unsent_mail_count().await.unwrap();
        if unsent == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(unsent, 0);
}

#[tokio::test]
async fn forgot_form_refuses_bad_input_without_sending() {
    let (server, sink) = server_with_mail().await;
    let browser = Browser::new(&server);
    let page = browser.get("/signin/forgot").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    let res = browser
        .post_form(
            "/signin/forgot",
            &[("csrf", &csrf), ("email", "not-an-email")],
        )
        .await;
    assert!(text_of(&res.text().await.unwrap(), ".error").contains("valid email"));
    let res = browser
        .post_form("/signin/forgot", &[("email", "a@example.com")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sink.all().is_empty());
}

#[tokio::test]
async fn a_firm_may_raise_the_minimum_length_and_the_strictest_firm_applies() {
    // SECURITY case 69 (a firm may raise the minimum, never below 8).
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    let strict = server.firm("Strict LLP").await;
    server.person(&strict, &fx.email).await;
    use firmgate::admin::firms::{set_policy, PolicyChange};
    let refused = set_policy(
        &server.state,
        &strict,
        &PolicyChange {
            password_min_length: Some(7),
            ..Default::default()
        },
        &Actor::default(),
    )
    .await;
    assert!(refused.is_err(), "below 8 is refused");
    set_policy(
        &server.state,
        &strict,
        &PolicyChange {
            password_min_length: Some(20),
            ..Default::default()
        },
        &Actor::default(),
    )
    .await
    .unwrap();
    let browser = Browser::new(&server);
    forgot(&browser, &fx.email).await;
    let link = link_in(
        &sink.wait_for(&fx.email, 1).await[0].text,
        &format!("{}/signin/reset?token=", server.base),
    );
    let (_, page) = choose(
        &browser,
        &link,
        "tidal quilt harbour",
        "tidal quilt harbour",
    )
    .await;
    assert!(
        text_of(&page, ".error").contains("at least 20 characters"),
        "{page}"
    );
    let (status, page) = choose(
        &browser,
        &link,
        "tidal quilt harbour lamp",
        "tidal quilt harbour lamp",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&page, "h1").contains("changed"));
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, d)| k == "policy_changed"
            && d.as_deref().unwrap_or("").contains("password_min_length")));
}
