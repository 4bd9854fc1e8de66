//! Five real nodes on loopback: one goose; kill -9 it and another takes over within a
//! second; cut {goose, one other} off from the other three and both answer duck while the
//! majority has exactly one goose; heal, and PreVote keeps the term where it was.

use std::time::{Duration, Instant};

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

fn term_of(cluster: &Cluster, id: u64) -> u64 {
    cluster
        .status(id)
        .and_then(|s| s["term"].as_u64())
        .unwrap_or_else(|| panic!("status of {id}"))
}

#[test]
fn one_goose_failover_partition_and_heal() {
    let mut cluster = Cluster::start(BIN, "failover", 5, Opts::default());
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));

    // kill -9 the goose: another node answers /goose 200 within a second.
    cluster.kill9(goose);
    let killed_at = Instant::now();
    let rest: Vec<u64> = all.iter().copied().filter(|&id| id != goose).collect();
    let new_goose = wait_for("a new goose", Duration::from_secs(5), || {
        rest.iter().copied().find(|&id| {
            request(
                &cluster.addr(id),
                "GET",
                "/goose",
                &[],
                b"",
                Duration::from_millis(500),
            )
            .is_ok_and(|r| r.status == 200 && r.body == "goose")
        })
    });
    let failover = killed_at.elapsed();
    assert!(
        failover < Duration::from_secs(1),
        "failover took {failover:?}"
    );
    assert_eq!(
        cluster.wait_one_goose(&rest, Duration::from_secs(5)),
        new_goose
    );

    // The old goose comes back on its data dir as a duck.
    cluster.restart(goose);
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(10));
    assert_eq!(
        goose, new_goose,
        "a returning node must not disturb the goose"
    );

    // Partition {goose, one other} from the other three.
    let other = *rest.iter().find(|&&id| id != goose).expect("another node");
    let minority = [goose, other];
    let majority: Vec<u64> = all
        .iter()
        .copied()
        .filter(|id| !minority.contains(id))
        .collect();
    let term_before = term_of(&cluster, goose);
    cluster.partition(&minority, &majority).expect("partition");
    let cut_at = Instant::now();
    // Both minority nodes answer duck, the old goose within its CheckQuorum window
    // (a minimum election timeout, 150 ms, checked once per window).
    wait_for(
        "the minority to answer duck",
        Duration::from_secs(2),
        || {
            cluster
                .roles(&minority)
                .iter()
                .all(|(_, r)| r.as_deref() == Some("duck"))
                .then_some(())
        },
    );
    let stepped_down = cut_at.elapsed();
    assert!(
        stepped_down < Duration::from_millis(1000),
        "old goose kept answering goose for {stepped_down:?}"
    );
    let majority_goose = cluster.wait_one_goose(&majority, Duration::from_secs(5));
    // The minority keeps answering duck and, thanks to PreVote, never bumps its term.
    for (id, role) in cluster.roles(&minority) {
        assert_eq!(role.as_deref(), Some("duck"), "node {id}");
    }
    // Evidence, not a pause: each minority node campaigns (pre-votes) twice more, each
    // round one election timeout without a leader, and still its term does not move.
    cluster.wait_pre_votes(&minority, 2.0, Duration::from_secs(5));
    for &id in &minority {
        assert_eq!(
            term_of(&cluster, id),
            term_before,
            "minority node {id} bumped its term"
        );
        assert_eq!(cluster.role(id).as_deref(), Some("duck"));
    }
    let majority_term = term_of(&cluster, majority_goose);
    assert!(majority_term > term_before);

    // Heal: exactly one goose, still the majority's, and no needless term bump.
    cluster.heal(&all).expect("heal");
    let healed = cluster.wait_one_goose(&all, Duration::from_secs(5));
    assert_eq!(healed, majority_goose);
    // A disruptive rejoin would campaign before hearing the goose; once the former
    // minority has caught up it follows the goose, whose heartbeats keep its timer quiet.
    let goose_commit = cluster
        .status(majority_goose)
        .and_then(|s| s["commit_index"].as_u64())
        .expect("the goose's commit index");
    wait_for(
        "the former minority to catch up",
        Duration::from_secs(5),
        || {
            minority
                .iter()
                .all(|&id| {
                    cluster
                        .status(id)
                        .is_some_and(|s| s["commit_index"].as_u64() >= Some(goose_commit))
                })
                .then_some(())
        },
    );
    assert_eq!(
        cluster.wait_one_goose(&all, Duration::from_secs(5)),
        majority_goose
    );
    for &id in &all {
        assert_eq!(
            term_of(&cluster, id),
            majority_term,
            "node {id}: heal must not bump the term"
        );
    }
}
