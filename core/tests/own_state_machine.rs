//! The core embedded with an application of its own: the log carries a counter's
//! commands, not the key-value store's. The protocol never looks inside them, so a
//! three-node cluster elects a leader, replicates and commits them unchanged.

use duckgoose_core::{Command, Config, Membership, Message, Persisted, Raft};

#[derive(Clone, Debug, PartialEq)]
enum Counter {
    Add(i64),
    Reset,
}

struct Node {
    raft: Raft<Counter>,
    total: i64,
}

/// Drains every node's ready output and delivers its messages, until nothing moves.
fn settle(nodes: &mut [Node]) {
    loop {
        let mut mail: Vec<Message<Counter>> = Vec::new();
        for node in nodes.iter_mut() {
            // Nothing to persist to in this test: every write is "durable" at once.
            let ready = node.raft.ready();
            let ready = node.raft.advance(ready);
            for entry in ready.committed {
                match entry.command {
                    Command::App(Counter::Add(n)) => node.total += n,
                    Command::App(Counter::Reset) => node.total = 0,
                    Command::Noop | Command::Config(_) => {}
                }
            }
            mail.extend(ready.messages);
        }
        if mail.is_empty() && !nodes.iter().any(|n| n.raft.has_ready()) {
            return;
        }
        for msg in mail {
            nodes[msg.to as usize - 1].raft.step(msg);
        }
    }
}

#[test]
fn a_cluster_replicates_commands_it_cannot_read() {
    let members = Membership::from_ids([1, 2, 3]);
    let mut nodes: Vec<Node> = (1..=3)
        .map(|id| Node {
            raft: Raft::new(
                Config::new(id, id),
                Persisted::bootstrap(members.clone()),
                0,
            )
            .expect("valid config"),
            total: 0,
        })
        .collect();

    // Time reaches the earliest election deadline on every node's clock (so the others'
    // start-up vote lease is over): that node campaigns and wins; its no-op commits.
    let (first, deadline) = (0..nodes.len())
        .map(|i| (i, nodes[i].raft.election_timer().expect("a follower").1))
        .min_by_key(|&(_, deadline)| deadline)
        .expect("three nodes");
    for node in &mut nodes {
        node.raft.tick(deadline);
    }
    settle(&mut nodes);
    assert!(nodes[first].raft.is_leader());

    for command in [
        Counter::Add(5),
        Counter::Add(-2),
        Counter::Reset,
        Counter::Add(7),
    ] {
        nodes[first]
            .raft
            .propose(Command::App(command))
            .expect("the leader accepts");
    }
    settle(&mut nodes);
    // Heartbeats carry the leader's commit index to the followers.
    let now = nodes[first].raft.next_deadline();
    for node in &mut nodes {
        node.raft.tick(now);
    }
    settle(&mut nodes);

    for node in &nodes {
        assert_eq!(
            node.total,
            7,
            "node {} applied every command",
            node.raft.id()
        );
        let last = node.raft.log().last_index();
        assert_eq!(node.raft.commit_index(), last);
        assert_eq!(
            node.raft.log().get(last).map(|e| &e.command),
            Some(&Command::App(Counter::Add(7)))
        );
    }
    // What a failed assertion about a node prints: who it is and where it stands, not
    // its whole log.
    let leader = format!("{:?}", nodes[first].raft);
    let id = nodes[first].raft.id();
    assert!(leader.starts_with("Raft {"), "{leader}");
    for field in [
        format!("id: {id}"),
        "role: Leader".into(),
        "commit: ".into(),
    ] {
        assert!(leader.contains(&field), "{field} missing from {leader}");
    }
}
