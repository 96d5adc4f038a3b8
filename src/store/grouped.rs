//! Work that queues and is done in groups, each group one statement on one connection: the
//! grouped reads of refresh contexts (`grouped_reads`) and the grouped writer of rotations
//! (`rotations`).
//!
//! A few workers share the queue. One waits for work; when some arrives it takes all that is
//! waiting (up to a group's limit) and does it, while the next worker waits for more, so a
//! group is gathering while another is at the database. With nothing else waiting, work goes
//! out at once, alone, so an idle server adds no delay.
//!
//! A worker may keep its connection from one group to the next for as long as more work is
//! waiting when it finishes. sqlx checks a connection with a round trip each time it goes back
//! to the pool; under load that check cost as much as the group's own statement. A worker that
//! finds the queue empty gives its connection back. SQLite's single writer is never kept this
//! way: every other write in the process waits for it.

use std::future::Future;
use std::sync::Arc;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, Mutex};

use super::StoreError;

/// What a queue's groups do.
pub(crate) trait GroupWork: Send + Sync + 'static {
    /// One caller's item of work, with the channel its answer goes back on.
    type Waiting: Send + 'static;

    /// Does `group` on `conn` and answers each caller in it. Returns false when the database
    /// stopped answering on `conn`, which then goes back to the pool (where sqlx's check
    /// closes it) rather than to the next group.
    fn run(
        &self,
        conn: &mut AnyConnection,
        group: Vec<Self::Waiting>,
    ) -> impl Future<Output = bool> + Send;

    /// Answers every caller in `group` with `error`: no connection could be had.
    fn fail(&self, group: Vec<Self::Waiting>, error: StoreError);
}

/// How a queue's workers go about it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Workers {
    /// Groups at the database at the same time.
    pub count: usize,
    /// At most this many callers' items per group.
    pub max_group: usize,
    /// Whether a worker keeps its connection while more work is waiting (see the module docs).
    pub keep_connection_while_busy: bool,
}

/// Starts `workers.count` workers on the current tokio runtime, taking work from `waiting`;
/// they end when every sender of the queue is gone.
pub(crate) fn start<G: GroupWork>(
    pool: &AnyPool,
    work: G,
    waiting: mpsc::UnboundedReceiver<G::Waiting>,
    workers: Workers,
) {
    let work = Arc::new(work);
    let waiting = Arc::new(Mutex::new(waiting));
    for _ in 0..workers.count {
        tokio::spawn(work_groups(
            pool.clone(),
            work.clone(),
            waiting.clone(),
            workers,
        ));
    }
}

async fn work_groups<G: GroupWork>(
    pool: AnyPool,
    work: Arc<G>,
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<G::Waiting>>>,
    workers: Workers,
) {
    loop {
        let mut group = Vec::with_capacity(workers.max_group);
        // The lock is held while waiting: the one worker holding it takes the next work.
        if waiting
            .lock()
            .await
            .recv_many(&mut group, workers.max_group)
            .await
            == 0
        {
            return;
        }
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                work.fail(group, e.into());
                continue;
            }
        };
        loop {
            if !work.run(&mut conn, group).await || !workers.keep_connection_while_busy {
                break;
            }
            group = waiting_now(&waiting, workers.max_group);
            if group.is_empty() {
                break;
            }
        }
        // Back to the pool (sqlx checks it on the way).
        drop(conn);
    }
}

/// The work waiting right now, without waiting for more. When another worker holds the queue,
/// it is waiting for work: there is none.
fn waiting_now<W>(waiting: &Mutex<mpsc::UnboundedReceiver<W>>, max_group: usize) -> Vec<W> {
    let mut group = Vec::new();
    if let Ok(mut waiting) = waiting.try_lock() {
        while group.len() < max_group {
            match waiting.try_recv() {
                Ok(w) => group.push(w),
                Err(_) => break,
            }
        }
    }
    group
}
