//! Failover after a leader crash, with and without the connection-closed notices a crash
//! sends (issue 11): over many seeds the notices must make the new goose come sooner (by
//! sparing split votes: they never cut a live leader's lease short), a shorter goose lease
//! sooner still, and spurious notices must never move a healthy cluster's term.

use duckgoose_sim::trace::TraceMode;
use duckgoose_sim::{Action, Cluster, SimConfig};

/// Virtual ms from crashing the leader to a new goose, or `None` if no leader to crash.
fn failover(seed: u64, notices: bool, goose_lease: Option<u64>) -> Option<u64> {
    let config = SimConfig {
        close_notices: notices,
        goose_lease,
        ..SimConfig::new(5, seed)
    };
    let mut c = Cluster::new(config, TraceMode::Off);
    // Crash at a seed-dependent point of the heartbeat cycle.
    c.run_until(2_000 + seed % 50);
    let leader = c.leader()?;
    c.apply(Action::Crash { node: leader });
    let start = c.now();
    while c.now() < start + 5_000 {
        if c.goose().is_some_and(|g| g != leader) {
            assert!(
                c.violations().is_empty(),
                "seed {seed}: {:?}",
                c.violations()
            );
            return Some(c.now() - start);
        }
        c.run_for(1);
    }
    panic!("seed {seed}: no new goose within 5 s");
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    sorted[(sorted.len() - 1) * p / 100]
}

#[test]
fn crash_notices_shorten_failover() {
    let seeds: u64 = std::env::var("DDG_FAILOVER_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut short = Vec::new();
    for seed in 1..=seeds {
        if let (Some(a), Some(b), Some(c)) = (
            failover(seed, true, None),
            failover(seed, false, None),
            failover(seed, true, Some(SHORT_LEASE)),
        ) {
            with.push(a);
            without.push(b);
            short.push(c);
        }
    }
    assert!(
        with.len() as u64 >= seeds * 9 / 10,
        "only {} of {seeds} seeds had a leader to crash",
        with.len()
    );
    with.sort_unstable();
    without.sort_unstable();
    short.sort_unstable();
    let mean = |v: &[u64]| v.iter().sum::<u64>() / v.len() as u64;
    let line = |v: &[u64]| {
        format!(
            "p50 {} p99 {} max {} mean {}",
            percentile(v, 50),
            percentile(v, 99),
            v[v.len() - 1],
            mean(v)
        )
    };
    println!(
        "failover over {} crashes (virtual ms): with notices {}; without {}; with notices and a {SHORT_LEASE} ms lease {}",
        with.len(),
        line(&with),
        line(&without),
        line(&short)
    );
    assert!(mean(&with) < mean(&without));
    assert!(percentile(&with, 50) < percentile(&without, 50));
    // Survivors take turns after a crash instead of drawing at random, so they do not
    // split the vote: the slowest failover with notices beats the slowest without. They
    // take turns only from a minimum election timeout after they last heard the leader
    // (the notice may be spurious and a live leader's goose lease counts on their
    // silence until then: seed 8424 of the randomized runs), so notices no longer bring
    // a failover below that minimum (before: p50 96 ms, max 113 ms over 1000 crashes).
    assert!(
        with[with.len() - 1] < without[without.len() - 1],
        "slowest failover with notices took {} ms, without {} ms",
        with[with.len() - 1],
        without[without.len() - 1]
    );
    // A shorter lease shortens the stickiness the survivors owe: by most of the
    // difference (75 ms) at the median, and even the slowest failover then beats the
    // full lease's median (measured: p50 147 ms, max 183 ms against p50 225 ms).
    assert!(
        percentile(&short, 50) + 50 <= percentile(&with, 50),
        "a {SHORT_LEASE} ms lease: p50 {} ms, the full lease: p50 {} ms",
        percentile(&short, 50),
        percentile(&with, 50)
    );
    assert!(
        short[short.len() - 1] < percentile(&with, 50),
        "a {SHORT_LEASE} ms lease: max {} ms, the full lease: p50 {} ms",
        short[short.len() - 1],
        percentile(&with, 50)
    );
}

/// The native node's lease at the paper's timings (`Config::fast_failover_lease`).
const SHORT_LEASE: u64 = 75;

#[test]
fn spurious_notices_never_move_a_healthy_term() {
    for seed in 1..=50 {
        // Half the seeds with the short lease, whose stickiness a notice shortens.
        let config = SimConfig {
            goose_lease: (seed % 2 == 0).then_some(SHORT_LEASE),
            ..SimConfig::new(5, seed)
        };
        let mut c = Cluster::new(config, TraceMode::Off);
        c.run_until(2_000);
        let leader = c.leader().expect("a leader after 2 s");
        let term = c.replica(leader).unwrap().raft().term();
        let followers: Vec<_> = c.node_ids().filter(|&n| n != leader).collect();
        // One spurious notice about the leader every 97 ms, round robin, for 20 s.
        for i in 0..200u64 {
            let node = followers[i as usize % followers.len()];
            c.apply(Action::ConnectionClosed { node, peer: leader });
            c.run_for(97);
        }
        assert!(c.violations().is_empty(), "seed {seed}");
        assert_eq!(c.leader(), Some(leader), "seed {seed}: leader changed");
        assert_eq!(
            c.replica(leader).unwrap().raft().term(),
            term,
            "seed {seed}"
        );
    }
}

#[test]
fn a_spread_too_narrow_for_turns_still_fails_over() {
    // Two ms of random part for four survivors: no slot per survivor, so each draws in
    // the spread as before. Elections split often with so little spread, so this asks
    // only that a new goose comes at all, with every invariant intact.
    for seed in 0..20 {
        let mut c = Cluster::new(
            SimConfig {
                close_notices: true,
                election_timeout_max: 152,
                ..SimConfig::new(5, seed)
            },
            TraceMode::Off,
        );
        let mut leader = None;
        while leader.is_none() && c.now() < 60_000 {
            c.run_for(10);
            leader = c.goose();
        }
        let leader = leader.unwrap_or_else(|| panic!("seed {seed}: no first goose"));
        c.apply(Action::Crash { node: leader });
        let start = c.now();
        while c.goose().is_none_or(|g| g == leader) {
            assert!(c.now() < start + 60_000, "seed {seed}: no new goose");
            c.run_for(1);
        }
        assert!(
            c.violations().is_empty(),
            "seed {seed}: {:?}",
            c.violations()
        );
    }
}

/// Regression (seed 8424 of the randomized runs): a spurious close notice reached a
/// follower 35 ms after it acknowledged the leader; it stopped refusing votes at once and
/// won an election, with two nodes the old leader could not reach, while the old leader
/// still showed itself as the goose on a lease that counted on that follower's silence.
/// A notice now brings an election forward only to a minimum election timeout after the
/// follower last heard the leader.
#[test]
fn a_spurious_close_notice_does_not_cut_a_live_leaders_lease_short() {
    let base = duckgoose_sim::nemesis::NemesisConfig {
        duration: 120_000,
        ..duckgoose_sim::nemesis::NemesisConfig::default()
    };
    let (sim, nemesis) = duckgoose_sim::nemesis::setup_for_seed(5, 8424, &base);
    let (_, report) = duckgoose_sim::nemesis::run(sim, &nemesis, TraceMode::Off);
    assert!(report.ok(), "{:?}", report.failures);
}
