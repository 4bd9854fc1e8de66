//! The Raft paper, section by section, as scripts against single nodes (after etcd's
//! raft_paper_test.go). Each test names the rule it checks.

use duckgoose_core::{
    AppendResult, Body, Config, DenyReason, Event, Persisted, Raft, Role, RoleReason, Term,
};
use duckgoose_tests::*;

const IDS: [u64; 3] = [1, 2, 3];

fn no_pre_vote(id: u64) -> Config {
    Config {
        pre_vote: false,
        ..config(id)
    }
}

/// The paper's §5 protocol alone: no PreVote, no CheckQuorum (and so no leader stickiness).
fn plain(id: u64) -> Config {
    Config {
        pre_vote: false,
        check_quorum: false,
        ..config(id)
    }
}

/// Feeds a new leader acknowledgements of its no-op from `peers`, so they replicate.
fn ack_noop(r: &mut Raft, peers: &[u64]) {
    let (term, last) = (r.term(), r.log().last_index());
    for &peer in peers {
        r.step(msg(
            peer,
            r.id(),
            term,
            Body::AppendReply {
                round: 0,
                result: AppendResult::Accepted { match_index: last },
            },
        ));
    }
    r.drain();
}

// ---- §5.1: terms --------------------------------------------------------------------

/// §5.1: a node that sees a higher term adopts it and becomes a follower, whatever it was.
#[test]
fn every_role_adopts_a_higher_term_and_follows() {
    for start in [
        Role::Follower,
        Role::PreCandidate,
        Role::Candidate,
        Role::Leader,
    ] {
        let mut r = founder_with(no_pre_vote(1), &IDS);
        match start {
            Role::Follower => {}
            Role::PreCandidate => {
                r = founder(1, &IDS);
                time_out(&mut r);
            }
            Role::Candidate => {
                time_out(&mut r);
            }
            Role::Leader => {
                elect(&mut r);
            }
        }
        assert_eq!(r.role(), start);
        r.drain();
        r.step(append(2, 1, 5, (0, 0), vec![], 0));
        assert_eq!(r.role(), Role::Follower, "from {start:?}");
        assert_eq!(r.term(), 5);
        assert_eq!(r.leader(), Some(2));
        assert_eq!(r.voted_for(), None, "a new term has no vote yet");
    }
}

/// §5.1: a message from an older term is refused, and the sender is told our term.
#[test]
fn stale_term_messages_are_refused_with_our_term() {
    let mut r = with_log(1, &IDS, 3, &[]);
    r.step(append(2, 1, 2, (1, 0), vec![entry(2, 2)], 0));
    let ready = r.drain();
    assert_eq!(r.log().last_index(), 1, "nothing appended");
    assert_eq!(r.leader(), None);
    assert_eq!(ready.messages.len(), 1);
    assert_eq!(
        ready.messages[0].term, 3,
        "the stale leader learns the newer term"
    );
    assert!(matches!(
        ready.messages[0].body,
        Body::AppendReply {
            result: AppendResult::Rejected { .. },
            ..
        }
    ));
}

#[test]
fn nodes_start_as_followers() {
    let r = founder(1, &IDS);
    assert_eq!(r.role(), Role::Follower);
    assert_eq!(r.term(), 0);
    assert_eq!(
        r.commit_index(),
        1,
        "the bootstrap entry is committed by construction"
    );
}

/// §5.2: a leader sends heartbeats every heartbeat interval to every follower.
#[test]
fn leader_broadcasts_heartbeats_on_schedule() {
    let mut r = founder(1, &IDS);
    elect(&mut r);
    let now = r.now();
    r.tick(now + 49);
    assert!(
        of_kind(&r.drain().messages, "Heartbeat").is_empty(),
        "not yet"
    );
    r.tick(now + 50);
    let ready = r.drain();
    let beats: Vec<_> = ready
        .messages
        .iter()
        .filter(|m| matches!(m.body, Body::Append { .. }))
        .collect();
    let mut to: Vec<u64> = beats.iter().map(|m| m.to).collect();
    to.sort();
    assert_eq!(to, vec![2, 3]);
}

// ---- §5.2: leader election ----------------------------------------------------------

/// §5.2: on timeout a follower (or candidate) increments its term, votes for itself and
/// asks everyone else for a vote.
#[test]
fn timeout_starts_an_election() {
    for already_candidate in [false, true] {
        let mut r = founder_with(no_pre_vote(1), &IDS);
        if already_candidate {
            time_out(&mut r);
        }
        let term_before = r.term();
        let ready = time_out(&mut r);
        assert_eq!(r.role(), Role::Candidate);
        assert_eq!(r.term(), term_before + 1);
        assert_eq!(r.voted_for(), Some(1));
        assert_eq!(
            ready.hard_state.map(|h| h.term),
            Some(term_before + 1),
            "term and vote persisted"
        );
        let votes = of_kind(&ready.messages, "Vote");
        assert_eq!(votes.iter().map(|m| m.to).collect::<Vec<_>>(), vec![2, 3]);
        assert!(votes.iter().all(|m| m.term == term_before + 1));
    }
}

/// §5.2: a candidate wins with a majority, loses with a majority against, else waits.
#[test]
fn election_needs_a_majority_in_one_round() {
    // (cluster size, granted by others, denied by others, expected role)
    let cases = [
        (1, 0, 0, Role::Leader),
        (3, 1, 0, Role::Leader),
        (3, 2, 0, Role::Leader),
        (3, 0, 0, Role::Candidate),
        (5, 2, 0, Role::Leader),
        (5, 1, 0, Role::Candidate),
        (5, 1, 2, Role::Candidate),
        (5, 0, 3, Role::Follower),
        (5, 1, 3, Role::Follower),
    ];
    for (size, granted, denied, expected) in cases {
        let ids: Vec<u64> = (1..=size).collect();
        let mut r = founder_with(no_pre_vote(1), &ids);
        time_out(&mut r);
        let term = r.term();
        let mut voter = 2;
        for _ in 0..granted {
            r.step(msg(voter, 1, term, Body::VoteReply { granted: true }));
            voter += 1;
        }
        for _ in 0..denied {
            r.step(msg(voter, 1, term, Body::VoteReply { granted: false }));
            voter += 1;
        }
        assert_eq!(
            r.role(),
            expected,
            "size {size}, {granted} granted, {denied} denied"
        );
        assert_eq!(r.term(), term, "losing does not change the term");
    }
}

/// §5.2: at most one vote per term, first come first served; the same candidate may ask again.
#[test]
fn a_follower_votes_once_per_term() {
    // (already voted for, candidate, granted)
    for (voted, candidate, granted) in [(None, 2, true), (Some(2), 2, true), (Some(3), 2, false)] {
        let mut persisted = Persisted::bootstrap(duckgoose_core::Membership::from_ids(IDS));
        persisted.term = 1;
        persisted.voted_for = voted;
        let mut r = Raft::new(config(1), persisted, 1_000).unwrap();
        r.tick(1_000);
        r.drain();
        r.step(msg(
            candidate,
            1,
            1,
            Body::Vote {
                last_index: 1,
                last_term: 0,
                transfer: false,
            },
        ));
        let ready = r.drain();
        assert_eq!(
            ready.messages[0].body,
            Body::VoteReply { granted },
            "voted {voted:?}"
        );
        if !granted {
            assert!(ready.events.iter().any(|e| matches!(
                e,
                Event::VoteDenied {
                    reason: DenyReason::AlreadyVoted { voted_for: 3 },
                    ..
                }
            )));
        }
    }
}

/// §5.2: a candidate that hears from a leader of its term (or newer) becomes a follower.
#[test]
fn a_candidate_yields_to_a_legitimate_leader() {
    for leader_term in [1, 2] {
        let mut r = founder_with(no_pre_vote(1), &IDS);
        time_out(&mut r);
        assert_eq!(r.term(), 1);
        r.step(append(2, 1, leader_term, (0, 0), vec![], 0));
        assert_eq!(r.role(), Role::Follower);
        assert_eq!(r.term(), leader_term);
        assert_eq!(r.leader(), Some(2));
    }
}

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

// ---- §5.3: log replication ----------------------------------------------------------

/// §5.3: a proposal is appended to the leader's log and sent to every follower with the
/// right consistency check and commit index.
#[test]
fn leader_replicates_a_proposal() {
    let mut r = founder(1, &IDS);
    elect(&mut r);
    ack_noop(&mut r, &[2, 3]);
    let noop_index = r.log().last_index();
    let index = r.propose(put("x", "1")).unwrap();
    assert_eq!(index, noop_index + 1);
    let ready = r.drain();
    let write = ready.log_write.expect("persist the new entry");
    assert_eq!(write.entries.last().unwrap().index, index);
    let appends = of_kind(&ready.messages, "Append");
    assert_eq!(appends.len(), 2);
    for m in appends {
        let Body::Append {
            entries, commit, ..
        } = &m.body
        else {
            unreachable!()
        };
        assert_eq!(entries.last().unwrap().index, index);
        assert_eq!(*commit, noop_index, "the no-op is committed");
    }
}

/// §5.3: an entry commits once a majority stores it, and followers learn the commit index.
#[test]
fn leader_commits_once_a_majority_stores_the_entry() {
    let mut net = Net::new(&[1, 2, 3, 4, 5]);
    let leader = net.elect_someone(2_000);
    let index = net.node_mut(leader).propose(put("x", "1")).unwrap();
    net.settle();
    assert!(net.node(leader).commit_index() >= index);
    net.advance(50); // the next heartbeat carries the commit index
    for id in 1..=5 {
        assert!(net.node(id).commit_index() >= index, "node {id}");
    }
}

/// §5.3: which acknowledgements commit, for cluster sizes 1, 3 and 5.
#[test]
fn commit_needs_acknowledgements_from_a_majority() {
    for (size, acks, commits) in [
        (1, 0, true),
        (3, 0, false),
        (3, 1, true),
        (5, 1, false),
        (5, 2, true),
    ] {
        let ids: Vec<u64> = (1..=size).collect();
        let mut r = founder(1, &ids);
        elect(&mut r);
        let term = r.term();
        let index = r.propose(put("k", "v")).unwrap();
        r.drain();
        for peer in 2..2 + acks {
            r.step(msg(
                peer,
                1,
                term,
                Body::AppendReply {
                    round: 0,
                    result: AppendResult::Accepted { match_index: index },
                },
            ));
        }
        assert_eq!(
            r.commit_index() >= index,
            commits,
            "size {size}, {acks} acks"
        );
    }
}

/// §5.3: committing an entry commits every entry before it, including older terms'.
#[test]
fn committing_an_entry_commits_its_predecessors() {
    let mut r = with_log(1, &IDS, 2, &[1, 2]);
    elect(&mut r);
    let term = r.term();
    let last = r.log().last_index();
    r.drain();
    r.step(msg(
        2,
        1,
        term,
        Body::AppendReply {
            round: 0,
            result: AppendResult::Accepted { match_index: last },
        },
    ));
    assert_eq!(r.commit_index(), last);
    let committed: Vec<Term> = r.drain().committed.iter().map(|e| e.term).collect();
    assert_eq!(
        committed,
        vec![1, 2, term],
        "entries 2 and 3 (older terms) and our no-op"
    );
}

/// §5.3: a follower commits up to the leader's commit index, but only what it matches.
#[test]
fn follower_commits_what_the_leader_committed() {
    let mut r = founder(1, &IDS);
    r.step(append(2, 1, 1, (1, 0), vec![entry(2, 1), entry(3, 1)], 2));
    assert_eq!(r.commit_index(), 2);
    r.step(append(2, 1, 1, (3, 1), vec![], 9));
    assert_eq!(
        r.commit_index(),
        3,
        "never past the last entry known to match"
    );
    let committed = r.drain().committed;
    assert_eq!(
        committed.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // Entries past the ones an Append vouches for may still be another leader's.
    let mut stale = with_log(1, &IDS, 3, &[1, 2, 2]);
    stale.step(append(2, 1, 3, (2, 1), vec![], 9));
    assert_eq!(stale.commit_index(), 2, "entries 3 and 4 are unverified");
}

/// §5.3: a follower refuses entries that do not follow an entry matching prev_index/prev_term.
#[test]
fn follower_checks_the_previous_entry() {
    // Follower log: [1@0, 2@1, 3@2]
    for (prev, accepted) in [
        ((3, 2), true),
        ((2, 1), true),
        ((3, 3), false),
        ((4, 2), false),
        ((0, 0), true),
    ] {
        let mut r = with_log(1, &IDS, 2, &[1, 2]);
        // In term 3: a prev term above the message term is refused as impossible.
        r.step(append(2, 1, 3, prev, vec![], 0));
        let ready = r.drain();
        let reply = ready
            .messages
            .iter()
            .find(|m| m.kind() == "AppendReply")
            .unwrap();
        let Body::AppendReply { result, .. } = reply.body else {
            unreachable!()
        };
        assert_eq!(
            matches!(result, AppendResult::Accepted { .. }),
            accepted,
            "prev {prev:?}"
        );
    }
}

/// §5.3: conflicting entries (same index, other term) are deleted with all that follow;
/// entries already present are kept.
#[test]
fn follower_overwrites_conflicts_and_keeps_matches() {
    // Follower log: 2@1, 3@2. (prev, entries, expected terms after bootstrap)
    type Case = ((u64, u64), Vec<(u64, u64)>, Vec<u64>);
    let cases: Vec<Case> = vec![
        ((3, 2), vec![(4, 3)], vec![1, 2, 3]),
        ((2, 1), vec![(3, 3), (4, 4)], vec![1, 3, 4]),
        ((1, 0), vec![(2, 1)], vec![1, 2]),
        ((1, 0), vec![(2, 3)], vec![3]),
    ];
    for (prev, entries, expected) in cases {
        let mut r = with_log(1, &IDS, 4, &[1, 2]);
        let entries = entries.into_iter().map(|(i, t)| entry(i, t)).collect();
        r.step(append(2, 1, 4, prev, entries, 0));
        assert_eq!(log_terms(&r), expected, "prev {prev:?}");
    }
}

/// §5.3, Figure 7: a new leader brings every kind of divergent follower log to its own.
#[test]
fn leader_repairs_every_follower_of_figure_7() {
    // Figure 7's leader (term 8) and followers (a)–(f), as terms of entries 1..n of the
    // paper, here entries 2..n+1 after our bootstrap entry.
    let leader_log = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers: [&[Term]; 6] = [
        &[1, 1, 1, 4, 4, 5, 5, 6, 6],
        &[1, 1, 1, 4],
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
        &[1, 1, 1, 4, 4, 4, 4],
        &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ];
    // Node 1 times out first; the others wait long enough not to interfere.
    let first = Config {
        election_timeout_min: 150,
        election_timeout_max: 151,
        ..plain(1)
    };
    let patient = |id| Config {
        election_timeout_min: 1_000,
        election_timeout_max: 1_001,
        ..plain(id)
    };
    for (name, follower_log) in ('a'..).zip(followers) {
        let mut net = Net::new(&[1, 2, 3]);
        net.nodes
            .insert(1, with_log_config(first.clone(), &IDS, 7, &leader_log));
        net.nodes
            .insert(2, with_log_config(patient(2), &IDS, 7, follower_log));
        // Node 3 has the leader's log so that the leader can win with its vote.
        net.nodes
            .insert(3, with_log_config(patient(3), &IDS, 7, &leader_log));
        net.campaign(1);
        assert_eq!(net.node(1).role(), Role::Leader, "follower ({name})");
        assert_eq!(net.node(1).term(), 8);
        net.advance(200);
        assert_eq!(
            log_terms(net.node(2)),
            log_terms(net.node(1)),
            "follower ({name}) repaired"
        );
        assert_eq!(
            net.node(2).commit_index(),
            net.node(1).commit_index(),
            "follower ({name})"
        );
    }
}

// ---- §5.4: safety -------------------------------------------------------------------

/// Node 1 of `IDS` at term 2 with entries 2@2 and 3@2, running the paper's plain protocol.
fn voter_with_log_through_3_at_term_2() -> Raft {
    let mut persisted = Persisted::bootstrap(duckgoose_core::Membership::from_ids(IDS));
    persisted.log.push(entry(2, 2));
    persisted.log.push(entry(3, 2));
    persisted.term = 2;
    Raft::new(plain(1), persisted, 0).unwrap()
}

/// §5.4.1: votes go only to candidates whose log is at least as up-to-date as ours.
#[test]
fn votes_go_only_to_up_to_date_candidates() {
    // Voter log: 2@2, 3@2 (last 3@2). (candidate last index, last term, granted)
    for (last_index, last_term, granted) in [
        (3, 2, true),
        (4, 2, true),
        (2, 2, false),
        (2, 3, true),
        (9, 1, false),
        (1, 3, true),
    ] {
        let mut r = voter_with_log_through_3_at_term_2();
        r.step(msg(
            2,
            1,
            3,
            Body::Vote {
                last_index,
                last_term,
                transfer: false,
            },
        ));
        let ready = r.drain();
        let reply = ready
            .messages
            .iter()
            .find(|m| m.kind() == "VoteReply")
            .unwrap();
        assert_eq!(
            reply.body,
            Body::VoteReply { granted },
            "candidate last {last_index}@{last_term}"
        );
        if !granted {
            assert!(ready.events.iter().any(|e| matches!(
                e,
                Event::VoteDenied {
                    reason: DenyReason::LogBehind { .. },
                    ..
                }
            )));
        }
    }
}

/// §5.2, Figure 2's timer rules: a follower restarts its election timer when it hears from
/// the current leader or grants a vote, not when it merely learns a higher term. Found by
/// the long simulation (seeds 15994, 54298, without PreVote): a node whose log was behind
/// campaigned again and again, every refusal restarted the up-to-date nodes' timers, and
/// they barely ever got to campaign themselves.
#[test]
fn refusing_a_candidate_does_not_restart_the_election_timer() {
    for (candidate_last, granted) in [((2, 2), false), ((3, 2), true)] {
        let mut r = voter_with_log_through_3_at_term_2();
        let (_, fires) = r.election_timer().unwrap();
        r.tick(fires - 1);
        r.step(msg(
            2,
            1,
            3,
            Body::Vote {
                last_index: candidate_last.0,
                last_term: candidate_last.1,
                transfer: false,
            },
        ));
        let reply = r.drain().messages.pop().unwrap();
        assert_eq!(reply.body, Body::VoteReply { granted });
        assert_eq!(r.term(), 3, "the higher term is adopted either way");
        let (_, now_fires) = r.election_timer().unwrap();
        if granted {
            assert!(
                now_fires > fires,
                "granting a vote gives the candidate time"
            );
        } else {
            assert_eq!(now_fires, fires, "a refusal leaves the timer alone");
            r.tick(fires);
            assert_eq!((r.role(), r.term()), (Role::Candidate, 4));
        }
    }
}

/// §5.4.2, Figure 8: a leader never commits an older term's entry by counting replicas;
/// only once an entry of its own term is replicated.
#[test]
fn old_term_entries_are_not_committed_by_counting() {
    // Leader of term 3 holding 2@1, 3@2 (from earlier terms).
    let mut r = with_log(1, &[1, 2, 3, 4, 5], 2, &[1, 2]);
    elect(&mut r);
    let term = r.term();
    r.drain();
    // Majority stores entry 3 (term 2) but not our no-op.
    for peer in [2, 3] {
        r.step(msg(
            peer,
            1,
            term,
            Body::AppendReply {
                round: 0,
                result: AppendResult::Accepted { match_index: 3 },
            },
        ));
    }
    assert_eq!(
        r.commit_index(),
        1,
        "entry 3 is of term 2: not committed by counting"
    );
    for peer in [2, 3] {
        r.step(msg(
            peer,
            1,
            term,
            Body::AppendReply {
                round: 0,
                result: AppendResult::Accepted { match_index: 4 },
            },
        ));
    }
    assert_eq!(
        r.commit_index(),
        4,
        "the no-op of term {term} commits, and with it 2 and 3"
    );
}

/// §5.2 + thesis §9.6: with PreVote a timed-out node asks first and does not bump its term.
#[test]
fn pre_vote_does_not_bump_the_term() {
    let mut r = founder(1, &IDS);
    let ready = time_out(&mut r);
    assert_eq!(r.role(), Role::PreCandidate);
    assert_eq!(r.term(), 0);
    assert!(ready.hard_state.is_none(), "nothing to persist");
    let asks = of_kind(&ready.messages, "PreVote");
    assert_eq!(asks.len(), 2);
    assert!(asks.iter().all(|m| m.term == 1), "asks about the next term");
    // A majority says yes: now it really campaigns.
    r.step(msg(2, 1, 1, Body::PreVoteReply { granted: true }));
    assert_eq!(r.role(), Role::Candidate);
    assert_eq!(r.term(), 1);
    assert!(r.drain().events.iter().any(|e| matches!(
        e,
        Event::RoleChanged {
            role: Role::Candidate,
            reason: RoleReason::WonPreVote { votes: 2 },
            ..
        }
    )));
}
