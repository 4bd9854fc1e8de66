//! The Raft paper's checks that are properties over many seeds, which a script cannot
//! say. Everything else of the paper, section by section, is in `tests/testdata/`
//! (`terms.txt`, `election.txt`, `log_replication.txt`, `figure7.txt`, `safety.txt`),
//! run by `tests/tests/scripts.rs`.

use duckgoose_core::Config;
use duckgoose_tests::*;

const IDS: [u64; 3] = [1, 2, 3];

/// §5.2: election timeouts are random within [min, max): different seeds, different timeouts.
#[test]
fn election_timeouts_are_randomized_within_bounds() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let r = founder_with(Config::new(1, seed), &IDS);
        let (armed, fires) = r.election_timer().unwrap();
        let timeout = fires - armed;
        assert!((150..300).contains(&timeout), "{timeout}");
        seen.insert(timeout);
    }
    assert!(
        seen.len() > 50,
        "timeouts spread out: {} distinct",
        seen.len()
    );
}

/// §5.2: with randomized timeouts, nodes rarely time out together, so split votes are rare.
#[test]
fn simultaneous_timeouts_are_rare() {
    let mut collisions = 0;
    for round in 0..500u64 {
        let deadlines: Vec<u64> = (1..=5)
            .map(|id| {
                founder_with(Config::new(id, round * 31 + id), &[1, 2, 3, 4, 5])
                    .election_timer()
                    .unwrap()
                    .1
            })
            .collect();
        let first = *deadlines.iter().min().unwrap();
        // Within one network latency of the first: a real chance of a split vote.
        if deadlines.iter().filter(|&&d| d < first + 10).count() > 1 {
            collisions += 1;
        }
    }
    assert!(
        collisions < 250,
        "{collisions} of 500 rounds had near-simultaneous timeouts"
    );
}
