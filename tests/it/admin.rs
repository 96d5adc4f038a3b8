//! The firm admin console through its forms: reached only by a firm's admins after a second
//! factor; authentication settings; people (filters, invite, roles, removal, reset links, an
//! owner's MFA reset); the audit log and its CSV; tenant isolation — another firm's ids get 404,
//! audited. [Issue 5 §3, §5, §6; SECURITY cases 60, 101]

use firmgate::admin::users::{create_user, NewUser};
use firmgate::crypto::password::Password;
use reqwest::StatusCode;

use crate::mfa::{enrol, oath};
use crate::support::*;

/// A person with `role` in `firm_id`, signed in on a browser with two-step sign-in on.
async fn signed_in_with(server: &TestServer, firm_id: &str, email: &str, role: &str) -> Browser {
    create_user(
        &server.state,
        &NewUser {
            firm_id,
            email,
            name: "Ada Admin",
            password: &Password::new(PASSWORD),
            role,
        },
    )
    .await
    .unwrap();
    let browser = Browser::new(server);
    enrol(server, &browser, email).await;
    browser
}

async fn settings_form(browser: &Browser, firm_id: &str) -> String {
    let res = browser
        .get(&format!("/admin/firms/{firm_id}/settings"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// The settings form as stored, with `changes` applied.
fn form_with(html: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let doc = scraper::Html::parse_document(html);
    let mut fields: Vec<(String, String)> = Vec::new();
    let input = scraper::Selector::parse("form[method=post] input").unwrap();
    for e in doc.select(&input) {
        let (Some(name), ty) = (
            e.value().attr("name"),
            e.value().attr("type").unwrap_or("text"),
        ) else {
            continue;
        };
        if ty == "checkbox" {
            if e.value().attr("checked").is_some() {
                fields.push((name.into(), "on".into()));
            }
        } else {
            fields.push((name.into(), e.value().attr("value").unwrap_or("").into()));
        }
    }
    let select = scraper::Selector::parse("form[method=post] select").unwrap();
    let selected = scraper::Selector::parse("option[selected]").unwrap();
    for e in doc.select(&select) {
        let v = e
            .select(&selected)
            .next()
            .and_then(|o| o.value().attr("value"))
            .unwrap_or("");
        fields.push((e.value().attr("name").unwrap().into(), v.into()));
    }
    let textarea = scraper::Selector::parse("form[method=post] textarea").unwrap();
    for e in doc.select(&textarea) {
        fields.push((e.value().attr("name").unwrap().into(), e.text().collect()));
    }
    for (k, v) in changes {
        fields.retain(|(name, _)| name != k);
        if !v.is_empty() || !k.starts_with("password_composition") {
            fields.push(((*k).into(), (*v).into()));
        }
    }
    fields
}

async fn post(browser: &Browser, path: &str, fields: &[(String, String)]) -> reqwest::Response {
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    browser.post_form(path, &borrowed).await
}

#[tokio::test]
async fn only_a_firms_admins_after_a_second_factor_reach_the_console() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    // A member with MFA: not an admin of anything.
    let member = Browser::new(&server);
    enrol(&server, &member, &fx.email).await;
    let res = member.get("/admin").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = member
        .get(&format!("/admin/firms/{}/settings", fx.firm_id))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, _)| k == "admin_access" && o == "refused"));

    // An admin without a second factor is sent through the journey asking for the MFA acr:
    // set-up first, whatever the firm's policy (here: off).
    let admin_email = "admin@example.com";
    create_user(
        &server.state,
        &NewUser {
            firm_id: &fx.firm_id,
            email: admin_email,
            name: "Ada Admin",
            password: &Password::new(PASSWORD),
            role: "admin",
        },
    )
    .await
    .unwrap();
    let browser = Browser::new(&server);
    let res = browser.get("/admin").await;
    assert_eq!(location(&res), "/admin/signin");
    let res = browser.follow(res).await;
    assert!(res.url().path().ends_with("/signin/login"));
    let html = res.text().await.unwrap();
    let res = browser
        .follow(browser.submit_login(&html, admin_email, PASSWORD).await)
        .await;
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
    let html = res.text().await.unwrap();
    let next = html
        .split("href=\"")
        .find(|s| s.starts_with("/signin/continue"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let res = browser.follow(browser.get(&next).await).await;
    assert!(res.url().path().ends_with("/settings"), "{}", res.url());
    assert_eq!(
        text_of(&res.text().await.unwrap(), "h1"),
        "Authentication settings"
    );
}

#[tokio::test]
async fn settings_saved_in_the_console_apply_and_are_audited() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let admin = signed_in_with(&server, &fx.firm_id, "admin@example.com", "admin").await;
    let html = settings_form(&admin, &fx.firm_id).await;
    let path = format!("/admin/firms/{}/settings", fx.firm_id);
    // One bad value: a clear message, nothing changed.
    let res = post(
        &admin,
        &path,
        &form_with(&html, &[("mfa", "required"), ("ip_allow", "10.0.0.0/33")]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(
        text_of(&page, "#settings-error").contains("10.0.0.0/33"),
        "{page}"
    );
    assert_eq!(
        server
            .state
            .store
            .firm(&fx.firm_id)
            .await
            .unwrap()
            .unwrap()
            .mfa_mode,
        "off"
    );
    // Exempting someone outside the firm is refused too.
    let res = post(
        &admin,
        &path,
        &form_with(&html, &[("mfa_exempt", "stranger@example.com")]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Without the CSRF token: 403.
    let mut no_csrf = form_with(&html, &[("mfa", "required")]);
    no_csrf.retain(|(k, _)| k != "csrf");
    assert_eq!(
        post(&admin, &path, &no_csrf).await.status(),
        StatusCode::FORBIDDEN
    );

    let res = post(
        &admin,
        &path,
        &form_with(
            &html,
            &[
                ("mfa", "required"),
                ("ip_allow", "127.0.0.1, 2001:db8::/32"),
                ("sign_in_hours", "Mon-Sun 00:00-24:00"),
                ("time_zone", "Europe/London"),
                ("idle_timeout", "30m"),
                ("password_min_length", "14"),
                ("mfa_exempt", &fx.email),
            ],
        ),
    )
    .await;
    assert_eq!(location(&res), format!("{path}?saved=1"));
    let firm = server.state.store.firm(&fx.firm_id).await.unwrap().unwrap();
    assert_eq!(firm.mfa_mode, "required");
    assert_eq!(firm.ip_allow, "127.0.0.1/32,2001:db8::/32");
    assert_eq!(firm.idle_timeout_secs, 1800);
    assert_eq!(firm.password_min_length, 14);
    let page = admin
        .get(&format!("{path}?saved=1"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&page, ".notice"), "Saved.");
    assert!(page.contains(&fx.email), "the exemption is listed");
    // The exempted member signs in without set-up despite "required".
    Browser::new(&server)
        .sign_in(&AuthRequest::new(&fx.client_id), &fx.email)
        .await;
    // Audited with the firm, each setting once, unchanged ones not at all.
    let audit = server
        .state
        .store
        .firm_audit(&fx.firm_id, Some("policy_changed"), None, 100)
        .await
        .unwrap();
    let settings: Vec<String> = audit
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r.detail.as_deref().unwrap()).unwrap()
                ["setting"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for s in [
        "mfa_mode",
        "ip_allow",
        "signin_hours",
        "time_zone",
        "idle_timeout_secs",
        "password_min_length",
        "mfa_exemption",
    ] {
        assert_eq!(
            settings.iter().filter(|x| *x == s).count(),
            1 + usize::from(s == "mfa_mode"),
            "{s}: {settings:?}"
        );
    }
    assert!(
        !settings.contains(&"sso_mode".to_owned()),
        "unchanged settings are not audited"
    );
}

#[tokio::test]
async fn admins_of_one_firm_never_reach_another() {
    // Issue 5 §5: 404 for the other firm's objects, audited.
    let server = TestServer::start().await;
    let a = server.fixture().await;
    let b = server.fixture().await;
    let admin_a = signed_in_with(&server, &a.firm_id, "admin-a@example.com", "owner").await;
    for path in [
        format!("/admin/firms/{}/settings", b.firm_id),
        format!("/admin/firms/{}/people", b.firm_id),
        format!("/admin/firms/{}/audit?format=csv", b.firm_id),
        "/admin/firms/not-a-firm/people".to_owned(),
    ] {
        assert_eq!(
            admin_a.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let html = admin_a
        .get(&format!("/admin/firms/{}/people", a.firm_id))
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    // Firm B's person through firm A's URL, and firm B's URL: both 404, nothing changes.
    for path in [
        format!("/admin/firms/{}/people/{}/role", a.firm_id, b.person_id),
        format!("/admin/firms/{}/people/{}/role", b.firm_id, b.person_id),
        format!("/admin/firms/{}/people/{}/remove", a.firm_id, b.person_id),
    ] {
        let res = admin_a
            .post_form(&path, &[("csrf", &csrf), ("role", "owner")])
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let m = server
        .state
        .store
        .membership(&b.firm_id, &b.person_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.role, "member");
    let res = admin_a
        .post_form(
            &format!("/admin/firms/{}/settings", b.firm_id),
            &[("csrf", &csrf), ("mfa", "required")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        server
            .state
            .store
            .firm(&b.firm_id)
            .await
            .unwrap()
            .unwrap()
            .mfa_mode,
        "off"
    );
    // Firm A's audit log shows nothing of firm B.
    let csv = admin_a
        .get(&format!("/admin/firms/{}/audit?format=csv", a.firm_id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!csv.contains(&b.email));
    let refused = server
        .audit_kinds()
        .await
        .into_iter()
        .filter(|(k, _, _)| k == "admin_access")
        .count();
    assert!(refused >= 6, "each refusal is audited: {refused}");
}

#[tokio::test]
async fn people_are_invited_filtered_and_managed_by_the_rules() {
    let sink = SmtpSink::start();
    let url = sink.url.clone();
    let server = TestServer::start_with(move |s| {
        s.smtp_url = Some(firmgate::config::SecretString::new(url))
    })
    .await;
    let fx = server.fixture().await;
    let owner = signed_in_with(&server, &fx.firm_id, "owner@example.com", "owner").await;
    let admin = signed_in_with(&server, &fx.firm_id, "admin@example.com", "admin").await;
    let people = format!("/admin/firms/{}/people", fx.firm_id);
    let html = admin.get(&people).await.text().await.unwrap();
    assert_eq!(text_of(&html, "#people-count"), "3 of 3 people");
    let csrf = hidden(&html, "csrf").unwrap();

    // Invite: the e-mail goes out; an admin cannot invite an owner.
    let res = admin
        .post_form(
            &format!("{people}/invite"),
            &[
                ("csrf", &csrf),
                ("email", "newbie@example.com"),
                ("name", "New Bie"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("{people}?done=invited"));
    assert!(sink.wait_for("newbie@example.com", 1).await[0]
        .subject
        .contains("invited"));
    let res = admin
        .post_form(
            &format!("{people}/invite"),
            &[
                ("csrf", &csrf),
                ("email", "boss@example.com"),
                ("name", "Boss"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post_form(
            &format!("{people}/invite"),
            &[
                ("csrf", &csrf),
                ("email", "not an email"),
                ("name", "X"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Filters.
    let two_step_on = admin
        .get(&format!("{people}?mfa=on"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&two_step_on, "#people-count"), "2 of 4 people");
    let by_name = admin
        .get(&format!("{people}?q=NEWBIE"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text_of(&by_name, "#people-count"), "1 of 4 people");
    let owners = admin
        .get(&format!("{people}?role=owner"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&owners, "tbody").contains("owner@example.com"));

    // Roles: an admin may make a member an admin, not an owner; the last owner stays.
    let member = &fx.person_id;
    let res = admin
        .post_form(
            &format!("{people}/{member}/role"),
            &[("csrf", &csrf), ("role", "owner")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post_form(
            &format!("{people}/{member}/role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(location(&res), format!("{people}?done=role"));
    let owner_id = server
        .state
        .store
        .person_by_email("owner@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let owner_csrf = hidden(&owner.get(&people).await.text().await.unwrap(), "csrf").unwrap();
    let res = owner
        .post_form(
            &format!("{people}/{owner_id}/role"),
            &[("csrf", &owner_csrf), ("role", "member")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::BAD_REQUEST,
        "the last owner cannot step down"
    );
    let res = owner
        .post_form(
            &format!("{people}/{member}/role"),
            &[("csrf", &owner_csrf), ("role", "bogus")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // An action that does not exist: 404, nothing happens.
    let res = owner
        .post_form(
            &format!("{people}/{member}/promote-to-king"),
            &[("csrf", &owner_csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Two-step reset: owners only.
    let admin_id = server
        .state
        .store
        .person_by_email("admin@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let res = admin
        .post_form(
            &format!("{people}/{admin_id}/reset-mfa"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = owner
        .post_form(
            &format!("{people}/{admin_id}/reset-mfa"),
            &[("csrf", &owner_csrf)],
        )
        .await;
    assert_eq!(location(&res), format!("{people}?done=mfa"));
    assert!(!firmgate::account::mfa::is_active(&server.state, &admin_id)
        .await
        .unwrap());

    // A reset link, never a password.
    let res = owner
        .post_form(
            &format!("{people}/{member}/send-reset"),
            &[("csrf", &owner_csrf)],
        )
        .await;
    assert_eq!(location(&res), format!("{people}?done=reset"));
    assert!(sink.wait_for(&fx.email, 1).await[0]
        .text
        .contains("/signin/reset?token="));

    // Removal ends what the person holds for this firm.
    let rp = Browser::new(&server);
    let tokens = signed_in_tokens(&server, &fx, &rp, &AuthRequest::new(&fx.client_id)).await;
    let res = owner
        .post_form(
            &format!("{people}/{member}/remove"),
            &[("csrf", &owner_csrf)],
        )
        .await;
    assert_eq!(location(&res), format!("{people}?done=removed"));
    let (status, _) = refresh(&server, &fx, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(server
        .state
        .store
        .membership(&fx.firm_id, member)
        .await
        .unwrap()
        .is_none());
    let changes = server
        .state
        .store
        .firm_audit(&fx.firm_id, Some("membership_changed"), None, 50)
        .await
        .unwrap();
    assert!(changes
        .iter()
        .any(|r| r.detail.as_deref().unwrap_or("").contains("removed")));
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_csv() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let admin = signed_in_with(&server, &fx.firm_id, "admin@example.com", "admin").await;
    Browser::new(&server)
        .sign_in(&AuthRequest::new(&fx.client_id), &fx.email)
        .await;
    let path = format!("/admin/firms/{}/audit", fx.firm_id);
    let html = admin
        .get(&format!("{path}?kind=policy_changed"))
        .await
        .text()
        .await
        .unwrap();
    assert!(text_of(&html, "tbody").contains("policy_changed"));
    assert!(!text_of(&html, "tbody").contains("sign_in"));
    let res = admin.get(&format!("{path}?format=csv")).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("time_utc,kind,outcome,person,client_id,ip,detail,id"));
    assert!(csv.contains("policy_changed"));
    // Hostile filter values are ignored, not passed on.
    let res = admin.get(&format!("{path}?kind=%27%20OR%201%3D1--")).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn applications_are_registered_edited_and_rotated_within_the_firm() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server.fixture().await;
    let admin = signed_in_with(&server, &fx.firm_id, "admin@example.com", "admin").await;
    let apps = format!("/admin/firms/{}/apps", fx.firm_id);
    let html = admin.get(&apps).await.text().await.unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    // A bad redirect URI: refused with the reason, nothing registered.
    let res = admin
        .post_form(
            &apps,
            &[
                ("csrf", &csrf),
                ("name", "Matters"),
                ("redirect_uris", "http://matters.example/cb"),
                ("kind", "confidential"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(server
        .state
        .store
        .clients_of_firm(&fx.firm_id)
        .await
        .unwrap()
        .is_empty());
    let res = admin
        .post_form(
            &apps,
            &[
                ("csrf", &csrf),
                ("name", "Matters"),
                ("redirect_uris", "https://matters.example/cb"),
                ("kind", "confidential"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let client_id = text_of(&page, "#client-id");
    let secret = text_of(&page, "#client-secret");
    assert_eq!(secret.len(), 43);
    let client = server
        .state
        .store
        .client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        client.firm_id.as_deref(),
        Some(fx.firm_id.as_str()),
        "bound to the firm"
    );
    // The secret authenticates at the token endpoint (a bogus code is then invalid_grant).
    let token = |secret: String| {
        let server = &server;
        let client_id = client_id.clone();
        async move {
            let res = server
                .backchannel()
                .post(server.url("/token"))
                .basic_auth(&client_id, Some(&secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", "nope"),
                    ("redirect_uri", "https://matters.example/cb"),
                ])
                .send()
                .await
                .unwrap();
            res.json::<serde_json::Value>().await.unwrap()["error"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(token(secret.clone()).await, "invalid_grant");
    // Rotation: the old secret stops at once.
    let res = admin
        .post_form(&format!("{apps}/{client_id}/secret"), &[("csrf", &csrf)])
        .await;
    let new_secret = text_of(&res.text().await.unwrap(), "#client-secret");
    assert_ne!(new_secret, secret);
    assert_eq!(token(secret).await, "invalid_client");
    assert_eq!(token(new_secret).await, "invalid_grant");
    // Redirect URIs: checked, saved, audited.
    let res = admin
        .post_form(
            &format!("{apps}/{client_id}/uris"),
            &[
                ("csrf", &csrf),
                ("redirect_uris", "https://matters.example/cb#frag"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = admin
        .post_form(
            &format!("{apps}/{client_id}/uris"),
            &[
                ("csrf", &csrf),
                (
                    "redirect_uris",
                    "https://matters.example/cb\nhttps://matters.example/cb2",
                ),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("{apps}?done=uris"));
    assert_eq!(
        server
            .state
            .store
            .client(&client_id)
            .await
            .unwrap()
            .unwrap()
            .redirect_uris
            .len(),
        2
    );
    // Another firm's application through this firm's pages: 404, untouched.
    let (foreign, _) = server
        .client(firmgate::admin::clients::ClientSpec {
            firm_id: Some(other.firm_id.clone()),
            ..server.spec()
        })
        .await;
    for path in [
        format!("{apps}/{foreign}/uris"),
        format!("{apps}/{foreign}/secret"),
    ] {
        let res = admin
            .post_form(
                &path,
                &[
                    ("csrf", &csrf),
                    ("redirect_uris", "https://evil.example/cb"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        server
            .state
            .store
            .client(&foreign)
            .await
            .unwrap()
            .unwrap()
            .redirect_uris,
        vec![REDIRECT.to_owned()]
    );
    let listed = admin.get(&apps).await.text().await.unwrap();
    assert!(listed.contains(&client_id) && !listed.contains(&foreign));
    assert!(!server
        .state
        .store
        .firm_audit(&fx.firm_id, Some("client_changed"), None, 10)
        .await
        .unwrap()
        .is_empty());
}
