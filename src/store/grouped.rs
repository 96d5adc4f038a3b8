//! Statements shared by the requests that wait for them.
//!
//! On a hot path, the work around a statement (a round trip; on SQLite a hop to the
//! connection's thread and back; on PostgreSQL the executor's set-up of every scan and join)
//! costs more than the rows, and does not grow with their number. So requests queue here, and
//! one task runs each group that is waiting as a single statement, then hands every request its
//! own answer. With nothing else waiting, a request goes out at once, alone: an idle server adds
//! no delay, and a busy one forms larger groups by itself, since more arrive while one is out.
//! Users: the refresh grant's read (`refresh_context`) and its rotation (`rotations`).

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

/// One kind of statement that requests can share.
pub(crate) trait Group: Send + 'static {
    /// What one request asks for.
    type Item: Send + Sync + 'static;
    /// What it gets back.
    type Answer: Send + 'static;
    /// At most this many requests per statement.
    const MAX: usize;

    /// Runs `items` together; one answer each, in their order.
    fn run(
        &self,
        items: &[&Self::Item],
    ) -> impl Future<Output = Vec<StoreResult<Self::Answer>>> + Send;
}

struct Waiting<G: Group> {
    item: G::Item,
    answer: oneshot::Sender<StoreResult<G::Answer>>,
}

/// The queue's sending side; its task ends when the last clone is dropped.
pub(crate) struct Grouped<G: Group> {
    queue: mpsc::UnboundedSender<Waiting<G>>,
}

impl<G: Group> Clone for Grouped<G> {
    fn clone(&self) -> Self {
        Grouped {
            queue: self.queue.clone(),
        }
    }
}

impl<G: Group> std::fmt::Debug for Grouped<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped").finish_non_exhaustive()
    }
}

/// The task is gone (its runtime shut down under a store that outlived it): the caller runs
/// its item alone.
pub(crate) struct Stopped<T>(pub T);

impl<G: Group> Grouped<G> {
    /// Starts the task that runs the groups on the current tokio runtime.
    pub(crate) fn start(group: G) -> Grouped<G> {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run_groups(group, waiting));
        Grouped { queue }
    }

    /// Queues `item` and waits for its own answer.
    pub(crate) async fn ask(
        &self,
        item: G::Item,
    ) -> Result<StoreResult<G::Answer>, Stopped<G::Item>> {
        let (answer, answered) = oneshot::channel();
        if let Err(mpsc::error::SendError(w)) = self.queue.send(Waiting { item, answer }) {
            return Err(Stopped(w.item));
        }
        Ok(answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the statement's task stopped".into(),
            ))
        }))
    }
}

async fn run_groups<G: Group>(group: G, mut waiting: mpsc::UnboundedReceiver<Waiting<G>>) {
    let mut batch = Vec::with_capacity(G::MAX);
    while waiting.recv_many(&mut batch, G::MAX).await > 0 {
        let items: Vec<&G::Item> = batch.iter().map(|w| &w.item).collect();
        let answers = group.run(&items).await;
        for (w, answer) in batch.drain(..).zip(answers) {
            // A caller that gave up (its request was cancelled) does not want the answer.
            let _ = w.answer.send(answer);
        }
    }
}

/// Each of `n` requests gets "unavailable" with `why`: when the database is unavailable, every
/// member of the group would wait out the same outage again if each were retried alone.
pub(crate) fn all_unavailable<A>(n: usize, why: &str) -> Vec<StoreResult<A>> {
    (0..n)
        .map(|_| Err(StoreError::Unavailable(why.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Doubles numbers; counts the statements and refuses 13.
    struct Doubling {
        statements: Arc<AtomicUsize>,
    }

    impl Group for Doubling {
        type Item = u32;
        type Answer = u32;
        const MAX: usize = 4;

        async fn run(&self, items: &[&u32]) -> Vec<StoreResult<u32>> {
            self.statements.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            items
                .iter()
                .map(|&&n| match n {
                    13 => Err(StoreError::Conflict),
                    n => Ok(n * 2),
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn each_request_gets_its_own_answer_and_waiting_ones_share_a_statement() {
        let statements = Arc::new(AtomicUsize::new(0));
        let grouped = Grouped::start(Doubling {
            statements: statements.clone(),
        });
        let asks: Vec<_> = (0..10u32)
            .map(|n| {
                let grouped = grouped.clone();
                tokio::spawn(async move { (n, grouped.ask(n).await) })
            })
            .collect();
        let thirteen = grouped.ask(13).await.ok().unwrap();
        for ask in asks {
            let (n, answer) = ask.await.unwrap();
            assert_eq!(answer.ok().unwrap().unwrap(), n * 2);
        }
        assert!(matches!(thirteen, Err(StoreError::Conflict)));
        // 11 requests, at most 4 per statement: at least 3 statements, and fewer than one each,
        // since the spawned requests queue while the first statement is out.
        let ran = statements.load(Ordering::SeqCst);
        assert!((3..11).contains(&ran), "{ran} statements");
    }

    #[test]
    fn a_stopped_task_hands_the_item_back() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let grouped = runtime.block_on(async {
            Grouped::start(Doubling {
                statements: Default::default(),
            })
        });
        drop(runtime);
        let again = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        match again.block_on(grouped.ask(7)) {
            Err(Stopped(7)) => {}
            _ => panic!("expected the item back"),
        }
    }
}
