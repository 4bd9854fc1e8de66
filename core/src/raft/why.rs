//! Why a node is not the goose, and why an entry is not committed: the protocol's own
//! answer, as structured data, for people watching a cluster (the playground's "why no
//! goose?"). Read-only: nothing here changes state, so it may be asked at any moment.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::{Raft, RoleState};
use crate::types::{Index, Millis, NodeId, Term};

/// Why a node does not show itself as the goose at a given moment (`Raft::why_not_goose`).
/// The reasons are checked in the order the lease requires them (`goose_lease_until`):
/// the first that holds is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum NotGoose {
    /// Not the leader of its term; `leader` is the one it follows, if it knows one.
    NotLeader { leader: Option<NodeId> },
    /// CheckQuorum is off: without it a leader never learns it was cut off in time, so no
    /// leader ever shows itself as the goose.
    NoCheckQuorum,
    /// Handing leadership over to `to`: the goose of nobody until the transfer ends.
    Transferring { to: NodeId },
    /// Leader of `term`, but its first entry (`term_start`) is not committed yet: until
    /// it is, the commit index it knows may be behind what earlier leaders committed.
    TermNotCommitted {
        term: Term,
        term_start: Index,
        commit_index: Index,
    },
    /// No quorum has acknowledged a round recent enough: the lease from the latest
    /// confirmed round (started at `confirmed_at`, if any) ran out at `expired_at`.
    /// `acknowledged` voters, this one included, acknowledged the latest round sent;
    /// `quorum` are needed.
    LeaseExpired {
        confirmed_at: Option<Millis>,
        expired_at: Option<Millis>,
        acknowledged: usize,
        quorum: usize,
    },
}

/// Why an entry is not (yet) committed as far as a node knows (`Raft::why_uncommitted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum Uncommitted {
    /// The node's log ends before the entry (`last_index`).
    NotInLog { last_index: Index },
    /// Only a leader counts replicas; a follower learns the commit index from its leader
    /// (`leader`, if known) and knows entries through `commit_index` committed.
    NotLeader {
        leader: Option<NodeId>,
        commit_index: Index,
    },
    /// On `replicas` voters (the leader's own copy counting once it is on disk), fewer
    /// than the `quorum` needed.
    TooFewReplicas { replicas: usize, quorum: usize },
    /// On a quorum, but of `entry_term`, older than the leader's `term`. A leader commits
    /// by counting only entries of its own term (Raft §5.4.2, the paper's Figure 8); this
    /// one commits when an entry of `term` after it does.
    EarlierTerm { entry_term: Term, term: Term },
    /// On a quorum and of the leader's own term, but not counted yet: a membership
    /// change made the copies it already had a quorum, and the leader counts again on
    /// its next acknowledgement.
    NextAcknowledgement,
}

impl<C: Clone> Raft<C> {
    /// Why this node does not show itself as the goose at `now` (`shows_goose_at`), or
    /// `None` when it does.
    pub fn why_not_goose(&self, now: Millis) -> Option<NotGoose> {
        if self.shows_goose_at(now) {
            return None;
        }
        let core = &self.core;
        let RoleState::Leader(leader) = &self.state else {
            return Some(NotGoose::NotLeader {
                leader: core.leader,
            });
        };
        if !core.config.check_quorum {
            return Some(NotGoose::NoCheckQuorum);
        }
        if let Some(transfer) = &leader.transfer {
            return Some(NotGoose::Transferring { to: transfer.to });
        }
        if core.commit_index < leader.term_start {
            return Some(NotGoose::TermNotCommitted {
                term: core.term,
                term_start: leader.term_start,
                commit_index: core.commit_index,
            });
        }
        let me = core.id();
        let latest = leader.rounds.current();
        let acknowledged = core
            .log
            .membership()
            .ids()
            .filter(|&id| {
                id == me
                    || leader
                        .progress
                        .get(&id)
                        .is_some_and(|p| p.acked_round >= latest)
            })
            .count();
        let confirmed_at = leader.rounds.confirmed_started_at();
        Some(NotGoose::LeaseExpired {
            confirmed_at,
            expired_at: confirmed_at.map(|at| at + core.config.goose_lease),
            acknowledged,
            quorum: core.log.membership().quorum(),
        })
    }

    /// Why the entry at `index` is not committed as far as this node knows, or `None`
    /// when it is (at or below the commit index, snapshots included).
    pub fn why_uncommitted(&self, index: Index) -> Option<Uncommitted> {
        let core = &self.core;
        if index <= core.commit_index {
            return None;
        }
        let last_index = core.log.last_index();
        if index > last_index {
            return Some(Uncommitted::NotInLog { last_index });
        }
        let RoleState::Leader(leader) = &self.state else {
            return Some(Uncommitted::NotLeader {
                leader: core.leader,
                commit_index: core.commit_index,
            });
        };
        let me = core.id();
        let membership = core.log.membership();
        let replicas = membership
            .ids()
            .filter(|&id| {
                if id == me {
                    core.durable >= index
                } else {
                    leader
                        .progress
                        .get(&id)
                        .is_some_and(|p| p.match_index >= index)
                }
            })
            .count();
        let quorum = membership.quorum();
        if replicas < quorum {
            return Some(Uncommitted::TooFewReplicas { replicas, quorum });
        }
        match core.log.term_at(index) {
            Some(entry_term) if entry_term < core.term => Some(Uncommitted::EarlierTerm {
                entry_term,
                term: core.term,
            }),
            _ => Some(Uncommitted::NextAcknowledgement),
        }
    }
}
