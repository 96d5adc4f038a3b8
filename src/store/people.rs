//! People (one e-mail, one password) and their memberships in firms.

use sqlx::FromRow;

use super::{Columns, Store, StoreError, StoreResult};
use crate::clock::UnixTime;

#[derive(Clone, Debug, FromRow)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: i64,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// An invitation's temporary password: it must be replaced at the first sign-in.
    pub password_temporary: i64,
    pub password_expires_at: Option<i64>,
    pub password_changed_at: Option<i64>,
    pub time_zone: Option<String>,
}

#[derive(Clone, Debug, FromRow)]
pub struct Membership {
    pub firm_id: String,
    pub firm_name: String,
    pub person_id: String,
    pub role: String,
}

/// The case-insensitive key of an e-mail address.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

pub(crate) const PERSON_COLUMNS: &str =
    "id, email, name, email_verified, password_hash, created_at, updated_at, \
     password_temporary, password_expires_at, password_changed_at, time_zone";

impl Person {
    /// Reads the fields in `PERSON_COLUMNS` order from a joined row.
    pub(crate) fn read(c: &mut Columns<'_>) -> StoreResult<Person> {
        Ok(Person {
            id: c.take()?,
            email: c.take()?,
            name: c.take()?,
            email_verified: c.take()?,
            password_hash: c.take()?,
            created_at: c.take()?,
            updated_at: c.take()?,
            password_temporary: c.take()?,
            password_expires_at: c.take()?,
            password_changed_at: c.take()?,
            time_zone: c.take()?,
        })
    }
}

impl Store {
    /// Inserts a person, or returns the existing one with that e-mail (and `false`).
    pub async fn insert_person_if_new(&self, person: &Person) -> StoreResult<(Person, bool)> {
        let inserted = sqlx::query(
            "INSERT INTO people (id, email, email_key, name, email_verified, password_hash, created_at, updated_at, \
             password_temporary, password_expires_at, password_changed_at, time_zone) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (email_key) DO NOTHING",
        )
        .bind(&person.id)
        .bind(&person.email)
        .bind(email_key(&person.email))
        .bind(&person.name)
        .bind(person.email_verified)
        .bind(&person.password_hash)
        .bind(person.created_at)
        .bind(person.updated_at)
        .bind(person.password_temporary)
        .bind(person.password_expires_at)
        .bind(person.password_changed_at)
        .bind(&person.time_zone)
        .execute(self.writer())
        .await?
        .rows_affected()
            == 1;
        let stored = self
            .person_by_email(&person.email)
            .await?
            .ok_or_else(|| StoreError::Corrupt("person vanished after insert".into()))?;
        Ok((stored, inserted))
    }

    pub async fn person(&self, id: &str) -> StoreResult<Option<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1");
        Ok(sqlx::query_as::<_, Person>(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn person_by_email(&self, email: &str) -> StoreResult<Option<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE email_key = $1");
        Ok(sqlx::query_as::<_, Person>(&sql)
            .bind(email_key(email))
            .fetch_optional(self.pool())
            .await?)
    }

    /// Replaces the stored hash with a stronger one of the same password (rehash at sign-in).
    pub async fn set_password_hash(
        &self,
        person_id: &str,
        hash: &str,
        now: UnixTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE people SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(person_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Adds a membership; `false` when the person already belongs to the firm.
    pub async fn insert_membership(
        &self,
        firm_id: &str,
        person_id: &str,
        role: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "INSERT INTO memberships (firm_id, person_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (firm_id, person_id) DO NOTHING",
        )
        .bind(firm_id)
        .bind(person_id)
        .bind(role)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn memberships_of(&self, person_id: &str) -> StoreResult<Vec<Membership>> {
        Ok(sqlx::query_as::<_, Membership>(
            "SELECT m.firm_id, f.name AS firm_name, m.person_id, m.role \
             FROM memberships m JOIN firms f ON f.id = m.firm_id \
             WHERE m.person_id = $1 ORDER BY f.name, m.firm_id",
        )
        .bind(person_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn membership(
        &self,
        firm_id: &str,
        person_id: &str,
    ) -> StoreResult<Option<Membership>> {
        Ok(sqlx::query_as::<_, Membership>(
            "SELECT m.firm_id, f.name AS firm_name, m.person_id, m.role \
             FROM memberships m JOIN firms f ON f.id = m.firm_id \
             WHERE m.firm_id = $1 AND m.person_id = $2",
        )
        .bind(firm_id)
        .bind(person_id)
        .fetch_optional(self.pool())
        .await?)
    }
}
