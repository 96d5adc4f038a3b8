//! One file per grant type of the token endpoint.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use crate::error::OAuthError;
use crate::crypto::jwt::JwtError;

pub(crate) fn signing_failed(e: JwtError) -> OAuthError {
    tracing::error!(error = %e, "token signing failed");
    OAuthError::server_error()
}
