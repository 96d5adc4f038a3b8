//! SQLite's WAL checkpoints, made beside the writer rather than by it. By default the
//! connection whose commit takes the WAL past 1000 pages copies the WAL back into the
//! database there and then, fsyncs included, before its commit returns; in this process that
//! connection is the only writer, so every write queued behind it waits too. Measured with
//! 32 refresh rotations at a time (`bench_load refresh`, 6 s loads, alternating builds):
//! 5.5-6.6k/s with p99 15-18 ms checkpointing on the writer, 6.8-8.0k/s with p99 10-14 ms
//! checkpointing here (and 6.7-7.6k/s with no checkpoint at all, to size it).
//!
//! So the writer checkpoints only as a backstop (`WRITER_PRAGMAS`), and a task
//! here asks for a PASSIVE checkpoint every `EVERY` on a connection of its own (not one of
//! the readers', whose pool it would otherwise hold up and reorder). A PASSIVE
//! checkpoint takes neither the write lock nor readers' locks: it copies what no reader still
//! needs and leaves the rest for the next one, and once all of the WAL is copied the next
//! write that finds no reader on an older snapshot starts it again from the beginning, so the
//! file does not keep growing. A round with no
//! write since the last checkpoint (the WAL file's modification time unchanged) does nothing,
//! and the connection is opened at the first checkpoint: an idle server holds neither.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use sqlx::AnyPool;

/// How often the WAL is copied back. At the fastest write rate measured here a WAL grows by a
/// few hundred pages in this time: small checkpoints, and short scans for readers.
const EVERY: Duration = Duration::from_millis(500);

/// The writer's own settings: its automatic checkpoint only past 16,384 pages of WAL (64 MiB
/// at 4 KiB pages), if the task falls behind or fails.
pub const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint=16384;";

/// The checkpoint task's handle: the task stops once every clone of the store that started
/// it is gone, or `close` closed its connection.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    /// One connection, the task's own, opened when first needed.
    pool: AnyPool,
    _running: Arc<()>,
}

impl Checkpoints {
    /// `database`: the database file's path; `pool`: a lazy pool of one connection to it.
    pub fn start(database: &str, pool: AnyPool) -> Checkpoints {
        let running = Arc::new(());
        let wal = PathBuf::from(format!("{database}-wal"));
        tokio::spawn(checkpoint_while(
            Arc::downgrade(&running),
            pool.clone(),
            wal,
        ));
        Checkpoints {
            pool,
            _running: running,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn checkpoint_while(running: Weak<()>, pool: AnyPool, wal: PathBuf) {
    // What was written before the start is left to the next checkpoint after a write.
    let mut copied_up_to = written_at(&wal);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if running.strong_count() == 0 || pool.is_closed() {
            return;
        }
        // Read before the checkpoint: a write made while it runs is copied by the next one.
        // (The kernel's file times are coarse: a write in the same few milliseconds as the
        // last one seen waits for the next write's round, or the writer's backstop.)
        let written = written_at(&wal);
        if written == copied_up_to {
            continue;
        }
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            Ok(_) => copied_up_to = written,
            Err(_) if pool.is_closed() => return,
            Err(e) => tracing::warn!(
                error = %e,
                "a WAL checkpoint failed; the writer checkpoints if the WAL grows large"
            ),
        }
    }
}

/// When the WAL was last written to (`None` while there is none).
fn written_at(wal: &Path) -> Option<SystemTime> {
    std::fs::metadata(wal).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::store::Store;

    /// The rows of `written` in the database file alone, without its WAL: what has been
    /// checkpointed (`None`: not even the table is there yet).
    async fn rows_in_the_file_alone(db: &std::path::Path, dir: &std::path::Path) -> Option<i64> {
        let copy = dir.join("copy.db");
        std::fs::copy(db, &copy).unwrap();
        let url = format!("sqlite://{}", copy.display());
        let pool = AnyPool::connect(&url).await.unwrap();
        let n = sqlx::query("SELECT COUNT(*) AS n FROM written")
            .fetch_one(&pool)
            .await
            .ok()
            .map(|row| row.try_get::<i64, _>("n").unwrap());
        pool.close().await;
        n
    }

    #[tokio::test]
    async fn writes_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store.db");
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", db.display()))
            .await
            .unwrap();
        let backstop = sqlx::query("PRAGMA wal_autocheckpoint")
            .fetch_one(store.writer())
            .await
            .unwrap()
            .try_get::<i64, _>(0)
            .unwrap();
        assert_eq!(
            backstop, 16_384,
            "the writer checkpoints only as a backstop"
        );
        // Nothing written yet: no round checkpoints, and the task's connection is not opened.
        tokio::time::sleep(EVERY * 3).await;
        let task = store
            .checkpoints
            .as_ref()
            .expect("a file database")
            .pool
            .clone();
        assert_eq!(task.size(), 0, "no connection while nothing is written");
        sqlx::query("CREATE TABLE written (x INTEGER)")
            .execute(store.writer())
            .await
            .unwrap();
        for x in 0..100 {
            sqlx::query("INSERT INTO written (x) VALUES ($1)")
                .bind(x)
                .execute(store.writer())
                .await
                .unwrap();
        }
        // Far fewer pages than any automatic checkpoint waits for: only the task copies
        // them into the file, within two of its rounds.
        tokio::time::sleep(EVERY * 3).await;
        assert_eq!(rows_in_the_file_alone(&db, dir.path()).await, Some(100));
        assert_eq!(task.size(), 1);
        store.close().await;
        assert!(
            task.is_closed(),
            "closing the store closes the task's connection"
        );
    }
}
