//! Reads of one row by its key, answered in groups.
//!
//! The refresh grant reads one joined row per request (`refresh_context`). Under load the
//! statement is the smaller part of what such a read costs: each is a round trip to the
//! database, and sqlx pings a connection each time it goes back to the pool, a second round trip
//! (on SQLite, two hops to its thread and back). Every round trip wakes a database process and
//! then the request, and at thousands of refreshes a second those wake-ups are what the machine
//! spends its time on. So reads of the same kind queue here, and a worker (`grouped`) reads all
//! that are waiting with a single `... WHERE key IN ($1, ..., $n)`, answering each caller with
//! its own row (or none). With nothing else waiting, a read goes out at once, alone, so an idle
//! server adds no delay; this mirrors the grouped writer of rotations (`rotations`).
//!
//! A group is padded to a power of two by repeating its keys, which changes no answer (`IN`
//! matches a row once however often its key is listed), so there are only a handful of
//! statements for sqlx to prepare on each connection.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::grouped::{self, GroupWork, Workers};
use super::{StoreError, StoreResult};

/// Groups at the database at once (on SQLite, read connections in use), of at most 64 keys (and
/// so seven statement sizes: 1, 2, 4 ... 64).
const WORKERS: Workers = Workers {
    count: 2,
    max_group: 64,
    keep_connection_while_busy: true,
};

/// What a grouped read reads: its statement, and how a row becomes a value with its key.
pub(crate) struct Lookup<T> {
    /// The statement up to the key list: `SELECT ... WHERE t.key IN ` (the list is appended).
    pub select_where_key_in: &'static str,
    pub read: fn(&AnyRow) -> StoreResult<T>,
    pub key: fn(&T) -> &str,
}

pub(crate) struct Waiting<T> {
    key: String,
    answer: oneshot::Sender<StoreResult<Option<T>>>,
}

/// The sending side of the queue; the workers end when the last sender is dropped.
pub(crate) struct GroupedReads<T: 'static> {
    queue: mpsc::UnboundedSender<Waiting<T>>,
    lookup: &'static Lookup<T>,
}

impl<T: 'static> Clone for GroupedReads<T> {
    fn clone(&self) -> Self {
        GroupedReads {
            queue: self.queue.clone(),
            lookup: self.lookup,
        }
    }
}

impl<T: 'static> std::fmt::Debug for GroupedReads<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupedReads")
            .field("select_where_key_in", &self.lookup.select_where_key_in)
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> GroupedReads<T> {
    /// Starts the workers on the current tokio runtime.
    pub(crate) fn start(pool: &AnyPool, lookup: &'static Lookup<T>) -> GroupedReads<T> {
        let (queue, waiting) = mpsc::unbounded_channel();
        // One statement per group size, indexed by the size's power of two.
        let statements = (0..=WORKERS.max_group.trailing_zeros())
            .map(|p| group_sql(lookup.select_where_key_in, 1 << p))
            .collect();
        let work = ReadGroups { lookup, statements };
        grouped::start(pool, work, waiting, WORKERS);
        GroupedReads { queue, lookup }
    }

    /// Queues a read of `key` and waits for its own answer. If the workers are gone (their
    /// runtime shut down under a store that outlived it), the row is read directly.
    pub(crate) async fn read(&self, pool: &AnyPool, key: &str) -> StoreResult<Option<T>> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting {
            key: key.to_owned(),
            answer,
        };
        if let Err(mpsc::error::SendError(w)) = self.queue.send(waiting) {
            let sql = group_sql(self.lookup.select_where_key_in, 1);
            let mut conn = pool.acquire().await?;
            let mut found = read_group(&mut conn, self.lookup, &sql, &[w.key.as_str()]).await?;
            return Ok(found.remove(&w.key));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the grouped reader stopped".into())))
    }
}

struct ReadGroups<T: 'static> {
    lookup: &'static Lookup<T>,
    statements: Vec<String>,
}

impl<T: Clone + Send + Sync + 'static> GroupWork for ReadGroups<T> {
    type Waiting = Waiting<T>;

    async fn run(&self, conn: &mut AnyConnection, group: Vec<Waiting<T>>) -> bool {
        let keys: Vec<&str> = group.iter().map(|w| w.key.as_str()).collect();
        let size = keys.len().next_power_of_two();
        let built;
        let sql = match self.statements.get(size.trailing_zeros() as usize) {
            Some(sql) => sql,
            None => {
                built = group_sql(self.lookup.select_where_key_in, size);
                &built
            }
        };
        let found = read_group(conn, self.lookup, sql, &keys).await;
        // Whether a later caller in the group asks for the same row (two requests presenting
        // the same token): the last one takes the row, any before it get a copy.
        let wanted_again: Vec<bool> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| keys.iter().skip(i + 1).any(|later| later == key))
            .collect();
        match found {
            Ok(mut found) => {
                for (w, again) in group.into_iter().zip(wanted_again) {
                    let row = if again {
                        found.get(&w.key).cloned()
                    } else {
                        found.remove(&w.key)
                    };
                    // A caller that gave up (its request was cancelled) does not want it.
                    let _ = w.answer.send(Ok(row));
                }
                true
            }
            Err(e) => {
                let usable = !matches!(e, StoreError::Unavailable(_));
                self.fail(group, e);
                usable
            }
        }
    }

    fn fail(&self, group: Vec<Waiting<T>>, error: StoreError) {
        for w in group {
            let _ = w.answer.send(Err(error.clone()));
        }
    }
}

/// Reads the rows of `keys` (not empty) with `sql`, the statement for `keys.len()` rounded up
/// to a power of two, by key.
async fn read_group<T>(
    conn: &mut AnyConnection,
    lookup: &Lookup<T>,
    sql: &str,
    keys: &[&str],
) -> StoreResult<HashMap<String, T>> {
    let mut query = sqlx::query(sql);
    for key in keys.iter().cycle().take(keys.len().next_power_of_two()) {
        query = query.bind(*key);
    }
    let rows = query.fetch_all(conn).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let value = (lookup.read)(row)?;
        found.insert((lookup.key)(&value).to_owned(), value);
    }
    Ok(found)
}

/// `select_where_key_in` with a list of `size` parameters.
fn group_sql(select_where_key_in: &str, size: usize) -> String {
    let mut sql = String::with_capacity(select_where_key_in.len() + 2 + size * 5);
    sql.push_str(select_where_key_in);
    sql.push('(');
    for i in 1..=size {
        if i > 1 {
            sql.push_str(", ");
        }
        sql.push('$');
        sql.push_str(&i.to_string());
    }
    sql.push(')');
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_lists_one_parameter_per_key() {
        assert_eq!(
            group_sql("SELECT a FROM t WHERE k IN ", 1),
            "SELECT a FROM t WHERE k IN ($1)"
        );
        assert_eq!(
            group_sql("SELECT a FROM t WHERE k IN ", 4),
            "SELECT a FROM t WHERE k IN ($1, $2, $3, $4)"
        );
    }
}
