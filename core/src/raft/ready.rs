//! What the driver gets out of a node, and the persistence contract, enforced by types:
//!
//! ```text
//! let ready = raft.ready();                       // a pure drain of what is queued
//! disk.write(&ready.hard_state, &ready.log_write); // make it durable (fsync)
//! let out = raft.advance(ready);                  // "it is durable": only now ...
//! send(out.messages); apply(out.committed); answer(out.reads); // ... is the rest released
//! ```
//!
//! Messages may promise what the write records (a vote, an accepted entry), so they are
//! private to `Ready` and only `advance` hands them out. `advance` is also the
//! acknowledgement: the leader counts its own new entries toward commit only from then.

use alloc::vec::Vec;
use core::ops::ControlFlow;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::Raft;
use super::goose::ReadOutcome;
use crate::entry::Entry;
use crate::events::Event;
use crate::kv::Op;
use crate::message::Message;
use crate::snapshot::Snapshot;
use crate::types::{Index, NodeId, Term};

/// Term and vote: durable before `advance` releases the messages of the same `Ready`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
}

/// Log changes to make durable: drop every entry at `truncate_from` and after, then
/// append `entries` (which start at `truncate_from`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct LogWrite<C = Op> {
    pub truncate_from: Index,
    pub entries: Vec<Entry<C>>,
}

/// Everything a node produced since the last `ready()`. The driver makes `hard_state`,
/// `snapshot` and `log_write` durable, then passes the `Ready` back to `Raft::advance`,
/// which releases the messages, committed entries and read answers. Dropping a `Ready`
/// instead is as if its messages were lost and its write never acknowledged.
/// `events` describe what happened; they may be looked at at any time.
///
/// `snapshot`, when set, replaces the snapshot the driver holds (see `docs/snapshots.md`):
/// persist it before (or atomically with) `log_write`, whose `truncate_from` then lies
/// after the snapshot's index; once it is durable, the durable log entries at or below
/// its index may be dropped, and on restart `Persisted { snapshot, log, .. }` is that
/// snapshot plus the entries after it. It is either the driver's own `Raft::compact`
/// or a leader's snapshot this follower installed; an installed one is also released
/// by `advance` (`Released::snapshot`) for the application to restore.
///
/// The messages cannot be reached any other way:
///
/// ```compile_fail
/// fn send_early(raft: &mut duckgoose_core::Raft) {
///     let ready = raft.ready();
///     let _ = ready.messages; // private: only `raft.advance(ready)` releases them
/// }
/// ```
#[derive(Debug)]
#[must_use = "persist it, then pass it to Raft::advance to get the messages"]
pub struct Ready<C = Op> {
    pub hard_state: Option<HardState>,
    pub log_write: Option<LogWrite<C>>,
    pub snapshot: Option<Snapshot>,
    pub events: Vec<Event>,
    messages: Vec<Message<C>>,
    /// A snapshot installed from the leader: `advance` releases it for restoring.
    installed: Option<Snapshot>,
    reads: Vec<ReadOutcome>,
    /// The last entry `log_write` writes: the log is durable through it once acknowledged.
    writes_through: Option<(Index, Term)>,
    /// Which node made it, to catch a `Ready` handed to the wrong node (debug builds).
    #[cfg(debug_assertions)]
    node: NodeId,
}

impl<C> Ready<C> {
    /// How many messages `advance` will release (for drivers that size buffers).
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }
}

/// What a `Ready` releases once its writes are durable: restore the application from
/// `snapshot` (if set: a leader's snapshot was installed), then apply `committed` (in
/// order, starting right after it), send `messages`, answer `reads`.
#[derive(Debug)]
pub struct Released<C = Op> {
    pub snapshot: Option<Snapshot>,
    pub messages: Vec<Message<C>>,
    pub committed: Vec<Entry<C>>,
    pub reads: Vec<ReadOutcome>,
}

impl<C: Clone> Raft<C> {
    /// Is anything queued for `ready()`?
    pub fn has_ready(&self) -> bool {
        let core = &self.core;
        !core.out.is_empty()
            || core.hard_state_dirty
            || core.unpersisted_from.is_some()
            || core.snapshot_unpersisted
            || core.installed.is_some()
            || core.handed_out < core.commit_index.min(core.durable)
    }

    /// Takes everything queued since the last call. Does no protocol work: whatever an
    /// input causes was done by that input. See `Ready` for what to do with the result.
    pub fn ready(&mut self) -> Ready<C> {
        self.debug_check_invariants();
        let core = &mut self.core;
        let out = core::mem::take(&mut core.out);
        let hard_state = core::mem::take(&mut core.hard_state_dirty).then_some(HardState {
            term: core.term,
            voted_for: core.voted_for,
        });
        let log_write = core.unpersisted_from.take().map(|from| LogWrite {
            truncate_from: from,
            entries: core.log.range(from, core.log.last_index()).to_vec(),
        });
        let writes_through = log_write
            .is_some()
            .then(|| (core.log.last_index(), core.log.last_term()));
        let snapshot = core::mem::take(&mut core.snapshot_unpersisted)
            .then(|| core.snapshot.clone())
            .flatten();
        Ready {
            hard_state,
            log_write,
            snapshot,
            installed: core.installed.take(),
            events: out.events,
            messages: out.messages,
            reads: out.reads,
            writes_through,
            #[cfg(debug_assertions)]
            node: core.id(),
        }
    }

    /// The driver made `ready`'s `hard_state` and `log_write` durable: release its
    /// messages, and the committed entries now safe to apply. A leader's own new entries
    /// count toward commit from here on, so this may commit (a lone leader always
    /// commits here); what that produces is queued for the next `ready()`.
    pub fn advance(&mut self, ready: Ready<C>) -> Released<C> {
        #[cfg(debug_assertions)]
        debug_assert_eq!(ready.node, self.id(), "a Ready goes back to its own node");
        if let Some((index, term)) = ready.writes_through {
            self.acknowledge_durable(index, term);
        }
        let core = &mut self.core;
        if let Some(installed) = &ready.installed {
            // The application restores this state: what it holds is handed out.
            core.handed_out = core.handed_out.max(installed.index);
        }
        let through = core.commit_index.min(core.durable);
        // An install not yet released (it rides a later `Ready`): entries after it wait.
        let install_pending = core.handed_out < core.log.snapshot_position().0;
        let committed = if core.handed_out < through && !install_pending {
            let entries = core.log.range(core.handed_out + 1, through).to_vec();
            core.handed_out = through;
            entries
        } else {
            Vec::new()
        };
        debug_assert!(
            ready
                .installed
                .as_ref()
                .is_none_or(|s| self.core.handed_out >= s.index),
            "applied is at or past the snapshot index after an install"
        );
        self.debug_check_invariants();
        Released {
            snapshot: ready.installed,
            messages: ready.messages,
            committed,
            reads: ready.reads,
        }
    }

    /// The log is durable through `(index, term)`, unless it changed since: a later
    /// truncation (queued for the next write) keeps what it replaced from counting.
    fn acknowledge_durable(&mut self, index: Index, term: Term) {
        let core = &mut self.core;
        let still_ours = core.log.term_at(index) == Some(term);
        let mut durable = if still_ours {
            core.durable.max(index)
        } else {
            core.durable
        };
        if let Some(from) = core.unpersisted_from {
            durable = durable.min(from - 1);
        }
        debug_assert!(
            durable >= core.durable || !still_ours,
            "acknowledgements come in order"
        );
        core.durable = durable;
        if let Some(mut leading) = self.leading() {
            let flow = match leading.maybe_commit() {
                ControlFlow::Continue(()) => {
                    leading.start_round_if_wanted();
                    ControlFlow::Continue(())
                }
                stop => stop,
            };
            self.apply(flow);
        }
    }
}
