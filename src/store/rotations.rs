//! Refresh-token rotations, committed in groups.
//!
//! A rotation is one INSERT (migration 0010), but every one of them must pass through the
//! database's writer: on SQLite its single connection, on PostgreSQL a commit that waits for the
//! WAL flush. Under load, the hand-offs around that one statement (acquire the connection, wake
//! the database thread, wake the request, return the connection) cost far more than the insert,
//! and they are serial. So rotations queue here, and a worker (`grouped`) writes all that are
//! waiting as a single multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING token_hash`: a
//! row that comes back was rotated; one that does not conflicted with the unique index on
//! `parent_hash`, which is the replay (or the losing side of a race), exactly as when each row
//! was its own statement. With nothing else waiting, a rotation goes out at once, alone, so an
//! idle server adds no delay.
//!
//! A batch that fails as a whole for one row's sake (a foreign key) is retried row by row, so one
//! bad row cannot fail its neighbours; when the database is unavailable, every caller in the
//! batch gets that answer at once.

use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::grants::Rotation;
use super::grouped::{self, GroupWork, Workers};
use super::{StoreError, StoreResult};
use crate::clock::UnixTime;

/// At most this many rows per statement: 5 parameters each stays far below both databases'
/// parameter limits, and each batch size is its own prepared statement, so the sizes must fit
/// sqlx's per-connection statement cache (100) or PostgreSQL would plan them again and again.
const MAX_BATCH: usize = 64;

/// Batches written at the same time. On PostgreSQL a batch waits for its commit's WAL flush;
/// while it waits, the next batch gathers and goes out, and the server can flush both commits
/// at once. On SQLite the writer pool has one connection, so the second batch waits for it.
const BATCHES_IN_FLIGHT: usize = 2;

/// Whether the writers go on their own way: see `RotationQueue::start`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Writer {
    /// SQLite's one writer connection, which every other write also needs.
    Shared,
    /// A pool with connections to spare (PostgreSQL).
    Pooled,
}

/// One rotation: the successor's hash names the token it replaces.
#[derive(Clone, Debug)]
pub(crate) struct NewRotation {
    pub new_hash: String,
    pub old_hash: String,
    pub grant_id: String,
    pub now: UnixTime,
    pub expires_at: UnixTime,
}

pub(crate) struct Queued {
    rotation: NewRotation,
    answer: oneshot::Sender<StoreResult<Rotation>>,
}

/// The sending side of the queue; the writers end when the last `Store` is dropped.
#[derive(Clone, Debug)]
pub(crate) struct RotationQueue {
    queue: mpsc::UnboundedSender<Queued>,
}

impl RotationQueue {
    /// Starts the writers on the current tokio runtime. On a `Writer::Shared` connection a
    /// writer gives it back after every batch, so other writes are never kept waiting behind a
    /// stream of rotations.
    pub(crate) fn start(writer: &AnyPool, kind: Writer) -> RotationQueue {
        let (queue, waiting) = mpsc::unbounded_channel();
        let workers = Workers {
            count: BATCHES_IN_FLIGHT,
            max_group: MAX_BATCH,
            keep_connection_while_busy: matches!(kind, Writer::Pooled),
        };
        grouped::start(writer, WriteBatches, waiting, workers);
        RotationQueue { queue }
    }

    /// Queues `rotation` and waits for its own answer. If the writers are gone (their runtime
    /// shut down under a store that outlived it), the rotation is written directly.
    pub(crate) async fn rotate(
        &self,
        writer: &AnyPool,
        rotation: NewRotation,
    ) -> StoreResult<Rotation> {
        let (answer, answered) = oneshot::channel();
        let queued = Queued { rotation, answer };
        if let Err(mpsc::error::SendError(q)) = self.queue.send(queued) {
            return rotate_one(&mut *writer.acquire().await?, &q.rotation).await;
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the rotation writer stopped".into(),
            ))
        })
    }
}

struct WriteBatches;

impl GroupWork for WriteBatches {
    type Waiting = Queued;

    async fn run(&self, writer: &mut AnyConnection, mut batch: Vec<Queued>) -> bool {
        // Rows in the order of the tokens they replace: each row locks its parent (the unique
        // index, the trigger's update), and two batches in flight that locked two parents in
        // opposite orders would deadlock until the database broke the tie.
        batch.sort_unstable_by(|a, b| a.rotation.old_hash.cmp(&b.rotation.old_hash));
        let rotations: Vec<&NewRotation> = batch.iter().map(|q| &q.rotation).collect();
        let mut usable = true;
        let answers = match rotate_many(writer, &rotations).await {
            Ok(answers) => answers,
            // The database is down: every row would wait out the same outage again.
            Err(StoreError::Unavailable(why)) => {
                usable = false;
                rotations
                    .iter()
                    .map(|_| Err(StoreError::Unavailable(why.clone())))
                    .collect()
            }
            Err(_) => {
                let mut answers = Vec::with_capacity(rotations.len());
                for r in &rotations {
                    let answer = rotate_one(writer, r).await;
                    usable &= !matches!(answer, Err(StoreError::Unavailable(_)));
                    answers.push(answer);
                }
                answers
            }
        };
        for (queued, answer) in batch.into_iter().zip(answers) {
            // A caller that gave up (its request was cancelled) does not want the answer.
            let _ = queued.answer.send(answer);
        }
        usable
    }

    fn fail(&self, batch: Vec<Queued>, error: StoreError) {
        for queued in batch {
            let _ = queued.answer.send(Err(error.clone()));
        }
    }
}

/// The multi-row statement for `n` rotations.
fn batch_sql(n: usize) -> String {
    let mut sql = String::with_capacity(140 + n * 48);
    sql.push_str(
        "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at, parent_hash) VALUES ",
    );
    for i in 0..n {
        let p = i * 5;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, NULL, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5
        ));
    }
    sql.push_str(" ON CONFLICT DO NOTHING RETURNING token_hash");
    sql
}

/// Writes `rotations` in one statement; each answer in the order given.
async fn rotate_many(
    writer: &mut AnyConnection,
    rotations: &[&NewRotation],
) -> StoreResult<Vec<StoreResult<Rotation>>> {
    let sql = batch_sql(rotations.len());
    let mut query = sqlx::query(&sql);
    for r in rotations {
        query = query
            .bind(&r.new_hash)
            .bind(&r.grant_id)
            .bind(r.now)
            .bind(r.expires_at)
            .bind(&r.old_hash);
    }
    let rows = query.fetch_all(writer).await?;
    let mut inserted = std::collections::HashSet::with_capacity(rows.len());
    for row in &rows {
        inserted.insert(row.try_get::<String, _>(0)?);
    }
    Ok(rotations
        .iter()
        .map(|r| {
            Ok(if inserted.contains(&r.new_hash) {
                Rotation::Rotated
            } else {
                Rotation::AlreadyUsed
            })
        })
        .collect())
}

/// Writes one rotation on its own.
async fn rotate_one(writer: &mut AnyConnection, r: &NewRotation) -> StoreResult<Rotation> {
    let inserted = sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at, parent_hash) \
         VALUES ($1, $2, $3, $4, NULL, $5)",
    )
    .bind(&r.new_hash)
    .bind(&r.grant_id)
    .bind(r.now)
    .bind(r.expires_at)
    .bind(&r.old_hash)
    .execute(writer)
    .await;
    match inserted.map_err(StoreError::from) {
        Ok(_) => Ok(Rotation::Rotated),
        Err(StoreError::Conflict) => Ok(Rotation::AlreadyUsed),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_numbers_five_parameters_per_row() {
        assert_eq!(
            batch_sql(2),
            "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at, parent_hash) VALUES \
             ($1, $2, $3, $4, NULL, $5), ($6, $7, $8, $9, NULL, $10) ON CONFLICT DO NOTHING RETURNING token_hash"
        );
    }
}
