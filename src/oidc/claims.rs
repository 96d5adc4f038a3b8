//! Claims: what `sub` is, which claims each scope releases (OIDC Core §5.4), what the `claims`
//! request parameter asks for (§5.5), and the authentication context values firmgate asserts.

use serde_json::{json, Map, Value};

use crate::store::people::{Membership, Person};

/// `amr` value for a password (RFC 8176 §2).
pub const AMR_PASSWORD: &str = "pwd";
/// `amr` of a sign-in with password and a TOTP (or recovery) code (RFC 8176 §2: `otp` is a
/// one-time password, `mfa` more than one factor).
pub const AMR_PASSWORD_OTP: &str = "pwd otp mfa";
/// `amr` of a sign-in through an upstream provider (RFC 8176 §2 `fed`); the upstream's own
/// values follow it in the ID token.
pub const AMR_FEDERATED: &str = "fed";
/// `amr` of an upstream sign-in followed by firmgate's own TOTP challenge.
pub const AMR_FEDERATED_OTP: &str = "fed otp mfa";
/// `amr` of an upstream sign-in whose MFA the firm trusts in place of its own challenge.
pub const AMR_FEDERATED_MFA: &str = "fed mfa";
/// `acr` for a password-only sign-in; advertised in `acr_values_supported`.
pub const ACR_PASSWORD: &str = "urn:firmgate:acr:password";
/// `acr` for a sign-in with a second factor. A relying party asking for it (`acr_values`, or an
/// essential `acr` in `claims`) gets a step-up challenge.
pub const ACR_MFA: &str = "urn:firmgate:acr:mfa";
pub const ACR_VALUES_SUPPORTED: [&str; 2] = [ACR_PASSWORD, ACR_MFA];

/// Whether a session's `amr` includes a second factor.
pub fn amr_has_mfa(amr: &str) -> bool {
    amr.split_whitespace().any(|m| m == "mfa")
}

/// Whether a session's `amr` includes firmgate's own second factor (a TOTP or recovery code).
pub fn amr_has_local_mfa(amr: &str) -> bool {
    amr.split_whitespace().any(|m| m == "otp")
}

/// The `acr` to assert: MFA only when the session proved a second factor the firm accepts.
pub fn acr_for(mfa_proved: bool) -> &'static str {
    if mfa_proved {
        ACR_MFA
    } else {
        ACR_PASSWORD
    }
}

/// The ID token's `amr`: firmgate's own methods, then the values the upstream asserted (RFC 8176
/// names; anything else the upstream sent is dropped), each once.
pub fn token_amr(own: &str, upstream: Option<&str>) -> String {
    let mut values: Vec<&str> = own.split_whitespace().collect();
    if values.is_empty() {
        values.push(AMR_PASSWORD);
    }
    for v in upstream.unwrap_or("").split_whitespace() {
        let plain = v.len() <= 32
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if plain && !values.contains(&v) && values.len() < 12 {
            values.push(v);
        }
    }
    values.join(" ")
}

/// Whether the request insists on the MFA acr: `acr_values` (OIDC Core §3.1.2.1) or the values
/// of an essential `acr` claim (§5.5.1.1) name it and do not also accept the password acr. A list
/// that accepts either ("in order of preference") is met by a password-only sign-in.
pub fn mfa_requested(acr_values: &[String], claims: Option<&str>) -> bool {
    let insists = |values: &[&str]| values.contains(&ACR_MFA) && !values.contains(&ACR_PASSWORD);
    let listed: Vec<&str> = acr_values.iter().map(String::as_str).collect();
    if insists(&listed) {
        return true;
    }
    let Some(acr) = claims
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| v.get("id_token").and_then(|t| t.get("acr")).cloned())
    else {
        return false;
    };
    if acr.get("essential").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    let mut values: Vec<&str> = acr
        .get("values")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    values.extend(acr.get("value").and_then(Value::as_str));
    insists(&values)
}

/// Every claim firmgate can release, for discovery's `claims_supported`.
pub const CLAIMS_SUPPORTED: [&str; 18] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "email",
    "email_verified",
    "firm_id",
    "firm_name",
    "role",
];

/// The `sub` of a client acting for itself (client credentials): ':' never occurs in person
/// ids, so it cannot collide with a person's `sub` (RFC 9700 §4.15).
pub fn client_subject(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// Names requested through the `claims` parameter for one member (`userinfo` or `id_token`).
pub fn requested(claims: Option<&str>, member: &str) -> Vec<String> {
    claims
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| {
            v.get(member)
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
        })
        .unwrap_or_default()
}

/// The person's claims for `scopes` plus any requested by name (OIDC Core §5.4, §5.5).
pub fn person_claims(person: &Person, scopes: &[&str], named: &[String]) -> Map<String, Value> {
    let wants =
        |scope: &str, claim: &str| scopes.contains(&scope) || named.iter().any(|n| n == claim);
    let mut m = Map::new();
    if wants("profile", "name") {
        m.insert("name".into(), json!(person.name));
    }
    if wants("profile", "updated_at") {
        m.insert("updated_at".into(), json!(person.updated_at));
    }
    if wants("email", "email") {
        m.insert("email".into(), json!(person.email));
    }
    if wants("email", "email_verified") {
        m.insert("email_verified".into(), json!(person.email_verified != 0));
    }
    m
}

/// The firm claims every token for a firm carries (DESIGN "Claims").
pub fn firm_claims(m: &Membership) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("firm_id".into(), json!(m.firm_id));
    out.insert("firm_name".into(), json!(m.firm_name));
    out.insert("role".into(), json!(m.role));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_token_amr_lists_firmgates_methods_then_the_upstreams() {
        assert_eq!(token_amr("pwd otp mfa", None), "pwd otp mfa");
        assert_eq!(token_amr("", None), "pwd");
        assert_eq!(token_amr("fed", Some("pwd mfa")), "fed pwd mfa");
        assert_eq!(token_amr("fed mfa", Some("pwd mfa")), "fed mfa pwd");
        // Whatever is not a plain RFC 8176-style name is dropped.
        assert_eq!(token_amr("fed", Some("pwd <script> a\"b")), "fed pwd");
        assert_eq!(acr_for(true), ACR_MFA);
        assert_eq!(acr_for(false), ACR_PASSWORD);
        assert!(amr_has_local_mfa("fed otp mfa") && !amr_has_local_mfa("fed mfa"));
    }

    use super::*;

    #[test]
    fn only_an_insistence_on_the_mfa_acr_is_a_step_up() {
        let v = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(mfa_requested(&v(&[ACR_MFA]), None));
        assert!(
            !mfa_requested(&v(&[ACR_MFA, ACR_PASSWORD]), None),
            "either is acceptable"
        );
        assert!(!mfa_requested(&v(&[ACR_PASSWORD]), None));
        assert!(!mfa_requested(&[], None));
        let essential =
            r#"{"id_token":{"acr":{"essential":true,"values":["urn:firmgate:acr:mfa"]}}}"#;
        assert!(mfa_requested(&[], Some(essential)));
        let one = r#"{"id_token":{"acr":{"essential":true,"value":"urn:firmgate:acr:mfa"}}}"#;
        assert!(mfa_requested(&[], Some(one)));
        let voluntary = r#"{"id_token":{"acr":{"values":["urn:firmgate:acr:mfa"]}}}"#;
        assert!(!mfa_requested(&[], Some(voluntary)));
        let userinfo = r#"{"userinfo":{"acr":{"essential":true,"value":"urn:firmgate:acr:mfa"}}}"#;
        assert!(
            !mfa_requested(&[], Some(userinfo)),
            "acr is an ID token claim"
        );
    }

    fn person() -> Person {
        Person {
            id: "p1".into(),
            email: "a@b.example".into(),
            name: "Ann".into(),
            email_verified: 0,
            password_hash: None,
            created_at: 0,
            updated_at: 5,
            password_temporary: 0,
            password_expires_at: None,
            password_changed_at: None,
            time_zone: None,
        }
    }

    #[test]
    fn scopes_release_their_claims_only() {
        let c = person_claims(&person(), &["openid"], &[]);
        assert!(c.is_empty());
        let c = person_claims(&person(), &["openid", "email"], &[]);
        assert_eq!(c["email"], "a@b.example");
        assert_eq!(c["email_verified"], false);
        assert!(!c.contains_key("name"));
        let c = person_claims(&person(), &["openid"], &["name".to_string()]);
        assert_eq!(c["name"], "Ann");
    }

    #[test]
    fn claims_parameter_names_are_read_per_member() {
        let claims = r#"{"userinfo":{"name":{"essential":true}},"id_token":{"auth_time":{"essential":true}}}"#;
        assert_eq!(requested(Some(claims), "userinfo"), vec!["name"]);
        assert_eq!(requested(Some(claims), "id_token"), vec!["auth_time"]);
        assert!(requested(None, "userinfo").is_empty());
        assert!(client_subject("abc").contains(':'));
    }
}
