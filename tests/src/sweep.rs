//! Runs many nemesis seeds across all cores and summarizes them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use duckgoose_sim::SnapshotStats;
use duckgoose_sim::nemesis::{self, NemesisConfig, Report};
use duckgoose_sim::trace::TraceMode;

#[derive(Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub node_events: u64,
    pub virtual_ms: u64,
    pub operations: u64,
    pub faults: u64,
    /// Summed over the seeds (four in five compact: `nemesis::setup_for_seed`).
    pub snapshots: SnapshotStats,
    pub failed: Vec<Report>,
    pub wall: Duration,
}

/// The exact command that replays one seed with its full trace.
pub fn repro_command(seed: u64, nodes: u32, nemesis: &NemesisConfig) -> String {
    format!(
        "cargo run --release -p duckgoose-tests --bin sim -- --seed {seed} --nodes {nodes} --duration-ms {} --trace",
        nemesis.duration
    )
}

/// Runs seeds `first..first + count` on `threads` threads. `on_failure` sees each failing
/// report as soon as it is found.
pub fn sweep(
    first: u64,
    count: u64,
    nodes: u32,
    nemesis: &NemesisConfig,
    threads: usize,
    on_failure: &(dyn Fn(&Report) + Sync),
) -> Summary {
    let next = AtomicU64::new(first);
    let end = first + count;
    let summary = Mutex::new(Summary::default());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    let (sim, nemesis) = nemesis::setup_for_seed(nodes, seed, nemesis);
                    let (_, report) = nemesis::run(sim, &nemesis, TraceMode::Off);
                    if !report.ok() {
                        on_failure(&report);
                    }
                    let mut s = summary.lock().unwrap();
                    s.seeds += 1;
                    s.node_events += report.node_events;
                    s.virtual_ms += report.virtual_ms;
                    s.operations += report.operations as u64;
                    s.faults += report.faults as u64;
                    let r = report.snapshots;
                    s.snapshots.taken += r.taken;
                    s.snapshots.installed += r.installed;
                    s.snapshots.restarts_from_snapshot += r.restarts_from_snapshot;
                    s.snapshots.crashes_mid_install += r.crashes_mid_install;
                    s.snapshots.installed_by_joiners += r.installed_by_joiners;
                    s.snapshots.installed_by_transfer_targets += r.installed_by_transfer_targets;
                    if !report.ok() {
                        s.failed.push(report);
                    }
                }
            });
        }
    });
    let mut summary = summary.into_inner().unwrap();
    summary.wall = started.elapsed();
    summary.failed.sort_by_key(|r| r.seed);
    summary
}

pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
