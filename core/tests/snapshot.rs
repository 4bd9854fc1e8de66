//! Log compaction and InstallSnapshot through `Replica`, with a driver that persists
//! what `Ready` says (hard state, snapshot, log writes) the way a real one must.

use duckgoose_core::message::Malformed;
use duckgoose_core::{
    Body, Config, Event, Index, Kv, Member, Membership, Message, NodeId, Op, Persisted, Replica,
    Request, Snapshot,
};

struct Cluster {
    nodes: Vec<Replica>,
    disks: Vec<Persisted>,
    /// Messages to and from this node are dropped.
    isolated: Option<NodeId>,
    now: u64,
    events: Vec<(NodeId, Event)>,
}

fn config(id: NodeId) -> Config {
    let mut config = Config::new(id, 7 * id);
    // Small chunks, so even a small store's snapshot takes several.
    config.max_snapshot_chunk_bytes = 16;
    config
}

/// The driver's half of the `Ready` contract, on a disk that is a `Persisted`.
fn persist(disk: &mut Persisted, ready: &duckgoose_core::Ready) {
    if let Some(hs) = &ready.hard_state {
        disk.term = hs.term;
        disk.voted_for = hs.voted_for;
    }
    if let Some(snapshot) = &ready.snapshot {
        disk.log.retain(|e| e.index > snapshot.index);
        disk.snapshot = Some(snapshot.clone());
    }
    if let Some(write) = &ready.log_write {
        disk.log.retain(|e| e.index < write.truncate_from);
        disk.log.extend(write.entries.iter().cloned());
    }
}

impl Cluster {
    fn new(n: u64) -> Self {
        let members = Membership::from_ids(1..=n);
        let disks: Vec<Persisted> = (1..=n)
            .map(|_| Persisted::bootstrap(members.clone()))
            .collect();
        let nodes = (1..=n)
            .map(|id| Replica::new(config(id), disks[id as usize - 1].clone(), 0, 10_000).unwrap())
            .collect();
        Cluster {
            nodes,
            disks,
            isolated: None,
            now: 0,
            events: Vec::new(),
        }
    }

    fn node(&mut self, id: NodeId) -> &mut Replica {
        &mut self.nodes[id as usize - 1]
    }

    fn deliver(&mut self, msg: Message) {
        if self.isolated.is_some_and(|i| i == msg.from || i == msg.to) {
            return;
        }
        if let Some(node) = self.nodes.get_mut(msg.to as usize - 1) {
            node.step(msg);
        }
    }

    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut mail = Vec::new();
            for (i, node) in self.nodes.iter_mut().enumerate() {
                if !node.has_ready() {
                    continue;
                }
                let ready = node.ready();
                persist(&mut self.disks[i], &ready);
                self.events
                    .extend(ready.events.iter().map(|e| (i as NodeId + 1, e.clone())));
                mail.extend(node.advance(ready).messages);
            }
            if mail.is_empty() {
                return;
            }
            for msg in mail {
                self.deliver(msg);
            }
        }
        panic!("the cluster never settled");
    }

    /// Advances time by `ms` in heartbeat-sized steps, settling after each.
    fn run(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 10;
            let now = self.now;
            for node in &mut self.nodes {
                node.tick(now);
            }
            self.settle();
        }
    }

    fn leader(&self) -> NodeId {
        self.nodes
            .iter()
            .find(|n| n.raft().is_leader())
            .map(|n| n.raft().id())
            .expect("a leader")
    }

    fn put(&mut self, k: usize) {
        let leader = self.leader();
        let op = Op::Put {
            key: format!("k{k}"),
            value: format!("v{k}"),
        };
        self.node(leader).request(k as u64, Request::Kv(op));
        self.settle();
    }
}

fn lagging_follower_catches_up() -> (Cluster, NodeId, NodeId) {
    let mut c = Cluster::new(3);
    c.run(1000);
    let leader = c.leader();
    let behind = if leader == 3 { 2 } else { 3 };
    c.isolated = Some(behind);
    for k in 0..40 {
        c.put(k);
    }
    let through = c.node(leader).compact().expect("applied entries compact");
    assert!(through >= 40, "compacted through {through}");
    assert_eq!(c.node(leader).raft().log().first_index(), through + 1);
    // A write after the compaction: the follower needs the snapshot and then this entry.
    c.put(100);
    c.isolated = None;
    c.run(500);
    (c, leader, behind)
}

#[test]
fn a_follower_behind_the_compacted_prefix_catches_up_by_snapshot() {
    let (mut c, leader, behind) = lagging_follower_catches_up();
    assert!(
        c.events
            .iter()
            .any(|(n, e)| *n == behind && matches!(e, Event::SnapshotInstalled { .. })),
        "the follower installed a snapshot"
    );
    let want = c.node(leader).kv().clone();
    assert_eq!(c.node(behind).kv(), &want, "same state as the leader");
    assert!(
        c.node(behind).kv().get("k100").is_some(),
        "and the entry after it"
    );
    let snapshot = c
        .node(behind)
        .raft()
        .snapshot()
        .cloned()
        .expect("installed");
    assert!(snapshot.data.len() > 16, "several chunks were needed");
    assert_eq!(
        c.disks[behind as usize - 1].snapshot.as_ref(),
        Some(&snapshot)
    );
    // Replication goes on normally afterwards.
    c.put(101);
    c.run(100);
    assert_eq!(
        c.node(behind).kv().get("k101").map(String::as_str),
        Some("v101")
    );
    assert_eq!(
        c.node(behind).raft().follower_progress(leader),
        None,
        "a follower tracks no progress"
    );
    let (matched, _) = c.node(leader).raft().follower_progress(behind).unwrap();
    assert_eq!(matched, c.node(leader).raft().log().last_index());
}

#[test]
fn a_node_restarts_from_its_snapshot_and_log_tail() {
    let (mut c, _, behind) = lagging_follower_catches_up();
    c.put(102);
    c.run(100);
    let disk = c.disks[behind as usize - 1].clone();
    let snapshot_index = disk.snapshot.as_ref().unwrap().index;
    assert!(disk.log.iter().all(|e| e.index > snapshot_index));
    assert!(!disk.log.is_empty(), "a log tail after the snapshot");
    let before = c.node(behind).kv().clone();
    let restarted = Replica::new(config(behind), disk, c.now, 10_000).unwrap();
    assert_eq!(restarted.raft().log().first_index(), snapshot_index + 1);
    assert_eq!(restarted.raft().commit_index(), snapshot_index);
    c.nodes[behind as usize - 1] = restarted;
    c.run(300);
    assert_eq!(
        c.node(behind).kv(),
        &before,
        "the tail is applied again after commit"
    );
}

#[test]
fn a_joiner_with_no_log_gets_the_snapshot() {
    let mut c = Cluster::new(3);
    c.run(1000);
    let leader = c.leader();
    for k in 0..10 {
        c.put(k);
    }
    c.node(leader).compact().unwrap();
    c.disks.push(Persisted::empty());
    c.nodes
        .push(Replica::new(config(4), Persisted::empty(), c.now, 10_000).unwrap());
    c.node(leader)
        .request(500, Request::AddMember(Member::new(4, "")));
    c.run(500);
    let want = c.node(leader).kv().clone();
    assert_eq!(c.node(4).kv(), &want);
    assert!(c.node(4).raft().membership().contains(4));
}

fn install(index: Index, offset: u64, data: Vec<u8>, done: bool, membership: Membership) -> Body {
    Body::InstallSnapshot {
        index,
        snapshot_term: 1,
        membership,
        offset,
        data,
        done,
        round: 1,
    }
}

fn follower() -> Replica {
    let persisted = Persisted::bootstrap(Membership::from_ids([1, 2, 3]));
    Replica::new(config(2), persisted, 0, 10_000).unwrap()
}

fn send(node: &mut Replica, term: u64, body: Body) -> (Vec<Event>, Vec<Message>) {
    node.step(Message {
        from: 1,
        to: 2,
        term,
        body,
    });
    let ready = node.ready();
    let events = ready.events.clone();
    (events, node.advance(ready).messages)
}

fn refusal(events: &[Event]) -> Option<Malformed> {
    events.iter().find_map(|e| match e {
        Event::MessageRefused { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn malformed_and_inconsistent_snapshots_are_refused_with_a_reason() {
    let members = Membership::from_ids([1, 2, 3]);
    // Bad bytes.
    let mut node = follower();
    let (events, _) = send(
        &mut node,
        1,
        install(5, 0, b"junk".to_vec(), true, members.clone()),
    );
    assert_eq!(refusal(&events), Some(Malformed::SnapshotStateInvalid));
    assert_eq!(node.raft().log().first_index(), 1, "nothing installed");
    // A good encoding of the state of another index.
    let other = Kv::default().encode();
    let (events, _) = send(&mut node, 1, install(5, 0, other, true, members.clone()));
    assert_eq!(refusal(&events), Some(Malformed::SnapshotStateInvalid));
    // Empty membership, index 0.
    let (events, _) = send(&mut node, 1, install(5, 0, vec![], true, Membership::EMPTY));
    assert_eq!(refusal(&events), Some(Malformed::EmptySnapshot));
    let (events, _) = send(&mut node, 1, install(0, 0, vec![], true, members.clone()));
    assert_eq!(
        refusal(&events),
        Some(Malformed::ImpossibleLogPosition),
        "index 0 has term 0"
    );
    // A chunk offset past what we hold.
    let (events, _) = send(
        &mut node,
        1,
        install(5, 0, vec![1, 2], false, members.clone()),
    );
    assert_eq!(refusal(&events), None);
    let (events, out) = send(&mut node, 1, install(5, 9, vec![3], false, members.clone()));
    assert_eq!(refusal(&events), Some(Malformed::SnapshotChunkGap));
    assert!(matches!(
        out[..],
        [Message {
            body: Body::SnapshotAck { next_offset: 2, .. },
            ..
        }]
    ));
    // An overflowing chunk end.
    let (events, _) = send(&mut node, 1, install(5, u64::MAX, vec![3], false, members));
    assert_eq!(refusal(&events), Some(Malformed::SnapshotTooLarge));
}

#[test]
fn a_stale_snapshot_is_refused_and_a_current_one_installs_in_order() {
    let members = Membership::from_ids([1, 2, 3]);
    let mut node = follower();
    // Term 3 from the leader first.
    let _ = send(
        &mut node,
        3,
        Body::Append {
            prev_index: 1,
            prev_term: 0,
            entries: vec![],
            commit: 1,
            round: 1,
        },
    );
    let mut kv = Kv::default();
    let entries: Vec<_> = (1..=5)
        .map(|i| duckgoose_core::Entry {
            index: i,
            term: 1,
            command: duckgoose_core::Command::App(Op::Put {
                key: format!("k{i}"),
                value: "v".into(),
            }),
        })
        .collect();
    for e in &entries {
        kv.apply(e);
    }
    let data = kv.encode();
    // A stale leader (term 2): refused, answered with our term.
    let (_, out) = send(
        &mut node,
        2,
        install(5, 0, data.clone(), true, members.clone()),
    );
    assert!(matches!(
        out[..],
        [Message {
            term: 3,
            body: Body::SnapshotAck { .. },
            ..
        }]
    ));
    assert_eq!(node.raft().log().first_index(), 1);
    // The current leader, in two chunks: installed, and the reply accepts index 5.
    let (head, tail) = data.split_at(10);
    let (_, out) = send(
        &mut node,
        3,
        install(5, 0, head.to_vec(), false, members.clone()),
    );
    assert!(matches!(
        out[..],
        [Message {
            body: Body::SnapshotAck {
                next_offset: 10,
                ..
            },
            ..
        }]
    ));
    // A repeated first-chunk-continuation is a duplicate: no refusal, same ack.
    let (events, out) = send(
        &mut node,
        3,
        install(5, 0, head.to_vec(), false, members.clone()),
    );
    assert_eq!(refusal(&events), None);
    assert!(matches!(
        out[..],
        [Message {
            body: Body::SnapshotAck {
                next_offset: 10,
                ..
            },
            ..
        }]
    ));
    let (events, out) = send(&mut node, 3, install(5, 10, tail.to_vec(), true, members));
    assert!(events.contains(&Event::SnapshotInstalled { index: 5, term: 1 }));
    assert!(matches!(
        out[..],
        [Message {
            body: Body::AppendReply {
                result: duckgoose_core::AppendResult::Accepted { match_index: 5 },
                ..
            },
            ..
        }]
    ));
    assert_eq!(node.kv(), &kv);
    assert_eq!(node.raft().commit_index(), 5);
    assert_eq!(
        node.raft().snapshot().map(|s: &Snapshot| (s.index, s.term)),
        Some((5, 1))
    );
    assert_eq!(
        node.raft().log().last_index(),
        5,
        "the conflicting log was dropped"
    );
}

/// No correct peer sends a leader a snapshot (or a TimeoutNow) of the leader's own term:
/// only a forgery or a bug does. The leader refuses the snapshot with a reason, ignores
/// the TimeoutNow, and keeps leading the same term with the same log.
#[test]
fn a_leader_refuses_a_snapshot_or_timeout_now_of_its_own_term() {
    let mut c = Cluster::new(3);
    c.run(1000);
    let leader = c.leader();
    let other = if leader == 1 { 2 } else { 1 };
    let term = c.node(leader).raft().term();
    let last = c.node(leader).raft().log().last_index();
    let members = Membership::from_ids([1, 2, 3]);
    let forged = |body| Message {
        from: other,
        to: leader,
        term,
        body,
    };

    let state = Kv::default().encode();
    c.node(leader)
        .step(forged(install(last + 5, 0, state, true, members)));
    let ready = c.node(leader).ready();
    assert_eq!(refusal(&ready.events), Some(Malformed::SnapshotToLeader));
    assert!(ready.snapshot.is_none(), "nothing to persist");
    let _ = c.node(leader).advance(ready);

    c.node(leader).step(forged(Body::TimeoutNow));
    let ready = c.node(leader).ready();
    assert!(ready.hard_state.is_none(), "no new term, no vote");
    let _ = c.node(leader).advance(ready);

    let raft = c.node(leader).raft();
    assert!(raft.is_leader());
    assert_eq!(raft.term(), term);
    assert_eq!(raft.log().first_index(), 1, "no snapshot installed");
    assert_eq!(raft.log().last_index(), last);
}

fn put_entries(range: std::ops::RangeInclusive<Index>, term: u64) -> Vec<duckgoose_core::Entry> {
    range
        .map(|i| duckgoose_core::Entry {
            index: i,
            term,
            command: duckgoose_core::Command::App(Op::Put {
                key: format!("k{i}"),
                value: "v".into(),
            }),
        })
        .collect()
}

/// The encoded store after applying entries 1 to `through` of `put_entries`.
fn state_through(through: Index, term: u64) -> Vec<u8> {
    let mut kv = Kv::default();
    for e in put_entries(1..=through, term) {
        kv.apply(&e);
    }
    kv.encode()
}

fn append(prev: (Index, u64), entries: Vec<duckgoose_core::Entry>) -> Body {
    Body::Append {
        prev_index: prev.0,
        prev_term: prev.1,
        entries,
        commit: 1,
        round: 1,
    }
}

fn truncations(events: &[Event]) -> Vec<Index> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::LogTruncated { from } => Some(*from),
            _ => None,
        })
        .collect()
}

/// A snapshot whose last entry conflicts with ours replaces our log: what we held after
/// its index is reported truncated, and nothing is when our log ended at the index.
#[test]
fn a_conflicting_snapshot_reports_only_entries_after_it_as_truncated() {
    let members = Membership::from_ids([1, 2, 3]);
    for (last, want) in [(5, vec![]), (7, vec![6])] {
        let mut node = follower();
        let _ = send(&mut node, 1, append((1, 0), put_entries(2..=last, 1)));
        // Term 2's leader: its entry 5 is of term 2, ours of term 1.
        let mut chunk = install(5, 0, state_through(5, 1), true, members.clone());
        if let Body::InstallSnapshot { snapshot_term, .. } = &mut chunk {
            *snapshot_term = 2;
        }
        node.step(Message {
            from: 1,
            to: 2,
            term: 2,
            body: chunk,
        });
        let ready = node.ready();
        assert_eq!(refusal(&ready.events), None);
        assert_eq!(truncations(&ready.events), want, "log through {last}");
        assert!(
            ready
                .events
                .iter()
                .any(|e| matches!(e, Event::MembershipChanged { index: 5, .. })),
            "the membership now comes from the snapshot: {:?}",
            ready.events
        );
        // The driver drops whatever it holds after the snapshot.
        let write = ready
            .log_write
            .as_ref()
            .map(|w| (w.truncate_from, w.entries.len()));
        assert_eq!(write, Some((6, 0)), "log through {last}");
        let _ = node.advance(ready);
        assert_eq!(node.raft().log().last_index(), 5);
    }
}

/// A snapshot that matches our log keeps the entries after it; if they arrived in the
/// same batch and are not yet written, the write that follows starts after the snapshot.
#[test]
fn entries_kept_after_a_snapshot_are_written_after_it() {
    let members = Membership::from_ids([1, 2, 3]);
    let mut node = follower();
    let step = |node: &mut Replica, body| {
        node.step(Message {
            from: 1,
            to: 2,
            term: 1,
            body,
        })
    };
    step(&mut node, append((1, 0), put_entries(2..=7, 1)));
    step(
        &mut node,
        install(5, 0, state_through(5, 1), true, members.clone()),
    );
    let ready = node.ready();
    assert_eq!(ready.snapshot.as_ref().map(|s| s.index), Some(5));
    let write = ready.log_write.as_ref().expect("entries 6 and 7 to write");
    assert_eq!(write.truncate_from, 6);
    let written: Vec<Index> = write.entries.iter().map(|e| e.index).collect();
    assert_eq!(written, vec![6, 7]);
    let _ = node.advance(ready);
}

/// A snapshot being received may hold up to `MAX_SNAPSHOT_BYTES` and no more. (The
/// chunks are zeroed allocations the node moves or grows without touching, so this costs
/// address space, not memory.)
#[test]
fn a_snapshot_past_the_size_cap_is_refused() {
    let members = Membership::from_ids([1, 2, 3]);
    let mut node = follower();
    let cap = usize::try_from(duckgoose_core::MAX_SNAPSHOT_BYTES).expect("64-bit");
    let (events, _) = send(
        &mut node,
        1,
        install(5, 0, vec![0; cap], false, members.clone()),
    );
    assert_eq!(refusal(&events), None, "exactly the cap is allowed");
    let (events, _) = send(
        &mut node,
        1,
        install(5, cap as u64, vec![0], false, members),
    );
    assert_eq!(refusal(&events), Some(Malformed::SnapshotTooLarge));
}
