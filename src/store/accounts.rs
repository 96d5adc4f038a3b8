//! Account changes that must happen together: a new password (with every session and grant of
//! the person ended when it comes from a reset), profile details, single-use reset links.

use sqlx::{Any, FromRow, Row, Transaction};

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

/// How far back the password history reaches (the largest reuse limit a firm may set).
const HISTORY_KEPT: i64 = crate::policy::password::MAX_REUSE_LIMIT;

/// What happens to the person's other sessions when they choose a new password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherSessions<'a> {
    Keep,
    /// End every session but this one (and the grants bound to them).
    EndAllBut(&'a str),
}

impl Store {
    /// Sets a password the person chose (never a temporary one), records it in their history
    /// and, if asked, ends their other sessions, all in one transaction. Returns how many
    /// sessions ended.
    pub async fn replace_password(
        &self,
        person_id: &str,
        hash: &str,
        now: UnixTime,
        others: OtherSessions<'_>,
    ) -> StoreResult<u64> {
        let mut tx = self.writer().begin().await?;
        sqlx::query(
            "UPDATE people SET password_hash = $1, password_temporary = 0, password_expires_at = NULL, \
             password_changed_at = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(hash)
        .bind(now)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
        remember_password(&mut tx, person_id, hash, now).await?;
        let ended = match others {
            OtherSessions::Keep => 0,
            OtherSessions::EndAllBut(keep) => {
                end_sessions(&mut tx, person_id, Some(keep), now, "password changed").await?
            }
        };
        tx.commit().await?;
        Ok(ended)
    }

    /// The hashes of the person's newest `n` chosen passwords, newest first.
    pub async fn password_history(&self, person_id: &str, n: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT password_hash FROM password_history WHERE person_id = $1 \
             ORDER BY created_at DESC LIMIT $2",
        )
        .bind(person_id)
        .bind(n)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("password_hash").map_err(Into::into))
            .collect()
    }

    /// Ends the person's live sessions (all, or all but `keep`) and revokes the grants bound to
    /// them (offline grants survive, as at logout). Returns how many ended.
    pub async fn end_sessions_of(
        &self,
        person_id: &str,
        keep: Option<&str>,
        now: UnixTime,
        reason: &str,
    ) -> StoreResult<u64> {
        let mut tx = self.writer().begin().await?;
        let n = end_sessions(&mut tx, person_id, keep, now, reason).await?;
        tx.commit().await?;
        Ok(n)
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
            .execute(self.writer())
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
            .execute(self.writer())
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
        let mut tx = self.writer().begin().await?;
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
        remember_password(&mut tx, person_id, new_hash, now).await?;
        sqlx::query(
            "UPDATE password_resets SET used_at = $1 WHERE person_id = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
        super::backchannel::queue_logouts(
            &mut tx,
            super::backchannel::Ending::OfPerson {
                person_id,
                keep: None,
            },
            now,
        )
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

/// Adds a chosen password to the history and forgets the ones beyond what any firm may ask for.
async fn remember_password(
    tx: &mut Transaction<'_, Any>,
    person_id: &str,
    hash: &str,
    now: UnixTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO password_history (person_id, password_hash, created_at) VALUES ($1, $2, $3)",
    )
    .bind(person_id)
    .bind(hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM password_history WHERE person_id = $1 AND created_at < \
         (SELECT MIN(created_at) FROM (SELECT created_at FROM password_history WHERE person_id = $1 \
         ORDER BY created_at DESC LIMIT $2) AS newest)",
    )
    .bind(person_id)
    .bind(HISTORY_KEPT)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn end_sessions(
    tx: &mut Transaction<'_, Any>,
    person_id: &str,
    keep: Option<&str>,
    now: UnixTime,
    reason: &str,
) -> StoreResult<u64> {
    super::backchannel::queue_logouts(
        tx,
        super::backchannel::Ending::OfPerson { person_id, keep },
        now,
    )
    .await?;
    let keep = keep.unwrap_or("");
    sqlx::query(
        "UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE offline = 0 AND revoked_at IS NULL \
         AND session_id IN (SELECT id FROM sessions WHERE person_id = $3 AND ended_at IS NULL AND id <> $4)",
    )
    .bind(now)
    .bind(reason)
    .bind(person_id)
    .bind(keep)
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query(
        "UPDATE sessions SET ended_at = $1 WHERE person_id = $2 AND ended_at IS NULL AND id <> $3",
    )
    .bind(now)
    .bind(person_id)
    .bind(keep)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
