//! The only minter of secrets: bearer tokens (codes, refresh tokens, session ids, CSRF binding
//! secrets, client secrets) and public random identifiers. RFC 6749 §10.10: at least 128 bits of
//! CSPRNG entropy; firmgate uses 256 bits for secrets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret handed to a browser or a client. Its `Debug` never prints the value; only
/// [`BearerToken::hash`] is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

impl BearerToken {
    /// 256 random bits, base64url without padding (43 characters).
    pub fn generate() -> Self {
        BearerToken(random_b64(32))
    }

    /// Wraps a value received from outside, for hashing and comparison.
    pub fn from_presented(value: &str) -> Self {
        BearerToken(value.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores in place of the token: a namespaced SHA-256, so a token of
    /// one kind (a reset link) can never be found in the table of another (codes).
    /// [SECURITY case 29; CVE-2026-4282]
    pub fn hash(&self, namespace: TokenKind) -> String {
        hash_secret(namespace, &self.0)
    }
}

/// The stores a bearer secret can belong to; part of its hash.
#[derive(Clone, Copy, Debug)]
pub enum TokenKind {
    AuthorizationCode,
    RefreshToken,
    Session,
    ClientSecret,
    BrowserBinding,
    PasswordReset,
    RecoveryCode,
    /// The `state` of a round trip to an upstream provider.
    UpstreamState,
}

impl TokenKind {
    fn label(self) -> &'static str {
        match self {
            TokenKind::AuthorizationCode => "code",
            TokenKind::RefreshToken => "refresh",
            TokenKind::Session => "session",
            TokenKind::ClientSecret => "client-secret",
            TokenKind::BrowserBinding => "browser",
            TokenKind::PasswordReset => "password-reset",
            TokenKind::RecoveryCode => "mfa-recovery",
            TokenKind::UpstreamState => "upstream-state",
        }
    }
}

pub fn hash_secret(kind: TokenKind, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"firmgate:");
    h.update(kind.label().as_bytes());
    h.update(b":");
    h.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Constant-time comparison of two strings (lengths may leak, contents do not).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// A public random identifier (not a secret): 128 bits, base64url, never starting with `-`,
/// so that `--firm ID` on the command line is never read as a flag (about one id in 64 did).
pub fn random_id() -> String {
    loop {
        let id = random_b64(16);
        if !id.starts_with('-') {
            return id;
        }
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_start_with_a_hyphen() {
        for _ in 0..10_000 {
            let id = random_id();
            assert!(!id.starts_with('-'), "{id}");
            assert_eq!(id.len(), 22);
        }
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = BearerToken::generate();
        let b = BearerToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(format!("{a:?}").contains("redacted"));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn hashes_are_namespaced() {
        let t = BearerToken::generate();
        assert_ne!(
            t.hash(TokenKind::AuthorizationCode),
            t.hash(TokenKind::RefreshToken)
        );
        assert_eq!(
            t.hash(TokenKind::Session),
            BearerToken::from_presented(t.expose()).hash(TokenKind::Session)
        );
    }

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
