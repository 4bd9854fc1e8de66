//! Messages between nodes. Every message carries the sender's term (Raft §5.1); the
//! receiver's first move is always to compare terms (see `Raft::step`).

use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::entry::Entry;
use crate::kv::Op;
use crate::snapshot::MAX_SNAPSHOT_BYTES;
use crate::types::{Index, MAX_TERM, Membership, NodeId, Term};

/// A leader's heartbeat round number. Every Append carries the leader's current round and
/// every reply echoes it, so a leader can tell which followers acknowledged it *after* a
/// given moment: that is how a goose query is confirmed (ReadIndex, thesis §6.4).
pub type Round = u64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Message<C = Op> {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub body: Body<C>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Body<C = Op> {
    /// "Would you vote for me in `term`?" Changes nothing at the receiver (thesis §9.6).
    PreVote {
        last_index: Index,
        last_term: Term,
    },
    PreVoteReply {
        granted: bool,
    },
    /// RequestVote. `transfer` marks a campaign started by TimeoutNow: the receiver may
    /// vote even though it heard from the leader recently (the leader asked for this).
    Vote {
        last_index: Index,
        last_term: Term,
        transfer: bool,
    },
    VoteReply {
        granted: bool,
    },
    /// AppendEntries; with no entries it is a heartbeat.
    Append {
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry<C>>,
        commit: Index,
        round: Round,
    },
    AppendReply {
        round: Round,
        result: AppendResult,
    },
    /// Leadership transfer: "start an election now, skipping PreVote".
    TimeoutNow,
    /// One chunk of the leader's snapshot through `index` (of term `snapshot_term`, with
    /// `membership` in force there), sent instead of an Append when the entries a
    /// follower needs are compacted away. `data` holds the state's bytes from `offset`;
    /// `done` marks the last chunk. Echoes the heartbeat round like an Append, so a
    /// follower catching up still confirms goose queries.
    InstallSnapshot {
        index: Index,
        snapshot_term: Term,
        membership: Membership,
        offset: u64,
        data: Vec<u8>,
        done: bool,
        round: Round,
    },
    /// "I hold the first `next_offset` bytes of your snapshot through `index`": the
    /// leader sends the chunk from there. The last chunk is answered with an
    /// `AppendReply` accepting `index` instead, so normal replication resumes.
    SnapshotAck {
        round: Round,
        index: Index,
        next_offset: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum AppendResult {
    /// The follower's log matches the leader's through `match_index`.
    Accepted { match_index: Index },
    /// No entry at `prev_index` with the leader's `prev_term`. The leader retries from
    /// `conflict_index`, or past its own last entry of `conflict_term` if it has one.
    Rejected {
        prev_index: Index,
        conflict_index: Index,
        conflict_term: Option<Term>,
    },
}

/// Why a message from the network was refused: malformed, or impossible from a correct
/// peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Malformed {
    ZeroNodeId,
    SelfAddressed,
    WrongRecipient,
    EntriesNotContiguous,
    EntryTermOutOfOrder,
    EntryTermAboveMessageTerm,
    ConflictIndexOutOfRange,
    /// A term above `MAX_TERM`: no correct peer reaches one.
    TermOutOfRange,
    /// An Append for the term this node leads: no correct peer sends one (election
    /// safety), so it is refused.
    SecondLeader,
    /// An Append whose entries differ from entries this node knows are committed: no
    /// correct leader sends one (log matching, leader completeness), so it is refused.
    ContradictsCommitted,
    /// A log position no correct sender has: a nonzero term at index 0, or a log term
    /// above the message term (a sender's entries are never from its future).
    ImpossibleLogPosition,
    /// A snapshot at index 0 or with an empty membership: nothing a leader compacts.
    EmptySnapshot,
    /// A snapshot chunk whose end overflows, or passes `MAX_SNAPSHOT_BYTES`.
    SnapshotTooLarge,
    /// A snapshot chunk that does not continue the one being received (a gap, or a
    /// chunk of a snapshot whose first chunk we never got).
    SnapshotChunkGap,
    /// A snapshot whose state the application refused (bad bytes, or a state of
    /// another index).
    SnapshotStateInvalid,
    /// An InstallSnapshot for the term this node leads (see `SecondLeader`).
    SnapshotToLeader,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Malformed::ZeroNodeId => "node id 0 is not valid",
            Malformed::SelfAddressed => "message from a node to itself",
            Malformed::WrongRecipient => "message addressed to another node",
            Malformed::EntriesNotContiguous => "entries do not follow prev_index contiguously",
            Malformed::EntryTermOutOfOrder => "entry terms decrease",
            Malformed::EntryTermAboveMessageTerm => "entry term above the message term",
            Malformed::ConflictIndexOutOfRange => "conflict index is 0 or past prev_index + 1",
            Malformed::TermOutOfRange => "term beyond any a correct node reaches",
            Malformed::SecondLeader => "an Append for the term this node leads",
            Malformed::ContradictsCommitted => "entries contradict committed entries",
            Malformed::ImpossibleLogPosition => {
                "log position with a term at index 0 or a term above the message term"
            }
            Malformed::EmptySnapshot => "snapshot at index 0 or with an empty membership",
            Malformed::SnapshotTooLarge => "snapshot larger than MAX_SNAPSHOT_BYTES",
            Malformed::SnapshotChunkGap => "snapshot chunk does not continue the one received",
            Malformed::SnapshotStateInvalid => "snapshot state refused by the application",
            Malformed::SnapshotToLeader => "an InstallSnapshot for the term this node leads",
        })
    }
}

/// Index 0 is the empty log, of term 0; a sender's entries carry terms up to its own.
fn possible_position(index: Index, term: Term, message_term: Term) -> bool {
    (index != 0 || term == 0) && term <= message_term
}

impl<C> Message<C> {
    /// Structural checks for anything that came from outside the process. The protocol
    /// code may then rely on them (for example, contiguous entries) without panicking.
    #[inline]
    pub fn validate(&self, me: NodeId) -> Result<(), Malformed> {
        if self.from == 0 || self.to == 0 {
            return Err(Malformed::ZeroNodeId);
        }
        if self.to != me {
            return Err(Malformed::WrongRecipient);
        }
        if self.from == self.to {
            return Err(Malformed::SelfAddressed);
        }
        if self.term > MAX_TERM {
            return Err(Malformed::TermOutOfRange);
        }
        match &self.body {
            Body::PreVote {
                last_index,
                last_term,
            }
            | Body::Vote {
                last_index,
                last_term,
                ..
            } if !possible_position(*last_index, *last_term, self.term) => {
                Err(Malformed::ImpossibleLogPosition)
            }
            Body::Append {
                prev_index,
                prev_term,
                ..
            } if !possible_position(*prev_index, *prev_term, self.term) => {
                Err(Malformed::ImpossibleLogPosition)
            }
            Body::Append {
                prev_index,
                prev_term,
                entries,
                ..
            } => {
                let mut last_term = *prev_term;
                for (offset, entry) in entries.iter().enumerate() {
                    let expected = prev_index.checked_add(1 + offset as Index);
                    if expected != Some(entry.index) {
                        return Err(Malformed::EntriesNotContiguous);
                    }
                    if entry.term < last_term {
                        return Err(Malformed::EntryTermOutOfOrder);
                    }
                    if entry.term > self.term {
                        return Err(Malformed::EntryTermAboveMessageTerm);
                    }
                    last_term = entry.term;
                }
                Ok(())
            }
            Body::InstallSnapshot {
                index,
                snapshot_term,
                ..
            } if !possible_position(*index, *snapshot_term, self.term) => {
                Err(Malformed::ImpossibleLogPosition)
            }
            Body::InstallSnapshot {
                index, membership, ..
            } if *index == 0 || membership.is_empty() => Err(Malformed::EmptySnapshot),
            Body::InstallSnapshot { offset, data, .. }
                if offset
                    .checked_add(data.len() as u64)
                    .is_none_or(|end| end > MAX_SNAPSHOT_BYTES) =>
            {
                Err(Malformed::SnapshotTooLarge)
            }
            Body::AppendReply {
                result:
                    AppendResult::Rejected {
                        prev_index,
                        conflict_index,
                        ..
                    },
                ..
            } if *conflict_index == 0 || *conflict_index > prev_index.saturating_add(1) => {
                Err(Malformed::ConflictIndexOutOfRange)
            }
            _ => Ok(()),
        }
    }

    /// A short name for traces and logs.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            Body::PreVote { .. } => "PreVote",
            Body::PreVoteReply { .. } => "PreVoteReply",
            Body::Vote { .. } => "Vote",
            Body::VoteReply { .. } => "VoteReply",
            Body::Append { entries, .. } if entries.is_empty() => "Heartbeat",
            Body::Append { .. } => "Append",
            Body::AppendReply { .. } => "AppendReply",
            Body::TimeoutNow => "TimeoutNow",
            Body::InstallSnapshot { .. } => "InstallSnapshot",
            Body::SnapshotAck { .. } => "SnapshotAck",
        }
    }
}
