//! The audit log table. Rows carry ids and outcomes, never a secret.

use super::{Store, StoreResult};
use crate::audit::AuditRecord;

impl Store {
    pub async fn insert_audit(&self, r: &AuditRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, kind, outcome, firm_id, person_id, client_id, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.id)
        .bind(r.at)
        .bind(r.kind)
        .bind(r.outcome)
        .bind(&r.firm_id)
        .bind(&r.person_id)
        .bind(&r.client_id)
        .bind(&r.ip)
        .bind(&r.user_agent)
        .bind(&r.detail)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The newest audit rows of one kind (tests and the admin console read these).
    pub async fn audit_kinds(
        &self,
        limit: i64,
    ) -> StoreResult<Vec<(String, String, Option<String>)>> {
        use sqlx::Row;
        let rows = sqlx::query(
            "SELECT kind, outcome, detail FROM audit_events ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("kind")?,
                    r.try_get::<String, _>("outcome")?,
                    r.try_get::<Option<String>, _>("detail")?,
                ))
            })
            .collect()
    }
}
