//! Helpers for scenario tests that drive bare `Raft` nodes by hand, in the style of
//! etcd's `raft_paper_test.go`: build a node in a known state, feed it exact messages,
//! look at exactly what it says back.

use duckgoose_core::{
    Body, Command, Config, Entry, Event, HardState, Index, LogWrite, Membership, Message, NodeId,
    Op, Persisted, Raft, ReadOutcome, Role, Term,
};

pub mod nemesis;
pub mod sim_speed;
pub mod sweep;

/// The paper's timings: heartbeat 50 ms, election timeout 150–300 ms.
pub fn config(id: NodeId) -> Config {
    Config::new(id, 0xD0C + id)
}

/// A founding member of a cluster of `ids`.
pub fn founder(id: NodeId, ids: &[NodeId]) -> Raft {
    founder_with(config(id), ids)
}

pub fn founder_with(config: Config, ids: &[NodeId]) -> Raft {
    let membership = Membership::from_ids(ids.iter().copied());
    Raft::new(config, Persisted::bootstrap(membership), 0).expect("valid config")
}

/// A node of cluster `ids` restarted from a given term, vote and log (after the bootstrap
/// entry). `terms` lists the terms of entries 2, 3, ...: the shape of the paper's figures.
pub fn with_log(id: NodeId, ids: &[NodeId], term: Term, terms: &[Term]) -> Raft {
    with_log_config(config(id), ids, term, terms)
}

pub fn with_log_config(config: Config, ids: &[NodeId], term: Term, terms: &[Term]) -> Raft {
    let membership = Membership::from_ids(ids.iter().copied());
    let mut persisted = Persisted::bootstrap(membership);
    persisted.term = term;
    for (i, &t) in terms.iter().enumerate() {
        persisted.log.push(Entry {
            index: i as Index + 2,
            term: t,
            command: Command::App(Op::Put {
                key: format!("e{}", i + 2),
                value: format!("t{t}"),
            }),
        });
    }
    Raft::new(config, persisted, 0).expect("valid config")
}

/// Terms of a node's log entries after the bootstrap entry.
pub fn log_terms(raft: &Raft) -> Vec<Term> {
    raft.log()
        .entries()
        .iter()
        .skip(1)
        .map(|e| e.term)
        .collect()
}

/// Everything one `ready()` held and its `advance()` released, for tests that look at
/// a node's output as a whole.
#[derive(Debug, Default)]
pub struct Drained {
    pub hard_state: Option<HardState>,
    pub log_write: Option<LogWrite>,
    pub events: Vec<Event>,
    pub messages: Vec<Message>,
    pub committed: Vec<Entry>,
    pub reads: Vec<ReadOutcome>,
}

pub trait Drain {
    /// `ready()`, then `advance()` at once, as if the write were durable instantly.
    fn drain(&mut self) -> Drained;
}

impl Drain for Raft {
    fn drain(&mut self) -> Drained {
        let mut ready = self.ready();
        let (hard_state, log_write) = (ready.hard_state.take(), ready.log_write.take());
        let events = std::mem::take(&mut ready.events);
        let released = self.advance(ready);
        Drained {
            hard_state,
            log_write,
            events,
            messages: released.messages,
            committed: released.committed,
            reads: released.reads,
        }
    }
}

/// Drives `raft` through its election timeout; returns what it sent.
pub fn time_out(raft: &mut Raft) -> Drained {
    let (_, deadline) = raft.election_timer().expect("not a leader");
    raft.tick(deadline);
    raft.drain()
}

pub fn msg(from: NodeId, to: NodeId, term: Term, body: Body) -> Message {
    Message {
        from,
        to,
        term,
        body,
    }
}

pub fn append(
    from: NodeId,
    to: NodeId,
    term: Term,
    prev: (Index, Term),
    entries: Vec<Entry>,
    commit: Index,
) -> Message {
    msg(
        from,
        to,
        term,
        Body::Append {
            prev_index: prev.0,
            prev_term: prev.1,
            entries,
            commit,
            round: 0,
        },
    )
}

pub fn entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        command: Command::App(Op::Put {
            key: format!("e{index}"),
            value: format!("t{term}"),
        }),
    }
}

pub fn put(key: &str, value: &str) -> Command {
    Command::App(Op::Put {
        key: key.into(),
        value: value.into(),
    })
}

/// Makes a freshly started node the leader by timing it out and granting every vote.
pub fn elect(raft: &mut Raft) -> Drained {
    let peers: Vec<NodeId> = raft
        .membership()
        .ids()
        .filter(|&p| p != raft.id())
        .collect();
    let mut ready = time_out(raft);
    if raft.role() == Role::PreCandidate {
        let proposed = raft.term() + 1;
        for &p in &peers {
            raft.step(msg(
                p,
                raft.id(),
                proposed,
                Body::PreVoteReply { granted: true },
            ));
        }
        ready = raft.drain();
    }
    let term = raft.term();
    for &p in &peers {
        if raft.role() == Role::Leader {
            break;
        }
        raft.step(msg(p, raft.id(), term, Body::VoteReply { granted: true }));
    }
    let later = raft.drain();
    assert_eq!(raft.role(), Role::Leader, "granted every vote");
    ready.messages.extend(later.messages);
    ready.events.extend(later.events);
    ready.reads.extend(later.reads);
    ready.committed.extend(later.committed);
    ready
}

/// Messages of one kind in a batch.
pub fn of_kind<'a>(messages: &'a [Message], kind: &str) -> Vec<&'a Message> {
    messages.iter().filter(|m| m.kind() == kind).collect()
}
