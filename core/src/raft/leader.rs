//! The leader's own state, and the borrow through which all leader-only code runs.
//!
//! `Leading` exists only while the node is leader (it is built from `RoleState::Leader`),
//! so leader code cannot be reached from another role. Leader code never changes the
//! role itself: when it decides to step down it returns a `StepDown`, which `Raft`
//! applies once the borrow has ended.

use core::ops::ControlFlow;

use super::goose::Rounds;
use super::shared::Core;
use super::transfer::Transfer;
use crate::entry::Command;
use crate::events::RoleReason;
use crate::progress::Progress;
use crate::types::{Index, Map, Millis, NodeId};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Leader {
    pub(super) progress: Map<NodeId, Progress>,
    /// Index of this term's no-op: committing it makes the leader able to commit now.
    pub(super) term_start: Index,
    pub(super) heartbeat_due: Millis,
    pub(super) check_quorum_due: Millis,
    pub(super) rounds: Rounds,
    pub(super) transfer: Option<Transfer>,
    /// A member removed by an uncommitted config entry: still told about its removal.
    pub(super) departing: Option<(NodeId, Index)>,
}

/// A leader's decision to become a follower (in its own term: a higher term is handled
/// before any leader code runs).
#[derive(Debug)]
pub(super) struct StepDown(pub(super) RoleReason);

/// What leader code returns: `Continue` while still leading; `Break` to step down, which
/// `?` propagates to `Raft` (the only place roles change).
pub(super) type Flow = ControlFlow<StepDown>;

/// Leader-only code: the shared core plus the leader's state, borrowed together.
pub(super) struct Leading<'a, C> {
    pub(super) core: &'a mut Core<C>,
    pub(super) leader: &'a mut Leader,
}

impl Leader {
    pub(super) fn new<C: Clone>(core: &Core<C>) -> Leader {
        let term_start = core.log.last_index() + 1;
        let me = core.id();
        // Inserted one by one, not collected: collecting into the flat map sorts, and the
        // sort costs the page 3 KB of wasm.
        let mut progress = Map::new();
        for id in core.membership().ids().filter(|&id| id != me) {
            progress.insert(id, Progress::new(term_start));
        }
        Leader {
            progress,
            term_start,
            heartbeat_due: core.now,
            check_quorum_due: core.now + core.config.election_timeout_min,
            rounds: Rounds::default(),
            transfer: None,
            departing: None,
        }
    }
}

impl<C: Clone> Leading<'_, C> {
    /// Just elected: append this term's no-op and announce leadership at once.
    pub(super) fn start(&mut self) -> Flow {
        debug_assert_eq!(self.core.voted_for, Some(self.core.id()));
        let index = self.append(Command::Noop);
        debug_assert_eq!(index, self.leader.term_start, "the no-op starts the term");
        // Nothing commits yet, even alone: the no-op is not durable until `advance`.
        debug_assert!(self.core.durable < index);
        self.tick()
    }

    pub(super) fn tick(&mut self) -> Flow {
        let now = self.core.now;
        let heartbeat_due = now >= self.leader.heartbeat_due;
        if now >= self.leader.check_quorum_due {
            self.check_quorum()?;
        }
        self.expire_transfer()?;
        self.expire_reads();
        if heartbeat_due {
            self.broadcast_heartbeat();
        }
        ControlFlow::Continue(())
    }

    /// Ends every leader input: a goose query that arrived (or was released) during it
    /// gets a round started now, shared by every query that arrived with it.
    pub(super) fn start_round_if_wanted(&mut self) {
        if self.leader.rounds.wants_new_round() {
            self.broadcast_heartbeat();
        }
    }

    /// CheckQuorum: has a quorum (counting ourselves) been heard from since the last check?
    /// If not, step down, because a leader cut off from a majority must stop claiming anything.
    fn check_quorum(&mut self) -> Flow {
        let window = self.core.config.election_timeout_min;
        self.leader.check_quorum_due = self.core.now + window;
        if !self.core.config.check_quorum {
            return ControlFlow::Continue(());
        }
        let me = self.core.id();
        let membership = self.core.membership();
        let progress = &self.leader.progress;
        let active = membership
            .ids()
            .filter(|&id| id == me || progress.get(&id).is_some_and(|p| p.recent_active))
            .count();
        let quorum = membership.quorum();
        for (_, p) in self.leader.progress.iter_mut() {
            p.recent_active = false;
        }
        if active < quorum {
            return ControlFlow::Break(StepDown(RoleReason::NoQuorum { window }));
        }
        ControlFlow::Continue(())
    }
}
