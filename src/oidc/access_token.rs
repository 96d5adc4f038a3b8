//! Checking a presented access token (userinfo, introspection, revocation): signed by firmgate,
//! `typ: at+jwt` (so an ID token is never accepted as one, RFC 9068 §4), our issuer, unexpired,
//! and still live in the store (not revoked, grant not revoked).

use serde_json::{Map, Value};

use crate::app::AppState;
use crate::crypto::jwt;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccessTokenError {
    #[error("the access token is not valid")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token has been revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Verifies signature and claims; does not consult the store.
pub fn decode(state: &AppState, token: &str) -> Result<Map<String, Value>, AccessTokenError> {
    let now = state.clock.now();
    let v =
        jwt::verify(&state.keys.current(), token, now).map_err(|_| AccessTokenError::Invalid)?;
    if !v.typ.is_some_and(|t| t.eq_ignore_ascii_case("at+jwt")) {
        return Err(AccessTokenError::Invalid);
    }
    if v.claims.get("iss").and_then(Value::as_str) != Some(state.issuer().as_str()) {
        return Err(AccessTokenError::Invalid);
    }
    let exp = v
        .claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(AccessTokenError::Invalid)?;
    if now >= exp {
        return Err(AccessTokenError::Expired);
    }
    if v.claims.get("jti").and_then(Value::as_str).is_none() {
        return Err(AccessTokenError::Invalid);
    }
    Ok(v.claims)
}

/// Verifies the token and that it is still live.
pub async fn verify(state: &AppState, token: &str) -> Result<Map<String, Value>, AccessTokenError> {
    let claims = decode(state, token)?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let gid = claims.get("gid").and_then(Value::as_str);
    if !state.store.access_token_live(jti, gid).await? {
        return Err(AccessTokenError::Revoked);
    }
    Ok(claims)
}
