//! Log replication (Raft §5.3) and the commit rule (§5.4.2): only entries of the leader's
//! own term are committed by counting replicas. The leader's half runs on `Leading`; the
//! follower's half (`on_append`) on `Raft`, since it may end a candidacy.

use alloc::vec::Vec;
use core::ops::{ControlFlow, Range};

use super::leader::{Flow, Leading};
use super::{ProposeError, Raft, RoleState};
use crate::config::UnsafeVariant;
use crate::entry::{Command, Entry};
use crate::events::{Event, RoleReason};
use crate::log::AppendOutcome;
use crate::message::{AppendResult, Body, Malformed, Round};
use crate::progress::Mode;
use crate::quorum::quorum_value;
use crate::types::{Index, NodeId, Term};

impl<C: Clone> Raft<C> {
    /// Appends a client command to the leader's log and sends it to the followers.
    /// Returns the entry's index (its term is the current term). Several commands at
    /// once should go through `propose_batch`: one Append per follower for all of them.
    pub fn propose(&mut self, command: Command<C>) -> Result<Index, ProposeError> {
        if command.is_config() {
            return Err(ProposeError::ConfigViaChangeOnly);
        }
        let not_leader = self.not_leader();
        let Some(mut leading) = self.leading() else {
            return Err(not_leader);
        };
        leading.check_can_propose()?;
        let index = leading.append(command);
        leading.send_appends();
        Ok(index)
    }

    /// Appends commands to the leader's log, in order, and sends them to each follower
    /// in one Append (flow control permitting). Returns their indexes. All or nothing:
    /// if one is refused, none is appended.
    pub fn propose_batch(
        &mut self,
        commands: impl IntoIterator<Item = Command<C>>,
    ) -> Result<Range<Index>, ProposeError> {
        let commands: Vec<Command<C>> = commands.into_iter().collect();
        if commands.iter().any(Command::is_config) {
            return Err(ProposeError::ConfigViaChangeOnly);
        }
        let not_leader = self.not_leader();
        let Some(mut leading) = self.leading() else {
            return Err(not_leader);
        };
        leading.check_can_propose()?;
        let first = leading.core.log.last_index() + 1;
        for command in commands {
            leading.append(command);
        }
        let end = leading.core.log.last_index() + 1;
        leading.send_appends();
        Ok(first..end)
    }

    /// AppendEntries at a follower (or a candidate that learns of the leader).
    pub(super) fn on_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry<C>>,
        leader_commit: Index,
        round: Round,
    ) {
        debug_assert!(
            !self.is_leader(),
            "a leader refuses Appends in its own term"
        );
        // Log matching with leader completeness: no correct leader sends an entry that
        // contradicts one we committed. Obeying a forged one would overwrite applied state.
        let commit = self.core.commit_index;
        if entries
            .iter()
            .take_while(|e| e.index <= commit)
            .filter(|e| e.index >= self.core.log.first_index())
            .any(|e| self.core.log.term_at(e.index) != Some(e.term))
        {
            self.core.refuse(from, Malformed::ContradictsCommitted);
            return;
        }
        self.heard_from_leader(from);
        let core = &mut self.core;

        let config_before = core.log.latest_config().map(|(i, _)| i);
        let outcome = core.log.try_append(prev_index, prev_term, entries);
        let result = match outcome {
            AppendOutcome::Matched {
                last_new,
                first_written,
                truncated,
            } => {
                if let Some(first) = first_written {
                    debug_assert!(
                        first > core.commit_index,
                        "committed entries are never overwritten"
                    );
                    if truncated {
                        core.emit(Event::LogTruncated { from: first });
                    }
                    core.mark_unpersisted(first);
                    // Whatever was durable from `first` on is no longer our log.
                    core.durable = core.durable.min(first - 1);
                }
                // Commit only what we know matches the leader: up to the last new entry.
                core.advance_commit(leader_commit.min(last_new));
                AppendResult::Accepted {
                    match_index: last_new,
                }
            }
            AppendOutcome::Mismatch {
                conflict_index,
                conflict_term,
            } => AppendResult::Rejected {
                prev_index,
                conflict_index,
                conflict_term,
            },
        };
        if core.log.latest_config().map(|(i, _)| i) != config_before {
            core.emit_membership();
        }
        core.send(from, Body::AppendReply { round, result });
    }
}

impl<C: Clone> Leading<'_, C> {
    pub(super) fn check_can_propose(&self) -> Result<(), ProposeError> {
        match &self.leader.transfer {
            Some(transfer) => Err(ProposeError::Transferring { to: transfer.to }),
            None => Ok(()),
        }
    }

    /// Appends to the leader's log without sending: the caller sends once for a batch.
    /// The entry counts toward commit only once the driver acknowledges it durable.
    pub(super) fn append(&mut self, command: Command<C>) -> Index {
        let core = &mut *self.core;
        let index = core.log.last_index() + 1;
        let is_config = command.is_config();
        core.log.push(Entry {
            index,
            term: core.term,
            command,
        });
        core.mark_unpersisted(index);
        if is_config {
            self.on_membership_appended(index);
        }
        index
    }

    /// Sends `to` an Append starting at `from` (clipped to the batch size), plus the
    /// current commit index and round.
    pub(super) fn send_append_from(&mut self, to: NodeId, from: Index) {
        let core = &mut *self.core;
        let Some(progress) = self.leader.progress.get_mut(&to) else {
            debug_assert!(false, "{to} is not a follower of ours");
            return;
        };
        let log = &core.log;
        let from = from.clamp(1, log.last_index() + 1);
        let prev_index = from - 1;
        if prev_index < log.snapshot_position().0 || matches!(progress.mode, Mode::Snapshot { .. })
        {
            // What the follower needs is compacted away (or it is being sent a snapshot).
            self.send_snapshot_chunk(to);
            return;
        }
        let Some(prev_term) = log.term_at(prev_index) else {
            debug_assert!(false, "prev_index {prev_index} is inside the log");
            return;
        };
        let max = core.config.max_entries_per_message as Index;
        let entries = log.range(from, from + max - 1).to_vec();
        let last_sent = prev_index + entries.len() as Index;
        match progress.mode {
            Mode::Probe => progress.probe_sent = true,
            Mode::Replicate => progress.next_index = progress.next_index.max(last_sent + 1),
            Mode::Snapshot { .. } => debug_assert!(false, "a snapshot was sent instead"),
        }
        let (commit, round) = (core.commit_index, self.leader.rounds.current());
        core.send(
            to,
            Body::Append {
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            },
        );
    }

    /// Sends `to` whatever it is missing, if flow control allows.
    fn send_append(&mut self, to: NodeId) {
        let last = self.core.log.last_index();
        let Some(progress) = self.leader.progress.get(&to) else {
            return; // not (or no longer) a follower of ours
        };
        if !progress.can_send() || (progress.mode == Mode::Replicate && progress.next_index > last)
        {
            return;
        }
        let from = progress.next_index;
        self.send_append_from(to, from);
    }

    /// A heartbeat to every follower, starting a new confirmation round. Followers that
    /// are matching get an empty Append after their match index (always accepted);
    /// followers with unacknowledged entries get those again (retransmission); probing
    /// followers get the probe again.
    pub(super) fn broadcast_heartbeat(&mut self) {
        let now = self.core.now;
        self.leader.heartbeat_due = now + self.core.config.heartbeat_interval;
        self.leader.rounds.start(now);
        let targets: Vec<(NodeId, Index)> = self
            .leader
            .progress
            .iter()
            .map(|(&id, p)| {
                let from = match p.mode {
                    Mode::Replicate => p.match_index + 1,
                    Mode::Probe | Mode::Snapshot { .. } => p.next_index,
                };
                (id, from)
            })
            .collect();
        for (id, from) in targets {
            self.send_append_from(id, from);
        }
        // A lone leader confirms its own round at once.
        self.confirm_reads();
    }

    /// Sends each follower what it is missing (after appending a batch).
    pub(super) fn send_appends(&mut self) {
        let peers: Vec<NodeId> = self.leader.progress.keys().copied().collect();
        for peer in peers {
            self.send_append(peer);
        }
    }

    pub(super) fn on_append_reply(
        &mut self,
        from: NodeId,
        round: Round,
        result: AppendResult,
    ) -> Flow {
        let last = self.core.log.last_index();
        let current = self.leader.rounds.current();
        let Some(progress) = self.leader.progress.get_mut(&from) else {
            return ControlFlow::Continue(()); // not (or no longer) a follower of ours
        };
        progress.recent_active = true;
        // Any reply in our term, success or not, shows the follower still follows us.
        progress.acked_round = progress.acked_round.max(round.min(current));
        match result {
            AppendResult::Accepted { match_index } => {
                if match_index > last {
                    // Cannot match entries we never had: ignore the claim.
                    return ControlFlow::Continue(());
                }
                if progress.accept(match_index) {
                    self.maybe_commit()?;
                }
                self.maybe_send_timeout_now(from);
                self.send_append(from);
            }
            AppendResult::Rejected {
                prev_index,
                conflict_index,
                conflict_term,
            } => {
                // Skip the whole conflicting term if we have it, else go to the follower's hint.
                let next = conflict_term
                    .and_then(|t| self.core.log.last_index_of_term(t))
                    .filter(|&i| i < prev_index)
                    .map_or(conflict_index, |i| i + 1);
                if progress.reject(prev_index.min(last), next) {
                    self.send_append(from);
                }
            }
        }
        self.confirm_reads();
        self.start_round_if_wanted();
        ControlFlow::Continue(())
    }

    /// Commits the highest index a quorum has, if it is of the current term (§5.4.2).
    /// The leader's own copy counts only as far as the driver acknowledged it durable:
    /// a leader that crashed before its write landed may not remember the entry.
    pub(super) fn maybe_commit(&mut self) -> Flow {
        let core = &mut *self.core;
        let (me, durable) = (core.id(), core.durable);
        debug_assert!(durable <= core.log.last_index(), "durable past the log");
        let progress = &self.leader.progress;
        let candidate = quorum_value(core.log.membership(), |id| {
            if id == me {
                durable
            } else {
                progress.get(&id).map_or(0, |p| p.match_index)
            }
        });
        let own_term = core.log.term_at(candidate) == Some(core.term);
        let by_count = core.config.breaks(UnsafeVariant::CommitEarlierTermByCount);
        if candidate <= core.commit_index || !(own_term || by_count) {
            return ControlFlow::Continue(());
        }
        core.advance_commit(candidate);
        if !own_term {
            // The broken variant: committed by counting, without the term's own entry.
            return ControlFlow::Continue(());
        }
        self.on_leader_commit()
    }
}

impl<C: Clone> Raft<C> {
    /// Word from the leader of the current term (an Append or a snapshot chunk): a
    /// (pre-)candidate of this term stands down, and the election timer restarts.
    pub(super) fn heard_from_leader(&mut self, from: NodeId) {
        if let RoleState::PreCandidate { .. } | RoleState::Candidate { .. } = self.state {
            let term = self.core.term;
            self.become_follower(
                term,
                Some(from),
                RoleReason::LeaderDiscovered { leader: from },
            );
        }
        let core = &mut self.core;
        core.leader = Some(from);
        core.last_leader_contact = core.now;
        core.reset_election_timer();
    }
}
