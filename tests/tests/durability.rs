//! The persistence contract, enforced by the API: messages and committed entries come
//! only out of `advance(ready)`, the driver's acknowledgement that `ready`'s writes are
//! durable, and a leader counts its own entries toward commit only once acknowledged.
//! Also: `ready()` is a pure drain, and a batch proposal is one Append per follower.

use duckgoose_core::{
    AppendResult, Body, CompactError, Index, Kv, Membership, Message, Raft, Role, Round,
};
use duckgoose_tests::*;

fn appends_to(messages: &[Message], to: u64) -> Vec<&Message> {
    messages
        .iter()
        .filter(|m| m.to == to && matches!(m.body, Body::Append { .. }))
        .collect()
}

fn accept(from: u64, leader: &Raft, match_index: Index) -> Message {
    accept_round(from, leader, match_index, 0)
}

fn accept_round(from: u64, leader: &Raft, match_index: Index, round: Round) -> Message {
    msg(
        from,
        leader.id(),
        leader.term(),
        Body::AppendReply {
            round,
            result: AppendResult::Accepted { match_index },
        },
    )
}

/// The confirmation round an Append to `to` belongs to.
fn round_to(messages: &[Message], to: u64) -> Round {
    messages
        .iter()
        .find_map(|m| match m.body {
            Body::Append { round, .. } if m.to == to => Some(round),
            _ => None,
        })
        .expect("an Append to the follower")
}

/// Leader 1 of {1, 2, 3}, its no-op committed by follower 2, which also acknowledged
/// the no-op's round: no round in flight.
fn leader_of_three() -> Raft {
    let mut r = founder(1, &[1, 2, 3]);
    let elected = elect(&mut r);
    let noop = r.log().last_index();
    let round = round_to(&elected.messages, 2);
    r.step(accept_round(2, &r, noop, round));
    r.drain();
    assert_eq!(r.commit_index(), noop, "the no-op committed");
    r
}

#[test]
fn a_leader_does_not_count_its_own_entry_until_the_write_is_acknowledged() {
    let mut r = leader_of_three();
    let index = r.propose(put("x", "1")).unwrap();
    // The driver starts the write but has not acknowledged it yet (a slow fsync)...
    let slow = r.ready();
    assert!(slow.log_write.is_some(), "the new entry is to be written");
    // ... while time passes: the next heartbeat carries the entry to the followers.
    r.tick(r.next_deadline());
    let beat = r.drain();
    assert_eq!(appends_to(&beat.messages, 2).len(), 1);
    // Follower 2 has it. Leader + follower 2 is a quorum of three only if the leader's
    // own copy is durable: it is not yet, so nothing commits.
    r.step(accept(2, &r, index));
    r.drain();
    assert!(r.commit_index() < index, "one follower is not a quorum");
    // The write lands: now it commits, and the entry is released to apply.
    let released = r.advance(slow);
    assert_eq!(r.commit_index(), index);
    assert_eq!(released.committed.last().map(|e| e.index), Some(index));
}

#[test]
fn two_followers_commit_even_while_the_leaders_write_is_pending() {
    let mut r = leader_of_three();
    let index = r.propose(put("x", "1")).unwrap();
    let slow = r.ready();
    r.tick(r.next_deadline());
    r.drain();
    r.step(accept(2, &r, index));
    r.step(accept(3, &r, index));
    assert_eq!(r.commit_index(), index, "followers 2 and 3 are a quorum");
    // Committed, but not applied here before this node's own copy is durable.
    assert!(r.drain().committed.is_empty());
    let released = r.advance(slow);
    assert_eq!(released.committed.last().map(|e| e.index), Some(index));
}

#[test]
fn a_single_node_commits_only_after_the_acknowledgement() {
    let mut r = founder(1, &[1]);
    let (_, deadline) = r.election_timer().unwrap();
    r.tick(deadline);
    assert_eq!(r.role(), Role::Leader);
    let noop = r.log().last_index();
    assert!(r.commit_index() < noop, "its no-op is not durable yet");
    let released = r.drain();
    assert_eq!(r.commit_index(), noop);
    assert_eq!(released.committed.last().map(|e| e.index), Some(noop));

    r.drain(); // the no-op's Committed event
    assert!(!r.has_ready());

    let index = r.propose(put("x", "1")).unwrap();
    assert!(r.has_ready(), "the entry waits to be written");
    let ready = r.ready();
    assert!(r.commit_index() < index, "proposed, not yet durable");
    assert!(ready.log_write.is_some());
    assert_eq!(ready.events, vec![], "nothing else to report");
    let released = r.advance(ready);
    assert_eq!(r.commit_index(), index, "durable, and a quorum of one");
    assert_eq!(released.committed.len(), 1);
    assert!(
        r.has_ready(),
        "the Committed event waits for the next ready()"
    );
    r.drain();
    assert!(!r.has_ready());

    // Only what was handed out may be compacted: not an entry still to be written.
    let unwritten = r.propose(put("y", "2")).unwrap();
    assert_eq!(
        r.compact(unwritten, Vec::new()),
        Err(CompactError::NotApplied { applied: index })
    );
    r.drain();
    // A compaction leaves a snapshot to persist, and nothing else.
    r.compact(index, Vec::new()).unwrap();
    assert!(r.has_ready(), "the snapshot waits to be written");
    let ready = r.ready();
    assert_eq!(ready.snapshot.as_ref().map(|s| s.index), Some(index));
    assert!(ready.log_write.is_none() && ready.hard_state.is_none());
    r.advance(ready);
    assert!(!r.has_ready());
}

#[test]
fn a_follower_applies_and_replies_only_after_its_write() {
    let mut r = founder(2, &[1, 2, 3]);
    r.step(append(1, 2, 1, (1, 0), vec![entry(2, 1), entry(3, 1)], 3));
    assert_eq!(r.commit_index(), 3);
    let ready = r.ready();
    assert_eq!(ready.log_write.as_ref().map(|w| w.entries.len()), Some(2));
    assert_eq!(
        ready.message_count(),
        1,
        "the acceptance waits inside the Ready"
    );
    let released = r.advance(ready);
    assert!(matches!(
        released.messages[0].body,
        Body::AppendReply {
            result: AppendResult::Accepted { match_index: 3 },
            ..
        }
    ));
    let applied: Vec<Index> = released.committed.iter().map(|e| e.index).collect();
    assert_eq!(applied, vec![1, 2, 3]);
}

#[test]
fn ready_only_drains_what_the_inputs_queued() {
    let mut r = leader_of_three();
    assert!(!r.has_ready());
    assert!(r.drain().messages.is_empty());
    // A goose query starts its round at once, not in ready().
    r.confirm_leadership(7);
    assert!(r.has_ready(), "the round's heartbeats are queued");
    let ready = r.ready();
    assert_eq!(ready.message_count(), 2, "one heartbeat to each follower");
    let out = r.advance(ready);
    assert_eq!(appends_to(&out.messages, 2).len(), 1);
    assert_eq!(appends_to(&out.messages, 3).len(), 1);
    assert!(!r.has_ready());
    assert!(
        r.drain().messages.is_empty(),
        "a second ready() finds nothing"
    );
}

/// A driver may take a `Ready` and step more input before it acknowledges it. If that
/// input replaces durable entries, the replaced indexes stop counting as durable at once:
/// acknowledging the older `Ready` must not hand out the newer, unwritten entry.
#[test]
fn entries_replaced_while_a_ready_is_in_flight_are_not_durable() {
    let mut r = founder(2, &[1, 2, 3]);
    r.step(append(1, 2, 1, (1, 0), vec![entry(2, 1), entry(3, 1)], 1));
    r.drain(); // entries 2 and 3 of term 1 are durable
    // Leader 1 sends a heartbeat; the driver takes the Ready with the reply...
    r.step(append(1, 2, 1, (3, 1), vec![], 1));
    let in_flight = r.ready();
    // ... and before acknowledging it, leader 3 of term 2 replaces entry 2 and commits it.
    r.step(append(3, 2, 2, (1, 0), vec![entry(2, 2)], 2));
    assert_eq!(r.commit_index(), 2);
    let released = r.advance(in_flight);
    assert!(
        released.committed.is_empty(),
        "2@2 is committed but not yet written here: {:?}",
        released.committed
    );
    let released = r.drain();
    let handed: Vec<(Index, u64)> = released
        .committed
        .iter()
        .map(|e| (e.index, e.term))
        .collect();
    assert_eq!(handed, vec![(2, 2)], "handed out once written");
}

/// A snapshot installed while a `Ready` is in flight: acknowledging the older `Ready`
/// hands out no entry, not even ones committed after the snapshot's index (the next
/// `Ready` releases the snapshot, for the application to restore first, then them).
#[test]
fn a_snapshot_installed_while_a_ready_is_in_flight_is_released_before_any_entry() {
    let mut r = founder(2, &[1, 2, 3]);
    let entries = (2..=7).map(|i| entry(i, 1)).collect();
    r.step(append(1, 2, 1, (1, 0), entries, 1));
    r.drain(); // entries 2 to 7 durable, only 1 committed
    r.step(append(1, 2, 1, (7, 1), vec![], 3));
    let in_flight = r.ready(); // commit 3 is known, not yet handed out
    let mut kv = Kv::default();
    for index in 1..=5 {
        kv.apply(&entry(index, 1));
    }
    r.step(msg(
        1,
        2,
        1,
        Body::InstallSnapshot {
            index: 5,
            snapshot_term: 1,
            membership: Membership::from_ids([1, 2, 3]),
            offset: 0,
            data: kv.encode(),
            done: true,
            round: 2,
        },
    ));
    r.step(append(1, 2, 1, (7, 1), vec![], 7));
    assert_eq!(r.commit_index(), 7);
    let released = r.advance(in_flight);
    assert!(released.committed.is_empty(), "{:?}", released.committed);
    assert!(
        released.snapshot.is_none(),
        "the install rides the next Ready"
    );
    let ready = r.ready();
    let released = r.advance(ready);
    assert_eq!(released.snapshot.map(|s| s.index), Some(5));
    let applied: Vec<Index> = released.committed.iter().map(|e| e.index).collect();
    assert_eq!(applied, vec![6, 7], "after the snapshot, in order");
}

#[test]
fn goose_queries_that_arrive_during_a_round_share_the_next_one() {
    let mut r = leader_of_three();
    let last = r.log().last_index();
    r.confirm_leadership(1);
    let first = r.drain();
    let round = round_to(&first.messages, 2);
    // While that round is in flight, more queries arrive: no new round yet.
    r.confirm_leadership(2);
    r.confirm_leadership(3);
    assert!(
        r.drain().messages.is_empty(),
        "no second round while one is in flight"
    );
    // Follower 2 confirms the first round: query 1 is answered goose, and the next round
    // starts at once for queries 2 and 3 (which arrived after round 1 started, so round 1
    // proves nothing for them).
    r.step(accept_round(2, &r, last, round));
    let out = r.drain();
    let answered: Vec<u64> = out.reads.iter().map(|a| a.ctx).collect();
    assert_eq!(answered, vec![1]);
    assert!(out.reads[0].result.is_ok(), "query 1 is goose");
    let next = round_to(&out.messages, 2);
    assert_eq!(next, round + 1, "one new round for both waiting queries");
    assert_eq!(appends_to(&out.messages, 3).len(), 1);
    r.step(accept_round(3, &r, last, next));
    let out = r.drain();
    let answered: Vec<u64> = out.reads.iter().map(|a| a.ctx).collect();
    assert_eq!(answered, vec![2, 3]);
    assert!(out.reads.iter().all(|a| a.result.is_ok()));
}

#[test]
fn a_batch_proposal_is_one_append_per_follower() {
    let mut r = leader_of_three();
    let last = r.log().last_index();
    r.step(accept(3, &r, last));
    r.drain();
    let indexes = r
        .propose_batch((0..10).map(|i| put("k", &i.to_string())))
        .unwrap();
    assert_eq!(indexes, last + 1..last + 11);
    let out = r.drain();
    for follower in [2, 3] {
        let appends = appends_to(&out.messages, follower);
        assert_eq!(appends.len(), 1, "follower {follower}");
        let Body::Append { entries, .. } = &appends[0].body else {
            unreachable!()
        };
        assert_eq!(entries.len(), 10);
    }
    assert_eq!(out.log_write.map(|w| w.entries.len()), Some(10));
}

#[test]
fn a_batch_with_a_config_entry_is_refused_whole() {
    let mut r = leader_of_three();
    let last = r.log().last_index();
    let membership = r.membership().clone();
    let batch = vec![put("a", "1"), duckgoose_core::Command::Config(membership)];
    assert_eq!(
        r.propose_batch(batch),
        Err(duckgoose_core::ProposeError::ConfigViaChangeOnly)
    );
    assert_eq!(r.log().last_index(), last, "nothing appended");
}

#[test]
fn leader_only_inputs_at_a_follower_are_refused_explicitly() {
    let mut r = founder(2, &[1, 2, 3]);
    assert!(matches!(
        r.propose_batch([put("a", "1")]),
        Err(duckgoose_core::ProposeError::NotLeader { .. })
    ));
    assert!(r.transfer_leadership(3).is_err());
    r.confirm_leadership(9);
    let out = r.drain();
    assert!(matches!(
        out.reads.as_slice(),
        [duckgoose_core::ReadOutcome {
            ctx: 9,
            result: Err(_)
        }]
    ));
    // A reply to a leadership it does not hold is dropped without effect.
    r.step(msg(
        3,
        2,
        0,
        Body::AppendReply {
            round: 5,
            result: AppendResult::Accepted { match_index: 1 },
        },
    ));
    assert!(r.drain().messages.is_empty());
    assert_eq!(r.role(), Role::Follower);
}
