//! Unit tests of the authorization-request checks; the same cases run end to end in tests/it.

use super::*;

fn client(public: bool) -> ClientRecord {
    ClientRecord {
        id: "c1".into(),
        name: "RP".into(),
        secret_hash: if public { None } else { Some("h".into()) },
        auth_method: "client_secret_basic".into(),
        redirect_uris: vec![
            "https://rp.example/cb".into(),
            "https://rp.example/q?a=1".into(),
        ],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into()],
        first_party: false,
        firm_id: None,
        signing_alg: "RS256".into(),
        access_token_ttl_secs: None,
        refresh_token_ttl_secs: None,
        created_at: 0,
        backchannel_logout_uri: None,
    }
}

fn run(query: &str, public: bool) -> Result<AuthorizationRequest, RequestError> {
    let p = Params::parse(query).unwrap();
    let c = client(public);
    let uri = check_redirect_uri(&p, &c)?;
    validate(&p, &c, uri, &KeySet::default(), "https://op.example", 0)
}

const OK: &str =
    "client_id=c1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid";

fn redirect_code(r: Result<AuthorizationRequest, RequestError>) -> &'static str {
    match r {
        Err(RequestError::Redirect { code, .. }) => code,
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

#[test]
fn redirect_uri_near_misses_are_error_pages() {
    // SECURITY cases 2-4 (RFC 9700 §4.1.3).
    for uri in [
        "https://rp.example/cb/",
        "https://rp.example/cbx",
        "https://rp.example/cb/extra",
        "https://rp.example.evil.test/cb",
        "https://evil.test/https://rp.example/cb",
        "https://rp.example/cb/../x",
        "https://rp.example/cb/%2E%2E/",
        "https://rp.example/cb%2F..%2F",
        "https://rp.example/cb/..;/x",
        "https://rp.example/cb/%252E%252E",
        "https://rp.example/cb?x=1",
        "https://rp.example/q?a=2",
        "https://rp.example/q?a=1&b=2",
        "https://rp.example/q?b=2&a=1",
        "HTTPS://rp.example/cb",
    ] {
        let q = format!(
            "client_id=c1&response_type=code&scope=openid&redirect_uri={}",
            url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
        );
        assert!(
            matches!(run(&q, false), Err(RequestError::Page { .. })),
            "{uri}"
        );
    }
    let exact = "client_id=c1&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fq%3Fa%3D1";
    assert!(run(exact, false).is_ok());
}

#[test]
fn missing_or_repeated_redirect_uri_is_an_error_page() {
    // SECURITY case 6: OIDC makes redirect_uri REQUIRED.
    assert!(matches!(
        run("client_id=c1&response_type=code&scope=openid", false),
        Err(RequestError::Page { .. })
    ));
    assert!(matches!(
        run(
            &format!("{OK}&redirect_uri=https%3A%2F%2Frp.example%2Fcb"),
            false
        ),
        Err(RequestError::Page { .. })
    ));
}

#[test]
fn response_type_rules() {
    // SECURITY cases 12-13.
    assert_eq!(
        redirect_code(run(
            "client_id=c1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid",
            false
        )),
        "invalid_request"
    );
    for rt in ["token", "id_token%20token", "code%20id_token"] {
        let q = format!("client_id=c1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&response_type={rt}");
        assert_eq!(redirect_code(run(&q, false)), "unsupported_response_type");
    }
}

#[test]
fn prompt_rules() {
    // SECURITY case 15 (OIDC Core §3.1.2.1).
    assert_eq!(
        redirect_code(run(&format!("{OK}&prompt=none%20login"), false)),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&prompt=none%20consent"), false)),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&prompt=bogus"), false)),
        "invalid_request"
    );
    let r = run(&format!("{OK}&prompt=login%20consent"), false).unwrap();
    assert!(r.prompt_login && r.prompt_consent && !r.prompt_none);
}

#[test]
fn pkce_rules() {
    // SECURITY cases 38-40 (RFC 7636 §4.2, RFC 9700 §2.1.1).
    let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_eq!(
        redirect_code(run(OK, true)),
        "invalid_request",
        "public without PKCE"
    );
    let with = |extra: &str| format!("{OK}&{extra}");
    assert_eq!(
        run(
            &with(&format!("code_challenge={good}&code_challenge_method=S256")),
            true
        )
        .unwrap()
        .code_challenge
        .as_deref(),
        Some(good)
    );
    assert_eq!(
        redirect_code(run(
            &with(&format!(
                "code_challenge={good}&code_challenge_method=plain"
            )),
            false
        )),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(&with(&format!("code_challenge={good}")), false)),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(
            &with("code_challenge=short&code_challenge_method=S256"),
            false
        )),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(
            &with(&format!(
                "code_challenge={}%2B&code_challenge_method=S256",
                &good[..42]
            )),
            false
        )),
        "invalid_request"
    );
    assert!(
        run(OK, false).unwrap().code_challenge.is_none(),
        "optional for confidential clients"
    );
}

#[test]
fn scope_max_age_claims_and_request_objects() {
    assert_eq!(
        redirect_code(run("client_id=c1&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=profile", false)),
        "invalid_scope"
    );
    let r = run(&format!("{OK}%20address%20email"), false).unwrap();
    assert_eq!(r.scopes, vec!["openid", "email"], "unknown scopes dropped");
    assert_eq!(
        redirect_code(run(&format!("{OK}&max_age=-1"), false)),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&max_age=abc"), false)),
        "invalid_request"
    );
    assert_eq!(
        run(&format!("{OK}&max_age=0"), false).unwrap().max_age,
        Some(0)
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&claims=notjson"), false)),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&request=eyJ.e30."), false)),
        "request_not_supported"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&request_uri=https%3A%2F%2Fx"), false)),
        "request_uri_not_supported"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&state=a&state=b"), false)),
        "invalid_request"
    );
    assert_eq!(
        redirect_code(run(&format!("{OK}&id_token_hint=abc.def.ghi"), false)),
        "invalid_request"
    );
}

#[test]
fn unknown_parameters_and_optional_ones_are_accepted() {
    // SECURITY case 22.
    let r = run(&format!("{OK}&extra=foobar&display=popup&ui_locales=se&claims_locales=se&login_hint=a%40b&acr_values=1%202"), false).unwrap();
    assert_eq!(r.login_hint.as_deref(), Some("a@b"));
    assert_eq!(r.acr_values, vec!["1", "2"]);
}
