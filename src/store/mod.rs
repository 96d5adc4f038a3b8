//! All SQL lives here, one file per aggregate, plus one per joined read that serves a hot path
//! across aggregates (`code_context`, `refresh_context`, `sign_in_facts`), and the statements
//! that the requests waiting at the same moment share (`grouped`: the refresh grant's read in
//! `refresh_context`, its rotation in `rotations`). The store runs on SQLite (embedded default,
//! WAL) or PostgreSQL (scale-out) through sqlx `Any` pools with SQL written once (on SQLite, writes
//! have a connection of their own, see `Store::connect`, and the WAL is copied back beside it,
//! see `checkpoints`); reads that go together can share one
//! connection (`Reader`), which the next reader takes over when its statements ran to their end
//! (`kept`). Nothing above this module asks which database it is on.

pub mod accounts;
pub mod audit;
pub mod backchannel;
mod checkpoints;
pub mod client_cache;
pub mod clients;
pub mod code_context;
pub mod codes;
pub mod consents;
pub mod firm_members;
pub mod firms;
pub mod grants;
mod grouped;
pub mod interactions;
mod kept;
pub mod keys;
pub mod mfa;
pub mod outbox;
pub mod people;
pub mod refresh_context;
mod rotations;
pub mod sessions;
pub mod sign_in_facts;
pub mod sso;
pub mod throttles;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("that record already exists")]
    Conflict,
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::Database(db) if db.code().is_some_and(|c| unavailable_code(&c)) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Database(e.to_string()),
        }
    }
}

/// Database errors that mean "not now" rather than "wrong": PostgreSQL's connection
/// exceptions (class 08), shutdown and crash (57, e.g. 57P01 when the server stops), and
/// resource exhaustion (53, e.g. too many connections); SQLite's busy and locked (primary codes
/// 5 and 6, also in extended codes) once its busy timeout has run out.
fn unavailable_code(code: &str) -> bool {
    if code.len() == 5 {
        return ["08", "53", "57"]
            .iter()
            .any(|class| code.starts_with(class));
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A PostgreSQL connection idle this long is pinged before use, so that one the server closed
/// meanwhile (a restart, an idle timeout) is replaced rather than failing a request. sqlx pings
/// before every use by default, a round trip to the server per statement; connections in
/// steady use are checked anyway as they go back to the pool (sqlx pings each on release), or
/// were put aside by `kept` less than this long ago after a statement that ran to its end; and
/// one that breaks while in use fails its query, which answers 503 like any outage.
pub const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Store {
    /// Reads (and, on PostgreSQL, everything).
    pool: AnyPool,
    /// Writes and transactions: on SQLite one connection of its own (see `connect`), on
    /// PostgreSQL the same pool as reads.
    writer: AnyPool,
    clients: std::sync::Arc<client_cache::ClientCache>,
    /// Refresh-token rotations wait here to be written in groups (see `rotations`).
    rotations: rotations::RotationQueue,
    /// Connections between statements: readers' and, on PostgreSQL, the rotation batches'
    /// (see `kept`).
    kept: std::sync::Arc<kept::KeptConnections>,
    /// The refresh grant's reads wait here to be made in groups (see `refresh_context`).
    refresh_reader: refresh_context::RefreshReader,
    /// SQLite only: the WAL checkpoints, made beside the writer (see `checkpoints`).
    checkpoints: Option<checkpoints::Checkpoints>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connects to `url`, creating a SQLite file (and its directory) when needed.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        // How long a request waits for a connection before it is answered 503. PostgreSQL
        // fails fast (a server that is down is retried for 2 s, not longer); SQLite, which is
        // never "down", allows for write bursts queueing on its single writer.
        let acquire = match backend {
            Backend::Sqlite => Duration::from_secs(5),
            Backend::Postgres => Duration::from_secs(2),
        };
        match backend {
            Backend::Sqlite => {
                if let Some(dir) = sqlite_path(url)
                    .and_then(|p| std::path::Path::new(&p).parent().map(|d| d.to_path_buf()))
                {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(&dir)
                            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    }
                }
                // SQLite takes one writer at a time. Several connections writing at once make
                // the losers sleep in SQLite's busy handler (1, 2, 5, 10 ... ms) and retry,
                // which under load costs far more than the writes; so this process writes
                // through one connection, the writers queueing for it in order, while reads
                // (WAL: never blocked by the writer) go through a pool of their own. The busy
                // timeout remains for other processes on the same file (the CLI, other nodes).
                let sqlite = |max: u32, pragmas: &'static str| {
                    AnyPoolOptions::new()
                        .acquire_timeout(acquire)
                        .max_connections(max)
                        // A SQLite connection is a file handle on a thread of its own: it does
                        // not go away between uses, and the ping sqlx sends by default before
                        // each use is one more hop to that thread per statement.
                        .test_before_acquire(false)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                                     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
                                )
                                .await?;
                                if !pragmas.is_empty() {
                                    conn.execute(pragmas).await?;
                                }
                                Ok(())
                            })
                        })
                };
                let pool = sqlite(8, "").connect(url).await?;
                // The WAL is copied back beside the writer (`checkpoints`), not by it.
                let writer = sqlite(1, checkpoints::WRITER_PRAGMAS).connect(url).await?;
                // A file's WAL only: an in-memory database has none.
                let checkpoints = match sqlite_path(url) {
                    Some(file) => Some(checkpoints::Checkpoints::start(
                        &file,
                        sqlite(1, "").connect_lazy(url)?,
                    )),
                    None => None,
                };
                let kept = std::sync::Arc::<kept::KeptConnections>::default();
                Ok(Store {
                    checkpoints,
                    refresh_reader: refresh_context::RefreshReader::start(
                        pool.clone(),
                        kept.clone(),
                    ),
                    pool,
                    rotations: rotations::RotationQueue::start(writer.clone(), None),
                    writer,
                    clients: Default::default(),
                    kept,
                })
            }
            Backend::Postgres => {
                let postgres = |max: u32| {
                    AnyPoolOptions::new()
                        .acquire_timeout(acquire)
                        .max_connections(max)
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                if meta.idle_for >= IDLE_BEFORE_PING {
                                    conn.ping().await?;
                                }
                                Ok(true)
                            })
                        })
                };
                let pool = postgres(16).connect(url).await?;
                // The refresh grant's grouped read looks up to `MAX_BATCH` tokens by their
                // primary key. Its plan is made once per connection and kept, and one made
                // while the tables were nearly empty (a new database, or statistics taken
                // then) scans refresh_tokens whole: cheap at first, and then each read costs
                // as much as the table is long until autovacuum's next ANALYZE, minutes later
                // (measured: 1.9k refreshes/s instead of 5.5k in a new database's first eight
                // seconds). On a connection of its own, that read is planned without table
                // scans whatever the statistics say.
                let refresh_pool = postgres(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET enable_seqscan = off").await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                let kept = std::sync::Arc::<kept::KeptConnections>::default();
                Ok(Store {
                    refresh_reader: refresh_context::RefreshReader::start(
                        refresh_pool,
                        Default::default(),
                    ),
                    writer: pool.clone(),
                    rotations: rotations::RotationQueue::start(pool.clone(), Some(kept.clone())),
                    pool,
                    clients: Default::default(),
                    kept,
                    checkpoints: None,
                })
            }
        }
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.pool.connect_options().database_url.scheme() {
            "sqlite" => &SQLITE_MIGRATIONS,
            _ => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A connection for reads that go together (see `Reader`): one put aside by the last
    /// reader whose statements all ran to their end (see `kept`), or one from the pool.
    pub async fn reader(&self) -> StoreResult<Reader> {
        Store::reader_on(&self.pool, &self.kept).await
    }

    pub(crate) async fn reader_on(
        pool: &AnyPool,
        kept: &std::sync::Arc<kept::KeptConnections>,
    ) -> StoreResult<Reader> {
        Ok(Reader {
            connection: Some(kept.take(pool).await?),
            kept: kept.clone(),
            settled: true,
        })
    }

    /// Where writes and transactions go.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// The connection pool now, for `/metrics`.
    pub fn pool_stats(&self) -> crate::observe::metrics::PoolStats {
        crate::observe::metrics::PoolStats {
            size: self.pool.size(),
            // Those put aside between statements are idle too.
            idle: self.pool.num_idle() + self.kept.len(),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Closes the connections, waiting for those in use to come back (for tools that open a
    /// store of their own for a while; the server's lives as long as the process).
    pub async fn close(&self) {
        self.kept.release();
        self.pool.close().await;
        self.writer.close().await;
        self.refresh_reader.close().await;
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.close().await;
        }
    }

    /// True when the database answers a trivial query (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Reads that go together, on one pooled connection. sqlx checks a connection with a round trip
/// (on SQLite, a hop to its thread and back) each time it goes back to the pool; the reads made
/// through one `Reader` pay that once, and none at all when every statement ran to its end:
/// then the connection is put aside for the next reader (`kept`). Hold it only for those reads,
/// never across other work.
pub struct Reader {
    /// `None` only while being dropped.
    connection: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    kept: std::sync::Arc<kept::KeptConnections>,
    /// False from the start of a statement until its answer has been read to the end.
    settled: bool,
}

impl Reader {
    /// The connection for one statement; call `settled` once its answer is read. A statement
    /// that failed or was cancelled leaves the reader unsettled, and its connection goes back
    /// through sqlx's check.
    pub(crate) fn connection(&mut self) -> StoreResult<&mut sqlx::AnyConnection> {
        self.settled = false;
        self.connection
            .as_deref_mut()
            .ok_or_else(|| StoreError::Unavailable("the reader has no connection".into()))
    }

    /// The last statement's answer has been read to its end.
    pub(crate) fn settled(&mut self) {
        self.settled = true;
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let (true, Some(connection)) = (self.settled, self.connection.take()) {
            self.kept.keep(connection);
        }
    }
}

fn backend_of(url: &str) -> StoreResult<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.to_owned())
    }
}

/// Reads a joined row's columns in order: each record type whose columns follow its table's
/// column list reads its fields from here (`Person::read`, ...), so one row can carry several
/// records whose column names collide.
pub(crate) struct Columns<'r> {
    row: &'r sqlx::any::AnyRow,
    next: usize,
}

impl<'r> Columns<'r> {
    pub(crate) fn new(row: &'r sqlx::any::AnyRow) -> Self {
        Columns { row, next: 0 }
    }

    pub(crate) fn take<T>(&mut self) -> StoreResult<T>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        let value = sqlx::Row::try_get(self.row, self.next)?;
        self.next += 1;
        Ok(value)
    }

    /// Whether the next column is NULL: the first column of a LEFT JOIN's record that found
    /// no row.
    pub(crate) fn next_is_null(&self) -> StoreResult<bool> {
        use sqlx::ValueRef;
        Ok(sqlx::Row::try_get_raw(self.row, self.next)?.is_null())
    }

    pub(crate) fn skip(&mut self, columns: usize) {
        self.next += columns;
    }
}

/// Reads a LEFT JOIN's record, or skips its columns when the join found no row.
pub(crate) fn optional<T>(
    c: &mut Columns<'_>,
    columns: &str,
    read: fn(&mut Columns<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    if c.next_is_null()? {
        c.skip(columns.split(',').count());
        Ok(None)
    } else {
        read(c).map(Some)
    }
}

/// `columns` (a comma-separated list) each qualified with the table alias `alias`.
pub(crate) fn qualified(columns: &str, alias: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a space-separated list column.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_chosen_by_scheme() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert!(backend_of("mysql://h/db").is_err());
        assert_eq!(
            sqlite_path("sqlite://data/firmgate.db?mode=rwc").as_deref(),
            Some("data/firmgate.db")
        );
    }

    #[test]
    fn outage_codes_are_unavailable_and_rule_breaks_are_not() {
        for code in [
            "08006", "08001", "57P01", "57P03", "53300", "5", "6", "517", "262",
        ] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "40001", "19", "2067", "1"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        // STYLE.md: same version numbers in both dialect folders.
        let versions =
            |m: &sqlx::migrate::Migrator| -> Vec<i64> { m.iter().map(|x| x.version).collect() };
        assert_eq!(versions(&SQLITE_MIGRATIONS), versions(&POSTGRES_MIGRATIONS));
        assert!(!versions(&SQLITE_MIGRATIONS).is_empty());
    }
}
