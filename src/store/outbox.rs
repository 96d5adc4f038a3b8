//! The e-mail outbox: a message is stored before anything is sent, claimed with a lease so one
//! node sends it at a time, and marked sent afterwards. A crash between sending and marking
//! sends it again (at least once; the Message-ID, derived from the outbox id, lets a mail system
//! recognise the duplicate).

use sqlx::FromRow;

use super::{Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct OutboxRecord {
    pub id: String,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: i64,
    pub attempts: i64,
}

impl Store {
    pub async fn enqueue_mail(&self, m: &OutboxRecord, now: UnixTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO outbox (id, to_addr, subject, text_body, html_body, created_at, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $6)",
        )
        .bind(&m.id)
        .bind(&m.to_addr)
        .bind(&m.subject)
        .bind(&m.text_body)
        .bind(&m.html_body)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Messages due now, oldest first.
    pub async fn due_mail(&self, now: UnixTime, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        Ok(sqlx::query_as::<_, OutboxRecord>(
            "SELECT id, to_addr, subject, text_body, html_body, created_at, attempts FROM outbox \
             WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY created_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Takes a message for `lease` seconds; `false` if another sender has it.
    pub async fn claim_mail(&self, id: &str, now: UnixTime, lease: i64) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE id = $2 AND sent_at IS NULL AND next_attempt_at <= $3",
        )
        .bind(now + lease)
        .bind(id)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn mark_mail_sent(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET sent_at = $1, last_error = NULL WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn mark_mail_failed(
        &self,
        id: &str,
        retry_at: UnixTime,
        error: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3 AND sent_at IS NULL")
            .bind(retry_at)
            .bind(error)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn unsent_mail_count(&self) -> StoreResult<i64> {
        use sqlx::Row;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}
