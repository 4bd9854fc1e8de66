//! The shown goose (the lease behind `NodeView.goose`) in the two corners where it could
//! outlive the real goose: a voter that restarts and forgets it promised not to vote, and
//! a leadership transfer whose TimeoutNow arrives after the leader gave up on it.

use duckgoose_core::{Request, Role};
use duckgoose_sim::network::LinkFaults;
use duckgoose_sim::{Action, Cluster, SimConfig, trace::TraceMode};

fn others(cluster: &Cluster, of: u64) -> Vec<u64> {
    cluster.node_ids().filter(|&id| id != of).collect()
}

/// Three nodes. `b` is cut off from the goose and keeps asking for pre-votes; then the
/// goose is cut off from `a` too, and `a` restarts at once. A restarted node must not
/// help `b` win while the old goose may still show itself (its lease came from `a`).
#[test]
fn a_restarted_voter_honours_the_lease_it_gave() {
    for seed in 1..=40 {
        let mut cluster = Cluster::new(SimConfig::new(3, seed), TraceMode::Off);
        cluster.run_until(2_000);
        let goose = cluster.goose().expect("a goose");
        let [a, b] = others(&cluster, goose)[..] else {
            unreachable!()
        };
        for (from, to) in [(goose, b), (b, goose)] {
            cluster.apply(Action::Link {
                from,
                to,
                connected: false,
            });
        }
        cluster.run_for(1_000);
        assert_eq!(
            cluster.goose(),
            Some(goose),
            "seed {seed}: two of three still confirm"
        );
        cluster.apply(Action::Partition {
            groups: vec![vec![goose]],
        });
        cluster.apply(Action::Crash { node: a });
        cluster.apply(Action::Restart { node: a });
        cluster.run_for(3_000);
        assert!(
            cluster.violations().is_empty(),
            "seed {seed}: {:?}",
            cluster.violations()
        );
        let leader = cluster.leader().expect("a and b elect a leader");
        assert_ne!(leader, goose, "seed {seed}");
    }
}

/// The TimeoutNow of a transfer is delayed past the transfer's deadline (the link between
/// leader and target is slow both ways). The leader gives up and must not go on showing
/// itself as the goose: the target may still win, and the leader would hear of it late.
#[test]
fn a_late_timeout_now_cannot_overlap_the_old_goose() {
    for seed in 1..=10 {
        let mut cluster = Cluster::new(SimConfig::new(3, seed), TraceMode::Off);
        cluster.run_until(2_000);
        let goose = cluster.goose().expect("a goose");
        let target = others(&cluster, goose)[0];
        let slow = LinkFaults {
            latency_min: 400,
            latency_max: 400,
            ..LinkFaults::CALM
        };
        for (from, to) in [(goose, target), (target, goose)] {
            cluster.apply(Action::LinkFaults {
                from,
                to,
                faults: Some(slow),
            });
        }
        cluster.run_for(2_000);
        cluster.request(goose, Request::Transfer { to: target });
        cluster.run_for(3_000);
        assert!(
            cluster.violations().is_empty(),
            "seed {seed}: {:?}",
            cluster.violations()
        );
        let leader = cluster.leader().expect("a leader");
        assert_eq!(cluster.replica(leader).unwrap().raft().role(), Role::Leader);
        assert_eq!(
            cluster.goose(),
            Some(leader),
            "seed {seed}: one goose again"
        );
    }
}
