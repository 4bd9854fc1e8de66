//! What the log holds: entries, each carrying one command for the replicated state machine.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::kv::Op;
use crate::types::{Index, Membership, Term};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Entry {
    pub index: Index,
    pub term: Term,
    pub command: Command,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Command {
    /// Appended by every new leader: committing it is how a leader learns which
    /// earlier entries are committed (Raft §5.4.2, §8).
    Noop,
    /// The complete new membership. Takes effect as soon as it is in a log, committed
    /// or not; the bootstrap entry (index 1, term 0) is the initial membership.
    Config(Membership),
    /// An application command: the key-value store's operation. The protocol never
    /// looks inside it.
    App(Op),
}

impl Command {
    pub fn is_config(&self) -> bool {
        matches!(self, Command::Config(_))
    }
}
