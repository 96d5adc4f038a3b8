//! The `openidconnect` crate, an independent relying-party library, validates what firmgate
//! issues: discovery, JWKS, the code flow with PKCE and nonce, the ID token (signature, iss, aud,
//! exp, nonce, at_hash) for each signing algorithm, and UserInfo. [oidcc-server; OIDC Core §2,
//! §3.1.3.6, §5.3.2; SECURITY cases 42-44]

use firmgate::crypto::keys::SigningAlg;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

use crate::support::*;

async fn happy_flow(alg: SigningAlg) {
    let server = TestServer::start().await;
    let fx = server.fixture_with(server.alg_spec(alg)).await;
    let http = server.backchannel();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http)
            .await
            .expect("discovery and JWKS accepted by openidconnect");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(fx.client_id.clone()),
        Some(ClientSecret::new(fx.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::new(&server);
    let res = browser.follow(browser.get(url.as_str()).await).await;
    let back = browser.complete(res, &fx.email).await;
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str()),
        "RFC 9207 iss"
    );
    let code = query_param(&back, "code").unwrap();
    assert!(code.len() >= 22, "at least 128 bits of code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token response accepted");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verified by openidconnect");
    assert_eq!(claims.issuer().as_str(), server.base);
    assert_eq!(claims.audiences()[0].as_str(), fx.client_id);
    assert_eq!(claims.subject().as_str(), fx.person_id);
    assert!(claims.auth_time().is_some());
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(
        claims.access_token_hash(),
        Some(&expected),
        "at_hash for {alg}"
    );
    assert_eq!(header(&id_token.to_string())["alg"], alg.as_str());

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo accepted");
    assert_eq!(
        info.subject().as_str(),
        fx.person_id,
        "UserInfo sub equals the ID token sub"
    );
    assert_eq!(info.email().map(|e| e.as_str()), Some(fx.email.as_str()));
    let raw = claims_of_id_token(&id_token.to_string());
    assert!(
        raw.get("email").is_none(),
        "profile claims are not in the ID token unless asked"
    );
    assert_eq!(raw["firm_id"], fx.firm_id);
    assert_eq!(raw["role"], "member");
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]));
    assert!(raw["sid"].is_string());
    assert_eq!(raw["azp"], fx.client_id);
}

fn claims_of_id_token(t: &str) -> serde_json::Value {
    claims(t)
}

#[tokio::test]
async fn oidcc_server_rs256() {
    happy_flow(SigningAlg::Rs256).await;
}

#[tokio::test]
async fn oidcc_server_es256() {
    happy_flow(SigningAlg::Es256).await;
}

#[tokio::test]
async fn oidcc_server_eddsa() {
    happy_flow(SigningAlg::EdDsa).await;
}

#[tokio::test]
async fn oidcc_discovery_endpoint_verification() {
    // SECURITY cases 41, 103; Discovery §3; RFC 8414; RFC 9207.
    let server = TestServer::start().await;
    let doc: serde_json::Value = server
        .backchannel()
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["issuer"], server.base,
        "issuer byte for byte, no trailing slash"
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_parameter_supported"], false);
    let algs: Vec<&str> = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(algs.contains(&"RS256") && algs.contains(&"ES256") && algs.contains(&"EdDSA"));
    assert!(!algs.contains(&"none"));
    for ep in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        assert!(doc[ep].as_str().unwrap().starts_with(&server.base), "{ep}");
    }
    assert!(doc["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("openid")));
    assert!(doc
        .get("grant_types_supported")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g != "password" && g != "implicit"));

    let jwks: serde_json::Value = server
        .backchannel()
        .get(server.url("/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    for k in keys {
        assert!(k["kid"].is_string() && k["use"] == "sig" && k["alg"].is_string());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "JWKS leaks {private}");
        }
    }
}
