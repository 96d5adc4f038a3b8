//! Signing keys: generation (RS256 2048-bit, ES256, EdDSA/Ed25519), the in-memory key set that
//! signs and verifies, and the published JWKS. Private parts are stored sealed under the master
//! key. Rotation publishes a key before it signs anything (`activates_at`) and keeps a retired
//! key published until every token it signed has expired (`expires_at`). [DESIGN "Keys"]

use std::sync::Arc;

use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, RS256};

use super::es256::Es256Signer;
use super::secret_box::{MasterKey, SecretBoxError};
use crate::clock::UnixTime;

pub const SEALED_KEY_PURPOSE: &str = "firmgate:signing-key";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Rs256,
    Es256,
    EdDsa,
}

/// A set of signing algorithms, kept without allocating (discovery checks it per request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgorithmSet([bool; 3]);

impl AlgorithmSet {
    pub fn iter(self) -> impl Iterator<Item = SigningAlg> {
        SigningAlg::ALL
            .into_iter()
            .zip(self.0)
            .filter_map(|(alg, present)| present.then_some(alg))
    }
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(text: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation or loading failed: {0}")]
    Jose(String),
    #[error(transparent)]
    Sealed(#[from] SecretBoxError),
    #[error("no active {0} signing key")]
    NoActiveKey(SigningAlg),
}

#[allow(clippy::needless_pass_by_value)] // used as map_err(jose)
fn jose(e: josekit::JoseError) -> KeyError {
    KeyError::Jose(e.to_string())
}

/// A key as stored: public JWK in clear, private key sealed.
#[derive(Clone, Debug)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub public_jwk: String,
    pub private_sealed: String,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retires_at: Option<UnixTime>,
    pub expires_at: Option<UnixTime>,
}

/// Generates a fresh key of `alg`, sealed under `master`.
pub fn generate(
    alg: SigningAlg,
    kid: String,
    master: &MasterKey,
    now: UnixTime,
    activates_at: UnixTime,
) -> Result<StoredKey, KeyError> {
    let (der, mut jwk) = match alg {
        SigningAlg::Rs256 => {
            let pair = RS256.generate_key_pair(2048).map_err(jose)?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
        SigningAlg::Es256 => {
            let pair = ES256.generate_key_pair().map_err(jose)?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
        SigningAlg::EdDsa => {
            let pair = EdDSA.generate_key_pair(EdCurve::Ed25519).map_err(jose)?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
    };
    jwk.set_key_id(kid.clone());
    jwk.set_algorithm(alg.as_str());
    jwk.set_key_use("sig");
    Ok(StoredKey {
        kid,
        alg,
        public_jwk: jwk.to_string(),
        private_sealed: master.seal(SEALED_KEY_PURPOSE, &der)?,
        created_at: now,
        activates_at,
        retires_at: None,
        expires_at: None,
    })
}

/// A key ready to use: signer and verifier built once, and shared by every later load of the
/// same stored key (`reloaded`).
pub struct LoadedKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub public_jwk: Jwk,
    pub activates_at: UnixTime,
    pub retires_at: Option<UnixTime>,
    pub expires_at: Option<UnixTime>,
    /// The stored key this was loaded from, as stored (sealed): what `reloaded` compares.
    private_sealed: String,
    signer: Arc<dyn JwsSigner>,
    verifier: Arc<dyn JwsVerifier>,
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl LoadedKey {
    pub fn load(stored: &StoredKey, master: &MasterKey) -> Result<Self, KeyError> {
        let der = master.open(SEALED_KEY_PURPOSE, &stored.private_sealed)?;
        let public_jwk = Jwk::from_bytes(stored.public_jwk.as_bytes()).map_err(jose)?;
        let (signer, verifier): (Arc<dyn JwsSigner>, Arc<dyn JwsVerifier>) = match stored.alg {
            SigningAlg::Rs256 => (
                Arc::new(RS256.signer_from_der(&der).map_err(jose)?),
                Arc::new(RS256.verifier_from_jwk(&public_jwk).map_err(jose)?),
            ),
            SigningAlg::Es256 => (
                Arc::new(Es256Signer::from_der(&der).map_err(jose)?),
                Arc::new(ES256.verifier_from_jwk(&public_jwk).map_err(jose)?),
            ),
            SigningAlg::EdDsa => (
                Arc::new(EdDSA.signer_from_der(&der).map_err(jose)?),
                Arc::new(EdDSA.verifier_from_jwk(&public_jwk).map_err(jose)?),
            ),
        };
        Ok(LoadedKey {
            kid: stored.kid.clone(),
            alg: stored.alg,
            public_jwk,
            activates_at: stored.activates_at,
            retires_at: stored.retires_at,
            expires_at: stored.expires_at,
            private_sealed: stored.private_sealed.clone(),
            signer,
            verifier,
        })
    }

    /// This key again with `stored`'s dates, when `stored` is the same key (kid, algorithm,
    /// public and sealed private parts): the reload every 10 s then decrypts and decodes only
    /// keys it has not seen. Decoding all three keys again took about 15,000 allocations in
    /// OpenSSL's decoders each time, on a server otherwise idle. Dates change on rotation; the
    /// key never does.
    pub fn reloaded(&self, stored: &StoredKey) -> Option<LoadedKey> {
        let same = self.kid == stored.kid
            && self.alg == stored.alg
            && self.private_sealed == stored.private_sealed
            && Jwk::from_bytes(stored.public_jwk.as_bytes()).is_ok_and(|j| j == self.public_jwk);
        same.then(|| LoadedKey {
            kid: self.kid.clone(),
            alg: self.alg,
            public_jwk: self.public_jwk.clone(),
            activates_at: stored.activates_at,
            retires_at: stored.retires_at,
            expires_at: stored.expires_at,
            private_sealed: self.private_sealed.clone(),
            signer: self.signer.clone(),
            verifier: self.verifier.clone(),
        })
    }

    pub fn signer(&self) -> &dyn JwsSigner {
        self.signer.as_ref()
    }

    pub fn verifier(&self) -> &dyn JwsVerifier {
        self.verifier.as_ref()
    }

    /// Published in the JWKS: from creation until `expires_at`.
    pub fn is_published(&self, now: UnixTime) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }

    /// Allowed to sign: after `activates_at`, before `retires_at`.
    pub fn may_sign(&self, now: UnixTime) -> bool {
        now >= self.activates_at && self.retires_at.is_none_or(|t| now < t)
    }
}

/// Every loaded key, plus the JWKS document built once per load.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<LoadedKey>,
}

impl KeySet {
    pub fn new(mut keys: Vec<LoadedKey>) -> Self {
        // Newest first, so the signing key of an algorithm is the first that may sign.
        keys.sort_by_key(|k| std::cmp::Reverse(k.activates_at));
        KeySet { keys }
    }

    pub fn signing_key(&self, alg: SigningAlg, now: UnixTime) -> Result<&LoadedKey, KeyError> {
        self.keys
            .iter()
            .find(|k| k.alg == alg && k.may_sign(now))
            .ok_or(KeyError::NoActiveKey(alg))
    }

    /// A key that may verify a token: published now (retired keys stay until expiry).
    pub fn verification_key(&self, kid: &str, now: UnixTime) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .find(|k| k.kid == kid && k.is_published(now))
    }

    /// The JWKS document: public parts only, each with `kid`, `use` and `alg`.
    pub fn jwks_json(&self, now: UnixTime) -> String {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .filter(|k| k.is_published(now))
            .map(|k| serde_json::Value::Object(k.public_jwk.as_ref().clone()))
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// The algorithms that have a key that may sign now.
    pub fn algorithms(&self, now: UnixTime) -> AlgorithmSet {
        AlgorithmSet(SigningAlg::ALL.map(|alg| self.signing_key(alg, now).is_ok()))
    }

    /// `stored` as already loaded here (see `LoadedKey::reloaded`).
    pub fn reloaded(&self, stored: &StoredKey) -> Option<LoadedKey> {
        self.keys.iter().find_map(|k| k.reloaded(stored))
    }

    /// How many keys are loaded (published or retired-but-published).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_reuses_a_known_key_with_its_new_dates_and_loads_any_other() {
        let master = MasterKey::generate();
        let stored = generate(SigningAlg::Es256, "k-1".into(), &master, 100, 100).unwrap();
        let set = KeySet::new(vec![LoadedKey::load(&stored, &master).unwrap()]);
        let first = set.signing_key(SigningAlg::Es256, 100).unwrap();

        // Rotation retires the key: the same key, its new dates, no second decoding.
        let retired = StoredKey {
            retires_at: Some(500),
            expires_at: Some(900),
            ..stored.clone()
        };
        let again = set.reloaded(&retired).expect("the same key is reused");
        assert!(Arc::ptr_eq(&again.signer, &first.signer));
        assert!(Arc::ptr_eq(&again.verifier, &first.verifier));
        assert_eq!((again.retires_at, again.expires_at), (Some(500), Some(900)));
        assert!(again.may_sign(499) && !again.may_sign(500));
        // It still signs, and its signature checks with the first load's verifier.
        let signature = again.signer().sign(b"payload").unwrap();
        first.verifier().verify(b"payload", &signature).unwrap();

        // Another key under the same kid, or the same key with another public part or
        // algorithm, is not taken for it.
        let other = generate(SigningAlg::Es256, "k-1".into(), &master, 100, 100).unwrap();
        assert!(set.reloaded(&other).is_none());
        let other_public = StoredKey {
            public_jwk: other.public_jwk,
            ..stored.clone()
        };
        assert!(set.reloaded(&other_public).is_none());
        let other_alg = StoredKey {
            alg: SigningAlg::EdDsa,
            ..stored.clone()
        };
        assert!(set.reloaded(&other_alg).is_none());
        let other_kid = StoredKey {
            kid: "k-2".into(),
            ..stored
        };
        assert!(set.reloaded(&other_kid).is_none());
    }

    #[test]
    fn generated_keys_publish_only_public_parts() {
        let master = MasterKey::generate();
        for alg in SigningAlg::ALL {
            let stored = generate(alg, format!("k-{alg}"), &master, 100, 100).unwrap();
            let jwk: serde_json::Value = serde_json::from_str(&stored.public_jwk).unwrap();
            assert_eq!(jwk["kid"], format!("k-{alg}"));
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(jwk.get(private).is_none(), "{alg} leaks {private}");
            }
            let loaded = LoadedKey::load(&stored, &master).unwrap();
            assert!(loaded.may_sign(100));
        }
    }

    #[test]
    fn rsa_keys_are_at_least_2048_bits() {
        let master = MasterKey::generate();
        let stored = generate(SigningAlg::Rs256, "r".into(), &master, 0, 0).unwrap();
        let jwk: serde_json::Value = serde_json::from_str(&stored.public_jwk).unwrap();
        let n = jwk["n"].as_str().unwrap();
        // 2048 bits = 256 bytes = 342 base64url characters.
        assert!(n.len() >= 342, "modulus too short: {}", n.len());
    }

    #[test]
    fn rotation_windows_decide_signing_and_publishing() {
        let master = MasterKey::generate();
        let mut old = generate(SigningAlg::Es256, "old".into(), &master, 0, 0).unwrap();
        old.retires_at = Some(1_000);
        old.expires_at = Some(5_000);
        let new = generate(SigningAlg::Es256, "new".into(), &master, 500, 1_000).unwrap();
        let set = KeySet::new(vec![
            LoadedKey::load(&old, &master).unwrap(),
            LoadedKey::load(&new, &master).unwrap(),
        ]);
        assert_eq!(set.signing_key(SigningAlg::Es256, 600).unwrap().kid, "old");
        assert!(
            set.jwks_json(600).contains("\"new\""),
            "published before it signs"
        );
        assert_eq!(
            set.signing_key(SigningAlg::Es256, 1_000).unwrap().kid,
            "new"
        );
        assert!(set.verification_key("old", 4_999).is_some());
        assert!(set.verification_key("old", 5_000).is_none());
        assert!(!set.jwks_json(5_000).contains("\"old\""));
        assert!(set.signing_key(SigningAlg::Rs256, 600).is_err());
    }
}
