//! Failure counters for credential checks, updated atomically in the database so they hold
//! across several firmgate nodes.

use sqlx::Row;

use super::{Store, StoreResult};
use crate::clock::UnixTime;

/// What the counters said before a credential check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleStanding {
    /// Seconds until both keys may try again (0 = now).
    pub wait: i64,
    /// The first key has a counter (failures in a window, or a lock) to clear on success.
    pub key_counted: bool,
}

impl Store {
    /// Seconds until `key` may try again (0 = now).
    pub async fn throttle_wait(&self, key: &str, now: UnixTime) -> StoreResult<i64> {
        Ok(self.throttle_standing(key, key, now).await?.wait)
    }

    /// Seconds until both keys may try again (0 = now), the later lock, and whether `key` has
    /// failures counted, in one read.
    pub async fn throttle_standing(
        &self,
        key: &str,
        other_key: &str,
        now: UnixTime,
    ) -> StoreResult<ThrottleStanding> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(locked_until), 0) AS locked_until, \
               COUNT(CASE WHEN key = $1 THEN 1 END) AS key_rows \
             FROM throttles WHERE key = $1 OR key = $2",
        )
        .bind(key)
        .bind(other_key)
        .fetch_one(self.pool())
        .await?;
        Ok(ThrottleStanding {
            wait: (row.try_get::<i64, _>("locked_until")? - now).max(0),
            key_counted: row.try_get::<i64, _>("key_rows")? > 0,
        })
    }

    /// Counts a failure in the current window and returns the new count.
    pub async fn throttle_fail(&self, key: &str, now: UnixTime, window: i64) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO throttles (key, failures, window_start, locked_until) VALUES ($1, 1, $2, 0) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttles.window_start + $3 < $2 THEN 1 ELSE throttles.failures + 1 END, \
               window_start = CASE WHEN throttles.window_start + $3 < $2 THEN $2 ELSE throttles.window_start END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(window)
        .fetch_one(self.writer())
        .await?;
        Ok(row.try_get::<i64, _>("failures")?)
    }

    pub async fn throttle_lock(&self, key: &str, until: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE throttles SET locked_until = $1 WHERE key = $2")
            .bind(until)
            .bind(key)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    pub async fn throttle_clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM throttles WHERE key = $1")
            .bind(key)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
