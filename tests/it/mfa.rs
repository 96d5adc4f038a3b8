//! TOTP MFA through the pages: set-up on My Profile (secret read from `totp-secret`, codes from
//! the `totp-lite` crate, an implementation no one here wrote and that firmgate does not use;
//! the browser journey in conformance/ uses Debian's `oathtool`), the challenge at sign-in, replay
//! the wrong-code throttle, recovery codes, step-up by `acr_values` / `claims`,
//! deactivation rules and an owner's reset. [RFC 6238 §5.2; NIST SP 800-63B §5.1.4.2, §5.2.2;
//! ASVS 2.5.5, 2.8.4, 2.8.5; OIDC Core §3.1.2.1, §5.5.1.1; SECURITY cases 78, 81-90]

use firmgate::audit::Actor;
use reqwest::StatusCode;

use crate::profile::{open_profile, profile_html};
use crate::support::*;

/// The code for unix time `t` (SHA-1, 6 digits, 30 s), computed by totp-lite.
pub(crate) fn oath(secret_b32: &str, t: i64) -> String {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .expect("a base32 secret");
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &secret, u64::try_from(t).unwrap())
}

async fn server_with_mail() -> (TestServer, SmtpSink) {
    let sink = SmtpSink::start();
    let url = sink.url.clone();
    let server = TestServer::start_with(move |s| {
        s.smtp_url = Some(firmgate::config::SecretString::new(url))
    })
    .await;
    (server, sink)
}

pub(crate) struct Enrolled {
    pub(crate) secret: String,
    pub(crate) recovery: Vec<String>,
}

/// Activates MFA on My Profile in `browser`; returns the secret as the page showed it and the
/// recovery codes. The activation uses the codes for now-30s and now.
pub(crate) async fn enrol(server: &TestServer, browser: &Browser, email: &str) -> Enrolled {
    let page = profile_html(browser, email).await;
    assert!(text_of(&page, "#mfa-status").starts_with("Off."));
    let csrf = hidden(&page, "csrf").unwrap();
    let res = browser
        .post_form("/account/mfa/setup", &[("csrf", &csrf)])
        .await;
    assert_eq!(location(&res), "/account/mfa");
    let html = browser.get("/account/mfa").await.text().await.unwrap();
    assert_eq!(text_of(&html, "h1"), "Set up two-step sign-in");
    let secret = text_of(&html, "#totp-secret").replace(' ', "");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    assert!(html.contains("<svg role=\"img\""), "an inline QR code");
    let now = server.clock.now();
    let res = browser
        .post_form(
            "/account/mfa/activate",
            &[
                ("csrf", &csrf),
                ("code1", &oath(&secret, now - 30)),
                ("code2", &oath(&secret, now)),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert_eq!(text_of(&html, "h1"), "Your recovery codes");
    let recovery: Vec<String> = text_of(&html, "#recovery-codes code")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(recovery.len(), 10);
    Enrolled { secret, recovery }
}

/// A new browser signs in with the password at a relying party; returns the page that follows.
pub(crate) async fn after_password(
    browser: &Browser,
    req: &AuthRequest,
    email: &str,
) -> reqwest::Response {
    let res = browser.follow(browser.authorize(req).await).await;
    assert!(res.url().path().ends_with("/signin/login"), "{}", res.url());
    let html = res.text().await.unwrap();
    browser
        .follow(browser.submit_login(&html, email, PASSWORD).await)
        .await
}

pub(crate) async fn submit_code(
    browser: &Browser,
    page_html: &str,
    code: &str,
) -> reqwest::Response {
    browser
        .post_form(
            "/signin/mfa",
            &[
                ("csrf", &hidden(page_html, "csrf").unwrap()),
                ("interaction", &hidden(page_html, "interaction").unwrap()),
                ("code", code),
            ],
        )
        .await
}

#[tokio::test]
async fn set_up_on_my_profile_then_challenged_at_every_sign_in() {
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    let owner = Browser::new(&server);

    // Set-up refusals first (SECURITY case 86): nothing is activated by any of them.
    let page = profile_html(&owner, &fx.email).await;
    let csrf = hidden(&page, "csrf").unwrap();
    owner
        .post_form("/account/mfa/setup", &[("csrf", &csrf)])
        .await;
    let html = owner.get("/account/mfa").await.text().await.unwrap();
    let secret = text_of(&html, "#totp-secret").replace(' ', "");
    let now = server.clock.now();
    let other_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    for (code1, code2, why) in [
        (oath(&secret, now), oath(&secret, now), "two equal codes"),
        (
            oath(&secret, now - 60),
            oath(&secret, now),
            "not consecutive",
        ),
        (
            oath(&secret, now),
            oath(&secret, now - 30),
            "in the wrong order",
        ),
        (
            oath(other_secret, now - 30),
            oath(other_secret, now),
            "another secret",
        ),
        ("12345a".to_owned(), oath(&secret, now), "not digits"),
        ("1234567".to_owned(), oath(&secret, now), "seven digits"),
    ] {
        let res = owner
            .post_form(
                "/account/mfa/activate",
                &[("csrf", &csrf), ("code1", &code1), ("code2", &code2)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
        let html = res.text().await.unwrap();
        assert!(!text_of(&html, "#setup-error").is_empty(), "{why}: {html}");
        assert_eq!(
            text_of(&html, "#totp-secret").replace(' ', ""),
            secret,
            "the same pending secret is shown again"
        );
    }
    let factor = server
        .state
        .store
        .totp_factor(&fx.person_id)
        .await
        .unwrap()
        .unwrap();
    assert!(factor.activated_at.is_none());
    // SECURITY case 89: sealed at rest, never in the clear.
    assert!(!factor.secret_sealed.contains(&secret));

    let enrolled = enrol(&server, &owner, &fx.email).await;
    let page = owner.get("/account").await.text().await.unwrap();
    assert!(
        text_of(&page, "#mfa-status").starts_with("On since"),
        "{page}"
    );
    assert!(
        !page.contains(&enrolled.secret),
        "the secret is shown only during set-up"
    );
    assert_eq!(
        owner.get("/account/mfa").await.status(),
        StatusCode::SEE_OTHER
    );
    let mail = sink.wait_for(&fx.email, 1).await;
    assert!(
        mail[0].subject.contains("Two-step sign-in is on"),
        "{}",
        mail[0].subject
    );
    // SECURITY case 89: no secret and no code in the audit trail.
    for (_, _, detail) in server.audit_kinds().await {
        let d = detail.unwrap_or_default();
        assert!(!d.contains(&enrolled.secret) && !d.contains(&enrolled.recovery[0]));
    }

    // A relying party sign-in: after the password, the challenge.
    let browser = Browser::new(&server);
    let req = AuthRequest::new(&fx.client_id);
    let res = after_password(&browser, &req, &fx.email).await;
    assert!(res.url().path().ends_with("/signin/mfa"), "{}", res.url());
    let challenge = res.text().await.unwrap();
    assert_eq!(text_of(&challenge, "h1"), "Enter your code");
    assert!(challenge.contains("name=\"code\""));
    assert_eq!(text_of(&challenge, "button"), "Confirm");

    // SECURITY case 85: no way around it.
    let interaction = hidden(&challenge, "interaction").unwrap();
    for path in [
        format!("/signin/consent?interaction={interaction}"),
        format!("/signin/firm?interaction={interaction}"),
        format!("/authorize?{}", req.query()),
    ] {
        let res = browser.follow(browser.get(&path).await).await;
        assert!(
            res.url().path().ends_with("/signin/mfa"),
            "{path} -> {}",
            res.url()
        );
    }
    let res = browser
        .post_form(
            "/signin/consent",
            &[
                ("csrf", &hidden(&challenge, "csrf").unwrap()),
                ("interaction", &interaction),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(location(&res).contains("/signin/mfa"), "{}", location(&res));
    let res = browser
        .authorize(&AuthRequest::new(&fx.client_id).with("prompt", "none"))
        .await;
    assert!(
        location(&res).contains("error=interaction_required"),
        "{}",
        location(&res)
    );

    // The code used at activation is refused (RFC 6238 §5.2), with the wrong-code message.
    let now = server.clock.now();
    let res = submit_code(&browser, &challenge, &oath(&enrolled.secret, now)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let replayed = res.text().await.unwrap();
    let res = submit_code(&browser, &challenge, "not a code").await;
    let wrong = res.text().await.unwrap();
    assert_eq!(
        text_of(&replayed, "#code-error"),
        text_of(&wrong, "#code-error")
    );
    assert!(text_of(&wrong, "#code-error").contains("not right"));
    let mail = sink.wait_for(&fx.email, 2).await;
    assert!(
        mail.iter().any(|m| m.subject.contains("used twice")),
        "ASVS 2.8.5: the holder is told"
    );

    // The next step's code signs in: consent, then the RP with amr and acr saying MFA.
    server.clock.advance(30);
    let code = oath(&enrolled.secret, server.clock.now());
    let res = browser
        .follow(submit_code(&browser, &challenge, &code).await)
        .await;
    let back = browser.complete(res, &fx.email).await;
    let (status, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:firmgate:acr:mfa");
    // The same code again at another sign-in is refused.
    let again = Browser::new(&server);
    let res = after_password(&again, &req, &fx.email).await;
    let html = res.text().await.unwrap();
    let res = submit_code(&again, &html, &code).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let audit = server.audit_kinds().await;
    assert!(audit.iter().any(|(k, o, _)| k == "mfa" && o == "replayed"));
    assert!(audit.iter().any(|(k, o, d)| k == "mfa"
        && o == "success"
        && d.as_deref().unwrap_or("").contains("challenge")));
}

#[tokio::test]
async fn wrong_codes_lock_the_challenge_and_end_the_attempt() {
    // SECURITY case 84: its own limit, separate from the password's.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let enrolled = enrol(&server, &Browser::new(&server), &fx.email).await;
    server.clock.advance(30);
    let req = AuthRequest::new(&fx.client_id);
    let browser = Browser::new(&server);
    let html = after_password(&browser, &req, &fx.email)
        .await
        .text()
        .await
        .unwrap();
    let valid_now = oath(&enrolled.secret, server.clock.now());
    let wrong = if valid_now == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        let res = submit_code(&browser, &html, wrong).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let res = submit_code(&browser, &html, wrong).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.text().await.unwrap().contains("Too many wrong codes"));
    // The interaction and the half-finished session are gone: even the right code now fails.
    let res = browser
        .follow(submit_code(&browser, &html, &valid_now).await)
        .await;
    assert_ne!(res.status(), StatusCode::OK);
    // A new attempt passes the password but the challenge stays locked for a minute.
    let fresh = Browser::new(&server);
    let html = after_password(&fresh, &req, &fx.email)
        .await
        .text()
        .await
        .unwrap();
    let res = submit_code(&fresh, &html, &valid_now).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    server.clock.advance(61);
    let fresh = Browser::new(&server);
    let html = after_password(&fresh, &req, &fx.email)
        .await
        .text()
        .await
        .unwrap();
    let res = submit_code(&fresh, &html, &oath(&enrolled.secret, server.clock.now())).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "after the lock the right code works"
    );
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, _)| k == "mfa" && o == "throttled"));
}

#[tokio::test]
async fn recovery_codes_work_once_and_the_person_is_told() {
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    let enrolled = enrol(&server, &Browser::new(&server), &fx.email).await;
    let req = AuthRequest::new(&fx.client_id);
    let browser = Browser::new(&server);
    let html = after_password(&browser, &req, &fx.email)
        .await
        .text()
        .await
        .unwrap();
    let code = enrolled.recovery[3].to_lowercase();
    let res = browser
        .follow(submit_code(&browser, &html, &code).await)
        .await;
    let back = browser.complete(res, &fx.email).await;
    assert!(back.contains("code="));
    let mail = sink.wait_for(&fx.email, 2).await;
    assert!(mail
        .iter()
        .any(|m| m.subject.contains("recovery code was used")
            && m.text.contains("9 unused recovery codes")));
    let other = Browser::new(&server);
    let html = after_password(&other, &req, &fx.email)
        .await
        .text()
        .await
        .unwrap();
    let res = submit_code(&other, &html, &enrolled.recovery[3]).await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "a recovery code works once"
    );
    let res = submit_code(&other, &html, "ABCD-EFGH-IJKL-MNOP").await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "not one of the person's codes"
    );
}

#[tokio::test]
async fn step_up_by_acr_values_or_an_essential_acr_claim() {
    // OIDC Core §3.1.2.1 (acr_values) and §5.5.1.1 (essential acr); SECURITY case 46.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    // A live password-only session first.
    let req = AuthRequest::new(&fx.client_id);
    let back = browser.sign_in(&req, &fx.email).await;
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["acr"],
        "urn:firmgate:acr:password"
    );

    let mfa_req = AuthRequest::new(&fx.client_id).with("acr_values", "urn:firmgate:acr:mfa");
    let res = browser
        .authorize(
            &AuthRequest::new(&fx.client_id)
                .with("acr_values", "urn:firmgate:acr:mfa")
                .with("prompt", "none"),
        )
        .await;
    assert!(
        location(&res).contains("error=interaction_required"),
        "{}",
        location(&res)
    );
    // Without a factor yet: set it up inside the journey, then continue to the RP.
    let res = browser.follow(browser.authorize(&mfa_req).await).await;
    assert!(
        res.url().path().ends_with("/signin/mfa-setup"),
        "{}",
        res.url()
    );
    let html = res.text().await.unwrap();
    let secret = text_of(&html, "#totp-secret").replace(' ', "");
    let now = server.clock.now();
    let res = browser
        .post_form(
            "/signin/mfa-setup",
            &[
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("interaction", &hidden(&html, "interaction").unwrap()),
                ("code1", &oath(&secret, now - 30)),
                ("code2", &oath(&secret, now)),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let next = browser
        .get(
            &html
                .split("href=\"")
                .find(|s| s.starts_with("/signin/continue"))
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&"),
        )
        .await;
    let back = browser
        .complete(browser.follow(next).await, &fx.email)
        .await;
    let (_, _, body) = redeem(
        &server,
        &fx,
        &query_param(&back, "code").unwrap(),
        &mfa_req.verifier,
    )
    .await;
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "urn:firmgate:acr:mfa");
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // Another browser with a password-only session: an essential acr claim means the challenge.
    let other = Browser::new(&server);
    server.clock.advance(30);
    let claims_req = AuthRequest::new(&fx.client_id).with(
        "claims",
        r#"{"id_token":{"acr":{"essential":true,"values":["urn:firmgate:acr:mfa"]}}}"#,
    );
    let res = after_password(&other, &claims_req, &fx.email).await;
    assert!(res.url().path().ends_with("/signin/mfa"), "{}", res.url());
    // A voluntary acr request is not a step-up.
    let voluntary = AuthRequest::new(&fx.client_id).with(
        "claims",
        r#"{"id_token":{"acr":{"values":["urn:firmgate:acr:mfa"]}}}"#,
    );
    let res = browser.authorize(&voluntary).await;
    assert!(
        location(&res).starts_with(REDIRECT),
        "an MFA session answers at once"
    );
}

#[tokio::test]
async fn a_password_only_session_is_challenged_once_mfa_is_turned_on_elsewhere() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let earlier = Browser::new(&server);
    earlier
        .sign_in(&AuthRequest::new(&fx.client_id), &fx.email)
        .await;
    enrol(&server, &Browser::new(&server), &fx.email).await;
    let res = earlier
        .follow(earlier.authorize(&AuthRequest::new(&fx.client_id)).await)
        .await;
    assert!(res.url().path().ends_with("/signin/mfa"), "{}", res.url());
    // My Profile too.
    assert!(earlier.get("/account").await.status().is_redirection());
}

#[tokio::test]
async fn deactivation_needs_a_code_and_a_tick_and_is_refused_where_firms_keep_it_on() {
    // SECURITY case 87.
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let enrolled = enrol(&server, &browser, &fx.email).await;
    let page = browser.get("/account").await.text().await.unwrap();
    let csrf = hidden(&page, "csrf").unwrap();
    server.clock.advance(30);
    let code = oath(&enrolled.secret, server.clock.now());
    let res = browser
        .post_form(
            "/account/mfa/deactivate",
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        text_of(&res.text().await.unwrap(), "#mfa-error"),
        "Tick the box to confirm."
    );
    let res = browser
        .post_form(
            "/account/mfa/deactivate",
            &[("csrf", &csrf), ("confirm", "yes"), ("code", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = browser
        .post_form(
            "/account/mfa/deactivate",
            &[("code", &code), ("confirm", "yes")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "CSRF");
    assert!(
        firmgate::account::mfa::is_active(&server.state, &fx.person_id)
            .await
            .unwrap()
    );

    // A membership in an Australian firm keeps it on: no form, and the handler refuses too.
    let au = firmgate::admin::firms::create_firm(&server.state, "Harbour Lawyers", Some("au"))
        .await
        .unwrap();
    server.person(&au.id, &fx.email).await;
    let page = browser.get("/account").await.text().await.unwrap();
    assert!(text_of(&page, "#mfa-kept-on").contains("Australia or New Zealand"));
    assert!(!page.contains("/account/mfa/deactivate"));
    let res = browser
        .post_form(
            "/account/mfa/deactivate",
            &[("csrf", &csrf), ("confirm", "yes"), ("code", &code)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(text_of(&res.text().await.unwrap(), "#mfa-error").contains("Harbour Lawyers"));
    assert!(
        firmgate::account::mfa::is_active(&server.state, &fx.person_id)
            .await
            .unwrap()
    );

    // Elsewhere: code + tick turn it off; told by e-mail; sign-in asks only the password.
    let other = server.fixture().await;
    let b2 = Browser::new(&server);
    let e2 = enrol(&server, &b2, &other.email).await;
    server.clock.advance(30);
    let page = b2.get("/account").await.text().await.unwrap();
    let res = b2
        .post_form(
            "/account/mfa/deactivate",
            &[
                ("csrf", &hidden(&page, "csrf").unwrap()),
                ("confirm", "yes"),
                ("code", &oath(&e2.secret, server.clock.now())),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account?done=mfa-off");
    assert!(sink
        .wait_for(&other.email, 2)
        .await
        .iter()
        .any(|m| m.subject.contains("Two-step sign-in is off")));
    let fresh = Browser::new(&server);
    fresh
        .sign_in(&AuthRequest::new(&other.client_id), &other.email)
        .await;
}

#[tokio::test]
async fn only_an_owner_resets_a_members_mfa() {
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    enrol(&server, &Browser::new(&server), &fx.email).await;
    let admin = server.fixture().await; // a member of another firm
    let refused = firmgate::account::mfa::owner_reset(
        &server.state,
        &fx.firm_id,
        &admin.email,
        &fx.email,
        &Actor::default(),
    )
    .await;
    assert!(refused.is_err(), "not an owner of this firm");
    let owner_email = "owner@example.com";
    firmgate::admin::users::create_user(
        &server.state,
        &firmgate::admin::users::NewUser {
            firm_id: &fx.firm_id,
            email: owner_email,
            name: "Olive Owner",
            password: &firmgate::crypto::password::Password::new(PASSWORD),
            role: "owner",
        },
    )
    .await
    .unwrap();
    firmgate::account::mfa::owner_reset(
        &server.state,
        &fx.firm_id,
        owner_email,
        &fx.email,
        &Actor::default(),
    )
    .await
    .unwrap();
    assert!(
        !firmgate::account::mfa::is_active(&server.state, &fx.person_id)
            .await
            .unwrap()
    );
    assert!(sink
        .wait_for(&fx.email, 2)
        .await
        .iter()
        .any(|m| m.subject.contains("reset") && m.text.contains("Olive Owner")));
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, _, d)| k == "mfa" && d.as_deref().unwrap_or("").contains("reset_by_owner")));
}

#[tokio::test]
async fn a_password_reset_never_signs_in_past_mfa() {
    // SECURITY case 78: after a reset the sign-in still asks for the code.
    let (server, sink) = server_with_mail().await;
    let fx = server.fixture().await;
    enrol(&server, &Browser::new(&server), &fx.email).await;
    let browser = Browser::new(&server);
    let page = browser.get("/signin/forgot").await.text().await.unwrap();
    browser
        .post_form(
            "/signin/forgot",
            &[
                ("csrf", &hidden(&page, "csrf").unwrap()),
                ("email", &fx.email),
            ],
        )
        .await;
    let mail = sink.wait_for(&fx.email, 2).await;
    let reset = mail
        .iter()
        .find(|m| m.text.contains("/signin/reset?token="))
        .unwrap();
    let link = link_in(&reset.text, &format!("{}/signin/reset?token=", server.base));
    let html = browser.get(&link).await.text().await.unwrap();
    let new = "orbit lantern quarry velvet";
    let res = browser
        .post_form(
            "/signin/reset",
            &[
                ("csrf", &hidden(&html, "csrf").unwrap()),
                ("token", &hidden(&html, "token").unwrap()),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        browser.get("/account").await.status().is_redirection(),
        "no session from a reset"
    );
    let outcome = open_profile(&browser, &fx.email, new).await;
    assert!(
        outcome.url().path().ends_with("/signin/mfa"),
        "{}",
        outcome.url()
    );
}

#[tokio::test]
async fn the_challenge_accepts_one_step_either_side_and_no_further() {
    // SECURITY case 81 through the pages, on the fake clock.
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let enrolled = enrol(&server, &Browser::new(&server), &fx.email).await;
    // Far from the activation steps, so only the skew decides.
    server.clock.advance(3600);
    let req = AuthRequest::new(&fx.client_id);
    let now = server.clock.now();
    // In rising order: each accepted step is used up, and a later one is still accepted.
    for (offset, accepted) in [
        (-60, false),
        (60, false),
        (-30, true),
        (0, true),
        (30, true),
    ] {
        let browser = Browser::new(&server);
        let html = after_password(&browser, &req, &fx.email)
            .await
            .text()
            .await
            .unwrap();
        let res = submit_code(&browser, &html, &oath(&enrolled.secret, now + offset)).await;
        let expected = if accepted {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(res.status(), expected, "a code for now{offset:+}s");
    }
}
