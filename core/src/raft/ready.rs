//! What the driver gets out of a node, and what it must do with it.

use alloc::vec::Vec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::goose::ReadOutcome;
use super::{Raft, RoleState};
use crate::entry::Entry;
use crate::events::Event;
use crate::kv::Op;
use crate::message::Message;
use crate::types::{Index, NodeId, Term};

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

impl<C: Clone> Raft<C> {
    pub fn has_ready(&self) -> bool {
        let core = &self.core;
        !core.out.is_empty()
            || core.hard_state_dirty
            || core.unpersisted_from.is_some()
            || core.handed_out < core.commit_index
            || match &self.state {
                RoleState::Leader(l) => l.entries_pending || l.rounds.wants_new_round(),
                _ => false,
            }
    }

    /// Collects everything produced since the last call. See `Ready` for what the driver
    /// must do with it, in which order.
    pub fn ready(&mut self) -> Ready<C> {
        if let Some(mut leading) = self.leading() {
            leading.flush();
        }
        let core = &mut self.core;
        let out = core::mem::take(&mut core.out);
        let mut ready = Ready {
            messages: out.messages,
            reads: out.reads,
            events: out.events,
            ..Ready::default()
        };
        if core::mem::take(&mut core.hard_state_dirty) {
            ready.hard_state = Some(HardState {
                term: core.term,
                voted_for: core.voted_for,
            });
        }
        if let Some(from) = core.unpersisted_from.take() {
            ready.log_write = Some(LogWrite {
                truncate_from: from,
                entries: core.log.range(from, core.log.last_index()).to_vec(),
            });
        }
        if core.handed_out < core.commit_index {
            ready.committed = core
                .log
                .range(core.handed_out + 1, core.commit_index)
                .to_vec();
            core.handed_out = core.commit_index;
        }
        self.debug_check_invariants();
        ready
    }
}
