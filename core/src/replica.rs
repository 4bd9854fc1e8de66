//! A Raft node plus its key-value store and the bookkeeping for client requests: what
//! every driver (simulator, browser, native server) runs. Still sans-IO: requests come in
//! with an id, responses come out of `advance()`, once `ready()`'s writes are durable
//! (the same contract as `Raft::ready`/`Raft::advance`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::config::{Config, ConfigError};
use crate::entry::{Command, Entry};
use crate::kv::{Kv, Op, Output};
use crate::message::Message;
use crate::raft::{
    DuckReason, MembershipChange, Persisted, ProposeError, Raft, ReadOutcome, Ready,
};
use crate::snapshot::{CompactError, Snapshot};
use crate::types::{Index, Map, Member, Membership, Millis, NodeId, Term};

/// Is `data` a key-value state of `index`? (The replica's check of received snapshots.)
fn kv_snapshot_is_valid(index: Index, data: &[u8]) -> bool {
    Kv::decode(data).is_ok_and(|kv| kv.applied_index() == index)
}

/// The driver's tag for a request; echoed in its response. Unique per replica.
pub type RequestId = u64;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Request {
    /// A key-value operation. Writes go through the log; a get is a linearizable read
    /// (ReadIndex, then wait until applied).
    Kv(Op),
    /// "Are you the goose?"
    Goose,
    AddMember(Member),
    RemoveMember(NodeId),
    Transfer {
        to: NodeId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Reply {
    /// What a key-value operation returned.
    Kv(Output),
    /// This node was the goose of `term` at a moment during the request.
    Goose {
        term: Term,
    },
    Duck {
        reason: DuckReason,
    },
    MembershipChanged {
        index: Index,
        membership: Membership,
    },
    Transferred {
        to: NodeId,
        term: Term,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum RequestError {
    /// Not the leader; nothing happened. `leader` is where to retry.
    NotLeader { leader: Option<NodeId> },
    /// Refused up front; nothing happened.
    Refused(ProposeError),
    /// A read could not confirm leadership; nothing happened.
    Unconfirmed(DuckReason),
    /// The entry was replaced by another leader's: it will never take effect.
    Overwritten,
    /// No outcome in time: the request may or may not take effect.
    Timeout,
}

impl RequestError {
    /// True when the request may still take effect (the caller cannot know).
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, RequestError::Timeout)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NotLeader { leader: Some(l) } => write!(f, "not the leader; try {l}"),
            RequestError::NotLeader { leader: None } => {
                write!(f, "not the leader; no leader known")
            }
            RequestError::Refused(e) => write!(f, "refused: {e}"),
            RequestError::Unconfirmed(reason) => {
                write!(f, "could not confirm leadership: {reason}")
            }
            RequestError::Overwritten => write!(f, "lost to a newer leader's entry; not applied"),
            RequestError::Timeout => write!(f, "timed out; outcome unknown"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RequestError {}

impl From<ProposeError> for RequestError {
    fn from(e: ProposeError) -> Self {
        match e {
            ProposeError::NotLeader { leader } => RequestError::NotLeader { leader },
            other => RequestError::Refused(other),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Response {
    pub id: RequestId,
    pub result: Result<Reply, RequestError>,
}

/// What `Replica::ready` hands the driver: Raft's own `Ready`. Make `hard_state` and
/// `log_write` durable, then pass it to `Replica::advance` for the messages and responses.
pub type ReplicaReady = Ready;

/// What `Replica::advance` releases: send `messages`, deliver `responses`.
#[derive(Debug, Default)]
pub struct ReplicaReleased {
    /// A leader's snapshot the store was restored from, before `applied`.
    pub installed: Option<Snapshot>,
    pub messages: Vec<Message>,
    /// Entries applied to the key-value store by this call, in order.
    pub applied: Vec<Entry>,
    pub responses: Vec<Response>,
}

#[derive(Debug)]
struct PendingEntry {
    id: RequestId,
    term: Term,
    deadline: Millis,
}

#[derive(Debug)]
enum PendingQuery {
    Goose,
    Get { key: String, deadline: Millis },
}

#[derive(Debug)]
struct PendingTransfer {
    id: RequestId,
    to: NodeId,
    from_term: Term,
    deadline: Millis,
}

/// Writes and queries that arrived together, not yet handed to Raft.
#[derive(Default)]
struct Batch {
    writes: Vec<(RequestId, Command)>,
    queries: Vec<RequestId>,
}

pub struct Replica {
    raft: Raft,
    kv: Kv,
    request_timeout: Millis,
    /// Proposed entries by index, answered when that index applies.
    entries: Map<Index, PendingEntry>,
    /// Goose queries and reads waiting for leadership confirmation, by request id.
    queries: Map<RequestId, PendingQuery>,
    /// Confirmed reads waiting for the store to reach their index.
    reads: Vec<(Index, RequestId, String, Millis)>,
    transfer: Option<PendingTransfer>,
    responses: Vec<Response>,
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica")
            .field("raft", &self.raft)
            .field("applied", &self.kv.applied_index())
            .finish()
    }
}

impl Replica {
    /// `request_timeout`: how long a request may wait before it is answered `Timeout`.
    pub fn new(
        config: Config,
        persisted: Persisted,
        now: Millis,
        request_timeout: Millis,
    ) -> Result<Self, ConfigError> {
        let kv = match &persisted.snapshot {
            Some(snapshot) => match Kv::decode(&snapshot.data) {
                Ok(kv) if kv.applied_index() == snapshot.index => kv,
                _ => return Err(ConfigError::LogDoesNotFollowSnapshot),
            },
            None => Kv::default(),
        };
        let mut raft = Raft::new(config, persisted, now)?;
        raft.set_snapshot_check(kv_snapshot_is_valid);
        Ok(Replica {
            raft,
            kv,
            request_timeout,
            entries: Map::new(),
            queries: Map::new(),
            reads: Vec::new(),
            transfer: None,
            responses: Vec::new(),
        })
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Compacts the log through the index the store has applied, with the store's
    /// state there as the snapshot (`Raft::compact`); returns that index. The replica
    /// compacts from its own store because only the store knows the state at an index,
    /// and only at the one it applied last: a driver handing in bytes could hand in
    /// the state of another index.
    pub fn compact(&mut self) -> Result<Index, CompactError> {
        let through = self.kv.applied_index();
        self.raft.compact(through, self.kv.encode())?;
        Ok(through)
    }

    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    pub fn tick(&mut self, now: Millis) {
        self.raft.tick(now);
        self.expire_requests();
    }

    pub fn step(&mut self, msg: Message) {
        self.raft.step(msg);
    }

    /// The driver's connection to `peer` was closed by its end: see
    /// `Raft::peer_connection_closed`.
    pub fn peer_connection_closed(&mut self, peer: NodeId) {
        self.raft.peer_connection_closed(peer);
    }

    pub fn next_deadline(&self) -> Millis {
        let mut due = self.raft.next_deadline();
        let entry_deadlines = self.entries.values().map(|p| p.deadline);
        let read_deadlines = self.reads.iter().map(|r| r.3);
        let query_deadlines = self.queries.values().filter_map(|q| match q {
            PendingQuery::Get { deadline, .. } => Some(*deadline),
            PendingQuery::Goose => None,
        });
        for d in entry_deadlines.chain(read_deadlines).chain(query_deadlines) {
            due = due.min(d);
        }
        if let Some(t) = &self.transfer {
            due = due.min(t.deadline);
        }
        due
    }

    /// Starts a client request; its response comes out of a later `advance()`.
    pub fn request(&mut self, id: RequestId, request: Request) {
        let mut batch = Batch::default();
        self.start(id, request, &mut batch);
        self.flush(&mut batch);
    }

    /// Starts requests that arrived together: consecutive writes become one batch
    /// proposal (one Append per follower), reads and goose queries share one round.
    pub fn requests(&mut self, requests: Vec<(RequestId, Request)>) {
        let mut batch = Batch::default();
        for (id, request) in requests {
            self.start(id, request, &mut batch);
        }
        self.flush(&mut batch);
    }

    /// Queues a write or a query in `batch`; anything else goes ahead at once, after
    /// what `batch` holds (membership changes and transfers keep their order).
    fn start(&mut self, id: RequestId, request: Request, batch: &mut Batch) {
        let deadline = self.raft.now() + self.request_timeout;
        match request {
            Request::Kv(Op::Get { key }) => {
                self.queries.insert(id, PendingQuery::Get { key, deadline });
                batch.queries.push(id);
            }
            Request::Goose => {
                self.queries.insert(id, PendingQuery::Goose);
                batch.queries.push(id);
            }
            Request::Kv(op) => batch.writes.push((id, Command::App(op))),
            Request::AddMember(member) => {
                self.flush(batch);
                self.change_membership(id, MembershipChange::Add(member));
            }
            Request::RemoveMember(node) => {
                self.flush(batch);
                self.change_membership(id, MembershipChange::Remove(node));
            }
            Request::Transfer { to } => {
                self.flush(batch);
                self.transfer(id, to);
            }
        }
    }

    /// Proposes the batch's writes as one batch and confirms its queries in one round.
    fn flush(&mut self, batch: &mut Batch) {
        self.propose_writes(core::mem::take(&mut batch.writes));
        if !batch.queries.is_empty() {
            self.raft
                .confirm_leadership_batch(core::mem::take(&mut batch.queries));
        }
    }

    fn propose_writes(&mut self, writes: Vec<(RequestId, Command)>) {
        if writes.is_empty() {
            return;
        }
        let deadline = self.raft.now() + self.request_timeout;
        let term = self.raft.term();
        let (ids, commands): (Vec<RequestId>, Vec<Command>) = writes.into_iter().unzip();
        match self.raft.propose_batch(commands) {
            Ok(indexes) => {
                debug_assert_eq!(indexes.end - indexes.start, ids.len() as Index);
                for (index, id) in indexes.zip(ids) {
                    self.entries
                        .insert(index, PendingEntry { id, term, deadline });
                }
            }
            Err(e) => {
                for id in ids {
                    self.respond(id, Err(e.into()));
                }
            }
        }
    }

    fn transfer(&mut self, id: RequestId, to: NodeId) {
        let deadline = self.raft.now() + self.request_timeout;
        let term = self.raft.term();
        match self.raft.transfer_leadership(to) {
            Ok(()) if to == self.raft.id() => self.respond(id, Ok(Reply::Transferred { to, term })),
            Ok(()) => {
                if let Some(old) = self.transfer.replace(PendingTransfer {
                    id,
                    to,
                    from_term: term,
                    deadline,
                }) {
                    self.respond(old.id, Err(RequestError::Timeout));
                }
            }
            Err(e) => self.respond(id, Err(e.into())),
        }
    }

    fn change_membership(&mut self, id: RequestId, change: MembershipChange) {
        let deadline = self.raft.now() + self.request_timeout;
        let term = self.raft.term();
        let proposed = self.raft.propose_membership_change(change);
        match proposed {
            Ok(index) => {
                self.entries
                    .insert(index, PendingEntry { id, term, deadline });
            }
            Err(e) => self.respond(id, Err(e.into())),
        }
    }

    /// Is anything queued for `ready()`?
    pub fn has_ready(&self) -> bool {
        self.raft.has_ready() || !self.responses.is_empty()
    }

    /// Takes Raft's output: what to persist, and what happened.
    pub fn ready(&mut self) -> ReplicaReady {
        self.raft.ready()
    }

    /// `ready`'s writes are durable: applies newly committed entries, answers whatever
    /// requests are now decided, and releases the messages.
    pub fn advance(&mut self, ready: ReplicaReady) -> ReplicaReleased {
        let released = self.raft.advance(ready);
        if let Some(snapshot) = &released.snapshot {
            self.restore(snapshot);
        }
        for entry in &released.committed {
            let applied = self.kv.apply(entry);
            self.answer_entry(entry, applied);
        }
        for outcome in released.reads {
            self.answer_query(outcome);
        }
        self.answer_reads_now_applied();
        self.check_transfer();
        ReplicaReleased {
            installed: released.snapshot,
            messages: released.messages,
            applied: released.committed,
            responses: core::mem::take(&mut self.responses),
        }
    }

    /// The store becomes the leader's snapshot (checked by `kv_snapshot_is_valid`
    /// before it was installed). Our own entries it covers may or may not be in it.
    fn restore(&mut self, snapshot: &Snapshot) {
        match Kv::decode(&snapshot.data) {
            Ok(kv) => self.kv = kv,
            Err(e) => debug_assert!(false, "an installed snapshot was checked: {e:?}"),
        }
        let covered: Vec<Index> = self
            .entries
            .keys()
            .copied()
            .take_while(|&i| i <= snapshot.index)
            .collect();
        for index in covered {
            if let Some(p) = self.entries.remove(&index) {
                self.respond(p.id, Err(RequestError::Timeout));
            }
        }
    }

    fn respond(&mut self, id: RequestId, result: Result<Reply, RequestError>) {
        self.responses.push(Response { id, result });
    }

    fn answer_entry(&mut self, entry: &Entry, applied: Option<Output>) {
        let Some(pending) = self.entries.remove(&entry.index) else {
            return;
        };
        if pending.term != entry.term {
            // Our entry was replaced at this index by another leader's.
            self.respond(pending.id, Err(RequestError::Overwritten));
            return;
        }
        let reply = match (&entry.command, applied) {
            (Command::Config(membership), _) => Reply::MembershipChanged {
                index: entry.index,
                membership: membership.clone(),
            },
            (_, Some(output)) => Reply::Kv(output),
            // A no-op is never a client's entry.
            (_, None) => Reply::Kv(Output::Written),
        };
        self.respond(pending.id, Ok(reply));
    }

    fn answer_query(&mut self, outcome: ReadOutcome) {
        let Some(query) = self.queries.remove(&outcome.ctx) else {
            return;
        };
        let id = outcome.ctx;
        match (query, outcome.result) {
            (PendingQuery::Goose, Ok(confirmed)) => self.respond(
                id,
                Ok(Reply::Goose {
                    term: confirmed.term,
                }),
            ),
            (PendingQuery::Goose, Err(reason)) => self.respond(id, Ok(Reply::Duck { reason })),
            (PendingQuery::Get { key, deadline }, Ok(confirmed)) => {
                self.reads.push((confirmed.index, id, key, deadline));
            }
            (PendingQuery::Get { .. }, Err(DuckReason::NotLeader { leader })) => {
                self.respond(id, Err(RequestError::NotLeader { leader }))
            }
            (PendingQuery::Get { .. }, Err(reason)) => {
                self.respond(id, Err(RequestError::Unconfirmed(reason)))
            }
        }
    }

    fn answer_reads_now_applied(&mut self) {
        let applied = self.kv.applied_index();
        let mut i = 0;
        while i < self.reads.len() {
            if self.reads[i].0 <= applied {
                let (_, id, key, _) = self.reads.swap_remove(i);
                let value = self.kv.get(&key).cloned();
                self.respond(id, Ok(Reply::Kv(Output::Value(value))));
            } else {
                i += 1;
            }
        }
    }

    /// A transfer succeeded once we follow the target in a newer term.
    fn check_transfer(&mut self) {
        let Some(t) = &self.transfer else {
            return;
        };
        if self.raft.term() > t.from_term && self.raft.leader() == Some(t.to) {
            let (id, to, term) = (t.id, t.to, self.raft.term());
            self.transfer = None;
            self.respond(id, Ok(Reply::Transferred { to, term }));
        }
    }

    fn expire_requests(&mut self) {
        let now = self.raft.now();
        let expired_entries: Vec<Index> = self
            .entries
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(&i, _)| i)
            .collect();
        for index in expired_entries {
            if let Some(p) = self.entries.remove(&index) {
                self.respond(p.id, Err(RequestError::Timeout));
            }
        }
        let expired_queries: Vec<RequestId> = self
            .queries
            .iter()
            .filter(|(_, q)| matches!(q, PendingQuery::Get { deadline, .. } if *deadline <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in expired_queries {
            self.queries.remove(&id);
            self.respond(id, Err(RequestError::Unconfirmed(DuckReason::Unconfirmed)));
        }
        let mut i = 0;
        while i < self.reads.len() {
            if self.reads[i].3 <= now {
                let (_, id, _, _) = self.reads.swap_remove(i);
                self.respond(id, Err(RequestError::Unconfirmed(DuckReason::Unconfirmed)));
            } else {
                i += 1;
            }
        }
        if self.transfer.as_ref().is_some_and(|t| t.deadline <= now) {
            let t = self.transfer.take().expect("checked above");
            self.respond(t.id, Err(RequestError::Timeout));
        }
    }
}
