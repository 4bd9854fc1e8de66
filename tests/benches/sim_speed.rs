//! Simulation speed: virtual time per wall time for 5 nodes with RaftScope's timings
//! (latency 10-15 ms, election timeout 100-200 ms, heartbeat 50 ms) and one client
//! request every 100 ms. Criterion reports "elements" per second where one element is one
//! virtual millisecond: divide by 1000 for the speed-up over real time.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use duckgoose_sim::trace::TraceMode;
use duckgoose_tests::sim_speed;

const VIRTUAL_MS: u64 = 60_000;

fn run(trace: TraceMode) -> u64 {
    sim_speed::run(trace, VIRTUAL_MS)
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
