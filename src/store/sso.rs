//! Linked upstream accounts (`sso_identities`) and upstream round trips in flight
//! (`upstream_logins`).

use sqlx::FromRow;

use super::{Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct SsoIdentity {
    pub id: String,
    pub person_id: String,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub realm: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Clone, Debug, FromRow)]
pub struct UpstreamLogin {
    pub state_hash: String,
    pub provider: String,
    pub browser_hash: String,
    /// `signin` or `link`.
    pub purpose: String,
    pub interaction_id: Option<String>,
    pub person_id: Option<String>,
    pub nonce_sealed: String,
    pub pkce_verifier_sealed: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// Why a callback's state was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateRefusal {
    Unknown,
    Replayed,
    Expired,
    /// Started in another browser (the state is burnt all the same).
    ForeignBrowser,
}

impl StateRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            StateRefusal::Unknown => "state_unknown",
            StateRefusal::Replayed => "state_replayed",
            StateRefusal::Expired => "state_expired",
            StateRefusal::ForeignBrowser => "foreign_browser",
        }
    }
}

const IDENTITY_COLUMNS: &str =
    "id, person_id, provider, issuer, subject, realm, email, created_at, last_used_at";

impl Store {
    pub async fn insert_upstream_login(&self, l: &UpstreamLogin) -> StoreResult<()> {
        // Round trips abandoned long ago go first; the table stays small.
        sqlx::query("DELETE FROM upstream_logins WHERE expires_at < $1")
            .bind(l.created_at - 86400)
            .execute(self.writer())
            .await?;
        sqlx::query(
            "INSERT INTO upstream_logins (state_hash, provider, browser_hash, purpose, interaction_id, person_id, \
             nonce_sealed, pkce_verifier_sealed, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
        )
        .bind(&l.state_hash)
        .bind(&l.provider)
        .bind(&l.browser_hash)
        .bind(&l.purpose)
        .bind(&l.interaction_id)
        .bind(&l.person_id)
        .bind(&l.nonce_sealed)
        .bind(&l.pkce_verifier_sealed)
        .bind(l.created_at)
        .bind(l.expires_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Takes the round trip a callback's state names, once: a second use, an expired state or a
    /// state from another browser is refused, and the row is burnt either way.
    pub async fn take_upstream_login(
        &self,
        state_hash: &str,
        browser_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Result<UpstreamLogin, StateRefusal>> {
        let row = sqlx::query_as::<_, UpstreamLogin>(
            "SELECT state_hash, provider, browser_hash, purpose, interaction_id, person_id, nonce_sealed, \
             pkce_verifier_sealed, created_at, expires_at, used_at FROM upstream_logins WHERE state_hash = $1",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(login) = row else {
            return Ok(Err(StateRefusal::Unknown));
        };
        let burnt = sqlx::query(
            "UPDATE upstream_logins SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL",
        )
        .bind(now)
        .bind(state_hash)
        .execute(self.writer())
        .await?
        .rows_affected()
            == 1;
        if !burnt {
            return Ok(Err(StateRefusal::Replayed));
        }
        if now >= login.expires_at {
            return Ok(Err(StateRefusal::Expired));
        }
        let same_browser: bool =
            subtle::ConstantTimeEq::ct_eq(login.browser_hash.as_bytes(), browser_hash.as_bytes())
                .into();
        if !same_browser {
            return Ok(Err(StateRefusal::ForeignBrowser));
        }
        Ok(Ok(login))
    }

    pub async fn sso_identity(
        &self,
        provider: &str,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<SsoIdentity>> {
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM sso_identities WHERE provider = $1 AND issuer = $2 AND subject = $3"
        );
        Ok(sqlx::query_as::<_, SsoIdentity>(&sql)
            .bind(provider)
            .bind(issuer)
            .bind(subject)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn sso_identities_of(&self, person_id: &str) -> StoreResult<Vec<SsoIdentity>> {
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM sso_identities WHERE person_id = $1 ORDER BY created_at, id"
        );
        Ok(sqlx::query_as::<_, SsoIdentity>(&sql)
            .bind(person_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Links an upstream account; `false` when that account is already linked (to anyone).
    pub async fn insert_sso_identity(&self, i: &SsoIdentity) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO sso_identities ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (provider, issuer, subject) DO NOTHING"
        );
        let done = sqlx::query(&sql)
            .bind(&i.id)
            .bind(&i.person_id)
            .bind(&i.provider)
            .bind(&i.issuer)
            .bind(&i.subject)
            .bind(&i.realm)
            .bind(&i.email)
            .bind(i.created_at)
            .bind(i.last_used_at)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a sign-in through a linked account (and the e-mail it now asserts).
    pub async fn touch_sso_identity(
        &self,
        id: &str,
        email: Option<&str>,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE sso_identities SET last_used_at = $1, email = COALESCE($2, email) WHERE id = $3")
            .bind(now)
            .bind(email)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Removes one of the person's links; `false` when it is not theirs or already gone.
    pub async fn delete_sso_identity(&self, id: &str, person_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sso_identities WHERE id = $1 AND person_id = $2")
            .bind(id)
            .bind(person_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks the person's address as proven (they used a link sent to it).
    pub async fn mark_email_verified(&self, person_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE people SET email_verified = 1 WHERE id = $1")
            .bind(person_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Firms that let verified people of their tenant or domain join at first sign-in.
    pub async fn firms_with_sso_join(&self) -> StoreResult<Vec<super::firms::Firm>> {
        let mut firms = Vec::new();
        for id in
            sqlx::query_scalar::<_, String>("SELECT id FROM firms WHERE sso_join = 1 ORDER BY id")
                .fetch_all(self.pool())
                .await?
        {
            firms.extend(self.firm(&id).await?);
        }
        Ok(firms)
    }
}
