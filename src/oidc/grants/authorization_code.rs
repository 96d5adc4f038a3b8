//! `grant_type=authorization_code` (RFC 6749 §4.1.3, OIDC Core §3.1.3.2, RFC 7636 §4.6).
//! A code works once: the redemption is atomic, and a second redemption revokes everything the
//! first one issued (RFC 6749 §4.1.2, RFC 9700 §4.2.4).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::{constant_time_eq, random_id, BearerToken, TokenKind};
use crate::error::OAuthError;
use crate::oidc::grants::signing_failed;
use crate::oidc::token::TokenResponse;
use crate::oidc::tokens::{self, UserGrant};
use crate::store::clients::ClientRecord;
use crate::store::code_context::CodeContext;
use crate::store::codes::Redemption;
use crate::store::grants::NewGrant;
use crate::web::params::Params;

/// RFC 7636 §4.1: 43-128 characters of `[A-Z] [a-z] [0-9] - . _ ~`.
pub fn verifier_well_formed(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge`.
pub fn s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    constant_time_eq(&computed, challenge)
}

/// RFC 9700 §2.1.1: a challenge demands a matching verifier; a verifier without a challenge is
/// a downgrade attempt and is refused too.
pub fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), &'static str> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => {
            Err("code_verifier sent but the authorization request had no code_challenge")
        }
        (Some(_), None) => Err("code_verifier is required"),
        (Some(c), Some(v)) if verifier_well_formed(v) && s256_matches(v, c) => Ok(()),
        (Some(_), Some(_)) => Err("code_verifier does not match the code_challenge"),
    }
}

pub async fn redeem(
    state: &AppState,
    client: &ClientRecord,
    form: &Params,
    actor: &Actor,
) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let code_hash = BearerToken::from_presented(code).hash(TokenKind::AuthorizationCode);
    let CodeContext {
        code: record,
        person,
        membership,
    } = state
        .store
        .code_context(&code_hash)
        .await?
        .filter(|c| c.code.client_id == client.id)
        .ok_or_else(|| OAuthError::invalid_grant("the code is not valid"))?;
    if record.redeemed_at.is_some() {
        return Err(replayed(state, client, record.grant_id.as_deref(), actor).await);
    }
    if now >= record.expires_at {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    // OIDC Core §3.1.3.2: identical to the redirect_uri of the authorization request.
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    check_pkce(record.code_challenge.as_deref(), form.get("code_verifier"))
        .map_err(OAuthError::invalid_grant)?;
    let person = person.ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
    let membership = membership
        .ok_or_else(|| OAuthError::invalid_grant("the user is no longer a member of the firm"))?;

    let grant_id = random_id();
    let issue_refresh = client.grant_types.iter().any(|g| g == "refresh_token");
    let refresh = issue_refresh.then(BearerToken::generate);
    let refresh_hash = refresh.as_ref().map(|r| r.hash(TokenKind::RefreshToken));
    let refresh_expiry = now + tokens::refresh_ttl(state, client);
    let outcome = state
        .store
        .redeem_code(
            &code_hash,
            now,
            &NewGrant {
                id: &grant_id,
                client_id: &client.id,
                person_id: &person.id,
                firm_id: &record.firm_id,
                session_id: &record.session_id,
                scope: &record.scope,
                claims: record.claims.as_deref(),
                auth_time: record.auth_time,
                amr: &record.amr,
                acr: &record.acr,
                offline: record.offline != 0,
            },
            refresh_hash.as_deref().map(|h| (h, refresh_expiry)),
        )
        .await?;
    match outcome {
        Redemption::Redeemed => {}
        Redemption::AlreadyRedeemed { grant_id } => {
            return Err(replayed(state, client, grant_id.as_deref(), actor).await)
        }
        Redemption::SessionEnded => {
            return Err(OAuthError::invalid_grant(
                "the sign-in session this code came from has ended",
            ))
        }
    }
    let g = UserGrant {
        grant_id: &grant_id,
        client,
        person: &person,
        membership: &membership,
        scope: &record.scope,
        claims: record.claims.as_deref(),
        auth_time: record.auth_time,
        amr: &record.amr,
        acr: &record.acr,
        session_id: Some(&record.session_id),
    };
    let access_token = tokens::user_access_token(state, &g).map_err(signing_failed)?;
    let id_token = tokens::id_token(state, &g, &access_token, record.nonce.as_deref())
        .map_err(signing_failed)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: tokens::access_ttl(state, client),
        id_token: Some(id_token),
        refresh_token: refresh.map(|r| r.expose().to_owned()),
        scope: Some(record.scope),
    })
}

async fn replayed(
    state: &AppState,
    client: &ClientRecord,
    grant_id: Option<&str>,
    actor: &Actor,
) -> OAuthError {
    let now = state.clock.now();
    if let Some(g) = grant_id {
        if let Err(e) = state
            .store
            .revoke_grant(g, now, "authorization code replayed")
            .await
        {
            return e.into();
        }
    }
    if let Err(e) = audit::record(
        &state.store,
        AuditEvent::CodeReplayed {
            client_id: &client.id,
            grant_id,
        },
        actor,
        now,
    )
    .await
    {
        return e.into();
    }
    OAuthError::invalid_grant("the code has already been used")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert!(s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn pkce_rules_at_the_token_endpoint() {
        let c = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(check_pkce(c, Some(v)).is_ok());
        assert!(check_pkce(c, None).is_err(), "SECURITY case 36");
        assert!(
            check_pkce(c, Some(&v.replace('d', "e"))).is_err(),
            "case 37"
        );
        assert!(check_pkce(None, Some(v)).is_err(), "downgrade");
        assert!(check_pkce(None, None).is_ok());
        assert!(!verifier_well_formed(&"a".repeat(42)), "case 40");
        assert!(!verifier_well_formed(&"a".repeat(129)));
        assert!(verifier_well_formed(&"a".repeat(128)));
        for bad in ["+", "/", "=", " "] {
            assert!(!verifier_well_formed(&format!("{}{bad}", "a".repeat(43))));
        }
    }
}
