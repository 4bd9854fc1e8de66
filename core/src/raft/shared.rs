//! What every role shares: configuration, clock, the persistent state (term, vote, log),
//! the commit index and the outbox. Code here never asks which role the node is in:
//! leader-only state lives in `leader.rs`, a candidate's votes in `RoleState`.

use alloc::vec::Vec;

use super::goose::{Confirmed, DuckReason, ReadOutcome};
use crate::config::Config;
use crate::events::Event;
use crate::log::Log;
use crate::message::{Body, Malformed, Message};
use crate::rng::Rng;
use crate::snapshot::Snapshot;
use crate::types::{Index, Membership, Millis, NodeId, Term};

/// What a node produced since the last `ready()`, waiting to be handed out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Outbox<C> {
    pub(super) messages: Vec<Message<C>>,
    pub(super) reads: Vec<ReadOutcome>,
    pub(super) events: Vec<Event>,
}

impl<C> Default for Outbox<C> {
    fn default() -> Self {
        Outbox {
            messages: Vec::new(),
            reads: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<C> Outbox<C> {
    pub(super) fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.reads.is_empty() && self.events.is_empty()
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Core<C> {
    pub(super) config: Config,
    pub(super) rng: Rng,
    pub(super) now: Millis,

    // Persistent state (Figure 2): changed only through `set_term`/`set_vote` and the log.
    pub(super) term: Term,
    pub(super) voted_for: Option<NodeId>,
    pub(super) log: Log<C>,

    // Volatile state.
    pub(super) commit_index: Index,
    /// Committed entries already handed to the driver.
    pub(super) handed_out: Index,
    /// The log is durable through here: the driver acknowledged writing it (`advance`).
    /// A leader counts its own copy toward commit only this far; committed entries are
    /// handed out only this far.
    pub(super) durable: Index,
    pub(super) leader: Option<NodeId>,
    pub(super) election_deadline: Millis,
    pub(super) election_armed_at: Millis,
    /// When a leader was last heard from (or when this node started). Until
    /// `election_timeout_min` after it (the goose lease, once that leader's connection
    /// closed), vote requests are refused (leader stickiness).
    pub(super) last_leader_contact: Millis,
    /// The driver reported that its connection to the leader we follow was closed by the
    /// other end (a reset or EOF: the leader's process is likely gone), after the contact
    /// recorded in `last_leader_contact`: (that leader, that contact's time). While no
    /// newer word from a leader arrives, it shortens leader stickiness to the goose lease
    /// (`leader_closed_since_contact`).
    pub(super) leader_connection_closed: Option<(NodeId, Millis)>,

    pub(super) out: Outbox<C>,
    pub(super) hard_state_dirty: bool,
    pub(super) unpersisted_from: Option<Index>,

    // Snapshots (`snapshot.rs`).
    /// The latest snapshot: the log is compacted through its index.
    pub(super) snapshot: Option<Snapshot>,
    /// `snapshot` changed since the last `ready()`: the driver must persist it.
    pub(super) snapshot_unpersisted: bool,
    /// A snapshot installed from the leader, for the next `ready()` to carry to
    /// `advance`, which releases it for the application to restore.
    pub(super) installed: Option<Snapshot>,
    /// The snapshot being received from a leader, chunk by chunk.
    pub(super) incoming: Option<IncomingSnapshot>,
    /// The application's check of a snapshot's state: (index, bytes) -> acceptable.
    pub(super) snapshot_check: SnapshotCheck,
}

/// A snapshot being received: whose, which, and the bytes so far.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct IncomingSnapshot {
    pub(super) term: Term,
    pub(super) leader: NodeId,
    pub(super) index: Index,
    pub(super) snapshot_term: Term,
    pub(super) data: Vec<u8>,
}

impl<C: Clone> Core<C> {
    pub(super) fn id(&self) -> NodeId {
        self.config.id
    }

    /// The membership in force: the latest config entry in the log, committed or not.
    pub(super) fn membership(&self) -> &Membership {
        self.log.membership()
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.out.events.push(event);
    }

    /// A message that is malformed, or that no correct peer could send, is dropped.
    pub(super) fn refuse(&mut self, from: NodeId, reason: Malformed) {
        self.emit(Event::MessageRefused { from, reason });
    }

    pub(super) fn send(&mut self, to: NodeId, body: Body<C>) {
        let term = self.term;
        self.send_with_term(to, term, body);
    }

    pub(super) fn send_with_term(&mut self, to: NodeId, term: Term, body: Body<C>) {
        debug_assert_ne!(to, self.id(), "a node never messages itself");
        self.out.messages.push(Message {
            from: self.id(),
            to,
            term,
            body,
        });
    }

    pub(super) fn answer(&mut self, ctx: u64, result: Result<Confirmed, DuckReason>) {
        self.out.reads.push(ReadOutcome { ctx, result });
    }

    pub(super) fn set_term(&mut self, term: Term) {
        debug_assert!(term > self.term, "terms only grow");
        self.term = term;
        self.voted_for = None;
        self.hard_state_dirty = true;
    }

    pub(super) fn set_vote(&mut self, candidate: NodeId) {
        debug_assert!(
            self.voted_for.is_none()
                || self.voted_for == Some(candidate)
                || self
                    .config
                    .breaks(crate::config::UnsafeVariant::GrantTwoVotes),
            "one vote per term"
        );
        self.voted_for = Some(candidate);
        self.hard_state_dirty = true;
    }

    pub(super) fn mark_unpersisted(&mut self, from: Index) {
        self.unpersisted_from = Some(self.unpersisted_from.map_or(from, |f| f.min(from)));
    }

    pub(super) fn reset_election_timer(&mut self) {
        let (min, max) = (
            self.config.election_timeout_min,
            self.config.election_timeout_max,
        );
        self.election_armed_at = self.now;
        self.election_deadline = self.now + self.rng.between(min, max);
    }

    /// How long after learning that `leader` is gone this node campaigns: its own slot of
    /// the random part of the election timeout (see `on_leader_connection_closed`).
    pub(super) fn turn_after_leader_loss(&mut self, leader: NodeId) -> Millis {
        let spread = self.config.election_timeout_max - self.config.election_timeout_min;
        let others = self
            .membership()
            .members()
            .iter()
            .filter(|m| m.id != leader);
        let (mut rank, mut count) = (0, 0u64);
        for member in others {
            if member.id == self.id() {
                rank = count;
            }
            count += 1;
        }
        debug_assert!(count >= 1, "a node that may campaign is among the others");
        let count = count.max(1);
        let slot = spread / count;
        if slot == 0 {
            // Too narrow a spread to give every survivor a turn: draw as before.
            return self.rng.between(0, spread);
        }
        let turn = (rank + self.term) % count;
        let delay = turn * slot + self.rng.between(0, (slot / 2).max(1));
        debug_assert!(delay < spread, "every turn lies within the random part");
        delay
    }

    /// The leader last heard from closed its connection to us since, and no leader has
    /// been heard from after that: leader stickiness lasts only the goose lease.
    pub(super) fn leader_closed_since_contact(&self) -> bool {
        self.leader_connection_closed
            .is_some_and(|(_, contact)| contact == self.last_leader_contact)
    }

    pub(super) fn is_voter(&self) -> bool {
        self.membership().contains(self.id())
    }

    /// May this node start an election? Members of the latest membership may; so may a
    /// member of the one before it while the latest (which drops it) is not known to be
    /// committed: that change might never commit, and if this node holds the most
    /// up-to-date log the cluster cannot elect anyone else. Votes are still counted in the
    /// latest membership, so two majorities still overlap; if the change does commit, a
    /// node that wins this way steps down as soon as it learns so.
    pub(super) fn can_campaign(&self) -> bool {
        if self.is_voter() {
            return true;
        }
        let me = self.id();
        let uncommitted = self
            .log
            .latest_config()
            .is_some_and(|(index, _)| index > self.commit_index);
        uncommitted && self.log.previous_config().is_some_and(|m| m.contains(me))
    }

    pub(super) fn advance_commit(&mut self, index: Index) {
        if index <= self.commit_index {
            return;
        }
        debug_assert!(
            index <= self.log.last_index(),
            "cannot commit entries we lack"
        );
        self.commit_index = index;
        self.emit(Event::Committed { index });
    }

    pub(super) fn emit_membership(&mut self) {
        if let Some((index, membership)) = self.log.latest_config() {
            let membership = membership.clone();
            self.emit(Event::MembershipChanged { index, membership });
        }
    }
}

/// The application's check of an incoming snapshot's state. It is fixed per application,
/// not state: two cores that differ only in it are the same state for the model checker,
/// so equality and hashing ignore it (comparing function pointers is unreliable anyway).
#[derive(Clone, Copy)]
pub(crate) struct SnapshotCheck(pub(crate) fn(Index, &[u8]) -> bool);

impl PartialEq for SnapshotCheck {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SnapshotCheck {}

impl core::hash::Hash for SnapshotCheck {
    fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
}

impl core::fmt::Debug for SnapshotCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SnapshotCheck")
    }
}
