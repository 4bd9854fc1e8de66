//! Same seed and actions, same trace: byte for byte (compared by hash).

use duckgoose_sim::nemesis::{self, NemesisConfig};
use duckgoose_sim::{SimConfig, trace::TraceMode};

fn short() -> NemesisConfig {
    NemesisConfig {
        duration: 30_000,
        ..NemesisConfig::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in [1, 42, 4242] {
        let (a, ra) = nemesis::run(SimConfig::new(5, seed), &short(), TraceMode::Record);
        let (b, rb) = nemesis::run(SimConfig::new(5, seed), &short(), TraceMode::HashOnly);
        assert_eq!(ra.trace_hash, rb.trace_hash, "seed {seed}");
        assert_eq!(a.trace().count(), b.trace().count());
        assert!(
            a.trace().count() > 3_000,
            "a real run: {} events",
            a.trace().count()
        );
        assert!(ra.ok(), "{:?}", ra.failures);
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let (_, a) = nemesis::run(SimConfig::new(5, 1), &short(), TraceMode::HashOnly);
    let (_, b) = nemesis::run(SimConfig::new(5, 2), &short(), TraceMode::HashOnly);
    assert_ne!(a.trace_hash, b.trace_hash);
}
