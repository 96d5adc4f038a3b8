//! Client records in memory. Every token, introspection, revocation and authorization request
//! reads its client, and clients change rarely (an administrator edits redirect URIs or
//! rotates a secret), so each node keeps the records it has read for at most
//! [`CLIENT_CACHE_TTL`]. A change made through this node's store is seen at once (the store
//! forgets the record in the same call); one made through another node is seen here within the
//! TTL, the same kind of bound as the signing keys' reload. Unknown client ids are not
//! remembered, so a new client works at once on every node and a flood of made-up ids cannot
//! grow the cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::clients::ClientRecord;

/// How long a node trusts a client record it read without reading it again.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, (Instant, Arc<ClientRecord>)>>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache").finish_non_exhaustive()
    }
}

impl ClientCache {
    /// The record read less than the TTL ago, if any.
    pub fn fresh(&self, id: &str, now: Instant) -> Option<Arc<ClientRecord>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .filter(|(read_at, _)| now.saturating_duration_since(*read_at) < CLIENT_CACHE_TTL)
            .map(|(_, record)| record.clone())
    }

    pub fn remember(&self, record: Arc<ClientRecord>, read_at: Instant) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.insert(record.id.clone(), (read_at, record));
    }

    pub fn forget(&self, id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            id: id.to_owned(),
            name: "n".into(),
            secret_hash: None,
            auth_method: "none".into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![],
            first_party: false,
            firm_id: None,
            signing_alg: "RS256".into(),
            access_token_ttl_secs: None,
            refresh_token_ttl_secs: None,
            created_at: 0,
            backchannel_logout_uri: None,
        })
    }

    #[test]
    fn a_record_is_trusted_for_the_ttl_and_no_longer() {
        let cache = ClientCache::default();
        let t0 = Instant::now();
        cache.remember(record("a"), t0);
        assert!(cache.fresh("a", t0).is_some());
        assert!(cache
            .fresh("a", t0 + CLIENT_CACHE_TTL - Duration::from_millis(1))
            .is_some());
        assert!(cache.fresh("a", t0 + CLIENT_CACHE_TTL).is_none());
        assert!(cache.fresh("b", t0).is_none());
    }

    #[test]
    fn a_forgotten_record_is_read_again() {
        let cache = ClientCache::default();
        let t0 = Instant::now();
        cache.remember(record("a"), t0);
        cache.forget("a");
        assert!(cache.fresh("a", t0).is_none());
    }
}
