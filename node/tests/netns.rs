//! A real network cut: three nodes, each in its own network namespace with a cluster
//! link (peers) and a control link (the test), from the testkit. Cutting the goose's
//! cluster link (taking it down at the kernel) isolates it for real; the other two elect
//! a new goose and the isolated one, asked over its control link, answers duck. Putting
//! the link back heals the cluster to exactly one goose.
//!
//! Needs root and iproute2, so it is ignored by plain `cargo test`; `scripts/test-node`
//! runs it. Where namespaces are not permitted it says so and passes.

use std::time::{Duration, Instant};

use duckgoose_testkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_duckgoose");

#[test]
#[ignore = "needs root and iproute2; run by scripts/test-node"]
fn cutting_the_gooses_link_elects_another_and_healing_restores_one_goose() {
    let net = match Netns::setup(1) {
        Ok(net) => net,
        Err(e) => {
            eprintln!("SKIPPED: network namespaces are not permitted here ({e})");
            return;
        }
    };
    let opts = Opts {
        netns: Some(net),
        ..Opts::default()
    };
    let cluster = match Cluster::new(BIN, "netns", 3, opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED: network namespaces are not permitted here ({e})");
            return;
        }
    };
    let mut cluster = cluster;
    for id in cluster.ids() {
        cluster.spawn(id).expect("start a node in its namespace");
    }
    let all = cluster.ids();
    let goose = cluster.wait_one_goose(&all, Duration::from_secs(15));

    // Cut the goose's cable.
    let net = cluster.net.as_ref().expect("namespaces");
    net.isolate(goose).expect("cut the link");
    let cut_at = Instant::now();
    let rest: Vec<u64> = all.iter().copied().filter(|&i| i != goose).collect();
    let new_goose = cluster.wait_one_goose(&rest, Duration::from_secs(10));
    let elected = cut_at.elapsed();
    assert_ne!(new_goose, goose);
    // The isolated node, asked over its control link, is a duck.
    wait_for(
        "the isolated node to stop claiming goose",
        Duration::from_secs(5),
        || (cluster.role(goose).as_deref() == Some("duck")).then_some(()),
    );
    eprintln!("link cut: new goose {new_goose} after {elected:?}");

    // Put the cable back: exactly one goose again.
    net.heal().expect("reconnect");
    let healed = cluster.wait_one_goose(&all, Duration::from_secs(10));
    assert_eq!(
        healed, new_goose,
        "the returning node must not depose the goose"
    );
}
