//! OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414): every field true, nothing
//! advertised that firmgate does not implement.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use super::claims::{ACR_VALUES_SUPPORTED, CLAIMS_SUPPORTED};
use super::request::SUPPORTED_SCOPES;
use crate::app::AppState;
use crate::crypto::keys::SigningAlg;

pub fn document(state: &AppState) -> serde_json::Value {
    let issuer = state.issuer();
    let algs: Vec<&str> = state
        .keys
        .current()
        .algorithms(state.clock.now())
        .into_iter()
        .map(|a| a.as_str())
        .collect();
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
/// rotation or a key becoming active); everything else in it is fixed for the process.
#[derive(Default)]
pub struct DiscoveryCache {
    built: std::sync::RwLock<Option<(Vec<SigningAlg>, bytes::Bytes)>>,
}

impl std::fmt::Debug for DiscoveryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscoveryCache")
    }
}

fn cached_document(state: &AppState) -> bytes::Bytes {
    let algs = state.keys.current().algorithms(state.clock.now());
    if let Ok(guard) = state.discovery.built.read() {
        if let Some((cached_algs, body)) = guard.as_ref() {
            if *cached_algs == algs {
                return body.clone();
            }
        }
    }
    let body = bytes::Bytes::from(document(state).to_string());
    if let Ok(mut guard) = state.discovery.built.write() {
        *guard = Some((algs, body.clone()));
    }
    body
}

pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        cached_document(&state),
    )
}

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            // Shorter than the key publish lead, so a rotated-in key is seen before it signs.
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        state.keys.jwks(),
    )
}
