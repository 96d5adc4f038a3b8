//! Upstream OpenID providers: firmgate as a relying party of Microsoft (Entra ID, multi-tenant),
//! Google and any generic OpenID provider, through the `openidconnect` crate.
//!
//! - [`client`]: discovery (cached), the authorization request (code + PKCE S256, state, nonce)
//!   and the code exchange with the ID token's verification (signature from the upstream's
//!   JWKS, asymmetric algorithms only, `iss`, `aud`, `exp`, `nonce`).
//! - [`microsoft`] and [`google`]: what each upstream's claims mean (tenant template and
//!   `tid` + `oid`; `hd` and `email_verified`), turned into one [`UpstreamIdentity`].
//! - [`linking`]: who a verified upstream account is, pure: an existing link, a safe link to an
//!   existing person by a verified e-mail, a just-in-time member, or a refusal.

pub mod client;
pub mod google;
pub mod linking;
pub mod microsoft;
pub mod people;
pub mod round_trip;

use std::sync::Arc;

use crate::config::UpstreamSettings;
use crate::policy::sso::{UpstreamKind, UpstreamUse};

/// What a verified upstream ID token says about the person, whatever the upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The configured provider name.
    pub provider: String,
    pub kind: UpstreamKind,
    /// The token's `iss` (for Microsoft: the tenant's issuer).
    pub issuer: String,
    /// The stable identifier: Microsoft `oid`, otherwise `sub`.
    pub subject: String,
    /// Microsoft `tid`, Google `hd`.
    pub realm: Option<String>,
    pub email: Option<String>,
    /// The upstream vouches for the e-mail (Google `email_verified`, Microsoft `xms_edov`).
    pub email_verified: bool,
    pub name: Option<String>,
    /// The upstream's `amr` values.
    pub amr: Vec<String>,
}

impl UpstreamIdentity {
    pub fn as_use(&self) -> UpstreamUse<'_> {
        UpstreamUse {
            kind: self.kind,
            provider: &self.provider,
            realm: self.realm.as_deref(),
        }
    }

    /// The upstream says more than one factor was used (RFC 8176 `mfa`).
    pub fn mfa_asserted(&self) -> bool {
        self.amr.iter().any(|m| m == "mfa")
    }
}

/// Why an upstream round trip failed; every variant is shown as a page and audited.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{provider} could not be reached or answered unexpectedly: {detail}")]
    Unreachable { provider: String, detail: String },
    #[error("{provider} returned the error {code:?}")]
    Upstream { provider: String, code: String },
    #[error("the callback is missing the code or carries an unexpected issuer")]
    BadCallback,
    #[error("the ID token was refused: {0}")]
    TokenRejected(String),
    #[error("the account's tenant or domain is missing or not allowed: {0}")]
    WrongRealm(String),
}

impl FederationError {
    /// The audit reason.
    pub fn reason(&self) -> &'static str {
        match self {
            FederationError::Unreachable { .. } => "upstream_unreachable",
            FederationError::Upstream { .. } => "upstream_error",
            FederationError::BadCallback => "bad_callback",
            FederationError::TokenRejected(_) => "token_rejected",
            FederationError::WrongRealm(_) => "wrong_realm",
        }
    }
}

/// The configured upstreams and one HTTP client for all of them (also back-channel logout's).
#[derive(Clone)]
pub struct Upstreams {
    providers: Arc<Vec<Arc<client::Provider>>>,
    http: Arc<tokio::sync::OnceCell<reqwest::Client>>,
}

/// The TLS back end could not be set up, so nothing can be called out to.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for outgoing calls: {0}")]
pub struct HttpClientError(String);

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.providers.iter().map(|p| &p.settings.name))
            .finish()
    }
}

impl Upstreams {
    pub fn new(settings: &[UpstreamSettings]) -> Upstreams {
        Upstreams {
            providers: Arc::new(
                settings
                    .iter()
                    .map(|s| Arc::new(client::Provider::new(s.clone())))
                    .collect(),
            ),
            http: Arc::default(),
        }
    }

    /// (name, label) of every configured upstream, in button order.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.settings.name.clone(), p.settings.label.clone()))
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&Arc<client::Provider>> {
        self.providers.iter().find(|p| p.settings.name == name)
    }

    pub fn label_of(&self, name: &str) -> String {
        self.get(name).map_or_else(
            || match UpstreamKind::of(name) {
                UpstreamKind::Microsoft => "Microsoft".to_owned(),
                UpstreamKind::Google => "Google".to_owned(),
                UpstreamKind::Generic => name.to_owned(),
            },
            |p| p.settings.label.clone(),
        )
    }

    /// The HTTP client, built on first use rather than at start: building it loads the
    /// system's CA certificates (485,000 allocations in OpenSSL, and 2 MB of the idle server's
    /// resident memory), which a node nobody signs in to through an upstream, with no
    /// back-channel logout, never needs. Built on a blocking thread, since loading takes tens
    /// of milliseconds; every caller that arrives meanwhile waits for the same client.
    pub async fn http(&self) -> Result<&reqwest::Client, HttpClientError> {
        self.http
            .get_or_try_init(|| async {
                tokio::task::spawn_blocking(build_http_client)
                    .await
                    .map_err(|e| HttpClientError(e.to_string()))?
            })
            .await
    }
}

fn build_http_client() -> Result<reqwest::Client, HttpClientError> {
    // No redirects (the openidconnect crate's advice against SSRF), and bounded waits so a slow
    // upstream cannot hold a sign-in for long.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| HttpClientError(e.to_string()))
}
