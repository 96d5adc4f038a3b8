//! One upstream round trip, start to callback: the state (stored hashed, single use, bound to
//! the browser and to the interaction or the person linking), the nonce and the PKCE verifier
//! (sealed under the master key), and the callback's checks in order: state, provider (a code
//! meant for another upstream is a mix-up), the upstream's own error, then the code exchange.

use url::Url;

use super::{FederationError, UpstreamIdentity};
use crate::app::AppState;
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::store::sso::{StateRefusal, UpstreamLogin};
use crate::store::StoreError;

/// How long a person may spend at the upstream.
const ROUND_TRIP_TTL: i64 = 600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Link,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "signin",
            Purpose::Link => "link",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RoundTripError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Federation(#[from] FederationError),
    #[error("no upstream named {0} is configured")]
    UnknownProvider(String),
    #[error("the callback's state was refused: {0:?}")]
    State(StateRefusal),
    /// The state was issued for another upstream than the callback it came back to.
    #[error("the callback came back to another provider than it was sent to")]
    ProviderMismatch,
    /// The upstream answered with an error (`access_denied`, ...).
    #[error("the upstream answered {0}")]
    Denied(String),
    #[error("cannot seal or open a round trip secret")]
    Seal,
}

impl RoundTripError {
    pub fn reason(&self) -> &'static str {
        match self {
            RoundTripError::Store(_) | RoundTripError::Seal => "internal",
            RoundTripError::Federation(f) => f.reason(),
            RoundTripError::UnknownProvider(_) => "unknown_provider",
            RoundTripError::State(s) => s.reason(),
            RoundTripError::ProviderMismatch => "provider_mismatch",
            RoundTripError::Denied(_) => "upstream_denied",
        }
    }
}

/// firmgate's redirect URI at an upstream: one per provider (RFC 9700 §4.4 against mix-up).
pub fn callback_url(state: &AppState, provider: &str) -> String {
    format!("{}/sso/{provider}/callback", state.issuer())
}

/// Starts a round trip and returns where to send the browser.
pub async fn begin(
    state: &AppState,
    provider_name: &str,
    purpose: Purpose,
    browser_hash: &str,
    interaction_id: Option<&str>,
    person_id: Option<&str>,
    login_hint: Option<&str>,
) -> Result<Url, RoundTripError> {
    let provider = state
        .upstreams
        .get(provider_name)
        .ok_or_else(|| RoundTripError::UnknownProvider(provider_name.to_owned()))?;
    let state_token = BearerToken::generate();
    let begun = provider
        .begin(
            &state.upstreams,
            &callback_url(state, provider_name),
            state_token.expose(),
            login_hint,
        )
        .await?;
    let key = &state.settings.master_key;
    let now = state.clock.now();
    state
        .store
        .insert_upstream_login(&UpstreamLogin {
            state_hash: state_token.hash(TokenKind::UpstreamState),
            provider: provider_name.to_owned(),
            browser_hash: browser_hash.to_owned(),
            purpose: purpose.as_str().to_owned(),
            interaction_id: interaction_id.map(str::to_owned),
            person_id: person_id.map(str::to_owned),
            nonce_sealed: key
                .seal("upstream-nonce", begun.nonce.as_bytes())
                .map_err(|_| RoundTripError::Seal)?,
            pkce_verifier_sealed: key
                .seal("upstream-pkce", begun.pkce_verifier.as_bytes())
                .map_err(|_| RoundTripError::Seal)?,
            created_at: now,
            expires_at: now + ROUND_TRIP_TTL,
            used_at: None,
        })
        .await?;
    Ok(begun.url)
}

/// What came back to `/sso/{provider}/callback`.
#[derive(Debug, Default)]
pub struct Callback<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub iss: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Checks a callback and redeems its code. Returns the round trip it belongs to (when the state
/// was good, even if what followed failed, so the caller knows the purpose and can audit) and
/// the verified identity or the reason.
pub async fn complete(
    state: &AppState,
    provider_name: &str,
    browser_hash: &str,
    callback: &Callback<'_>,
) -> (
    Option<UpstreamLogin>,
    Result<UpstreamIdentity, RoundTripError>,
) {
    let presented = callback
        .state
        .filter(|s| s.len() == 43)
        .map(|s| BearerToken::from_presented(s).hash(TokenKind::UpstreamState));
    let Some(state_hash) = presented else {
        return (None, Err(RoundTripError::State(StateRefusal::Unknown)));
    };
    let login = match state
        .store
        .take_upstream_login(&state_hash, browser_hash, state.clock.now())
        .await
    {
        Ok(Ok(login)) => login,
        Ok(Err(refusal)) => return (None, Err(RoundTripError::State(refusal))),
        Err(e) => return (None, Err(e.into())),
    };
    let result = redeem(state, provider_name, &login, callback).await;
    (Some(login), result)
}

async fn redeem(
    state: &AppState,
    provider_name: &str,
    login: &UpstreamLogin,
    callback: &Callback<'_>,
) -> Result<UpstreamIdentity, RoundTripError> {
    if login.provider != provider_name {
        return Err(RoundTripError::ProviderMismatch);
    }
    let provider = state
        .upstreams
        .get(provider_name)
        .ok_or_else(|| RoundTripError::UnknownProvider(provider_name.to_owned()))?;
    if let Some(error) = callback.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(RoundTripError::Denied(code));
    }
    let code = callback
        .code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or(FederationError::BadCallback)?;
    let key = &state.settings.master_key;
    let open = |purpose: &str, sealed: &str| -> Result<String, RoundTripError> {
        key.open(purpose, sealed)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(RoundTripError::Seal)
    };
    let nonce = open("upstream-nonce", &login.nonce_sealed)?;
    let verifier = open("upstream-pkce", &login.pkce_verifier_sealed)?;
    Ok(provider
        .finish(
            &state.upstreams,
            &callback_url(state, provider_name),
            &super::client::Redemption {
                code,
                iss_param: callback.iss,
                nonce: &nonce,
                pkce_verifier: &verifier,
            },
            state.clock.now(),
        )
        .await?)
}
