//! Account changes that must happen together: a new password (with every session and grant of
//! the person ended when it comes from a reset), profile details, single-use reset links.

use sqlx::FromRow;

use super::{Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct ResetRecord {
    pub token_hash: String,
    pub person_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Store {
    /// Sets a person's password; `temporary_until` marks an invitation's temporary one.
    pub async fn replace_password(
        &self,
        person_id: &str,
        hash: &str,
        temporary_until: Option<UnixTime>,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE people SET password_hash = $1, password_temporary = $2, password_expires_at = $3, \
             password_changed_at = $4, updated_at = $4 WHERE id = $5",
        )
        .bind(hash)
        .bind(i64::from(temporary_until.is_some()))
        .bind(temporary_until)
        .bind(now)
        .bind(person_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn set_profile(
        &self,
        person_id: &str,
        name: &str,
        time_zone: &str,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE people SET name = $1, time_zone = $2, updated_at = $3 WHERE id = $4")
            .bind(name)
            .bind(time_zone)
            .bind(now)
            .bind(person_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn insert_password_reset(
        &self,
        hash: &str,
        person_id: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO password_resets (token_hash, person_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)")
            .bind(hash)
            .bind(person_id)
            .bind(now)
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The unused, unexpired reset with this hash.
    pub async fn open_password_reset(
        &self,
        hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<ResetRecord>> {
        Ok(sqlx::query_as::<_, ResetRecord>(
            "SELECT token_hash, person_id, created_at, expires_at, used_at FROM password_resets \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Uses the reset link once and sets the new password; every other link, every session and
    /// every grant (offline ones too) of the person end in the same transaction.
    /// `false` when the link was already used or has expired.
    pub async fn complete_password_reset(
        &self,
        token_hash: &str,
        person_id: &str,
        new_hash: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let won = sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND person_id = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .bind(person_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE people SET password_hash = $1, password_temporary = 0, password_expires_at = NULL, \
             password_changed_at = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(new_hash)
        .bind(now)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE person_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE person_id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE grants SET revoked_at = $1, revoked_reason = 'password reset' WHERE person_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
