//! Browser sessions: the cookie holds a random token, the table only its hash. `id` is a
//! separate public identifier (the ID token's `sid`).

use sqlx::FromRow;

use super::{Columns, Reader, Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub person_id: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The upstream provider the person signed in with (`None`: a password).
    pub upstream: Option<String>,
    /// Its Microsoft tenant or Google Workspace domain.
    pub upstream_realm: Option<String>,
    /// The `amr` values the upstream asserted, space-separated.
    pub upstream_amr: Option<String>,
}

/// How an upstream sign-in went, for the session row.
#[derive(Clone, Copy, Debug, Default)]
pub struct UpstreamSignIn<'a> {
    pub provider: &'a str,
    pub realm: Option<&'a str>,
    pub amr: &'a str,
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub person_id: &'a str,
    pub auth_time: UnixTime,
    pub amr: &'a str,
    pub expires_at: UnixTime,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub upstream: Option<UpstreamSignIn<'a>>,
}

impl NewSession<'_> {
    /// The row `insert_session` writes, as `session` would read it back: a sign-in goes on
    /// with the session it made without reading it again.
    pub fn record(&self) -> SessionRecord {
        SessionRecord {
            id: self.id.to_owned(),
            person_id: self.person_id.to_owned(),
            auth_time: self.auth_time,
            amr: self.amr.to_owned(),
            created_at: self.auth_time,
            last_seen_at: self.auth_time,
            expires_at: self.expires_at,
            ended_at: None,
            user_agent: self.user_agent.map(str::to_owned),
            ip: self.ip.map(str::to_owned),
            upstream: self.upstream.map(|u| u.provider.to_owned()),
            upstream_realm: self.upstream.and_then(|u| u.realm).map(str::to_owned),
            upstream_amr: self.upstream.map(|u| u.amr.to_owned()),
        }
    }
}

pub(crate) const COLUMNS: &str =
    "id, person_id, auth_time, amr, created_at, last_seen_at, expires_at, ended_at, \
     user_agent, ip, upstream, upstream_realm, upstream_amr";

impl SessionRecord {
    /// Reads the fields in `COLUMNS` order from a joined row.
    pub(crate) fn read(c: &mut Columns<'_>) -> StoreResult<SessionRecord> {
        Ok(SessionRecord {
            id: c.take()?,
            person_id: c.take()?,
            auth_time: c.take()?,
            amr: c.take()?,
            created_at: c.take()?,
            last_seen_at: c.take()?,
            expires_at: c.take()?,
            ended_at: c.take()?,
            user_agent: c.take()?,
            ip: c.take()?,
            upstream: c.take()?,
            upstream_realm: c.take()?,
            upstream_amr: c.take()?,
        })
    }
}

impl Store {
    pub async fn insert_session(&self, s: &NewSession<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, person_id, auth_time, amr, created_at, last_seen_at, expires_at, user_agent, ip, \
             upstream, upstream_realm, upstream_amr) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(s.id)
        .bind(s.token_hash)
        .bind(s.person_id)
        .bind(s.auth_time)
        .bind(s.amr)
        .bind(s.auth_time)
        .bind(s.expires_at)
        .bind(s.user_agent)
        .bind(s.ip)
        .bind(s.upstream.map(|u| u.provider))
        .bind(s.upstream.and_then(|u| u.realm))
        .bind(s.upstream.map(|u| u.amr))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The live (not ended) session with this token hash.
    pub async fn session_by_token_hash(&self, hash: &str) -> StoreResult<Option<SessionRecord>> {
        self.reader().await?.session_by_token_hash(hash).await
    }

    pub async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE id = $1");
        Ok(sqlx::query_as::<_, SessionRecord>(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The person's sessions that have not ended and are within their absolute lifetime and
    /// `idle_limit`, most recently active first (My Profile lists them).
    pub async fn live_sessions_of(
        &self,
        person_id: &str,
        now: UnixTime,
        idle_limit: i64,
    ) -> StoreResult<Vec<SessionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions WHERE person_id = $1 AND ended_at IS NULL \
             AND expires_at > $2 AND last_seen_at >= $3 ORDER BY last_seen_at DESC, id LIMIT 100"
        );
        Ok(sqlx::query_as::<_, SessionRecord>(&sql)
            .bind(person_id)
            .bind(now)
            .bind(now.saturating_sub(idle_limit))
            .fetch_all(self.pool())
            .await?)
    }

    /// Slides the idle window. `last_seen_at` only grows, so a session read as seen at `now`
    /// (one made or touched this second) needs no write.
    pub async fn touch_session(&self, session: &SessionRecord, now: UnixTime) -> StoreResult<()> {
        if session.last_seen_at >= now {
            return Ok(());
        }
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(now)
            .bind(&session.id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Ends a session and revokes the grants bound to it (offline grants survive), in one
    /// transaction. Returns whether a live session was ended.
    pub async fn end_session(&self, id: &str, now: UnixTime, reason: &str) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        super::backchannel::queue_logouts(&mut tx, super::backchannel::Ending::Session(id), now)
            .await?;
        let ended =
            sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
        sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_reason = $2 \
             WHERE session_id = $3 AND offline = 0 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Replaces `old_id` by `new_id` for the same person (a re-authentication): the old
    /// session ends and its grants follow the new one instead of being revoked.
    pub async fn hand_over_session(
        &self,
        old_id: &str,
        new_id: &str,
        now: UnixTime,
    ) -> StoreResult<()> {
        let mut tx = self.writer().begin().await?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(old_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE grants SET session_id = $1 WHERE session_id = $2")
            .bind(new_id)
            .bind(old_id)
            .execute(&mut *tx)
            .await?;
        // Codes handed out under the old session and not yet redeemed follow it too: they are
        // redeemed only while their session is live.
        sqlx::query(
            "UPDATE authorization_codes SET session_id = $1 \
             WHERE session_id = $2 AND redeemed_at IS NULL",
        )
        .bind(new_id)
        .bind(old_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Reader {
    /// As `Store::session_by_token_hash`.
    pub async fn session_by_token_hash(
        &mut self,
        hash: &str,
    ) -> StoreResult<Option<SessionRecord>> {
        let sql =
            format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1 AND ended_at IS NULL");
        let session = sqlx::query_as::<_, SessionRecord>(&sql)
            .bind(hash)
            .fetch_optional(self.connection()?)
            .await?;
        self.settled();
        Ok(session)
    }
}
