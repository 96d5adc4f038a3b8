//! Signing keys, private parts sealed.

use sqlx::FromRow;

use super::{Store, StoreError, StoreResult};
use crate::clock::UnixTime;
use crate::crypto::keys::{SigningAlg, StoredKey};

#[derive(FromRow)]
struct KeyRow {
    kid: String,
    alg: String,
    public_jwk: String,
    private_sealed: String,
    created_at: i64,
    activates_at: i64,
    retires_at: Option<i64>,
    expires_at: Option<i64>,
}

impl Store {
    pub async fn insert_signing_key(&self, k: &StoredKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_sealed, created_at, activates_at, retires_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&k.kid)
        .bind(k.alg.as_str())
        .bind(&k.public_jwk)
        .bind(&k.private_sealed)
        .bind(k.created_at)
        .bind(k.activates_at)
        .bind(k.retires_at)
        .bind(k.expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Every key still published at `now` (expired ones are no use to anyone).
    pub async fn signing_keys(&self, now: UnixTime) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query_as::<_, KeyRow>(
            "SELECT kid, alg, public_jwk, private_sealed, created_at, activates_at, retires_at, expires_at \
             FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredKey {
                    alg: SigningAlg::parse(&r.alg)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown alg {}", r.alg)))?,
                    kid: r.kid,
                    public_jwk: r.public_jwk,
                    private_sealed: r.private_sealed,
                    created_at: r.created_at,
                    activates_at: r.activates_at,
                    retires_at: r.retires_at,
                    expires_at: r.expires_at,
                })
            })
            .collect()
    }

    /// Schedules every current key of `alg` to stop signing at `retires_at` and leave the
    /// JWKS at `expires_at`, in the same transaction as the new key is inserted.
    pub async fn rotate_signing_key(
        &self,
        new_key: &StoredKey,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET retires_at = $1, expires_at = $2 \
             WHERE alg = $3 AND retires_at IS NULL",
        )
        .bind(retires_at)
        .bind(expires_at)
        .bind(new_key.alg.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, public_jwk, private_sealed, created_at, activates_at, retires_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
        )
        .bind(&new_key.kid)
        .bind(new_key.alg.as_str())
        .bind(&new_key.public_jwk)
        .bind(&new_key.private_sealed)
        .bind(new_key.created_at)
        .bind(new_key.activates_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
