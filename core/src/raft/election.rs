//! Leader election (Raft §5.2, §5.4.1) with PreVote (thesis §9.6) and leader
//! stickiness (thesis §4.2.3). Vote replies are routed to the (pre-)candidate by `step`.

use super::{Raft, RoleState};
use crate::events::{DenyReason, Event, Role, RoleReason};
use crate::message::{Body, Message};
use crate::quorum::{VoteResult, tally};
use crate::types::{Index, Map, NodeId, Term};

impl<C: Clone> Raft<C> {
    /// The election timer fired: no leader was heard from for a whole timeout.
    pub(super) fn on_election_timeout(&mut self) {
        debug_assert!(!self.is_leader(), "a leader runs no election timer");
        if !self.core.can_campaign() {
            // Removed, or joining and not yet added: never campaign, just keep listening.
            self.core.reset_election_timer();
            return;
        }
        if self.core.config.pre_vote {
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
        self.core.leader = None;
        self.core.reset_election_timer();
        self.core.emit(Event::RoleChanged {
            role: Role::PreCandidate,
            term: self.core.term,
            reason: RoleReason::ElectionTimeout,
        });
        let body = Body::PreVote {
            last_index: self.core.log.last_index(),
            last_term: self.core.log.last_term(),
        };
        self.send_to_other_members(self.core.term + 1, body);
        self.count_votes();
    }

    pub(super) fn become_candidate(&mut self, reason: RoleReason, transfer: bool) {
        debug_assert!(self.core.can_campaign(), "only members campaign");
        self.core.set_term(self.core.term + 1);
        self.core.set_vote(self.id());
        self.state = RoleState::Candidate {
            votes: self.own_vote(),
        };
        self.core.leader = None;
        self.core.reset_election_timer();
        self.core.emit(Event::RoleChanged {
            role: Role::Candidate,
            term: self.core.term,
            reason,
        });
        let body = Body::Vote {
            last_index: self.core.log.last_index(),
            last_term: self.core.log.last_term(),
            transfer,
        };
        self.send_to_other_members(self.core.term, body);
        self.count_votes();
    }

    fn send_to_other_members(&mut self, term: Term, body: Body<C>) {
        let me = self.id();
        let peers: alloc::vec::Vec<NodeId> =
            self.membership().ids().filter(|&id| id != me).collect();
        for peer in peers {
            self.core.send_with_term(peer, term, body.clone());
        }
    }

    /// Tallies the current (pre-)vote and moves on if it is decided.
    pub(super) fn count_votes(&mut self) {
        let (result, pre) = match &self.state {
            RoleState::PreCandidate { votes } => (tally(self.membership(), votes), true),
            RoleState::Candidate { votes } => (tally(self.membership(), votes), false),
            RoleState::Follower | RoleState::Leader(_) => {
                debug_assert!(false, "only (pre-)candidates count votes");
                return;
            }
        };
        match result {
            VoteResult::Pending => {}
            VoteResult::Won { votes } if pre => {
                self.become_candidate(RoleReason::WonPreVote { votes }, false)
            }
            VoteResult::Won { votes } => self.become_leader(votes),
            VoteResult::Lost => {
                let term = self.core.term;
                self.become_follower(term, None, RoleReason::LostElection);
            }
        }
    }

    /// Leader stickiness: a leader was heard from less than a minimum election timeout
    /// ago (or we are that leader, or we just started), so refuse to help elect a rival.
    pub(super) fn lease_refusal(&self) -> Option<DenyReason> {
        let core = &self.core;
        if !core.config.check_quorum {
            return None;
        }
        if self.is_leader() {
            return Some(DenyReason::LeaderLease {
                leader: Some(core.id()),
                heard_ago: 0,
            });
        }
        let heard_ago = core.now - core.last_leader_contact;
        (heard_ago < core.config.election_timeout_min).then_some(DenyReason::LeaderLease {
            leader: core.leader,
            heard_ago,
        })
    }

    pub(super) fn refuse_vote_in_lease(&mut self, msg: &Message<C>) {
        let Some(reason) = self.lease_refusal() else {
            debug_assert!(false, "called only inside the lease");
            return;
        };
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
        self.core.emit(Event::VoteDenied {
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
        self.core.send(candidate, body);
    }

    fn log_behind(&self, last_index: Index, last_term: Term) -> Option<DenyReason> {
        let log = &self.core.log;
        (!log.is_up_to_date(last_term, last_index)).then(|| DenyReason::LogBehind {
            candidate_last_term: last_term,
            candidate_last_index: last_index,
            our_last_term: log.last_term(),
            our_last_index: log.last_index(),
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
        let refusal = if term <= self.core.term {
            Some(DenyReason::StaleTerm {
                ours: self.core.term,
            })
        } else {
            self.lease_refusal()
                .or_else(|| self.log_behind(last_index, last_term))
        };
        match refusal {
            Some(reason) => self.deny_vote(from, term, true, reason),
            None => {
                self.core.emit(Event::VoteGranted {
                    candidate: from,
                    term,
                    pre_vote: true,
                });
                // The reply carries the proposed term so the pre-candidate can match it.
                self.core
                    .send_with_term(from, term, Body::PreVoteReply { granted: true });
            }
        }
    }

    /// RequestVote in our current term (the term rules in `step` have already run).
    pub(super) fn on_vote(&mut self, from: NodeId, last_index: Index, last_term: Term) {
        let refusal = match self.core.voted_for {
            Some(voted_for) if voted_for != from => Some(DenyReason::AlreadyVoted { voted_for }),
            _ => self.log_behind(last_index, last_term),
        };
        let term = self.core.term;
        match refusal {
            Some(reason) => self.deny_vote(from, term, false, reason),
            None => {
                self.core.set_vote(from);
                // Granting a vote resets the timer (§5.2): give the candidate time to win.
                self.core.reset_election_timer();
                self.core.emit(Event::VoteGranted {
                    candidate: from,
                    term,
                    pre_vote: false,
                });
                self.core.send(from, Body::VoteReply { granted: true });
            }
        }
    }

    /// The leader asked us to take over (leadership transfer): campaign at once, skipping
    /// PreVote, and mark the request so voters set leader stickiness aside.
    pub(super) fn on_timeout_now(&mut self, from: NodeId) {
        debug_assert!(!self.is_leader(), "routed to non-leaders only");
        if !self.core.can_campaign() {
            return;
        }
        self.become_candidate(RoleReason::TimeoutNow { from }, true);
    }
}
