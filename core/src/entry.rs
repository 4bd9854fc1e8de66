//! What the log holds: entries, each carrying one command for the replicated state machine.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::kv::Op;
use crate::types::{Index, Membership, Term};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
/// `C` is the application's command: opaque to the protocol, which only stores,
/// replicates and hands it back once committed. The key-value store's [`Op`] by default.
pub struct Entry<C = Op> {
    pub index: Index,
    pub term: Term,
    pub command: Command<C>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Command<C = Op> {
    /// Appended by every new leader: committing it is how a leader learns which
    /// earlier entries are committed (Raft §5.4.2, §8).
    Noop,
    /// The complete new membership. Takes effect as soon as it is in a log, committed
    /// or not; the bootstrap entry (index 1, term 0) is the initial membership.
    Config(Membership),
    /// An application command. The protocol never looks inside it.
    App(C),
}

impl<C> Command<C> {
    pub fn is_config(&self) -> bool {
        matches!(self, Command::Config(_))
    }
}
