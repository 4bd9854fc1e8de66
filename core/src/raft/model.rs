//! What a model checker needs to fold equivalent node states into one: the core only
//! compares its times with each other and with `now`, so shifting them all by the same
//! amount changes nothing it will do, and a time further in the past than every window
//! (`horizon`) behaves like any other such time.

use super::{Raft, RoleState};
use crate::rng::Rng;
use crate::types::Millis;

impl<C: Clone> Raft<C> {
    /// Shifts this node's clock and every time it holds so that `now` becomes `base`,
    /// clamping times older than `now - horizon` to that. `horizon` must exceed every
    /// window the node measures (election timeouts, CheckQuorum, query deadlines) and
    /// `base` must be at least `horizon`. With an election timeout range one millisecond
    /// wide every random draw is 0, so the generator is reset to its seed as well.
    pub fn rebase_clock(&mut self, base: Millis, horizon: Millis) {
        let core = &mut self.core;
        debug_assert!(base >= horizon, "rebased times stay non-negative");
        let now = core.now;
        let oldest = now.saturating_sub(horizon);
        // Exact equality between two contact times matters while a closed connection
        // is recorded (`leader_closed_since_contact`): then shift only, never clamp.
        let clamp = core.leader_connection_closed.is_none();
        let shift = |t: Millis| -> Millis {
            let t = if clamp { t.max(oldest) } else { t };
            (t + base).saturating_sub(now)
        };
        core.now = base;
        core.election_deadline = shift(core.election_deadline);
        core.election_armed_at = shift(core.election_armed_at);
        core.last_leader_contact = shift(core.last_leader_contact);
        if let Some((_, contact)) = &mut core.leader_connection_closed {
            *contact = shift(*contact);
        }
        if core.config.election_timeout_max - core.config.election_timeout_min <= 1 {
            core.rng = Rng::new(core.config.seed);
        }
        if let RoleState::Leader(leader) = &mut self.state {
            leader.heartbeat_due = shift(leader.heartbeat_due);
            leader.check_quorum_due = shift(leader.check_quorum_due);
            if let Some(transfer) = &mut leader.transfer {
                transfer.deadline = shift(transfer.deadline);
            }
            leader.rounds.rebase_clock(shift);
        }
    }
}
