//! Remembered consent per person and client: the scopes the person allowed.

use sqlx::Row;

use super::{words, Store, StoreResult};
use crate::clock::UnixTime;

impl Store {
    pub async fn consented_scopes(
        &self,
        person_id: &str,
        client_id: &str,
    ) -> StoreResult<Vec<String>> {
        let row = sqlx::query("SELECT scope FROM consents WHERE person_id = $1 AND client_id = $2")
            .bind(person_id)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => Ok(words(&r.try_get::<String, _>("scope")?)),
            None => Ok(Vec::new()),
        }
    }

    /// Records consent to `scopes`: all the scopes allowed, those given before merged in by the
    /// caller (`merge_scopes`), which has just read them with the rest of the sign-in's facts.
    pub async fn remember_consent(
        &self,
        person_id: &str,
        client_id: &str,
        scopes: &[String],
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consents (person_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(person_id)
        .bind(client_id)
        .bind(scopes.join(" "))
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}

/// Consent only grows: `scopes` are added to those already given, each once.
pub fn merge_scopes(given: &mut Vec<String>, scopes: &[String]) {
    for s in scopes {
        if !given.contains(s) {
            given.push(s.clone());
        }
    }
}
