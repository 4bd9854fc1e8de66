//! What a node reports about itself, with the reason why: the playground's event log,
//! the native node's log lines and the simulator's trace are all made of these.

use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::message::Malformed;
use crate::types::{Index, Membership, Millis, NodeId, Term};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre_candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Event {
    RoleChanged {
        role: Role,
        term: Term,
        reason: RoleReason,
    },
    VoteGranted {
        candidate: NodeId,
        term: Term,
        pre_vote: bool,
    },
    VoteDenied {
        candidate: NodeId,
        term: Term,
        pre_vote: bool,
        reason: DenyReason,
    },
    Committed {
        index: Index,
    },
    LogTruncated {
        from: Index,
    },
    MembershipChanged {
        index: Index,
        membership: Membership,
    },
    TransferStarted {
        to: NodeId,
    },
    TransferAborted {
        to: NodeId,
    },
    MessageRefused {
        from: NodeId,
        reason: Malformed,
    },
    /// A snapshot from the leader replaced the log through `index` (of `term`).
    SnapshotInstalled {
        index: Index,
        term: Term,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum RoleReason {
    /// The node was (re)started from its persisted state.
    Started,
    /// No word from a leader within the election timeout.
    ElectionTimeout,
    /// The connection to the leader was closed by its end (its process is likely gone),
    /// and no word from a leader came after: a pre-vote before the timeout ran out.
    LeaderConnectionClosed {
        leader: NodeId,
    },
    WonPreVote {
        votes: u32,
    },
    WonElection {
        votes: u32,
    },
    /// A quorum refused the (pre-)vote.
    LostElection,
    /// A message carried a newer term.
    HigherTerm {
        from: NodeId,
    },
    /// A candidate heard an Append from the leader of its own term.
    LeaderDiscovered {
        leader: NodeId,
    },
    /// CheckQuorum: a leader that did not hear from a quorum within `window` steps down.
    NoQuorum {
        window: Millis,
    },
    /// A leader whose removal committed steps down.
    Removed,
    /// The leader asked this node to take over.
    TimeoutNow {
        from: NodeId,
    },
    /// A transfer whose TimeoutNow went out did not complete in time: step down rather
    /// than risk overlapping the target.
    TransferTimedOut {
        to: NodeId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum DenyReason {
    /// The candidate's term is below ours.
    StaleTerm { ours: Term },
    /// We already voted for someone else in this term.
    AlreadyVoted { voted_for: NodeId },
    /// The candidate's log is less up-to-date than ours (Raft §5.4.1).
    LogBehind {
        candidate_last_term: Term,
        candidate_last_index: Index,
        our_last_term: Term,
        our_last_index: Index,
    },
    /// We heard from a leader less than a minimum election timeout ago (or just restarted),
    /// so the candidate is likely disrupting a healthy cluster.
    LeaderLease {
        leader: Option<NodeId>,
        heard_ago: Millis,
    },
}

impl RoleReason {
    /// A stable, machine-readable name for the reason (what the page and logs key on).
    pub fn code(&self) -> &'static str {
        match self {
            RoleReason::Started => "started",
            RoleReason::ElectionTimeout => "election_timeout",
            RoleReason::LeaderConnectionClosed { .. } => "leader_connection_closed",
            RoleReason::WonPreVote { .. } => "won_pre_vote",
            RoleReason::WonElection { .. } => "won_election",
            RoleReason::LostElection => "lost_election",
            RoleReason::HigherTerm { .. } => "higher_term",
            RoleReason::LeaderDiscovered { .. } => "leader_discovered",
            RoleReason::NoQuorum { .. } => "no_quorum",
            RoleReason::Removed => "removed",
            RoleReason::TimeoutNow { .. } => "timeout_now",
            RoleReason::TransferTimedOut { .. } => "transfer_timed_out",
        }
    }
}

impl fmt::Display for RoleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleReason::Started => write!(f, "started from persisted state"),
            RoleReason::ElectionTimeout => write!(f, "election timeout: no leader heard"),
            RoleReason::LeaderConnectionClosed { leader } => {
                write!(f, "the connection to leader {leader} closed")
            }
            RoleReason::WonPreVote { votes } => write!(f, "won pre-vote with {votes} votes"),
            RoleReason::WonElection { votes } => write!(f, "won election with {votes} votes"),
            RoleReason::LostElection => write!(f, "a majority refused the vote"),
            RoleReason::HigherTerm { from } => write!(f, "saw a higher term from {from}"),
            RoleReason::LeaderDiscovered { leader } => write!(f, "heard from leader {leader}"),
            RoleReason::NoQuorum { window } => write!(f, "no quorum for {window} ms"),
            RoleReason::Removed => write!(f, "removed from the cluster"),
            RoleReason::TimeoutNow { from } => write!(f, "leader {from} handed over leadership"),
            RoleReason::TransferTimedOut { to } => {
                write!(f, "transfer to {to} timed out after TimeoutNow was sent")
            }
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::StaleTerm { ours } => write!(f, "candidate's term is behind ours ({ours})"),
            DenyReason::AlreadyVoted { voted_for } => write!(f, "already voted for {voted_for}"),
            DenyReason::LogBehind {
                candidate_last_term,
                candidate_last_index,
                our_last_term,
                our_last_index,
            } => write!(
                f,
                "candidate log is behind (last entry {candidate_last_index}@{candidate_last_term} < ours {our_last_index}@{our_last_term})"
            ),
            DenyReason::LeaderLease {
                leader: Some(leader),
                heard_ago,
            } => write!(f, "heard from leader {leader} {heard_ago} ms ago"),
            DenyReason::LeaderLease { leader: None, .. } => {
                write!(f, "restarted less than an election timeout ago")
            }
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::RoleChanged { role, term, reason } => {
                write!(f, "became {} in term {term}: {reason}", role.as_str())
            }
            Event::VoteGranted {
                candidate,
                term,
                pre_vote,
            } => {
                let what = if *pre_vote { "pre-vote" } else { "vote" };
                write!(f, "granted {what} to {candidate} for term {term}")
            }
            Event::VoteDenied {
                candidate,
                term,
                pre_vote,
                reason,
            } => {
                let what = if *pre_vote { "pre-vote" } else { "vote" };
                write!(f, "denied {what} to {candidate} for term {term}: {reason}")
            }
            Event::Committed { index } => write!(f, "committed through index {index}"),
            Event::LogTruncated { from } => {
                write!(f, "dropped conflicting entries from index {from}")
            }
            Event::MembershipChanged { index, membership } => {
                write!(f, "membership at index {index} is now {{")?;
                for (i, id) in membership.ids().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{id}")?;
                }
                write!(f, "}}")
            }
            Event::TransferStarted { to } => write!(f, "transferring leadership to {to}"),
            Event::TransferAborted { to } => write!(f, "gave up transferring leadership to {to}"),
            Event::MessageRefused { from, reason } => {
                write!(f, "refused a message from {from}: {reason}")
            }
            Event::SnapshotInstalled { index, term } => {
                write!(
                    f,
                    "installed the leader's snapshot through index {index} (term {term})"
                )
            }
        }
    }
}
