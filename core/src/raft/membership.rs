//! Single-server membership changes (thesis §4.1): one voter added or removed at a time,
//! each change taking effect as soon as it is appended, the next refused until it commits.

use super::{ProposeError, Raft, RoleState};
use crate::entry::Command;
use crate::events::{Event, RoleReason};
use crate::message::Body;
use crate::progress::Progress;
use crate::types::{Index, Member, NodeId};

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MembershipChange {
    Add(Member),
    Remove(NodeId),
}

impl<C: Clone> Raft<C> {
    /// Proposes adding or removing one member. Returns the config entry's index; the
    /// change is complete when that index commits.
    pub fn propose_membership_change(
        &mut self,
        change: MembershipChange,
    ) -> Result<Index, ProposeError> {
        self.check_can_propose()?;
        let RoleState::Leader(leader) = &self.state else {
            unreachable!("check_can_propose ensures leadership");
        };
        // Without this, a change could overlap an uncommitted change of an earlier leader
        // and two disjoint majorities could form (Ongaro, raft-dev, 2015).
        if self.commit_index < leader.term_start {
            return Err(ProposeError::LeaderNotReady);
        }
        if self
            .log
            .latest_config()
            .is_some_and(|(index, _)| index > self.commit_index)
        {
            return Err(ProposeError::ChangeInProgress);
        }
        let current = self.membership();
        let next = match change {
            MembershipChange::Add(member) => {
                let id = member.id;
                current
                    .with(member)
                    .ok_or(ProposeError::AlreadyMember { id })?
            }
            MembershipChange::Remove(id) => {
                current.without(id).ok_or(ProposeError::NotMember { id })?
            }
        };
        if next.is_empty() {
            return Err(ProposeError::WouldEmptyCluster);
        }
        Ok(self.append_as_leader(Command::Config(next)))
    }

    /// A config entry was appended to the leader's log: start replicating to a new member
    /// at once; keep telling a removed one until its removal commits.
    pub(super) fn on_membership_appended(&mut self, index: Index) {
        self.emit_membership();
        let me = self.id();
        let membership = self.membership().clone();
        let next_index = self.log.last_index() + 1;
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        for id in membership.ids().filter(|&id| id != me) {
            leader
                .progress
                .entry(id)
                .or_insert_with(|| Progress::new(next_index));
        }
        let departed = leader
            .progress
            .keys()
            .copied()
            .find(|id| !membership.contains(*id));
        leader.departing = departed.map(|id| (id, index));
    }

    pub(super) fn emit_membership(&mut self) {
        if let Some((index, membership)) = self.log.latest_config() {
            let membership = membership.clone();
            self.emit(Event::MembershipChanged { index, membership });
        }
    }

    /// The leader's commit index advanced.
    pub(super) fn on_leader_commit(&mut self) {
        self.release_queries_awaiting_commit();
        let commit = self.commit_index;
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        if let Some((id, index)) = leader.departing
            && commit >= index
        {
            leader.progress.remove(&id);
            leader.departing = None;
        }
        let config_committed = self
            .log
            .latest_config()
            .is_some_and(|(index, _)| index <= commit);
        if config_committed && !self.is_voter() {
            self.hand_over_and_step_down();
        }
    }

    /// Our own removal committed: ask the most up-to-date remaining member to take over
    /// now rather than wait for an election timeout, then step down for good.
    fn hand_over_and_step_down(&mut self) {
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &self.state else {
            return;
        };
        let successor = leader
            .progress
            .iter()
            .filter(|(_, p)| p.match_index == last)
            .map(|(&id, _)| id)
            .next();
        if let Some(successor) = successor {
            self.send(successor, Body::TimeoutNow);
        }
        let term = self.term;
        self.become_follower(term, None, RoleReason::Removed);
    }
}
