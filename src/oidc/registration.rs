//! Client registration rules. Redirect URIs are stored exactly as given and later compared byte
//! for byte; at registration they must be absolute https URIs (http only for loopback hosts,
//! RFC 9700 §2.6 / RFC 8252 §7.3), with no fragment (RFC 6749 §3.1.2) and no credentials.
//! `javascript:`, `data:` and every other scheme are refused. [SECURITY case 5]

use url::Url;

use crate::config::is_loopback_host;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedirectUriError {
    #[error("{0:?} is not an absolute URI")]
    NotAbsolute(String),
    #[error("{0:?} has a fragment, which redirect URIs must not have")]
    Fragment(String),
    #[error("{0:?} must use https (http is allowed only for 127.0.0.1, [::1] or localhost)")]
    Scheme(String),
    #[error("{0:?} must not contain a user name or password")]
    Credentials(String),
    #[error("{0:?} is longer than 2000 characters")]
    TooLong(String),
}

pub fn check_redirect_uri(text: &str) -> Result<(), RedirectUriError> {
    let owned = || text.to_owned();
    if text.len() > 2000 {
        return Err(RedirectUriError::TooLong(text.chars().take(40).collect()));
    }
    if text.contains('#') {
        return Err(RedirectUriError::Fragment(owned()));
    }
    let url = Url::parse(text).map_err(|_| RedirectUriError::NotAbsolute(owned()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        _ => return Err(RedirectUriError::Scheme(owned())),
    }
    if url.host().is_none() {
        return Err(RedirectUriError::NotAbsolute(owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::Credentials(owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_redirect_uris_are_refused_at_registration() {
        for bad in [
            "https://rp.example/cb#frag",
            "http://rp.example/cb",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            "/relative/cb",
            "https://user:pw@rp.example/cb",
            "ftp://rp.example/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        for good in [
            "https://rp.example/cb",
            "https://rp.example/cb?a=1",
            "http://127.0.0.1:3000/cb",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
    }
}
