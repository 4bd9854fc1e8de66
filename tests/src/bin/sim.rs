//! Offline randomized simulation. Examples:
//!
//!   sim --seeds 100000 --duration-ms 300000     # a long sweep
//!   sim --seed 1234 --trace                     # replay one seed, print its trace

use clap::Parser;
use duckgoose_sim::nemesis::{self, NemesisConfig};
use duckgoose_sim::trace::TraceMode;
use duckgoose_tests::sweep::{available_threads, repro_command, sweep};

#[derive(Parser)]
#[command(about = "Run seeded nemesis simulations of a Duck Duck Goose cluster")]
struct Args {
    /// Run exactly this seed (prints its report; with --trace, its whole trace).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of seeds to sweep, starting at --first-seed.
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Virtual time per seed, in minutes (overridden by --duration-ms).
    #[arg(long, default_value_t = 2.0)]
    minutes: f64,
    #[arg(long)]
    duration_ms: Option<u64>,
    /// Initial cluster size.
    #[arg(long, default_value_t = 5)]
    nodes: u32,
    /// Print the full trace of the single seed.
    #[arg(long)]
    trace: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() {
    let args = Args::parse();
    let nemesis = NemesisConfig {
        duration: args.duration_ms.unwrap_or((args.minutes * 60_000.0) as u64),
        ..NemesisConfig::default()
    };
    if let Some(seed) = args.seed {
        let mode = if args.trace {
            TraceMode::Record
        } else {
            TraceMode::HashOnly
        };
        let (sim, nemesis) = nemesis::setup_for_seed(args.nodes, seed, &nemesis);
        println!(
            "seed {seed}: pre_vote {}, check_quorum {}, a fault every {} ms on average, compaction {:?}",
            sim.pre_vote, sim.check_quorum, nemesis.fault_interval, sim.compaction
        );
        let (cluster, report) = nemesis::run(sim, &nemesis, mode);
        if args.trace {
            for event in cluster.trace().events() {
                println!("{event}");
            }
        }
        println!(
            "seed {seed}: {} node events, {} virtual ms, {} ops, {} faults, {:?}, trace hash {:016x}",
            report.node_events,
            report.virtual_ms,
            report.operations,
            report.faults,
            report.snapshots,
            report.trace_hash
        );
        for failure in &report.failures {
            println!("FAILED: {failure}");
        }
        std::process::exit(if report.ok() { 0 } else { 1 });
    }
    let threads = args.threads.unwrap_or_else(available_threads);
    let summary = sweep(
        args.first_seed,
        args.seeds,
        args.nodes,
        &nemesis,
        threads,
        &|report| {
            eprintln!("seed {} FAILED: {:?}", report.seed, report.failures);
            eprintln!(
                "  reproduce: {}",
                repro_command(report.seed, args.nodes, &nemesis)
            );
        },
    );
    let wall = summary.wall.as_secs_f64();
    println!(
        "{} seeds x {} virtual ms: {} node events ({:.0}/s), {} client ops, {} faults, {:.1} s wall, {:.0}x real time per core",
        summary.seeds,
        nemesis.duration,
        summary.node_events,
        summary.node_events as f64 / wall,
        summary.operations,
        summary.faults,
        wall,
        summary.virtual_ms as f64 / 1000.0 / wall / threads as f64
    );
    let s = summary.snapshots;
    println!(
        "compaction (four seeds in five): {} snapshots taken, {} installed by InstallSnapshot ({} by joiners, {} by transfer targets), {} restarts from a snapshot, {} crashes mid-install",
        s.taken,
        s.installed,
        s.installed_by_joiners,
        s.installed_by_transfer_targets,
        s.restarts_from_snapshot,
        s.crashes_mid_install
    );
    if !summary.failed.is_empty() {
        println!("{} failing seeds", summary.failed.len());
        std::process::exit(1);
    }
}
