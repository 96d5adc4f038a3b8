//! Cookie names and attributes. On an https issuer every cookie is `__Host-` prefixed, Secure,
//! HttpOnly, SameSite=Lax, Path=/, no Domain (ASVS 3.4.1–3.4.5). Only for a plain-http loopback
//! issuer (development) are Secure and, with it, the `__Host-` prefix dropped, since browsers
//! refuse `__Host-` cookies without Secure.

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

#[derive(Clone, Copy, Debug)]
pub enum CookieName {
    /// The browser session: a random token whose hash names a `sessions` row.
    Session,
    /// Binds interactions and CSRF tokens to this browser.
    Browser,
    /// My Profile's own sign-in round trip in progress: state, nonce and PKCE verifier.
    AccountSignin,
}

impl CookieName {
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (CookieName::Session, true) => "__Host-firmgate-session",
            (CookieName::Session, false) => "firmgate-session",
            (CookieName::Browser, true) => "__Host-firmgate-browser",
            (CookieName::Browser, false) => "firmgate-browser",
            (CookieName::AccountSignin, true) => "__Host-firmgate-account-signin",
            (CookieName::AccountSignin, false) => "firmgate-account-signin",
        }
    }
}

/// Reads a cookie value from the request headers.
pub fn read(headers: &HeaderMap, name: CookieName, secure: bool) -> Option<String> {
    let wanted = name.name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == wanted)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value for a browser-session cookie (no Max-Age: it ends with the browser;
/// the server-side record decides how long it is honoured).
pub fn set(name: CookieName, value: &str, secure: bool) -> Option<HeaderValue> {
    let c = Cookie::build((name.name(secure), value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: CookieName, secure: bool) -> Option<HeaderValue> {
    let c = Cookie::build((name.name(secure), ""))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&c.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_use_the_host_prefix_and_all_attributes() {
        let v = set(CookieName::Session, "abc", true).unwrap();
        let v = v.to_str().unwrap();
        assert!(v.starts_with("__Host-firmgate-session=abc"));
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(v.contains(attr), "{v} lacks {attr}");
        }
        assert!(!v.contains("Domain"));
    }

    #[test]
    fn reads_the_named_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; firmgate-session=tok; x=2"),
        );
        assert_eq!(read(&h, CookieName::Session, false).as_deref(), Some("tok"));
        assert_eq!(read(&h, CookieName::Session, true), None);
    }
}
