//! Single-server membership changes (thesis §4.1): one voter added or removed at a time,
//! each change taking effect as soon as it is appended, the next refused until it commits.

use core::ops::ControlFlow;

use super::leader::{Flow, Leading, StepDown};
use super::{ProposeError, Raft};
use crate::entry::Command;
use crate::events::RoleReason;
use crate::message::Body;
use crate::progress::Progress;
use crate::types::{Index, Member, NodeId};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
        let not_leader = self.not_leader();
        let Some(mut leading) = self.leading() else {
            return Err(not_leader);
        };
        let index = leading.propose_change(change)?;
        leading.send_appends();
        Ok(index)
    }
}

impl<C: Clone> Leading<'_, C> {
    fn propose_change(&mut self, change: MembershipChange) -> Result<Index, ProposeError> {
        self.check_can_propose()?;
        let core = &*self.core;
        // Without this, a change could overlap an uncommitted change of an earlier leader
        // and two disjoint majorities could form (Ongaro, raft-dev, 2015).
        if core.commit_index < self.leader.term_start {
            return Err(ProposeError::LeaderNotReady);
        }
        if core
            .log
            .latest_config()
            .is_some_and(|(index, _)| index > core.commit_index)
        {
            return Err(ProposeError::ChangeInProgress);
        }
        let current = core.membership();
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
        Ok(self.append(Command::Config(next)))
    }

    /// A config entry was appended to the leader's log: start replicating to a new member
    /// at once; keep telling a removed one until its removal commits.
    pub(super) fn on_membership_appended(&mut self, index: Index) {
        let core = &mut *self.core;
        core.emit_membership();
        let me = core.id();
        let membership = core.membership();
        let next_index = core.log.last_index() + 1;
        let progress = &mut self.leader.progress;
        for id in membership.ids().filter(|&id| id != me) {
            progress
                .entry(id)
                .or_insert_with(|| Progress::new(next_index));
        }
        let departed = progress
            .keys()
            .copied()
            .find(|id| !membership.contains(*id));
        self.leader.departing = departed.map(|id| (id, index));
    }

    /// The leader's commit index advanced.
    pub(super) fn on_leader_commit(&mut self) -> Flow {
        self.release_queries_awaiting_commit();
        let commit = self.core.commit_index;
        if let Some((id, index)) = self.leader.departing
            && commit >= index
        {
            self.leader.progress.remove(&id);
            self.leader.departing = None;
        }
        let config_committed = self
            .core
            .log
            .latest_config()
            .is_some_and(|(index, _)| index <= commit);
        if config_committed && !self.core.is_voter() {
            return self.hand_over();
        }
        ControlFlow::Continue(())
    }

    /// Our own removal committed: ask the most up-to-date remaining member to take over
    /// now rather than wait for an election timeout, then step down for good.
    fn hand_over(&mut self) -> Flow {
        let last = self.core.log.last_index();
        let successor = self
            .leader
            .progress
            .iter()
            .filter(|(_, p)| p.match_index == last)
            .map(|(&id, _)| id)
            .next();
        if let Some(successor) = successor {
            self.core.send(successor, Body::TimeoutNow);
        }
        ControlFlow::Break(StepDown(RoleReason::Removed))
    }
}
