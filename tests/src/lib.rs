//! Helpers for scenario tests that drive bare `Raft` nodes by hand, in the style of
//! etcd's `raft_paper_test.go`: build a node in a known state, feed it exact messages,
//! look at exactly what it says back.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use duckgoose_core::{
    Body, Command, Config, Entry, Event, HardState, Index, LogWrite, Membership, Message, Millis,
    NodeId, Op, Persisted, Raft, ReadOutcome, Role, Term,
};

pub mod nemesis;
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

/// A tiny synchronous network of bare `Raft` nodes: messages are delivered in order,
/// instantly, until none are left; time moves only when a test says so. Links can be cut.
pub struct Net {
    pub nodes: BTreeMap<NodeId, Raft>,
    pub now: Millis,
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Every read answer, by node.
    pub reads: Vec<(NodeId, ReadOutcome)>,
    /// Every message delivered, for tests that count traffic.
    pub delivered: Vec<Message>,
}

impl Net {
    pub fn new(ids: &[NodeId]) -> Net {
        Net::with_config(ids, config)
    }

    pub fn with_config(ids: &[NodeId], make: impl Fn(NodeId) -> Config) -> Net {
        let nodes = ids
            .iter()
            .map(|&id| (id, founder_with(make(id), ids)))
            .collect();
        Net {
            nodes,
            now: 0,
            cut: BTreeSet::new(),
            reads: Vec::new(),
            delivered: Vec::new(),
        }
    }

    pub fn node(&self, id: NodeId) -> &Raft {
        &self.nodes[&id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Raft {
        self.nodes.get_mut(&id).expect("known node")
    }

    pub fn isolate(&mut self, id: NodeId) {
        let others: Vec<NodeId> = self.nodes.keys().copied().filter(|&o| o != id).collect();
        for o in others {
            self.cut.insert((id, o));
            self.cut.insert((o, id));
        }
    }

    /// Cuts the network into the given groups.
    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        self.cut.clear();
        let group_of = |id: NodeId| groups.iter().position(|g| g.contains(&id));
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for &a in &ids {
            for &b in &ids {
                if a != b && group_of(a) != group_of(b) {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Delivers every pending message (and the replies they cause) at the current time.
    pub fn settle(&mut self) {
        let mut queue: VecDeque<Message> = VecDeque::new();
        loop {
            for (&id, raft) in self.nodes.iter_mut() {
                let ready = raft.drain();
                for r in ready.reads {
                    self.reads.push((id, r));
                }
                queue.extend(ready.messages);
            }
            let Some(m) = queue.pop_front() else {
                if self.nodes.values().any(|r| r.has_ready()) {
                    continue;
                }
                break;
            };
            if self.cut.contains(&(m.from, m.to)) {
                continue;
            }
            if let Some(raft) = self.nodes.get_mut(&m.to) {
                self.delivered.push(m.clone());
                raft.step(m);
            }
        }
    }

    /// Moves time forward to `now`, firing timers node by node in deadline order and
    /// settling the network after each.
    pub fn advance_to(&mut self, now: Millis) {
        loop {
            let next = self
                .nodes
                .iter()
                .map(|(&id, r)| (r.next_deadline(), id))
                .min()
                .filter(|&(t, _)| t <= now);
            let Some((t, id)) = next else {
                break;
            };
            self.now = self.now.max(t);
            let at = self.now;
            for r in self.nodes.values_mut() {
                r.tick(at);
            }
            let _ = id;
            self.settle();
        }
        self.now = now;
        for r in self.nodes.values_mut() {
            r.tick(now);
        }
        self.settle();
    }

    pub fn advance(&mut self, by: Millis) {
        let to = self.now + by;
        self.advance_to(to);
    }

    /// Runs until some node leads (and has committed its no-op), or panics after `limit`.
    pub fn elect_someone(&mut self, limit: Millis) -> NodeId {
        let deadline = self.now + limit;
        while self.now < deadline {
            self.advance(10);
            if let Some(id) = self.leader() {
                return id;
            }
        }
        panic!("no leader within {limit} ms");
    }

    /// The leader with the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter(|r| r.role() == Role::Leader)
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    /// Forces `id` to time out now and settles.
    pub fn campaign(&mut self, id: NodeId) {
        let (_, deadline) = self.node(id).election_timer().expect("not a leader");
        let now = self.now.max(deadline);
        self.node_mut(id).tick(now);
        self.now = now;
        for r in self.nodes.values_mut() {
            r.tick(now);
        }
        self.settle();
    }
}
