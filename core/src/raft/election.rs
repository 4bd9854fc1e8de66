//! Leader election (Raft §5.2, §5.4.1) with PreVote (thesis §9.6) and leader
//! stickiness (thesis §4.2.3).

use super::{Raft, RoleState};
use crate::events::{DenyReason, Event, RoleReason};
use crate::message::{Body, Message};
use crate::quorum::{VoteResult, tally};
use crate::types::{Index, Map, NodeId, Term};

impl<C: Clone> Raft<C> {
    /// The election timer fired: no leader was heard from for a whole timeout.
    pub(super) fn on_election_timeout(&mut self) {
        if !self.can_campaign() {
            // Removed, or joining and not yet added: never campaign, just keep listening.
            self.reset_election_timer();
            return;
        }
        if self.config.pre_vote {
            self.become_pre_candidate();
        } else {
            self.become_candidate(RoleReason::ElectionTimeout, false);
        }
    }

    fn own_vote(&self) -> Map<NodeId, bool> {
        let mut votes = Map::new();
        votes.insert(self.id(), true);
        votes
    }

    /// Asks "would you vote for me in term + 1?" without changing any state anyone else
    /// sees, so a node that cannot win (cut off, or behind) never bumps the cluster's term.
    fn become_pre_candidate(&mut self) {
        self.state = RoleState::PreCandidate {
            votes: self.own_vote(),
        };
        self.leader = None;
        self.reset_election_timer();
        self.emit(Event::RoleChanged {
            role: crate::events::Role::PreCandidate,
            term: self.term,
            reason: RoleReason::ElectionTimeout,
        });
        let body = Body::PreVote {
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
        };
        self.send_to_other_members(self.term + 1, body);
        self.count_votes();
    }

    pub(super) fn become_candidate(&mut self, reason: RoleReason, transfer: bool) {
        debug_assert!(self.can_campaign(), "only members campaign");
        self.set_term(self.term + 1);
        self.set_vote(self.id());
        self.state = RoleState::Candidate {
            votes: self.own_vote(),
        };
        self.leader = None;
        self.reset_election_timer();
        self.emit(Event::RoleChanged {
            role: crate::events::Role::Candidate,
            term: self.term,
            reason,
        });
        let body = Body::Vote {
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            transfer,
        };
        self.send_to_other_members(self.term, body);
        self.count_votes();
    }

    fn send_to_other_members(&mut self, term: Term, body: Body<C>) {
        let me = self.id();
        let peers: alloc::vec::Vec<NodeId> =
            self.membership().ids().filter(|&id| id != me).collect();
        for peer in peers {
            self.send_with_term(peer, term, body.clone());
        }
    }

    /// Tallies the current (pre-)vote and moves on if it is decided.
    fn count_votes(&mut self) {
        let result = match &self.state {
            RoleState::PreCandidate { votes } | RoleState::Candidate { votes } => {
                tally(self.membership(), votes)
            }
            _ => return,
        };
        let pre = matches!(self.state, RoleState::PreCandidate { .. });
        match result {
            VoteResult::Pending => {}
            VoteResult::Won { votes } if pre => {
                self.become_candidate(RoleReason::WonPreVote { votes }, false)
            }
            VoteResult::Won { votes } => self.become_leader(votes),
            VoteResult::Lost => {
                let term = self.term;
                self.become_follower(term, None, RoleReason::LostElection);
            }
        }
    }

    /// Leader stickiness: a leader was heard from less than a minimum election timeout
    /// ago (or we are that leader, or we just started), so refuse to help elect a rival.
    pub(super) fn lease_refusal(&self) -> Option<DenyReason> {
        if !self.config.check_quorum {
            return None;
        }
        if self.is_leader() {
            return Some(DenyReason::LeaderLease {
                leader: Some(self.id()),
                heard_ago: 0,
            });
        }
        let heard_ago = self.now - self.last_leader_contact;
        (heard_ago < self.config.election_timeout_min).then_some(DenyReason::LeaderLease {
            leader: self.leader,
            heard_ago,
        })
    }

    pub(super) fn refuse_vote_in_lease(&mut self, msg: &Message<C>) {
        let reason = self.lease_refusal().expect("called only inside the lease");
        let pre_vote = matches!(msg.body, Body::PreVote { .. });
        self.deny_vote(msg.from, msg.term, pre_vote, reason);
    }

    /// Replies "no" with our own term, and records why.
    pub(super) fn deny_vote(
        &mut self,
        candidate: NodeId,
        term: Term,
        pre_vote: bool,
        reason: DenyReason,
    ) {
        self.emit(Event::VoteDenied {
            candidate,
            term,
            pre_vote,
            reason,
        });
        let body = if pre_vote {
            Body::PreVoteReply { granted: false }
        } else {
            Body::VoteReply { granted: false }
        };
        self.send(candidate, body);
    }

    fn log_behind(&self, last_index: Index, last_term: Term) -> Option<DenyReason> {
        (!self.log.is_up_to_date(last_term, last_index)).then(|| DenyReason::LogBehind {
            candidate_last_term: last_term,
            candidate_last_index: last_index,
            our_last_term: self.log.last_term(),
            our_last_index: self.log.last_index(),
        })
    }

    /// A pre-vote is granted if the candidate's proposed term is ahead of ours, its log is
    /// at least as up-to-date, and no leader was heard from recently. Nothing is recorded.
    pub(super) fn on_pre_vote(
        &mut self,
        from: NodeId,
        term: Term,
        last_index: Index,
        last_term: Term,
    ) {
        let refusal = if term <= self.term {
            Some(DenyReason::StaleTerm { ours: self.term })
        } else {
            self.lease_refusal()
                .or_else(|| self.log_behind(last_index, last_term))
        };
        match refusal {
            Some(reason) => self.deny_vote(from, term, true, reason),
            None => {
                self.emit(Event::VoteGranted {
                    candidate: from,
                    term,
                    pre_vote: true,
                });
                // The reply carries the proposed term so the pre-candidate can match it.
                self.send_with_term(from, term, Body::PreVoteReply { granted: true });
            }
        }
    }

    pub(super) fn on_pre_vote_reply(&mut self, from: NodeId, term: Term, granted: bool) {
        let expected = if granted { self.term + 1 } else { self.term };
        let RoleState::PreCandidate { votes } = &mut self.state else {
            return;
        };
        if term != expected {
            return; // a reply to an older round
        }
        votes.insert(from, granted);
        self.count_votes();
    }

    /// RequestVote in our current term (the term rules in `step` have already run).
    pub(super) fn on_vote(&mut self, from: NodeId, last_index: Index, last_term: Term) {
        let refusal = match self.voted_for {
            Some(voted_for) if voted_for != from => Some(DenyReason::AlreadyVoted { voted_for }),
            _ => self.log_behind(last_index, last_term),
        };
        let term = self.term;
        match refusal {
            Some(reason) => self.deny_vote(from, term, false, reason),
            None => {
                self.set_vote(from);
                // Granting a vote resets the timer (§5.2): give the candidate time to win.
                self.reset_election_timer();
                self.emit(Event::VoteGranted {
                    candidate: from,
                    term,
                    pre_vote: false,
                });
                self.send(from, Body::VoteReply { granted: true });
            }
        }
    }

    pub(super) fn on_vote_reply(&mut self, from: NodeId, granted: bool) {
        let RoleState::Candidate { votes } = &mut self.state else {
            return;
        };
        votes.insert(from, granted);
        self.count_votes();
    }

    /// The leader asked us to take over (leadership transfer): campaign at once, skipping
    /// PreVote, and mark the request so voters set leader stickiness aside.
    pub(super) fn on_timeout_now(&mut self, from: NodeId) {
        if self.is_leader() || !self.can_campaign() {
            return;
        }
        self.become_candidate(RoleReason::TimeoutNow { from }, true);
    }
}
