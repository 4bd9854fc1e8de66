//! The simulation-speed workload, shared by the `sim_speed` benchmark (wall time) and the
//! `sim_instructions` example (instruction counts under callgrind): 5 nodes with
//! RaftScope's timings and one client write every 100 ms, for `virtual_ms`.

use duckgoose_core::{Op, Request};
use duckgoose_sim::{Cluster, SimConfig, trace::TraceMode};

/// Runs the workload; returns the node events it took. Panics on any violation.
pub fn run(trace: TraceMode, virtual_ms: u64) -> u64 {
    let mut cluster = Cluster::new(SimConfig::raftscope(5, 7), trace);
    let mut n = 0u64;
    while cluster.now() < virtual_ms {
        cluster.run_for(100);
        // Clients talk to whoever leads (as a client following redirects would).
        let target = cluster.leader().unwrap_or(1);
        n += 1;
        cluster.request(
            target,
            Request::Kv(Op::Put {
                key: format!("k{}", n % 8),
                value: n.to_string(),
            }),
        );
        cluster.take_completed();
    }
    assert!(cluster.violations().is_empty());
    assert!(cluster.leader().is_some(), "a leader at the end");
    cluster.node_events()
}
