//! Access tokens, UserInfo, introspection, revocation, client credentials, the `claims`
//! parameter, ID token hints and key rotation. [SECURITY cases 34, 45, 47-49, 55-56, 104]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use firmgate::admin::clients::ClientSpec;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn access_tokens_are_rfc9068_jwts() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(header(at)["typ"], "at+jwt");
    let c = claims(at);
    for name in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
    ] {
        assert!(c.get(name).is_some(), "{name}");
    }
    assert_eq!(c["client_id"], fx.client_id);
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600,
        "60 minutes by default"
    );
}

#[tokio::test]
async fn userinfo_get_post_and_failures() {
    // SECURITY case 104 (RFC 6750 §2-3; oidcc-userinfo-get, -post-header, -post-body).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let at = t["access_token"].as_str().unwrap();
    let http = server.backchannel();
    let (status, _, body) = userinfo(&server, at).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], fx.person_id);
    assert_eq!(body["name"], "Ann Example");
    let res = http
        .post(server.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post(server.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // RFC 6750 §2: the token is sent one way only.
    let res = http
        .post(server.url("/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let res = http.get(server.url("/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let id_token = t["id_token"].as_str().unwrap();
    let (status, headers, _) = userinfo(&server, id_token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an ID token is not an access token"
    );
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"invalid_token\""));
    let (status, _, _) = userinfo(&server, "garbage").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.clock.advance(3601);
    let (status, _, _) = userinfo(&server, at).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test]
async fn oidcc_claims_essential_name_in_userinfo_and_id_token_claims_by_name() {
    // SECURITY case 45 (OIDC Core §5.5).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let claims_param = json!({"userinfo": {"name": {"essential": true}}, "id_token": {"email": null, "auth_time": {"essential": true}}}).to_string();
    let req = AuthRequest::new(&fx.client_id)
        .with("scope", "openid")
        .with("claims", &claims_param);
    let t = signed_in_tokens(&server, &fx, &Browser::new(&server), &req).await;
    let (_, _, info) = userinfo(&server, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["name"], "Ann Example");
    assert!(info.get("email").is_none(), "not asked for in userinfo");
    let c = claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["email"], fx.email.as_str());
    assert!(c["auth_time"].is_i64());
}

#[tokio::test]
async fn client_credentials_issue_an_access_token_only() {
    // SECURITY case 34 (RFC 6749 §4.4.3; RFC 9700 §4.15).
    let server = TestServer::start().await;
    let fx = server
        .fixture_with(ClientSpec {
            grant_types: vec!["client_credentials".into()],
            redirect_uris: vec![],
            ..server.spec()
        })
        .await;
    let (status, body) = token_request(&server, &fx, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], format!("client:{}", fx.client_id));
    let (status, _, _) = userinfo(&server, body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "no openid scope, no userinfo"
    );
}

#[tokio::test]
async fn introspection_and_revocation() {
    // SECURITY cases 55-56 (RFC 7662 §2.2; RFC 7009 §2.1).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let other = server
        .client(ClientSpec {
            name: "Other".into(),
            ..server.spec()
        })
        .await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();

    let res = server
        .backchannel()
        .post(server.url("/introspect"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "introspection needs client authentication"
    );
    let (_, body) = introspect(&server, &fx.client_id, &fx.client_secret, at).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], fx.person_id);
    let (_, body) = introspect(&server, &fx.client_id, &fx.client_secret, rt).await;
    assert_eq!(body["active"], true);
    let (_, body) = introspect(&server, &other.0, &other.1, at).await;
    assert_eq!(
        body,
        json!({"active": false}),
        "another client learns nothing"
    );

    // Client B cannot revoke client A's tokens.
    let res = server
        .backchannel()
        .post(server.url("/revoke"))
        .basic_auth(&other.0, Some(&other.1))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        introspect(&server, &fx.client_id, &fx.client_secret, rt)
            .await
            .1["active"],
        true
    );
    // Unknown tokens: 200 (RFC 7009 §2.2).
    let res = server
        .backchannel()
        .post(server.url("/revoke"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[("token", "nonsense")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Revoking the refresh token revokes the grant: the access token goes inactive at once.
    let res = server
        .backchannel()
        .post(server.url("/revoke"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[("token", rt), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        introspect(&server, &fx.client_id, &fx.client_secret, at)
            .await
            .1,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&server, &fx.client_id, &fx.client_secret, rt)
            .await
            .1,
        json!({"active": false})
    );
    assert_eq!(userinfo(&server, at).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&server, &fx, rt).await.1["error"], "invalid_grant");
}

#[tokio::test]
async fn revoking_an_access_token_leaves_the_refresh_token() {
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let t = signed_in_tokens(
        &server,
        &fx,
        &Browser::new(&server),
        &AuthRequest::new(&fx.client_id),
    )
    .await;
    let at = t["access_token"].as_str().unwrap();
    let res = server
        .backchannel()
        .post(server.url("/revoke"))
        .basic_auth(&fx.client_id, Some(&fx.client_secret))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(userinfo(&server, at).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&server, &fx, t["refresh_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
}

fn forged_none(id_token: &str) -> String {
    let payload = id_token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{payload}.")
}

#[tokio::test]
async fn oidcc_id_token_hint_and_forged_hints() {
    // oidcc-id-token-hint; SECURITY cases 47-48 (RFC 8725 §3.1).
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let t = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    let hint = t["id_token"].as_str().unwrap();
    let res = browser
        .authorize(
            &AuthRequest::new(&fx.client_id)
                .with("prompt", "none")
                .with("id_token_hint", hint),
        )
        .await;
    assert!(
        query_param(&location(&res), "code").is_some(),
        "a valid hint for the signed-in person"
    );

    let foreign_server = TestServer::start().await;
    let ffx = foreign_server.fixture().await;
    let foreign = signed_in_tokens(
        &foreign_server,
        &ffx,
        &Browser::new(&foreign_server),
        &AuthRequest::new(&ffx.client_id),
    )
    .await;
    for bad in [
        forged_none(hint),
        foreign["id_token"].as_str().unwrap().to_owned(),
    ] {
        let res = browser
            .authorize(
                &AuthRequest::new(&fx.client_id)
                    .with("prompt", "none")
                    .with("id_token_hint", &bad),
            )
            .await;
        assert_eq!(
            query_param(&location(&res), "error").as_deref(),
            Some("invalid_request")
        );
    }
}

#[tokio::test]
async fn oidcc_server_rotate_keys_publishes_before_signing_and_keeps_old_keys() {
    // SECURITY case 49; DESIGN "Keys".
    let server = TestServer::start().await;
    let fx = server.fixture().await;
    let browser = Browser::new(&server);
    let before = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    let old_kid = header(before["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_kids = firmgate::cli::rotate_keys(&server.state).await.unwrap();
    let jwks: Value = server
        .backchannel()
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(kids.contains(&old_kid.as_str()));
    assert!(
        new_kids.iter().all(|k| kids.contains(&k.as_str())),
        "published at once"
    );
    // Not signing yet: the publish lead has not passed.
    let during = signed_in_tokens(&server, &fx, &browser, &AuthRequest::new(&fx.client_id)).await;
    assert_eq!(header(during["id_token"].as_str().unwrap())["kid"], old_kid);
    server.clock.advance(301);
    let after = signed_in_tokens(
        &server,
        &fx,
        &browser,
        &AuthRequest::new(&fx.client_id).with("prompt", "login"),
    )
    .await;
    let kid = header(after["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_kids.contains(&kid), "the new key signs after the lead");
    // Tokens signed before still verify (userinfo accepts the old access token).
    assert_eq!(
        userinfo(&server, during["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
    // Once everything the old key signed has expired, it leaves the JWKS.
    server.clock.advance(3601);
    server
        .state
        .keys
        .reload(
            &server.state.store,
            &server.state.settings.master_key,
            server.clock.now(),
        )
        .await
        .unwrap();
    let jwks: Value = server
        .backchannel()
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks.to_string().contains(&old_kid));
}
