//! Simulation speed: virtual time per wall time for 5 nodes with RaftScope's timings
//! (latency 10-15 ms, election timeout 100-200 ms, heartbeat 50 ms) and one client
//! request every 100 ms. Criterion reports "elements" per second where one element is one
//! virtual millisecond: divide by 1000 for the speed-up over real time.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use duckgoose_core::{Op, Request};
use duckgoose_sim::{Cluster, SimConfig, trace::TraceMode};

const VIRTUAL_MS: u64 = 60_000;

fn run(trace: TraceMode) -> u64 {
    let mut cluster = Cluster::new(SimConfig::raftscope(5, 7), trace);
    let mut n = 0u64;
    while cluster.now() < VIRTUAL_MS {
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

fn sim_speed(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim_5_nodes_raftscope_60s");
    group.throughput(Throughput::Elements(VIRTUAL_MS));
    group.sample_size(20);
    group.bench_function("trace_off", |b| b.iter(|| run(TraceMode::Off)));
    group.bench_function("trace_hashed", |b| b.iter(|| run(TraceMode::HashOnly)));
    group.bench_function("trace_recorded", |b| b.iter(|| run(TraceMode::Record)));
    group.finish();
}

criterion_group!(benches, sim_speed);
criterion_main!(benches);
