//! The protocol engine: OIDC Core 1.0, Discovery 1.0, RFC 6749 / 7636 / 7009 / 7662 / 9068 /
//! 9207, RP-Initiated Logout 1.0. It knows nothing about passwords or pages; the sign-in journey
//! lives in `signin`.

pub mod access_token;
pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_auth;
pub mod discovery;
pub mod grants;
pub mod introspect;
pub mod issue;
pub mod logout;
pub mod own_client;
pub mod registration;
pub mod request;
pub mod response;
pub mod revoke;
pub mod token;
pub mod tokens;
pub mod userinfo;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/jwks", get(discovery::jwks))
        .route(
            "/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route("/token", post(token::token))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/introspect", post(introspect::introspect))
        .route("/revoke", post(revoke::revoke))
        .route(
            "/logout",
            get(logout::end_session).post(logout::end_session),
        )
        .route("/logout/confirm", post(logout::confirm))
}
