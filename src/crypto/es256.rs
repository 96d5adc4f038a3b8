//! The ES256 signer (RFC 7518 §3.4): ECDSA P-256 with SHA-256, the signature as R and S in 32
//! bytes each. josekit's own signer builds an OpenSSL `EVP` signing context for every token,
//! whose algorithm look-ups cost about a quarter of each signature here (32k against 43k signs a
//! second on one core); this one hashes with sha2 and signs the digest with the key's `EC_KEY`
//! directly. josekit still does all of the JOSE work around it, and verifies.

use josekit::jws::{JwsAlgorithm, JwsSigner, ES256};
use josekit::JoseError;
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use sha2::Digest;

/// R and S, each a P-256 scalar.
const COMPONENT_LEN: i32 = 32;

#[derive(Clone)]
pub struct Es256Signer {
    key: EcKey<Private>,
}

impl std::fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256Signer([private key])")
    }
}

impl Es256Signer {
    /// From a PKCS#8 DER private key (as `ES256.generate_key_pair` makes them); anything but a
    /// P-256 key is refused.
    pub fn from_der(der: &[u8]) -> Result<Self, JoseError> {
        let key = PKey::private_key_from_der(der)
            .and_then(|k| k.ec_key())
            .map_err(|e| JoseError::InvalidKeyFormat(e.into()))?;
        if key.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
            let wrong_curve = std::io::Error::other("an ES256 key must be on P-256");
            return Err(JoseError::InvalidKeyFormat(wrong_curve.into()));
        }
        key.check_key()
            .map_err(|e| JoseError::InvalidKeyFormat(e.into()))?;
        Ok(Es256Signer { key })
    }
}

impl JwsSigner for Es256Signer {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn signature_len(&self) -> usize {
        2 * COMPONENT_LEN as usize
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        // sha2 rather than OpenSSL's one-shot digest, which looks the algorithm up every call.
        let digest = sha2::Sha256::digest(message);
        let signature = EcdsaSig::sign(&digest, &self.key)
            .and_then(|sig| {
                let mut out = sig.r().to_vec_padded(COMPONENT_LEN)?;
                out.extend(sig.s().to_vec_padded(COMPONENT_LEN)?);
                Ok(out)
            })
            .map_err(|e| JoseError::InvalidSignature(e.into()))?;
        Ok(signature)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::{self, JwsHeader};

    fn key_pair() -> josekit::jwk::alg::ec::EcKeyPair {
        ES256.generate_key_pair().unwrap()
    }

    /// What it signs, josekit's ES256 verifier accepts, under the key's public JWK; an altered
    /// payload or another key's JWK does not verify.
    #[test]
    fn tokens_it_signs_verify_with_josekit_and_only_as_signed() {
        let pair = key_pair();
        let signer = Es256Signer::from_der(&pair.to_der_private_key()).unwrap();
        let verifier = ES256.verifier_from_jwk(&pair.to_jwk_public_key()).unwrap();
        let mut header = JwsHeader::new();
        header.set_key_id("k1");
        for n in 0..50 {
            let payload = format!(r#"{{"sub":"person-{n}"}}"#);
            let token = jws::serialize_compact(payload.as_bytes(), &header, &signer).unwrap();
            let (read, _) = jws::deserialize_compact(&token, &verifier).unwrap();
            assert_eq!(read, payload.as_bytes());
            // RFC 7518 §3.4: R and S, 32 bytes each, whatever their leading zeros.
            let sig = token.rsplit('.').next().unwrap();
            let raw =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
                    .unwrap();
            assert_eq!(raw.len(), 64);
        }
        let token = jws::serialize_compact(br#"{"sub":"a"}"#, &header, &signer).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"sub":"b"}"#,
        );
        parts[1] = &other;
        assert!(jws::deserialize_compact(parts.join("."), &verifier).is_err());
        let stranger = ES256
            .verifier_from_jwk(&key_pair().to_jwk_public_key())
            .unwrap();
        assert!(jws::deserialize_compact(&token, &stranger).is_err());
    }

    #[test]
    fn keys_not_on_p256_are_refused() {
        let p384 = josekit::jws::ES384.generate_key_pair().unwrap();
        assert!(Es256Signer::from_der(&p384.to_der_private_key()).is_err());
        let rsa = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        assert!(Es256Signer::from_der(&rsa.to_der_private_key()).is_err());
        assert!(Es256Signer::from_der(b"not a key").is_err());
    }
}
