//! The signing keys in memory: loaded (decrypted) once, swapped atomically on reload, with the
//! JWKS document prebuilt. Rotation (`firmgate keys rotate`) writes to the database; every node
//! picks it up on its next reload, well before the new key may sign (`key_publish_lead`).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::clock::UnixTime;
use crate::crypto::bearer::random_id;
use crate::crypto::keys::{generate, AlgorithmSet, KeyError, KeySet, LoadedKey, SigningAlg};
use crate::crypto::secret_box::MasterKey;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug)]
struct Loaded {
    set: Arc<KeySet>,
    /// The published JWKS document, serialised once per reload.
    jwks: bytes::Bytes,
}

/// Read on every token and every JWKS or discovery request, from every core, and written once
/// per reload: an `ArcSwap` read touches no memory shared with the other readers, where a lock
/// (or a reference count) bounces one cache line between the cores on each request.
#[derive(Clone, Debug)]
pub struct Keyring {
    inner: Arc<ArcSwap<Loaded>>,
}

impl Default for Keyring {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyring {
    pub fn new() -> Self {
        Keyring {
            inner: Arc::new(ArcSwap::from_pointee(Loaded {
                set: Arc::new(KeySet::default()),
                jwks: bytes::Bytes::from_static(b"{\"keys\":[]}"),
            })),
        }
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.inner.load().set.clone()
    }

    pub fn jwks(&self) -> bytes::Bytes {
        self.inner.load().jwks.clone()
    }

    /// The algorithms that may sign now (what discovery advertises).
    pub fn signing_algorithms(&self, now: UnixTime) -> AlgorithmSet {
        self.inner.load().set.algorithms(now)
    }

    /// First start: one key of each algorithm, signing at once (nothing to pre-publish for).
    pub async fn ensure_keys(
        &self,
        store: &Store,
        master: &MasterKey,
        now: UnixTime,
    ) -> Result<(), KeyringError> {
        let existing = store.signing_keys(now).await?;
        for alg in SigningAlg::ALL {
            if !existing.iter().any(|k| k.alg == alg) {
                let key = generate(alg, random_id(), master, now, now)?;
                store.insert_signing_key(&key).await?;
                tracing::info!(kid = %key.kid, alg = %alg, "generated a signing key");
            }
        }
        Ok(())
    }

    /// Reads every published key, decrypts those not loaded before, and swaps the in-memory set.
    pub async fn reload(
        &self,
        store: &Store,
        master: &MasterKey,
        now: UnixTime,
    ) -> Result<(), KeyringError> {
        let stored = store.signing_keys(now).await?;
        let current = self.current();
        let mut loaded = Vec::with_capacity(stored.len());
        for s in &stored {
            loaded.push(match current.reloaded(s) {
                Some(known) => known,
                None => LoadedKey::load(s, master)?,
            });
        }
        let set = KeySet::new(loaded);
        let jwks = set.jwks_json(now);
        if current.len() != set.len() {
            tracing::debug!(keys = set.len(), "signing keys loaded");
        }
        self.inner.store(Arc::new(Loaded {
            set: Arc::new(set),
            jwks: bytes::Bytes::from(jwks),
        }));
        Ok(())
    }

    /// Rotation: a new key per algorithm, published now, signing after `lead`; the old keys stop
    /// signing then and stay published for `max_token_lifetime` more.
    pub async fn rotate(
        store: &Store,
        master: &MasterKey,
        now: UnixTime,
        lead: Duration,
        max_token_lifetime: Duration,
    ) -> Result<Vec<String>, KeyringError> {
        let lead = i64::try_from(lead.as_secs()).unwrap_or(i64::MAX / 4);
        let life = i64::try_from(max_token_lifetime.as_secs()).unwrap_or(i64::MAX / 4);
        let mut kids = Vec::new();
        for alg in SigningAlg::ALL {
            let key = generate(alg, random_id(), master, now, now + lead)?;
            store
                .rotate_signing_key(&key, now + lead, now + lead + life)
                .await?;
            kids.push(key.kid);
        }
        Ok(kids)
    }
}
