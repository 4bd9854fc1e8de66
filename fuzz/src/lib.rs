//! Shared by the fuzz targets: a few `Replica`s driven by hand, with every node-local
//! invariant checked after each `ready()` from the outside (the core also asserts its
//! own in debug builds, which fuzz builds are):
//!
//! - the term never decreases, not even across a restart; one vote per term;
//! - what the driver is told to persist, applied to a model disk, is exactly the node's
//!   term, vote and log (so a restart recovers what the node believed);
//! - a log write never drops an entry the node already applied; snapshots only move
//!   forward, and the disk holds the snapshot plus exactly the entries after it;
//! - an installed snapshot is restored before anything after it is applied;
//! - commit index never passes the log's end nor moves back (within one life);
//! - the log holds no term newer than the node's;
//! - a leader voted for itself and leads; its view of every follower is sane
//!   (match < next <= last + 1); a candidate voted for itself; nobody else leads;
//! - applied entries come in order, once, and are the log's entries;
//! - every response answers a pending request, once;
//! - messages come from the node and never go to itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use duckgoose_core::{
    Config, Entry, Membership, Message, Millis, NodeId, Persisted, Replica, Request, RequestId,
    Role, Term,
};

pub struct Node {
    pub id: NodeId,
    pub replica: Option<Replica>,
    /// What a real driver would have on disk.
    pub disk: Persisted,
    incarnation: u64,
    /// Highest commit index seen in this life.
    commit: u64,
    /// Entries applied in this life (the store starts empty at each start).
    applied: u64,
    pending: BTreeSet<RequestId>,
    /// Vote cast in each term, as persisted.
    votes: BTreeMap<Term, NodeId>,
}

pub struct Harness {
    pub nodes: BTreeMap<NodeId, Node>,
    pub now: Millis,
    /// Messages sent and not yet delivered or dropped.
    pub network: VecDeque<Message>,
    next_request: RequestId,
    pre_vote: bool,
    check_quorum: bool,
}

const NETWORK_LIMIT: usize = 512;

impl Harness {
    /// Founders `ids` (membership `ids`), plus `joiners` that start empty.
    pub fn new(ids: &[NodeId], joiners: &[NodeId], pre_vote: bool, check_quorum: bool) -> Self {
        let membership = Membership::from_ids(ids.iter().copied());
        let mut h = Harness {
            nodes: BTreeMap::new(),
            now: 0,
            network: VecDeque::new(),
            next_request: 1,
            pre_vote,
            check_quorum,
        };
        for &id in ids {
            h.add(id, Persisted::bootstrap(membership.clone()));
        }
        for &id in joiners {
            h.add(id, Persisted::empty());
        }
        h
    }

    fn add(&mut self, id: NodeId, disk: Persisted) {
        let mut node = Node {
            id,
            replica: None,
            disk,
            incarnation: 0,
            commit: 0,
            applied: 0,
            pending: BTreeSet::new(),
            votes: BTreeMap::new(),
        };
        if let Some(v) = node.disk.voted_for {
            node.votes.insert(node.disk.term, v);
        }
        self.nodes.insert(id, node);
        self.restart(id);
    }

    fn config(&self, id: NodeId, incarnation: u64) -> Config {
        let mut c = Config::new(id, id.wrapping_mul(7919) ^ (incarnation << 32));
        c.heartbeat_interval = 10;
        c.election_timeout_min = 30;
        c.election_timeout_max = 60;
        // The short lease a node runs with (15 ms), the same on every node, as it must be.
        c.goose_lease = c.fast_failover_lease();
        c.max_entries_per_message = 4;
        c.pre_vote = self.pre_vote;
        c.check_quorum = self.check_quorum;
        c
    }

    /// Crash (losing everything volatile) and start again from the disk.
    pub fn restart(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get(&id) else {
            return;
        };
        let config = self.config(id, node.incarnation + 1);
        let now = self.now;
        let node = self.nodes.get_mut(&id).expect("checked");
        node.incarnation += 1;
        node.commit = 0;
        // The store starts from the snapshot on disk.
        node.applied = node.disk.snapshot.as_ref().map_or(0, |s| s.index);
        node.pending.clear();
        let replica =
            Replica::new(config, node.disk.clone(), now, 200).expect("valid configuration");
        node.replica = Some(replica);
        self.flush(id);
    }

    /// The driver compacts node `id`'s log through what it applied (refusals are fine:
    /// nothing new applied, an install not yet restored).
    pub fn compact(&mut self, id: NodeId) {
        if let Some(r) = self.replica(id) {
            let _ = r.compact();
        }
        self.flush(id);
    }

    pub fn crash(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.replica = None;
        }
    }

    pub fn tick(&mut self, id: NodeId, advance: Millis) {
        self.now += advance;
        let now = self.now;
        if let Some(r) = self.replica(id) {
            r.tick(now);
        }
        self.flush(id);
    }

    pub fn deliver(&mut self, msg: Message) {
        let to = msg.to;
        if let Some(r) = self.replica(to) {
            r.step(msg);
            self.flush(to);
        }
    }

    pub fn request(&mut self, id: NodeId, request: Request) {
        let rid = self.next_request;
        self.next_request += 1;
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        let Some(r) = node.replica.as_mut() else {
            return;
        };
        node.pending.insert(rid);
        r.request(rid, request);
        self.flush(id);
    }

    fn replica(&mut self, id: NodeId) -> Option<&mut Replica> {
        self.nodes.get_mut(&id)?.replica.as_mut()
    }

    /// `ready()`, persisted to the model disk, acknowledged, messages queued, every
    /// invariant checked; again until the node has nothing queued (an acknowledgement
    /// can commit).
    pub fn flush(&mut self, id: NodeId) {
        while self.flush_once(id) {}
    }

    /// One `ready()`/`advance()`; returns whether more is queued.
    fn flush_once(&mut self, id: NodeId) -> bool {
        let Some(node) = self.nodes.get_mut(&id) else {
            return false;
        };
        let Some(replica) = node.replica.as_mut() else {
            return false;
        };
        let ready = replica.ready();
        let raft = replica.raft();

        // Persist, checking the writes themselves.
        if let Some(hs) = ready.hard_state {
            assert!(
                hs.term >= node.disk.term,
                "node {id}: persisted term goes back {} -> {}",
                node.disk.term,
                hs.term
            );
            if let Some(v) = hs.voted_for
                && let Some(&earlier) = node.votes.get(&hs.term)
            {
                assert_eq!(earlier, v, "node {id}: two votes in term {}", hs.term);
            }
            if let Some(v) = hs.voted_for {
                node.votes.insert(hs.term, v);
            }
            node.disk.term = hs.term;
            node.disk.voted_for = hs.voted_for;
        }
        // The snapshot first: the log write that may come with it lies after it.
        if let Some(snapshot) = &ready.snapshot {
            let before = node.disk.snapshot.as_ref().map_or(0, |s| s.index);
            assert!(
                snapshot.index > before,
                "node {id}: snapshot goes back {before} -> {}",
                snapshot.index
            );
            node.disk.log.retain(|e| e.index > snapshot.index);
            node.disk.snapshot = Some(snapshot.clone());
        }
        let base = node.disk.snapshot.as_ref().map_or(0, |s| s.index);
        if let Some(first) = node.disk.log.first() {
            assert_eq!(first.index, base + 1, "node {id}: gap after the snapshot");
        }
        if let Some(lw) = &ready.log_write {
            let len = node.disk.log.len() as u64;
            assert!(
                lw.truncate_from > base && lw.truncate_from <= base + len + 1,
                "node {id}: log write at {} on a log of {len} after snapshot {base}",
                lw.truncate_from
            );
            assert!(
                lw.truncate_from > node.applied,
                "node {id}: log write from {} drops applied entry (applied {})",
                lw.truncate_from,
                node.applied
            );
            for (i, e) in lw.entries.iter().enumerate() {
                assert_eq!(e.index, lw.truncate_from + i as u64, "node {id}: gap");
            }
            node.disk
                .log
                .truncate((lw.truncate_from - base - 1) as usize);
            node.disk.log.extend(lw.entries.iter().cloned());
        }
        assert_eq!(node.disk.term, raft.term(), "node {id}: term not persisted");
        assert_eq!(
            node.disk.voted_for,
            raft.voted_for(),
            "node {id}: vote not persisted"
        );
        assert!(
            node.disk.log.as_slice() == raft.log().entries(),
            "node {id}: persisted log differs from the log"
        );

        // Durable: only now may anything that depends on the write leave the node.
        let out = replica.advance(ready);
        let raft = replica.raft();

        // Volatile state.
        let last = raft.log().last_index();
        let commit = raft.commit_index();
        assert!(
            commit <= last,
            "node {id}: commit {commit} past last {last}"
        );
        assert!(commit >= node.commit, "node {id}: commit went back");
        node.commit = commit;
        assert!(
            raft.log().last_term() <= raft.term(),
            "node {id}: log term above the node's"
        );
        match raft.role() {
            Role::Leader => {
                assert_eq!(
                    raft.voted_for(),
                    Some(id),
                    "node {id}: leader without self-vote"
                );
                assert_eq!(raft.leader(), Some(id));
                for peer in raft.membership().ids().filter(|&p| p != id) {
                    if let Some((m, n)) = raft.follower_progress(peer) {
                        assert!(
                            m < n && n <= last + 1,
                            "node {id}: progress of {peer}: {m}/{n}"
                        );
                    }
                }
            }
            Role::Candidate => {
                assert_eq!(
                    raft.voted_for(),
                    Some(id),
                    "node {id}: candidate without self-vote"
                )
            }
            Role::Follower | Role::PreCandidate => {
                assert_ne!(
                    raft.leader(),
                    Some(id),
                    "node {id}: leads without being leader"
                )
            }
        }

        // An installed snapshot replaces the store, then entries follow it.
        if let Some(installed) = &out.installed {
            assert!(
                installed.index > node.applied,
                "node {id}: installed snapshot {} is not news (applied {})",
                installed.index,
                node.applied
            );
            assert_eq!(
                node.disk.snapshot.as_ref(),
                Some(installed),
                "node {id}: restored a snapshot that is not on disk"
            );
            node.applied = installed.index;
        }
        // Applied entries: in order, once, from the log, never past the commit index.
        for e in &out.applied {
            assert_eq!(e.index, node.applied + 1, "node {id}: applied out of order");
            node.applied = e.index;
            let logged: Option<&Entry> = node.disk.log.iter().find(|l| l.index == e.index);
            assert_eq!(
                logged,
                Some(e),
                "node {id}: applied an entry not in the log"
            );
        }
        assert!(node.applied <= commit, "node {id}: applied past commit");
        assert_eq!(replica.kv().applied_index(), node.applied);

        for r in &out.responses {
            assert!(
                node.pending.remove(&r.id),
                "node {id}: answer to unknown or already answered request {}",
                r.id
            );
        }
        for m in out.messages {
            assert_eq!(m.from, id, "node {id}: sends as {}", m.from);
            assert_ne!(m.to, id, "node {id}: messages itself");
            if self.network.len() == NETWORK_LIMIT {
                self.network.pop_front();
            }
            self.network.push_back(m);
        }
        replica.has_ready()
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }
}
