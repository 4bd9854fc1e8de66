//! The observable trace: every send, delivery and drop (with why), every node event (role
//! and term changes, votes with reasons, commits), every action and client request.
//! Hashing the trace (stably, see `StableHasher`) makes determinism checkable across targets.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{Hash, Hasher as _};

#[cfg(feature = "serde")]
use serde::Serialize;

use crate::Action;
use crate::stable_hash::StableHasher;
use duckgoose_core::events::Event;
use duckgoose_core::replica::{Reply, Request, RequestError, RequestId};
use duckgoose_core::types::{Index, Millis, NodeId, Term};

/// A message as the trace shows it: enough to draw it and explain it, without payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct MessageSummary {
    /// Unique per send (a duplicate shares its original's id).
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    pub kind: &'static str,
    pub entries: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
pub enum DropReason {
    /// The link was cut when the message was sent or when it arrived.
    Partitioned,
    /// Random loss.
    Lost,
    /// The receiver was crashed (or removed) when the message arrived.
    NodeDown,
    /// A message storm: more in flight than the checker's bound (see `Checker::traffic_ok`).
    Overload,
}

#[derive(Clone, Debug, PartialEq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub enum TraceKind {
    Send {
        msg: MessageSummary,
        deliver_at: Millis,
    },
    Duplicate {
        msg: MessageSummary,
        deliver_at: Millis,
    },
    Deliver {
        msg: MessageSummary,
    },
    Drop {
        msg: MessageSummary,
        reason: DropReason,
    },
    Node {
        node: NodeId,
        event: Event,
    },
    Action {
        action: Action,
    },
    Request {
        node: NodeId,
        id: RequestId,
        request: Request,
    },
    Response {
        node: NodeId,
        id: RequestId,
        result: Result<Reply, RequestError>,
    },
    Violation {
        invariant: &'static str,
        detail: String,
    },
    /// `node` learned that its connection to `peer` was closed: `peer` crashed, or (if
    /// `spurious`) an action said so while `peer` may be fine.
    ConnectionClosed {
        node: NodeId,
        peer: NodeId,
        spurious: bool,
    },
    /// `node` compacted its log through `through`: a snapshot of its store replaces
    /// the entries up to there.
    Compacted {
        node: NodeId,
        through: Index,
    },
}

#[derive(Clone, Debug, PartialEq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct TraceEvent {
    pub at: Millis,
    pub kind: TraceKind,
}

/// How much of the trace to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum TraceMode {
    /// Keep every event and hash it.
    Record,
    /// Hash every event, keep none (long runs that still check determinism).
    HashOnly,
    /// Neither (fastest; for bulk randomized runs).
    Off,
}

pub struct Trace {
    mode: TraceMode,
    events: Vec<TraceEvent>,
    hasher: StableHasher,
    count: u64,
}

impl Trace {
    pub fn new(mode: TraceMode) -> Self {
        Trace {
            mode,
            events: Vec::new(),
            hasher: StableHasher::default(),
            count: 0,
        }
    }

    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    pub fn is_on(&self) -> bool {
        self.mode != TraceMode::Off
    }

    /// Records an event built only if the trace is on (so a disabled trace costs nothing).
    pub fn record(&mut self, at: Millis, kind: impl FnOnce() -> TraceKind) {
        if self.mode == TraceMode::Off {
            return;
        }
        let event = TraceEvent { at, kind: kind() };
        self.count += 1;
        event.hash(&mut self.hasher);
        if self.mode == TraceMode::Record {
            self.events.push(event);
        }
    }

    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// Events from `cursor` on (a cursor is an index into `events`).
    pub fn since(&self, cursor: usize) -> &[TraceEvent] {
        self.events.get(cursor..).unwrap_or(&[])
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Hands over the events kept so far and forgets them (the hash and count go on).
    /// For long-running drivers that consume events as they come; cursors into `events`
    /// taken before a `take` are no longer meaningful.
    pub fn take(&mut self) -> Vec<TraceEvent> {
        core::mem::take(&mut self.events)
    }

    /// A stable hash (see `StableHasher`) of every event so far.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }
}

impl fmt::Display for TraceEvent {
    /// One human line, e.g. `  1234 ms  3: denied vote to 2 for term 4: already voted for 5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>8} ms  ", self.at)?;
        match &self.kind {
            TraceKind::Send { msg, deliver_at } => write!(
                f,
                "{} -> {}: {} (term {}, {} entries), arrives at {deliver_at}",
                msg.from, msg.to, msg.kind, msg.term, msg.entries
            ),
            TraceKind::Duplicate { msg, deliver_at } => write!(
                f,
                "{} -> {}: {} duplicated, copy arrives at {deliver_at}",
                msg.from, msg.to, msg.kind
            ),
            TraceKind::Deliver { msg } => {
                write!(f, "{} -> {}: {} delivered", msg.from, msg.to, msg.kind)
            }
            TraceKind::Drop { msg, reason } => {
                write!(
                    f,
                    "{} -> {}: {} dropped ({reason:?})",
                    msg.from, msg.to, msg.kind
                )
            }
            TraceKind::Node { node, event } => write!(f, "{node}: {event}"),
            TraceKind::Action { action } => write!(f, "action: {action:?}"),
            TraceKind::Request { node, id, request } => {
                write!(f, "client -> {node}: #{id} {request:?}")
            }
            TraceKind::Response { node, id, result } => match result {
                Ok(reply) => write!(f, "{node} -> client: #{id} {reply:?}"),
                Err(e) => write!(f, "{node} -> client: #{id} failed: {e}"),
            },
            TraceKind::Violation { invariant, detail } => {
                write!(f, "INVARIANT VIOLATED ({invariant}): {detail}")
            }
            TraceKind::ConnectionClosed {
                node,
                peer,
                spurious,
            } => write!(
                f,
                "{node}: connection to {peer} closed{}",
                if *spurious { " (spurious)" } else { "" }
            ),
            TraceKind::Compacted { node, through } => {
                write!(f, "{node}: compacted its log through {through}")
            }
        }
    }
}
