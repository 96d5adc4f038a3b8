//! OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414): every field true, nothing
//! advertised that firmgate does not implement.

use arc_swap::ArcSwapOption;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::json;

use super::claims::{ACR_VALUES_SUPPORTED, CLAIMS_SUPPORTED};
use super::request::SUPPORTED_SCOPES;
use crate::app::AppState;
use crate::crypto::keys::{AlgorithmSet, SigningAlg};

fn document(state: &AppState, signing: AlgorithmSet) -> serde_json::Value {
    let issuer = state.issuer();
    let algs: Vec<&str> = signing.iter().map(SigningAlg::as_str).collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "acr_values_supported": ACR_VALUES_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["en"],
    })
}

/// The serialised document, rebuilt only when the signing algorithms on offer change (a key
/// rotation or a key becoming active); everything else in it is fixed for the process. Read
/// per request from every core, so an `ArcSwap` rather than a lock (see `Keyring`).
#[derive(Default)]
pub struct DiscoveryCache {
    built: ArcSwapOption<(AlgorithmSet, bytes::Bytes)>,
}

impl std::fmt::Debug for DiscoveryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscoveryCache")
    }
}

fn cached_document(state: &AppState) -> bytes::Bytes {
    let signing = state.keys.signing_algorithms(state.clock.now());
    if let Some((built_for, body)) = state.discovery.built.load().as_deref() {
        if *built_for == signing {
            return body.clone();
        }
    }
    let body = bytes::Bytes::from(document(state, signing).to_string());
    state
        .discovery
        .built
        .store(Some(std::sync::Arc::new((signing, body.clone()))));
    body
}

pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    public_json(cached_document(&state), "public, max-age=300")
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    // Shorter than the key publish lead, so a rotated-in key is seen before it signs.
    public_json(state.keys.jwks(), "public, max-age=60")
}

/// Prebuilt JSON that caches may keep. The header map is sized for the headers every response
/// gets on its way out (`web::headers`, the request id), so it is allocated once.
fn public_json(body: bytes::Bytes, cache_control: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    let mut headers = HeaderMap::with_capacity(crate::web::headers::RESPONSE_HEADERS);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    *response.headers_mut() = headers;
    response
}
