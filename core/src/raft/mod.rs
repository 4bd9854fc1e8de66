//! The Raft protocol as a pure state machine (etcd-style): inputs are `tick(now)`,
//! `step(message)`, `propose`, `confirm_leadership` (the goose query), membership
//! changes and leadership transfer; every output is collected and handed to the driver
//! by `ready()`.
//!
//! Reading order: this file (state, term rules, role changes), then `election.rs`,
//! `replication.rs`, `goose.rs`, `membership.rs`, `transfer.rs`.

mod election;
mod goose;
mod membership;
mod replication;
mod transfer;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};
use crate::entry::{Command, Entry};
use crate::events::{Event, Role, RoleReason};
use crate::kv::Op;
use crate::log::Log;
use crate::message::{Body, Message};
use crate::progress::Progress;
use crate::rng::Rng;
use crate::types::{Index, Map, Membership, Millis, NodeId, Term};

pub use goose::{Confirmed, DuckReason, ReadOutcome};
pub use membership::MembershipChange;

/// What a node must find on disk when it starts (Raft Figure 2's persistent state).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Persisted<C = Op> {
    pub term: Term,
    pub voted_for: Option<NodeId>,
    pub log: Vec<Entry<C>>,
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
        }
    }

    /// A node joining an existing cluster: it learns everything from the leader.
    pub fn empty() -> Self {
        Persisted {
            term: 0,
            voted_for: None,
            log: Vec::new(),
        }
    }
}

/// Term and vote: must be durable before any message sent in the same `Ready`.
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

/// Everything a node produced since the last `ready()`. The driver must, in this order:
/// 1. make `hard_state` and `log_write` durable;
/// 2. send `messages`;
/// 3. apply `committed` entries, answer `reads`.
#[derive(Debug)]
pub struct Ready<C = Op> {
    pub hard_state: Option<HardState>,
    pub log_write: Option<LogWrite<C>>,
    pub messages: Vec<Message<C>>,
    pub committed: Vec<Entry<C>>,
    pub reads: Vec<ReadOutcome>,
    pub events: Vec<Event>,
}

impl<C> Default for Ready<C> {
    fn default() -> Self {
        Ready {
            hard_state: None,
            log_write: None,
            messages: Vec::new(),
            committed: Vec::new(),
            reads: Vec::new(),
            events: Vec::new(),
        }
    }
}

impl<C> Default for Persisted<C> {
    fn default() -> Self {
        Persisted::empty()
    }
}

impl<C> Ready<C> {
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.log_write.is_none()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && self.reads.is_empty()
            && self.events.is_empty()
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
#[derive(Debug)]
enum RoleState {
    Follower,
    PreCandidate { votes: Map<NodeId, bool> },
    Candidate { votes: Map<NodeId, bool> },
    Leader(Box<Leader>),
}

#[derive(Debug)]
struct Leader {
    progress: Map<NodeId, Progress>,
    /// Index of this term's no-op: committing it makes the leader able to commit now.
    term_start: Index,
    heartbeat_due: Millis,
    check_quorum_due: Millis,
    /// New entries were appended since the last broadcast.
    entries_pending: bool,
    rounds: goose::Rounds,
    transfer: Option<transfer::Transfer>,
    /// A member removed by an uncommitted config entry: still told about its removal.
    departing: Option<(NodeId, Index)>,
}

pub struct Raft<C = Op> {
    config: Config,
    rng: Rng,
    now: Millis,

    // Persistent state (Figure 2): changed only through `set_term`/`set_vote` and the log.
    term: Term,
    voted_for: Option<NodeId>,
    log: Log<C>,

    // Volatile state.
    commit_index: Index,
    /// Committed entries already handed to the driver.
    handed_out: Index,
    leader: Option<NodeId>,
    state: RoleState,
    election_deadline: Millis,
    election_armed_at: Millis,
    /// When a leader was last heard from (or when this node started). Until
    /// `election_timeout_min` after it, vote requests are refused (leader stickiness).
    last_leader_contact: Millis,

    out: Ready<C>,
    hard_state_dirty: bool,
    unpersisted_from: Option<Index>,
}

impl<C: Clone> fmt::Debug for Raft<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Raft")
            .field("id", &self.config.id)
            .field("role", &self.role())
            .field("term", &self.term)
            .field("leader", &self.leader)
            .field("commit", &self.commit_index)
            .field("last", &self.log.last_index())
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
        let log = Log::from_entries(persisted.log);
        // The bootstrap entry is identical on every founder: committed by construction.
        let commit_index = if log.term_at(1) == Some(0) { 1 } else { 0 };
        let mut raft = Raft {
            config,
            rng,
            now,
            term: persisted.term,
            voted_for: persisted.voted_for,
            log,
            commit_index,
            handed_out: 0,
            leader: None,
            state: RoleState::Follower,
            election_deadline: now,
            election_armed_at: now,
            last_leader_contact: now,
            out: Ready::default(),
            hard_state_dirty: false,
            unpersisted_from: None,
        };
        raft.reset_election_timer();
        raft.emit(Event::RoleChanged {
            role: Role::Follower,
            term: raft.term,
            reason: RoleReason::Started,
        });
        if commit_index > 0 {
            raft.emit(Event::Committed {
                index: commit_index,
            });
        }
        Ok(raft)
    }

    // ---- Observation -------------------------------------------------------------------

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    pub fn term(&self) -> Term {
        self.term
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn commit_index(&self) -> Index {
        self.commit_index
    }

    pub fn log(&self) -> &Log<C> {
        &self.log
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
        self.log.membership()
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
        (!self.is_leader()).then_some((self.election_armed_at, self.election_deadline))
    }

    /// The leader's view of a follower: (match index, next index).
    pub fn follower_progress(&self, id: NodeId) -> Option<(Index, Index)> {
        let RoleState::Leader(leader) = &self.state else {
            return None;
        };
        leader
            .progress
            .get(&id)
            .map(|p| (p.match_index, p.next_index))
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
            _ => self.election_deadline,
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.out.is_empty()
            || self.hard_state_dirty
            || self.unpersisted_from.is_some()
            || self.handed_out < self.commit_index
            || match &self.state {
                RoleState::Leader(l) => l.entries_pending || l.rounds.wants_new_round(),
                _ => false,
            }
    }

    // ---- Inputs ------------------------------------------------------------------------

    /// Time is now `now`: fire whatever timers are due.
    pub fn tick(&mut self, now: Millis) {
        debug_assert!(now >= self.now, "time went backwards: {now} < {}", self.now);
        self.now = self.now.max(now);
        if self.is_leader() {
            self.tick_leader();
        } else if self.now >= self.election_deadline {
            self.on_election_timeout();
        }
    }

    /// Handles one message from a peer. Malformed messages are refused with an event;
    /// nothing a peer sends can make this panic.
    pub fn step(&mut self, msg: Message<C>) {
        if let Err(reason) = msg.validate(self.id()) {
            self.refuse(msg.from, reason);
            return;
        }
        if msg.term > self.term {
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
                Body::Append { .. } | Body::TimeoutNow => {
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
        } else if msg.term < self.term {
            self.on_stale_message(msg);
            return;
        }

        let Message {
            from, term, body, ..
        } = msg;
        match body {
            Body::PreVote {
                last_index,
                last_term,
            } => self.on_pre_vote(from, term, last_index, last_term),
            Body::PreVoteReply { granted } => self.on_pre_vote_reply(from, term, granted),
            Body::Vote {
                last_index,
                last_term,
                ..
            } => self.on_vote(from, last_index, last_term),
            Body::VoteReply { granted } => self.on_vote_reply(from, granted),
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            } => self.on_append(from, prev_index, prev_term, entries, commit, round),
            Body::AppendReply { round, result } => self.on_append_reply(from, round, result),
            Body::TimeoutNow => self.on_timeout_now(from),
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
                self.send(msg.from, reply);
            }
            Body::PreVote { .. } | Body::Vote { .. } => {
                let pre_vote = matches!(msg.body, Body::PreVote { .. });
                self.deny_vote(
                    msg.from,
                    msg.term,
                    pre_vote,
                    crate::events::DenyReason::StaleTerm { ours: self.term },
                );
            }
            _ => {}
        }
    }

    /// Collects everything produced since the last call. See `Ready` for what the driver
    /// must do with it, in which order.
    pub fn ready(&mut self) -> Ready<C> {
        if self.is_leader() {
            self.flush_leader();
        }
        let mut ready = core::mem::take(&mut self.out);
        if core::mem::take(&mut self.hard_state_dirty) {
            ready.hard_state = Some(HardState {
                term: self.term,
                voted_for: self.voted_for,
            });
        }
        if let Some(from) = self.unpersisted_from.take() {
            ready.log_write = Some(LogWrite {
                truncate_from: from,
                entries: self.log.range(from, self.log.last_index()).to_vec(),
            });
        }
        if self.handed_out < self.commit_index {
            ready.committed = self
                .log
                .range(self.handed_out + 1, self.commit_index)
                .to_vec();
            self.handed_out = self.commit_index;
        }
        self.debug_check_invariants();
        ready
    }

    /// The node-local invariants, checked after every batch of inputs in debug builds.
    fn debug_check_invariants(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let last = self.log.last_index();
        assert!(
            self.commit_index <= last,
            "commit {} past last {last}",
            self.commit_index
        );
        assert!(self.handed_out <= self.commit_index);
        assert!(
            self.log.last_term() <= self.term,
            "log holds a term newer than ours"
        );
        match &self.state {
            RoleState::Leader(leader) => {
                assert_eq!(self.voted_for, Some(self.id()), "a leader voted for itself");
                assert_eq!(self.leader, Some(self.id()));
                assert_eq!(
                    self.log.term_at(leader.term_start),
                    Some(self.term),
                    "our no-op is in the log"
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
            RoleState::Candidate { .. } => assert_eq!(self.voted_for, Some(self.id())),
            RoleState::PreCandidate { .. } | RoleState::Follower => {
                assert_ne!(self.leader, Some(self.id()), "only a leader leads");
            }
        }
    }

    // ---- Shared machinery --------------------------------------------------------------

    fn emit(&mut self, event: Event) {
        self.out.events.push(event);
    }

    /// A message that is malformed, or that no correct peer could send, is dropped.
    fn refuse(&mut self, from: NodeId, reason: crate::message::Malformed) {
        self.emit(Event::MessageRefused { from, reason });
    }

    fn send(&mut self, to: NodeId, body: Body<C>) {
        let term = self.term;
        self.send_with_term(to, term, body);
    }

    fn send_with_term(&mut self, to: NodeId, term: Term, body: Body<C>) {
        debug_assert_ne!(to, self.id(), "a node never messages itself");
        self.out.messages.push(Message {
            from: self.id(),
            to,
            term,
            body,
        });
    }

    fn set_term(&mut self, term: Term) {
        debug_assert!(term > self.term, "terms only grow");
        self.term = term;
        self.voted_for = None;
        self.hard_state_dirty = true;
    }

    fn set_vote(&mut self, candidate: NodeId) {
        debug_assert!(
            self.voted_for.is_none() || self.voted_for == Some(candidate),
            "one vote per term"
        );
        self.voted_for = Some(candidate);
        self.hard_state_dirty = true;
    }

    fn mark_unpersisted(&mut self, from: Index) {
        self.unpersisted_from = Some(self.unpersisted_from.map_or(from, |f| f.min(from)));
    }

    fn reset_election_timer(&mut self) {
        let (min, max) = (
            self.config.election_timeout_min,
            self.config.election_timeout_max,
        );
        self.election_armed_at = self.now;
        self.election_deadline = self.now + self.rng.between(min, max);
    }

    fn is_voter(&self) -> bool {
        self.membership().contains(self.id())
    }

    /// May this node start an election? Members of the latest membership may; so may a
    /// member of the one before it while the latest (which drops it) is not known to be
    /// committed: that change might never commit, and if this node holds the most
    /// up-to-date log the cluster cannot elect anyone else. Votes are still counted in the
    /// latest membership, so two majorities still overlap; if the change does commit, a
    /// node that wins this way steps down as soon as it learns so.
    fn can_campaign(&self) -> bool {
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

    fn advance_commit(&mut self, index: Index) {
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

    // ---- Role transitions --------------------------------------------------------------

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>, reason: RoleReason) {
        let old_role = self.role();
        let old_term = self.term;
        if term > self.term {
            self.set_term(term);
        }
        if let RoleState::Leader(leader_state) =
            core::mem::replace(&mut self.state, RoleState::Follower)
        {
            self.abandon_leadership(*leader_state);
        }
        self.leader = leader;
        if leader.is_some() {
            self.last_leader_contact = self.now;
        }
        // The timer restarts on a leader's word, or when leaving leadership (a leader runs
        // none). Not for a term learned from a candidate or a reply: a node that cannot win
        // (its log is behind) would otherwise keep the up-to-date nodes from ever timing
        // out, just by campaigning again and again (Raft Figure 2's timer rules).
        if leader.is_some() || old_role == Role::Leader {
            self.reset_election_timer();
        }
        if old_role != Role::Follower || old_term != self.term {
            self.emit(Event::RoleChanged {
                role: Role::Follower,
                term: self.term,
                reason,
            });
        }
    }

    fn become_leader(&mut self, votes: u32) {
        debug_assert!(matches!(self.state, RoleState::Candidate { .. }));
        debug_assert_eq!(self.voted_for, Some(self.id()));
        let term_start = self.log.last_index() + 1;
        let mut progress = Map::new();
        for id in self.membership().ids().filter(|&id| id != self.id()) {
            progress.insert(id, Progress::new(term_start));
        }
        self.state = RoleState::Leader(Box::new(Leader {
            progress,
            term_start,
            heartbeat_due: self.now,
            check_quorum_due: self.now + self.config.election_timeout_min,
            entries_pending: false,
            rounds: goose::Rounds::default(),
            transfer: None,
            departing: None,
        }));
        self.leader = Some(self.id());
        self.emit(Event::RoleChanged {
            role: Role::Leader,
            term: self.term,
            reason: RoleReason::WonElection { votes },
        });
        self.append_as_leader(Command::Noop);
        // Announce leadership at once: the heartbeat is due now.
        self.tick_leader();
    }

    fn tick_leader(&mut self) {
        let now = self.now;
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        let check_due = now >= leader.check_quorum_due;
        let heartbeat_due = now >= leader.heartbeat_due;
        if check_due && !self.check_quorum() {
            return;
        }
        self.expire_transfer();
        self.expire_reads();
        if heartbeat_due {
            self.broadcast_heartbeat();
        }
    }

    /// CheckQuorum: has a quorum (counting ourselves) been heard from since the last check?
    /// If not, step down, because a leader cut off from a majority must stop claiming anything.
    fn check_quorum(&mut self) -> bool {
        let window = self.config.election_timeout_min;
        let me = self.id();
        let membership = self.membership().clone();
        let RoleState::Leader(leader) = &mut self.state else {
            return false;
        };
        leader.check_quorum_due = self.now + window;
        if !self.config.check_quorum {
            return true;
        }
        let active = membership
            .ids()
            .filter(|&id| id == me || leader.progress.get(&id).is_some_and(|p| p.recent_active))
            .count();
        for (_, p) in leader.progress.iter_mut() {
            p.recent_active = false;
        }
        if active >= membership.quorum() {
            return true;
        }
        let term = self.term;
        self.become_follower(term, None, RoleReason::NoQuorum { window });
        false
    }
}
