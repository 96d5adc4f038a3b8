//! Password hashing with argon2id (OWASP minimum m=19 MiB, t=2, p=1), run off the async runtime
//! with a bounded number of hashes at once so a burst of sign-ins cannot stall other endpoints.
//! Unknown accounts are verified against a dummy hash so both paths cost the same.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

/// A password as typed. `Debug` prints nothing of it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub fn new(text: impl Into<String>) -> Self {
        Password(text.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("password hashing failed")]
    Hash,
    #[error("the hashing worker stopped")]
    Worker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    pub const OWASP: HashCost = HashCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
}

#[derive(Clone)]
pub struct PasswordHasherPool {
    cost: HashCost,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<String>,
}

impl std::fmt::Debug for PasswordHasherPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasherPool")
            .field("cost", &self.cost)
            .finish()
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Correct; `Some(new_hash)` when the stored hash used weaker parameters than today's.
    Yes {
        rehash: Option<String>,
    },
    No,
}

impl PasswordHasherPool {
    pub fn new(cost: HashCost, max_concurrent: usize) -> Result<Self, PasswordHashError> {
        let dummy = hash_blocking(cost, "firmgate dummy password for unknown accounts")?;
        Ok(PasswordHasherPool {
            cost,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: &Password) -> Result<String, PasswordHashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordHashError::Worker)?;
        let cost = self.cost;
        let text = normal_form(password.expose());
        tokio::task::spawn_blocking(move || hash_blocking(cost, &text))
            .await
            .map_err(|_| PasswordHashError::Worker)?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account,
    /// so that "unknown e-mail" and "wrong password" take the same time.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified, PasswordHashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordHashError::Worker)?;
        let cost = self.cost;
        let text = normal_form(password.expose());
        let real = stored.is_some();
        let hash = stored
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        tokio::task::spawn_blocking(move || {
            let ok = verify_blocking(&hash, &text);
            if !(ok && real) {
                return Ok(Verified::No);
            }
            let rehash = if hash_is_weaker(&hash, cost) {
                Some(hash_blocking(cost, &text)?)
            } else {
                None
            };
            Ok(Verified::Yes { rehash })
        })
        .await
        .map_err(|_| PasswordHashError::Worker)?
    }
}

/// Passwords are hashed and compared in Unicode NFKC (NIST SP 800-63B §5.1.1.2), so the same
/// passphrase typed on another keyboard still matches. Nothing is truncated.
fn normal_form(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfkc().collect()
}

fn argon2(cost: HashCost) -> Result<Argon2<'static>, PasswordHashError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|_| PasswordHashError::Hash)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(cost: HashCost, text: &str) -> Result<String, PasswordHashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(cost)?
        .hash_password(text.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordHashError::Hash)
}

fn verify_blocking(stored: &str, text: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    // The verifier reads the parameters from the stored hash itself.
    Argon2::default()
        .verify_password(text.as_bytes(), &parsed)
        .is_ok()
}

fn hash_is_weaker(stored: &str, cost: HashCost) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < cost.memory_kib
        || params.t_cost() < cost.iterations
        || params.p_cost() < cost.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn owasp_hash_is_argon2id_with_owasp_parameters() {
        let pool = PasswordHasherPool::new(HashCost::OWASP, 2).unwrap();
        let h = pool
            .hash(&Password::new("correct horse battery staple"))
            .await
            .unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        let again = pool
            .hash(&Password::new("correct horse battery staple"))
            .await
            .unwrap();
        assert_ne!(h, again, "salts are unique");
    }

    #[tokio::test]
    async fn verify_accepts_right_refuses_wrong_and_unknown() {
        let pool = PasswordHasherPool::new(CHEAP, 2).unwrap();
        let h = pool.hash(&Password::new("right one")).await.unwrap();
        assert_eq!(
            pool.verify(&Password::new("right one"), Some(&h))
                .await
                .unwrap(),
            Verified::Yes { rehash: None }
        );
        assert_eq!(
            pool.verify(&Password::new("wrong one"), Some(&h))
                .await
                .unwrap(),
            Verified::No
        );
        assert_eq!(
            pool.verify(
                &Password::new("firmgate dummy password for unknown accounts"),
                None
            )
            .await
            .unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn unicode_is_compared_in_nfkc() {
        let pool = PasswordHasherPool::new(CHEAP, 1).unwrap();
        let h = pool
            .hash(&Password::new("ｃａｆｅ ﬁle phrase"))
            .await
            .unwrap();
        assert!(matches!(
            pool.verify(&Password::new("cafe file phrase"), Some(&h))
                .await
                .unwrap(),
            Verified::Yes { .. }
        ));
    }

    #[tokio::test]
    async fn verify_rehashes_when_cost_rises() {
        let weak = PasswordHasherPool::new(CHEAP, 1).unwrap();
        let h = weak.hash(&Password::new("pass phrase")).await.unwrap();
        let strong = PasswordHasherPool::new(
            HashCost {
                memory_kib: 2048,
                ..CHEAP
            },
            1,
        )
        .unwrap();
        match strong
            .verify(&Password::new("pass phrase"), Some(&h))
            .await
            .unwrap()
        {
            Verified::Yes { rehash: Some(new) } => assert!(new.contains("m=2048")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }
}
