//! The counterexample hunt (`duckgoose_sim::hunt`), natively: for each deliberately broken
//! rule, seeds from 1 on find a run that breaks one of the invariants that rule protects,
//! within a bounded number of seeds; the found run replays, as a scenario and through its
//! text form, to the same failure at the same moment with the same trace; and the same
//! seeds with the real rule break nothing.
//!
//! `DDG_HUNT_STARTS=N` also hunts from N other starting seeds per variant and prints how
//! many seeds each took (the numbers in docs/playground.md).

use std::time::Instant;

use duckgoose_core::UnsafeVariant;
use duckgoose_sim::hunt::{self, Hunt};
use duckgoose_sim::text;
use duckgoose_sim::trace::{TraceKind, TraceMode};

/// Seeds a hunt may take from seed 1 (each hunt in this file takes far fewer; see the
/// printed numbers).
const MAX_SEEDS: u64 = 200;

/// Virtual ms per `Hunt::run` slice, as the page's worker runs it.
const SLICE_MS: u64 = 20_000;

fn hunt_from(variant: UnsafeVariant, first_seed: u64) -> (hunt::Counterexample, Hunt) {
    let mut h = Hunt::new(variant, first_seed);
    loop {
        if let Some(found) = h.run(SLICE_MS) {
            return (found, h);
        }
        assert!(
            h.seeds_tried() < MAX_SEEDS,
            "{}: no counterexample in {} seeds from {first_seed}",
            variant.name(),
            h.seeds_tried()
        );
    }
}

fn catches(variant: UnsafeVariant) {
    let name = variant.name();
    let started = Instant::now();
    let (found, h) = hunt_from(variant, 1);
    let wall = started.elapsed();
    eprintln!(
        "{name}: seed {} after {} seeds ({} virtual s) in {:.0} ms: {} at {} ms: {}",
        found.seed,
        h.seeds_tried(),
        h.simulated_ms() / 1000,
        wall.as_secs_f64() * 1000.0,
        found.failure.invariant,
        found.failure.at,
        found.failure.detail
    );
    assert!(
        hunt::expected_invariants(variant).contains(&found.failure.invariant),
        "{name}: caught as {}: {}",
        found.failure.invariant,
        found.failure.detail
    );

    // The scenario, through its text form, replays to the same failure at the same
    // moment, with the same trace as the hunted run up to there.
    let text = text::format_scenario(&found.scenario);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains(&format!(" break={name}")),
        "{text}"
    );
    let parsed = text::parse_scenario(&text).expect("the run's text parses");
    assert_eq!(parsed, found.scenario);
    let replayed = parsed.replay(found.failure.at, TraceMode::Record);
    let first = &replayed.violations()[0];
    assert_eq!(
        (
            first.invariant,
            &first.detail,
            replayed.first_violation_at()
        ),
        (
            found.failure.invariant,
            &found.failure.detail,
            Some(found.failure.at)
        )
    );
    let (sim, schedule) = hunt::setup(variant, found.seed);
    let mut hunted = duckgoose_sim::Cluster::new(sim, TraceMode::Record);
    duckgoose_sim::nemesis::drive(&mut hunted, &schedule);
    let until_failure = |c: &duckgoose_sim::Cluster| {
        let events = c.trace().events();
        let end = events
            .iter()
            .position(|e| matches!(e.kind, TraceKind::Violation { .. }))
            .expect("the run fails");
        events[..=end].to_vec()
    };
    assert_eq!(until_failure(&replayed), until_failure(&hunted));
    // The page lets a person play on past the failure: the broken cluster keeps running
    // (no panic, in this profile not even a debug assertion).
    let mut after = replayed;
    after.run_for(120_000);
    assert!(after.node_events() > 0);

    // The real protocol, same seeds and schedules: nothing breaks.
    for seed in 1..=found.seed {
        let (mut sim, schedule) = hunt::setup(variant, seed);
        sim.unsafe_variant = None;
        let (failure, _) = hunt::run_seed(sim, &schedule);
        assert_eq!(failure, None, "{name} schedule, seed {seed}, real protocol");
    }

    let starts: u64 = std::env::var("DDG_HUNT_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if starts > 0 {
        let mut seeds = Vec::new();
        let started = Instant::now();
        for k in 1..=starts {
            let (_, h) = hunt_from(variant, k * 1_000_000);
            seeds.push(h.seeds_tried());
        }
        let total: u64 = seeds.iter().sum();
        seeds.sort_unstable();
        eprintln!(
            "{name}: from {starts} other starts, seeds needed: median {}, max {}, mean {:.1}; {:.1} ms per hunt",
            seeds[seeds.len() / 2],
            seeds[seeds.len() - 1],
            total as f64 / starts as f64,
            started.elapsed().as_secs_f64() * 1000.0 / starts as f64
        );
    }
}

#[test]
fn commit_of_an_earlier_term_by_counting_is_found() {
    catches(UnsafeVariant::CommitEarlierTermByCount);
}

#[test]
fn two_votes_in_one_term_are_found() {
    catches(UnsafeVariant::GrantTwoVotes);
}

#[test]
fn forgetting_the_vote_on_restart_is_found() {
    catches(UnsafeVariant::ForgetVoteOnRestart);
}

#[test]
fn skipping_the_log_check_is_found() {
    catches(UnsafeVariant::SkipLogUpToDateCheck);
}

#[test]
fn goose_without_a_fresh_round_is_found() {
    catches(UnsafeVariant::GooseWithoutRound);
}
