//! The main test: thousands of seeded runs of nemesis and client load, every invariant
//! checked on every step, every key-value history checked for linearizability, and
//! recovery checked after the final heal. `DDG_SIM_SEEDS` and `DDG_SIM_DURATION_MS`
//! override the defaults (10 000 seeds of two virtual minutes each).

use duckgoose_sim::nemesis::NemesisConfig;
use duckgoose_tests::sweep::{available_threads, repro_command, sweep};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn randomized_nemesis_finds_no_violation() {
    let seeds = env_u64("DDG_SIM_SEEDS", 10_000);
    let first = env_u64("DDG_SIM_FIRST_SEED", 1);
    let nemesis = NemesisConfig {
        duration: env_u64("DDG_SIM_DURATION_MS", 120_000),
        ..NemesisConfig::default()
    };
    let summary = sweep(first, seeds, 5, &nemesis, available_threads(), &|report| {
        eprintln!("seed {} FAILED:", report.seed);
        for failure in &report.failures {
            eprintln!("  {failure}");
        }
        eprintln!("  reproduce: {}", repro_command(report.seed, 5, &nemesis));
    });
    eprintln!(
        "{} seeds, {} node events, {} virtual s, {} client ops, {} faults in {:.1} s",
        summary.seeds,
        summary.node_events,
        summary.virtual_ms / 1000,
        summary.operations,
        summary.faults,
        summary.wall.as_secs_f64()
    );
    assert_eq!(summary.seeds, seeds);
    let failed: Vec<u64> = summary.failed.iter().map(|r| r.seed).collect();
    assert!(
        failed.is_empty(),
        "failing seeds: {failed:?} (commands above)"
    );
}
