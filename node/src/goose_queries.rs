//! Goose questions from HTTP clients, asked of the replica one batch at a time.
//!
//! Under load thousands of `/goose` requests a second arrive, and the core answers them
//! all from a handful of quorum rounds (questions asked during a round share the next
//! one). Handing each request to the replica thread on its own costs a wake-up of that
//! thread and of a runtime worker per request, which dominated the node's CPU (profiled:
//! about a third of it in the scheduler). So questions queue here, and one task asks the
//! replica once for everyone queued, then again for whoever arrived meanwhile.
//!
//! Linearizable as before: a question joins the batch that is still waiting, and the
//! batch's single question goes to the replica only after every member arrived, so the
//! quorum round that confirms it started after each of them was asked.

use std::sync::{Arc, Mutex};

use duckgoose_core::{Reply, Request};
use tokio::sync::watch;

use crate::runtime::{self, CallError, Shared};

/// What one goose question got; every member of a batch gets the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GooseAnswer {
    /// Quorum-confirmed leader in `term`.
    Goose { term: u64 },
    /// Not the goose, and why.
    Duck { reason: String },
    /// The replica could not be asked, or stopped before answering.
    Failed(CallError),
}

type Batch = watch::Sender<Option<GooseAnswer>>;

/// The questions waiting for the next ask, and whether a task is asking.
#[derive(Default)]
pub struct GooseQueries {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    /// Questions that arrived since the last ask went out.
    waiting: Option<Batch>,
    /// A task is asking the replica, and takes `waiting` when its answer is in.
    asking: bool,
}

impl GooseQueries {
    /// Joins the next batch and waits for its answer (at most the request timeout, like
    /// any request).
    pub async fn ask(shared: &Arc<Shared>) -> GooseAnswer {
        let (mut answer, start_asking) = {
            let mut queue = shared.goose_queries.lock();
            let answer = queue
                .waiting
                .get_or_insert_with(|| watch::channel(None).0)
                .subscribe();
            let start_asking = !queue.asking;
            queue.asking = true;
            (answer, start_asking)
        };
        if start_asking {
            // A task of its own, so that a client hanging up cannot strand the batch.
            tokio::spawn(ask_while_any_wait(Arc::clone(shared)));
        }
        let wait = shared.request_timeout + runtime::REPLY_GRACE;
        match tokio::time::timeout(wait, answer.wait_for(Option::is_some)).await {
            Ok(Ok(got)) => got
                .clone()
                .unwrap_or(GooseAnswer::Failed(CallError::Abandoned)),
            // The asking task ended without an answer: only at runtime shutdown.
            Ok(Err(_)) => GooseAnswer::Failed(CallError::Abandoned),
            Err(_) => GooseAnswer::Duck {
                reason: duckgoose_core::RequestError::Timeout.to_string(),
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue holds no invariant a panicking holder could break half-way.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Asks the replica for each batch in turn until no question is waiting.
async fn ask_while_any_wait(shared: Arc<Shared>) {
    loop {
        let batch = {
            let mut queue = shared.goose_queries.lock();
            match queue.waiting.take() {
                Some(batch) => batch,
                None => {
                    queue.asking = false;
                    return;
                }
            }
        };
        let answer = ask_replica(&shared).await;
        batch.send_replace(Some(answer));
    }
}

async fn ask_replica(shared: &Shared) -> GooseAnswer {
    // One question stands for many waiting requests, each already counted against
    // --max-inflight by its handler, so this one is not counted again.
    match runtime::call_uncounted(shared, Request::Goose).await {
        Ok(Ok(Reply::Goose { term })) => GooseAnswer::Goose { term },
        Ok(Ok(Reply::Duck { reason })) => GooseAnswer::Duck {
            reason: reason.to_string(),
        },
        Ok(Ok(other)) => {
            // Cannot happen for a goose question; when in doubt, no goose.
            tracing::error!(?other, "unexpected reply to a goose question");
            GooseAnswer::Duck {
                reason: format!("unexpected reply {other:?}"),
            }
        }
        Ok(Err(e)) => GooseAnswer::Duck {
            reason: e.to_string(),
        },
        Err(e) => GooseAnswer::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{Receiver, sync_channel};
    use std::time::Duration;

    use super::*;
    use crate::runtime::Input;

    fn node() -> (Arc<Shared>, Receiver<Input>) {
        let (inputs, replica) = sync_channel(64);
        let shared = Shared::new(1, "127.0.0.1:1", None, inputs, 1000, Duration::from_secs(5));
        (Arc::new(shared), replica)
    }

    /// Plays the replica: takes one goose question and answers it with `term`.
    async fn answer_one(replica: Receiver<Input>, term: u64) -> Receiver<Input> {
        tokio::task::spawn_blocking(move || {
            match replica.recv_timeout(Duration::from_secs(5)) {
                Ok(Input::Request { request, reply }) => {
                    assert_eq!(request, Request::Goose);
                    let _ = reply.send(Ok(Reply::Goose { term }));
                }
                Ok(_) => panic!("not a goose question"),
                Err(e) => panic!("no goose question: {e}"),
            }
            replica
        })
        .await
        .expect("the replica side panicked")
    }

    fn ask(shared: &Arc<Shared>) -> tokio::task::JoinHandle<GooseAnswer> {
        let shared = Arc::clone(shared);
        tokio::spawn(async move { GooseQueries::ask(&shared).await })
    }

    // Current-thread runtime: the spawned askers all run before the asking task does.
    #[tokio::test]
    async fn concurrent_questions_reach_the_replica_as_one() {
        let (shared, replica) = node();
        let asks: Vec<_> = (0..50).map(|_| ask(&shared)).collect();
        let replica = answer_one(replica, 7).await;
        for a in asks {
            assert_eq!(a.await.unwrap(), GooseAnswer::Goose { term: 7 });
        }
        assert!(replica.try_recv().is_err(), "a second question was sent");
    }

    #[tokio::test]
    async fn a_question_asked_during_an_ask_waits_for_the_next_one() {
        let (shared, replica) = node();
        let first = ask(&shared);
        let (seen_tx, seen) = std::sync::mpsc::channel();
        let (go_tx, go) = std::sync::mpsc::channel::<()>();
        // The replica holds the first question until the second asker has joined.
        let replica = tokio::task::spawn_blocking(move || {
            let Ok(Input::Request { reply, .. }) = replica.recv_timeout(Duration::from_secs(5))
            else {
                panic!("no first goose question");
            };
            seen_tx.send(()).unwrap();
            go.recv().unwrap();
            let _ = reply.send(Ok(Reply::Goose { term: 7 }));
            replica
        });
        tokio::task::spawn_blocking(move || seen.recv().unwrap())
            .await
            .unwrap();
        let second = ask(&shared);
        tokio::task::yield_now().await;
        go_tx.send(()).unwrap();
        let replica = replica.await.unwrap();
        assert_eq!(first.await.unwrap(), GooseAnswer::Goose { term: 7 });
        let replica = answer_one(replica, 8).await;
        assert_eq!(second.await.unwrap(), GooseAnswer::Goose { term: 8 });
        assert!(replica.try_recv().is_err());
    }
}
