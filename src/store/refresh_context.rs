//! Everything the refresh grant checks, in one read: the presented token, its grant, the firm
//! (whose policy applies at every refresh), the browser session a grant may be bound to, the
//! person and their membership. Separate reads cost one database round trip each (on SQLite,
//! a hop to its thread and back) for rows that are always wanted together.

use std::sync::LazyLock;

use super::firms::{Firm, FIRM_COLUMNS};
use super::grants::{GrantRecord, RefreshRecord, GRANT_COLUMNS, REFRESH_COLUMNS};
use super::people::{Membership, Person, PERSON_COLUMNS};
use super::sessions::{self, SessionRecord};
use super::{optional, qualified, Columns, Store, StoreResult};

/// A refresh token with what its grant refers to; each `None` is a row that does not exist
/// (the grant names none, or it was deleted).
#[derive(Clone, Debug)]
pub struct RefreshContext {
    pub token: RefreshRecord,
    pub grant: GrantRecord,
    pub firm: Option<Firm>,
    pub session: Option<SessionRecord>,
    pub person: Option<Person>,
    pub membership: Option<Membership>,
}

static SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {}, {}, {}, m.role \
         FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id \
         LEFT JOIN firms f ON f.id = g.firm_id \
         LEFT JOIN sessions s ON s.id = g.session_id \
         LEFT JOIN people p ON p.id = g.person_id \
         LEFT JOIN memberships m ON m.firm_id = g.firm_id AND m.person_id = g.person_id \
         WHERE rt.token_hash = $1",
        REFRESH_COLUMNS,
        qualified(GRANT_COLUMNS, "g"),
        qualified(FIRM_COLUMNS, "f"),
        qualified(sessions::COLUMNS, "s"),
        qualified(PERSON_COLUMNS, "p"),
    )
});

impl Store {
    /// The refresh token whose hash is `hash`, with its grant and what the grant refers to.
    pub async fn refresh_context(&self, hash: &str) -> StoreResult<Option<RefreshContext>> {
        let mut reader = self.reader().await?;
        let row = sqlx::query(&SQL)
            .bind(hash)
            .fetch_optional(reader.connection()?)
            .await?;
        reader.settled();
        let Some(row) = row else {
            return Ok(None);
        };
        let mut c = Columns::new(&row);
        let token = RefreshRecord::read(&mut c)?;
        let grant = GrantRecord::read(&mut c)?;
        let firm = optional(&mut c, FIRM_COLUMNS, Firm::read)?;
        let session = optional(&mut c, sessions::COLUMNS, SessionRecord::read)?;
        let person = optional(&mut c, PERSON_COLUMNS, Person::read)?;
        let role: Option<String> = c.take()?;
        let membership = match (role, &firm, &grant.person_id) {
            (Some(role), Some(firm), Some(person_id)) => Some(Membership {
                firm_id: firm.id.clone(),
                firm_name: firm.name.clone(),
                person_id: person_id.clone(),
                role,
            }),
            _ => None,
        };
        Ok(Some(RefreshContext {
            token,
            grant,
            firm,
            session,
            person,
            membership,
        }))
    }
}
