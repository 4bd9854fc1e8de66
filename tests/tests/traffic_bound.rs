//! The simulator reports a message storm ("bounded traffic") once more messages are in
//! flight than any healthy cluster keeps. This checks the bound's headroom against the
//! slowest network the playground allows: nine nodes, a minute of latency on every link,
//! duplication on, and a partition and heal on the way.

use duckgoose_core::Request;
use duckgoose_sim::network::LinkFaults;
use duckgoose_sim::{Action, Cluster, SimConfig, trace::TraceMode};

#[test]
fn the_slowest_network_the_playground_allows_is_not_a_storm() {
    let mut config = SimConfig::new(9, 11);
    config.network = LinkFaults {
        latency_min: 30_000,
        latency_max: 60_000,
        loss_ppm: 0,
        duplicate_ppm: 100_000,
    };
    let mut cluster = Cluster::new(config, TraceMode::Off);
    let mut most = 0;
    for second in 0..600 {
        if second == 200 {
            cluster.apply(Action::Partition {
                groups: vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8, 9]],
            });
        }
        if second == 400 {
            cluster.apply(Action::Heal);
        }
        if second % 10 == 0 {
            cluster.request(1 + second % 9, Request::Goose);
        }
        cluster.run_for(1_000);
        most = most.max(cluster.messages_in_flight().count());
    }
    assert!(
        cluster.violations().is_empty(),
        "{:?}",
        cluster.violations()
    );
    assert!(
        most > 1_000,
        "the network was busy: {most} in flight at most"
    );
    assert!(
        most < 50_000,
        "{most} in flight: the storm bound's headroom shrank"
    );
}
