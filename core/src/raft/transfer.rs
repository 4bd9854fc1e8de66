//! Leadership transfer (thesis §3.10): bring the target's log up to date, then tell it
//! to start an election at once (TimeoutNow).

use core::ops::ControlFlow;

use super::goose::DuckReason;
use super::leader::{Flow, Leading, StepDown};
use super::{ProposeError, Raft};
use crate::events::{Event, RoleReason};
use crate::message::Body;
use crate::types::{Millis, NodeId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
        let not_leader = self.not_leader();
        match self.leading() {
            Some(mut leading) => leading.transfer(to),
            None => Err(not_leader),
        }
    }
}

impl<C: Clone> Leading<'_, C> {
    fn transfer(&mut self, to: NodeId) -> Result<(), ProposeError> {
        if let Some(transfer) = &self.leader.transfer {
            return if transfer.to == to {
                Ok(())
            } else {
                Err(ProposeError::Transferring { to: transfer.to })
            };
        }
        if to == self.core.id() {
            return Ok(());
        }
        if !self
            .core
            .log
            .latest_config()
            .is_some_and(|(_, m)| m.contains(to))
        {
            return Err(ProposeError::NotMember { id: to });
        }
        self.leader.transfer = Some(Transfer {
            to,
            deadline: self.core.now + self.core.config.election_timeout_min,
            timeout_now_sent: false,
        });
        self.answer_all_waiting(DuckReason::Transferring { to });
        self.core.emit(Event::TransferStarted { to });
        self.maybe_send_timeout_now(to);
        // Push the target's missing entries now rather than at the next heartbeat.
        if let Some(progress) = self.leader.progress.get(&to) {
            let from = progress.match_index + 1;
            self.send_append_from(to, from);
        }
        Ok(())
    }

    /// Sends TimeoutNow if `id` is the transfer target and its log has caught up.
    pub(super) fn maybe_send_timeout_now(&mut self, id: NodeId) {
        let last = self.core.log.last_index();
        let caught_up = self
            .leader
            .progress
            .get(&id)
            .is_some_and(|p| p.match_index == last);
        let Some(transfer) = &mut self.leader.transfer else {
            return; // no transfer under way
        };
        if transfer.to != id || transfer.timeout_now_sent || !caught_up {
            return;
        }
        transfer.timeout_now_sent = true;
        self.core.send(id, Body::TimeoutNow);
    }

    /// Gives up on a transfer that has not completed in time. If TimeoutNow already went
    /// out, the target could still win later; a leader that kept claiming to be the goose
    /// meanwhile could overlap it, so it steps down instead (safety over liveness).
    pub(super) fn expire_transfer(&mut self) -> Flow {
        let Some(transfer) = self.leader.transfer else {
            return ControlFlow::Continue(());
        };
        if self.core.now < transfer.deadline {
            return ControlFlow::Continue(());
        }
        self.leader.transfer = None;
        self.core.emit(Event::TransferAborted { to: transfer.to });
        if transfer.timeout_now_sent {
            let to = transfer.to;
            return ControlFlow::Break(StepDown(RoleReason::TransferTimedOut { to }));
        }
        ControlFlow::Continue(())
    }
}
