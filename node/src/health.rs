//! Probes for load balancers and orchestrators: `GET /livez` (the process can do its
//! work: the replica thread turns and storage has not failed) and `GET /readyz` (it can
//! serve: it knows a goose and has applied what it knows is committed). See "Health
//! probes" in `docs/node.md`.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use duckgoose_core::Replica;
use serde_json::json;

use crate::runtime::Shared;

/// A replica thread that has not finished a turn for this long is stuck (its turns take
/// at most a few milliseconds plus one fsync).
pub const STUCK_AFTER: Duration = Duration::from_secs(5);

/// What the replica thread reports after each turn, for the probes to read.
pub struct Health {
    born: Instant,
    /// Milliseconds after `born` at the end of the replica thread's latest turn.
    last_turn_ms: AtomicU64,
    commit_index: AtomicU64,
    applied_index: AtomicU64,
    /// Why the last write to the log or the term file failed; the node stops after it.
    storage_failure: Mutex<Option<String>>,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            born: Instant::now(),
            last_turn_ms: AtomicU64::new(0),
            commit_index: AtomicU64::new(0),
            applied_index: AtomicU64::new(0),
            storage_failure: Mutex::new(None),
        }
    }
}

impl Health {
    /// The end of a turn of the replica thread.
    pub fn turned(&self, replica: &Replica) {
        self.record_turn(replica.raft().commit_index(), replica.kv().applied_index());
    }

    fn record_turn(&self, commit_index: u64, applied_index: u64) {
        let now = self.born.elapsed().as_millis() as u64;
        self.last_turn_ms.store(now, Ordering::Release);
        self.commit_index.store(commit_index, Ordering::Release);
        self.applied_index.store(applied_index, Ordering::Release);
    }

    pub fn storage_failed(&self, why: &str) {
        *self
            .storage_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
    }

    /// `Err(reason)` when the node cannot do its work.
    pub fn live(&self) -> Result<(), String> {
        if let Some(why) = &*self
            .storage_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
        {
            return Err(format!("storage failed: {why}"));
        }
        let since = self.since_last_turn();
        if since > STUCK_AFTER {
            return Err(format!(
                "the replica thread has not finished a turn for {} ms",
                since.as_millis()
            ));
        }
        Ok(())
    }

    fn since_last_turn(&self) -> Duration {
        let now = self.born.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_turn_ms.load(Ordering::Acquire)))
    }

    fn indexes(&self) -> (u64, u64) {
        (
            self.commit_index.load(Ordering::Acquire),
            self.applied_index.load(Ordering::Acquire),
        )
    }
}

fn probe(ok: bool, body: serde_json::Value) -> Response {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!("{body}\n"),
    )
        .into_response()
}

/// `GET /livez`: 200 `{"live": true}`, or 503 `{"live": false, "reason": …}`.
pub async fn livez(State(shared): State<Arc<Shared>>) -> Response {
    match shared.health.live() {
        Ok(()) => probe(true, json!({ "live": true })),
        Err(reason) => probe(false, json!({ "live": false, "reason": reason })),
    }
}

/// Why a node is not ready, or `None` when it is.
fn not_ready(shared: &Shared) -> Option<String> {
    if let Err(reason) = shared.health.live() {
        return Some(reason);
    }
    if shared.is_stopping() {
        return Some("stopping".into());
    }
    let view = shared.watch.view();
    if view.leader.is_none() {
        return Some(format!("no goose known in term {}", view.term));
    }
    let (commit, applied) = shared.health.indexes();
    if applied < commit {
        return Some(format!(
            "catching up: applied index {applied} is behind commit index {commit}"
        ));
    }
    None
}

/// `GET /readyz`: 200 when the node knows a goose in its current term and has applied
/// every entry it knows is committed; else 503 with the reason.
pub async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let view = shared.watch.view();
    let (commit, applied) = shared.health.indexes();
    let reason = not_ready(&shared);
    let mut body = json!({
        "ready": reason.is_none(),
        "term": view.term,
        "leader": view.leader,
        "commit_index": commit,
        "applied_index": applied,
    });
    if let Some(reason) = &reason {
        body["reason"] = json!(reason);
    }
    probe(reason.is_none(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_until_storage_fails() {
        let h = Health::default();
        h.record_turn(3, 3);
        assert_eq!(h.live(), Ok(()));
        h.storage_failed("fsync: input/output error");
        let why = h.live().unwrap_err();
        assert!(why.contains("input/output error"), "{why}");
    }

    #[test]
    fn a_thread_that_stopped_turning_is_not_live() {
        let h = Health {
            born: Instant::now() - STUCK_AFTER - Duration::from_secs(1),
            ..Health::default()
        };
        // The last turn was at birth, more than STUCK_AFTER ago.
        let why = h.live().unwrap_err();
        assert!(why.contains("has not finished a turn"), "{why}");
        h.record_turn(0, 0);
        assert_eq!(h.live(), Ok(()));
    }
}
