//! `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client acting for itself gets
//! an access token only, no ID token and no refresh token (§4.4.3). Its `sub` names the client
//! and cannot collide with a person's (RFC 9700 §4.15). firmgate registers no API scopes for
//! clients yet, so a requested scope is not granted and the response says so (RFC 6749 §3.3).

use crate::app::AppState;
use crate::error::OAuthError;
use crate::oidc::grants::signing_failed;
use crate::oidc::token::TokenResponse;
use crate::oidc::tokens;
use crate::store::clients::ClientRecord;

pub fn issue(state: &AppState, client: &ClientRecord) -> Result<TokenResponse, OAuthError> {
    if client.secret_hash.is_none() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "public clients cannot use client_credentials",
        ));
    }
    let (access_token, expires_in) =
        tokens::client_access_token(state, client).map_err(signing_failed)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        id_token: None,
        refresh_token: None,
        scope: Some(String::new()),
    })
}
