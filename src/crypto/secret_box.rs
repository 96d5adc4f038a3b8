//! Encryption at rest for private signing keys (and, later, TOTP secrets): AES-256-GCM under the
//! master key, a fresh 96-bit nonce per message, the purpose bound in as associated data so a
//! ciphertext cannot be moved from one column to another.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::bearer::random_bytes;

#[derive(Debug, thiserror::Error)]
pub enum SecretBoxError {
    #[error("the master key must be 32 bytes, given as 64 hex digits or base64")]
    BadMasterKey,
    #[error("a sealed value could not be opened (wrong master key or tampered data)")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// The master key. `Debug` prints nothing of it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        MasterKey(random_bytes::<32>())
    }

    /// Parses 64 hex digits or standard base64 of 32 bytes (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, SecretBoxError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| {
                    text.get(i * 2..i * 2 + 2)
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .ok_or(SecretBoxError::BadMasterKey)?
        } else {
            STANDARD
                .decode(text)
                .map_err(|_| SecretBoxError::BadMasterKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretBoxError::BadMasterKey)?;
        Ok(MasterKey(key))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts `plain` for `purpose`; the result is base64(nonce || ciphertext).
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> Result<String, SecretBoxError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| SecretBoxError::Seal)?;
        let nonce_bytes = random_bytes::<12>();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce_bytes),
                Payload {
                    msg: plain,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretBoxError::Seal)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, purpose: &str, sealed: &str) -> Result<Vec<u8>, SecretBoxError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SecretBoxError::Open)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretBoxError::Open);
        }
        let (nonce, body) = bytes.split_at(12);
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| SecretBoxError::Open)?;
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SecretBoxError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let key = MasterKey::generate();
        let sealed = key.seal("signing-key", b"private").unwrap();
        assert_eq!(key.open("signing-key", &sealed).unwrap(), b"private");
    }

    #[test]
    fn open_refuses_other_purpose_key_or_tampering() {
        let key = MasterKey::generate();
        let sealed = key.seal("signing-key", b"private").unwrap();
        assert!(key.open("totp", &sealed).is_err());
        assert!(MasterKey::generate().open("signing-key", &sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        assert!(key.open("signing-key", &STANDARD.encode(bytes)).is_err());
        assert!(key.open("signing-key", "short").is_err());
    }

    #[test]
    fn master_key_parses_hex_and_base64_only_at_32_bytes() {
        let key = MasterKey::generate();
        let again = MasterKey::parse(&key.to_hex()).unwrap();
        assert_eq!(again.to_hex(), key.to_hex());
        assert!(MasterKey::parse(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(MasterKey::parse("abcd").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([7u8; 31])).is_err());
    }
}
