//! Google. The identity is `sub`; `email` is used only with `email_verified` true; the
//! Workspace domain is the `hd` claim of the token (the `hd` request parameter is only a hint
//! to Google's account chooser and proves nothing, SECURITY.md 94). A consumer account has no
//! `hd`, so it matches no firm's domain.

use super::client::{amr_of, email_of, name_of, VerifiedClaims};
use super::UpstreamIdentity;
use crate::policy::sso::UpstreamKind;

pub fn identity(provider: &str, claims: &VerifiedClaims) -> UpstreamIdentity {
    UpstreamIdentity {
        provider: provider.to_owned(),
        kind: UpstreamKind::Google,
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        realm: claims
            .additional_claims()
            .hd
            .as_deref()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty()),
        email: email_of(claims),
        email_verified: claims.email_verified() == Some(true),
        name: name_of(claims),
        amr: amr_of(claims),
    }
}
