//! A firm's people as its admins see them, and the membership changes they make. Every query is
//! scoped by `firm_id`: the admin console never reads or changes another firm's rows.

use sqlx::{FromRow, Row};

use super::{Store, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct FirmPerson {
    pub person_id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    /// 1 when two-step sign-in is on.
    pub mfa_active: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct FirmAuditRow {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub outcome: String,
    pub person_email: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    pub async fn firm_people(&self, firm_id: &str) -> StoreResult<Vec<FirmPerson>> {
        Ok(sqlx::query_as::<_, FirmPerson>(
            "SELECT p.id AS person_id, p.name, p.email, m.role, \
             CASE WHEN t.activated_at IS NULL THEN 0 ELSE 1 END AS mfa_active \
             FROM memberships m JOIN people p ON p.id = m.person_id \
             LEFT JOIN totp_factors t ON t.person_id = p.id \
             WHERE m.firm_id = $1 ORDER BY p.email_key",
        )
        .bind(firm_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn count_owners(&self, firm_id: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM memberships WHERE firm_id = $1 AND role = 'owner'",
        )
        .bind(firm_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    pub async fn set_role(&self, firm_id: &str, person_id: &str, role: &str) -> StoreResult<bool> {
        let n =
            sqlx::query("UPDATE memberships SET role = $1 WHERE firm_id = $2 AND person_id = $3")
                .bind(role)
                .bind(firm_id)
                .bind(person_id)
                .execute(self.writer())
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    /// Removes a person from a firm: the membership, the firm's exemptions for them and every
    /// grant they hold for that firm (offline ones too), in one transaction.
    pub async fn remove_membership(
        &self,
        firm_id: &str,
        person_id: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        let n = sqlx::query("DELETE FROM memberships WHERE firm_id = $1 AND person_id = $2")
            .bind(firm_id)
            .bind(person_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM policy_exclusions WHERE firm_id = $1 AND person_id = $2")
            .bind(firm_id)
            .bind(person_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE grants SET revoked_at = $1, revoked_reason = 'removed from the firm' \
             WHERE firm_id = $2 AND person_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(firm_id)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The firm's audit rows, newest first, optionally of one kind and one outcome.
    pub async fn firm_audit(
        &self,
        firm_id: &str,
        kind: Option<&str>,
        outcome: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<FirmAuditRow>> {
        Ok(sqlx::query_as::<_, FirmAuditRow>(
            "SELECT a.id, a.at, a.kind, a.outcome, p.email AS person_email, a.client_id, a.ip, a.detail \
             FROM audit_events a LEFT JOIN people p ON p.id = a.person_id \
             WHERE a.firm_id = $1 AND ($2 = '' OR a.kind = $2) AND ($3 = '' OR a.outcome = $3) \
             ORDER BY a.at DESC, a.id DESC LIMIT $4",
        )
        .bind(firm_id)
        .bind(kind.unwrap_or(""))
        .bind(outcome.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
