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

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
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

type HashJob = Box<dyn FnOnce(&mut HashMemory) + Send>;

/// The memory one hashing thread hashes in, kept from one hash to the next. argon2's own
/// `hash_password` allocates its 19 MiB and fills it with zeros for every hash: a twentieth of
/// the hash's time, and the allocator keeps the freed blocks in per-thread arenas that grew to
/// 160 MB after a sign-in storm. argon2 writes every block before it reads it, so the blocks
/// need no clearing between hashes. What a hash leaves in them stays until the next hash, as it
/// stayed in freed memory before; whoever can read this process's memory also sees passwords
/// arrive in requests.
struct HashMemory {
    blocks: Vec<Block>,
    /// Blocks kept: today's cost. A stored hash of a higher cost gets memory of its own for
    /// that one hash, so no stored value can make a thread keep more.
    keep: usize,
}

impl HashMemory {
    fn new(cost: HashCost) -> Self {
        HashMemory {
            blocks: Vec::new(),
            keep: usize::try_from(cost.memory_kib).unwrap_or(usize::MAX),
        }
    }

    /// Runs `work` over `count` blocks.
    fn with<T>(&mut self, count: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if count > self.keep {
            return work(&mut vec![Block::default(); count]);
        }
        if self.blocks.len() < count {
            self.blocks.resize(self.keep, Block::default());
        }
        match self.blocks.get_mut(..count) {
            Some(blocks) => work(blocks),
            None => work(&mut vec![Block::default(); count]),
        }
    }

    /// Gives the memory back: after the start-up hash, so an idle server does not hold it.
    fn release(&mut self) {
        self.blocks = Vec::new();
    }
}

/// `count` threads of their own run the hashes, rather than tokio's blocking pool: each hash
/// needs 19 MiB, which a thread of its own keeps (`HashMemory`), where a fresh blocking thread
/// would fault in 19 MiB of new pages each time (a third of the hash's time), once per thread
/// of a pool that grows under load. So memory stays at one block per hashing thread and hashes
/// run at the speed of the machine. The threads end when the last handle to the pool is
/// dropped.
fn start_hashers(count: usize, cost: HashCost) -> Result<mpsc::Sender<HashJob>, PasswordHashError> {
    let (jobs, queue) = mpsc::channel::<HashJob>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..count {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("firmgate-hash-{n}"))
            .spawn(move || {
                let mut memory = HashMemory::new(cost);
                loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    let Ok(job) = job else { return };
                    // A panicking hash drops its answer channel (the caller sees Worker) and
                    // leaves this thread serving.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)));
                }
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
            hashers: start_hashers(threads, cost)?,
        };
        let recent = pool.recent.clone();
        pool.hashers
            .send(Box::new(move |memory: &mut HashMemory| {
                let started = Instant::now();
                let timed = hash_blocking(memory, cost, "firmgate: how long one hash takes here");
                memory.release();
                if timed.is_ok() {
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
        work: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, PasswordHashError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.hashers
            .send(Box::new(move |memory: &mut HashMemory| {
                let _ = answer.send(work(memory));
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
        self.on_hasher(move |memory| hash_blocking(memory, cost, &text))
            .await?
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
        self.on_hasher(move |memory| {
            if !verify_blocking(memory, &hash, &text) {
                return Ok(Verified::No);
            }
            let rehash = if hash_is_weaker(&hash, cost) {
                Some(hash_blocking(memory, cost, &text)?)
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

fn hash_blocking(
    memory: &mut HashMemory,
    cost: HashCost,
    text: &str,
) -> Result<String, PasswordHashError> {
    hash_with_salt(memory, cost, text, &SaltString::generate(&mut OsRng))
}

/// What argon2's `hash_password` makes (the same PHC string), hashed in `memory`.
fn hash_with_salt(
    memory: &mut HashMemory,
    cost: HashCost,
    text: &str,
    salt: &SaltString,
) -> Result<String, PasswordHashError> {
    let hasher = argon2(cost)?;
    let salt = salt.as_salt();
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|_| PasswordHashError::Hash)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory
        .with(hasher.params().block_count(), |blocks| {
            hasher.hash_password_into_with_memory(text.as_bytes(), raw_salt, &mut out, blocks)
        })
        .map_err(|_| PasswordHashError::Hash)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(hasher.params()).map_err(|_| PasswordHashError::Hash)?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|_| PasswordHashError::Hash)?),
    };
    Ok(phc.to_string())
}

/// Checks `text` against a stored PHC string as argon2's verifier does (algorithm, version,
/// parameters and salt all read from the stored hash), hashed in `memory`, the outputs
/// compared in constant time.
fn verify_blocking(memory: &mut HashMemory, stored: &str, text: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.version.map(Version::try_from).transpose(),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let hasher = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let hashed = memory.with(hasher.params().block_count(), |blocks| {
        hasher.hash_password_into_with_memory(text.as_bytes(), raw_salt, out, blocks)
    });
    hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
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

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    fn argon2_own_hash(cost: HashCost, text: &str, salt: &SaltString) -> String {
        argon2(cost)
            .unwrap()
            .hash_password(text.as_bytes(), salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn hashing_in_kept_memory_makes_what_argon2_makes() {
        // The same memory for one hash after another, each left holding the previous one's
        // blocks: every result must still equal argon2's own, hashed in fresh zeroed memory.
        let mut memory = HashMemory::new(CHEAP);
        for text in ["first passphrase", "second one", "first passphrase", ""] {
            let salt = SaltString::generate(&mut OsRng);
            assert_eq!(
                hash_with_salt(&mut memory, CHEAP, text, &salt).unwrap(),
                argon2_own_hash(CHEAP, text, &salt),
                "{text:?}"
            );
        }
        assert_eq!(memory.blocks.len(), 1024, "one cost's blocks are kept");
        let mut owasp = HashMemory::new(HashCost::OWASP);
        let salt = SaltString::generate(&mut OsRng);
        let ours = hash_with_salt(&mut owasp, HashCost::OWASP, "correct horse", &salt).unwrap();
        assert_eq!(
            ours,
            argon2_own_hash(HashCost::OWASP, "correct horse", &salt)
        );
        // And argon2's own verifier accepts it.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"correct horsE", &parsed)
            .is_err());
    }

    #[test]
    fn verify_reads_the_cost_from_the_stored_hash_and_refuses_what_does_not_match() {
        let mut memory = HashMemory::new(CHEAP);
        let salt = SaltString::generate(&mut OsRng);
        // Hashes argon2 made at a lower and a higher cost than the memory keeps, and with
        // argon2i: each verifies, and the higher cost does not grow the kept memory.
        let lower = HashCost {
            memory_kib: 256,
            ..CHEAP
        };
        let higher = HashCost {
            memory_kib: 4096,
            iterations: 2,
            ..CHEAP
        };
        for cost in [lower, CHEAP, higher] {
            let stored = argon2_own_hash(cost, "pass phrase", &salt);
            assert!(
                verify_blocking(&mut memory, &stored, "pass phrase"),
                "{stored}"
            );
            assert!(
                !verify_blocking(&mut memory, &stored, "pass phrasE"),
                "{stored}"
            );
        }
        assert_eq!(memory.blocks.len(), 1024);
        let params = Params::new(1024, 1, 1, None).unwrap();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"pass phrase", &salt)
            .unwrap()
            .to_string();
        assert!(argon2i.starts_with("$argon2i$"), "{argon2i}");
        assert!(verify_blocking(&mut memory, &argon2i, "pass phrase"));
        assert!(!verify_blocking(&mut memory, &argon2i, "pass phrasE"));

        let stored = argon2_own_hash(CHEAP, "pass phrase", &salt);
        let (head, output) = stored.rsplit_once('$').unwrap();
        // One character of the output changed.
        let flipped = if output.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{head}${flipped}{}", &output[1..]);
        // The output cut short, the output gone, the salt gone, not a PHC string at all.
        let short = format!("{head}${}", &output[..output.len() - 4]);
        let mut no_salt = head.rsplit_once('$').unwrap().0.to_owned();
        no_salt.push('$');
        no_salt.push_str(output);
        for bad in [
            tampered.as_str(),
            short.as_str(),
            head,
            no_salt.as_str(),
            "pass phrase",
            "",
        ] {
            assert!(!verify_blocking(&mut memory, bad, "pass phrase"), "{bad}");
        }
    }

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
