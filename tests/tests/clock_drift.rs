//! Clock drift: why the quorum-confirmed answer is the safe one.
//!
//! A leader *shows* itself as the goose on a lease timed by its own clock, which is safe
//! only while every clock runs at the same rate (`Raft::goose_lease_until`). A goose
//! *answer* waits for a quorum to acknowledge a round that started after the question
//! (`Raft::confirm_leadership`) and reads no clock at all. Here the goose's clock is
//! slowed to half speed and the goose cut off from everyone: its lease outlives, in real
//! time, the followers' promise not to elect anyone else, so two nodes show as goose at
//! once ("one goose at a time" fails), while every goose answer, asked of every node all
//! along, stays linearizable.

use std::collections::HashMap;

use duckgoose_core::{NodeId, Reply, Request};
use duckgoose_sim::checker::Invariant;
use duckgoose_sim::clock::RATE_ONE;
use duckgoose_sim::scenario::Scenario;
use duckgoose_sim::text;
use duckgoose_sim::trace::TraceMode;
use duckgoose_sim::{Action, Cluster, Completed, SimConfig};

/// What the goose queries are judged by: none of these may ever fail, drift or not.
const ANSWER_INVARIANTS: [Invariant; 4] = [
    Invariant::OneGoosePerTerm,
    Invariant::GooseNeedsAQuorum,
    Invariant::NoStaleGoose,
    Invariant::LinearizableGoose,
];

/// The two invariants about the *shown* goose (the lease): the ones drift may break.
const LEASE_INVARIANTS: [Invariant; 2] = [Invariant::OneGooseAtATime, Invariant::NoMinorityGoose];

struct Run {
    cluster: Cluster,
    old: NodeId,
    /// Virtual times at which two or more nodes showed as goose, with who.
    overlaps: Vec<(u64, Vec<NodeId>)>,
    /// Every answer to a goose query asked after the partition, with when it was asked.
    answers: Vec<(u64, Completed)>,
}

/// Five nodes; once there is a goose, every node's clock is set as `rates` says (the
/// old goose's rate first, then everyone else's), and after half a second the goose is
/// cut off alone. For 1.5 s every node is asked "goose?" every 5 ms. Runs a
/// millisecond at a time to see every instant at which several nodes show as goose.
fn cut_off_goose(seed: u64, old_rate: u32, others_rate: u32) -> Run {
    let mut cluster = Cluster::new(SimConfig::new(5, seed), TraceMode::Off);
    cluster.run_until(2_000);
    let old = cluster.goose().expect("a goose within 2 s");
    let ids: Vec<NodeId> = cluster.node_ids().collect();
    for &id in &ids {
        let rate = if id == old { old_rate } else { others_rate };
        if rate != RATE_ONE {
            cluster.apply(Action::ClockRate { node: id, rate });
        }
    }
    cluster.run_for(500);
    cluster.apply(Action::Partition {
        groups: vec![vec![old]],
    });
    drop(cluster.take_completed());
    let (mut overlaps, mut answers, mut asked) = (Vec::new(), Vec::new(), HashMap::new());
    for ms in 0..1_500 {
        if ms % 5 == 0 {
            for &id in &ids {
                asked.insert(cluster.request(id, Request::Goose), cluster.now());
            }
        }
        cluster.run_for(1);
        let shown: Vec<NodeId> = ids
            .iter()
            .copied()
            .filter(|&id| cluster.shows_goose(id))
            .collect();
        if shown.len() > 1 {
            overlaps.push((cluster.now(), shown));
        }
        answers.extend(
            cluster
                .take_completed()
                .into_iter()
                .map(|a| (asked[&a.id], a)),
        );
    }
    // Whatever was still pending is answered within a second.
    cluster.run_for(1_000);
    answers.extend(
        cluster
            .take_completed()
            .into_iter()
            .map(|a| (asked[&a.id], a)),
    );
    assert_eq!(answers.len(), asked.len(), "every question answered");
    Run {
        cluster,
        old,
        overlaps,
        answers,
    }
}

fn failed(cluster: &Cluster) -> Vec<Invariant> {
    cluster.violations().iter().map(|v| v.invariant).collect()
}

/// The goose of `term` per answer (`None`: a duck, or no answer).
fn goose_term(answer: &Completed) -> Option<u64> {
    match answer.result {
        Some(Ok(Reply::Goose { term })) => Some(term),
        _ => None,
    }
}

#[test]
fn a_slow_clock_on_the_old_goose_shows_two_geese_while_every_answer_stays_safe() {
    let (mut overlapping_seeds, mut asked_during_overlap) = (0, 0);
    for seed in 1..=20 {
        let run = cut_off_goose(seed, 500, RATE_ONE);
        let failed = failed(&run.cluster);
        for invariant in &failed {
            assert!(
                LEASE_INVARIANTS.contains(invariant),
                "seed {seed}: only the lease may break under drift, not {invariant}: {:?}",
                run.cluster.violations()
            );
        }
        for invariant in ANSWER_INVARIANTS {
            assert!(!failed.contains(&invariant), "seed {seed}: {invariant}");
        }
        // The checker reports exactly what was seen: an instant with two geese.
        assert_eq!(
            failed.contains(&Invariant::OneGooseAtATime),
            !run.overlaps.is_empty(),
            "seed {seed}: {:?} / {:?}",
            run.overlaps.first(),
            run.cluster.violations()
        );
        let Some((at, shown)) = run.overlaps.first() else {
            continue;
        };
        overlapping_seeds += 1;
        assert!(shown.contains(&run.old), "seed {seed}: {shown:?} at {at}");
        let new = *shown.iter().find(|&&id| id != run.old).expect("two");
        let detail = &run
            .cluster
            .violations()
            .iter()
            .find(|v| v.invariant == Invariant::OneGooseAtATime)
            .expect("reported")
            .detail;
        assert!(
            detail.contains("both show as goose at")
                && detail.contains(&format!("{} (term ", run.old))
                && detail.contains("clock at 0.5x)")
                && detail.contains(&format!(
                    "{new} (term {}, clock at 1x)",
                    run.cluster.replica(new).expect("up").raft().term()
                ))
                && detail.ends_with(
                    "their clocks run at different rates, and the lease assumes the same"
                ),
            "seed {seed}: {detail}"
        );
        let new_term = run.cluster.replica(new).expect("up").raft().term();
        let (first, last) = (run.overlaps[0].0, run.overlaps.last().expect("some").0);
        // The old goose, cut off, answered duck to every question (no quorum
        // acknowledges its rounds), also to those asked while it still showed as goose.
        let from_old: Vec<&(u64, Completed)> = run
            .answers
            .iter()
            .filter(|(_, a)| a.node == run.old)
            .collect();
        assert!(
            from_old
                .iter()
                .all(|(_, a)| matches!(a.result, Some(Ok(Reply::Duck { .. })))),
            "seed {seed}: the old goose answered {from_old:?}"
        );
        // The new goose answered goose of its own term (to questions asked while both
        // showed, when the overlap lasted past a question), and nobody else answered
        // goose at all.
        let old_asked_during = from_old
            .iter()
            .any(|(asked, _)| (first..=last).contains(asked));
        let new_honked_during = run.answers.iter().any(|(asked, a)| {
            a.node == new && (first..=last).contains(asked) && goose_term(a) == Some(new_term)
        });
        assert_eq!(
            old_asked_during, new_honked_during,
            "seed {seed}: both asked while both showed ({first}..={last})"
        );
        asked_during_overlap += usize::from(old_asked_during);
        for (asked, a) in &run.answers {
            if let Some(term) = goose_term(a) {
                assert_eq!(
                    (a.node, term),
                    (new, new_term),
                    "seed {seed}: asked at {asked}"
                );
            }
        }
    }
    eprintln!(
        "two geese at once in {overlapping_seeds} of 20 seeds, questions asked meanwhile in {asked_during_overlap}"
    );
    assert!(
        overlapping_seeds >= 10,
        "two geese at once in only {overlapping_seeds} of 20 seeds"
    );
    assert!(
        asked_during_overlap >= 10,
        "questions asked while two geese showed in only {asked_during_overlap} seeds"
    );
}

#[test]
fn clocks_at_one_rate_break_nothing() {
    // All at 1x (the default, no clock action at all), and all at the same other rate:
    // no drift between them, which is all the lease assumes.
    for (old_rate, others_rate) in [(RATE_ONE, RATE_ONE), (500, 500), (2_000, 2_000)] {
        for seed in 1..=20 {
            let run = cut_off_goose(seed, old_rate, others_rate);
            assert_eq!(
                run.cluster.violations(),
                &[],
                "seed {seed} at {old_rate}/{others_rate}"
            );
            assert_eq!(run.overlaps, vec![], "seed {seed}");
            let leader = run.cluster.leader().expect("the majority elects a leader");
            assert_ne!(leader, run.old, "seed {seed}");
            assert!(
                run.answers
                    .iter()
                    .any(|(_, a)| a.node == leader && goose_term(a).is_some()),
                "seed {seed}: the new goose answers goose"
            );
        }
    }
}

#[test]
fn a_node_runs_on_its_own_clock() {
    let mut cluster = Cluster::new(SimConfig::new(3, 5), TraceMode::Off);
    cluster.run_until(1_000);
    assert_eq!(
        cluster.clock_reading(2),
        Some(1_000),
        "1x reads virtual time"
    );
    cluster.apply(Action::ClockRate {
        node: 2,
        rate: 2_000,
    });
    assert_eq!(cluster.clock_reading(2), Some(1_000), "continuous");
    cluster.run_until(1_100);
    assert_eq!(cluster.clock_reading(2), Some(1_200));
    cluster.apply(Action::ClockRate { node: 2, rate: 500 });
    cluster.run_until(1_300);
    assert_eq!(cluster.clock_reading(2), Some(1_300));
    cluster.apply(Action::Crash { node: 2 });
    cluster.run_until(1_500);
    assert_eq!(cluster.clock_reading(2), Some(1_400), "runs while down");
    cluster.apply(Action::Restart { node: 2 });
    cluster.run_until(1_600);
    assert_eq!(cluster.clock_reading(2), Some(1_450));
    assert_eq!(cluster.clock_reading(1), Some(1_600));
    assert_eq!(cluster.clock_reading(9), None);
    // Rates nobody may set (validate refuses them) are clamped, never a stopped or
    // runaway clock.
    cluster.apply(Action::ClockRate { node: 1, rate: 0 });
    cluster.apply(Action::ClockRate {
        node: 3,
        rate: u32::MAX,
    });
    cluster.run_until(1_800);
    assert_eq!(cluster.clock_reading(1), Some(1_700));
    assert_eq!(cluster.clock_reading(3), Some(2_000));
    assert_eq!(cluster.clock(3).map(|c| c.rate), Some(2_000));
    // A fast follower's election timer runs out in half the virtual time: cut off from
    // the leader, a 2x follower becomes a pre-candidate first, every time.
    for seed in 1..=10 {
        let mut cluster = Cluster::new(SimConfig::new(5, seed), TraceMode::Record);
        cluster.run_until(2_000);
        let leader = cluster.leader().expect("a leader");
        let fast = cluster.node_ids().find(|&id| id != leader).expect("a duck");
        cluster.apply(Action::ClockRate {
            node: fast,
            rate: 2_000,
        });
        cluster.apply(Action::Crash { node: leader });
        let since = cluster.trace().events().len();
        cluster.run_for(1_000);
        let first = cluster.trace().events()[since..]
            .iter()
            .find_map(|e| match &e.kind {
                duckgoose_sim::trace::TraceKind::Node {
                    node,
                    event: duckgoose_core::Event::RoleChanged { role, .. },
                } if *role != duckgoose_core::Role::Follower => Some(*node),
                _ => None,
            });
        assert_eq!(first, Some(fast), "seed {seed}");
    }
}

/// The same run from its text (clock rates set at 0 and later, as actions) gives the
/// same trace, event for event, and that text round-trips.
#[test]
fn drifting_runs_replay_from_their_text() {
    let text = "duckgoose 1 nodes=5 seed=11 heartbeat=50 election=150-300 prevote=1 checkquorum=1 latency=10-15 loss=0 dup=0 timeout=1000 notices=1\n\
                0 clock 2 1.5\n\
                0 clock 4 0.75\n\
                1800 clock 1 0.5\n\
                2300 partition 1/2,3,4,5\n\
                2400 request 1 goose\n\
                2450 clock 4 1\n\
                2600 request 2 goose\n\
                3000 heal";
    let scenario = text::parse_scenario(text).expect("parses");
    duckgoose_sim::validate::check_scenario(&scenario).expect("valid");
    assert_eq!(text::format_scenario(&scenario), text);
    assert_eq!(
        scenario.actions[..2],
        [
            (
                0,
                Action::ClockRate {
                    node: 2,
                    rate: 1_500
                }
            ),
            (0, Action::ClockRate { node: 4, rate: 750 })
        ]
    );
    let a = scenario.replay(5_000, TraceMode::Record);
    let b = Scenario::clone(&scenario).replay(5_000, TraceMode::Record);
    assert_eq!(a.trace().hash(), b.trace().hash());
    assert_eq!(a.trace().events(), b.trace().events());
    // Rates matter: the same run without them is another run.
    let mut plain = scenario.clone();
    plain
        .actions
        .retain(|(_, a)| !matches!(a, Action::ClockRate { .. }));
    assert_ne!(
        plain.replay(5_000, TraceMode::HashOnly).trace().hash(),
        a.trace().hash()
    );
    assert_eq!(a.clock_reading(2), Some(7_500));
}
