//! The admin JSON API: tokens with the `firmgate:admin` scope, granted only to a firm's admins
//! after a second factor; the wrong firm (404, audited), the wrong scope (403), expired and
//! revoked tokens (401) refused; policy, people and audit operations. [Issue 5 §4, §5;
//! RFC 6750 §3.1; RFC 6749 §3.3]

use firmgate::admin::users::{create_user, NewUser};
use firmgate::crypto::password::Password;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::mfa::enrol;
use crate::support::*;

const ADMIN_SCOPE: &str = "openid firmgate:admin";

/// Signs `email` in at the fixture's client asking for the admin scope; returns the tokens.
async fn admin_tokens(server: &TestServer, fx: &Fixture, browser: &Browser, email: &str) -> Value {
    let req = AuthRequest::new(&fx.client_id).with("scope", ADMIN_SCOPE);
    let back = browser.sign_in(&req, email).await;
    let (status, _, body) = redeem(
        server,
        fx,
        &query_param(&back, "code").unwrap(),
        &req.verifier,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn person(server: &TestServer, firm_id: &str, email: &str, role: &str) {
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
}

async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = server.backchannel().request(method, server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_admin_scope_is_granted_only_to_admins_after_a_second_factor() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let policy = format!("/admin/api/firms/{}/policy", fx.firm_id);
    // A member with MFA: the scope is dropped (RFC 6749 §3.3), so the API says 403.
    let member = Browser::new(&server);
    enrol(&server, &member, &fx.email).await;
    let t = admin_tokens(&server, &fx, &member, &fx.email).await;
    assert!(
        !t["scope"].as_str().unwrap_or("").contains("firmgate:admin"),
        "{t}"
    );
    let (status, headers, body) = call(
        &server,
        reqwest::Method::GET,
        &policy,
        t["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_scope"))
    );
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    // An admin with a password-only session: dropped as well.
    person(&server, &fx.firm_id, "admin@example.com", "admin").await;
    let t = admin_tokens(&server, &fx, &Browser::new(&server), "admin@example.com").await;
    assert!(
        !t["scope"].as_str().unwrap_or("").contains("firmgate:admin"),
        "{t}"
    );
    // The same admin after a second factor: granted.
    let b = Browser::new(&server);
    enrol(&server, &b, "admin@example.com").await;
    let t = admin_tokens(&server, &fx, &b, "admin@example.com").await;
    assert!(
        t["scope"].as_str().unwrap().contains("firmgate:admin"),
        "{t}"
    );
    let (status, _, body) = call(
        &server,
        reqwest::Method::GET,
        &policy,
        t["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mfa"], "off");
    // No token: 401 with a bare challenge.
    let (status, headers, _) = call(&server, reqwest::Method::GET, &policy, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"firmgate\"");
}

#[tokio::test]
async fn api_operations_and_refusals() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server.fixture().await;
    person(&server, &fx.firm_id, "owner@example.com", "owner").await;
    let b = Browser::new(&server);
    enrol(&server, &b, "owner@example.com").await;
    let tokens = admin_tokens(&server, &fx, &b, "owner@example.com").await;
    let at = tokens["access_token"].as_str().unwrap().to_owned();
    let base = format!("/admin/api/firms/{}", fx.firm_id);
    let get = |path: String| {
        let at = at.clone();
        let server = &server;
        async move { call(server, reqwest::Method::GET, &path, Some(&at), None).await }
    };

    // Policy: a valid change applies; a bad value or an unknown field changes nothing.
    let (status, _, body) = call(
        &server,
        reqwest::Method::PATCH,
        &format!("{base}/policy"),
        Some(&at),
        Some(json!({"mfa": "required", "idle_timeout_secs": 1800})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["mfa"].as_str(), body["idle_timeout_secs"].as_i64()),
        (Some("required"), Some(1800))
    );
    for bad in [
        json!({"ip_allow": "10.0.0.0/33"}),
        json!({"mfa": "sometimes"}),
        json!({"colour": "blue"}),
        json!("not an object"),
    ] {
        let (status, _, body) = call(
            &server,
            reqwest::Method::PATCH,
            &format!("{base}/policy"),
            Some(&at),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{bad}"
        );
    }
    let firm = server.state.store.firm(&fx.firm_id).await.unwrap().unwrap();
    assert_eq!(firm.ip_allow, "");

    // People: list, invite, role, remove.
    let (status, _, body) = get(format!("{base}/people")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["people"].as_array().unwrap().len(), 2);
    let (status, _, body) = call(
        &server,
        reqwest::Method::POST,
        &format!("{base}/people"),
        Some(&at),
        Some(json!({"email": "new@example.com", "name": "New Person"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let new_id = body["id"].as_str().unwrap().to_owned();
    let (status, _, _) = call(
        &server,
        reqwest::Method::PATCH,
        &format!("{base}/people/{new_id}"),
        Some(&at),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server
            .state
            .store
            .membership(&fx.firm_id, &new_id)
            .await
            .unwrap()
            .unwrap()
            .role,
        "admin"
    );
    let (status, _, _) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("{base}/people/{new_id}"),
        Some(&at),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Another firm's person through this firm's URL: 404, untouched.
    let (status, _, _) = call(
        &server,
        reqwest::Method::DELETE,
        &format!("{base}/people/{}", other.person_id),
        Some(&at),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(server
        .state
        .store
        .membership(&other.firm_id, &other.person_id)
        .await
        .unwrap()
        .is_some());
    // Another firm's URL with this firm's token: 404, audited.
    let (status, _, _) = get(format!("/admin/api/firms/{}/policy", other.firm_id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(server
        .audit_kinds()
        .await
        .iter()
        .any(|(k, o, d)| k == "admin_access"
            && o == "refused"
            && d.as_deref().unwrap_or("").contains("admin api")));

    // Audit rows of this firm, filtered.
    let (status, _, body) = get(format!("{base}/audit?kind=policy_changed")).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["events"].as_array().unwrap();
    assert!(!events.is_empty() && events.iter().all(|e| e["kind"] == "policy_changed"));

    // Revoked (RFC 7009 on the refresh token revokes the grant) and expired tokens: 401.
    let res = server
        .backchannel()
        .post(server.url("/revoke"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _, body) = get(format!("{base}/policy")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let fresh = admin_tokens(&server, &fx, &b, "owner@example.com").await;
    server.clock.advance(3601);
    let (status, _, _) = call(
        &server,
        reqwest::Method::GET,
        &format!("{base}/policy"),
        fresh["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_openapi_file_describes_every_route() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/admin-api.yaml"))
        .unwrap();
    for path in [
        "/admin/api/firms/{firm}/policy:",
        "/admin/api/firms/{firm}/people:",
        "/admin/api/firms/{firm}/people/{person}:",
        "/admin/api/firms/{firm}/audit:",
    ] {
        assert!(doc.contains(path), "{path}");
    }
    for method in ["get:", "patch:", "post:", "delete:"] {
        assert!(doc.contains(method), "{method}");
    }
}
