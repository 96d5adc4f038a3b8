//! Firms and their policy columns.

use sqlx::{FromRow, Row};

use super::{Store, StoreResult};

#[derive(Clone, Debug, FromRow)]
pub struct Firm {
    pub id: String,
    pub name: String,
    pub region: Option<String>,
    pub idle_timeout_secs: i64,
    pub created_at: i64,
    pub password_min_length: i64,
}

impl Store {
    pub async fn insert_firm(&self, firm: &Firm) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO firms (id, name, region, idle_timeout_secs, created_at, password_min_length) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&firm.id)
        .bind(&firm.name)
        .bind(&firm.region)
        .bind(firm.idle_timeout_secs)
        .bind(firm.created_at)
        .bind(firm.password_min_length)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn firm(&self, id: &str) -> StoreResult<Option<Firm>> {
        Ok(sqlx::query_as::<_, Firm>(
            "SELECT id, name, region, idle_timeout_secs, created_at, password_min_length FROM firms WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn count_firms(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM firms")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    pub async fn set_firm_password_min_length(&self, firm_id: &str, n: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE firms SET password_min_length = $1 WHERE id = $2")
            .bind(n)
            .bind(firm_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The strictest password minimum among the firms a person belongs to.
    pub async fn password_min_length_for(&self, person_id: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT MAX(f.password_min_length) AS m FROM memberships m JOIN firms f ON f.id = m.firm_id WHERE m.person_id = $1",
        )
        .bind(person_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>("m")?)
    }

    pub async fn set_firm_idle_timeout(&self, firm_id: &str, secs: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE firms SET idle_timeout_secs = $1 WHERE id = $2")
            .bind(secs)
            .bind(firm_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
