//! What a sign-in journey works out at each of its steps about the person signing in, in one
//! read: the person with their second factor and their consent to this application, and their
//! memberships with each firm's settings and exemptions. Every page of a journey asks these
//! again (the answer may have changed since the last page), and as separate reads they were
//! seven round trips a page.

use std::sync::LazyLock;

use super::firms::{strictest_password_policy, Firm, FIRM_COLUMNS};
use super::people::{email_key, Membership, Person, PERSON_COLUMNS};
use super::sessions::{SessionRecord, COLUMNS as SESSION_COLUMNS};
use super::{qualified, words, Columns, Reader, Store, StoreResult};
use crate::policy::password::PasswordPolicy;
use crate::policy::PersonStanding;

/// One membership with its firm's row and what the firm exempts this person from.
#[derive(Clone, Debug)]
pub struct MemberFacts {
    pub membership: Membership,
    pub firm: Firm,
    pub standing: PersonStanding,
}

#[derive(Clone, Debug, Default)]
pub struct SignInFacts {
    /// Whom and which application these facts were read for.
    pub person_id: String,
    pub client_id: String,
    /// `None` when the person no longer exists.
    pub person: Option<Person>,
    /// An activated TOTP factor.
    pub mfa_enrolled: bool,
    /// The scopes the person has consented to for the application.
    pub consented_scopes: Vec<String>,
    /// By firm name, as `Store::memberships_of`.
    pub members: Vec<MemberFacts>,
}

impl SignInFacts {
    pub fn is_about(&self, person_id: &str, client_id: &str) -> bool {
        self.person_id == person_id && self.client_id == client_id
    }

    /// As `Store::password_policy_for`.
    pub fn password_policy(&self) -> PasswordPolicy {
        let firms: Vec<Firm> = self.members.iter().map(|m| m.firm.clone()).collect();
        strictest_password_policy(&firms)
    }

    pub fn memberships(&self) -> Vec<Membership> {
        self.members.iter().map(|m| m.membership.clone()).collect()
    }
}

/// One row per membership (one row with the membership's columns null for a person in no
/// firm, none for a person who does not exist), the person's own columns repeated on each:
/// a person has a few memberships at most, and one round trip costs more than the repeats.
/// `lead` are columns before the person's on every row, `from` the table(s) `people p` is
/// reached from, `filter` picks the person; `$2` is the application.
fn facts_sql(lead: &str, from: &str, filter: &str) -> String {
    format!(
        "SELECT {lead}{}, \
         (SELECT COUNT(*) FROM totp_factors t WHERE t.person_id = p.id AND t.activated_at IS NOT NULL), \
         (SELECT c.scope FROM consents c WHERE c.person_id = p.id AND c.client_id = $2), \
         m.role, \
         (SELECT COUNT(*) FROM policy_exclusions e WHERE e.firm_id = m.firm_id AND e.person_id = m.person_id AND e.policy = 'mfa'), \
         (SELECT COUNT(*) FROM policy_exclusions e WHERE e.firm_id = m.firm_id AND e.person_id = m.person_id AND e.policy = 'sso'), \
         {} FROM {from} \
         LEFT JOIN (memberships m JOIN firms f ON f.id = m.firm_id) ON m.person_id = p.id \
         WHERE {filter} ORDER BY f.name, m.firm_id",
        qualified(PERSON_COLUMNS, "p"),
        qualified(FIRM_COLUMNS, "f")
    )
}

static FACTS_SQL: LazyLock<String> = LazyLock::new(|| facts_sql("", "people p", "p.id = $1"));

/// The same, for the person whose e-mail key is `$1` (the password form's read).
static FACTS_BY_EMAIL_SQL: LazyLock<String> =
    LazyLock::new(|| facts_sql("", "people p", "p.email_key = $1"));

/// The live-or-not session with a token hash (`$1`) and the facts about its person: a page of
/// the journey reads both in one round trip. The person's columns are null on the one row of a
/// session whose person no longer exists.
static SESSION_FACTS_SQL: LazyLock<String> = LazyLock::new(|| {
    facts_sql(
        &format!("{}, ", qualified(SESSION_COLUMNS, "s")),
        "sessions s LEFT JOIN people p ON p.id = s.person_id",
        "s.token_hash = $1 AND s.ended_at IS NULL",
    )
});

/// The person's own columns at the head of each row: theirs, the factor count, the consent.
fn person_columns() -> usize {
    PERSON_COLUMNS.split(',').count() + 2
}

impl Store {
    /// The facts about `person_id` a sign-in to `client_id` needs.
    pub async fn sign_in_facts(
        &self,
        person_id: &str,
        client_id: &str,
    ) -> StoreResult<SignInFacts> {
        self.reader()
            .await?
            .sign_in_facts(person_id, client_id)
            .await
    }

    /// The facts about the person with `email` (as `Store::person_by_email` finds them) that a
    /// sign-in to `client_id` needs; `None` when nobody has that e-mail address.
    pub async fn sign_in_facts_by_email(
        &self,
        email: &str,
        client_id: &str,
    ) -> StoreResult<Option<SignInFacts>> {
        let rows = sqlx::query(&FACTS_BY_EMAIL_SQL)
            .bind(email_key(email))
            .bind(client_id)
            .fetch_all(self.pool())
            .await?;
        let mut facts = SignInFacts {
            client_id: client_id.to_owned(),
            ..SignInFacts::default()
        };
        read_facts(&rows, 0, &mut facts)?;
        Ok(facts.person.is_some().then_some(facts))
    }
}

impl Reader {
    /// As `Store::sign_in_facts`.
    pub async fn sign_in_facts(
        &mut self,
        person_id: &str,
        client_id: &str,
    ) -> StoreResult<SignInFacts> {
        let rows = sqlx::query(&FACTS_SQL)
            .bind(person_id)
            .bind(client_id)
            .fetch_all(self.connection()?)
            .await?;
        self.settled();
        let mut facts = SignInFacts {
            person_id: person_id.to_owned(),
            client_id: client_id.to_owned(),
            ..SignInFacts::default()
        };
        read_facts(&rows, 0, &mut facts)?;
        Ok(facts)
    }

    /// The session (not ended) whose token hashes to `token_hash`, with the facts about its
    /// person that a sign-in to `client_id` needs, in one read. The session's liveness beyond
    /// `ended_at` (lifetime, idle time) is the caller's to judge.
    pub async fn session_with_facts(
        &mut self,
        token_hash: &str,
        client_id: &str,
    ) -> StoreResult<Option<(SessionRecord, SignInFacts)>> {
        let rows = sqlx::query(&SESSION_FACTS_SQL)
            .bind(token_hash)
            .bind(client_id)
            .fetch_all(self.connection()?)
            .await?;
        self.settled();
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let session = SessionRecord::read(&mut Columns::new(first))?;
        let mut facts = SignInFacts {
            person_id: session.person_id.clone(),
            client_id: client_id.to_owned(),
            ..SignInFacts::default()
        };
        read_facts(&rows, session_columns(), &mut facts)?;
        Ok(Some((session, facts)))
    }
}

fn session_columns() -> usize {
    SESSION_COLUMNS.split(',').count()
}

/// Fills `facts` from `facts_sql`'s rows, each led by `lead` columns that are not the facts'.
fn read_facts(rows: &[sqlx::any::AnyRow], lead: usize, facts: &mut SignInFacts) -> StoreResult<()> {
    for (n, row) in rows.iter().enumerate() {
        let mut c = Columns::new(row);
        c.skip(lead);
        if n == 0 {
            // A session whose person is gone: its one row has no person (nor memberships).
            if c.next_is_null()? {
                return Ok(());
            }
            let person = Person::read(&mut c)?;
            facts.person_id.clone_from(&person.id);
            facts.person = Some(person);
            facts.mfa_enrolled = c.take::<i64>()? > 0;
            facts.consented_scopes = c
                .take::<Option<String>>()?
                .map(|s| words(&s))
                .unwrap_or_default();
        } else {
            c.skip(person_columns());
        }
        // A person in no firm: their one row has no membership.
        if c.next_is_null()? {
            continue;
        }
        let role: String = c.take()?;
        let standing = PersonStanding {
            mfa_excluded: c.take::<i64>()? > 0,
            sso_excluded: c.take::<i64>()? > 0,
        };
        let firm = Firm::read(&mut c)?;
        facts.members.push(MemberFacts {
            membership: Membership {
                firm_id: firm.id.clone(),
                firm_name: firm.name.clone(),
                person_id: facts.person_id.clone(),
                role,
            },
            firm,
            standing,
        });
    }
    Ok(())
}
