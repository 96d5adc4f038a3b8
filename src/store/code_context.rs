//! What redeeming an authorization code checks, in one read: the code, the person it was
//! issued to and their membership of its firm. As three reads they were three database round
//! trips (on SQLite, three hops to its thread and back) for rows always wanted together.

use std::sync::LazyLock;

use super::codes::{CodeRecord, CODE_COLUMNS};
use super::people::{Membership, Person, PERSON_COLUMNS};
use super::{optional, qualified, Columns, Store, StoreResult};

/// A code with what it refers to; each `None` is a row that no longer exists.
#[derive(Clone, Debug)]
pub struct CodeContext {
    pub code: CodeRecord,
    pub person: Option<Person>,
    pub membership: Option<Membership>,
}

static SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, m.role, f.name \
         FROM authorization_codes c \
         LEFT JOIN people p ON p.id = c.person_id \
         LEFT JOIN memberships m ON m.firm_id = c.firm_id AND m.person_id = c.person_id \
         LEFT JOIN firms f ON f.id = m.firm_id \
         WHERE c.code_hash = $1",
        qualified(CODE_COLUMNS, "c"),
        qualified(PERSON_COLUMNS, "p"),
    )
});

impl Store {
    /// The code whose hash is `code_hash`, with its person and their membership of its firm.
    pub async fn code_context(&self, code_hash: &str) -> StoreResult<Option<CodeContext>> {
        let mut reader = self.reader().await?;
        let row = sqlx::query(&SQL)
            .bind(code_hash)
            .fetch_optional(reader.connection()?)
            .await?;
        reader.settled();
        let Some(row) = row else {
            return Ok(None);
        };
        let mut c = Columns::new(&row);
        let code = CodeRecord::read(&mut c)?;
        let person = optional(&mut c, PERSON_COLUMNS, Person::read)?;
        let role: Option<String> = c.take()?;
        let firm_name: Option<String> = c.take()?;
        let membership = match (role, firm_name) {
            (Some(role), Some(firm_name)) => Some(Membership {
                firm_id: code.firm_id.clone(),
                firm_name,
                person_id: code.person_id.clone(),
                role,
            }),
            _ => None,
        };
        Ok(Some(CodeContext {
            code,
            person,
            membership,
        }))
    }
}
