//! One file per grant type of the token endpoint.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use crate::crypto::jwt::JwtError;
use crate::error::OAuthError;

#[allow(clippy::needless_pass_by_value)] // used as map_err(signing_failed)
pub(crate) fn signing_failed(e: JwtError) -> OAuthError {
    tracing::error!(error = %e, "token signing failed");
    OAuthError::server_error()
}
