//! Refresh-token rotations, committed in groups.
//!
//! A rotation is one INSERT (migration 0010), but every one of them must pass through the
//! database's writer: on SQLite its single connection, on PostgreSQL a commit that waits for the
//! WAL flush. Under load, the hand-offs around that one statement (acquire the connection, wake
//! the database thread, wake the request, return the connection) cost far more than the insert,
//! and they are serial. So rotations queue here, and one task writes all that are waiting as a
//! single multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING token_hash`: a row that comes
//! back was rotated; one that does not conflicted with the unique index on `parent_hash`, which
//! is the replay (or the losing side of a race), exactly as when each row was its own statement.
//! With nothing else waiting, a rotation goes out at once, alone, so an idle server adds no delay.
//!
//! A batch that fails as a whole for one row's sake (a foreign key) is retried row by row, so one
//! bad row cannot fail its neighbours; when the database is unavailable, every caller in the
//! batch gets that answer at once.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::grants::Rotation;
use super::kept::KeptConnections;
use super::{StoreError, StoreResult};
use crate::clock::UnixTime;

/// At most this many rows per statement: 5 parameters each stays far below both databases'
/// parameter limits, and each batch size is its own prepared statement, so the sizes must fit
/// sqlx's per-connection statement cache (100) or PostgreSQL would plan them again and again.
const MAX_BATCH: usize = 64;

/// One rotation: the successor's hash names the token it replaces.
#[derive(Clone, Debug)]
pub(crate) struct NewRotation {
    pub new_hash: String,
    pub old_hash: String,
    pub grant_id: String,
    pub now: UnixTime,
    pub expires_at: UnixTime,
}

struct Queued {
    rotation: NewRotation,
    answer: oneshot::Sender<StoreResult<Rotation>>,
}

/// The sending side of the queue; the writing task ends when the last `Store` is dropped.
#[derive(Clone, Debug)]
pub(crate) struct RotationQueue {
    queue: mpsc::UnboundedSender<Queued>,
}

impl RotationQueue {
    /// Starts the writing task on the current tokio runtime. `kept`: where `writer`'s
    /// connections wait between statements, when it shares them (PostgreSQL, whose writer is
    /// the one pool); SQLite's single writer connection is never put aside.
    pub(crate) fn start(writer: AnyPool, kept: Option<Arc<KeptConnections>>) -> RotationQueue {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(writer, kept, waiting));
        RotationQueue { queue }
    }

    /// Queues `rotation` and waits for its own answer. If the writing task is gone (its runtime
    /// shut down under a store that outlived it), the rotation is written directly.
    pub(crate) async fn rotate(
        &self,
        writer: &AnyPool,
        rotation: NewRotation,
    ) -> StoreResult<Rotation> {
        let (answer, answered) = oneshot::channel();
        let queued = Queued { rotation, answer };
        if let Err(mpsc::error::SendError(q)) = self.queue.send(queued) {
            return rotate_one(writer, &q.rotation).await;
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the rotation writer stopped".into(),
            ))
        })
    }
}

async fn write_batches(
    writer: AnyPool,
    kept: Option<Arc<KeptConnections>>,
    mut waiting: mpsc::UnboundedReceiver<Queued>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rotations: Vec<&NewRotation> = batch.iter().map(|q| &q.rotation).collect();
        let answers = match write_batch(&writer, kept.as_deref(), &rotations).await {
            Ok(answers) => answers,
            // The database is down: every row would wait out the same outage again.
            Err(StoreError::Unavailable(why)) => rotations
                .iter()
                .map(|_| Err(StoreError::Unavailable(why.clone())))
                .collect(),
            Err(_) => {
                let mut answers = Vec::with_capacity(rotations.len());
                for r in &rotations {
                    answers.push(rotate_one(&writer, r).await);
                }
                answers
            }
        };
        for (queued, answer) in batch.drain(..).zip(answers) {
            // A caller that gave up (its request was cancelled) does not want the answer.
            let _ = queued.answer.send(answer);
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

/// Writes one batch on a connection from `kept` (put aside again once written) or `writer`.
async fn write_batch(
    writer: &AnyPool,
    kept: Option<&KeptConnections>,
    rotations: &[&NewRotation],
) -> StoreResult<Vec<StoreResult<Rotation>>> {
    match kept {
        Some(kept) => {
            let mut conn = kept.take(writer).await?;
            let answers = rotate_many(&mut conn, rotations).await?;
            kept.keep(conn);
            Ok(answers)
        }
        None => rotate_many(&mut *writer.acquire().await?, rotations).await,
    }
}

/// Writes `rotations` in one statement; each answer in the order given.
async fn rotate_many(
    conn: &mut AnyConnection,
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
    let rows = query.fetch_all(conn).await?;
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
async fn rotate_one(writer: &AnyPool, r: &NewRotation) -> StoreResult<Rotation> {
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
