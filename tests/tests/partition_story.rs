//! The story the product exists for: five nodes, the goose cut off with one follower.
//! The old goose stops answering goose, never answers goose once the majority has a new
//! leader, the majority elects within a bound, and after healing there is exactly one goose.
//!
//! This keeps the 20 ms polling of the minority and its floors, which a script cannot
//! say; the story told step by step, and the crashed goose replaced, are in
//! `tests/testdata/partition_story.txt`.

use duckgoose_core::{Reply, Request};
use duckgoose_sim::{Action, Cluster, SimConfig, trace::TraceMode};

/// Asks `node` "goose?" and runs until it answers (answers always come within an
/// election timeout).
fn ask(cluster: &mut Cluster, node: u64) -> Option<Reply> {
    let id = cluster.request(node, Request::Goose);
    for _ in 0..100 {
        if let Some(done) = cluster.take_completed().into_iter().find(|c| c.id == id) {
            return done.result.and_then(|r| r.ok());
        }
        cluster.run_for(5);
    }
    panic!("node {node} did not answer within 500 ms");
}

#[test]
fn minority_goose_goes_quiet_and_majority_takes_over() {
    let mut cluster = Cluster::new(SimConfig::new(5, 7), TraceMode::Record);
    cluster.run_until(2_000);
    let old = cluster.goose().expect("a goose after two seconds");
    let old_term = cluster.replica(old).unwrap().raft().term();
    assert!(matches!(ask(&mut cluster, old), Some(Reply::Goose { term }) if term == old_term));

    let buddy = cluster.node_ids().find(|&id| id != old).unwrap();
    let majority: Vec<u64> = cluster
        .node_ids()
        .filter(|&id| id != old && id != buddy)
        .collect();
    cluster.apply(Action::Partition {
        groups: vec![vec![old, buddy], majority.clone()],
    });
    let cut_at = cluster.now();

    // Poll every node every 20 ms for three seconds.
    let mut new_leader_seen_at = None;
    let (mut polls, mut ducks_after_takeover) = (0, 0);
    while cluster.now() < cut_at + 3_000 {
        for node in [old, buddy] {
            polls += 1;
            match ask(&mut cluster, node) {
                Some(Reply::Goose { term }) => {
                    assert!(
                        new_leader_seen_at.is_none(),
                        "{node} answered goose after the majority moved on"
                    );
                    assert_eq!(term, old_term);
                }
                Some(Reply::Duck { .. }) if new_leader_seen_at.is_some() => {
                    ducks_after_takeover += 1
                }
                _ => {}
            }
        }
        if new_leader_seen_at.is_none()
            && let Some(leader) = cluster.leader().filter(|l| majority.contains(l))
        {
            new_leader_seen_at = Some(cluster.now());
            assert!(cluster.replica(leader).unwrap().raft().term() > old_term);
        }
        assert!(
            cluster
                .goose()
                .is_none_or(|g| g == old || majority.contains(&g))
        );
        cluster.run_for(20);
    }
    let elected = new_leader_seen_at.expect("the majority elected a leader");
    // The "never goose after the takeover" check above holds only if the minority was
    // asked, and answered, after the takeover. Floors: a third of what seed 7 measures
    // (274 polls, 250 duck answers after the takeover).
    assert!(polls >= 90, "only {polls} polls of the minority");
    assert!(
        ducks_after_takeover >= 80,
        "only {ducks_after_takeover} duck answers from the minority after the takeover"
    );
    assert!(
        elected - cut_at <= 1_000,
        "elected {} ms after the cut",
        elected - cut_at
    );
    let goose = cluster.goose().expect("the majority shows a goose");
    assert!(majority.contains(&goose));
    for node in [old, buddy] {
        assert!(
            matches!(ask(&mut cluster, node), Some(Reply::Duck { .. })),
            "{node} is a duck"
        );
    }

    cluster.apply(Action::Heal);
    cluster.run_for(2_000);
    let ids: Vec<u64> = cluster.node_ids().collect();
    let geese: Vec<u64> = ids
        .into_iter()
        .filter(|&id| matches!(ask(&mut cluster, id), Some(Reply::Goose { .. })))
        .collect();
    assert_eq!(geese.len(), 1, "exactly one goose after healing: {geese:?}");
    assert!(
        cluster.violations().is_empty(),
        "{:?}",
        cluster.violations()
    );
    cluster.check_linearizability().expect("linearizable");
}
