//! firmgate as a relying party of itself. The demo and My Profile send the browser through
//! `/authorize` like any application, so the one sign-in journey (and every policy in it)
//! applies to them too, and redeem the code in process through the same grant code the token
//! endpoint uses. What the round trip needs between the two legs travels in a cookie.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::audit::Actor;
use crate::crypto::bearer::BearerToken;
use crate::error::{OAuthError, PageError};
use crate::oidc::grants::authorization_code;
use crate::oidc::token::TokenResponse;
use crate::store::clients::ClientRecord;
use crate::web::params::Params;

/// One round trip in progress: `state` and `nonce` to match, the PKCE verifier to redeem with.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    verifier: String,
}

impl Pending {
    pub fn new() -> Self {
        Pending {
            state: BearerToken::generate().expose().to_owned(),
            nonce: BearerToken::generate().expose().to_owned(),
            verifier: BearerToken::generate().expose().to_owned(),
        }
    }

    /// The authorization request (code flow, PKCE S256) that starts the round trip.
    pub fn authorize_url(
        &self,
        issuer: &str,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> Result<String, PageError> {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()));
        let mut url =
            url::Url::parse(&format!("{issuer}/authorize")).map_err(|_| PageError::internal())?;
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        Ok(url.into())
    }

    pub fn to_cookie_value(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn from_cookie_value(value: &str) -> Option<Self> {
        URL_SAFE_NO_PAD
            .decode(value)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// The pending round trip, only if the callback's `state` is the one this browser sent.
    pub fn matching(value: Option<&str>, returned_state: Option<&str>) -> Option<Self> {
        value
            .and_then(Self::from_cookie_value)
            .filter(|p| returned_state == Some(p.state.as_str()))
    }
}

impl Default for Pending {
    fn default() -> Self {
        Self::new()
    }
}

/// Redeems the code exactly as a client at the token endpoint would.
pub async fn redeem(
    state: &AppState,
    client: &ClientRecord,
    redirect_uri: &str,
    pending: &Pending,
    code: &str,
) -> Result<TokenResponse, OAuthError> {
    let form = Params::parse(
        &form_urlencoded::Serializer::new(String::new())
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", &pending.verifier)
            .finish(),
    )
    .map_err(|_| OAuthError::invalid_request("the code could not be read"))?;
    authorization_code::redeem(state, client, &form, &Actor::default()).await
}
