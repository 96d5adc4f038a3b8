//! Grants (token families), refresh tokens with one-time rotation, and revoked access tokens.

use sqlx::{Any, FromRow, Row, Transaction};

use super::rotations::NewRotation;
use super::{Columns, Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub person_id: Option<String>,
    pub firm_id: Option<String>,
    pub session_id: Option<String>,
    pub scope: String,
    pub claims: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub offline: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub struct NewGrant<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub person_id: &'a str,
    pub firm_id: &'a str,
    pub session_id: &'a str,
    pub scope: &'a str,
    pub claims: Option<&'a str>,
    pub auth_time: UnixTime,
    pub amr: &'a str,
    pub acr: &'a str,
    pub offline: bool,
}

#[derive(Clone, Debug, FromRow)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub grant_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// What a rotation attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// The token had already been used: a replay. The caller revokes the family.
    AlreadyUsed,
}

pub(crate) const GRANT_COLUMNS: &str = "id, client_id, person_id, firm_id, session_id, scope, claims, auth_time, amr, acr, offline, created_at, revoked_at";

/// The columns of the refresh token `rt`, in `RefreshRecord::read` order. A token is used once
/// its successor exists (migration 0011): the successor's `created_at` is its `used_at`; the
/// column itself is set only for tokens rotated before migration 0010.
pub(crate) const REFRESH_COLUMNS: &str = "rt.token_hash, rt.grant_id, rt.created_at, rt.expires_at, \
     COALESCE(rt.used_at, (SELECT n.created_at FROM refresh_tokens n WHERE n.parent_hash = rt.token_hash)) AS used_at";

impl GrantRecord {
    /// Reads the fields in `GRANT_COLUMNS` order from a joined row.
    pub(crate) fn read(c: &mut Columns<'_>) -> StoreResult<GrantRecord> {
        Ok(GrantRecord {
            id: c.take()?,
            client_id: c.take()?,
            person_id: c.take()?,
            firm_id: c.take()?,
            session_id: c.take()?,
            scope: c.take()?,
            claims: c.take()?,
            auth_time: c.take()?,
            amr: c.take()?,
            acr: c.take()?,
            offline: c.take()?,
            created_at: c.take()?,
            revoked_at: c.take()?,
        })
    }
}

impl RefreshRecord {
    /// Reads the fields in `REFRESH_COLUMNS` order from a joined row.
    pub(crate) fn read(c: &mut Columns<'_>) -> StoreResult<RefreshRecord> {
        Ok(RefreshRecord {
            token_hash: c.take()?,
            grant_id: c.take()?,
            created_at: c.take()?,
            expires_at: c.take()?,
            used_at: c.take()?,
        })
    }
}

impl Store {
    pub(crate) async fn insert_grant_in(
        tx: &mut Transaction<'_, Any>,
        g: &NewGrant<'_>,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO grants (id, client_id, person_id, firm_id, session_id, scope, claims, auth_time, amr, acr, offline, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(g.id)
        .bind(g.client_id)
        .bind(g.person_id)
        .bind(g.firm_id)
        .bind(g.session_id)
        .bind(g.scope)
        .bind(g.claims)
        .bind(g.auth_time)
        .bind(g.amr)
        .bind(g.acr)
        .bind(i64::from(g.offline))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn insert_refresh_token_in(
        tx: &mut Transaction<'_, Any>,
        hash: &str,
        grant_id: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(hash)
        .bind(grant_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn grant(&self, id: &str) -> StoreResult<Option<GrantRecord>> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
        Ok(sqlx::query_as::<_, GrantRecord>(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Revokes a grant: its access tokens and every refresh token of the family stop working.
    pub async fn revoke_grant(&self, id: &str, now: UnixTime, reason: &str) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn refresh_token(&self, hash: &str) -> StoreResult<Option<RefreshRecord>> {
        let sql =
            format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens rt WHERE rt.token_hash = $1");
        Ok(sqlx::query_as::<_, RefreshRecord>(&sql)
            .bind(hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Uses `old_hash` once and stores its successor, atomically: one INSERT naming the
    /// replaced token, which a unique index lets succeed once per token (migration 0010), and
    /// which makes the replaced token used (its successor exists, migration 0011). Concurrent
    /// rotations share a statement (see `rotations`).
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        grant_id: &str,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<Rotation> {
        let rotation = NewRotation {
            new_hash: new_hash.to_owned(),
            old_hash: old_hash.to_owned(),
            grant_id: grant_id.to_owned(),
            now,
            expires_at,
        };
        self.rotations.rotate(rotation).await
    }

    pub async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Whether an access token is still good: its jti not revoked and its grant (if any) live.
    pub async fn access_token_live(&self, jti: &str, grant_id: Option<&str>) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = $1) AS revoked, \
                    (SELECT COUNT(*) FROM grants WHERE id = $2 AND revoked_at IS NULL) AS live_grants",
        )
        .bind(jti)
        .bind(grant_id.unwrap_or(""))
        .fetch_one(self.pool())
        .await?;
        let revoked: i64 = row.try_get("revoked")?;
        let live_grants: i64 = row.try_get("live_grants")?;
        Ok(revoked == 0 && (grant_id.is_none() || live_grants == 1))
    }
}
