//! Hostile input, fuzzed with proptest (the nightly-free harness: it runs in every `cargo test`
//! and shrinks what it finds to a minimal case). Each target is a parser an attacker reaches
//! without credentials: the authorization request, the token request body and its Basic
//! header, JWTs (`id_token_hint`, and any bearer token), TOTP and recovery codes, the IP
//! allowlist and sign-in hours an admin types; plus properties of the policy evaluator.
//!
//! The default run is short (CI). A longer one:
//! `PROPTEST_CASES=200000 cargo test --release --test hostile` (README "Hostile input").
//! [RFC 6749 §3.1, §3.2, §2.3.1; OIDC Core §3.1.2.1; RFC 7515 §5.2; RFC 6238]

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::IpAddr;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use firmgate::crypto::keys::{generate, KeySet, LoadedKey, SigningAlg};
use firmgate::crypto::secret_box::MasterKey;
use firmgate::crypto::{jwt, totp};
use firmgate::oidc::request::{check_client_id, check_redirect_uri, validate, RequestError};
use firmgate::policy::hours::SignInHours;
use firmgate::policy::network::{allowed, format_allowlist, parse_allowlist};
use firmgate::policy::{FirmPolicy, MfaDemand, MfaMode, PersonStanding, SsoMode};
use firmgate::store::clients::ClientRecord;
use firmgate::web::params::Params;
use proptest::prelude::*;
use std::sync::LazyLock;

const NOW: i64 = 1_790_000_000;
const ISSUER: &str = "https://id.example";
const REDIRECT: &str = "https://rp.example/cb";

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let master = MasterKey::generate();
    KeySet::new(
        SigningAlg::ALL
            .iter()
            .map(|alg| {
                let stored = generate(*alg, format!("k-{alg}"), &master, NOW, NOW).unwrap();
                LoadedKey::load(&stored, &master).unwrap()
            })
            .collect(),
    )
});

fn client() -> ClientRecord {
    ClientRecord {
        id: "rp".into(),
        name: "RP".into(),
        secret_hash: Some("x".into()),
        auth_method: "client_secret_basic".into(),
        redirect_uris: vec![REDIRECT.into(), "https://rp.example/cb2".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        first_party: false,
        firm_id: None,
        signing_alg: "RS256".into(),
        access_token_ttl_secs: None,
        refresh_token_ttl_secs: None,
        created_at: NOW,
        backchannel_logout_uri: None,
    }
}

fn valid_id_token() -> String {
    let claims =
        serde_json::json!({"iss": ISSUER, "sub": "ann", "aud": "rp", "iat": NOW, "exp": NOW + 60});
    jwt::sign(&KEYS, SigningAlg::Rs256, "JWT", &claims, NOW).unwrap()
}

/// Values an attacker would try: empty-ish, huge, control characters, other encodings, near
/// misses of real values, JSON, JWT-shaped strings.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-z ]{0,12}",
        Just(REDIRECT.to_owned()),
        Just(format!("{REDIRECT}/")),
        Just("https://rp.example/cb#x".to_owned()),
        Just("HTTPS://RP.EXAMPLE/cb".to_owned()),
        Just("openid profile email offline_access".to_owned()),
        Just("code".to_owned()),
        Just("none login consent".to_owned()),
        Just("S256".to_owned()),
        Just("{\"id_token\":{\"acr\":{\"essential\":true}}}".to_owned()),
        Just("{\"id_token\":[]}".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("a".repeat(5000)),
        Just("\u{0}\r\n%00%0d%0a".to_owned()),
        Just(valid_id_token()),
        "[A-Za-z0-9_-]{1,30}\\.[A-Za-z0-9_-]{0,30}\\.[A-Za-z0-9_-]{0,30}",
    ]
}

const AUTHORIZE_NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "login_hint",
    "id_token_hint",
    "acr_values",
    "claims",
    "request",
    "request_uri",
    "firm",
    "display",
    "ui_locales",
];

/// A well-formed authorization request that `validate` accepts.
const VALID: &str = "client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code\
    &scope=openid+email&state=s&nonce=n&code_challenge_method=S256\
    &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A query string: the valid request with hostile additions (repeats, overrides, extras),
/// known names with hostile values, or raw noise.
fn query() -> impl Strategy<Value = String> {
    let pair = || (prop::sample::select(AUTHORIZE_NAMES), hostile_value());
    prop_oneof![
        4 => prop::collection::vec(pair(), 0..4).prop_map(|pairs| {
            let extra = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            format!("{VALID}&{extra}")
        }),
        4 => prop::collection::vec(pair(), 0..24).prop_map(|pairs| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        }),
        1 => ".{0,300}",
        1 => "([a-z_]{1,8}=[%0-9A-Fa-z&=+]{0,12}&?){0,80}",
    ]
}

/// 2,000 cases per property unless PROPTEST_CASES says otherwise.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

#[test]
fn the_valid_request_is_accepted_so_the_properties_reach_acceptance() {
    let params = Params::parse(VALID).unwrap();
    let client = client();
    let redirect = check_redirect_uri(&params, &client).unwrap();
    let req = validate(&params, &client, redirect, &KEYS, ISSUER, NOW).unwrap();
    assert_eq!(req.redirect_uri, REDIRECT);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The authorization request (RFC 6749 §3.1, OIDC Core §3.1.2.1): never a panic; an error
    /// goes back to the client only once client_id and an exactly registered redirect_uri are
    /// known (§4.1.2.1); an accepted request names that URI and no more than the allowed scopes.
    #[test]
    fn authorize_parameters(raw in query()) {
        let Ok(params) = Params::parse(&raw) else { return Ok(()) };
        let client = client();
        let redirect = match check_client_id(&params).and_then(|_| check_redirect_uri(&params, &client)) {
            Ok(uri) => uri,
            Err(RequestError::Page { .. }) => return Ok(()),
            Err(e) => panic!("an error before the redirect_uri was trusted was not a page: {e:?}"),
        };
        prop_assert!(client.redirect_uris.iter().any(|r| r == redirect));
        match validate(&params, &client, redirect, &KEYS, ISSUER, NOW) {
            Ok(req) => {
                prop_assert_eq!(&req.redirect_uri, redirect);
                prop_assert!(req.scopes.iter().any(|s| s == "openid"));
                prop_assert!(params.get("response_type") == Some("code"));
                prop_assert!(req.code_challenge.is_some(), "PKCE is required of every client");
                if let Some(sub) = &req.hinted_sub { prop_assert_eq!(sub, "ann"); }
            }
            Err(RequestError::Redirect { target, .. }) => {
                prop_assert_eq!(&target.redirect_uri, redirect);
            }
            Err(RequestError::Page { .. }) => {}
        }
    }

    /// The token request body (RFC 6749 §3.2): duplicates of anything but the client's own
    /// credentials, oversized values and floods are invalid_request, never a panic.
    #[test]
    fn token_request_body(raw in query(), content_type in prop_oneof![
        Just("application/x-www-form-urlencoded"),
        Just("application/x-www-form-urlencoded; charset=UTF-8"),
        Just("application/json"),
        Just("text/plain"),
    ]) {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        match firmgate::oidc::token::parse_form(&headers, &raw) {
            Ok(params) => {
                prop_assert!(content_type.starts_with("application/x-www-form-urlencoded"));
                prop_assert!(params.first_oversized().is_none());
                let dup = params.first_duplicate();
                prop_assert!(dup.is_none() || dup == Some("client_id") || dup == Some("client_secret"));
            }
            Err(e) => prop_assert_eq!(e.code, "invalid_request"),
        }
    }

    /// RFC 6749 §2.3.1 Basic credentials: any header value parses or is refused, never a panic;
    /// what parses round-trips.
    #[test]
    fn basic_credentials(user in ".{0,20}", pass in ".{0,20}", noise in ".{0,40}") {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let good = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(&user), enc(&pass))));
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&good).unwrap());
        prop_assert_eq!(firmgate::oidc::client_auth::parse_basic(&headers), Ok(Some((user, pass))));
        if let Ok(v) = HeaderValue::from_str(&noise) {
            headers.insert(header::AUTHORIZATION, v);
            let _ = firmgate::oidc::client_auth::parse_basic(&headers);
        }
    }

    /// RFC 7515: any string, and any one-character change of a genuine token, is refused; the
    /// genuine token is accepted. (No `alg: none`, no foreign key, no header trickery.)
    #[test]
    fn jwt_verification(noise in ".{0,200}", at in 0usize..400, with in "[A-Za-z0-9_.=+/-]") {
        prop_assert!(jwt::verify(&KEYS, &noise, NOW).is_err() || noise == valid_id_token());
        let genuine = valid_id_token();
        prop_assert!(jwt::verify(&KEYS, &genuine, NOW).is_ok());
        let at = at % genuine.len();
        let mut altered = genuine.clone();
        altered.replace_range(at..at + 1, &with);
        if let Ok(v) = jwt::verify(&KEYS, &altered, NOW) {
            // Only a change base64url cannot see (unused trailing bits) may pass, and then
            // the claims are the genuine ones.
            let genuine_claims = jwt::verify(&KEYS, &genuine, NOW).unwrap().claims;
            prop_assert_eq!(v.claims, genuine_claims);
        }
    }

    /// Headers that name keys or algorithms firmgate must not follow.
    #[test]
    fn jwt_headers(alg in prop_oneof![
                       prop::sample::select(vec!["none", "HS256", "RS256", "ES256", "EdDSA"]).prop_map(str::to_owned),
                       ".{0,8}",
                   ],
                   extra in prop_oneof![Just(""), Just(",\"jku\":\"https://evil.example/jwks\""),
                                        Just(",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}"),
                                        Just(",\"x5u\":\"https://evil.example\""),
                                        Just(",\"crit\":[\"exp\"]"), Just(",\"kid\":\"k-RS256\"")]) {
        let header = format!("{{\"alg\":{}{extra}}}", serde_json::Value::String(alg));
        let genuine = valid_id_token();
        let mut parts = genuine.split('.');
        let (_, payload, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let forged = format!("{}.{payload}.{signature}", URL_SAFE_NO_PAD.encode(&header));
        prop_assert!(jwt::verify(&KEYS, &forged, NOW).is_err(), "{}", header);
        let unsigned = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(&header));
        prop_assert!(jwt::verify(&KEYS, &unsigned, NOW).is_err(), "{}", header);
    }

    /// TOTP codes as typed: only six digits (spaces allowed) parse; whatever is typed, checking
    /// it never panics and never matches a step already used.
    #[test]
    fn totp_codes(typed in prop_oneof![".{0,12}", "[0-9 ]{0,10}", "[0-9]{6}"], last in -5i64..5) {
        if let Some(code) = totp::parse_code(&typed) {
            prop_assert_eq!(code.len(), 6);
            prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(code, typed.chars().filter(|c| !c.is_whitespace()).collect::<String>());
        }
        let secret = totp::TotpSecret::from_bytes(vec![7u8; 20]);
        let last_used = totp::step_of(NOW) + last;
        if let Some(step) = secret.matching_step(&typed, NOW, last_used) {
            prop_assert!(step > last_used);
            prop_assert!((step - totp::step_of(NOW)).abs() <= 1);
        }
        if let Some(canonical) = totp::parse_recovery_code(&typed) {
            prop_assert_eq!(canonical.len(), 16);
        }
    }

    /// The IP allowlist an admin types: parses or explains; what parses prints and parses back
    /// to itself; membership agrees with the networks.
    #[test]
    fn cidr_lists(text in prop_oneof![
        ".{0,60}",
        "([0-9]{1,3}\\.){3}[0-9]{1,3}(/[0-9]{1,2})?(, ?([0-9]{1,3}\\.){3}[0-9]{1,3}(/[0-9]{1,3})?){0,3}",
        "[0-9a-f:]{2,20}(/[0-9]{1,3})?",
    ], ip in any::<IpAddr>()) {
        match parse_allowlist(&text) {
            Ok(list) => {
                let reparsed = parse_allowlist(&format_allowlist(&list)).unwrap();
                prop_assert!(reparsed == list);
                let expected = list.is_empty() || list.iter().any(|n| n.contains(&ip.to_canonical()));
                prop_assert_eq!(allowed(&list, Some(ip)), expected);
                prop_assert_eq!(allowed(&list, None), list.is_empty(), "no address fails closed");
            }
            Err(reason) => prop_assert!(reason.contains("is not an IP address")),
        }
    }

    /// Sign-in hours: parse or refuse; an accepted window ends after it starts.
    #[test]
    fn sign_in_hours(text in prop_oneof![".{0,30}", "(Mon|Tue|Sat|Sun)(-(Fri|Sun))? [0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}"]) {
        if let Ok(h) = SignInHours::parse(&text) {
            prop_assert!(h.start_minute < h.end_minute && h.end_minute <= 24 * 60);
            prop_assert!(h.days.iter().any(|d| *d));
        }
    }

    /// The policy evaluator: its verdict follows from the policy for any person, address and
    /// moment. (`signin::flow::next_step` has an exhaustive test over every combination.)
    #[test]
    fn policy_verdicts(
        mfa in prop::sample::select(vec![MfaMode::Off, MfaMode::Prompt, MfaMode::Required]),
        sso in prop::sample::select(vec![SsoMode::Off, SsoMode::Microsoft, SsoMode::Google, SsoMode::Any]),
        allow in "(10\\.0\\.0\\.0/8|192\\.0\\.2\\.7|2001:db8::/32)?(,203\\.0\\.113\\.0/24)?",
        hours in prop_oneof![Just(None), Just(Some("Mon-Fri 07:00-19:00")), Just(Some("Sun 00:00-24:00"))],
        zone in prop::sample::select(vec!["UTC", "Europe/London", "Australia/Sydney", "Pacific/Chatham"]),
        mfa_excluded: bool, sso_excluded: bool,
        ip in proptest::option::of(any::<IpAddr>()),
        now in 0i64..4_102_444_800,
    ) {
        let policy = FirmPolicy {
            mfa, sso,
            ip_allow: parse_allowlist(&allow).unwrap(),
            hours: hours.map(|h| SignInHours::parse(h).unwrap()),
            time_zone: zone.to_owned(),
            ..FirmPolicy::default()
        };
        let v = policy.verdict(PersonStanding { mfa_excluded, sso_excluded }, ip, now);
        prop_assert_eq!(v.network_allowed, allowed(&policy.ip_allow, ip));
        if policy.hours.is_none() { prop_assert!(v.within_hours); }
        prop_assert_eq!(v.mfa == MfaDemand::Nothing, mfa_excluded || mfa == MfaMode::Off);
        prop_assert_eq!(v.mfa == MfaDemand::Require, !mfa_excluded && mfa == MfaMode::Required);
        prop_assert_eq!(v.sso_required.is_empty(), sso_excluded || sso == SsoMode::Off);
        // A password session is never "through an upstream".
        prop_assert!(v.upstream_accepted && !v.sso_satisfied && !v.upstream_mfa_trusted);
    }
}
