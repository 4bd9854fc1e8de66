//! Log replication (Raft §5.3) and the commit rule (§5.4.2): only entries of the leader's
//! own term are committed by counting replicas.

use alloc::vec::Vec;

use super::{ProposeError, Raft, RoleState};
use crate::entry::{Command, Entry};
use crate::events::{Event, RoleReason};
use crate::log::AppendOutcome;
use crate::message::{AppendResult, Body, Malformed, Round};
use crate::progress::Mode;
use crate::quorum::quorum_value;
use crate::types::{Index, NodeId, Term};

impl<C: Clone> Raft<C> {
    /// Appends a client command to the leader's log; it is sent with the next `ready()`.
    /// Returns the entry's index (its term is the current term).
    pub fn propose(&mut self, command: Command<C>) -> Result<Index, ProposeError> {
        if command.is_config() {
            return Err(ProposeError::ConfigViaChangeOnly);
        }
        self.check_can_propose()?;
        Ok(self.append_as_leader(command))
    }

    pub(super) fn check_can_propose(&self) -> Result<(), ProposeError> {
        let RoleState::Leader(leader) = &self.state else {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        };
        if let Some(transfer) = &leader.transfer {
            return Err(ProposeError::Transferring { to: transfer.to });
        }
        Ok(())
    }

    pub(super) fn append_as_leader(&mut self, command: Command<C>) -> Index {
        let index = self.log.last_index() + 1;
        let is_config = command.is_config();
        self.log.push(Entry {
            index,
            term: self.term,
            command,
        });
        self.mark_unpersisted(index);
        if let RoleState::Leader(leader) = &mut self.state {
            leader.entries_pending = true;
        }
        if is_config {
            self.on_membership_appended(index);
        }
        // A lone leader commits on its own.
        self.maybe_commit();
        index
    }

    /// Sends `to` an Append starting at `from` (clipped to the batch size), plus the
    /// current commit index and round.
    pub(super) fn send_append_from(&mut self, to: NodeId, from: Index) {
        let (commit, max) = (self.commit_index, self.config.max_entries_per_message);
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&to) else {
            return;
        };
        let from = from.clamp(1, self.log.last_index() + 1);
        let prev_index = from - 1;
        let prev_term = self
            .log
            .term_at(prev_index)
            .expect("prev_index is inside the log");
        let entries = self.log.range(from, from + max as Index - 1).to_vec();
        let last_sent = prev_index + entries.len() as Index;
        match progress.mode {
            Mode::Probe => progress.probe_sent = true,
            Mode::Replicate => progress.next_index = progress.next_index.max(last_sent + 1),
        }
        let round = leader.rounds.current();
        self.send(
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
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &self.state else {
            return;
        };
        let Some(progress) = leader.progress.get(&to) else {
            return;
        };
        if !progress.can_send() || (progress.mode == Mode::Replicate && progress.next_index > last)
        {
            return;
        }
        self.send_append_from(to, progress.next_index);
    }

    /// A heartbeat to every follower, starting a new confirmation round. Followers that
    /// are matching get an empty Append after their match index (always accepted);
    /// followers with unacknowledged entries get those again (retransmission); probing
    /// followers get the probe again.
    pub(super) fn broadcast_heartbeat(&mut self) {
        let (now, interval) = (self.now, self.config.heartbeat_interval);
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        leader.heartbeat_due = now + interval;
        leader.entries_pending = false;
        leader.rounds.start(now);
        let targets: alloc::vec::Vec<(NodeId, Index)> = leader
            .progress
            .iter()
            .map(|(&id, p)| {
                let from = match p.mode {
                    Mode::Replicate => p.match_index + 1,
                    Mode::Probe => p.next_index,
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

    /// Called from `ready()`: batches everything proposed since the last call into one
    /// Append per follower, and starts a round if a goose query is waiting for one.
    pub(super) fn flush_leader(&mut self) {
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        if leader.rounds.wants_new_round() {
            self.broadcast_heartbeat();
        } else if leader.entries_pending {
            leader.entries_pending = false;
            let peers: alloc::vec::Vec<NodeId> = leader.progress.keys().copied().collect();
            for peer in peers {
                self.send_append(peer);
            }
        }
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
        // Two kinds of Append no correct peer can send (election safety; log matching
        // with leader completeness). A faulty or forged one is refused, never obeyed:
        // obeying the second would overwrite entries this node may have applied.
        if self.is_leader() {
            self.refuse(from, Malformed::SecondLeader);
            return;
        }
        let commit = self.commit_index;
        if entries
            .iter()
            .take_while(|e| e.index <= commit)
            .any(|e| self.log.term_at(e.index) != Some(e.term))
        {
            self.refuse(from, Malformed::ContradictsCommitted);
            return;
        }
        match self.state {
            RoleState::Leader(_) => unreachable!("refused above"),
            RoleState::PreCandidate { .. } | RoleState::Candidate { .. } => {
                let term = self.term;
                self.become_follower(
                    term,
                    Some(from),
                    RoleReason::LeaderDiscovered { leader: from },
                );
            }
            RoleState::Follower => {}
        }
        self.leader = Some(from);
        self.last_leader_contact = self.now;
        self.reset_election_timer();

        let config_before = self.log.latest_config().map(|(i, _)| i);
        let outcome = self.log.try_append(prev_index, prev_term, entries);
        let result = match outcome {
            AppendOutcome::Matched {
                last_new,
                first_written,
                truncated,
            } => {
                if let Some(first) = first_written {
                    debug_assert!(
                        first > self.commit_index,
                        "committed entries are never overwritten"
                    );
                    if truncated {
                        self.emit(Event::LogTruncated { from: first });
                    }
                    self.mark_unpersisted(first);
                }
                // Commit only what we know matches the leader: up to the last new entry.
                self.advance_commit(leader_commit.min(last_new));
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
        if self.log.latest_config().map(|(i, _)| i) != config_before {
            self.emit_membership();
        }
        self.send(from, Body::AppendReply { round, result });
    }

    pub(super) fn on_append_reply(&mut self, from: NodeId, round: Round, result: AppendResult) {
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &mut self.state else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return; // not (or no longer) a follower of ours
        };
        progress.recent_active = true;
        // Any reply in our term, success or not, shows the follower still follows us.
        progress.acked_round = progress.acked_round.max(round.min(leader.rounds.current()));
        match result {
            AppendResult::Accepted { match_index } => {
                if match_index > last {
                    return; // cannot match entries we never had: ignore the claim
                }
                if progress.accept(match_index) {
                    self.maybe_commit();
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
                    .and_then(|t| self.log.last_index_of_term(t))
                    .filter(|&i| i < prev_index)
                    .map_or(conflict_index, |i| i + 1);
                if progress.reject(prev_index.min(last), next) {
                    self.send_append(from);
                }
            }
        }
        self.confirm_reads();
    }

    /// Commits the highest index a quorum has, if it is of the current term (§5.4.2).
    pub(super) fn maybe_commit(&mut self) {
        let me = self.id();
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &self.state else {
            return;
        };
        let candidate = quorum_value(self.log.membership(), |id| {
            if id == me {
                last
            } else {
                leader.progress.get(&id).map_or(0, |p| p.match_index)
            }
        });
        if candidate <= self.commit_index || self.log.term_at(candidate) != Some(self.term) {
            return;
        }
        self.advance_commit(candidate);
        self.on_leader_commit();
    }
}
