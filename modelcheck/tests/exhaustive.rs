//! The CI bounds: each explored to exhaustion with no property failing, and each unsafe
//! variant of the core caught with a counterexample. Bigger bounds: docs/verification.md.

use duckgoose_core::UnsafeVariant;
use duckgoose_modelcheck::script::{script, variant_name};
use duckgoose_modelcheck::{Bounds, Options, Report, explore};

/// Three voters, two terms, three timer firings, one write, one goose question, two
/// messages in flight (a send beyond that is lost), no crash.
fn ci() -> Bounds {
    Bounds {
        timeouts: 3,
        max_in_flight: 2,
        loss: false,
        ..Bounds::small()
    }
}

fn exhaust(name: &str, bounds: &Bounds, options: &Options) -> Report {
    let report = explore(bounds, options);
    eprintln!(
        "{name}: {} states, {} transitions, depth {}, {:.1} s, complete={}, liveness runs {} (≤{} steps)",
        report.states,
        report.transitions,
        report.depth,
        report.elapsed.as_secs_f64(),
        report.complete,
        report.liveness_checks,
        report.liveness_max_steps,
    );
    if let Some(cx) = &report.counterexample {
        panic!(
            "{name}: {}: {}\n{}",
            cx.failure.property,
            cx.failure.detail,
            script(bounds, cx)
        );
    }
    assert!(report.complete, "{name}: bound not exhausted");
    report
}

#[test]
fn three_voters_with_a_write_and_a_goose_question_are_safe() {
    let report = exhaust("base", &ci(), &Options::bfs());
    assert!(report.states > 100_000, "the bound is not trivial");
}

#[test]
fn prevote_and_checkquorum_on_are_safe() {
    let bounds = Bounds {
        pre_vote: true,
        check_quorum: true,
        ..ci()
    };
    exhaust("prevote+checkquorum", &bounds, &Options::bfs());
}

#[test]
fn a_crash_and_restart_is_safe() {
    let bounds = Bounds {
        timeouts: 2,
        crashes: 1,
        ..ci()
    };
    exhaust("crash", &bounds, &Options::bfs());
}

#[test]
fn loss_and_duplication_are_safe() {
    let bounds = Bounds {
        timeouts: 2,
        loss: true,
        duplication: true,
        ..ci()
    };
    exhaust("loss+duplication", &bounds, &Options::bfs());
}

#[test]
fn membership_changes_two_to_three_and_back_are_safe() {
    let bounds = Bounds {
        voters: vec![1, 2],
        changes: 2,
        writes: 0,
        gooses: 0,
        ..ci()
    };
    exhaust("membership", &bounds, &Options::bfs());
}

#[test]
fn a_stable_network_always_leads_to_a_goose() {
    let bounds = Bounds {
        timeouts: 2,
        ..ci()
    };
    let options = Options {
        liveness_every: 1,
        ..Options::bfs()
    };
    let report = exhaust("goose eventually", &bounds, &options);
    assert_eq!(report.liveness_checks, report.states, "from every state");
}

/// Each variant, at a bound where breadth-first search finds it in seconds.
fn unsafe_bounds(variant: UnsafeVariant) -> Bounds {
    let base = Bounds {
        variant: Some(variant),
        writes: 0,
        gooses: 0,
        timeouts: 3,
        max_in_flight: 4,
        loss: false,
        ..Bounds::small()
    };
    match variant {
        UnsafeVariant::CommitEarlierTermByCount => Bounds {
            max_term: 4,
            timeouts: 4,
            max_in_flight: 2,
            max_entries_per_message: 1,
            ..base
        },
        UnsafeVariant::GrantTwoVotes => base,
        UnsafeVariant::ForgetVoteOnRestart => Bounds { crashes: 1, ..base },
        UnsafeVariant::SkipLogUpToDateCheck => Bounds {
            max_term: 2,
            ..base
        },
        UnsafeVariant::GooseWithoutRound => Bounds { gooses: 1, ..base },
    }
}

fn expected(variant: UnsafeVariant) -> &'static [&'static str] {
    match variant {
        UnsafeVariant::CommitEarlierTermByCount => &["leader completeness", "state machine safety"],
        UnsafeVariant::GrantTwoVotes | UnsafeVariant::ForgetVoteOnRestart => &["election safety"],
        UnsafeVariant::SkipLogUpToDateCheck => &["leader completeness", "state machine safety"],
        UnsafeVariant::GooseWithoutRound => &[
            "goose needs a quorum",
            "no stale goose",
            "one goose per term",
            "linearizable goose",
        ],
    }
}

fn catches(variant: UnsafeVariant) {
    let bounds = unsafe_bounds(variant);
    let options = Options {
        max_time: std::time::Duration::from_secs(60),
        ..Options::bfs()
    };
    let report = explore(&bounds, &options);
    let name = variant_name(variant);
    let cx = report
        .counterexample
        .unwrap_or_else(|| panic!("{name}: no counterexample in {} states", report.states));
    eprintln!(
        "{name}: {} after {} states, {} steps: {}",
        cx.failure.property,
        report.states,
        cx.path.len(),
        cx.failure.detail
    );
    assert!(
        expected(variant).contains(&cx.failure.property.as_str()),
        "{name}: caught as {}: {}",
        cx.failure.property,
        cx.failure.detail
    );
    let text = script(&bounds, &cx);
    assert!(text.starts_with("# Found by the model checker"), "{text}");
    assert!(text.contains("\nnet\n"), "{text}");
    eprintln!("{text}");
}

#[test]
fn commit_of_an_earlier_term_by_counting_is_caught() {
    catches(UnsafeVariant::CommitEarlierTermByCount);
}

#[test]
fn two_votes_in_one_term_are_caught() {
    catches(UnsafeVariant::GrantTwoVotes);
}

#[test]
fn forgetting_the_vote_on_restart_is_caught() {
    catches(UnsafeVariant::ForgetVoteOnRestart);
}

#[test]
fn skipping_the_log_check_is_caught() {
    catches(UnsafeVariant::SkipLogUpToDateCheck);
}

#[test]
fn goose_without_a_fresh_round_is_caught() {
    catches(UnsafeVariant::GooseWithoutRound);
}
