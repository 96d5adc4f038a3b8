//! Firms and their policy columns.

use sqlx::{FromRow, Row};

use super::{Store, StoreResult};
use crate::policy::password::PasswordPolicy;

#[derive(Clone, Debug, FromRow)]
pub struct Firm {
    pub id: String,
    pub name: String,
    pub region: Option<String>,
    pub idle_timeout_secs: i64,
    pub created_at: i64,
    pub password_min_length: i64,
    /// 0 means passwords never expire.
    pub password_max_age_days: i64,
    /// 0 means no reuse limit.
    pub password_reuse_limit: i64,
    pub password_composition: i64,
}

const FIRM_COLUMNS: &str = "id, name, region, idle_timeout_secs, created_at, password_min_length, \
     password_max_age_days, password_reuse_limit, password_composition";

/// The numeric policy settings a firm admin may change, each one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirmSetting {
    IdleTimeoutSecs,
    PasswordMinLength,
    PasswordMaxAgeDays,
    PasswordReuseLimit,
    PasswordComposition,
}

impl FirmSetting {
    pub fn column(self) -> &'static str {
        match self {
            FirmSetting::IdleTimeoutSecs => "idle_timeout_secs",
            FirmSetting::PasswordMinLength => "password_min_length",
            FirmSetting::PasswordMaxAgeDays => "password_max_age_days",
            FirmSetting::PasswordReuseLimit => "password_reuse_limit",
            FirmSetting::PasswordComposition => "password_composition",
        }
    }

    pub fn current(self, firm: &Firm) -> i64 {
        match self {
            FirmSetting::IdleTimeoutSecs => firm.idle_timeout_secs,
            FirmSetting::PasswordMinLength => firm.password_min_length,
            FirmSetting::PasswordMaxAgeDays => firm.password_max_age_days,
            FirmSetting::PasswordReuseLimit => firm.password_reuse_limit,
            FirmSetting::PasswordComposition => firm.password_composition,
        }
    }
}

impl Store {
    pub async fn insert_firm(&self, firm: &Firm) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO firms ({FIRM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&firm.id)
        .bind(&firm.name)
        .bind(&firm.region)
        .bind(firm.idle_timeout_secs)
        .bind(firm.created_at)
        .bind(firm.password_min_length)
        .bind(firm.password_max_age_days)
        .bind(firm.password_reuse_limit)
        .bind(firm.password_composition)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn firm(&self, id: &str) -> StoreResult<Option<Firm>> {
        Ok(
            sqlx::query_as::<_, Firm>(&format!("SELECT {FIRM_COLUMNS} FROM firms WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn count_firms(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM firms")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Sets one policy setting; `false` when there is no such firm.
    pub async fn set_firm_setting(
        &self,
        firm_id: &str,
        setting: FirmSetting,
        value: i64,
    ) -> StoreResult<bool> {
        // The column name comes from the closed `FirmSetting` list, never from input.
        let sql = format!("UPDATE firms SET {} = $1 WHERE id = $2", setting.column());
        let done = sqlx::query(&sql)
            .bind(value)
            .bind(firm_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The strictest password lifecycle among the firms a person belongs to (one password serves
    /// them all); the defaults for a person in no firm.
    pub async fn password_policy_for(&self, person_id: &str) -> StoreResult<PasswordPolicy> {
        let row = sqlx::query(
            "SELECT MAX(f.password_min_length) AS min_length, MAX(f.password_composition) AS composition, \
             MIN(CASE WHEN f.password_max_age_days > 0 THEN f.password_max_age_days END) AS max_age, \
             MAX(f.password_reuse_limit) AS reuse \
             FROM memberships m JOIN firms f ON f.id = m.firm_id WHERE m.person_id = $1",
        )
        .bind(person_id)
        .fetch_one(self.pool())
        .await?;
        let defaults = PasswordPolicy::default();
        Ok(PasswordPolicy {
            min_length: row
                .try_get::<Option<i64>, _>("min_length")?
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(defaults.min_length),
            composition: row
                .try_get::<Option<i64>, _>("composition")?
                .is_some_and(|c| c != 0),
            max_age_days: row.try_get::<Option<i64>, _>("max_age")?,
            reuse_limit: row.try_get::<Option<i64>, _>("reuse")?.unwrap_or(0),
        })
    }

    /// The shortest idle sign-out among the person's firms (My Profile serves them all).
    pub async fn shortest_idle_timeout_for(&self, person_id: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(f.idle_timeout_secs) AS m FROM memberships m JOIN firms f ON f.id = m.firm_id WHERE m.person_id = $1",
        )
        .bind(person_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>("m")?)
    }
}
