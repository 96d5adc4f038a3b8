//! Connections kept between statements on hot paths.
//!
//! sqlx checks every connection with a round trip as it goes back to its pool (on PostgreSQL a
//! `Sync` and its answer, on SQLite a hop to the connection's thread and back): its barrier
//! after a query that was cancelled half-way, and its test of a broken connection. A hot path
//! that runs one statement per request pays that check once per statement. Here a connection
//! whose statement ran to its end, answer read, is put aside instead and taken by the next such
//! statement: it is known to be between statements, which is all the check establishes. One
//! whose statement failed or was cancelled is never put aside; it goes back through sqlx and
//! its check as before. A connection put aside longer than `IDLE_BEFORE_PING` is handed back
//! to sqlx rather than used, so one the server closed meanwhile is tested and replaced, and at
//! most `KEPT` are put aside, so the pool always has the rest for everything else.

use std::sync::Mutex;
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use super::{StoreResult, IDLE_BEFORE_PING};

/// At most this many connections wait here; the others go back to the pool.
const KEPT: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct KeptConnections {
    idle: Mutex<Vec<(PoolConnection<Any>, Instant)>>,
}

impl KeptConnections {
    /// A connection between statements: the most recently kept one still fresh, or one from
    /// `pool` (which checks it as usual).
    pub(crate) async fn take(&self, pool: &AnyPool) -> StoreResult<PoolConnection<Any>> {
        loop {
            let last = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match last {
                Some((conn, since)) if since.elapsed() < IDLE_BEFORE_PING => return Ok(conn),
                // Stale: back to the pool, which tests it before its next use.
                Some((stale, _)) => drop(stale),
                None => return Ok(pool.acquire().await?),
            }
        }
    }

    /// How many connections are put aside now (idle, though the pool counts them as in use).
    pub(crate) fn len(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    /// Hands every connection put aside back to its pool.
    pub(crate) fn release(&self) {
        let all = self.idle.lock().map(|mut idle| std::mem::take(&mut *idle));
        drop(all);
    }

    /// Puts aside `conn`, whose last statement ran to its end.
    pub(crate) fn keep(&self, conn: PoolConnection<Any>) {
        let spare = match self.idle.lock() {
            Ok(mut idle) if idle.len() < KEPT => {
                idle.push((conn, Instant::now()));
                None
            }
            _ => Some(conn),
        };
        drop(spare);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::{Reader, Store};

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("kept.db").display());
        (Store::connect(&url).await.unwrap(), dir)
    }

    /// Marks the reader's connection: a temporary table is the connection's own.
    async fn mark(reader: &mut Reader) {
        sqlx::query("CREATE TEMP TABLE mark (x INTEGER)")
            .execute(reader.connection().unwrap())
            .await
            .unwrap();
        reader.settled();
    }

    async fn is_marked(reader: &mut Reader) -> bool {
        let found = sqlx::query("SELECT COUNT(*) FROM temp.mark")
            .fetch_one(reader.connection().unwrap())
            .await
            .is_ok();
        reader.settled();
        found
    }

    #[tokio::test]
    async fn a_reader_whose_statements_ran_to_their_end_is_put_aside_for_the_next() {
        let (store, _dir) = store().await;
        let mut reader = store.reader().await.unwrap();
        mark(&mut reader).await;
        drop(reader);
        assert_eq!(store.kept.len(), 1);
        let mut next = store.reader().await.unwrap();
        assert_eq!(store.kept.len(), 0, "taken, not shared");
        assert!(is_marked(&mut next).await, "the same connection");
    }

    #[tokio::test]
    async fn a_reader_left_mid_statement_or_after_a_failure_goes_back_through_sqlx() {
        let (store, _dir) = store().await;
        // Cancelled half-way: the answer was never read to its end.
        let mut reader = store.reader().await.unwrap();
        let slow = sqlx::query(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000000) \
             SELECT COUNT(*) FROM n",
        )
        .fetch_one(reader.connection().unwrap());
        assert!(tokio::time::timeout(Duration::from_millis(20), slow)
            .await
            .is_err());
        drop(reader);
        assert_eq!(store.kept.len(), 0);
        // Failed: the reader never settles.
        let mut reader = store.reader().await.unwrap();
        let failed = sqlx::query("SELECT * FROM no_such_table")
            .fetch_optional(reader.connection().unwrap())
            .await;
        assert!(failed.is_err());
        drop(reader);
        assert_eq!(store.kept.len(), 0);
    }

    #[tokio::test]
    async fn a_connection_put_aside_too_long_is_handed_back_rather_than_used() {
        let (store, _dir) = store().await;
        let mut aside = store.reader().await.unwrap();
        mark(&mut aside).await;
        // A second connection, left unsettled, goes back through sqlx to the pool's idle queue
        // (first in, first out), ahead of the stale one below.
        let mut other = store.reader().await.unwrap();
        other.connection().unwrap();
        drop(other);
        drop(aside);
        assert_eq!(store.kept.len(), 1);
        for _ in 0..200 {
            if store.pool.num_idle() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(store.pool.num_idle(), 1);
        tokio::time::sleep(IDLE_BEFORE_PING + Duration::from_millis(50)).await;
        let mut next = store.reader().await.unwrap();
        assert_eq!(store.kept.len(), 0);
        assert!(!is_marked(&mut next).await, "not the stale connection");
    }

    #[tokio::test]
    async fn at_most_kept_wait_and_closing_takes_them_back() {
        let (store, _dir) = store().await;
        let mut readers = Vec::new();
        for _ in 0..KEPT + 2 {
            readers.push(store.reader().await.unwrap());
        }
        for reader in &mut readers {
            mark(reader).await;
        }
        drop(readers);
        assert_eq!(store.kept.len(), KEPT);
        tokio::time::timeout(Duration::from_secs(5), store.close())
            .await
            .expect("closing does not wait for the connections put aside");
        assert_eq!(store.kept.len(), 0);
    }
}
