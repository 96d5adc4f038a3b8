//! Interactions: one validated authorization request on its way through the sign-in pages,
//! bound to the browser that started it (`browser_hash`). [SECURITY case 58]

use sqlx::FromRow;

use super::{Reader, Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct InteractionRecord {
    pub id: String,
    pub browser_hash: String,
    pub client_id: String,
    /// The validated request, as JSON.
    pub request: String,
    pub firm_id: Option<String>,
    /// The session created by a sign-in completed inside this interaction.
    pub authenticated_session_id: Option<String>,
    /// `allow` or `deny`, once the consent page was answered.
    pub consent: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    /// The answer to the firm's MFA set-up offer: `setup` or `skipped`.
    pub mfa_offer: Option<String>,
}

impl Store {
    pub async fn insert_interaction(&self, i: &InteractionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO interactions (id, browser_hash, client_id, request, firm_id, authenticated_session_id, consent, created_at, expires_at, completed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&i.id)
        .bind(&i.browser_hash)
        .bind(&i.client_id)
        .bind(&i.request)
        .bind(&i.firm_id)
        .bind(&i.authenticated_session_id)
        .bind(&i.consent)
        .bind(i.created_at)
        .bind(i.expires_at)
        .bind(i.completed_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn set_interaction_session(&self, id: &str, session_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE interactions SET authenticated_session_id = $1 WHERE id = $2 AND completed_at IS NULL")
            .bind(session_id)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn set_interaction_firm(&self, id: &str, firm_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE interactions SET firm_id = $1 WHERE id = $2 AND completed_at IS NULL")
            .bind(firm_id)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn set_interaction_consent(&self, id: &str, decision: &str) -> StoreResult<()> {
        sqlx::query("UPDATE interactions SET consent = $1 WHERE id = $2 AND completed_at IS NULL")
            .bind(decision)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn set_interaction_mfa_offer(&self, id: &str, answer: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE interactions SET mfa_offer = $1 WHERE id = $2 AND completed_at IS NULL",
        )
        .bind(answer)
        .bind(id)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Marks the interaction done; `false` if it was already completed (a second tab, a replay).
    pub async fn complete_interaction(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE interactions SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

impl Reader {
    /// The open interaction with this id, only if it belongs to this browser and is unexpired.
    pub async fn open_interaction(
        &mut self,
        id: &str,
        browser_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<InteractionRecord>> {
        let interaction = sqlx::query_as::<_, InteractionRecord>(
            "SELECT id, browser_hash, client_id, request, firm_id, authenticated_session_id, consent, created_at, expires_at, completed_at, mfa_offer \
             FROM interactions WHERE id = $1 AND browser_hash = $2 AND expires_at > $3 AND completed_at IS NULL",
        )
        .bind(id)
        .bind(browser_hash)
        .bind(now)
        .fetch_optional(self.connection()?)
        .await?;
        self.settled();
        Ok(interaction)
    }
}
