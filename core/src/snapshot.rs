//! A snapshot (Raft §7): the application's state as of `index`, plus what the log needs
//! to go on without the prefix it replaces: the term of the entry at `index` and the
//! membership in force there. The protocol never looks inside `data`; the application
//! encodes it (the key-value store: `Kv::encode`) and checks it (`Kv::decode`).

use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::types::{Index, Membership, Term};

/// The largest snapshot a follower accepts (bytes of state). A stream of chunks past it
/// is refused rather than buffered: memory at a follower stays bounded whatever a peer
/// sends. The key-value store's encoding costs 8 bytes per key and value plus their text.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Snapshot {
    /// The last log index the state includes.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
    /// The membership in force at `index`.
    pub membership: Membership,
    /// The application's state after applying every entry through `index`.
    pub data: Vec<u8>,
}

/// Why a compaction was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum CompactError {
    /// The log is already compacted through `snapshot_index`, at or past the one asked.
    AlreadyCompacted { snapshot_index: Index },
    /// The entry is not yet handed out for applying (`applied` is as far as it is):
    /// a snapshot holds only applied state.
    NotApplied { applied: Index },
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactError::AlreadyCompacted { snapshot_index } => {
                write!(f, "already compacted through {snapshot_index}")
            }
            CompactError::NotApplied { applied } => {
                write!(f, "only entries through {applied} are applied")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CompactError {}
