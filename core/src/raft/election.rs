//! Leader election (Raft §5.2, §5.4.1) with PreVote (thesis §9.6) and leader
//! stickiness (thesis §4.2.3). Vote replies are routed to the (pre-)candidate by `step`.

use super::{Raft, RoleState};
use crate::config::UnsafeVariant;
use crate::events::{DenyReason, Event, Role, RoleReason};
use crate::message::{Body, Message};
use crate::quorum::{VoteResult, tally};
use crate::types::{Index, Map, NodeId, Term};

impl<C: Clone> Raft<C> {
    /// The election timer fired: no leader was heard from for a whole timeout, or for a
    /// moment after the leader's connection closed (`on_leader_connection_closed`).
    pub(super) fn on_election_timeout(&mut self) {
        debug_assert!(!self.is_leader(), "a leader runs no election timer");
        if !self.core.can_campaign() {
            // Removed, or joining and not yet added: never campaign, just keep listening.
            self.core.reset_election_timer();
            return;
        }
        let reason = match self.core.leader_connection_closed {
            Some((leader, _)) if self.core.leader_closed_since_contact() => {
                RoleReason::LeaderConnectionClosed { leader }
            }
            _ => RoleReason::ElectionTimeout,
        };
        if self.core.config.pre_vote {
            self.become_pre_candidate(reason);
        } else {
            self.become_candidate(reason, false);
        }
    }

    /// The driver saw the connection to our leader closed by its end (see
    /// `Raft::peer_connection_closed`). Bring the election forward into the random part of
    /// an election timeout: the fixed part only waits for proof that the leader is gone,
    /// and a closed connection is that proof. A crash closes every follower's connection
    /// in the same instant, so uniform draws would often put two followers within one
    /// round trip of each other, split the vote and cost a whole election timeout. Instead
    /// the survivors take turns: each gets its own slot of that random part, by its rank
    /// among the members other than the leader (rotated by term, so no node is always
    /// first), and a random moment in the first half of it. The next in line starts only
    /// if the one before could not win (it is behind, or is gone too). Nothing anyone else
    /// sees changes here: the pre-vote that follows is refused by every follower still
    /// hearing the leader, so a spurious notice disrupts nothing.
    pub(super) fn on_leader_connection_closed(&mut self, leader: NodeId) {
        debug_assert!(
            matches!(self.state, RoleState::Follower) && self.core.leader == Some(leader),
            "only a follower of `leader` acts on its connection closing"
        );
        let core = &mut self.core;
        // Without PreVote and leader stickiness a spurious notice would bump the term and
        // depose a healthy leader.
        if !(core.config.pre_vote && core.config.check_quorum) {
            return;
        }
        let (term, vote) = (core.term, core.voted_for);
        core.leader_connection_closed = Some((leader, core.last_leader_contact));
        if core.can_campaign() {
            // Never before the goose lease since we last heard the leader: the notice may
            // be spurious and the leader alive, showing itself as the goose on a lease
            // that counts on our silence until then (`goose_lease_until`). Turns count
            // from then, so that followers told at once still do not split the vote.
            let lease_end = core.last_leader_contact + core.config.goose_lease;
            let at = core.now.max(lease_end) + core.turn_after_leader_loss(leader);
            if at < core.election_deadline {
                core.election_armed_at = core.now;
                core.election_deadline = at;
            }
        }
        debug_assert!(
            core.term == term && core.voted_for == vote && core.leader_closed_since_contact(),
            "a closed connection changes no persistent state, only our lease"
        );
    }

    fn own_vote(&self) -> Map<NodeId, bool> {
        let mut votes = Map::new();
        votes.insert(self.id(), true);
        votes
    }

    /// Asks "would you vote for me in term + 1?" without changing any state anyone else
    /// sees, so a node that cannot win (cut off, or behind) never bumps the cluster's term.
    fn become_pre_candidate(&mut self, reason: RoleReason) {
        self.state = RoleState::PreCandidate {
            votes: self.own_vote(),
        };
        self.core.leader = None;
        self.core.reset_election_timer();
        self.core.emit(Event::RoleChanged {
            role: Role::PreCandidate,
            term: self.core.term,
            reason,
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
            VoteResult::Won { votes } => {
                // Leading, we refuse rivals ourselves; a stale notice must not outlive that.
                self.core.leader_connection_closed = None;
                self.become_leader(votes)
            }
            VoteResult::Lost => {
                let term = self.core.term;
                self.become_follower(term, None, RoleReason::LostElection);
            }
        }
    }

    /// Leader stickiness: a leader was heard from less than a minimum election timeout
    /// ago (or we are that leader, or we just started), so refuse to help elect a rival.
    /// After that leader's connection to us closed, refuse for the goose lease instead:
    /// the notice may be spurious and the leader alive, showing itself as the goose on a
    /// lease that counts on this refusal (found by the simulator: seed 8424 of the
    /// randomized runs), but no longer than that lease. Both windows are timed on this
    /// node's clock and the lease on the leader's: the lease holds only while the clocks
    /// run at the same rate (see `goose_lease_until`).
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
        let window = if core.leader_closed_since_contact() {
            core.config.goose_lease
        } else {
            core.config.election_timeout_min
        };
        let heard_ago = core.now - core.last_leader_contact;
        (heard_ago < window).then_some(DenyReason::LeaderLease {
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
        if self.core.config.breaks(UnsafeVariant::SkipLogUpToDateCheck) {
            return None;
        }
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
            // The broken variant: a follower grants every candidate (a candidate still
            // keeps its vote for itself).
            Some(voted_for)
                if voted_for != from
                    && (voted_for == self.id()
                        || !self.core.config.breaks(UnsafeVariant::GrantTwoVotes)) =>
            {
                Some(DenyReason::AlreadyVoted { voted_for })
            }
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
