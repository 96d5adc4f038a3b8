//! OpenID Connect Back-Channel Logout 1.0 bookkeeping: which relying parties each session signed
//! in to, and the logout tokens waiting to be delivered. Queued inside the transaction that ends
//! the session, so ending a session and owing its logout tokens happen together or not at all.

use sqlx::{Any, FromRow, Transaction};

use super::{Store, StoreResult};
use crate::clock::UnixTime;

/// The sessions a statement is about to end.
#[derive(Clone, Copy, Debug)]
pub enum Ending<'a> {
    Session(&'a str),
    /// Every live session of the person, except `keep`.
    OfPerson {
        person_id: &'a str,
        keep: Option<&'a str>,
    },
}

#[derive(Clone, Debug, FromRow)]
pub struct PendingLogout {
    pub client_id: String,
    pub session_id: String,
    pub person_id: String,
    pub next_attempt_at: i64,
    pub attempts: i64,
}

/// Owes a logout token to every relying party with a back-channel logout URI that signed in
/// through the sessions about to end (call before the UPDATE that ends them).
pub(super) async fn queue_logouts(
    tx: &mut Transaction<'_, Any>,
    ending: Ending<'_>,
    now: UnixTime,
) -> StoreResult<()> {
    const INSERT: &str = "INSERT INTO backchannel_logouts (client_id, session_id, person_id, created_at, next_attempt_at, attempts) \
         SELECT sc.client_id, sc.session_id, s.person_id, $1, $1, 0 \
         FROM session_clients sc JOIN sessions s ON s.id = sc.session_id JOIN clients c ON c.id = sc.client_id \
         WHERE s.ended_at IS NULL AND c.backchannel_logout_uri <> '' AND ";
    match ending {
        Ending::Session(id) => {
            let sql = format!("{INSERT} s.id = $2 ON CONFLICT (client_id, session_id) DO NOTHING");
            sqlx::query(&sql)
                .bind(now)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ending::OfPerson { person_id, keep } => {
            let sql = format!(
                "{INSERT} s.person_id = $2 AND s.id <> $3 ON CONFLICT (client_id, session_id) DO NOTHING"
            );
            sqlx::query(&sql)
                .bind(now)
                .bind(person_id)
                .bind(keep.unwrap_or(""))
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Notes that `client_id` got a code in this session.
    pub async fn record_session_client(
        &self,
        session_id: &str,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO session_clients (session_id, client_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id, client_id) DO NOTHING",
        )
        .bind(session_id)
        .bind(client_id)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn due_logouts(&self, now: UnixTime, limit: i64) -> StoreResult<Vec<PendingLogout>> {
        Ok(sqlx::query_as::<_, PendingLogout>(
            "SELECT client_id, session_id, person_id, next_attempt_at, attempts FROM backchannel_logouts \
             WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Takes a due delivery for this node until `lease_until` (another node that read the same
    /// row loses the race); counts the attempt.
    pub async fn lease_logout(
        &self,
        p: &PendingLogout,
        lease_until: UnixTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE backchannel_logouts SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE client_id = $2 AND session_id = $3 AND next_attempt_at = $4 AND delivered_at IS NULL",
        )
        .bind(lease_until)
        .bind(&p.client_id)
        .bind(&p.session_id)
        .bind(p.next_attempt_at)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn logout_delivered(&self, p: &PendingLogout, now: UnixTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE backchannel_logouts SET delivered_at = $1, last_error = NULL WHERE client_id = $2 AND session_id = $3",
        )
        .bind(now)
        .bind(&p.client_id)
        .bind(&p.session_id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A failed attempt: try again at `next`, or give up (`next` = `None`).
    pub async fn logout_failed(
        &self,
        p: &PendingLogout,
        error: &str,
        next: Option<UnixTime>,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE backchannel_logouts SET last_error = $1, next_attempt_at = COALESCE($2, next_attempt_at), \
             given_up_at = CASE WHEN $2 IS NULL THEN $3 ELSE NULL END WHERE client_id = $4 AND session_id = $5",
        )
        .bind(error.chars().take(200).collect::<String>())
        .bind(next)
        .bind(now)
        .bind(&p.client_id)
        .bind(&p.session_id)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
