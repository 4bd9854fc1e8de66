//! Leadership transfer (thesis §3.10): bring the target's log up to date, then tell it
//! to start an election at once (TimeoutNow).

use super::goose::DuckReason;
use super::{ProposeError, Raft, RoleState};
use crate::events::{Event, RoleReason};
use crate::message::Body;
use crate::types::{Millis, NodeId};

#[derive(Clone, Copy, Debug)]
pub(super) struct Transfer {
    pub(super) to: NodeId,
    pub(super) deadline: Millis,
    /// Once TimeoutNow is out, the target may win at any moment, even after we give up.
    timeout_now_sent: bool,
}

impl<C: Clone> Raft<C> {
    /// Starts handing leadership to `to`. New proposals and goose queries are refused
    /// until the transfer succeeds or gives up (after a minimum election timeout).
    pub fn transfer_leadership(&mut self, to: NodeId) -> Result<(), ProposeError> {
        let RoleState::Leader(leader) = &mut self.state else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if let Some(transfer) = &leader.transfer {
            return if transfer.to == to {
                Ok(())
            } else {
                Err(ProposeError::Transferring { to: transfer.to })
            };
        }
        if to == self.config.id {
            return Ok(());
        }
        if !self
            .log
            .latest_config()
            .is_some_and(|(_, m)| m.contains(to))
        {
            return Err(ProposeError::NotMember { id: to });
        }
        leader.transfer = Some(Transfer {
            to,
            deadline: self.now + self.config.election_timeout_min,
            timeout_now_sent: false,
        });
        let mut rounds = core::mem::take(&mut leader.rounds);
        self.answer_all_waiting(&mut rounds, DuckReason::Transferring { to });
        if let RoleState::Leader(leader) = &mut self.state {
            leader.rounds = rounds;
        }
        self.emit(Event::TransferStarted { to });
        self.maybe_send_timeout_now(to);
        // Push the target's missing entries now rather than at the next heartbeat.
        if let RoleState::Leader(leader) = &self.state
            && let Some(progress) = leader.progress.get(&to)
        {
            let from = progress.match_index + 1;
            self.send_append_from(to, from);
        }
        Ok(())
    }

    /// Sends TimeoutNow if `id` is the transfer target and its log has caught up.
    pub(super) fn maybe_send_timeout_now(&mut self, id: NodeId) {
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        let Some(transfer) = &mut leader.transfer else {
            return;
        };
        let caught_up = leader
            .progress
            .get(&id)
            .is_some_and(|p| p.match_index == last);
        if transfer.to != id || transfer.timeout_now_sent || !caught_up {
            return;
        }
        transfer.timeout_now_sent = true;
        self.send(id, Body::TimeoutNow);
    }

    /// Gives up on a transfer that has not completed in time. If TimeoutNow already went
    /// out, the target could still win later; a leader that kept claiming to be the goose
    /// meanwhile could overlap it, so it steps down instead (safety over liveness).
    pub(super) fn expire_transfer(&mut self) {
        let now = self.now;
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        let Some(transfer) = leader.transfer else {
            return;
        };
        if now < transfer.deadline {
            return;
        }
        leader.transfer = None;
        self.emit(Event::TransferAborted { to: transfer.to });
        if transfer.timeout_now_sent {
            let term = self.term;
            self.become_follower(term, None, RoleReason::TransferTimedOut { to: transfer.to });
        }
    }
}
