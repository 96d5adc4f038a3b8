//! Refresh-token rotations, committed in groups (see `grouped`).
//!
//! A rotation is one INSERT (migration 0010), but every one of them must pass through the
//! database's writer: on SQLite its single connection, on PostgreSQL a commit that waits for the
//! WAL flush. The rotations that wait are written as a single multi-row
//! `INSERT ... ON CONFLICT DO NOTHING RETURNING token_hash`: a row that comes back was rotated;
//! one that does not conflicted with the unique index on `parent_hash`, which is the replay (or
//! the losing side of a race), exactly as when each row was its own statement.
//!
//! A batch that fails as a whole for one row's sake (a foreign key) is retried row by row, so one
//! bad row cannot fail its neighbours; when the database is unavailable, every caller in the
//! batch gets that answer at once.

use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool, Row};

use super::grants::Rotation;
use super::grouped::{all_unavailable, Group, Grouped, Stopped};
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

/// Where rotations are written: `kept` holds `writer`'s connections between statements when
/// it shares them (PostgreSQL, whose writer is the one pool); SQLite's single writer connection
/// is never put aside.
pub(crate) struct Rotations {
    writer: AnyPool,
    kept: Option<Arc<KeptConnections>>,
}

/// The rotations waiting to be written.
#[derive(Clone, Debug)]
pub(crate) struct RotationQueue {
    writer: AnyPool,
    grouped: Grouped<Rotations>,
}

impl RotationQueue {
    /// Starts the writing task on the current tokio runtime.
    pub(crate) fn start(writer: AnyPool, kept: Option<Arc<KeptConnections>>) -> RotationQueue {
        RotationQueue {
            grouped: Grouped::start(Rotations {
                writer: writer.clone(),
                kept,
            }),
            writer,
        }
    }

    /// Queues `rotation` and waits for its own answer; written directly when the writing task
    /// is gone.
    pub(crate) async fn rotate(&self, rotation: NewRotation) -> StoreResult<Rotation> {
        match self.grouped.ask(rotation).await {
            Ok(answer) => answer,
            Err(Stopped(rotation)) => rotate_one(&self.writer, &rotation).await,
        }
    }
}

impl Group for Rotations {
    type Item = NewRotation;
    type Answer = Rotation;
    const MAX: usize = MAX_BATCH;

    async fn run(&self, rotations: &[&NewRotation]) -> Vec<StoreResult<Rotation>> {
        match write_batch(&self.writer, self.kept.as_deref(), rotations).await {
            Ok(answers) => answers,
            Err(StoreError::Unavailable(why)) => all_unavailable(rotations.len(), &why),
            Err(_) => {
                let mut answers = Vec::with_capacity(rotations.len());
                for r in rotations {
                    answers.push(rotate_one(&self.writer, r).await);
                }
                answers
            }
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
