//! Authorization codes (stored hashed) and their one-time redemption. Redemption is a single
//! conditional UPDATE inside the transaction that creates the grant, so of two concurrent
//! redemptions exactly one wins on either backend. [SECURITY case 27] A code bound to a browser
//! session (not `offline_access`) is redeemed only while that session is live, and the session
//! row is locked by the same transaction: a sign-out racing the redemption either ends the
//! session first (the redemption is refused) or waits for the new grant and revokes it with the
//! session's others.

use sqlx::FromRow;

use super::grants::NewGrant;
use super::{Columns, Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct CodeRecord {
    pub code_hash: String,
    pub client_id: String,
    pub person_id: String,
    pub firm_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub claims: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub acr: String,
    pub offline: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub redeemed_at: Option<i64>,
    pub grant_id: Option<String>,
}

pub(crate) const CODE_COLUMNS: &str =
    "code_hash, client_id, person_id, firm_id, session_id, redirect_uri, scope, claims, nonce, \
     code_challenge, auth_time, amr, acr, offline, created_at, expires_at, redeemed_at, grant_id";

impl CodeRecord {
    /// Reads the fields in `CODE_COLUMNS` order from a joined row.
    pub(crate) fn read(c: &mut Columns<'_>) -> StoreResult<CodeRecord> {
        Ok(CodeRecord {
            code_hash: c.take()?,
            client_id: c.take()?,
            person_id: c.take()?,
            firm_id: c.take()?,
            session_id: c.take()?,
            redirect_uri: c.take()?,
            scope: c.take()?,
            claims: c.take()?,
            nonce: c.take()?,
            code_challenge: c.take()?,
            auth_time: c.take()?,
            amr: c.take()?,
            acr: c.take()?,
            offline: c.take()?,
            created_at: c.take()?,
            expires_at: c.take()?,
            redeemed_at: c.take()?,
            grant_id: c.take()?,
        })
    }
}

/// What a redemption attempt found.
#[derive(Debug, PartialEq, Eq)]
pub enum Redemption {
    Redeemed,
    /// Someone redeemed it first; carries the grant that redemption created.
    AlreadyRedeemed {
        grant_id: Option<String>,
    },
    /// The sign-in session the code came from ended (sign-out, another sign-in) before the
    /// code was redeemed; nothing was written.
    SessionEnded,
}

impl Store {
    pub async fn insert_code(&self, c: &CodeRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, person_id, firm_id, session_id, redirect_uri, scope, claims, nonce, code_challenge, auth_time, amr, acr, offline, created_at, expires_at, redeemed_at, grant_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, NULL)",
        )
        .bind(&c.code_hash)
        .bind(&c.client_id)
        .bind(&c.person_id)
        .bind(&c.firm_id)
        .bind(&c.session_id)
        .bind(&c.redirect_uri)
        .bind(&c.scope)
        .bind(&c.claims)
        .bind(&c.nonce)
        .bind(&c.code_challenge)
        .bind(c.auth_time)
        .bind(&c.amr)
        .bind(&c.acr)
        .bind(c.offline)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn code(&self, code_hash: &str) -> StoreResult<Option<CodeRecord>> {
        let sql = format!("SELECT {CODE_COLUMNS} FROM authorization_codes WHERE code_hash = $1");
        Ok(sqlx::query_as::<_, CodeRecord>(&sql)
            .bind(code_hash)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Marks the code redeemed and creates its grant (and first refresh token), atomically.
    pub async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        grant: &NewGrant<'_>,
        refresh: Option<(&str, UnixTime)>,
    ) -> StoreResult<Redemption> {
        let mut tx = self.writer().begin().await?;
        let won = sqlx::query(
            "UPDATE authorization_codes SET redeemed_at = $1, grant_id = $2 \
             WHERE code_hash = $3 AND redeemed_at IS NULL",
        )
        .bind(now)
        .bind(grant.id)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !won {
            tx.rollback().await?;
            let grant_id = self.code(code_hash).await?.and_then(|c| c.grant_id);
            return Ok(Redemption::AlreadyRedeemed { grant_id });
        }
        if !grant.offline {
            // A no-op write: it fails when the session has ended and, on PostgreSQL, holds the
            // row so that a concurrent end_session waits and then sees this grant.
            let live = sqlx::query(
                "UPDATE sessions SET last_seen_at = last_seen_at \
                 WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(grant.session_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !live {
                tx.rollback().await?;
                return Ok(Redemption::SessionEnded);
            }
        }
        Store::insert_grant_in(&mut tx, grant, now).await?;
        if let Some((hash, expires_at)) = refresh {
            Store::insert_refresh_token_in(&mut tx, hash, grant.id, now, expires_at).await?;
        }
        tx.commit().await?;
        Ok(Redemption::Redeemed)
    }
}
