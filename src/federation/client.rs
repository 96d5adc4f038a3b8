//! The generic OpenID relying party firmgate is towards each upstream: discovery (cached, and
//! refreshed once when a token names a key we have not seen), the authorization request, and the
//! code exchange with ID token verification. Microsoft's multi-tenant discovery publishes an
//! issuer *template* (`.../{tenantid}/v2.0`), which no off-the-shelf discovery accepts, so the
//! document is fetched here and parsed with the crate's types.

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IdToken, IdTokenClaims, IdTokenVerifier, IssuerUrl, JsonWebKeySet, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use super::{FederationError, UpstreamIdentity, Upstreams};
use crate::clock::UnixTime;
use crate::config::UpstreamSettings;
use crate::policy::sso::UpstreamKind;

/// How long discovery and keys are reused before they are fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// A token signed with an unknown key refetches the keys, but not more often than this.
const KEY_REFRESH_MIN_AGE: Duration = Duration::from_secs(30);

/// Upstream claims firmgate reads beyond the standard ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct UpstreamClaims {
    /// Microsoft: the tenant.
    pub tid: Option<String>,
    /// Microsoft: the immutable object id of the account in its tenant.
    pub oid: Option<String>,
    /// Microsoft: the e-mail's domain is verified by the tenant (an optional claim).
    pub xms_edov: Option<serde_json::Value>,
    /// Google: the Workspace domain.
    pub hd: Option<String>,
}
impl AdditionalClaims for UpstreamClaims {}

pub type UpstreamIdToken = IdToken<
    UpstreamClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub type VerifiedClaims = IdTokenClaims<UpstreamClaims, CoreGenderClaim>;

/// Signature algorithms an upstream ID token may use: asymmetric only. `none` and the HMAC
/// family (keyed with the client secret, the classic confusion) are refused (SECURITY.md 95).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What discovery said.
#[derive(Clone)]
pub struct Discovered {
    pub metadata: CoreProviderMetadata,
    /// The `issuer` exactly as published (Microsoft multi-tenant: with `{tenantid}`).
    pub issuer: String,
    /// RFC 9207: the upstream sends `iss` with its authorization responses.
    pub iss_parameter_supported: bool,
    auth_type: AuthType,
}

impl Discovered {
    pub fn is_template(&self) -> bool {
        self.issuer.contains("{tenantid}")
    }
}

/// What a callback brought and what the round trip kept, to redeem the code.
#[derive(Clone, Copy)]
pub struct Redemption<'a> {
    pub code: &'a str,
    /// RFC 9207 `iss` of the authorization response, if sent.
    pub iss_param: Option<&'a str>,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
}

/// One configured upstream and its cached discovery.
pub struct Provider {
    pub settings: UpstreamSettings,
    cache: Mutex<Option<(Instant, Discovered)>>,
}

/// An authorization request ready to send the browser to, with the secrets to keep.
pub struct Begun {
    pub url: Url,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl Provider {
    pub fn new(settings: UpstreamSettings) -> Provider {
        Provider {
            settings,
            cache: Mutex::new(None),
        }
    }

    fn unreachable(&self, detail: impl std::fmt::Display) -> FederationError {
        FederationError::Unreachable {
            provider: self.settings.label.clone(),
            detail: detail.to_string(),
        }
    }

    /// The discovery document and keys, from the cache when fresh enough.
    pub async fn discovered(
        &self,
        http: &reqwest::Client,
        refresh_older_than: Option<Duration>,
    ) -> Result<Discovered, FederationError> {
        let mut cache = self.cache.lock().await;
        if let Some((at, d)) = cache.as_ref() {
            let limit = refresh_older_than.unwrap_or(DISCOVERY_TTL);
            if at.elapsed() < limit {
                return Ok(d.clone());
            }
        }
        let d = self.discover(http).await?;
        *cache = Some((Instant::now(), d.clone()));
        Ok(d)
    }

    async fn discover(&self, http: &reqwest::Client) -> Result<Discovered, FederationError> {
        let base = self.settings.discovery_url.as_str().trim_end_matches('/');
        let url = format!("{base}/.well-known/openid-configuration");
        let res = http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !res.status().is_success() {
            return Err(self.unreachable(format!("discovery answered {}", res.status())));
        }
        let body = res.bytes().await.map_err(|e| self.unreachable(e))?;
        if body.len() > 1 << 20 {
            return Err(self.unreachable("the discovery document is over 1 MiB"));
        }
        let raw: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| self.unreachable(e))?;
        let issuer = raw
            .get("issuer")
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.unreachable("discovery has no issuer"))?
            .to_owned();
        // OIDC Discovery §4.3: the issuer is the URL discovery was fetched from. Microsoft's
        // multi-tenant endpoints publish a template instead, on the same host.
        let same = issuer.trim_end_matches('/') == base;
        let microsoft_template = self.settings.kind == UpstreamKind::Microsoft
            && issuer.contains("{tenantid}")
            && Url::parse(&issuer.replace("{tenantid}", "t"))
                .ok()
                .is_some_and(|u| u.origin() == self.settings.discovery_url.origin());
        if !same && !microsoft_template {
            return Err(self.unreachable(format!(
                "discovery names the issuer {issuer:?}, not {base:?}"
            )));
        }
        let iss_parameter_supported = raw
            .get("authorization_response_iss_parameter_supported")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let metadata: CoreProviderMetadata =
            serde_json::from_value(raw).map_err(|e| self.unreachable(e))?;
        let jwks = JsonWebKeySet::<CoreJsonWebKey>::fetch_async(metadata.jwks_uri(), http)
            .await
            .map_err(|e| self.unreachable(format!("keys: {e}")))?;
        let basic_ok = metadata
            .token_endpoint_auth_methods_supported()
            .is_none_or(|m| {
                m.contains(&openidconnect::core::CoreClientAuthMethod::ClientSecretBasic)
            });
        Ok(Discovered {
            metadata: metadata.set_jwks(jwks),
            issuer,
            iss_parameter_supported,
            auth_type: if basic_ok {
                AuthType::BasicAuth
            } else {
                AuthType::RequestBody
            },
        })
    }

    fn client(
        &self,
        d: &Discovered,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        FederationError,
    > {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| self.unreachable(e))?;
        Ok(CoreClient::from_provider_metadata(
            d.metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(d.auth_type.clone()))
    }

    /// The authorization request: code flow, PKCE S256, the given state, a fresh nonce.
    pub async fn begin(
        &self,
        upstreams: &Upstreams,
        redirect_uri: &str,
        state: &str,
        login_hint: Option<&str>,
    ) -> Result<Begun, FederationError> {
        let http = upstreams.http().await.map_err(|e| self.unreachable(e))?;
        let d = self.discovered(http, None).await?;
        let client = self.client(&d, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = crate::crypto::bearer::BearerToken::generate()
            .expose()
            .to_owned();
        let state = state.to_owned();
        let nonce_for_request = nonce.clone();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce_for_request),
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 254) {
            request = request.set_login_hint(openidconnect::LoginHint::new(hint.to_owned()));
        }
        let (url, _, _) = request.url();
        Ok(Begun {
            url,
            nonce,
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Redeems the code and verifies the ID token, then reads the identity the way this kind
    /// of upstream means it.
    pub async fn finish(
        &self,
        upstreams: &Upstreams,
        redirect_uri: &str,
        r: &Redemption<'_>,
        now: UnixTime,
    ) -> Result<UpstreamIdentity, FederationError> {
        let Redemption {
            code,
            iss_param,
            nonce,
            pkce_verifier,
        } = *r;
        let http = upstreams.http().await.map_err(|e| self.unreachable(e))?;
        let d = self.discovered(http, None).await?;
        // RFC 9207 §2.4: an `iss` that does not name this upstream is a mix-up; an upstream
        // that promises `iss` must send it. Checked before the code goes anywhere.
        let iss_ok = match iss_param {
            Some(iss) if d.is_template() => microsoft::matches_template(&d.issuer, iss),
            Some(iss) => iss == d.issuer,
            None => !d.iss_parameter_supported,
        };
        if !iss_ok {
            return Err(FederationError::BadCallback);
        }
        let client = self.client(&d, redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| self.unreachable(e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => FederationError::Upstream {
                    provider: self.settings.label.clone(),
                    code: r.error().to_string(),
                },
                other => self.unreachable(other),
            })?;
        let raw = response
            .id_token()
            .ok_or_else(|| FederationError::TokenRejected("no ID token in the response".into()))?
            .to_string();
        let token: UpstreamIdToken = raw
            .parse()
            .map_err(|e| FederationError::TokenRejected(format!("unreadable ID token: {e}")))?;
        let claims = match self.verify(&d, &token, nonce, now) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The upstream may have rotated its keys since we cached them.
                let fresh = self.discovered(http, Some(KEY_REFRESH_MIN_AGE)).await?;
                self.verify(&fresh, &token, nonce, now)
            }
            other => other,
        }
        .map_err(|e| FederationError::TokenRejected(e.to_string()))?;
        if let Some(iss) = iss_param {
            if iss != claims.issuer().as_str() {
                return Err(FederationError::BadCallback);
            }
        }
        match self.settings.kind {
            UpstreamKind::Microsoft => microsoft::identity(&self.settings.name, &d, &claims),
            UpstreamKind::Google => Ok(google::identity(&self.settings.name, &claims)),
            UpstreamKind::Generic => Ok(generic_identity(&self.settings.name, &claims)),
        }
    }

    fn verify(
        &self,
        d: &Discovered,
        token: &UpstreamIdToken,
        nonce: &str,
        now: UnixTime,
    ) -> Result<VerifiedClaims, ClaimsVerificationError> {
        let issuer = IssuerUrl::new(d.issuer.clone())
            .map_err(|e| ClaimsVerificationError::Other(e.to_string()))?;
        // A public-client verifier: the client secret is never a verification key.
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new(self.settings.client_id.clone()),
            issuer,
            d.metadata.jwks().clone(),
        )
        .set_allowed_algs(ALLOWED_ALGS)
        // The template's `iss` is checked against the token's own `tid` afterwards.
        .require_issuer_match(!d.is_template())
        .set_time_fn(move || {
            chrono::DateTime::<chrono::Utc>::from_timestamp(now, 0).unwrap_or_default()
        });
        let expected = Nonce::new(nonce.to_owned());
        token.claims(&verifier, &expected).cloned()
    }
}

/// A generic upstream: `sub` is the identity, `email_verified` must be true to use the e-mail.
fn generic_identity(provider: &str, claims: &VerifiedClaims) -> UpstreamIdentity {
    UpstreamIdentity {
        provider: provider.to_owned(),
        kind: UpstreamKind::Generic,
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        realm: None,
        email: email_of(claims),
        email_verified: claims.email_verified() == Some(true),
        name: name_of(claims),
        amr: amr_of(claims),
    }
}

pub(super) fn email_of(claims: &VerifiedClaims) -> Option<String> {
    claims
        .email()
        .map(|e| e.as_str().trim().to_owned())
        .filter(|e| e.len() <= 254 && crate::policy::sso::email_domain(e).is_some())
}

pub(super) fn name_of(claims: &VerifiedClaims) -> Option<String> {
    claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().chars().take(200).collect())
}

pub(super) fn amr_of(claims: &VerifiedClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .map(|v| v.iter().map(|m| m.as_str().to_owned()).collect())
        .unwrap_or_default()
}

use super::{google, microsoft};
