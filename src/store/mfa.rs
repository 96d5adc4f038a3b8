//! TOTP factors and recovery codes. Acceptance of a time step and use of a recovery code are
//! single conditional UPDATEs, so two concurrent submissions of one code have one winner on
//! SQLite and on PostgreSQL alike. [SECURITY case 83]

use sqlx::{FromRow, Row};

use super::{Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct TotpFactor {
    pub person_id: String,
    /// Sealed under the master key with purpose `totp:{person_id}`.
    pub secret_sealed: String,
    pub last_used_step: i64,
    pub created_at: i64,
    /// `None` while set-up is pending.
    pub activated_at: Option<i64>,
}

impl Store {
    pub async fn totp_factor(&self, person_id: &str) -> StoreResult<Option<TotpFactor>> {
        Ok(sqlx::query_as::<_, TotpFactor>(
            "SELECT person_id, secret_sealed, last_used_step, created_at, activated_at \
             FROM totp_factors WHERE person_id = $1",
        )
        .bind(person_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Stores a new pending secret, replacing an earlier pending one; never an active factor.
    /// `false` when the person already has MFA on.
    pub async fn begin_totp_setup(
        &self,
        person_id: &str,
        secret_sealed: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "INSERT INTO totp_factors (person_id, secret_sealed, last_used_step, created_at, activated_at) \
             VALUES ($1, $2, 0, $3, NULL) \
             ON CONFLICT (person_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
             last_used_step = 0, created_at = excluded.created_at \
             WHERE totp_factors.activated_at IS NULL",
        )
        .bind(person_id)
        .bind(secret_sealed)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Turns the pending factor on with `last_step` used, and sets fresh recovery codes, in one
    /// transaction. `false` if there was no pending set-up (already active, or never begun).
    pub async fn activate_totp(
        &self,
        person_id: &str,
        secret_sealed: &str,
        last_step: i64,
        recovery_hashes: &[String],
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let n = sqlx::query(
            "UPDATE totp_factors SET activated_at = $1, last_used_step = $2 \
             WHERE person_id = $3 AND activated_at IS NULL AND secret_sealed = $4",
        )
        .bind(now)
        .bind(last_step)
        .bind(person_id)
        .bind(secret_sealed)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        replace_codes(&mut tx, person_id, recovery_hashes, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepts time step `step` for the person's active factor if it is later than the last one
    /// accepted. `false` means a replay (or a concurrent twin that won).
    pub async fn use_totp_step(&self, person_id: &str, step: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE totp_factors SET last_used_step = $1 \
             WHERE person_id = $2 AND activated_at IS NOT NULL AND last_used_step < $1",
        )
        .bind(step)
        .bind(person_id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Uses one recovery code; `false` if it is not the person's or was used already.
    pub async fn use_recovery_code(
        &self,
        person_id: &str,
        hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE code_hash = $2 AND person_id = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(hash)
        .bind(person_id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn replace_recovery_codes(
        &self,
        person_id: &str,
        hashes: &[String],
        now: UnixTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        replace_codes(&mut tx, person_id, hashes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn recovery_codes_left(&self, person_id: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE person_id = $1 AND used_at IS NULL",
        )
        .bind(person_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Removes the person's factor and recovery codes; `true` if there was an active factor.
    pub async fn remove_totp(&self, person_id: &str) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let n = sqlx::query(
            "DELETE FROM totp_factors WHERE person_id = $1 AND activated_at IS NOT NULL",
        )
        .bind(person_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}

/// Drops the person's recovery codes and stores the new hashes, inside the caller's transaction.
async fn replace_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: &str,
    hashes: &[String],
    now: UnixTime,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE person_id = $1")
        .bind(person_id)
        .execute(&mut **tx)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO recovery_codes (code_hash, person_id, created_at, used_at) VALUES ($1, $2, $3, NULL)",
        )
        .bind(hash)
        .bind(person_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
