//! Password hashing with argon2id (OWASP minimum m=19 MiB, t=2, p=1), run off the async runtime
//! with a bounded number of hashes at once so a burst of sign-ins cannot stall other endpoints.
//!
//! An unknown account takes as long as a known one, without the CPU: instead of hashing against
//! a dummy, it waits for a duration drawn from the last real verifications (queueing included),
//! so both answers come from the same distribution of times. A credential-stuffing run of
//! mostly unknown addresses then costs almost nothing, and people who really have an account
//! keep the hashing capacity (their own attempts are bounded by the per-account throttle).

use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

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
    recent: Arc<Mutex<VecDeque<Duration>>>,
    hashers: mpsc::Sender<HashJob>,
}

type HashJob = Box<dyn FnOnce() + Send>;

/// `count` threads of their own run the hashes, rather than tokio's blocking pool: each hash
/// borrows 19 MiB, and a thread that hashed before reuses the memory its allocator kept, where a
/// fresh blocking thread would fault in 19 MiB of new pages each time (a third of the hash's
/// time) and keep it too, once per thread of a pool that grows under load. So memory stays at
/// one block per core and hashes run at the speed of the machine. The threads end when the
/// last handle to the pool is dropped.
fn start_hashers(count: usize) -> Result<mpsc::Sender<HashJob>, PasswordHashError> {
    let (jobs, queue) = mpsc::channel::<HashJob>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..count {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("firmgate-hash-{n}"))
            .spawn(move || loop {
                let job = match queue.lock() {
                    Ok(q) => q.recv(),
                    Err(poisoned) => poisoned.into_inner().recv(),
                };
                let Ok(job) = job else { return };
                // A panicking hash drops its answer channel (the caller sees Worker) and leaves
                // this thread serving.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            })
            .map_err(|_| PasswordHashError::Worker)?;
    }
    Ok(jobs)
}

/// How many recent verification times an unknown account's wait is drawn from.
const RECENT_TIMES: usize = 64;

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
    /// Starts the hashing threads. The first of them times one hash, so that unknown accounts
    /// have a time to wait from the start; start-up does not wait for it (it is the largest part
    /// of a start on an existing database).
    pub fn new(cost: HashCost, max_concurrent: usize) -> Result<Self, PasswordHashError> {
        let threads = max_concurrent.max(1);
        let pool = PasswordHasherPool {
            cost,
            permits: Arc::new(Semaphore::new(threads)),
            recent: Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_TIMES))),
            hashers: start_hashers(threads)?,
        };
        let recent = pool.recent.clone();
        pool.hashers
            .send(Box::new(move || {
                let started = Instant::now();
                if hash_blocking(cost, "firmgate: how long one hash takes here").is_ok() {
                    let mut recent = match recent.lock() {
                        Ok(r) => r,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    // Real verifications that finished first are the better measure.
                    if recent.is_empty() {
                        recent.push_back(started.elapsed());
                    }
                }
            }))
            .map_err(|_| PasswordHashError::Worker)?;
        Ok(pool)
    }

    /// Runs `work` on a hashing thread and waits for its answer.
    async fn on_hasher<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordHashError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.hashers
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| PasswordHashError::Worker)?;
        answered.await.map_err(|_| PasswordHashError::Worker)
    }

    pub async fn hash(&self, password: &Password) -> Result<String, PasswordHashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordHashError::Worker)?;
        let cost = self.cost;
        let text = normal_form(password.expose());
        self.on_hasher(move || hash_blocking(cost, &text)).await?
    }

    /// Verifies `password` against `stored`; with no stored hash (no account, or an account
    /// without a password) it answers `No` after as long as a real verification takes.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified, PasswordHashError> {
        let started = Instant::now();
        let Some(hash) = stored.map(str::to_owned) else {
            match self.typical_time() {
                Some(wait) => tokio::time::sleep(wait).await,
                // No hash has finished since start: spend a real one.
                None => drop(self.hash(password).await?),
            }
            return Ok(Verified::No);
        };
        let outcome = self.verify_hash(password, hash).await;
        self.remember(started.elapsed());
        outcome
    }

    /// A time drawn at random from the recent real verifications; `None` until one hash has
    /// finished.
    fn typical_time(&self) -> Option<Duration> {
        use rand::Rng;
        let recent = match self.recent.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if recent.is_empty() {
            return None;
        }
        let pick = rand::thread_rng().gen_range(0..recent.len());
        recent.get(pick).copied()
    }

    fn remember(&self, took: Duration) {
        let mut recent = match self.recent.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if recent.len() == RECENT_TIMES {
            recent.pop_front();
        }
        recent.push_back(took);
    }

    async fn verify_hash(
        &self,
        password: &Password,
        hash: String,
    ) -> Result<Verified, PasswordHashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordHashError::Worker)?;
        let cost = self.cost;
        let text = normal_form(password.expose());
        self.on_hasher(move || {
            if !verify_blocking(&hash, &text) {
                return Ok(Verified::No);
            }
            let rehash = if hash_is_weaker(&hash, cost) {
                Some(hash_blocking(cost, &text)?)
            } else {
                None
            };
            Ok(Verified::Yes { rehash })
        })
        .await?
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
    async fn an_unknown_account_waits_as_long_as_recent_real_checks_without_hashing() {
        let pool = PasswordHasherPool::new(CHEAP, 1).unwrap();
        for _ in 0..RECENT_TIMES {
            pool.remember(Duration::from_millis(80));
        }
        // The only hashing permit is taken: a real check would wait, the unknown one does not.
        let _busy = pool.permits.clone().acquire_owned().await.unwrap();
        let started = Instant::now();
        assert_eq!(
            pool.verify(&Password::new("anything"), None).await.unwrap(),
            Verified::No
        );
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(80)..Duration::from_millis(400)).contains(&took),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn start_up_times_one_hash_on_a_hashing_thread() {
        let pool = PasswordHasherPool::new(CHEAP, 1).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.typical_time().is_none() {
            assert!(
                Instant::now() < deadline,
                "the start-up hash never finished"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(pool.recent.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn with_no_time_known_an_unknown_account_costs_a_real_hash() {
        let pool = PasswordHasherPool::new(CHEAP, 1).unwrap();
        while pool.typical_time().is_none() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        pool.recent.lock().unwrap().clear();
        // With the only hashing permit taken, an answer that waits for a hash cannot come.
        let busy = pool.permits.clone().acquire_owned().await.unwrap();
        let anything = Password::new("anything");
        let unknown = pool.verify(&anything, None);
        tokio::pin!(unknown);
        assert!(
            tokio::time::timeout(Duration::from_millis(300), &mut unknown)
                .await
                .is_err(),
            "answered without hashing"
        );
        drop(busy);
        assert_eq!(unknown.await.unwrap(), Verified::No);
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
