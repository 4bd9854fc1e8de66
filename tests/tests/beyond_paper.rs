//! The checks etcd keeps beside the paper tests: CheckQuorum, PreVote, leadership
//! transfer, one-at-a-time membership changes, and our goose query.

use duckgoose_core::{
    AppendResult, Body, Config, DuckReason, Event, Member, MembershipChange, ProposeError,
    ReadOutcome, Role,
};
use duckgoose_tests::*;

fn goose_answers(net: &Net, node: u64) -> Vec<Result<u64, DuckReason>> {
    net.reads
        .iter()
        .filter(|(n, _)| *n == node)
        .map(|(_, ReadOutcome { result, .. })| result.map(|c| c.term))
        .collect()
}

/// CheckQuorum: a leader that hears from no quorum for an election timeout steps down.
#[test]
fn leader_steps_down_when_it_loses_its_quorum() {
    let mut net = Net::new(&[1, 2, 3, 4, 5]);
    let leader = net.elect_someone(2_000);
    let term = net.node(leader).term();
    net.isolate(leader);
    let cut_at = net.now;
    net.advance(149);
    assert_eq!(
        net.node(leader).role(),
        Role::Leader,
        "still inside the window"
    );
    net.advance(200);
    assert_ne!(
        net.node(leader).role(),
        Role::Leader,
        "stepped down by {}",
        net.now - cut_at
    );
    assert_eq!(
        net.node(leader).term(),
        term,
        "stepping down does not need a new term"
    );
}

/// Without CheckQuorum the same leader would lead forever on its own (RaftScope's flaw).
#[test]
fn without_check_quorum_an_isolated_leader_keeps_leading() {
    let mut net = Net::with_config(&[1, 2, 3], |id| Config {
        check_quorum: false,
        ..config(id)
    });
    let leader = net.elect_someone(2_000);
    net.isolate(leader);
    net.advance(5_000);
    assert_eq!(net.node(leader).role(), Role::Leader);
}

/// PreVote + leader stickiness: a node partitioned away, rejoining, does not depose a
/// healthy leader or inflate the term.
#[test]
fn a_rejoining_node_does_not_disrupt_the_leader() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    let term = net.node(leader).term();
    let loner = if leader == 3 { 2 } else { 3 };
    net.isolate(loner);
    net.advance(3_000);
    assert_eq!(
        net.node(loner).term(),
        term,
        "pre-votes fail, so the term never moves"
    );
    assert_eq!(net.node(loner).role(), Role::PreCandidate);
    net.heal();
    net.advance(1_000);
    assert_eq!(net.leader(), Some(leader));
    assert_eq!(net.node(leader).term(), term, "no needless election");
    assert_eq!(net.node(loner).role(), Role::Follower);
}

/// Without PreVote the rejoining node would have bumped its term and forced an election.
#[test]
fn without_pre_vote_a_rejoining_node_bumps_the_term() {
    let mut net = Net::with_config(&[1, 2, 3], |id| Config {
        pre_vote: false,
        ..config(id)
    });
    let leader = net.elect_someone(2_000);
    let term = net.node(leader).term();
    let loner = if leader == 3 { 2 } else { 3 };
    net.isolate(loner);
    net.advance(3_000);
    assert!(
        net.node(loner).term() > term + 3,
        "a lone candidate keeps bumping its term"
    );
    net.heal();
    net.advance(2_000);
    let after = net.leader().expect("a leader again");
    assert!(
        net.node(after).term() > term,
        "the cluster had to move to a newer term"
    );
}

/// etcd's "free stuck candidate": a candidate with a higher term (no PreVote) is freed
/// once it hears the leader, because its reply tells the leader about the newer term.
#[test]
fn check_quorum_frees_a_stuck_candidate() {
    let mut net = Net::with_config(&[1, 2, 3], |id| Config {
        pre_vote: false,
        ..config(id)
    });
    let leader = net.elect_someone(2_000);
    let stuck = if leader == 3 { 2 } else { 3 };
    net.isolate(stuck);
    net.advance(2_000);
    let stuck_term = net.node(stuck).term();
    assert_eq!(net.node(stuck).role(), Role::Candidate);
    assert!(stuck_term > net.node(leader).term());
    net.heal();
    net.advance(3_000);
    let now_leader = net.leader().expect("a leader");
    assert!(
        net.node(now_leader).term() >= stuck_term,
        "the cluster caught up with the stuck term"
    );
    for id in 1..=3 {
        assert_ne!(
            net.node(id).role(),
            Role::Candidate,
            "node {id} is no longer stuck"
        );
    }
}

/// Followers that heard from the leader recently refuse to vote (leader stickiness).
#[test]
fn followers_in_lease_refuse_votes_and_say_why() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    let follower = if leader == 1 { 2 } else { 1 };
    let term = net.node(follower).term();
    let r = net.node_mut(follower);
    r.drain();
    r.step(msg(
        9,
        follower,
        term + 1,
        Body::Vote {
            last_index: 100,
            last_term: term,
            transfer: false,
        },
    ));
    assert_eq!(r.term(), term, "the disruptive term is not adopted");
    let ready = r.drain();
    assert!(ready.events.iter().any(|e| matches!(
        e,
        Event::VoteDenied {
            reason: duckgoose_core::DenyReason::LeaderLease { .. },
            ..
        }
    )));
}

// ---- Leadership transfer ------------------------------------------------------------

#[test]
fn leadership_moves_to_the_chosen_node() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    let target = if leader == 3 { 2 } else { 3 };
    let term = net.node(leader).term();
    net.node_mut(leader).transfer_leadership(target).unwrap();
    net.settle();
    assert_eq!(net.leader(), Some(target));
    assert_eq!(net.node(target).term(), term + 1);
    assert_eq!(net.node(leader).role(), Role::Follower);
    assert_eq!(net.node(leader).leader(), Some(target));
}

#[test]
fn transfer_catches_a_lagging_target_up_first() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    let target = if leader == 3 { 2 } else { 3 };
    net.isolate(target);
    for i in 0..5 {
        net.node_mut(leader)
            .propose(put("k", &i.to_string()))
            .unwrap();
    }
    net.settle();
    let last = net.node(leader).log().last_index();
    assert!(net.node(target).log().last_index() < last);
    net.heal();
    net.node_mut(leader).transfer_leadership(target).unwrap();
    assert_eq!(
        net.node_mut(leader).propose(put("k", "late")),
        Err(ProposeError::Transferring { to: target }),
        "no new proposals while handing over"
    );
    net.settle();
    assert_eq!(net.leader(), Some(target));
    assert!(
        net.node(target).log().last_index() >= last,
        "it got everything first"
    );
}

#[test]
fn transfer_to_a_dead_node_gives_up_and_keeps_leading() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    let target = if leader == 3 { 2 } else { 3 };
    net.isolate(target);
    // Make the target lag so TimeoutNow is never sent.
    net.node_mut(leader).propose(put("k", "v")).unwrap();
    net.settle();
    net.node_mut(leader).transfer_leadership(target).unwrap();
    net.advance(400);
    assert_eq!(net.leader(), Some(leader));
    assert!(
        net.node_mut(leader).propose(put("k", "w")).is_ok(),
        "accepting proposals again"
    );
    assert_eq!(
        net.node_mut(leader).transfer_leadership(42),
        Err(ProposeError::NotMember { id: 42 })
    );
}

// ---- Membership changes -------------------------------------------------------------

#[test]
fn one_membership_change_at_a_time() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    net.advance(100);
    let r = net.node_mut(leader);
    let first = r
        .propose_membership_change(MembershipChange::Add(Member::new(4, "")))
        .unwrap();
    assert!(r.membership().contains(4), "takes effect when appended");
    assert_eq!(
        r.propose_membership_change(MembershipChange::Remove(2)),
        Err(ProposeError::ChangeInProgress)
    );
    net.settle();
    assert!(
        net.node(leader).commit_index() >= first,
        "4 is not running, but 3 of 4 suffice"
    );
    let r = net.node_mut(leader);
    assert!(
        r.propose_membership_change(MembershipChange::Remove(4))
            .is_ok(),
        "next change after commit"
    );
}

#[test]
fn a_new_leader_changes_membership_only_after_committing_in_its_term() {
    let mut r = founder(1, &[1, 2, 3]);
    elect(&mut r);
    assert_eq!(
        r.propose_membership_change(MembershipChange::Add(Member::new(4, ""))),
        Err(ProposeError::LeaderNotReady)
    );
}

#[test]
fn an_added_node_catches_up_and_a_removed_leader_hands_over() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    net.advance(100);
    for i in 0..3 {
        net.node_mut(leader)
            .propose(put("k", &i.to_string()))
            .unwrap();
    }
    net.settle();
    // Node 4 joins with an empty log.
    net.nodes.insert(
        4,
        duckgoose_core::Raft::new(config(4), duckgoose_core::Persisted::empty(), net.now).unwrap(),
    );
    net.node_mut(leader)
        .propose_membership_change(MembershipChange::Add(Member::new(4, "")))
        .unwrap();
    net.advance(200);
    assert_eq!(
        log_terms(net.node(4)),
        log_terms(net.node(leader)),
        "caught up from index 1"
    );
    assert!(net.node(4).membership().contains(4));
    // Now remove the leader itself.
    net.node_mut(leader)
        .propose_membership_change(MembershipChange::Remove(leader))
        .unwrap();
    net.settle();
    net.advance(100);
    assert_ne!(
        net.node(leader).role(),
        Role::Leader,
        "stepped down once its removal committed"
    );
    let next = net.leader().expect("handed over at once");
    assert_ne!(next, leader);
    net.advance(3_000);
    assert_eq!(
        net.node(leader).role(),
        Role::Follower,
        "a removed node never campaigns"
    );
    assert!(net.node(leader).term() <= net.node(next).term());
}

// ---- The goose query ----------------------------------------------------------------

#[test]
fn only_the_confirmed_leader_answers_goose() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    net.advance(100);
    for id in 1..=3 {
        net.node_mut(id).confirm_leadership(id);
    }
    net.settle();
    for id in 1..=3 {
        let answers = goose_answers(&net, id);
        if id == leader {
            assert_eq!(answers, vec![Ok(net.node(leader).term())]);
        } else {
            assert_eq!(
                answers,
                vec![Err(DuckReason::NotLeader {
                    leader: Some(leader)
                })]
            );
        }
    }
}

#[test]
fn goose_waits_for_a_round_started_after_the_question() {
    let mut r = founder(1, &[1, 2, 3]);
    elect(&mut r);
    let term = r.term();
    let last = r.log().last_index();
    for peer in [2, 3] {
        r.step(msg(
            peer,
            1,
            term,
            Body::AppendReply {
                round: 1,
                result: AppendResult::Accepted { match_index: last },
            },
        ));
    }
    assert!(r.commit_index() >= last, "no-op committed");
    r.drain();
    r.confirm_leadership(7);
    let ready = r.drain();
    assert!(
        ready.reads.is_empty(),
        "not answered before anyone acknowledged"
    );
    let round = match &of_kind(&ready.messages, "Heartbeat")[0].body {
        Body::Append { round, .. } => *round,
        _ => unreachable!(),
    };
    assert_eq!(round, 2, "a new round started for the question");
    // Acknowledgements of the earlier round do not count: they could predate the question.
    for peer in [2, 3] {
        r.step(msg(
            peer,
            1,
            term,
            Body::AppendReply {
                round: 1,
                result: AppendResult::Accepted { match_index: last },
            },
        ));
    }
    assert!(r.drain().reads.is_empty());
    r.step(msg(
        2,
        1,
        term,
        Body::AppendReply {
            round: 2,
            result: AppendResult::Accepted { match_index: last },
        },
    ));
    let reads = r.drain().reads;
    assert_eq!(reads.len(), 1, "leader + one follower is a quorum of three");
    assert_eq!(reads[0].ctx, 7);
    assert_eq!(reads[0].result.map(|c| c.term), Ok(term));
}

#[test]
fn an_unconfirmed_question_is_answered_duck_in_time() {
    let mut net = Net::new(&[1, 2, 3]);
    let leader = net.elect_someone(2_000);
    net.advance(100);
    net.isolate(leader);
    net.node_mut(leader).confirm_leadership(1);
    net.settle();
    assert!(
        goose_answers(&net, leader).is_empty(),
        "no acknowledgement, no answer yet"
    );
    net.advance(150);
    assert_eq!(
        goose_answers(&net, leader),
        vec![Err(DuckReason::Unconfirmed)]
    );
}

#[test]
fn concurrent_goose_questions_share_one_round() {
    let mut net = Net::new(&[1, 2, 3, 4, 5]);
    let leader = net.elect_someone(2_000);
    net.advance(100);
    net.delivered.clear();
    // Questions that arrive together are handed over together (what the replica does
    // with a batch of requests): they start one round.
    net.node_mut(leader).confirm_leadership_batch(0..50);
    net.settle();
    assert_eq!(goose_answers(&net, leader).len(), 50);
    assert!(goose_answers(&net, leader).iter().all(|a| a.is_ok()));
    let beats = net.delivered.iter().filter(|m| m.from == leader).count();
    assert_eq!(
        beats, 4,
        "one heartbeat per follower for all fifty questions"
    );
}

#[test]
fn an_isolated_leader_never_answers_goose_and_steps_down() {
    let mut net = Net::new(&[1, 2, 3, 4, 5]);
    let old = net.elect_someone(2_000);
    net.advance(100);
    let others: Vec<u64> = (1..=5).filter(|&i| i != old).collect();
    let buddy = others[0];
    net.partition(&[&[old, buddy], &others[1..]]);
    for i in 0..20 {
        net.node_mut(old).confirm_leadership(100 + i);
        net.advance(25);
    }
    assert!(
        goose_answers(&net, old).iter().all(|a| a.is_err()),
        "never goose while cut off"
    );
    assert!(net.node(old).role() != Role::Leader);
    let new = net.leader().expect("the majority elected someone");
    assert!(others[1..].contains(&new));
}

/// Found by a long simulation run: a leader appends its own removal, is cut off before
/// anyone else has it, and steps down. Its log is now the most up-to-date, so the other
/// member cannot win without it; if it refused to campaign because its latest (never
/// committed) membership leaves it out, the cluster would stay leaderless forever.
#[test]
fn a_node_whose_own_removal_never_committed_can_still_be_elected() {
    let mut net = Net::new(&[1, 2]);
    let old = net.elect_someone(2_000);
    let other = 3 - old;
    net.advance(100);
    net.isolate(other);
    net.node_mut(old)
        .propose_membership_change(MembershipChange::Remove(old))
        .unwrap();
    net.advance(400);
    assert_ne!(
        net.node(old).role(),
        Role::Leader,
        "CheckQuorum: stepped down"
    );
    assert!(
        !net.node(old).membership().contains(old),
        "its latest membership leaves it out"
    );
    net.heal();
    net.advance(5_000);
    let leader = net.leader().expect("the cluster elects a leader again");
    assert_eq!(
        leader, other,
        "the removal went through and the survivor leads"
    );
    let ids: Vec<u64> = net.node(other).membership().ids().collect();
    assert_eq!(ids, vec![other]);
    assert!(net.node(other).commit_index() >= net.node(other).log().last_index() - 1);
}

#[test]
fn late_duplicates_of_append_replies_do_not_start_an_endless_probe() {
    // Found by the randomized simulation (seed 32963, duplication on): a late copy of a
    // refusal at an index already known to match sent the leader back to probing, and the
    // probe's answer, matching exactly what it knew, did not end it, so leader and follower
    // exchanged empty Appends at every delivery until millions were in flight.
    let mut leader = founder(1, &[1, 2, 3]);
    elect(&mut leader);
    let term = leader.term();
    let last = leader.log().last_index();
    let reply = |result| msg(2, 1, term, Body::AppendReply { round: 1, result });
    let appends = |ready: &Drained| {
        ready
            .messages
            .iter()
            .filter(|m| m.to == 2 && matches!(m.body, Body::Append { .. }))
            .count()
    };
    leader.step(reply(AppendResult::Accepted { match_index: last }));
    assert_eq!(appends(&leader.drain()), 0, "follower 2 matches everything");

    // A refusal it sent before catching up, at an index now known to match, arrives late.
    leader.step(reply(AppendResult::Rejected {
        prev_index: last,
        conflict_index: last,
        conflict_term: None,
    }));
    assert_eq!(
        appends(&leader.drain()),
        0,
        "a stale refusal prompts nothing"
    );
    // And acceptances repeated any number of times prompt nothing either.
    for _ in 0..3 {
        leader.step(reply(AppendResult::Accepted { match_index: last }));
        assert_eq!(
            appends(&leader.drain()),
            0,
            "a repeated acceptance prompts nothing"
        );
    }
    // New entries still go out at once.
    leader.propose(put("k", "v")).unwrap();
    assert_eq!(appends(&leader.drain()), 1);
}
