//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3.1,
//! OIDC Core §9): `client_secret_basic`, `client_secret_post`, or `none` for public clients.
//! A client must use the one method it registered; sending two at once is refused; secrets are
//! compared as namespaced SHA-256 hashes in constant time.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::{constant_time_eq, hash_secret, TokenKind};
use crate::error::OAuthError;
use crate::store::clients::ClientRecord;
use crate::web::params::Params;

pub const METHOD_BASIC: &str = "client_secret_basic";
pub const METHOD_POST: &str = "client_secret_post";
pub const METHOD_NONE: &str = "none";

struct Presented {
    client_id: String,
    secret: Option<String>,
    method: &'static str,
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(s.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// An `Authorization` header that is not `Basic base64(id:secret)`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the Authorization header is not valid Basic credentials")]
pub struct MalformedBasic;

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
pub fn parse_basic(headers: &HeaderMap) -> Result<Option<(String, String)>, MalformedBasic> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| MalformedBasic)?;
    let (scheme, rest) = value.split_once(' ').ok_or(MalformedBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(MalformedBasic);
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| MalformedBasic)?;
    let text = String::from_utf8(decoded).map_err(|_| MalformedBasic)?;
    let (id, secret) = text.split_once(':').ok_or(MalformedBasic)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn presented(headers: &HeaderMap, form: &Params) -> Result<Presented, OAuthError> {
    let basic = parse_basic(headers).map_err(|_| {
        OAuthError::invalid_client(
            "the Authorization header is not valid Basic credentials",
            true,
        )
    })?;
    if form.is_duplicated("client_id") || form.is_duplicated("client_secret") {
        return Err(OAuthError::invalid_request(
            "client credentials were sent more than once",
        ));
    }
    match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_client(
            "use one client authentication method, not two",
            true,
        )),
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id does not match the credentials",
                    true,
                ));
            }
            Ok(Presented {
                client_id: id,
                secret: Some(secret),
                method: METHOD_BASIC,
            })
        }
        (None, Some(secret)) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client_id is required", false))?;
            Ok(Presented {
                client_id: id.to_owned(),
                secret: Some(secret.to_owned()),
                method: METHOD_POST,
            })
        }
        (None, None) => {
            let id = form.get("client_id").ok_or_else(|| {
                OAuthError::invalid_client("client authentication is required", false)
            })?;
            Ok(Presented {
                client_id: id.to_owned(),
                secret: None,
                method: METHOD_NONE,
            })
        }
    }
}

/// Authenticates the calling client or answers `invalid_client` (401).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Params,
    actor: &Actor,
) -> Result<ClientRecord, OAuthError> {
    let p = presented(headers, form)?;
    let used_basic = p.method == METHOD_BASIC;
    let fail = |why: &str| OAuthError::invalid_client(why.to_owned(), used_basic);
    if p.client_id.len() > 128 {
        return Err(fail("unknown client"));
    }
    let Some(client) = state.store.client(&p.client_id).await? else {
        return Err(fail("unknown client"));
    };
    let ok = match (&client.secret_hash, &p.secret) {
        (Some(stored), Some(secret)) if client.auth_method == p.method => {
            constant_time_eq(stored, &hash_secret(TokenKind::ClientSecret, secret))
        }
        (None, None) => client.auth_method == METHOD_NONE,
        _ => false,
    };
    if !ok {
        audit::record(
            &state.store,
            AuditEvent::ClientAuthFailed {
                client_id: &client.id,
            },
            actor,
            state.clock.now(),
        )
        .await?;
        return Err(fail("client authentication failed"));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let raw = STANDARD.encode("my%20id:s%3Acret+x");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        assert_eq!(
            parse_basic(&h).unwrap(),
            Some(("my id".into(), "s:cret x".into()))
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert!(parse_basic(&h).is_err());
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode("a:b"))).unwrap(),
        );
        let form = Params::parse("client_id=a&client_secret=b").unwrap();
        let err = presented(&h, &form).err().unwrap();
        assert_eq!(err.code, "invalid_client");
        assert!(err.authenticate.is_some());
    }
}
