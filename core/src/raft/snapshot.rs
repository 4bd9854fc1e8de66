//! Log compaction and InstallSnapshot (Raft §7).
//!
//! The driver compacts through an applied index, handing over the application's state
//! there (`Raft::compact`); the log keeps only what follows. A leader whose follower
//! needs a compacted entry sends its latest snapshot instead, in chunks of at most
//! `max_snapshot_chunk_bytes`, one in flight at a time (`Mode::Snapshot`): each chunk is
//! acknowledged with the bytes the follower holds (`SnapshotAck`), the last one with an
//! `AppendReply` accepting the snapshot's index, from which normal replication resumes.
//! A follower accepts chunks in order for one (term, leader, index); a chunk at offset 0
//! starts over, anything else that does not continue is refused. Once whole and checked
//! by the application (`set_snapshot_check`), the snapshot replaces the log through its
//! index: a suffix that matches is kept, a conflicting log is dropped.

use alloc::vec::Vec;

use super::Raft;
use super::leader::Leading;
use super::shared::IncomingSnapshot;
use crate::events::Event;
use crate::message::{AppendResult, Body, Malformed, Round};
use crate::progress::Mode;
use crate::snapshot::{CompactError, MAX_SNAPSHOT_BYTES, Snapshot};
use crate::types::{Index, Membership, NodeId, Term};

/// One InstallSnapshot chunk, as received.
pub(super) struct Chunk {
    pub(super) index: Index,
    pub(super) snapshot_term: Term,
    pub(super) membership: Membership,
    pub(super) offset: u64,
    pub(super) data: Vec<u8>,
    pub(super) done: bool,
}

impl<C: Clone> Raft<C> {
    /// The latest snapshot (compacted or installed), if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.core.snapshot.as_ref()
    }

    /// A snapshot being received and not yet whole: its index and the bytes held so far
    /// (what a crash now would lose; drivers and the simulator show it).
    pub fn snapshot_receiving(&self) -> Option<(Index, u64)> {
        let incoming = self.core.incoming.as_ref()?;
        Some((incoming.index, incoming.data.len() as u64))
    }

    /// Sets the application's check of a received snapshot's state, run before it is
    /// installed: `(index, bytes)` to whether the bytes are a state of that index. A
    /// snapshot it refuses is dropped with `Malformed::SnapshotStateInvalid`. By default
    /// every state is accepted.
    pub fn set_snapshot_check(&mut self, check: fn(Index, &[u8]) -> bool) {
        self.core.snapshot_check = super::shared::SnapshotCheck(check);
    }

    /// Compacts the log through `through`, whose state the application gives as `data`
    /// (the state after applying every entry through `through`, and nothing after).
    /// `through` must have been handed out by `advance` (applied). The snapshot goes to
    /// the driver in the next `Ready::snapshot`, to persist.
    pub fn compact(&mut self, through: Index, data: Vec<u8>) -> Result<(), CompactError> {
        let core = &mut self.core;
        let (snapshot_index, _) = core.log.snapshot_position();
        if through <= snapshot_index {
            return Err(CompactError::AlreadyCompacted { snapshot_index });
        }
        if through > core.handed_out || core.installed.is_some() {
            return Err(CompactError::NotApplied {
                applied: core.handed_out,
            });
        }
        let Some(term) = core.log.term_at(through) else {
            debug_assert!(false, "an applied index is in the log");
            return Err(CompactError::NotApplied {
                applied: core.handed_out,
            });
        };
        // No configuration at or before `through` (a joiner that was sent entries without
        // one, which only a faulty leader does): the membership in force is the empty one.
        let membership = core
            .log
            .membership_at(through)
            .cloned()
            .unwrap_or(Membership::EMPTY);
        let compacted = core.log.compact_through(through);
        debug_assert!(compacted, "{through} is in the log, past its snapshot");
        core.snapshot = Some(Snapshot {
            index: through,
            term,
            membership,
            data,
        });
        core.snapshot_unpersisted = true;
        Ok(())
    }

    /// An InstallSnapshot chunk of our term, at a follower or (pre-)candidate: like an
    /// Append, it is word from the leader.
    pub(super) fn on_install_snapshot(&mut self, from: NodeId, chunk: Chunk, round: Round) {
        debug_assert!(
            !self.is_leader(),
            "a leader refuses snapshots in its own term"
        );
        self.heard_from_leader(from);
        let core = &mut self.core;

        let index = chunk.index;
        if index <= core.commit_index {
            // We already hold (committed) everything it holds.
            core.incoming = None;
            let result = AppendResult::Accepted { match_index: index };
            core.send(from, Body::AppendReply { round, result });
            return;
        }
        let key = (core.term, from, index, chunk.snapshot_term);
        let same = |s: &IncomingSnapshot| (s.term, s.leader, s.index, s.snapshot_term) == key;
        let received = match core.incoming.as_mut() {
            _ if chunk.offset == 0 => {
                core.incoming = Some(IncomingSnapshot {
                    term: core.term,
                    leader: from,
                    index,
                    snapshot_term: chunk.snapshot_term,
                    data: chunk.data,
                });
                true
            }
            Some(s) if same(s) && chunk.offset == s.data.len() as u64 => {
                s.data.extend_from_slice(&chunk.data);
                true
            }
            // A duplicate of a chunk we hold: say where we are.
            Some(s) if same(s) && chunk.offset < s.data.len() as u64 => false,
            _ => {
                core.refuse(from, Malformed::SnapshotChunkGap);
                false
            }
        };
        let held = core
            .incoming
            .as_ref()
            .filter(|s| same(s))
            .map_or(0, |s| s.data.len() as u64);
        if held > MAX_SNAPSHOT_BYTES {
            core.incoming = None;
            core.refuse(from, Malformed::SnapshotTooLarge);
            return;
        }
        if !(received && chunk.done) {
            let ack = Body::SnapshotAck {
                round,
                index,
                next_offset: held,
            };
            core.send(from, ack);
            return;
        }
        let Some(incoming) = core.incoming.take() else {
            debug_assert!(false, "a received chunk is held");
            return;
        };
        if !(core.snapshot_check.0)(index, &incoming.data) {
            core.refuse(from, Malformed::SnapshotStateInvalid);
            return;
        }
        self.install(
            from,
            Snapshot {
                index,
                term: chunk.snapshot_term,
                membership: chunk.membership,
                data: incoming.data,
            },
            round,
        );
    }

    /// Replaces the log through the snapshot's index and tells the leader we match there.
    fn install(&mut self, from: NodeId, snapshot: Snapshot, round: Round) {
        let core = &mut self.core;
        let (index, term) = (snapshot.index, snapshot.term);
        debug_assert!(index > core.commit_index, "only news is installed");
        let config_before = core.log.latest_config().map(|(i, _)| i);
        let held_after = core.log.last_index() > index;
        let kept = core
            .log
            .install_snapshot(index, term, snapshot.membership.clone());
        // Entries through `index` are the snapshot's now; what was durable after it
        // stays durable only if it was kept.
        if kept {
            core.durable = core.durable.max(index);
            core.unpersisted_from = core.unpersisted_from.map(|f| f.max(index + 1));
        } else {
            // A log that ended at or before the snapshot loses nothing after it.
            if held_after {
                core.emit(Event::LogTruncated { from: index + 1 });
            }
            core.durable = index;
            // The driver drops whatever it holds after the snapshot.
            core.unpersisted_from = Some(index + 1);
        }
        core.advance_commit(index);
        core.snapshot = Some(snapshot.clone());
        core.snapshot_unpersisted = true;
        core.installed = Some(snapshot);
        core.emit(Event::SnapshotInstalled { index, term });
        if core.log.latest_config().map(|(i, _)| i) != config_before {
            core.emit_membership();
        }
        let result = AppendResult::Accepted { match_index: index };
        core.send(from, Body::AppendReply { round, result });
    }
}

impl<C: Clone> Leading<'_, C> {
    /// Sends `to` the chunk of our snapshot it is due, starting the snapshot if it is
    /// not being sent one (or is being sent an older one).
    pub(super) fn send_snapshot_chunk(&mut self, to: NodeId) {
        let core = &mut *self.core;
        let Some(snapshot) = core.snapshot.as_ref() else {
            debug_assert!(false, "a compacted log has a snapshot");
            return;
        };
        let Some(progress) = self.leader.progress.get_mut(&to) else {
            return;
        };
        progress.start_snapshot(snapshot.index);
        let Mode::Snapshot { offset, .. } = progress.mode else {
            debug_assert!(false, "start_snapshot enters Snapshot mode");
            return;
        };
        let len = snapshot.data.len();
        let start = usize::try_from(offset).unwrap_or(len).min(len);
        let end = start
            .saturating_add(core.config.max_snapshot_chunk_bytes)
            .min(len);
        progress.probe_sent = true;
        let body = Body::InstallSnapshot {
            index: snapshot.index,
            snapshot_term: snapshot.term,
            membership: snapshot.membership.clone(),
            offset: start as u64,
            data: snapshot.data[start..end].to_vec(),
            done: end == len,
            round: self.leader.rounds.current(),
        };
        core.send(to, body);
    }

    /// A follower holds the first `next_offset` bytes of our snapshot through `index`.
    pub(super) fn on_snapshot_ack(
        &mut self,
        from: NodeId,
        round: Round,
        index: Index,
        next_offset: u64,
    ) {
        let current = self.leader.rounds.current();
        let Some(progress) = self.leader.progress.get_mut(&from) else {
            return;
        };
        progress.recent_active = true;
        progress.acked_round = progress.acked_round.max(round.min(current));
        let ours = self.core.snapshot.as_ref().map(|s| s.index);
        if ours == Some(index) && progress.snapshot_acked(index, next_offset) {
            self.send_snapshot_chunk(from);
        }
        self.confirm_reads();
        self.start_round_if_wanted();
    }
}
