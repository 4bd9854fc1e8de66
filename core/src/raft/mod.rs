//! The Raft protocol as a pure state machine (etcd-style): inputs are `tick(now)`,
//! `step(message)`, `propose`/`propose_batch`, `confirm_leadership` (the goose query),
//! membership changes and leadership transfer. Each input does its own work; the output
//! is queued, drained by `ready()` and released by `advance(ready)` once the driver made
//! it durable (`ready.rs`).
//!
//! `Raft` is a `Core` (what every role shares, `shared.rs`) plus a `RoleState`. Inputs
//! are dispatched by role once, here: leader-only code runs on a `Leading` borrow
//! (`leader.rs`), so it cannot run in another role, and it returns a role change as a
//! value (`Flow`) that this file applies.
//!
//! Reading order: this file (dispatch, term rules, role changes), `shared.rs`,
//! `leader.rs`, then `election.rs`, `replication.rs`, `goose.rs`, `membership.rs`,
//! `transfer.rs`, and `ready.rs` (what the driver gets out).

mod election;
mod goose;
mod leader;
mod membership;
#[cfg(feature = "unsafe-variants")]
mod model;
mod ready;
mod replication;
mod shared;
mod snapshot;
mod transfer;
mod why;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::ControlFlow;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError, UnsafeVariant};
use crate::entry::{Command, Entry};
use crate::events::{Event, Role, RoleReason};
use crate::kv::Op;
use crate::log::Log;
use crate::message::{Body, Malformed, Message};
use crate::rng::Rng;
use crate::snapshot::Snapshot;
use crate::types::{Index, Map, Membership, Millis, NodeId, Term};

use leader::{Flow, Leader, Leading, StepDown};
use shared::{Core, Outbox};

pub use goose::{Confirmed, DuckReason, ReadOutcome};
pub use membership::MembershipChange;
pub use ready::{HardState, LogWrite, Ready, Released};
pub use why::{NotGoose, Uncommitted};

/// What a node must find on disk when it starts (Raft Figure 2's persistent state).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Persisted<C = Op> {
    pub term: Term,
    pub voted_for: Option<NodeId>,
    /// The log after the snapshot, if any (entries at or below its index are skipped).
    pub log: Vec<Entry<C>>,
    /// The latest snapshot the driver persisted (`Ready::snapshot`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub snapshot: Option<Snapshot>,
}

impl<C> Persisted<C> {
    /// A founding member of a new cluster: the log starts with the initial membership at
    /// index 1, term 0, identical on every founder and therefore committed by construction.
    pub fn bootstrap(membership: Membership) -> Self {
        Persisted {
            term: 0,
            voted_for: None,
            log: alloc::vec![Entry {
                index: 1,
                term: 0,
                command: Command::Config(membership),
            }],
            snapshot: None,
        }
    }

    /// A node joining an existing cluster: it learns everything from the leader.
    pub fn empty() -> Self {
        Persisted {
            term: 0,
            voted_for: None,
            log: Vec::new(),
            snapshot: None,
        }
    }
}

impl<C> Default for Persisted<C> {
    fn default() -> Self {
        Persisted::empty()
    }
}

/// Why a proposal (or membership change, or transfer) was refused. Nothing was appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum ProposeError {
    NotLeader {
        leader: Option<NodeId>,
    },
    Transferring {
        to: NodeId,
    },
    /// Membership changes wait until the leader has committed an entry of its own term
    /// (the fix to single-server changes from Ongaro's 2015 raft-dev post).
    LeaderNotReady,
    ChangeInProgress,
    AlreadyMember {
        id: NodeId,
    },
    NotMember {
        id: NodeId,
    },
    WouldEmptyCluster,
    /// Config entries go through `propose_membership_change`.
    ConfigViaChangeOnly,
}

impl fmt::Display for ProposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProposeError::NotLeader { leader: Some(l) } => write!(f, "not the leader; try {l}"),
            ProposeError::NotLeader { leader: None } => {
                write!(f, "not the leader; no leader known")
            }
            ProposeError::Transferring { to } => {
                write!(f, "leadership is being transferred to {to}")
            }
            ProposeError::LeaderNotReady => {
                write!(f, "leader has not yet committed an entry of its term")
            }
            ProposeError::ChangeInProgress => write!(f, "another membership change is in flight"),
            ProposeError::AlreadyMember { id } => write!(f, "{id} is already a member"),
            ProposeError::NotMember { id } => write!(f, "{id} is not a member"),
            ProposeError::WouldEmptyCluster => write!(f, "cannot remove the last member"),
            ProposeError::ConfigViaChangeOnly => {
                write!(f, "membership entries must use a membership change")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProposeError {}

/// Role-specific state: what only a candidate or only a leader needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RoleState {
    Follower,
    PreCandidate { votes: Map<NodeId, bool> },
    Candidate { votes: Map<NodeId, bool> },
    Leader(Box<Leader>),
}

/// `Clone + Eq + Hash` so that a model checker can store, compare and fingerprint whole
/// node states (the `modelcheck` crate).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Raft<C = Op> {
    core: Core<C>,
    state: RoleState,
}

impl<C: Clone> fmt::Debug for Raft<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Raft")
            .field("id", &self.core.id())
            .field("role", &self.role())
            .field("term", &self.core.term)
            .field("leader", &self.core.leader)
            .field("commit", &self.core.commit_index)
            .field("last", &self.core.log.last_index())
            .finish()
    }
}

impl<C: Clone> Raft<C> {
    /// Starts (or restarts) a node from what it persisted, at time `now`. Every node
    /// starts as a follower that refuses votes for one minimum election timeout, so a
    /// quick restart cannot help elect a rival while a leader it acknowledged may still
    /// believe itself unique.
    pub fn new(config: Config, persisted: Persisted<C>, now: Millis) -> Result<Self, ConfigError> {
        config.validate()?;
        let rng = Rng::new(config.seed);
        let voted_for = persisted
            .voted_for
            .filter(|_| !config.breaks(UnsafeVariant::ForgetVoteOnRestart));
        let (log, snapshot_index) = match &persisted.snapshot {
            Some(s) => {
                let first = persisted.log.iter().find(|e| e.index > s.index);
                if first.is_some_and(|e| e.index != s.index + 1) {
                    return Err(ConfigError::LogDoesNotFollowSnapshot);
                }
                let log = Log::from_snapshot_and_entries(
                    s.index,
                    s.term,
                    s.membership.clone(),
                    persisted.log,
                );
                (log, s.index)
            }
            None => (Log::from_entries(persisted.log), 0),
        };
        // The bootstrap entry is identical on every founder: committed by construction.
        // A snapshot holds only committed (and applied) state.
        let commit_index = if log.term_at(1) == Some(0) { 1 } else { 0 }.max(snapshot_index);
        let core = Core {
            config,
            rng,
            now,
            term: persisted.term,
            voted_for,
            commit_index,
            // The application restores the snapshot's state itself.
            handed_out: snapshot_index,
            // What we start from was read from disk.
            durable: log.last_index(),
            log,
            leader: None,
            election_deadline: now,
            election_armed_at: now,
            last_leader_contact: now,
            leader_connection_closed: None,
            out: Outbox::default(),
            hard_state_dirty: false,
            unpersisted_from: None,
            snapshot: persisted.snapshot,
            snapshot_unpersisted: false,
            installed: None,
            incoming: None,
            snapshot_check: shared::SnapshotCheck(|_, _| true),
        };
        let mut raft = Raft {
            core,
            state: RoleState::Follower,
        };
        raft.core.reset_election_timer();
        raft.core.emit(Event::RoleChanged {
            role: Role::Follower,
            term: raft.core.term,
            reason: RoleReason::Started,
        });
        if commit_index > 0 {
            raft.core.emit(Event::Committed {
                index: commit_index,
            });
        }
        Ok(raft)
    }

    // ---- Observation -------------------------------------------------------------------

    pub fn id(&self) -> NodeId {
        self.core.id()
    }

    pub fn config(&self) -> &Config {
        &self.core.config
    }

    pub fn now(&self) -> Millis {
        self.core.now
    }

    pub fn term(&self) -> Term {
        self.core.term
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.core.voted_for
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.core.leader
    }

    pub fn commit_index(&self) -> Index {
        self.core.commit_index
    }

    pub fn log(&self) -> &Log<C> {
        &self.core.log
    }

    pub fn role(&self) -> Role {
        match self.state {
            RoleState::Follower => Role::Follower,
            RoleState::PreCandidate { .. } => Role::PreCandidate,
            RoleState::Candidate { .. } => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.state, RoleState::Leader(_))
    }

    /// The membership in force: the latest config entry in the log, committed or not.
    pub fn membership(&self) -> &Membership {
        self.core.membership()
    }

    /// Votes this node has collected, if it is a (pre-)candidate.
    pub fn votes(&self) -> Option<&Map<NodeId, bool>> {
        match &self.state {
            RoleState::PreCandidate { votes } | RoleState::Candidate { votes } => Some(votes),
            _ => None,
        }
    }

    /// When the election timer was last armed and when it fires (followers and candidates).
    pub fn election_timer(&self) -> Option<(Millis, Millis)> {
        (!self.is_leader()).then_some((self.core.election_armed_at, self.core.election_deadline))
    }

    /// The node a leader is handing its leadership to, while the transfer runs.
    pub fn transferring_to(&self) -> Option<NodeId> {
        match &self.state {
            RoleState::Leader(leader) => leader.transfer.as_ref().map(|t| t.to),
            _ => None,
        }
    }

    /// The leader's view of a follower: (match index, next index).
    pub fn follower_progress(&self, id: NodeId) -> Option<(Index, Index)> {
        match &self.state {
            RoleState::Leader(leader) => leader
                .progress
                .get(&id)
                .map(|p| (p.match_index, p.next_index)),
            _ => None,
        }
    }

    /// The earliest time at which `tick` has something to do: drivers that jump through
    /// time (the simulator) need not tick in between.
    pub fn next_deadline(&self) -> Millis {
        match &self.state {
            RoleState::Leader(leader) => {
                let mut due = leader.heartbeat_due.min(leader.check_quorum_due);
                if let Some(t) = &leader.transfer {
                    due = due.min(t.deadline);
                }
                if let Some(d) = leader.rounds.next_deadline() {
                    due = due.min(d);
                }
                due
            }
            _ => self.core.election_deadline,
        }
    }

    // ---- Inputs, dispatched by role ----------------------------------------------------

    /// Leader code on a borrow of the leader's state; `None` in any other role.
    fn leading(&mut self) -> Option<Leading<'_, C>> {
        match &mut self.state {
            RoleState::Leader(leader) => Some(Leading {
                core: &mut self.core,
                leader,
            }),
            _ => None,
        }
    }

    /// Applies what leader code decided, once its borrow has ended.
    fn apply(&mut self, flow: Flow) {
        if let ControlFlow::Break(StepDown(reason)) = flow {
            debug_assert!(self.is_leader(), "only a leader steps down");
            let term = self.core.term;
            self.become_follower(term, None, reason);
        }
    }

    /// Time is now `now`: fire whatever timers are due.
    pub fn tick(&mut self, now: Millis) {
        debug_assert!(
            now >= self.core.now,
            "time went backwards: {now} < {}",
            self.core.now
        );
        self.core.now = self.core.now.max(now);
        if let Some(mut leading) = self.leading() {
            let flow = leading.tick();
            self.apply(flow);
        } else if self.core.now >= self.core.election_deadline {
            self.on_election_timeout();
        }
    }

    /// The driver's connection to `peer` was closed by the other end: a reset or an EOF
    /// (or a reconnect refused), which is what a peer's kernel does when the peer's process
    /// dies. A timeout or a partition is *not* this: the driver says nothing then.
    ///
    /// If `peer` is the leader this follower follows (in the current term, as `leader()`
    /// always is), the follower runs a pre-vote soon, within the random part of an
    /// election timeout (`election_timeout_max - election_timeout_min`), in its own turn
    /// so that followers told at the same instant do not split the vote, instead of
    /// waiting out the whole timeout. It still keeps leader stickiness (no vote for
    /// anyone, itself included) until the goose lease (`Config::goose_lease`) after it
    /// last heard the leader: the notice may be spurious, and a live leader's goose lease
    /// counts on that silence. Followers whose own connection to the leader is healthy
    /// refuse for a whole minimum election timeout, so a spurious notice cannot depose a
    /// leader that a quorum hears. Any message from that leader cancels the notice: it
    /// is alive.
    ///
    /// Does nothing when `peer` is not our leader, when this node leads or campaigns, and
    /// unless both PreVote and CheckQuorum are on (without them nothing would protect a
    /// healthy leader from a spurious notice).
    pub fn peer_connection_closed(&mut self, peer: NodeId) {
        let is_our_leader =
            matches!(self.state, RoleState::Follower) && self.core.leader == Some(peer);
        if is_our_leader {
            self.on_leader_connection_closed(peer);
        }
    }

    /// Handles one message from a peer. Malformed messages are refused with an event;
    /// nothing a peer sends can make this panic.
    pub fn step(&mut self, msg: Message<C>) {
        if let Err(reason) = msg.validate(self.id()) {
            self.core.refuse(msg.from, reason);
            return;
        }
        if self
            .core
            .leader_connection_closed
            .is_some_and(|(leader, _)| leader == msg.from)
        {
            // The leader whose connection closed still talks: the notice was spurious.
            self.core.leader_connection_closed = None;
        }
        if msg.term > self.core.term {
            match &msg.body {
                // A pre-vote's term is hypothetical, and a granted pre-vote reply carries
                // the term we proposed: neither means anyone has moved on.
                Body::PreVote { .. } | Body::PreVoteReply { granted: true } => {}
                Body::Vote {
                    transfer: false, ..
                } if self.lease_refusal().is_some() => {
                    // Leader stickiness (thesis §4.2.3): refuse without adopting the term,
                    // so a partitioned node rejoining cannot depose a healthy leader.
                    self.refuse_vote_in_lease(&msg);
                    return;
                }
                Body::Append { .. } | Body::InstallSnapshot { .. } | Body::TimeoutNow => {
                    self.become_follower(
                        msg.term,
                        Some(msg.from),
                        RoleReason::HigherTerm { from: msg.from },
                    );
                }
                _ => {
                    self.become_follower(msg.term, None, RoleReason::HigherTerm { from: msg.from })
                }
            }
        } else if msg.term < self.core.term {
            self.on_stale_message(msg);
            return;
        }

        // From here on the message is of our term. Each arm says which roles act on it.
        let Message {
            from, term, body, ..
        } = msg;
        match body {
            Body::PreVote {
                last_index,
                last_term,
            } => self.on_pre_vote(from, term, last_index, last_term),
            Body::Vote {
                last_index,
                last_term,
                ..
            } => self.on_vote(from, last_index, last_term),
            Body::PreVoteReply { granted } => {
                // Otherwise a late reply to a pre-vote we are no longer running: moot.
                if let RoleState::PreCandidate { votes } = &mut self.state {
                    // A granted reply carries the term we proposed; a refusal, the voter's.
                    let expected = if granted {
                        self.core.term + 1
                    } else {
                        self.core.term
                    };
                    if term == expected {
                        votes.insert(from, granted);
                        self.count_votes();
                    }
                }
            }
            Body::VoteReply { granted } => {
                // Otherwise a late reply to an election already won, lost or abandoned.
                if let RoleState::Candidate { votes } = &mut self.state {
                    votes.insert(from, granted);
                    self.count_votes();
                }
            }
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            } => match self.state {
                // Election safety: no correct peer leads in our term but us. A faulty or
                // forged Append is refused, never obeyed.
                RoleState::Leader(_) => self.core.refuse(from, Malformed::SecondLeader),
                _ => self.on_append(from, prev_index, prev_term, entries, commit, round),
            },
            Body::AppendReply { round, result } => {
                if let Some(mut leading) = self.leading() {
                    let flow = leading.on_append_reply(from, round, result);
                    self.apply(flow);
                }
                // Otherwise a reply to a leader we stopped being in this term (CheckQuorum,
                // transfer, removal): its acknowledgement proves nothing now. Dropped.
            }
            Body::TimeoutNow => match self.state {
                // Only a duplicate (we already won) or a forgery reaches a leader.
                RoleState::Leader(_) => {}
                _ => self.on_timeout_now(from),
            },
            Body::InstallSnapshot {
                index,
                snapshot_term,
                membership,
                offset,
                data,
                done,
                round,
            } => match self.state {
                RoleState::Leader(_) => self.core.refuse(from, Malformed::SnapshotToLeader),
                _ => self.on_install_snapshot(
                    from,
                    snapshot::Chunk {
                        index,
                        snapshot_term,
                        membership,
                        offset,
                        data,
                        done,
                    },
                    round,
                ),
            },
            Body::SnapshotAck {
                round,
                index,
                next_offset,
            } => {
                if let Some(mut leading) = self.leading() {
                    leading.on_snapshot_ack(from, round, index, next_offset);
                }
            }
        }
    }

    /// A message from an older term: tell the sender our term so it catches up (a deposed
    /// leader learns it was deposed), otherwise ignore it.
    fn on_stale_message(&mut self, msg: Message<C>) {
        match msg.body {
            Body::Append { prev_index, .. } => {
                let reply = Body::AppendReply {
                    round: 0,
                    result: crate::message::AppendResult::Rejected {
                        prev_index,
                        conflict_index: prev_index.saturating_add(1).max(1),
                        conflict_term: None,
                    },
                };
                self.core.send(msg.from, reply);
            }
            Body::InstallSnapshot { index, .. } => {
                // Our term, so the stale leader learns it was deposed.
                let reply = Body::SnapshotAck {
                    round: 0,
                    index,
                    next_offset: 0,
                };
                self.core.send(msg.from, reply);
            }
            Body::PreVote { .. } | Body::Vote { .. } => {
                let pre_vote = matches!(msg.body, Body::PreVote { .. });
                let ours = self.core.term;
                self.deny_vote(
                    msg.from,
                    msg.term,
                    pre_vote,
                    crate::events::DenyReason::StaleTerm { ours },
                );
            }
            _ => {}
        }
    }

    /// Why a leader-only request is refused in this role.
    fn not_leader(&self) -> ProposeError {
        ProposeError::NotLeader {
            leader: self.core.leader,
        }
    }

    /// The node-local invariants, checked after every batch of inputs in debug builds.
    fn debug_check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let core = &self.core;
        let last = core.log.last_index();
        assert!(
            core.commit_index <= last,
            "commit {} past last {last}",
            core.commit_index
        );
        assert!(core.handed_out <= core.commit_index);
        assert!(
            core.durable <= last,
            "durable {} past last {last}",
            core.durable
        );
        assert!(
            core.handed_out <= core.durable,
            "handed out {} entries not yet durable ({})",
            core.handed_out,
            core.durable
        );
        assert!(
            core.log.last_term() <= core.term,
            "log holds a term newer than ours"
        );
        let (snapshot_index, snapshot_term) = core.log.snapshot_position();
        assert!(
            core.commit_index >= snapshot_index,
            "commit {} below the snapshot index {snapshot_index}",
            core.commit_index
        );
        assert_eq!(
            core.snapshot.as_ref().map_or((0, 0), |s| (s.index, s.term)),
            (snapshot_index, snapshot_term),
            "the log is compacted exactly through the latest snapshot"
        );

        if let Some((leader, contact)) = core.leader_connection_closed {
            assert_ne!(leader, core.id(), "our own connection never closes");
            assert!(contact <= core.now, "a closed connection is in the past");
        }
        match &self.state {
            RoleState::Leader(leader) => {
                assert_eq!(core.voted_for, Some(core.id()), "a leader voted for itself");
                assert_eq!(core.leader, Some(core.id()));
                assert!(
                    leader.term_start <= core.log.snapshot_position().0
                        || core.log.term_at(leader.term_start) == Some(core.term),
                    "our no-op is in the log (or compacted)"
                );
                for (id, p) in &leader.progress {
                    assert!(
                        p.match_index < p.next_index,
                        "follower {id}: match {} next {}",
                        p.match_index,
                        p.next_index
                    );
                    assert!(
                        p.next_index <= last + 1,
                        "follower {id}: next {} past {last} + 1",
                        p.next_index
                    );
                }
            }
            RoleState::Candidate { .. } => assert_eq!(core.voted_for, Some(core.id())),
            RoleState::PreCandidate { .. } | RoleState::Follower => {
                assert_ne!(core.leader, Some(core.id()), "only a leader leads");
            }
        }
    }

    // ---- Role transitions --------------------------------------------------------------

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>, reason: RoleReason) {
        let old_role = self.role();
        let old_term = self.core.term;
        if term > self.core.term {
            self.core.set_term(term);
        }
        if let RoleState::Leader(mut leader_state) =
            core::mem::replace(&mut self.state, RoleState::Follower)
        {
            Leading {
                core: &mut self.core,
                leader: &mut leader_state,
            }
            .abandon();
        }
        self.core.leader = leader;
        if leader.is_some() {
            self.core.last_leader_contact = self.core.now;
        }
        // The timer restarts on a leader's word, or when leaving leadership (a leader runs
        // none). Not for a term learned from a candidate or a reply: a node that cannot win
        // (its log is behind) would otherwise keep the up-to-date nodes from ever timing
        // out, just by campaigning again and again (Raft Figure 2's timer rules).
        if leader.is_some() || old_role == Role::Leader {
            self.core.reset_election_timer();
        }
        if old_role != Role::Follower || old_term != self.core.term {
            self.core.emit(Event::RoleChanged {
                role: Role::Follower,
                term: self.core.term,
                reason,
            });
        }
    }

    fn become_leader(&mut self, votes: u32) {
        debug_assert!(matches!(self.state, RoleState::Candidate { .. }));
        debug_assert_eq!(self.core.voted_for, Some(self.id()));
        self.state = RoleState::Leader(Box::new(Leader::new(&self.core)));
        self.core.leader = Some(self.id());
        self.core.emit(Event::RoleChanged {
            role: Role::Leader,
            term: self.core.term,
            reason: RoleReason::WonElection { votes },
        });
        if let Some(mut leading) = self.leading() {
            let flow = leading.start();
            self.apply(flow);
        }
    }
}
