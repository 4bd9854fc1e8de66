//! What a driver can read of a node mid-protocol, which the playground draws: the votes a
//! (pre-)candidate has collected, and whom a leader is handing leadership to. Messages are
//! delivered one round at a time so the states in between can be looked at.

use duckgoose_core::{Config, Membership, Message, Persisted, Raft, Role};

fn cluster() -> Vec<Raft> {
    let members = Membership::from_ids([1, 2, 3]);
    (1..=3)
        .map(|id| {
            Raft::new(
                Config::new(id, id),
                Persisted::bootstrap(members.clone()),
                0,
            )
            .expect("valid config")
        })
        .collect()
}

/// Everything the nodes have to say now (every write durable at once), not yet delivered.
fn drain(nodes: &mut [Raft]) -> Vec<Message> {
    let mut mail = Vec::new();
    for node in nodes.iter_mut() {
        let ready = node.ready();
        mail.extend(node.advance(ready).messages);
    }
    mail
}

fn deliver(nodes: &mut [Raft], mail: Vec<Message>) {
    for msg in mail {
        nodes[msg.to as usize - 1].step(msg);
    }
}

fn settle(nodes: &mut [Raft]) {
    loop {
        let mail = drain(nodes);
        if mail.is_empty() {
            return;
        }
        deliver(nodes, mail);
    }
}

#[test]
fn a_candidate_shows_its_votes_and_a_leader_its_transfer() {
    let mut nodes = cluster();
    let (first, deadline) = (0..nodes.len())
        .map(|i| (i, nodes[i].election_timer().expect("a follower").1))
        .min_by_key(|&(_, deadline)| deadline)
        .expect("three nodes");
    let me = nodes[first].id();
    for node in &mut nodes {
        node.tick(deadline);
    }

    // Its own vote first, then each round of replies adds theirs, until it leads.
    let mut seen_campaigning = false;
    while !nodes[first].is_leader() {
        let role = nodes[first].role();
        let votes = nodes[first].votes();
        assert!(
            matches!(role, Role::PreCandidate | Role::Candidate),
            "campaigning, not {role:?}"
        );
        let votes = votes.expect("a (pre-)candidate shows its votes");
        assert_eq!(votes.get(&me), Some(&true), "its own vote counts");
        seen_campaigning = true;
        for (i, node) in nodes.iter().enumerate() {
            if i != first {
                assert_eq!(node.votes(), None, "a follower has no votes to show");
            }
        }
        let mail = drain(&mut nodes);
        assert!(
            !mail.is_empty(),
            "an election in progress has messages in flight"
        );
        deliver(&mut nodes, mail);
    }
    assert!(seen_campaigning);
    assert_eq!(nodes[first].votes(), None, "a leader shows no votes");
    assert_eq!(nodes[first].transferring_to(), None);
    settle(&mut nodes);

    // A transfer: the leader shows its target until the target has taken over.
    let to = nodes[(first + 1) % 3].id();
    nodes[first]
        .transfer_leadership(to)
        .expect("a caught-up follower");
    assert_eq!(nodes[first].transferring_to(), Some(to));
    for (i, node) in nodes.iter().enumerate() {
        if i != first {
            assert_eq!(node.transferring_to(), None, "only a leader transfers");
        }
    }
    settle(&mut nodes);
    let target = &nodes[to as usize - 1];
    assert!(target.is_leader(), "{to} took over");
    assert_eq!(target.transferring_to(), None);
    assert_eq!(nodes[first].transferring_to(), None, "no longer leading");
}
