//! JWS compact signing and verification with firmgate's own keys (josekit does the JOSE work).
//! Verification never fetches a key named by the token (RFC 8725 §3.1): `jku`, `x5u`, an embedded
//! `jwk` and any `crit` header are refused, `alg:none` never matches a key, and the `kid` must
//! name a key firmgate publishes now.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{self, JwsHeader, JwsVerifier};
use sha2::{Digest, Sha256, Sha512};

use super::keys::{KeyError, KeySet, SigningAlg};
use crate::clock::UnixTime;

/// The longest compact JWS firmgate will look at (hints and assertions are small).
pub const MAX_JWT_LEN: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the token could not be signed")]
    Sign,
    #[error("the token is malformed or its signature does not verify")]
    Invalid,
    #[error("the token names a key by a header firmgate never follows")]
    ForbiddenHeader,
}

/// Signs `claims` with the active key of `alg`; `typ` is `JWT` or, for access tokens, `at+jwt`.
pub fn sign(
    keys: &KeySet,
    alg: SigningAlg,
    typ: &str,
    claims: &serde_json::Value,
    now: UnixTime,
) -> Result<String, JwtError> {
    let key = keys.signing_key(alg, now)?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(&key.kid);
    let payload = serde_json::to_vec(claims).map_err(|_| JwtError::Sign)?;
    jws::serialize_compact(&payload, &header, key.signer()).map_err(|_| JwtError::Sign)
}

/// A verified token: its header `typ` and claims.
#[derive(Debug)]
pub struct Verified {
    pub typ: Option<String>,
    pub alg: SigningAlg,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// Verifies a compact JWS against the published keys. Says nothing about the claims.
pub fn verify(keys: &KeySet, token: &str, now: UnixTime) -> Result<Verified, JwtError> {
    if token.len() > MAX_JWT_LEN || token.split('.').count() != 3 {
        return Err(JwtError::Invalid);
    }
    let forbidden = std::cell::Cell::new(false);
    let chosen_alg = std::cell::Cell::new(None);
    let (payload, header) = jws::deserialize_compact_with_selector(token, |header| {
        for name in ["jku", "x5u", "jwk", "x5c", "crit"] {
            if header.claim(name).is_some() {
                forbidden.set(true);
                return Ok(None);
            }
        }
        let Some(kid) = header.key_id() else {
            return Ok(None);
        };
        let Some(key) = keys.verification_key(kid, now) else {
            return Ok(None);
        };
        // The header's alg must be the key's own; `none` or HS256 never match.
        if header.algorithm() != Some(key.alg.as_str()) {
            return Ok(None);
        }
        chosen_alg.set(Some(key.alg));
        Ok(Some(key.verifier() as &dyn JwsVerifier))
    })
    .map_err(|_| {
        if forbidden.get() {
            JwtError::ForbiddenHeader
        } else {
            JwtError::Invalid
        }
    })?;
    let alg = chosen_alg.get().ok_or(JwtError::Invalid)?;
    let claims: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&payload).map_err(|_| JwtError::Invalid)?;
    Ok(Verified {
        typ: header.token_type().map(str::to_owned),
        alg,
        claims,
    })
}

/// `at_hash` / `c_hash`: base64url of the left half of the hash named by the signing `alg`
/// (SHA-256 for RS256 and ES256; SHA-512 for EdDSA, as node-oidc-provider does).
/// [OIDC Core §3.1.3.6, §3.3.2.11]
pub fn half_hash(alg: SigningAlg, value: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => Sha256::digest(value.as_bytes()).to_vec(),
        SigningAlg::EdDsa => Sha512::digest(value.as_bytes()).to_vec(),
    };
    let half = digest.get(..digest.len() / 2).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::{generate, LoadedKey};
    use crate::crypto::secret_box::MasterKey;

    fn keyset() -> KeySet {
        let master = MasterKey::generate();
        KeySet::new(
            SigningAlg::ALL
                .into_iter()
                .map(|alg| {
                    let stored = generate(alg, format!("kid-{alg}"), &master, 0, 0).unwrap();
                    LoadedKey::load(&stored, &master).unwrap()
                })
                .collect(),
        )
    }

    #[test]
    fn at_hash_and_c_hash_match_core_appendix_a() {
        // SECURITY.md: OIDC Core Appendix A example values, recomputed.
        assert_eq!(
            half_hash(
                SigningAlg::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            half_hash(
                SigningAlg::Rs256,
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
            ),
            "LDktKdoQak3Pk0cnXxCltA"
        );
        assert_eq!(half_hash(SigningAlg::EdDsa, "x").len(), 43);
    }

    #[test]
    fn sign_then_verify_each_algorithm() {
        let keys = keyset();
        for alg in SigningAlg::ALL {
            let token = sign(&keys, alg, "JWT", &serde_json::json!({"sub": "a"}), 10).unwrap();
            let v = verify(&keys, &token, 10).unwrap();
            assert_eq!(v.alg, alg);
            assert_eq!(v.claims["sub"], "a");
            assert_eq!(v.typ.as_deref(), Some("JWT"));
        }
    }

    #[test]
    fn alg_none_and_tampering_are_refused() {
        // SECURITY case 47: header changed to alg:none with the signature stripped.
        let keys = keyset();
        let token = sign(
            &keys,
            SigningAlg::Rs256,
            "JWT",
            &serde_json::json!({"sub": "a"}),
            0,
        )
        .unwrap();
        let mut parts = token.split('.');
        let (_, payload) = (parts.next().unwrap(), parts.next().unwrap());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"kid-RS256"}"#);
        assert!(verify(&keys, &format!("{none_header}.{payload}."), 0).is_err());
        let other = URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#);
        let sig = token.rsplit('.').next().unwrap();
        let header = token.split('.').next().unwrap();
        assert!(verify(&keys, &format!("{header}.{other}.{sig}"), 0).is_err());
        assert!(verify(&keys, "not a jwt", 0).is_err());
        assert!(verify(&keys, &"a.".repeat(MAX_JWT_LEN), 0).is_err());
    }

    #[test]
    fn foreign_keys_and_key_bearing_headers_are_refused() {
        // SECURITY case 48: foreign key; jku / x5u / jwk / crit headers.
        let keys = keyset();
        let foreign = keyset();
        let token = sign(
            &foreign,
            SigningAlg::Es256,
            "JWT",
            &serde_json::json!({"sub": "a"}),
            0,
        )
        .unwrap();
        assert!(verify(&keys, &token, 0).is_err());
        for extra in [
            r#""jku":"https://evil.test/jwks""#,
            r#""x5u":"https://evil.test/cert""#,
            r#""jwk":{"kty":"oct","k":"AA"}"#,
            r#""crit":["exp"]"#,
        ] {
            let header =
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","kid":"kid-ES256",{extra}}}"#));
            let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#);
            let forged = format!("{header}.{payload}.AAAA");
            assert!(verify(&keys, &forged, 0).is_err(), "{extra}");
        }
    }
}
