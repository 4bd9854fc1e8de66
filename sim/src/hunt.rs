//! Counterexample hunts: seed after seed of a cluster whose nodes all run one deliberately
//! broken rule (`UnsafeVariant`), each seed under a short nemesis schedule chosen to break
//! that rule, until the checker catches an invariant failing. The failing seed becomes a
//! scenario (its config, with `break=…`, and every action applied before the failure, at
//! its time) that replays to the same failure at the same moment, natively and in the page.
//!
//! The clusters run plain Raft, as RaftScope does (no PreVote, no CheckQuorum), with
//! RaftScope's timings: the broken rules are then all that stands between the cluster and
//! the failure, and the leader stickiness of CheckQuorum cannot mask a forgotten vote.

use alloc::string::String;

use duckgoose_core::{Millis, UnsafeVariant};

use crate::checker::Invariant;
use crate::nemesis::{self, FaultMix, NemesisConfig};
use crate::network::LinkFaults;
use crate::scenario::Scenario;
use crate::trace::{TraceKind, TraceMode};
use crate::{Cluster, SimConfig};

/// Nodes in every hunted cluster.
pub const NODES: u32 = 5;

/// The cluster and schedule a hunt for `variant` runs seed `seed` with. Each schedule is
/// ten virtual seconds of client load and frequent faults of the kinds that variant
/// needs; the rates in the comments are measured over seeds 1 to 500
/// (`tests/tests/hunt.rs` prints how many seeds a hunt takes).
pub fn setup(variant: UnsafeVariant, seed: u64) -> (SimConfig, NemesisConfig) {
    let calm = SimConfig {
        pre_vote: false,
        check_quorum: false,
        unsafe_variant: Some(variant),
        ..SimConfig::raftscope(NODES, seed)
    };
    // Latency from 1 to 80 ms: messages overtake each other, so votes and appends land
    // in the orders the broken rules need (10–15 ms finds Figure 8 a tenth as often).
    let jittery = SimConfig {
        network: LinkFaults {
            latency_min: 1,
            latency_max: 80,
            ..LinkFaults::CALM
        },
        ..calm.clone()
    };
    let base = NemesisConfig {
        duration: 10_000,
        clients: 3,
        keys: 3,
        think_time: 100,
        fault_interval: 300,
        membership_changes: false,
        transfers: false,
        recovery_bound: 0,
        spurious_close_interval: 0,
        mix: FaultMix::NONE,
    };
    match variant {
        // Figure 8: a leader gets an entry onto a minority and dies; a leader of a later
        // term writes its own entry at that index and dies; the first comes back, wins,
        // and copies its old entry to a majority, which this rule counts as committed;
        // it dies before its own no-op follows, and the second wins and overwrites the
        // "committed" entry. One entry per Append: with the default 64, the old entry and
        // the new leader's no-op travel in one message and counting agrees with the real
        // rule (no seed of 500 fails). Killing the leader is the fault that matters:
        // 69 of 500 seeds fail.
        UnsafeVariant::CommitEarlierTermByCount => (
            SimConfig {
                max_entries_per_message: Some(1),
                ..jittery
            },
            NemesisConfig {
                clients: 6,
                think_time: 20,
                fault_interval: 50,
                mix: FaultMix {
                    crash_leader: 30,
                    crash: 10,
                    restart: 40,
                    cut_link: 10,
                    heal: 10,
                    ..FaultMix::NONE
                },
                ..base
            },
        ),
        // Two candidates of one term each collect a majority: every new election can
        // split so (500 of 500 seeds fail, most in the first election).
        UnsafeVariant::GrantTwoVotes => (
            jittery,
            NemesisConfig {
                fault_interval: 100,
                mix: FaultMix {
                    crash_leader: 40,
                    restart: 60,
                    ..FaultMix::NONE
                },
                ..base
            },
        ),
        // A voter crashes and restarts between a candidate's vote request and a rival's
        // delayed one of the same term: restarts must come within tens of ms of crashes
        // (48 of 500 seeds fail).
        UnsafeVariant::ForgetVoteOnRestart => (
            jittery,
            NemesisConfig {
                fault_interval: 15,
                mix: FaultMix {
                    crash_leader: 20,
                    crash: 10,
                    restart: 70,
                    ..FaultMix::NONE
                },
                ..base
            },
        ),
        // A node cut off while the others commit comes back with a higher term and is
        // elected without the committed entries (397 of 500 seeds fail).
        UnsafeVariant::SkipLogUpToDateCheck => (
            calm,
            NemesisConfig {
                mix: FaultMix {
                    isolate_leader: 30,
                    partition: 20,
                    crash: 15,
                    restart: 15,
                    heal: 20,
                    ..FaultMix::NONE
                },
                ..base
            },
        ),
        // A leader answers goose without a round: caught on the first answer, or when
        // an isolated leader answers after a new one was elected (457 of 500 seeds).
        UnsafeVariant::GooseWithoutRound => (
            calm,
            NemesisConfig {
                mix: FaultMix {
                    isolate_leader: 40,
                    heal: 30,
                    crash: 15,
                    restart: 15,
                    ..FaultMix::NONE
                },
                ..base
            },
        ),
    }
}

/// The invariants a counterexample of `variant` breaks first (the checker may catch the
/// same failure as any of these, depending on which step shows it first).
pub fn expected_invariants(variant: UnsafeVariant) -> &'static [Invariant] {
    match variant {
        UnsafeVariant::CommitEarlierTermByCount | UnsafeVariant::SkipLogUpToDateCheck => &[
            Invariant::LeaderCompleteness,
            Invariant::StateMachineSafety,
            Invariant::LogMatching,
            Invariant::NoCommittedEntryLost,
        ],
        // Two leaders of one term: the second one's no-op differs from the first one's
        // entry at the same index and term, and that write is checked in the same step,
        // just before the election.
        UnsafeVariant::GrantTwoVotes | UnsafeVariant::ForgetVoteOnRestart => {
            &[Invariant::ElectionSafety, Invariant::LogMatching]
        }
        UnsafeVariant::GooseWithoutRound => &[
            Invariant::GooseNeedsAQuorum,
            Invariant::NoStaleGoose,
            Invariant::OneGoosePerTerm,
            Invariant::LinearizableGoose,
        ],
    }
}

/// The first invariant a run broke, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub invariant: Invariant,
    pub detail: String,
    /// Virtual ms.
    pub at: Millis,
}

fn first_failure(cluster: &Cluster) -> Option<Failure> {
    let v = cluster.violations().first()?;
    Some(Failure {
        invariant: v.invariant,
        detail: v.detail.clone(),
        at: cluster.first_violation_at()?,
    })
}

/// Runs one seed without a trace until its schedule ends or an invariant fails. Returns
/// the failure, if any, and the virtual ms simulated.
pub fn run_seed(sim: SimConfig, schedule: &NemesisConfig) -> (Option<Failure>, Millis) {
    let mut cluster = Cluster::new(sim, TraceMode::Off);
    nemesis::drive(&mut cluster, schedule);
    (first_failure(&cluster), cluster.now())
}

/// A seed that broke an invariant, as a run anyone can replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    pub seed: u64,
    pub failure: Failure,
    /// The config and every action applied before the failure: replayed to
    /// `failure.at`, it fails the same way at the same moment.
    pub scenario: Scenario,
}

/// Runs a failing seed again with its trace kept and turns it into a scenario. `None` if
/// the seed does not fail, or if its scenario does not replay to the same failure at the
/// same moment (the hunt then moves on rather than show a run that does not fail).
pub fn counterexample(sim: SimConfig, schedule: &NemesisConfig) -> Option<Counterexample> {
    let seed = sim.seed;
    let mut cluster = Cluster::new(sim.clone(), TraceMode::Record);
    nemesis::drive(&mut cluster, schedule);
    let failure = first_failure(&cluster)?;
    // What the nemesis did before the failure; its later actions change nothing shown.
    let actions = cluster
        .trace()
        .events()
        .iter()
        .take_while(|e| !matches!(e.kind, TraceKind::Violation { .. }))
        .filter_map(|e| match &e.kind {
            TraceKind::Action { action } => Some((e.at, action.clone())),
            _ => None,
        })
        .collect();
    let scenario = Scenario {
        config: sim,
        actions,
    };
    let replayed = scenario.replay(failure.at, TraceMode::Off);
    (first_failure(&replayed).as_ref() == Some(&failure)).then_some(Counterexample {
        seed,
        failure,
        scenario,
    })
}

/// A hunt in progress: seeds from a starting one, in order, until one fails. Runs in
/// slices (`run`) so that a caller can report progress, or stop, between them.
#[derive(Clone, Debug)]
pub struct Hunt {
    variant: UnsafeVariant,
    next_seed: u64,
    seeds_tried: u64,
    simulated_ms: u64,
}

impl Hunt {
    pub fn new(variant: UnsafeVariant, first_seed: u64) -> Hunt {
        Hunt {
            variant,
            next_seed: first_seed,
            seeds_tried: 0,
            simulated_ms: 0,
        }
    }

    pub fn variant(&self) -> UnsafeVariant {
        self.variant
    }

    /// The seed the next slice starts with.
    pub fn next_seed(&self) -> u64 {
        self.next_seed
    }

    pub fn seeds_tried(&self) -> u64 {
        self.seeds_tried
    }

    /// Virtual ms simulated so far, over every seed tried.
    pub fn simulated_ms(&self) -> u64 {
        self.simulated_ms
    }

    /// Runs whole seeds until one fails (returned) or this call has simulated at least
    /// `budget_ms` virtual ms.
    pub fn run(&mut self, budget_ms: Millis) -> Option<Counterexample> {
        let start = self.simulated_ms;
        while self.simulated_ms - start < budget_ms.max(1) {
            let seed = self.next_seed;
            self.next_seed += 1;
            self.seeds_tried += 1;
            let (sim, schedule) = setup(self.variant, seed);
            let (failure, simulated) = run_seed(sim.clone(), &schedule);
            self.simulated_ms += simulated;
            if failure.is_some()
                && let Some(found) = counterexample(sim, &schedule)
            {
                return Some(found);
            }
        }
        None
    }
}
