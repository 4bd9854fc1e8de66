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

/// A run in the core's serde JSON form (what `replay` also reads) is the same run as its
/// text form, action for action, and replays to the same trace.
#[test]
fn the_serde_json_form_replays_like_the_text_form() {
    let text = "duckgoose 1 nodes=5 seed=11 heartbeat=50 election=150-300 prevote=1 checkquorum=1 latency=10-15 loss=0 dup=0 timeout=1000 notices=1 compact=8/1000/16
300 partition 1,2/3,4,5
500 request 3 put a%20b 1
700 link 1 3 cut
900 heal
1000 network 5-40 50000 10000
1100 linkfaults 4 5 1-90 500000 0
1200 crash 2
1400 restart 2
1500 pause 4
1700 resume 4
1800 add 6
2500 request 1 goose
2600 clock 3 1.5
2700 closed 1 2
3000 transfer 5
3500 remove 6
3600 linkfaults 4 5 reset
";
    let scenario = duckgoose_sim::text::parse_scenario(text).expect("a valid scenario");
    assert_eq!(scenario.actions.len(), 17);
    let json = serde_json::to_string(&scenario).expect("serializes");
    let back: duckgoose_sim::scenario::Scenario = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, scenario);
    let until = 6_000;
    let by_text = duckgoose_sim::scenario::replay_hash(&scenario, until).expect("replays");
    let by_json = duckgoose_sim::scenario::replay_hash(&back, until).expect("replays");
    assert_eq!(by_json, by_text);
    assert!(by_text.1 > 500, "a real run: {} node events", by_text.1);
}
