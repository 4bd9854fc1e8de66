//! Messages no correct peer can send, found by fuzzing the step function (`fuzz/`,
//! target `raft_step`): they must be refused, never obeyed and never panic the node
//! (these tests run with debug assertions on, where both used to trip an assertion).

use duckgoose_core::message::Malformed;
use duckgoose_core::{Body, Event, MAX_TERM, Role};
use duckgoose_tests::*;

fn refused(events: &[Event], reason: Malformed) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::MessageRefused { reason: r, .. } if *r == reason))
}

#[test]
fn a_leader_refuses_an_append_for_its_own_term() {
    let mut leader = founder(1, &[1, 2, 3]);
    elect(&mut leader);
    assert_eq!(leader.role(), Role::Leader);
    let term = leader.term();
    let before = leader.log().entries().to_vec();
    // "Node 2" claims to lead the same term.
    leader.step(append(2, 1, term, (1, 0), vec![entry(2, term)], 2));
    let ready = leader.drain();
    assert!(refused(&ready.events, Malformed::SecondLeader));
    assert_eq!(leader.role(), Role::Leader);
    assert_eq!(leader.term(), term);
    assert_eq!(leader.log().entries(), &before[..], "log untouched");
    assert!(ready.log_write.is_none());
    assert!(
        of_kind(&ready.messages, "AppendReply").is_empty(),
        "no reply to the forger"
    );
}

#[test]
fn a_follower_refuses_entries_that_contradict_committed_ones() {
    // Node 3 follows leader 1 in term 2 and learns that entries through 3 are committed.
    let mut node = founder(3, &[1, 2, 3]);
    node.step(append(
        1,
        3,
        2,
        (1, 0),
        vec![entry(2, 2), entry(3, 2), entry(4, 2)],
        3,
    ));
    let ready = node.drain();
    assert_eq!(node.commit_index(), 3);
    assert_eq!(ready.committed.len(), 3, "entries 1..=3 applied");
    let before = node.log().entries().to_vec();

    // "Node 2", claiming a newer term, sends entries that rewrite committed index 2.
    node.step(append(2, 3, 3, (1, 0), vec![entry(2, 3), entry(3, 3)], 3));
    let ready = node.drain();
    assert!(refused(&ready.events, Malformed::ContradictsCommitted));
    assert_eq!(node.log().entries(), &before[..], "committed entries kept");
    assert!(ready.log_write.is_none());
    assert!(of_kind(&ready.messages, "AppendReply").is_empty());

    // A correct leader of that term, extending the committed prefix, is followed.
    node.step(append(2, 3, 3, (4, 2), vec![entry(5, 3)], 4));
    let ready = node.drain();
    assert!(!refused(&ready.events, Malformed::ContradictsCommitted));
    assert_eq!(node.log().last_index(), 5);
    assert_eq!(node.commit_index(), 4);
    let replies = of_kind(&ready.messages, "AppendReply");
    assert!(matches!(
        replies[0].body,
        Body::AppendReply {
            result: duckgoose_core::AppendResult::Accepted { match_index: 5 },
            ..
        }
    ));
}

#[test]
fn a_term_no_correct_node_reaches_is_refused_so_terms_never_overflow() {
    // Found by fuzzing peer batches: a TimeoutNow claiming term u64::MAX made the node
    // adopt it and campaign at u64::MAX + 1 (an overflow; in release builds, term 0).
    for (term, body) in [
        (u64::MAX, Body::TimeoutNow),
        (MAX_TERM + 1, Body::VoteReply { granted: false }),
        (
            u64::MAX,
            Body::PreVote {
                last_index: 9,
                last_term: 9,
            },
        ),
    ] {
        let mut node = founder(2, &[1, 2, 3]);
        node.step(msg(1, 2, term, body));
        let ready = node.drain();
        assert!(refused(&ready.events, Malformed::TermOutOfRange));
        assert_eq!(node.term(), 0, "the term was not adopted");
        assert_eq!(node.role(), Role::Follower);
        assert!(ready.messages.is_empty(), "no reply, no campaign");
    }
    // The largest allowed term is adopted, and campaigning from it does not overflow.
    let mut node = founder(2, &[1, 2, 3]);
    node.step(msg(1, 2, MAX_TERM, Body::TimeoutNow));
    let ready = node.drain();
    assert!(!refused(&ready.events, Malformed::TermOutOfRange));
    assert_eq!(node.role(), Role::Candidate);
    assert_eq!(node.term(), MAX_TERM + 1);
}

#[test]
fn a_log_position_no_sender_has_is_refused() {
    // Found by fuzzing peer batches: an Append with prev (index 0, term 3) reached the
    // conflict hint, which walked below index 1 (an overflow under debug assertions).
    let impossible = [
        (3, append(1, 2, 3, (0, 3), vec![], 0).body),
        (3, append(1, 2, 3, (1, 4), vec![], 0).body),
        (
            3,
            Body::Vote {
                last_index: 0,
                last_term: 2,
                transfer: false,
            },
        ),
        (
            3,
            Body::PreVote {
                last_index: 5,
                last_term: 4,
            },
        ),
    ];
    for (term, body) in impossible {
        let mut node = founder(2, &[1, 2, 3]);
        let before = node.log().entries().to_vec();
        node.step(msg(1, 2, term, body.clone()));
        let ready = node.drain();
        assert!(
            refused(&ready.events, Malformed::ImpossibleLogPosition),
            "{body:?} refused"
        );
        assert_eq!(node.term(), 0, "the term of {body:?} was not adopted");
        assert_eq!(node.log().entries(), &before[..]);
        assert!(ready.messages.is_empty(), "no reply to {body:?}");
    }
    // The same positions a correct sender has are obeyed.
    let mut node = founder(2, &[1, 2, 3]);
    node.step(append(1, 2, 3, (1, 0), vec![entry(2, 3)], 0));
    let ready = node.drain();
    assert!(!refused(&ready.events, Malformed::ImpossibleLogPosition));
    assert_eq!(node.term(), 3);
    assert_eq!(node.log().last_index(), 2);
}
