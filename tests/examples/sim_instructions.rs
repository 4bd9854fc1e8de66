//! The `sim_speed` benchmark's workload run once (60 virtual seconds, 5 nodes, RaftScope's
//! timings, a write every 100 ms), for counting instructions, which unlike wall time do not
//! depend on what else the machine is doing:
//!
//! ```sh
//! cargo build --release -p duckgoose-tests --example sim_instructions
//! valgrind --tool=callgrind target/release/examples/sim_instructions [off|hashed|recorded]
//! ```

use duckgoose_core::{Op, Request};
use duckgoose_sim::{Cluster, SimConfig, trace::TraceMode};

fn main() {
    let mode = match std::env::args().nth(1).as_deref() {
        Some("hashed") => TraceMode::HashOnly,
        Some("recorded") => TraceMode::Record,
        _ => TraceMode::Off,
    };
    let mut cluster = Cluster::new(SimConfig::raftscope(5, 7), mode);
    let mut n = 0u64;
    while cluster.now() < 60_000 {
        cluster.run_for(100);
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
    println!("node events: {}", cluster.node_events());
}
