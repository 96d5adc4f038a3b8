//! The browser binding: a random secret in a cookie, the anchor for interactions (they store its
//! hash) and for CSRF tokens (derived from it). A page submitted from another browser, or a URL
//! sent by an attacker to continue their own interaction, does not match. [SECURITY case 58, 60]

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::cookies::{self, CookieName};
use crate::app::AppState;
use crate::crypto::bearer::{constant_time_eq, BearerToken, TokenKind};
use crate::error::PageError;
use crate::web::params::Params;

#[derive(Debug, Clone)]
pub struct Browser {
    secret: BearerToken,
    /// The client's address (socket, or a trusted proxy's forwarded value; `None` when that
    /// value is unparsable), for the firm's IP allowlist.
    pub ip: Option<std::net::IpAddr>,
    /// Set when the cookie was just minted and must be sent back.
    pub set_cookie: Option<HeaderValue>,
}

impl Browser {
    /// What interactions store to recognise this browser.
    pub fn binding_hash(&self) -> String {
        self.secret.hash(TokenKind::BrowserBinding)
    }

    /// The CSRF token for forms in this browser: derived from its secret, never stored.
    pub fn csrf_token(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"firmgate:csrf:");
        h.update(self.secret.expose().as_bytes());
        URL_SAFE_NO_PAD.encode(h.finalize())
    }

    /// Checks a submitted CSRF token in constant time.
    pub fn csrf_ok(&self, submitted: Option<&str>) -> bool {
        submitted.is_some_and(|s| constant_time_eq(s, &self.csrf_token()))
    }

    /// Parses a submitted form and checks its CSRF token: a 403 page, and no state change,
    /// when it is missing or belongs to another browser.
    pub fn csrf_form(&self, body: &str) -> Result<Params, PageError> {
        let form = Params::parse(body)
            .map_err(|_| PageError::bad_request("Invalid form", "The form had too many fields."))?;
        if !self.csrf_ok(form.get("csrf")) {
            return Err(PageError::csrf());
        }
        Ok(form)
    }
}

impl FromRequestParts<AppState> for Browser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secure = state.settings.cookies_secure();
        let Ok(super::client_ip::ClientIp(ip)) =
            super::client_ip::ClientIp::from_request_parts(parts, state).await;
        match cookies::read(&parts.headers, CookieName::Browser, secure) {
            Some(value) if value.len() == 43 => Ok(Browser {
                secret: BearerToken::from_presented(&value),
                ip,
                set_cookie: None,
            }),
            _ => {
                let secret = BearerToken::generate();
                let set_cookie = cookies::set(CookieName::Browser, secret.expose(), secure);
                Ok(Browser {
                    secret,
                    ip,
                    set_cookie,
                })
            }
        }
    }
}
