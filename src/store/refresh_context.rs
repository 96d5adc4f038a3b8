//! Everything the refresh grant checks, in one read: the presented token, its grant, the firm
//! (whose policy applies at every refresh), the browser session a grant may be bound to, the
//! person and their membership. Separate reads cost one database round trip each (on SQLite,
//! a hop to its thread and back) for rows that are always wanted together.
//!
//! Refreshes that arrive while one of these reads is out share the next one: a single
//! `WHERE rt.token_hash IN (...)` for all that wait. On PostgreSQL each execution of this
//! six-table join costs its set-up (an index scan and a nested loop per table) and a round
//! trip whatever the number of rows, which under load was a fifth of the database's time.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use sqlx::AnyPool;

use super::firms::{Firm, FIRM_COLUMNS};
use super::grants::{GrantRecord, RefreshRecord, GRANT_COLUMNS, REFRESH_COLUMNS};
use super::grouped::{all_unavailable, Group, Grouped, Stopped};
use super::kept::KeptConnections;
use super::people::{Membership, Person, PERSON_COLUMNS};
use super::sessions::{self, SessionRecord};
use super::{optional, qualified, Columns, Reader, Store, StoreError, StoreResult};

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

/// Batches are padded to a power of two up to this, so that the read is at most six prepared
/// statements per connection.
const MAX_BATCH: usize = 32;

/// The read for `n` token hashes.
fn batch_sql(n: usize) -> String {
    let hashes = (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {}, {}, {}, {}, {}, m.role \
         FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id \
         LEFT JOIN firms f ON f.id = g.firm_id \
         LEFT JOIN sessions s ON s.id = g.session_id \
         LEFT JOIN people p ON p.id = g.person_id \
         LEFT JOIN memberships m ON m.firm_id = g.firm_id AND m.person_id = g.person_id \
         WHERE rt.token_hash IN ({hashes})",
        REFRESH_COLUMNS,
        qualified(GRANT_COLUMNS, "g"),
        qualified(FIRM_COLUMNS, "f"),
        qualified(sessions::COLUMNS, "s"),
        qualified(PERSON_COLUMNS, "p"),
    )
}

/// The statement for each batch size: 1, 2, 4, ... `MAX_BATCH`.
static SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
    std::iter::successors(Some(1), |n| (n * 2 <= MAX_BATCH).then_some(n * 2))
        .map(batch_sql)
        .collect()
});

/// The refresh grant's reads, grouped (see `grouped`) on `pool`'s connections.
pub(crate) struct RefreshReads {
    pool: AnyPool,
    kept: Arc<KeptConnections>,
}

/// The reads waiting to be made.
#[derive(Clone, Debug)]
pub(crate) struct RefreshReader {
    pool: AnyPool,
    kept: Arc<KeptConnections>,
    grouped: Grouped<RefreshReads>,
}

impl RefreshReader {
    /// Starts the reading task on the current tokio runtime; `kept` holds `pool`'s
    /// connections between statements.
    pub(crate) fn start(pool: AnyPool, kept: Arc<KeptConnections>) -> RefreshReader {
        RefreshReader {
            grouped: Grouped::start(RefreshReads {
                pool: pool.clone(),
                kept: kept.clone(),
            }),
            pool,
            kept,
        }
    }

    /// Closes the reads' connections (the store's own pool on SQLite, where this is a no-op
    /// after `Store::close` closed it). The one put aside goes back first: the pool's close
    /// waits for every connection to come back.
    pub(crate) async fn close(&self) {
        self.kept.release();
        self.pool.close().await;
    }
}

impl Group for RefreshReads {
    type Item = String;
    type Answer = Option<RefreshContext>;
    const MAX: usize = MAX_BATCH;

    async fn run(&self, hashes: &[&String]) -> Vec<StoreResult<Option<RefreshContext>>> {
        let hashes: Vec<&str> = hashes.iter().map(|h| h.as_str()).collect();
        match self.read(&hashes).await {
            Ok(found) => answers(&hashes, found),
            Err(StoreError::Unavailable(why)) => all_unavailable(hashes.len(), &why),
            // One row that cannot be read must not fail the others: each is read alone.
            Err(_) => {
                let mut answers = Vec::with_capacity(hashes.len());
                for hash in &hashes {
                    answers.push(self.read(&[hash]).await.map(|mut f| f.remove(*hash)));
                }
                answers
            }
        }
    }
}

impl RefreshReads {
    async fn read(&self, hashes: &[&str]) -> StoreResult<HashMap<String, RefreshContext>> {
        let mut reader = Store::reader_on(&self.pool, &self.kept).await?;
        read_many(&mut reader, hashes).await
    }
}

/// Each hash's context from `found`, in the order asked; the same hash asked twice (a token
/// replayed while its first use is being read) gets a copy each.
fn answers(
    hashes: &[&str],
    mut found: HashMap<String, RefreshContext>,
) -> Vec<StoreResult<Option<RefreshContext>>> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            Ok(if hashes.iter().skip(i + 1).any(|h| h == hash) {
                found.get(*hash).cloned()
            } else {
                found.remove(*hash)
            })
        })
        .collect()
}

/// Reads `hashes` (at most `MAX_BATCH`) in one statement, padded to the next size that has a
/// statement by repeating the last hash.
async fn read_many(
    reader: &mut Reader,
    hashes: &[&str],
) -> StoreResult<HashMap<String, RefreshContext>> {
    let size = hashes.len().next_power_of_two();
    let (Some(sql), Some(last)) = (SQL.get(size.trailing_zeros() as usize), hashes.last()) else {
        // No hashes, or more than one statement takes: the callers never ask for either.
        return Err(StoreError::Database(format!(
            "a grouped refresh read of {} tokens",
            hashes.len()
        )));
    };
    let mut query = sqlx::query(sql);
    for hash in hashes.iter().chain(std::iter::repeat(last)).take(size) {
        query = query.bind(*hash);
    }
    let rows = query.fetch_all(reader.connection()?).await?;
    reader.settled();
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let context = decode(row)?;
        found.insert(context.token.token_hash.clone(), context);
    }
    Ok(found)
}

fn decode(row: &sqlx::any::AnyRow) -> StoreResult<RefreshContext> {
    let mut c = Columns::new(row);
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
    Ok(RefreshContext {
        token,
        grant,
        firm,
        session,
        person,
        membership,
    })
}

impl Store {
    /// The refresh token whose hash is `hash`, with its grant and what the grant refers to.
    pub async fn refresh_context(&self, hash: &str) -> StoreResult<Option<RefreshContext>> {
        match self.refresh_reader.grouped.ask(hash.to_owned()).await {
            Ok(answer) => answer,
            Err(Stopped(hash)) => {
                let mut reader = self.reader().await?;
                Ok(read_many(&mut reader, &[&hash]).await?.remove(&hash))
            }
        }
    }
}
